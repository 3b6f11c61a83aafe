"""The ESME's remaining reads of family 4, byte for byte as RTDS 4.5.0 has them, answered
from its own registers and logs: 4.2 export registers (ECS17a), 4.16 active power import
(ECS17c), 4.1.3 the TOU with blocks matrix (ECS17e), 4.6.1 the daily read log (ECS21a),
4.6.2 the export daily read log (ECS21c), 4.8.2 / 4.8.3 the reactive import and export
profiles (ECS22c, ECS22a); and 4.16, 4.2 and 4.6.1 on the running rig."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import pytest

from gateway.transform import TransformInput, transform_for
from gateway.transform.registry import TransformRefused
from nodes.gbcs.cosem_server import CosemServer, Invocation, Result
from nodes.gbcs.handlers import handler_for
from nodes.roles.billing import (
    DAILY_DAYS,
    RowLog,
    half_hour,
    last_billing_date,
    midnight,
    serve_billing,
)
from nodes.roles.device_config import serve_device_config
from nodes.roles.esme_config import serve_esme_config
from nodes.roles.reads import serve_reads
from rig.dccuser.client import DccUser
from rig.dccuser.readers import read
from rig.protocol.duis.message import Request, RequestId, parse_document
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import cosem, reading, security
from rig.protocol.gbcs.catalogue import CATALOGUE
from rig.protocol.gbcs.catalogue_billing import (
    ECS17A,
    ECS17C,
    ECS17E,
    ECS18A,
    ECS18B,
    ECS20A,
    ECS20B,
    ECS20C,
    ECS21A,
    ECS21C,
    ECS22A,
    ECS22C,
    ECS23,
    ECS27,
    LOAD_LIMIT_DATA,
    TOU_BLOCK_CELLS,
)
from rig.protocol.gbcs.catalogue_device_config import BILLING_CALENDAR
from rig.protocol.gbcs.dlms import AccessRequest, Data, DataType, RequestKind, RequestSpec
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, check_command, for_unknown_remote_party
from rig.protocol.smki import Usage
from tests.conftest import vectors
from tests.test_usecases import ACB, ESME, JAN_2015, SUPPLIER, _context, _rtds

RTDS = {
    ECS17A.name: "4.2_ECS17a/ECS17a_4.2_SUCCESS",
    ECS17C.name: "4.16_ECS17c/ECS17c_4.16_SUCCESS",
    ECS17E.name: "4.1.3_ECS17e/ECS17e_4.1.3_SUCCESS",
    ECS21A.name: "4.6.1_ECS21a/ECS21a_4.6.1_SINGLE_SUCCESS",
    ECS21C.name: "4.6.2_ECS21c/ECS21c_4.6.2_SUCCESS",
    ECS22A.name: "4.8.3_ECS22a/ECS22a_4.8.3_SUCCESS",
    ECS22C.name: "4.8.2_ECS22c/ECS22c_4.8.2_SUCCESS",
    ECS27.name: "4.15_ECS27/ECS27_4.15_SUCCESS",
    ECS23.name: "4.10_ECS23/ECS23_4.10_SUCCESS",
    ECS20C.name: "4.4.3_ECS20c/ECS20c_4.4.3_SINGLE_SUCCESS",
    ECS20A.name: "4.4.4_ECS20a/ECS20a_4.4.4_SUCCESS",
    ECS20B.name: "4.4.2_ECS20b/ECS20b_4.4.2_SINGLE_SUCCESS",
    ECS18A.name: "4.12.2_ECS18a/ECS18a_4.12.2_SUCCESS",
    ECS18B.name: "4.12.1_ECS18b/ECS18b_4.12.1_SUCCESS",
}
TEMPLATES = {
    ECS17A.name: "ECS17a_4.2_SUCCESS",
    ECS17C.name: "ECS17c_4.16_SUCCESS",
    ECS17E.name: "ECS17e_4.1.3_SUCCESS",
    ECS21A.name: "ECS21a_4.6.1_SINGLE_SUCCESS",
    ECS21C.name: "ECS21c_4.6.2_SUCCESS",
    ECS22A.name: "ECS22a_4.8.3_SUCCESS",
    ECS22C.name: "ECS22c_4.8.2_SUCCESS",
    ECS27.name: "ECS27_4.15_SUCCESS",
    ECS23.name: "ECS23_4.10_SUCCESS",
    ECS20C.name: "ECS20c_4.4.3_SINGLE_SUCCESS",
    ECS20A.name: "ECS20a_4.4.4_SUCCESS",
    ECS20B.name: "ECS20b_4.4.2_SINGLE_SUCCESS",
    ECS18A.name: "ECS18a_4.12.2_SUCCESS",
    ECS18B.name: "ECS18b_4.12.1_SUCCESS",
}
ADDED = [ECS20A, ECS20B, ECS18A, ECS18B]  # issue 17's wave 2
ALL = [ECS17A, ECS17C, ECS17E, ECS20C, ECS21A, ECS21C, ECS22A, ECS22C, ECS23, ECS27, *ADDED]
EPOCH = cosem.GBCS_EPOCH_UNIX


@pytest.fixture(scope="module")
def store():
    from rig.pki.keystores import load

    return load([vectors("gbcs", "rtds-keystore"), vectors("gbcs", "device-keys")])


def _template(name: str) -> Request:
    return parse_document(vectors("duis", "templates", f"{name}_REQUEST_DUIS.XML").read_bytes())


def _rtds_msg(uc: UseCase, kind: str) -> GbcsMessage:
    return GbcsMessage.decode(_rtds(f"{RTDS[uc.name]}_{kind}"))


def _transform(uc: UseCase, request: Request, counter: int, originator: Eui64) -> GbcsMessage:
    fn = transform_for(uc)
    assert fn is not None, f"{uc.name} has no transform"
    return fn(uc, TransformInput(request, counter, originator, ESME))


@pytest.mark.parametrize("uc", ALL)
def test_the_transform_of_dccs_template_is_rtds_command(store, uc: UseCase) -> None:
    expected = _rtds_msg(uc, "COMMAND")
    originator = Eui64(expected.header.originator)  # the supplier, the network operator, the ACB
    request = _template(TEMPLATES[uc.name])
    ours = _transform(uc, request, expected.header.counter, originator)
    if uc.acb_originated:  # the ACB's, for the DCC User named as the supplementary party
        rid = request.request_id
        ours = _transform(uc, request, expected.header.counter, rid.originator)
        ours = for_unknown_remote_party(ours, ACB.raw, expected.header.counter, rid.counter, None)
    maced = security.apply_mac(
        ours, store.private(ACB, Usage.KA).private_key, store.get(ESME, Usage.KA).public_key
    )
    assert maced.encode() == expected.encode()
    assert check_command(expected, CATALOGUE) is uc


def _period(template: str, start: str, end: str, counter: int = 7) -> Request:
    body = _template(template).body
    period = {"StartDateTime": start, "EndDateTime": end}
    for element in body.iter():
        name = element.tag.rsplit("}", 1)[-1]
        if name in period:
            element.text = period[name]
    return Request(RequestId(SUPPLIER, ESME, counter), 1, "4.8", "4.8.2", body)


def test_a_read_log_period_that_is_no_date_time_is_refused_saying_what_to_give() -> None:
    request = _period(TEMPLATES[ECS22C.name], "soon", "2015-01-01T00:00:00Z")
    with pytest.raises(TransformRefused, match="not a date-time: give one like"):
        _transform(ECS22C, request, 7, SUPPLIER)


class _Meter:
    """The ESME as serve_billing sees it: its COSEM server (with the import and TOU
    registers of :mod:`nodes.roles.reads` on it), its state folder, and its import register
    and demand, which the test sets."""

    def __init__(self, state_dir: Path, wh: int = 0, demand_w: int = 0) -> None:
        self.cosem = CosemServer()
        self.config = SimpleNamespace(state_dir=state_dir, eui=ESME)
        self.wh, self.demand_w = wh, demand_w
        # the credit engine as the billing family reads it: its payment mode, its log of
        # payments to the payment debt (UTC seconds, millipence), its tick's watchers
        self.credit = SimpleNamespace(
            settings=SimpleNamespace(payment_mode="credit"), debt_payments=[], watchers=[]
        )
        self.cosem.attribute(cosem.IMPORT_REGISTERS, self._import_registers)
        serve_reads(self)
        serve_device_config(self)  # the load limit's objects (6.4.1 writes them)
        serve_esme_config(self)  # the voltage counters and measurement period (6.5)

    def _import_registers(self) -> Data:
        wh = self.wh
        return Data(
            DataType.STRUCTURE,
            [*cosem.value_with_unit(wh, cosem.WH), *cosem.value_with_unit(wh // 10, cosem.VARH)],
        )

    def metering(self) -> dict:
        return {"current_summ_delivered": self.wh, "instantaneous_demand": self.demand_w}


def _invocation() -> Invocation:
    return Invocation(GbcsMessage.decode(_rtds(f"{RTDS[ECS27.name]}_COMMAND")), bytes)


def _answer(store, meter: _Meter, uc: UseCase, cmd: GbcsMessage) -> GbcsMessage:
    tables = SimpleNamespace(cosem=meter.cosem, zcl=None)
    ctx = _context(store, ESME, tables, JAN_2015)
    return asyncio.run(handler_for(uc)(uc, cmd, ctx))


def _read(store, msg: GbcsMessage) -> dict:
    """The answer read by its recipient (the supplier, the network operator, the ACB)."""
    user = Eui64(msg.header.recipient)
    return read(
        msg,
        user_ka=store.private(user, Usage.KA).private_key,
        device_ka=store.get(ESME, Usage.KA).public_key,
    )


def _plain(store, msg: GbcsMessage) -> list[Data]:
    user = Eui64(msg.header.recipient)
    return reading.protected_values(
        msg, store.private(user, Usage.KA).private_key, store.get(ESME, Usage.KA).public_key
    )


def _shape(value: Data) -> object:
    """A value's types and shape (a compact array's description, the count of its rows left
    out), not its values."""
    if value.type is DataType.COMPACT_ARRAY:
        return (value.type, value.value.description)
    if isinstance(value.value, list):
        return (value.type, [_shape(v) for v in value.value])
    return value.type


def _values(store, uc: UseCase, msg: GbcsMessage) -> list[Data]:
    if uc.encrypted:
        return _plain(store, msg)
    return list(reading.access_response(msg).data)


@pytest.mark.parametrize("uc", ALL)
def test_the_esme_answers_rtds_command_with_rtds_structure(store, tmp_path, uc) -> None:
    """A meter with a day and more of logs behind it: its answer to RTDS's command decodes
    as RTDS's response does (the same results, types and shapes); the values are the
    meter's own."""
    clock = {"now": dt.datetime(2014, 3, 8, 12, tzinfo=dt.UTC)}
    meter = _Meter(tmp_path, wh=10_000, demand_w=500)
    billing = serve_billing(meter)
    assert billing is not None
    _set_calendar(meter, bytes(4), MONTHLY)  # billed on the 1st of each month
    logs = (
        billing.daily,
        billing.export_daily,
        billing.export_profile,
        billing.reactive_profile,
        billing.billing,
        billing.billing_prepay,
    )
    for rowlog in (*logs, billing.billing_events):
        rowlog.now = lambda: clock["now"]
    rtds_cmd = _rtds_msg(uc, "COMMAND")
    # the logs' first looks, then a boundary in each RTDS period: RTDS's dates lie in 2014
    for when in (
        dt.datetime(2014, 3, 8, 12, tzinfo=dt.UTC),
        dt.datetime(2014, 3, 10, 0, 5, tzinfo=dt.UTC),
        dt.datetime(2014, 10, 1, 10, 1, tzinfo=dt.UTC),
        dt.datetime(2014, 12, 2, 0, 1, tzinfo=dt.UTC),
        dt.datetime(2015, 1, 1, 0, 0, 1, tzinfo=dt.UTC),
    ):
        clock["now"] = when
        meter.wh += 700
        for rowlog in logs:
            rowlog.tick()
        billing.changed("tariff")  # the billing data log on a tariff change
        meter.credit.debt_payments.append((int(when.timestamp()) - 7 * 86_400, 95))
    answer = _answer(store, meter, uc, rtds_cmd)
    rtds = _rtds_msg(uc, "RESPONSE")
    assert answer.header.counter == rtds.header.counter
    assert (answer.header.date_time is None) == (rtds.header.date_time is None)
    ours, theirs = _values(store, uc, answer), _values(store, uc, rtds)
    assert [_shape(v) for v in ours] == [_shape(v) for v in theirs]
    logs = [v.value.elements() for v in ours if v.type is DataType.COMPACT_ARRAY]
    if uc is ECS23:  # the rig measures no voltage: no entries, in RTDS's row description
        assert logs == [[]]
    else:
        assert all(logs)  # each log answers rows of its own in RTDS's period
    assert [r.result for r in reading.access_response(answer).results] == [
        r.result for r in reading.access_response(rtds).results
    ]
    out = _read(store, answer)
    assert out["result"] == 0


def test_the_logs_take_the_meters_registers_at_each_boundary_and_keep_them(tmp_path) -> None:
    registers = {"wh": 1_000, "varh": 100}
    clock = {"now": dt.datetime(2026, 3, 1, 23, 59, tzinfo=dt.UTC)}
    path = tmp_path / "log.json"

    def profile() -> RowLog:
        return RowLog(
            path,
            lambda: [registers["wh"], registers["varh"]],
            half_hour,
            4,
            snapshot=False,
            now=lambda: clock["now"],
        )

    log = profile()
    assert log.tick() is False  # the first look: where the registers stand
    registers["wh"] += 50
    registers["varh"] += 5
    clock["now"] += dt.timedelta(minutes=2)  # 00:01: the half hour to 00:00 has ended
    assert log.tick() is True and log.tick() is False
    at = int(dt.datetime(2026, 3, 2, tzinfo=dt.UTC).timestamp()) - EPOCH
    assert log.entries == [(at, [50, 5])]
    again = profile()  # a restart: the entries and where the half hour started come back
    registers["wh"] += 7
    clock["now"] += dt.timedelta(hours=2)  # a power cut over four half hours: logged once
    assert again.tick() is True and again.entries[-1] == (at + 7_200, [7, 0])
    assert again.select(at, at + 7_200) == [[at, 50, 5], [at + 7_200, 7, 0]]
    assert again.select(at + 1, at + 7_199) == []

    daily = RowLog(
        tmp_path / "d.json", lambda: [registers["wh"]], midnight, DAILY_DAYS, snapshot=True
    )
    daily.now = lambda: clock["now"]
    daily.tick()
    clock["now"] += dt.timedelta(days=1)
    registers["wh"] += 3
    assert daily.tick() is True and daily.entries[-1][1] == [registers["wh"]]  # a snapshot


def test_the_daily_read_log_holds_the_import_and_tou_registers_at_midnight(store, tmp_path) -> None:
    meter = _Meter(tmp_path, wh=5_000)
    billing = serve_billing(meter)
    assert billing is not None
    clock = {"now": dt.datetime(2014, 3, 9, 23, 0, tzinfo=dt.UTC)}
    billing.daily.now = lambda: clock["now"]
    billing.daily.tick()
    meter.wh += 1_234
    clock["now"] = dt.datetime(2014, 3, 10, 0, 0, 30, tzinfo=dt.UTC)
    out = _read(store, _answer(store, meter, ECS21A, _rtds_msg(ECS21A, "COMMAND")))
    assert out["result"] == 0 and len(out["days"]) == 1
    day = out["days"][0]
    assert day["at"] == "2014-03-10T00:00:00+00:00" and day["import_wh"] == 6_234
    assert sum(day["tou_registers"]) == 6_234  # the energy is in the TOU rates
    assert day["block_registers"] == [[0] * 8] * 4  # no block tariff: nothing in blocks


def _set_calendar(meter: _Meter, time: bytes, date: bytes) -> None:
    """6.8's SET of the billing calendar: one execution time (a COSEM time and date)."""
    octets = [Data(DataType.OCTET_STRING, time), Data(DataType.OCTET_STRING, date)]
    calendar = Data(DataType.ARRAY, [Data(DataType.STRUCTURE, octets)])
    spec = RequestSpec(RequestKind.SET, 22, BILLING_CALENDAR.instance, 4)
    _, results = meter.cosem.execute(AccessRequest(1, b"", [spec], [calendar]), _invocation())
    assert [r.result for r in results] == [0]


MONTHLY = bytes.fromhex("ffffff01ff")  # every month, on the 1st


def test_the_billing_dates_are_the_billing_calendars(store, tmp_path) -> None:
    """The billing data log takes the registers on each date the billing calendar names,
    as 6.8 writes it (a SET of the calendar): monthly on the 1st at midnight, then on the
    15th at 06:30."""

    def at(*when: int) -> int:
        return int(dt.datetime(*when, tzinfo=dt.UTC).timestamp()) - EPOCH

    meter = _Meter(tmp_path, wh=100)
    billing = serve_billing(meter)
    assert billing is not None
    _set_calendar(meter, bytes(4), MONTHLY)
    calendar = meter.cosem.get(BILLING_CALENDAR)
    assert last_billing_date(calendar, at(2026, 3, 17, 12)) == at(2026, 3, 1)
    assert last_billing_date(calendar, at(2026, 1, 1)) == at(2026, 1, 1)  # on the dot
    clock = {"now": dt.datetime(2026, 2, 20, tzinfo=dt.UTC)}
    billing.billing.now = lambda: clock["now"]
    billing.billing.tick()  # the first look
    meter.wh += 900
    clock["now"] = dt.datetime(2026, 3, 1, 0, 10, tzinfo=dt.UTC)  # the 1st: a bill
    assert billing.billing.tick() is True and billing.billing.entries[-1][0] == at(2026, 3, 1)
    assert billing.billing.entries[-1][1][0] == 1_000  # the import register then
    _set_calendar(meter, bytes([6, 30, 0, 0]), bytes.fromhex("ffffff0fff"))  # the 15th
    assert last_billing_date(meter.cosem.get(BILLING_CALENDAR), at(2026, 3, 15, 6)) == at(
        2026, 2, 15, 6, 30
    )
    clock["now"] = dt.datetime(2026, 3, 15, 7, tzinfo=dt.UTC)
    assert billing.billing.tick() is True and billing.billing.entries[-1][0] == at(
        2026, 3, 15, 6, 30
    )


def test_the_power_and_export_registers_are_the_meters_own(store, tmp_path) -> None:
    meter = _Meter(tmp_path, demand_w=730)
    (tmp_path / "export_registers.json").write_text('{"wh": 42, "varh": 4}')
    serve_billing(meter)
    power = _read(store, _answer(store, meter, ECS17C, _rtds_msg(ECS17C, "COMMAND")))
    assert power["active_power_import_w"] == 730 and power["primary_active_power_import_w"] == 730
    meter.demand_w = 0  # the supply off: no demand
    power = _read(store, _answer(store, meter, ECS17C, _rtds_msg(ECS17C, "COMMAND")))
    assert power["active_power_import_w"] == 0
    export = _read(store, _answer(store, meter, ECS17A, _rtds_msg(ECS17A, "COMMAND")))
    assert export["active_export_wh"] == 42 and export["reactive_export_varh"] == 4
    blocks = _read(store, _answer(store, meter, ECS17E, _rtds_msg(ECS17E, "COMMAND")))
    assert blocks["tou_block_registers"] == [0] * TOU_BLOCK_CELLS


def test_the_load_limit_read_is_what_was_written(store, tmp_path) -> None:
    """ECS27 reads the load limit's objects as 6.4.1 writes them (their setters: device
    configuration's), kept in the meter's state folder across a restart."""
    meter = _Meter(tmp_path)
    serve_billing(meter)
    threshold, period, restoration = LOAD_LIMIT_DATA[3:]
    writes = ((threshold, 7_400), (period, 120), (restoration, 45))
    specs = [RequestSpec(RequestKind.SET, a.class_id, a.instance, a.attribute) for a, _ in writes]
    values = [Data(DataType.DOUBLE_LONG_UNSIGNED, v) for _, v in writes]
    _, results = meter.cosem.execute(AccessRequest(1, b"", specs, values), _invocation())
    assert [r.result for r in results] == [0, 0, 0]  # as 6.4.1's SETs reach them
    again = _Meter(tmp_path)  # a restart
    serve_billing(again)
    out = _read(store, _answer(store, again, ECS27, _rtds_msg(ECS27, "COMMAND")))
    assert out["result"] == 0 and out["load_limit_supply_state"] is False
    assert out["load_limit_power_threshold_w"] == 7_400 and out["load_limit_period_s"] == 120
    assert out["load_limit_restoration_period_s"] == 45 and out["load_limit_counter"] == 0


def test_a_log_read_another_way_is_refused(tmp_path) -> None:
    meter = _Meter(tmp_path)
    billing = serve_billing(meter)
    assert billing is not None
    by_entry = RequestSpec(
        RequestKind.GET_WITH_SELECTION, 7, cosem.obis("0-0:99.1.2"), 2, 2, Data(DataType.NULL_DATA)
    )
    request = AccessRequest(1, b"", [by_entry], [Data(DataType.NULL_DATA)])
    _, results = meter.cosem.execute(request, _invocation())
    assert [r.result for r in results] == [Result.TYPE_UNMATCHED]  # by entry: not served


@pytest.mark.parametrize("uc", ALL)
def test_the_dcc_user_reads_rtds_responses(store, uc: UseCase) -> None:
    rtds = _rtds_msg(uc, "RESPONSE")
    out = _read(store, rtds)
    assert out["authenticated_by"] == ("acb" if uc.acb_originated else "mac")
    assert out["result"] == 0
    folder = RTDS[uc.name].split("/")[0]
    srv, name = folder.split("_")
    error = GbcsMessage.decode(_rtds(f"{folder}/{name}_{srv}_ERROR_RESPONSE"))
    assert _read(store, error)["result"] != 0


# --- on the running rig -------------------------------------------------------------------------
def test_4_16_4_2_and_4_6_1_through_the_dcc(dcc_rig) -> None:
    """4.16 answers the demand the ESME's load draws: none with the supply off (7.2), its
    behaviour's load once it is on again (7.1); 4.2 (from the network operator) its export
    registers as its state folder holds them; 4.6.1 its daily read log, a row per midnight."""
    from rig.dccuser.tasks import default_user, device_of, send_request

    env = dcc_rig
    rig, state = env["rig"], env["state"]
    esme = device_of(rig, "esme")
    supplier = DccUser.from_state(env["dir"], default_user(rig, esme, state))
    operator = DccUser.from_state(env["dir"], "network-operator")
    load_w = next(n for n in rig.nodes if n.name == "esme").behaviour["load_w"]

    def send(client: DccUser, srv: str, uc: UseCase, body=None):
        out = asyncio.run(
            client.send(
                srv, esme, body=_template(TEMPLATES[uc.name]).body if body is None else body
            )
        )
        assert out.response_code == "I0" and out.values["result"] == 0, out
        return out.values

    assert send_request(rig, state, "7.2", "esme", {}).response_code == "I0"
    try:
        assert send(supplier, "4.16", ECS17C)["active_power_import_w"] == 0
    finally:
        assert send_request(rig, state, "7.1", "esme", {}).response_code == "I0"
    power = send(supplier, "4.16", ECS17C)
    assert power["active_power_import_w"] == power["primary_active_power_import_w"] == load_w
    export = send(operator, "4.2", ECS17A)
    assert export["active_export_wh"] == 0 and export["reactive_export_varh"] == 0
    now = dt.datetime.now(dt.UTC)
    body = _period(
        TEMPLATES[ECS21A.name],
        (now - dt.timedelta(days=31)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    ).body
    days = send(supplier, "4.6.1", ECS21A, body)["days"]
    assert all(d["at"].endswith("T00:00:00+00:00") for d in days)


def test_a_payment_mode_or_tariff_change_is_logged_once_and_a_reset_is_dated(
    store, tmp_path
) -> None:
    clock = {"now": dt.datetime(2014, 12, 1, 9, tzinfo=dt.UTC)}
    meter = _Meter(tmp_path, wh=1_000)
    billing = serve_billing(meter)
    assert billing is not None
    billing.billing_events.now = lambda: clock["now"]
    for watch in meter.credit.watchers:  # the engine ticks: nothing changed
        watch()
    assert billing.billing_events.entries == []
    meter.credit.settings.payment_mode = "prepayment"  # 6.x / 2.x changed it
    for _ in range(2):
        for watch in meter.credit.watchers:
            watch()
    billing.changed("tariff")  # a tariff's second element in the same second: once
    assert [(at + EPOCH, row[0]) for at, row in billing.billing_events.entries] == [
        (int(clock["now"].timestamp()), 1_000)
    ]
    # ECS18b: each register's reset date-time, "never" until 6.18.2 resets it
    cmd = _rtds_msg(ECS18B, "COMMAND")
    out = _read(store, _answer(store, meter, ECS18B, cmd))
    assert {r["reset"] for r in out["registers"].values()} == {None}
    meter.md_registers.now = lambda: clock["now"]
    meter.md_registers.reset("MaxDemandActivePowerImportValue")
    out = _read(store, _answer(store, meter, ECS18B, cmd))
    assert out["registers"]["MaxDemandActivePowerImportValue"]["reset"] == clock["now"].isoformat()
    assert out["registers"]["MaxDemandConfigTimeActivePowerImportValue"]["reset"] is None
