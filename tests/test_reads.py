"""The ESME's reads of family 4, byte for byte as RTDS 4.5.0 has them, answered from its
import register: 4.1.2 Read Instantaneous Import TOU Matrices (ECS17d, a protected read of
the 48 TOU registers), 4.17 Retrieve Daily Consumption Log (ECS66, the Wh of each UTC day)
and 4.8.1 Read Active Import Profile Data (ECS22b, the Wh of each half hour), protected
reads between two dates; and 4.1.2, 4.17 and 4.8.1 on the running rig."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import pytest

from gateway.transform import TransformInput, transform_for
from gateway.transform.registry import TransformRefused
from nodes.gbcs.cosem_server import CosemError, CosemServer, Result
from nodes.gbcs.handlers import handler_for
from nodes.roles.reads import (
    DAILY_CONSUMPTION_DAYS,
    DAY_S,
    HALF_HOUR_S,
    RATE_IN_FORCE,
    EnergyReads,
    IntervalLog,
    TouRegisters,
    serve_reads,
)
from rig.dccuser.client import DccUser
from rig.dccuser.readers import read
from rig.protocol.duis.message import Request, RequestId, parse_document
from rig.protocol.gbcs import cosem, reading, security
from rig.protocol.gbcs.catalogue import CATALOGUE
from rig.protocol.gbcs.catalogue_reads import ECS17D, ECS22B, ECS66, TOU_RATES
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, check_command
from rig.protocol.smki import Usage
from tests.conftest import vectors
from tests.test_usecases import ACB, ESME, JAN_2015, SUPPLIER, _context, _rtds

ECS17D_RTDS = "4.1.2_ECS17d/ECS17d_4.1.2_SINGLE_SUCCESS"
ECS17D_TWIN = "4.1.2_ECS17d/ECS17d_4.1.2_TWIN_SUCCESS"
ECS66_RTDS = "4.17_ECS66/ECS66_4.17_SUCCESS"
ECS22B_RTDS = "4.8.1_ECS22b/ECS22b_4.8.1_SINGLE_SUCCESS"


@pytest.fixture(scope="module")
def store():
    from rig.pki.keystores import load

    return load([vectors("gbcs", "rtds-keystore"), vectors("gbcs", "device-keys")])


def _template(name: str) -> Request:
    return parse_document(vectors("duis", "templates", f"{name}_REQUEST_DUIS.XML").read_bytes())


def _transform(uc: UseCase, request: Request, counter: int) -> GbcsMessage:
    fn = transform_for(uc)
    assert fn is not None, f"{uc.name} has no transform"
    return fn(uc, TransformInput(request, counter, SUPPLIER, ESME))


@pytest.mark.parametrize(
    ("uc", "template", "rtds"),
    [
        (ECS17D, "ECS17d_4.1.2_SINGLE_SUCCESS", ECS17D_RTDS),
        (ECS17D, "ECS17d_4.1.2_TWIN_SUCCESS", ECS17D_TWIN),
        (ECS66, "ECS66_4.17_SUCCESS", ECS66_RTDS),
        (ECS22B, "ECS22b_4.8.1_SINGLE_SUCCESS", ECS22B_RTDS),
        (ECS22B, "ECS22b_4.8.1_TWIN_SUCCESS", "4.8.1_ECS22b/ECS22b_4.8.1_TWIN_SUCCESS"),
    ],
)
def test_the_transform_of_dccs_template_is_rtds_command(store, uc, template, rtds) -> None:
    expected = GbcsMessage.decode(_rtds(f"{rtds}_COMMAND"))
    ours = _transform(uc, _template(template), expected.header.counter)
    maced = security.apply_mac(
        ours, store.private(ACB, Usage.KA).private_key, store.get(ESME, Usage.KA).public_key
    )
    assert maced.encode() == expected.encode()
    assert check_command(expected, CATALOGUE) is uc


def _log_request(start: str, end: str, counter: int = 7) -> Request:
    body = _template("ECS66_4.17_SUCCESS").body
    period = {"StartDateTime": start, "EndDateTime": end}
    for element in body.iter():
        name = element.tag.rsplit("}", 1)[-1]
        if name in period:
            element.text = period[name]
    return Request(RequestId(SUPPLIER, ESME, counter), 1, "4.17", "4.17", body)


def test_a_read_log_period_that_is_no_date_time_is_refused_saying_what_to_give() -> None:
    with pytest.raises(TransformRefused, match="not a date-time: give one like"):
        _transform(ECS66, _log_request("yesterday", "2015-01-01T00:00:00Z"), 7)


class _Meter:
    """The ESME as serve_reads sees it: its COSEM server, its state folder and its import
    register (Wh), which the test advances."""

    def __init__(self, state_dir: Path, wh: int = 0) -> None:
        self.cosem = CosemServer()
        self.config = SimpleNamespace(state_dir=state_dir)
        self.wh = wh

    def metering(self) -> dict:
        return {"current_summ_delivered": self.wh}


def _answer(store, meter: _Meter, uc: UseCase, cmd: GbcsMessage) -> GbcsMessage:
    tables = SimpleNamespace(cosem=meter.cosem, zcl=None)
    ctx = _context(store, ESME, tables, JAN_2015)
    return asyncio.run(handler_for(uc)(uc, cmd, ctx))


def _plain(store, msg: GbcsMessage) -> list[Data]:
    return reading.protected_values(
        msg, store.private(SUPPLIER, Usage.KA).private_key, store.get(ESME, Usage.KA).public_key
    )


def _read(store, msg: GbcsMessage) -> dict:
    return read(
        msg,
        user_ka=store.private(SUPPLIER, Usage.KA).private_key,
        device_ka=store.get(ESME, Usage.KA).public_key,
    )


def _shape(value: Data) -> object:
    if isinstance(value.value, list):
        return (value.type, [_shape(v) for v in value.value])
    return value.type


def test_the_esme_answers_rtds_ecs17d_byte_for_byte_from_its_tou_registers(store, tmp_path) -> None:
    rtds = GbcsMessage.decode(_rtds(f"{ECS17D_RTDS}_RESPONSE"))
    wanted = [int(v.value) for v in _plain(store, rtds)[0].value[0].value]
    assert len(wanted) == TOU_RATES
    meter = _Meter(tmp_path, wh=sum(wanted))
    reads = serve_reads(meter)
    assert reads is not None
    reads.tou.registers, reads.tou.credited = list(wanted), sum(wanted)  # RTDS's registers

    answer = _answer(store, meter, ECS17D, GbcsMessage.decode(_rtds(f"{ECS17D_RTDS}_COMMAND")))
    assert answer.encode() == rtds.encode()  # RTDS's header (dated), frame and ciphertext
    out = _read(store, answer)
    assert out["result"] == 0 and out["tou_registers"] == wanted
    assert out["authenticated_by"] == "mac" and "secondary_registers" not in out


def test_the_tou_registers_take_the_import_in_the_rate_in_force_and_keep_it(
    store, tmp_path
) -> None:
    meter = _Meter(tmp_path, wh=5_000)  # a meter with 5 kWh already on its import register
    serve_reads(meter)
    cmd = GbcsMessage.decode(_rtds(f"{ECS17D_RTDS}_COMMAND"))
    first = _read(store, _answer(store, meter, ECS17D, cmd))["tou_registers"]
    assert first[RATE_IN_FORCE - 1] == 5_000 and sum(first) == 5_000
    meter.wh += 1_234
    again = _Meter(tmp_path, wh=meter.wh)  # a restart: the registers come back from the file
    serve_reads(again)
    second = _read(store, _answer(store, again, ECS17D, cmd))["tou_registers"]
    assert second[RATE_IN_FORCE - 1] == 6_234 and sum(second) == again.wh
    # the plaintext's structure is RTDS's single-element answer's
    rtds = GbcsMessage.decode(_rtds(f"{ECS17D_RTDS}_RESPONSE"))
    ours = _plain(store, _answer(store, again, ECS17D, cmd))
    assert [_shape(v) for v in ours] == [_shape(v) for v in _plain(store, rtds)]


def test_the_esme_answers_rtds_ecs66_byte_for_byte_from_its_daily_log(store, tmp_path) -> None:
    rtds = GbcsMessage.decode(_rtds(f"{ECS66_RTDS}_RESPONSE"))
    days = _plain(store, rtds)[0].value.elements()
    assert len(days) == 4  # 2014-12-02 to 12-05: each midnight in the period
    meter = _Meter(tmp_path)
    reads = serve_reads(meter)
    assert reads is not None
    reads.daily.since = int(JAN_2015.timestamp()) - cosem.GBCS_EPOCH_UNIX  # nothing to log
    before = (470_707_200, 1_000)  # 2014-12-01: before the period asked
    reads.daily.entries = [before] + [(int(d.value[0].value), int(d.value[1].value)) for d in days]
    answer = _answer(store, meter, ECS66, GbcsMessage.decode(_rtds(f"{ECS66_RTDS}_COMMAND")))
    assert answer.encode() == rtds.encode()
    out = _read(store, answer)
    assert [d["at"][:10] for d in out["days"]] == [f"2014-12-0{n}" for n in (2, 3, 4, 5)]
    assert [d["consumption"] for d in out["days"]] == [95, 203, 243, 46]


def test_the_esme_answers_rtds_ecs22b_byte_for_byte_from_its_profile(store, tmp_path) -> None:
    rtds = GbcsMessage.decode(_rtds(f"{ECS22B_RTDS}_RESPONSE"))
    periods = _plain(store, rtds)[0].value.elements()
    assert len(periods) == 49  # 2014-12-31T00:00 to 2015-01-01T00:00, each half hour
    meter = _Meter(tmp_path)
    reads = serve_reads(meter)
    assert reads is not None
    reads.profile.since = int(JAN_2015.timestamp()) - cosem.GBCS_EPOCH_UNIX  # nothing to log
    after = (473_387_400, 1)  # 2015-01-01T00:30: after the period asked
    reads.profile.entries = [(int(p.value[0].value), int(p.value[1].value)) for p in periods] + [
        after
    ]
    answer = _answer(store, meter, ECS22B, GbcsMessage.decode(_rtds(f"{ECS22B_RTDS}_COMMAND")))
    assert answer.encode() == rtds.encode()
    out = _read(store, answer)
    assert out["periods"][1] == {"at": "2014-12-31T00:30:00+00:00", "consumption": 243}


def test_the_daily_log_takes_each_days_import_at_midnight_and_keeps_it(tmp_path) -> None:
    meter = {"wh": 10_000}
    clock = {"now": dt.datetime(2026, 3, 1, 23, 59, 59, tzinfo=dt.UTC)}
    path = tmp_path / "daily.json"

    def log() -> IntervalLog:
        return IntervalLog(
            path, lambda: meter["wh"], DAY_S, DAILY_CONSUMPTION_DAYS, lambda: clock["now"]
        )

    daily = log()
    assert daily.tick() is False  # the first look: the day and the register are noted
    meter["wh"] += 700
    clock["now"] = dt.datetime(2026, 3, 2, 0, 0, 0, 500_000, tzinfo=dt.UTC)
    assert daily.tick() is True and daily.tick() is False  # once a day
    midnight = int(dt.datetime(2026, 3, 2, tzinfo=dt.UTC).timestamp()) - cosem.GBCS_EPOCH_UNIX
    assert daily.entries == [(midnight, 700)]
    meter["wh"] += 300
    again = log()  # a restart keeps the entries and where the day started
    clock["now"] += dt.timedelta(days=1)
    assert again.tick() is True and again.entries[-1] == (midnight + 86_400, 300)
    for _ in range(DAILY_CONSUMPTION_DAYS + 2):
        clock["now"] += dt.timedelta(days=1)
        meter["wh"] += 1
        again.tick()
    assert len(again.entries) == DAILY_CONSUMPTION_DAYS and again.entries[-1][1] == 1


def test_the_profile_takes_each_half_hours_import_at_its_end(tmp_path) -> None:
    meter = {"wh": 0}
    clock = {"now": dt.datetime(2026, 3, 1, 10, 29, tzinfo=dt.UTC)}
    profile = IntervalLog(
        tmp_path / "p.json", lambda: meter["wh"], HALF_HOUR_S, 4, lambda: clock["now"]
    )
    assert profile.tick() is False
    for minutes, wh in ((1, 50), (30, 20), (30, 0), (90, 7)):  # 7 Wh over a power cut
        clock["now"] += dt.timedelta(minutes=minutes)
        meter["wh"] += wh
        assert profile.tick() is True
    ends = [
        dt.datetime.fromtimestamp(at + cosem.GBCS_EPOCH_UNIX, dt.UTC) for at, _ in profile.entries
    ]
    assert [t.strftime("%H:%M") for t in ends] == ["10:30", "11:00", "11:30", "13:00"]
    assert [wh for _, wh in profile.entries] == [50, 20, 0, 7]


def test_an_empty_range_reads_nothing_and_another_restriction_is_refused(store, tmp_path) -> None:
    meter = _Meter(tmp_path)
    serve_reads(meter)
    cmd = _transform(ECS66, _log_request("2015-01-01T00:00:00Z", "2014-01-01T00:00:00Z"), 9)
    out = _read(store, _answer(store, meter, ECS66, cmd))
    assert out["result"] == 0 and out["days"] == []  # an empty range: no entries
    reads = EnergyReads(tmp_path / "other", lambda: 0)
    with pytest.raises(CosemError, match="read by date") as refused:
        reads.daily.between(0, Data(DataType.NULL_DATA))
    assert refused.value.result is Result.TYPE_UNMATCHED


@pytest.mark.parametrize(
    ("name", "result"),
    [
        (f"{ECS17D_RTDS}_RESPONSE", 0),
        (f"{ECS17D_TWIN}_RESPONSE", 0),
        (f"{ECS66_RTDS}_RESPONSE", 0),
        (f"{ECS22B_RTDS}_RESPONSE", 0),
        ("4.8.1_ECS22b/ECS22b_4.8.1_ERROR_RESPONSE", 1),
        ("4.1.2_ECS17d/ECS17d_4.1.2_ERROR_RESPONSE", 1),
        ("4.17_ECS66/ECS66_4.17_ERROR_RESPONSE", 1),
    ],
)
def test_the_dcc_user_reads_rtds_responses(store, name, result) -> None:
    out = _read(store, GbcsMessage.decode(_rtds(name)))
    assert out["authenticated_by"] == "mac" and out["result"] == result
    if result:  # a hardware fault: no values
        assert not {"tou_registers", "days", "periods"} & out.keys()
    elif out["use_case"] == "ECS17d":
        assert out["tou_registers"][:3] == [81, 15, 176] and len(out["tou_registers"]) == 48
        assert out.get("secondary_registers", [220, 147, 239, 224]) == [220, 147, 239, 224]
        assert ("secondary_registers" in out) == ("TWIN" in name)
    elif out["use_case"] == "ECS22b":
        assert len(out["periods"]) == 49 and out["periods"][-1]["at"].startswith("2015-01-01")
    else:
        assert out["days"][0] == {"at": "2014-12-02T00:00:00+00:00", "consumption": 95}


def test_tou_registers_file_of_another_length_is_padded(tmp_path) -> None:
    (tmp_path / "t.json").write_text('{"registers": [1, 2], "import_wh": 3}')
    tou = TouRegisters(tmp_path / "t.json", lambda: 3)
    assert tou.registers[:3] == [1, 2, 0] and len(tou.registers) == TOU_RATES


# --- on the running rig -------------------------------------------------------------------------
def _profile_body(now: dt.datetime):
    body = request_body_of("ECS22b_4.8.1_SINGLE")
    period = {
        "StartDateTime": (now - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "EndDateTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    for element in body.iter():
        name = element.tag.rsplit("}", 1)[-1]
        if name in period:
            element.text = period[name]
    return body


def test_4_1_2_4_17_and_4_8_1_through_the_dcc(dcc_rig) -> None:
    """4.1.2's TOU registers sum to 4.1.1's import register read just before (the supply
    off: nothing is imported in between); 4.17 answers the daily consumption log."""
    from rig.dccuser.tasks import default_user, device_of, send_request

    env = dcc_rig
    assert send_request(env["rig"], env["state"], "7.2", "esme", {}).response_code == "I0"
    try:
        esme = device_of(env["rig"], "esme")
        client = DccUser.from_state(env["dir"], default_user(env["rig"], esme, env["state"]))
        registers = send_request(env["rig"], env["state"], "4.1.1", "esme", {})
        assert registers.response_code == "I0", registers
        tou = asyncio.run(client.send("4.1.2", esme, body=request_body_of("ECS17d_4.1.2_SINGLE")))
        assert tou.response_code == "I0" and tou.values["result"] == 0, tou
        import_wh = registers.values["active_import_wh"]
        assert sum(tou.values["tou_registers"]) == import_wh
        assert tou.values["tou_registers"][RATE_IN_FORCE - 1] == import_wh
        now = dt.datetime.now(dt.UTC)
        body = _log_request(
            (now - dt.timedelta(days=31)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        ).body
        daily = asyncio.run(client.send("4.17", esme, body=body))
        assert daily.response_code == "I0" and daily.values["result"] == 0, daily
        assert all(d["at"].endswith("T00:00:00+00:00") for d in daily.values["days"])
        profile = asyncio.run(client.send("4.8.1", esme, body=_profile_body(now)))
        assert profile.response_code == "I0" and profile.values["result"] == 0, profile
        assert all(p["at"][14:19] in ("00:00", "30:00") for p in profile.values["periods"])
    finally:
        assert send_request(env["rig"], env["state"], "7.1", "esme", {}).response_code == "I0"


def request_body_of(template: str):
    """DCC's template's body, as the DCC User sends it."""
    return _template(f"{template}_SUCCESS").body
