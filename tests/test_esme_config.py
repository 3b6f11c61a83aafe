"""The ESME's identity, security and operational configuration SRVs (6.5, 6.8, 6.11, 6.12,
6.18.x, 6.20.x, 6.25, 6.26, 6.27), byte for byte as RTDS 4.5.0 has them: DCC's templates
transformed into RTDS's commands, the ESME's COSEM objects answering RTDS's commands as RTDS
does, what they write read back (and kept across a restart), the maximum demand registers
reset and recorded in the period 6.18.1 sets; refusals; and three SRVs through the rig."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from lxml import etree

from gateway.transform import TransformInput, transform_for
from gateway.transform.registry import TransformRefused
from nodes.gbcs.cosem_server import CosemServer, Invocation
from nodes.roles.esme_config import EsmeSettings, Registers, serve_settings
from rig.dccuser.client import DccUser
from rig.pki.keystores import load
from rig.protocol.duis.message import parse_document
from rig.protocol.duis.xml import NS
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import access, dlms, security
from rig.protocol.gbcs import catalogue as cat
from rig.protocol.gbcs import catalogue_device_config as dc
from rig.protocol.gbcs import catalogue_esme_config as ec
from rig.protocol.gbcs.catalogue_commission import ECS70
from rig.protocol.gbcs.cosem import Attribute
from rig.protocol.gbcs.dlms import AccessRequest, Data, DataType
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import (
    UseCase,
    check_command,
    dlms_answer,
    for_unknown_remote_party,
)
from rig.protocol.smki import Usage
from tests.conftest import vectors
from tests.test_usecases import ACB, ESME, _rtds

_D = DataType
# (use case, SRV, the template's and RTDS's case): every success case of the family
CASES = [
    (ec.ECS29A, "6.5", "ECS29a_6.5_SUCCESS"),
    (ec.ECS29B, "6.5", "ECS29b_6.5_SUCCESS"),
    (ec.ECS29C, "6.5", "ECS29c_6.5_SUCCESS"),
    (ec.ECS29D, "6.5", "ECS29d_6.5_SUCCESS"),
    (ec.ECS29E, "6.27", "ECS29e_6.27_SUCCESS"),
    (ec.ECS29F, "6.27", "ECS29f_6.27_SUCCESS"),
    (ec.ECS30A, "6.8", "ECS30a_6.8_SUCCESS"),
    (ec.ECS30, "6.8", "ECS30_6.8_SUCCESS"),
    (ec.ECS34, "6.12", "ECS34_6.12_SUCCESS"),
    (ec.ECS37, "6.18.1", "ECS37_6.18.1_SUCCESS"),
    (ec.ECS57, "6.18.2", "ECS57_6.18.2_ALL_OPTIONALS_SUCCESS"),
    (ec.ECS57, "6.18.2", "ECS57_6.18.2_SOME_OPTIONALS_SUCCESS"),
    (ec.ECS39A, "6.20.1", "ECS39a_6.20.1_SINGLE_SUCCESS"),
    (ec.ECS39A, "6.20.1", "ECS39a_6.20.1_TWIN_SUCCESS"),
    (ec.ECS39B, "6.20.2", "ECS39b_6.20.2_SUCCESS"),
    (ec.ECS81, "6.25", "ECS81_6.25_SUCCESS"),
    (ec.ECS48, "6.26", "ECS48_6.26_SUCCESS"),
    (ECS70, "6.11", "ECS70_6.11_SUCCESS"),
]
IDS = [case for _, _, case in CASES]


@pytest.fixture(scope="module")
def store():
    return load([vectors("gbcs", "rtds-keystore"), vectors("gbcs", "device-keys")])


def _template(case: str):
    return parse_document(vectors("duis", "templates", f"{case}_REQUEST_DUIS.XML").read_bytes())


def _reference(uc: UseCase, srv: str, case: str, kind: str) -> GbcsMessage:
    return GbcsMessage.decode(_rtds(f"{srv}_{case.split('_')[0]}/{case}_{kind}"))


def _transform(uc: UseCase, case: str, counter: int) -> GbcsMessage:
    request = _template(case)
    fn = transform_for(uc)
    assert fn is not None, f"{uc.name} has no transform"
    return fn(uc, TransformInput(request, counter, request.request_id.originator, ESME))


# --- the DCC's transform -------------------------------------------------------------------
@pytest.mark.parametrize(("uc", "srv", "case"), CASES, ids=IDS)
def test_dccs_template_becomes_rtds_command(store, uc, srv, case) -> None:
    """Non-critical: RTDS's command with the ACB's MAC; ECS39b the ACB's for the export
    supplier; critical: RTDS's pre-command, for the User to sign."""
    rtds = _reference(uc, srv, case, "PRECOMMAND" if uc.critical else "COMMAND")
    ours = _transform(uc, case, rtds.header.counter)
    if uc.acb_originated:
        supplier = _template(case).request_id
        ours = for_unknown_remote_party(ours, ACB.raw, rtds.header.counter, supplier.counter, None)
    if uc.critical:
        assert ours.is_pre_command
    else:
        acb_ka = store.private(ACB, Usage.KA).private_key
        ours = security.apply_mac(ours, acb_ka, store.get(ESME, Usage.KA).public_key)
    assert ours.encode() == rtds.encode()
    if uc is not ec.ECS30:  # RTDS's older ECS30: the rig's ESME does not take it
        command = _reference(uc, srv, case, "COMMAND")
        assert check_command(command, cat.CATALOGUE) is uc


def test_the_catalogue_maps_each_srv_as_dccs_table_does() -> None:
    for srv, uc in [
        ("6.5", ec.ECS29A),
        ("6.27", ec.ECS29E),
        ("6.8", ec.ECS30A),
        ("6.11", ECS70),
        ("6.12", ec.ECS34),
        ("6.18.1", ec.ECS37),
        ("6.18.2", ec.ECS57),
        ("6.20.1", ec.ECS39A),
        ("6.20.2", ec.ECS39B),
        ("6.25", ec.ECS81),
        ("6.26", ec.ECS48),
    ]:
        assert cat.CATALOGUE.for_srv(srv, "ESME") is uc, srv
    assert "ECS30" not in cat.CATALOGUE.by_name  # DCC's table maps 6.8 to ECS30a only


# --- the meter -----------------------------------------------------------------------------
class _Meter:
    """The ESME's COSEM server with this family's objects, over a state folder."""

    def __init__(self, state: Path, demand: int = 0, at: dt.datetime | None = None) -> None:
        self.state, self.demand_w = state, demand
        self.at = at or dt.datetime(2015, 1, 1, 18, tzinfo=dt.UTC)
        self.server = CosemServer()
        self.settings = EsmeSettings(state / "esme_config.json", ESME.duis)
        self.registers: Registers = serve_settings(
            self.server,
            self.settings,
            state / "esme_registers.json",
            lambda: self.demand_w,
            lambda: self.at,
        )

    def execute(self, cmd: GbcsMessage) -> tuple[list[Data], list[int], bytes]:
        request = dlms.decode(cmd.payload)
        assert isinstance(request, AccessRequest)
        data, results = self.server.execute(request, Invocation(cmd, lambda b: b))
        return data, [r.result for r in results], dlms_answer(cmd.header.counter, data, results)

    def read(self, *targets) -> list[Data]:
        return [self.server.get(t) for t in targets]


@pytest.mark.parametrize(("uc", "srv", "case"), CASES[:-1], ids=IDS[:-1])
def test_the_esme_answers_rtds_command_with_rtds_answer(tmp_path, uc, srv, case) -> None:
    """Every part done: RTDS's access-response byte for byte (ECS70: tests/test_commission)."""
    meter = _Meter(tmp_path)
    _data, results, answer = meter.execute(_reference(uc, srv, case, "COMMAND"))
    assert set(results) == {0}
    assert answer == _reference(uc, srv, case, "RESPONSE").payload


def _given(uc: UseCase, srv: str, case: str) -> dict[str, Data]:
    cmd = _reference(uc, srv, case, "COMMAND")
    request = dlms.decode(cmd.payload)
    assert isinstance(request, AccessRequest)
    assert isinstance(uc.request, access.Access)
    writes = [p for p in uc.request.parts if isinstance(p, access.Write)]
    return {p.name: v for p, v in zip(uc.request.parts, request.data, strict=False) if p in writes}


def test_what_6_5_and_6_20_write_the_6_2_reads_return_and_a_restart_keeps(tmp_path) -> None:
    meter = _Meter(tmp_path)
    meter.execute(_reference(ec.ECS29B, "6.5", "ECS29b_6.5_SUCCESS", "COMMAND"))
    meter.execute(_reference(ec.ECS39A, "6.20.1", "ECS39a_6.20.1_TWIN_SUCCESS", "COMMAND"))
    meter.execute(_reference(ec.ECS81, "6.25", "ECS81_6.25_SUCCESS", "COMMAND"))
    # 6.2.1's poly-phase read (RTDS's ECS26k command) answers what ECS29b wrote
    data, results, _ = meter.execute(
        GbcsMessage.decode(_rtds("6.2.1_ECS26k/ECS26k_6.2.1_SUCCESS_COMMAND"))
    )
    assert set(results) == {0}
    written = _given(ec.ECS29B, "6.5", "ECS29b_6.5_SUCCESS")
    read_back = dict(zip(dc.VOLTAGE_POLY, data, strict=True))
    for part in ec.ECS29B.request.parts:  # type: ignore[union-attr]
        if isinstance(part, access.Write) and part.target in read_back:
            assert read_back[part.target] == written[part.name], part.name
    assert meter.read(dc.IMPORT_MPAN)[0].value == b"13123456781111312345678222"
    restarted = _Meter(tmp_path)
    assert restarted.read(dc.IMPORT_MPAN, dc.SUPPLY_TAMPER_STATE) == [
        Data(_D.OCTET_STRING, b"13123456781111312345678222"),
        Data(_D.BOOLEAN, 0xFF),
    ]
    assert restarted.read(*dc.VOLTAGE_POLY) == data


def test_the_calendar_thresholds_and_period_read_back_as_written(tmp_path) -> None:
    meter = _Meter(tmp_path)
    for uc, srv, case in [
        (ec.ECS30A, "6.8", "ECS30a_6.8_SUCCESS"),
        (ec.ECS34, "6.12", "ECS34_6.12_SUCCESS"),
        (ec.ECS37, "6.18.1", "ECS37_6.18.1_SUCCESS"),
        (ec.ECS48, "6.26", "ECS48_6.26_SUCCESS"),
    ]:
        meter.execute(_reference(uc, srv, case, "COMMAND"))
        (written,) = _given(uc, srv, case).values()
        assert isinstance(uc.request, access.Access)
        assert meter.read(uc.request.parts[0].target) == [written], uc.name  # type: ignore[union-attr]
    # 6.2.3 (ECS26l) reads the quarterly calendar ECS30a wrote: four dates
    data, _, _ = meter.execute(
        GbcsMessage.decode(_rtds("6.2.3_ECS26l/ECS26l_6.2.3_SUCCESS_COMMAND"))
    )
    assert [bytes(e.value[1].value)[2] for e in data[0].value] == [1, 4, 7, 10]


def _seconds(when: dt.datetime) -> int:
    return int(when.timestamp()) - 946_684_800


def test_maximum_demand_follows_the_period_and_6_18_2_resets_it(tmp_path) -> None:
    meter = _Meter(tmp_path, demand=3600, at=dt.datetime(2015, 1, 1, 18, tzinfo=dt.UTC))
    imported, in_period, exported = (
        Attribute(4, ec.MAX_DEMAND[n], ec.MD_VALUE) for n in ec.MAX_DEMAND
    )
    # 18:00 is in the default period (17:00-22:00): both import registers take 3600 W
    assert [d.value for d in meter.read(imported, in_period, exported)] == [3600, 3600, 0]
    # 6.18.1 moves the period to 06:00-07:00 (RTDS's entries, other times)
    period = _given(ec.ECS37, "6.18.1", "ECS37_6.18.1_SUCCESS")[ec.SCHEDULE]
    for entry, hour in zip(period.value, (6, 7), strict=True):
        entry.value[4] = Data(_D.OCTET_STRING, bytes([hour, 0, 0, 0]))
    meter.server.execute(
        AccessRequest(
            1, b"", [dlms.RequestSpec(dlms.RequestKind.SET, 10, ec.MD_PERIOD.instance, 2)], [period]
        ),
        Invocation(_reference(ec.ECS37, "6.18.1", "ECS37_6.18.1_SUCCESS", "COMMAND"), lambda b: b),
    )
    # 6.18.2 (SOME_OPTIONALS: the configurable-time register only) resets it at 18:30
    meter.at, meter.demand_w = dt.datetime(2015, 1, 1, 18, 30, tzinfo=dt.UTC), 5000
    _, results, _ = meter.execute(
        _reference(ec.ECS57, "6.18.2", "ECS57_6.18.2_SOME_OPTIONALS_SUCCESS", "COMMAND")
    )
    assert results == [0]
    # outside its period now: it stays 0; the other import register takes the new demand
    assert [d.value for d in meter.read(imported, in_period)] == [5000, 0]
    captured = meter.read(
        Attribute(4, ec.MAX_DEMAND["MaxDemandConfigTimeActivePowerImportValue"], ec.MD_CAPTURED)
    )[0]
    assert dlms.parse_date_time(bytes(captured.value)) == meter.at
    # kept across a restart
    assert [d.value for d in _Meter(tmp_path, demand=0, at=meter.at).read(imported, in_period)] == [
        5000,
        0,
    ]


@pytest.mark.parametrize(
    ("target", "value"),
    [
        (dc.IMPORT_MPAN, Data(_D.OCTET_STRING, b"13123456")),  # not 13 digits
        (dc.IMPORT_MPAN, Data(_D.OCTET_STRING, b"131234567833X")),
        (dc.SUPPLY_TAMPER_STATE, Data(_D.UNSIGNED, 1)),  # not a boolean
        (dc.POWER_THRESHOLDS, Data(_D.ARRAY, [Data(_D.DOUBLE_LONG_UNSIGNED, 1)])),  # one
        (dc.BILLING_CALENDAR, Data(_D.ARRAY, [Data(_D.OCTET_STRING, b"\x00")])),  # not an entry
    ],
)
def test_a_value_of_another_shape_is_refused_type_unmatched(tmp_path, target, value) -> None:
    meter = _Meter(tmp_path)
    before = meter.read(target)
    spec = dlms.RequestSpec(
        dlms.RequestKind.SET, target.class_id, target.instance, target.attribute
    )
    cmd = _reference(ec.ECS81, "6.25", "ECS81_6.25_SUCCESS", "COMMAND")
    _, results = meter.server.execute(
        AccessRequest(1, b"", [spec], [value]), Invocation(cmd, lambda b: b)
    )
    assert [r.result for r in results] == [12]
    assert meter.read(target) == before


def _with(case: str, tag: str, text: str | None = None, replace: str | None = None):
    request = _template(case)
    body = request.body
    if replace is not None:
        old = body.find(f"sr:{replace}", NS)
        assert old is not None
        body.remove(old)
    element = etree.Element(f"{{{NS['sr']}}}{tag}")
    element.text = text
    body.insert(0, element)
    return request


@pytest.mark.parametrize(
    ("uc", "case", "tag", "text", "replace", "code"),
    [
        (ec.ECS34, "ECS34_6.12_SUCCESS", "ExecutionDateTime", "2030-01-01T00:00:00Z", None, "E17"),
        (ec.ECS29A, "ECS29a_6.5_SUCCESS", "ExecutionDateTime", "2030-01-01T00:00:00Z", None, "E17"),
        (
            ec.ECS39A,
            "ECS39a_6.20.1_SINGLE_SUCCESS",
            "ImportMPRN",
            "1234567890",
            "ImportMPANs",
            "E11",
        ),
    ],
)
def test_a_request_the_esme_cannot_take_is_refused(uc, case, tag, text, replace, code) -> None:
    request = _with(case, tag, text, replace)
    fn = transform_for(uc)
    assert fn is not None
    with pytest.raises(TransformRefused) as refused:
        fn(uc, TransformInput(request, 1, request.request_id.originator, ESME))
    assert refused.value.code == code


def test_a_gas_billing_calendar_or_no_register_to_reset_is_refused() -> None:
    gas = parse_document(
        vectors("duis", "templates", "GCS25_6.8_SUCCESS_REQUEST_DUIS.XML").read_bytes()
    )
    fn = transform_for(ec.ECS30A)
    assert fn is not None
    with pytest.raises(TransformRefused, match="ElectricityBillingCalendar"):
        fn(ec.ECS30A, TransformInput(gas, 1, gas.request_id.originator, ESME))
    request = _template("ECS57_6.18.2_SOME_OPTIONALS_SUCCESS")
    for child in list(request.body):
        request.body.remove(child)
    reset = transform_for(ec.ECS57)
    assert reset is not None
    with pytest.raises(TransformRefused, match="names no register"):
        reset(ec.ECS57, TransformInput(request, 1, request.request_id.originator, ESME))


def test_the_reader_names_the_parts_not_done() -> None:
    """RTDS's error answer of ECS29a: the two counters' resets failed."""
    rtds = _reference(ec.ECS29A, "6.5", "ECS29a_6.5_ERROR", "RESPONSE")
    from rig.dccuser.read_esme_config import configuration_written

    out = configuration_written(ec.ECS29A, rtds, None)  # type: ignore[arg-type]
    assert out["result"] == 1
    assert out["failed"] == ["reset 1-0:32.32.0.4", "reset 1-0:32.36.0.4"]


# --- on the running rig ------------------------------------------------------------------------
def _send(env, user: str, srv: str, case: str):
    client = DccUser.from_state(env["state"].root, user)
    esme = Eui64.parse("00-DB-12-34-56-78-90-A0")
    return asyncio.run(client.send(srv, esme, body=_template(case).body, wait=90))


def test_the_rig_sets_mpan_power_thresholds_and_tamper_state(dcc_rig) -> None:
    """6.20.1 and 6.12 (MAC'd) and 6.25 (critical: signed by the supplier) through the DCC:
    acknowledged, then answered by the ESME with every part done."""
    for srv, case in [
        ("6.20.1", "ECS39a_6.20.1_SINGLE_SUCCESS"),
        ("6.12", "ECS34_6.12_SUCCESS"),
        ("6.25", "ECS81_6.25_SUCCESS"),
    ]:
        out = _send(dcc_rig, "supplier-a", srv, case)
        assert out.response_code == "I0", out
        assert out.values["result"] == 0 and out.values["failed"] == [], out
    # 6.18.1 is the network operator's (ED)
    out = _send(dcc_rig, "network-operator", "6.18.1", "ECS37_6.18.1_SUCCESS")
    assert out.response_code == "I0" and out.values["result"] == 0, out
