"""The ESME's prepayment reads, byte for byte as RTDS 4.5.0 has them, answered from its
credit engine: 4.3 Read Instantaneous Prepay Values (ECS19, a protected read of the
prepayment registers), 4.4.5 Billing Data Log (Prepayment Credits) (ECS20d, the log of
the top-ups the meter applied, read by a range of UTC times) and 4.14 Read Prepayment Daily
Read Log (ECS21b, the registers at each midnight, a protected read between two dates); and
4.3, 4.4.5 and 4.14 on the running rig."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import rig_cli

from gateway.transform import TransformInput, transform_for
from nodes.gbcs.cosem_server import CosemServer
from nodes.gbcs.handlers import handler_for
from nodes.roles.credit import TOP_UP_LOG, Credit, Settings
from nodes.roles.prepay_logs import DAILY_LOG, DailyReadLog, serve_prepay_logs
from rig.dccuser.readers import read
from rig.dccuser.tasks import send_request
from rig.protocol.duis.message import parse_document
from rig.protocol.gbcs import cosem, dlms, reading, security
from rig.protocol.gbcs.catalogue import CATALOGUE
from rig.protocol.gbcs.catalogue_prepay_logs import ECS19, ECS20D, ECS21B
from rig.protocol.gbcs.dlms import Data
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, check_command
from rig.protocol.smki import Usage
from tests.conftest import vectors
from tests.test_prepayment import _utrn
from tests.test_usecases import ACB, ESME, JAN_2015, SUPPLIER, _context, _rtds

ECS19_RTDS = "4.3_ECS19/ECS19_4.3_SUCCESS"
ECS20D_RTDS = "4.4.5_ECS20d/ECS20d_4.4.5_SUCCESS"
ECS21B_RTDS = "4.14_ECS21b/ECS21b_4.14_KRP_SUCCESS"


@pytest.fixture(scope="module")
def store():
    from rig.pki.keystores import load

    return load([vectors("gbcs", "rtds-keystore"), vectors("gbcs", "device-keys")])


def _template(name: str):
    return parse_document(vectors("duis", "templates", f"{name}_REQUEST_DUIS.XML").read_bytes())


def _transform(uc: UseCase, template: str, counter: int) -> GbcsMessage:
    fn = transform_for(uc)
    assert fn is not None, f"{uc.name} has no transform"
    return fn(uc, TransformInput(_template(template), counter, SUPPLIER, ESME))


@pytest.mark.parametrize(
    ("uc", "template", "rtds"),
    [
        (ECS19, "ECS19_4.3_SUCCESS", ECS19_RTDS),
        (ECS20D, "ECS20d_4.4.5_SUCCESS", ECS20D_RTDS),
        (ECS21B, "ECS21b_4.14_KRP_SUCCESS", ECS21B_RTDS),
    ],
)
def test_the_transform_of_dccs_template_is_rtds_command(store, uc, template, rtds) -> None:
    expected = GbcsMessage.decode(_rtds(f"{rtds}_COMMAND"))
    ours = _transform(uc, template, expected.header.counter)
    maced = security.apply_mac(
        ours, store.private(ACB, Usage.KA).private_key, store.get(ESME, Usage.KA).public_key
    )
    assert maced.encode() == expected.encode()
    assert check_command(expected, CATALOGUE) is uc


def test_a_read_log_period_of_another_range_is_another_command() -> None:
    rtds = GbcsMessage.decode(_rtds(f"{ECS20D_RTDS}_COMMAND"))
    ours = _transform(ECS20D, "ECS20d_4.4.5_SUCCESS", rtds.header.counter)
    request = dlms.decode(ours.payload)
    assert isinstance(request, dlms.AccessRequest) and request.specs[0].parameters is not None
    start, end = cosem.range_of(request.specs[0].parameters)
    # 2014-12-27T09:00:00Z and 2015-01-01T00:00:00Z, as UTC seconds since 2000
    assert (start.value, end.value) == (472_986_000, 473_385_600)


class _Meter:
    """The ESME as prepay_logs sees it: its COSEM server and its credit engine."""

    def __init__(self, credit: Credit) -> None:
        self.cosem = CosemServer()
        self.credit: Credit | None = credit
        self.metered = 0

    def metering(self) -> dict:
        self.metered += 1
        return {}


def _credit(store, path: Path, **settings) -> Credit:
    ka = store.private(ESME, Usage.KA).private_key
    return Credit(path / "credit.json", ESME, ka, settings=Settings(**settings))


def _answer(store, meter: _Meter, uc: UseCase, cmd: GbcsMessage) -> GbcsMessage:
    import asyncio

    tables = SimpleNamespace(cosem=meter.cosem, zcl=None)
    ctx = _context(store, ESME, tables, JAN_2015)
    return asyncio.run(handler_for(uc)(uc, cmd, ctx))


def _plain(store, msg: GbcsMessage) -> list[Data]:
    return reading.protected_values(
        msg, store.private(SUPPLIER, Usage.KA).private_key, store.get(ESME, Usage.KA).public_key
    )


def test_the_esme_answers_rtds_ecs19_with_its_engines_registers(store, tmp_path) -> None:
    rtds = GbcsMessage.decode(_rtds(f"{ECS19_RTDS}_RESPONSE"))
    wanted = [int(v.value) for v in _plain(store, rtds)[0].value]
    balance, emergency, _accumulated, payment, td1, td2 = wanted
    credit = _credit(store, tmp_path, emergency_credit_pence=emergency // cosem.MILLIPENCE)
    credit.millipence, credit.flags.active = balance, True  # emergency credit in hand, unused
    credit.debt.payment_debt, credit.debt.time_debt = payment, [td1, td2]
    meter = _Meter(credit)
    serve_prepay_logs(meter)

    answer = _answer(store, meter, ECS19, GbcsMessage.decode(_rtds(f"{ECS19_RTDS}_COMMAND")))
    # RTDS's header (counter, parties, the device's date-time), the protected answer's
    # frame and its plaintext's structure: six double-longs
    assert answer.header == rtds.header
    ours, theirs = _plain(store, answer), _plain(store, rtds)
    assert [[d.type for d in v.value] for v in ours] == [[d.type for d in v.value] for v in theirs]
    assert len(answer.encode()) == len(rtds.encode())
    values = [int(v.value) for v in ours[0].value]
    # the accumulated debt is the engine's sum of its debts (RTDS's example is not a sum)
    assert values == [balance, emergency, payment + td1 + td2, payment, td1, td2]
    assert meter.metered == 1  # what was used up to now comes off before the balance is read
    out = read(
        answer,
        user_ka=store.private(SUPPLIER, Usage.KA).private_key,
        device_ka=store.get(ESME, Usage.KA).public_key,
    )
    assert out["meter_balance_millipence"] == balance and out["meter_balance_pence"] == 250
    assert out["emergency_credit_pence"] == 95 and out["time_debt_2_millipence"] == td2
    assert out["authenticated_by"] == "mac"


def test_the_esme_answers_rtds_ecs20d_byte_for_byte_from_its_log(store, tmp_path) -> None:
    rtds = GbcsMessage.decode(_rtds(f"{ECS20D_RTDS}_RESPONSE"))
    log = dlms.decode(rtds.payload)
    assert isinstance(log, dlms.AccessResponse)
    entries = [tuple(int(d.value) for d in e.value) for e in log.data[0].value.elements()]
    credit = _credit(store, tmp_path)
    # the log as the meter kept it (Unix seconds), one entry before the range read
    credit.top_ups = [(472_900_000 + cosem.GBCS_EPOCH_UNIX, 1_000)] + [
        (at + cosem.GBCS_EPOCH_UNIX, value) for at, value in entries
    ]
    credit.top_ups = credit.top_ups[-TOP_UP_LOG:]
    meter = _Meter(credit)
    serve_prepay_logs(meter)

    answer = _answer(store, meter, ECS20D, GbcsMessage.decode(_rtds(f"{ECS20D_RTDS}_COMMAND")))
    assert answer.encode() == rtds.encode()


def test_a_top_up_is_logged_kept_and_listed_by_4_4_5(store, tmp_path) -> None:
    credit = _credit(store, tmp_path)
    applied_at = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    supplier_pp = store.get(SUPPLIER, Usage.PP_KA).public_key
    for n in range(TOP_UP_LOG + 2):  # more than the log holds: the oldest go
        credit.clock = lambda n=n: applied_at.timestamp() + n * 60
        credit.top_up(_utrn(store, n + 1, (n + 1) << 32), SUPPLIER, supplier_pp)
    again = Credit(tmp_path / "credit.json", ESME, store.private(ESME, Usage.KA).private_key)
    assert [value for _, value in again.top_ups] == [
        (n + 1) * 100 * cosem.MILLIPENCE for n in range(2, TOP_UP_LOG + 2)
    ]
    meter = _Meter(again)
    serve_prepay_logs(meter)

    from rig.protocol.duis.bodies import request_body
    from rig.protocol.duis.message import Request, RequestId

    def log_between(start: str, end: str, counter: int) -> dict:
        params = {"StartDateTime": start, "EndDateTime": end}
        body = request_body("4.4.5", params=params)
        request = Request(RequestId(SUPPLIER, ESME, counter), 1, "4.4", "4.4.5", body)
        fn = transform_for(ECS20D)
        assert fn is not None
        cmd = fn(ECS20D, TransformInput(request, counter, SUPPLIER, ESME))
        out = read(
            _answer(store, meter, ECS20D, cmd),
            user_ka=store.private(SUPPLIER, Usage.KA).private_key,
            device_ka=store.get(ESME, Usage.KA).public_key,
        )
        assert out["result"] == 0
        return out

    everything = log_between("2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z", 1)["credits"]
    assert [c["pence"] for c in everything] == [300, 400, 500, 600, 700]
    assert everything[0]["at"] == "2026-03-01T12:02:00+00:00"
    # both ends included; outside the range, nothing
    two = log_between("2026-03-01T12:03:00Z", "2026-03-01T12:04:00Z", 2)["credits"]
    assert [c["at"][11:16] for c in two] == ["12:03", "12:04"]
    assert log_between("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z", 3)["credits"] == []


# --- on the running rig -------------------------------------------------------------------------
def _cli(env, *args: str):
    return rig_cli(*args, "--rig", str(env["file"]), state=env["dir"])


def test_4_3_reads_the_balance_4_18_reads_and_4_4_5_lists_a_top_up(dcc_rig) -> None:
    """4.3's meter balance is 4.18's; a top-up through the DCC is in 4.4.5's log; 4.14
    reads the daily log through the DCC."""
    env = dcc_rig
    assert send_request(env["rig"], env["state"], "7.2", "esme", {}).response_code == "I0"
    try:  # the supply off: nothing is spent between the two reads
        prepay = send_request(env["rig"], env["state"], "4.3", "esme", {})
        assert prepay.response_code == "I0", prepay
        values = prepay.values
        assert values["authenticated_by"] == "mac" and values["result"] == 0
        proc = _cli(env, "supplier", "send", "4.18", "--target", "esme", "--json")
        assert proc.returncode == 0, proc.stderr
        balance = json.loads(proc.stdout)["values"]["meter_balance_millipence"]
        assert values["meter_balance_millipence"] == balance

        before = dt.datetime.now(dt.UTC).replace(microsecond=0)
        proc = _cli(env, "supplier", "topup", "--target", "esme", "--amount", "3", "--json")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        after = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
        period = {
            "StartDateTime": before.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "EndDateTime": after.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        log = send_request(env["rig"], env["state"], "4.4.5", "esme", period)
        assert log.response_code == "I0", log
        assert [c["pence"] for c in log.values["credits"]] == [300]
        # 4.14 through the DCC: the daily read log, decrypted as the supplier
        month = {
            "StartDateTime": (before - dt.timedelta(days=31)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "EndDateTime": period["EndDateTime"],
        }
        daily = send_request(env["rig"], env["state"], "4.14", "esme", month)
        assert daily.response_code == "I0" and daily.values["result"] == 0, daily
        assert all(d["at"].endswith("T00:00:00+00:00") for d in daily.values["days"])
    finally:
        assert send_request(env["rig"], env["state"], "7.1", "esme", {}).response_code == "I0"


# --- 4.14: the daily read log ---------------------------------------------------------------
def test_the_esme_answers_rtds_ecs21b_byte_for_byte_from_its_daily_log(store, tmp_path) -> None:
    rtds = GbcsMessage.decode(_rtds(f"{ECS21B_RTDS}_RESPONSE"))
    days = _plain(store, rtds)[0].value.elements()
    assert len(days) == 7  # 2014-12-26 to 2015-01-01: each midnight in the period
    credit = _credit(store, tmp_path)
    meter = _Meter(credit)
    daily = serve_prepay_logs(meter)
    assert daily is not None
    before = (472_780_800, (1, 2, 3, 4, 5, 6))  # 2014-12-25: before the period asked
    daily.entries = [before] + [
        (int(d.value[0].value), tuple(int(v.value) for v in d.value[1:])) for d in days
    ]
    answer = _answer(store, meter, ECS21B, GbcsMessage.decode(_rtds(f"{ECS21B_RTDS}_COMMAND")))
    assert answer.encode() == rtds.encode()
    out = read(
        answer,
        user_ka=store.private(SUPPLIER, Usage.KA).private_key,
        device_ka=store.get(ESME, Usage.KA).public_key,
    )
    assert [d["at"][:10] for d in out["days"]][0::6] == ["2014-12-26", "2015-01-01"]
    assert out["days"][0]["meter_balance_millipence"] == 700_000


def test_the_daily_log_takes_the_registers_once_each_midnight_and_keeps_them(
    store, tmp_path
) -> None:
    credit = _credit(store, tmp_path)
    credit.millipence = 1_234_000
    clock = {"now": dt.datetime(2026, 3, 1, 23, 59, 59, tzinfo=dt.UTC)}
    path = tmp_path / "daily.json"
    daily = DailyReadLog(path, credit, lambda: clock["now"])
    assert daily.tick() is False  # the first look: the day is noted, nothing is taken
    clock["now"] = dt.datetime(2026, 3, 2, 0, 0, 0, 500_000, tzinfo=dt.UTC)
    assert daily.tick() is True and daily.tick() is False  # once a day
    midnight = int(dt.datetime(2026, 3, 2, tzinfo=dt.UTC).timestamp()) - cosem.GBCS_EPOCH_UNIX
    assert daily.entries == [(midnight, (1_234_000, 0, 0, 0, 0, 0))]
    # kept across a power cut; bounded
    again = DailyReadLog(path, credit, lambda: clock["now"])
    assert again.entries == daily.entries and again.tick() is False
    for n in range(DAILY_LOG + 3):
        clock["now"] += dt.timedelta(days=1)
        credit.millipence = n
        assert again.tick() is True
    assert len(again.entries) == DAILY_LOG and again.entries[-1][1][0] == DAILY_LOG + 2


@pytest.mark.parametrize(
    ("name", "result"),
    [
        (f"{ECS19_RTDS}_RESPONSE", 0),
        (f"{ECS20D_RTDS}_RESPONSE", 0),
        (f"{ECS21B_RTDS}_RESPONSE", 0),
        ("4.3_ECS19/ECS19_4.3_ERROR_RESPONSE", 1),
        ("4.4.5_ECS20d/ECS20d_4.4.5_ERROR_RESPONSE", 1),
        ("4.14_ECS21b/ECS21b_4.14_KRP_ERROR_RESPONSE", 1),
    ],
)
def test_the_dcc_user_reads_rtds_responses(store, name, result) -> None:
    out = read(
        GbcsMessage.decode(_rtds(name)),
        user_ka=store.private(SUPPLIER, Usage.KA).private_key,
        device_ka=store.get(ESME, Usage.KA).public_key,
    )
    assert out["authenticated_by"] == "mac" and out["result"] == result
    if result:  # a hardware fault: no values
        assert not {"meter_balance_millipence", "credits", "days"} & out.keys()
    elif out["use_case"] == "ECS19":
        assert out["meter_balance_millipence"] == 250_000  # as 4.18's RTDS answer has it
        assert out["time_debt_2_millipence"] == 46_000
    elif out["use_case"] == "ECS20d":
        assert [c["at"][:10] for c in out["credits"]][::4] == ["2014-12-28", "2015-01-01"]
        assert [c["millipence"] for c in out["credits"]] == [95, 203, 243, 46, 187]
    else:
        assert len(out["days"]) == 7 and out["days"][-1]["at"] == "2015-01-01T00:00:00+00:00"
