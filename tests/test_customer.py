"""The customer-facing services (DUIS family 3: 3.1-3.5) on the ESME and the GSME against RTDS
4.5.0: each of DCC's templates through its transform is RTDS's command byte for byte, the
ACB's MAC included (a GSME command's issuer event id is the transform's ZigBee time, set to
RTDS's 2015-01-01); the ESME (in process, with RTDS's keys) answers RTDS's commands with
RTDS's responses byte for byte, the GSME (its keys are not public) with RTDS's GBZ
components; what they write is what the meter shows and reads back, kept across a restart;
3.3 empties the event log 6.13 reads; bad input is refused and says why. On the running rig
(tests/rigs/dcc.yaml): 3.1 and 3.3 to the ESME, 3.4 to the GSME through the DCC.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import component_detail, vectors, wait_for
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree

from gateway.transform import TransformInput, transform_for
from gateway.transform import customer as transform
from gateway.transform.registry import TransformRefused
from nodes.gbcs.cosem_server import CosemError, CosemServer, Result
from nodes.gbcs.handlers import Context, handler_for
from nodes.gbcs.zcl_server import ZclServer
from nodes.roles.customer import Customer, serve_customer
from nodes.roles.event_logs import serve_event_logs
from rig.dccuser.client import DccUser
from rig.dccuser.readers import read
from rig.protocol.duis import codes
from rig.protocol.duis.message import parse_document
from rig.protocol.duis.xml import SR
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import catalogue_customer as cc
from rig.protocol.gbcs import dlms, gbz, security
from rig.protocol.gbcs.catalogue import CATALOGUE
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, ZclBatch, check_command, command
from rig.protocol.smki import Usage
from rig.protocol.zigbee import zcl
from tests.test_usecases import ACB, ESME, GSME, JAN_2015, SUPPLIER, _context, _rtds

# (use case, SRV, device): every success case of the family
CASES = [
    (cc.ECS10, "3.1", ESME),
    (cc.ECS12, "3.2", ESME),
    (cc.ECS15A, "3.3", ESME),
    (cc.ECS15C, "3.3", ESME),
    (cc.ECS16, "3.4", ESME),
    (cc.ECS14, "3.5", ESME),
    (cc.GCS07, "3.1", GSME),
    (cc.CS11, "3.3", GSME),
    (cc.GCS44, "3.4", GSME),
    (cc.GCS11, "3.5", GSME),
]
IDS = [uc.name for uc, _, _ in CASES]
ESME_CASES = [case for case in CASES if case[2] == ESME]
GSME_CASES = [case for case in CASES if case[2] == GSME]
# RTDS's GSME KA key is not public: the GSME answers with one of its own, so its answers'
# GBZ components are compared with RTDS's (the MAC cannot be)
GSME_KA = ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def store():
    from rig.pki.keystores import load

    return load([vectors("gbcs", "rtds-keystore"), vectors("gbcs", "device-keys")])


@pytest.fixture(autouse=True)
def rtds_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transform, "now", lambda: JAN_2015)


def _template(uc: UseCase, srv: str):
    path = vectors("duis", "templates", f"{uc.name}_{srv}_SUCCESS_REQUEST_DUIS.XML")
    return parse_document(path.read_bytes())


def _reference(uc: UseCase, srv: str, kind: str = "SUCCESS_COMMAND") -> GbcsMessage:
    return GbcsMessage.decode(_rtds(f"{srv}_{uc.name}/{uc.name}_{srv}_{kind}"))


def _transform(uc: UseCase, srv: str, device: Eui64, request=None) -> GbcsMessage:
    """The DCC's command for the template of ``uc``: the SRV's primary use case's transform,
    which picks ``uc`` from the body."""
    request = request if request is not None else _template(uc, srv)
    primary = CATALOGUE.for_srv(srv, "ESME" if device == ESME else "GSME")
    assert primary is not None, f"{srv} is not served"
    fn = transform_for(primary)
    assert fn is not None
    counter = _reference(uc, srv).header.counter
    return fn(primary, TransformInput(request, counter, SUPPLIER, device))


# --- the DCC's transforms, byte for byte --------------------------------------------------------
@pytest.mark.parametrize(("uc", "srv", "device"), CASES, ids=IDS)
def test_dccs_template_becomes_rtds_command_mac_included(store, uc, srv, device) -> None:
    ours = _transform(uc, srv, device)
    assert ours.message_code == uc.message_code
    acb_ka = store.private(ACB, Usage.KA).private_key
    maced = security.apply_mac(ours, acb_ka, store.get(device, Usage.KA).public_key)
    rtds = _reference(uc, srv)
    assert maced.encode() == rtds.encode()
    assert check_command(rtds, CATALOGUE) is uc


def test_the_catalogue_maps_each_srv_as_dccs_table_does() -> None:
    for srv, esme, gsme in (
        ("3.1", cc.ECS10, cc.GCS07),
        ("3.3", cc.ECS15A, cc.CS11),
        ("3.4", cc.ECS16, cc.GCS44),
        ("3.5", cc.ECS14, cc.GCS11),
    ):
        assert CATALOGUE.for_srv(srv, "ESME") is esme and CATALOGUE.for_srv(srv, "GSME") is gsme
    assert CATALOGUE.for_srv("3.2", "ESME") is cc.ECS12
    assert CATALOGUE.for_srv("3.2", "GPF") is cc.GCS09  # the GPF's (tests/test_gpf_services.py)


def _with(uc: UseCase, srv: str, tag: str, value: str | None, parent: str | None = None):
    """The template with ``tag`` set to ``value`` (None: removed), or added under ``parent``."""
    request = _template(uc, srv)
    if parent is not None:
        body = request.body  # the service's element (DisplayMessage, ClearEventLog...)
        found = body if etree.QName(body).localname == parent else body.find(f".//{{{SR}}}{parent}")
        assert found is not None
        etree.SubElement(found, f"{{{SR}}}{tag}").text = value
        return request
    element = request.body.find(f".//{{{SR}}}{tag}")
    assert element is not None
    if value is None:
        element.getparent().remove(element)
    else:
        element.text = value
    return request


def test_a_request_the_meters_cannot_take_is_refused_with_the_reason() -> None:
    future = "2030-01-01T00:00:00Z"
    for uc, srv, request, device, code, reason in (
        (
            cc.ECS15A,
            "3.3",
            _with(cc.ECS15A, "3.3", "ESMEEventLogType", "OTHER"),
            ESME,
            "E11",
            "ALCS",
        ),
        (cc.ECS15A, "3.3", _with(cc.ECS15A, "3.3", "ESMEEventLogType", None), ESME, "E11", "ALCS"),
        (
            cc.CS11,
            "3.3",
            _with(cc.CS11, "3.3", "ESMEEventLogType", "ESME", "ClearEventLog"),
            GSME,
            "E11",
            "for an ESME",
        ),
        (
            cc.ECS12,
            "3.2",
            _with(cc.ECS12, "3.2", "RestrictionDateTime", "soon"),
            ESME,
            "E100",
            "date",
        ),
        (
            cc.ECS10,
            "3.1",
            _with(cc.ECS10, "3.1", "SupplierMessage", "x" * 255),
            ESME,
            "E100",
            "254",
        ),
        (
            cc.GCS07,
            "3.1",
            _with(cc.GCS07, "3.1", "ExecutionDateTime", future, "DisplayMessage"),
            GSME,
            codes.NOT_SERVED,
            "future-dated",
        ),
    ):
        with pytest.raises(TransformRefused, match=reason) as refused:
            _transform(uc, srv, device, request)
        assert refused.value.code == code, uc.name


# --- the ESME -------------------------------------------------------------------------------
def _esme(path: Path) -> SimpleNamespace:
    config = SimpleNamespace(state_dir=path, eui=ESME)
    meter = SimpleNamespace(config=config, cosem=CosemServer(), zcl=None, alert_gate=None)
    serve_event_logs(meter)
    serve_customer(meter)
    return meter


def _esme_answer(store, meter, uc: UseCase, cmd: GbcsMessage) -> GbcsMessage:
    ctx = _context(store, ESME, SimpleNamespace(cosem=meter.cosem, zcl=None), JAN_2015)
    return asyncio.run(handler_for(uc)(uc, cmd, ctx))


def _read(store, msg: GbcsMessage, device_ka=None) -> dict[str, Any]:
    return read(
        msg,
        user_ka=store.private(SUPPLIER, Usage.KA).private_key,
        device_ka=device_ka or store.get(ESME, Usage.KA).public_key,
    )


@pytest.mark.parametrize(("uc", "srv", "device"), ESME_CASES, ids=[c[0].name for c in ESME_CASES])
def test_the_esme_answers_rtds_command_with_rtds_response(store, tmp_path, uc, srv, device):
    meter = _esme(tmp_path)
    answer = _esme_answer(store, meter, uc, _reference(uc, srv))
    assert answer.encode() == _reference(uc, srv, "SUCCESS_RESPONSE").encode()
    out = _read(store, answer)
    assert out["result"] == 0 and out["authenticated_by"] == "mac"


def test_what_the_esme_is_told_it_shows_reads_back_and_keeps(store, tmp_path) -> None:
    meter = _esme(tmp_path)
    for uc, srv in ((cc.ECS10, "3.1"), (cc.ECS12, "3.2"), (cc.ECS16, "3.4"), (cc.ECS14, "3.5")):
        assert _read(store, _esme_answer(store, meter, uc, _reference(uc, srv)))["result"] == 0
    shown = meter.customer.detail()
    assert shown["message"] == "Reset"  # RTDS's SupplierMessage
    assert shown["consumer_history_from"] == "2014-03-27T15:45:32+00:00"
    assert (shown["supplier_name"], shown["supplier_telephone"]) == ("E-ON", "0333 202 4650")
    assert shown["privacy_pin_protection"] is False
    # the supplier name, telephone, message and date read back by GET; the PIN is not read
    server = meter.cosem
    assert server.get(cc.SUPPLIER_NAME).value == b"E-ON"
    assert server.get(cc.SUPPLIER_TELEPHONE).value == b"0333 202 4650"
    assert server.get(cc.SUPPLIER_MESSAGE).value == b"Reset"
    assert dlms.parse_date_time(server.get(cc.CHANGE_OF_TENANCY).value) == dt.datetime(
        2014, 3, 27, 15, 45, 32, tzinfo=dt.UTC
    )
    with pytest.raises(CosemError) as denied:
        server.get(cc.PRIVACY_PIN)
    assert denied.value.result is Result.READ_WRITE_DENIED
    # the consumer sees nothing from before the change of tenancy
    assert not meter.customer.consumer_may_see(dt.datetime(2014, 3, 1, tzinfo=dt.UTC))
    assert meter.customer.consumer_may_see(dt.datetime(2014, 4, 1, tzinfo=dt.UTC))
    # a restarted meter (the same state folder) shows and reads back the same
    again = _esme(tmp_path)
    assert again.customer.detail() == {**shown, "message_at": shown["message_at"]}
    assert again.cosem.get(cc.SUPPLIER_NAME).value == b"E-ON"


def test_3_3_empties_the_event_logs_6_13_reads_and_keeps_the_security_log(store, tmp_path):
    meter = _esme(tmp_path)
    logs = meter.alert_gate.__self__
    logs.record(0x8F35)  # supply outage restored: the power event log
    for code in (0x810E, 0x810D):  # to the event log
        logs.record(code)
    logs.logs["Security"] = [(473_200_000, 0x8F3D)]
    logs.logs["ALCSEvent"] = [(473_200_000, 0x8F3D)]
    out = _read(store, _esme_answer(store, meter, cc.ECS15A, _reference(cc.ECS15A, "3.3")))
    assert out["result"] == 0
    assert logs.logs["Event"] == [] and logs.logs["Security"] == [(473_200_000, 0x8F3D)]
    assert logs.logs["ALCSEvent"]  # ECS15a clears the event log alone
    _esme_answer(store, meter, cc.ECS15C, _reference(cc.ECS15C, "3.3"))
    assert logs.logs["ALCSEvent"] == [] and logs.logs["Security"]
    # 6.13 (ECS35a) reads the event log empty, and a restart keeps it so
    saved = json.loads((tmp_path / "event_logs.json").read_text())
    assert saved["Event"] == [] and saved["Security"] == [[473_200_000, 0x8F3D]]
    assert set(meter.customer.detail()["event_log_cleared"]) == {"Event", "ALCSEvent"}


def _set(store, meter, uc: UseCase, values: dict[str, Data]) -> dict[str, Any]:
    cmd = command(uc, 7, SUPPLIER.raw, ESME.raw, values)
    return _read(store, _esme_answer(store, meter, uc, cmd))


def test_the_esme_refuses_a_pin_a_date_or_a_type_it_cannot_take(store, tmp_path) -> None:
    meter = _esme(tmp_path)
    octets = DataType.OCTET_STRING
    pin = _set(store, meter, cc.ECS14, {"pin": Data(octets, b"1234")})
    assert pin["result"] == Result.OTHER_REASON
    date = _set(store, meter, cc.ECS12, {"date": Data(octets, b"\x00" * 12)})
    assert date["result"] == Result.TYPE_UNMATCHED
    detail = meter.customer.detail()
    assert detail["privacy_pin_protection"] is True and detail["consumer_history_from"] is None
    raw = dlms.AccessRequest(
        0x2000_0007,
        b"",
        [dlms.RequestSpec(dlms.RequestKind.SET, 1, cc.SUPPLIER_MESSAGE.instance, 2)],
        [Data(DataType.LONG_UNSIGNED, 5)],
    ).encode()
    wrong = GbcsMessage.build(
        _reference(cc.ECS10, "3.1").cra, 8, SUPPLIER.raw, ESME.raw, cc.ECS10.message_code, raw
    )
    assert _read(store, _esme_answer(store, meter, cc.ECS10, wrong))["result"] == (
        Result.TYPE_UNMATCHED
    )
    assert meter.customer.detail()["message"] is None


def test_the_esme_gives_a_han_device_the_message_as_a_display_message(tmp_path) -> None:
    meter = _esme(tmp_path)
    customer: Customer = meter.customer
    asked = SimpleNamespace(tsn=9)
    none = zcl.decode(cc.MESSAGING, asyncio.run(customer._last_message(None, asked)))  # type: ignore[arg-type]
    assert none.name == "Default_Response" and int(none.args.status) == 0x8B  # NOT_FOUND
    customer.show(b"Your meter will be exchanged on Monday")
    frame = zcl.decode(cc.MESSAGING, asyncio.run(customer._last_message(None, asked)))  # type: ignore[arg-type]
    assert frame.name == "display_message" and frame.tsn == 9
    assert frame.args.message == "Your meter will be exchanged on Monday"
    assert frame.args.duration_in_minutes == cc.UNTIL_CHANGED


# --- the GSME -------------------------------------------------------------------------------
def _gsme(path: Path) -> SimpleNamespace:
    config = SimpleNamespace(state_dir=path, eui=GSME)
    meter = SimpleNamespace(config=config, cosem=None, zcl=ZclServer(), alert_gate=None)
    serve_event_logs(meter)
    serve_customer(meter)
    return meter


def _gas_answer(store, meter, uc: UseCase, cmd: GbcsMessage) -> GbcsMessage:
    ctx = Context(
        SimpleNamespace(cosem=None, zcl=meter.zcl),
        GSME_KA,
        GSME_KA,
        lambda eui: store.get(eui, Usage.KA).public_key,
        lambda: JAN_2015,
    )
    return asyncio.run(handler_for(uc)(uc, cmd, ctx))


def _components(msg: GbcsMessage) -> list[bytes]:
    return [c.encode() for c in gbz.decode(msg.payload).components]


@pytest.mark.parametrize(("uc", "srv", "device"), GSME_CASES, ids=[c[0].name for c in GSME_CASES])
def test_the_gsme_answers_rtds_command_with_rtds_components(store, tmp_path, uc, srv, device):
    meter = _gsme(tmp_path)
    meter.alert_gate.__self__.record(0x810E)  # something in the general log for CS11
    answer = _gas_answer(store, meter, uc, _reference(uc, srv))
    rtds = _reference(uc, srv, "SUCCESS_RESPONSE")
    assert answer.header == rtds.header and _components(answer) == _components(rtds)
    assert _read(store, answer, GSME_KA.public_key())["result"] == 0


def test_what_the_gsme_is_told_it_shows_reads_back_and_keeps(store, tmp_path) -> None:
    meter = _gsme(tmp_path)
    logs = meter.alert_gate.__self__
    logs.record(0x810E)
    logs.logs["Security"] = [(473_200_000, 0x8F3D)]
    for uc, srv in ((cc.GCS07, "3.1"), (cc.GCS44, "3.4"), (cc.GCS11, "3.5"), (cc.CS11, "3.3")):
        out = _read(store, _gas_answer(store, meter, uc, _reference(uc, srv)), GSME_KA.public_key())
        assert out["result"] == 0, uc.name
    assert out["cleared"] == ["Event"]
    shown = meter.customer.detail()
    assert (shown["message"], shown["supplier_name"]) == ("Reset", "E-ON")
    assert (shown["supplier_telephone"], shown["privacy_pin_protection"]) == (
        "0333 202 4650",
        False,
    )
    assert logs.logs["Event"] == [] and logs.logs["Security"]
    # Device Management's ProviderName and ProviderContactDetails read back what GCS44 set
    records = meter.zcl.read(
        cc.DEVICE_MANAGEMENT, [cc.PROVIDER_NAME.ident, cc.PROVIDER_CONTACT.ident]
    )
    assert b"\x04E-ON" in records and b"\x0d0333 202 4650" in records
    again = _gsme(tmp_path)  # a restart keeps it
    assert again.customer.detail() == shown


def _gas_command(uc: UseCase, payload: bytes) -> GbcsMessage:
    argument = (b"\x00" + payload,) if isinstance(uc.request, ZclBatch) else None
    return command(uc, 9, SUPPLIER.raw, GSME.raw, argument)


def test_the_gsme_refuses_what_it_cannot_take_and_keeps_its_security_log(store, tmp_path):
    meter = _gsme(tmp_path)
    logs = meter.alert_gate.__self__
    logs.logs["Security"] = [(473_200_000, 0x8F3D)]
    gsme_ka = GSME_KA.public_key()
    for uc, payload, status in (
        (cc.GCS11, cc.NewPassword(1, b"1234").encode(), gbz.ZCL_INVALID_FIELD),
        (cc.GCS11, cc.NewPassword(1, password_type=1).encode(), gbz.ZCL_INVALID_FIELD),
        (cc.GCS44, cc.SupplierChange(1, b"X", b"1", implementation_time=5).encode(), 0x85),
        (cc.GCS07, b"\x01\x02", gbz.ZCL_MALFORMED_COMMAND),
    ):
        out = _read(store, _gas_answer(store, meter, uc, _gas_command(uc, payload)), gsme_ka)
        assert out["results"] == [status], uc.name
    assert meter.customer.detail()["privacy_pin_protection"] is True
    assert meter.customer.detail()["supplier_name"] is None
    # CS11 for the security log: nothing cleared (RTDS's error response's 0x00)
    rtds = _reference(cc.CS11, "3.3")
    asks = gbz.ZclHeader(gbz.ZCL_CLUSTER_SPECIFIC, 0, cc.CLEAR_EVENT_LOG_REQUEST)
    payload = gbz.GbzPayload(1, [gbz.Component(gbz.CONTROL_LAST, cc.EVENTS, asks, b"\x04")])
    security_log = GbcsMessage.build(
        rtds.cra, 10, SUPPLIER.raw, GSME.raw, cc.CS11.message_code, payload.encode()
    )
    answer = _gas_answer(store, meter, cc.CS11, security_log)
    nothing = _reference(cc.CS11, "3.3", "ERROR_RESPONSE")
    assert _components(answer) == _components(nothing)
    out = _read(store, answer, gsme_ka)
    assert (out["result"], out["cleared"]) == (gbz.ZCL_FAILURE, [])
    assert logs.logs["Security"] == [(473_200_000, 0x8F3D)]


# --- on the running rig ---------------------------------------------------------------------
def _detail(env: dict, name: str, part: str = "customer") -> dict[str, Any]:
    """What node ``name``'s status detail shows of ``part`` (a meter's customer, a
    display's display)."""
    return component_detail(env["dir"], name).get(part) or {}


def _send(env: dict, user: str, node: str, srv: str, body: etree._Element) -> dict[str, Any]:
    device = next(n.eui for n in env["rig"].nodes if n.name == node)
    client = DccUser.from_state(env["dir"], user)
    out = asyncio.run(client.send(srv, device, body=body, wait=150))
    assert (out.acknowledgement, out.response_code) == ("I99", "I0"), out
    return dict(out.values)


def test_the_rig_shows_the_message_clears_the_log_and_keeps_the_gas_supplier(dcc_rig) -> None:
    """3.1 to the ESME: shown in its node's status and on the PPMID's display; 3.3 (ECS15a)
    then 6.13 reads the event log empty; 3.4 to the GSME (from the gas supplier, on its next
    wake): its status shows the supplier's name and telephone."""
    env = dcc_rig
    message = _template(cc.ECS10, "3.1").body
    text = f"Rig test {dt.datetime.now(dt.UTC):%H:%M:%S}"
    found = message.find(f".//{{{SR}}}SupplierMessage")
    assert found is not None
    found.text = text
    shown = _send(env, "supplier-a", "esme", "3.1", message)
    assert (shown["use_case"], shown["result"]) == ("ECS10", 0), shown
    assert wait_for(lambda: _detail(env, "esme").get("message") == text, timeout=30)
    # the displays read it over the HAN (Messaging): the PPMID (the rig's IHD is not installed)
    shows = wait_for(
        lambda: _detail(env, "ppmid", "display").get("supplier_message") == text, timeout=60
    )
    assert shows, _detail(env, "ppmid", "display")
    cleared = _send(env, "supplier-a", "esme", "3.3", _template(cc.ECS15A, "3.3").body)
    assert (cleared["use_case"], cleared["result"]) == ("ECS15a", 0), cleared
    log = parse_document(
        vectors("duis", "templates", "ECS35a_6.13_SUCCESS_REQUEST_DUIS.XML").read_bytes()
    ).body
    log.find(f".//{{{SR}}}StartDateTime").text = "2000-01-01T00:00:00Z"
    log.find(f".//{{{SR}}}EndDateTime").text = "2099-01-01T00:00:00Z"
    log.find(f"{{{SR}}}LogToRead").text = "Event"
    events = _send(env, "supplier-a", "esme", "6.13", log)
    assert (events["result"], events["log"]) == (0, "Event"), events
    at = _detail(env, "esme").get("event_log_cleared", {}).get("Event")
    assert at is not None
    since = dt.datetime.fromisoformat(at).timestamp()
    # whatever the ESME logged since it was cleared (an alert of another test), nothing before
    assert all(
        dt.datetime.fromisoformat(e["at"]).timestamp() >= since - 1 for e in events["events"]
    )
    supplier = _send(env, "supplier-b", "gsme", "3.4", _template(cc.GCS44, "3.4").body)
    assert (supplier["use_case"], supplier["result"]) == ("GCS44", 0), supplier
    gas = _detail(env, "gsme")
    assert (gas.get("supplier_name"), gas.get("supplier_telephone")) == ("E-ON", "0333 202 4650")


# --- 9.1 to an ESME (ECS50): the ACB sends the CIN it made up ----------------------------------
def test_9_1_to_an_esme_is_rtds_ecs50_and_the_esme_shows_the_cin(
    store, tmp_path, monkeypatch
) -> None:
    from gateway.transform import cin
    from rig.protocol.gbcs.usecase import for_unknown_remote_party

    monkeypatch.setattr(cin, "new_cin", lambda: "1234")  # RTDS's CIN
    rtds = _reference(cc.ECS50, "9.1")
    request = _template(cc.ECS50, "9.1")
    fn = transform_for(cc.ECS50)
    assert fn is not None and CATALOGUE.for_srv("9.1", "ESME") is cc.ECS50
    other = rtds.header.other
    ours = fn(cc.ECS50, TransformInput(request, rtds.header.counter, SUPPLIER, ESME))
    ours = for_unknown_remote_party(
        ours, ACB.raw, rtds.header.counter, other.remote_party_counter, None
    )
    acb_ka = store.private(ACB, Usage.KA).private_key
    maced = security.apply_mac(ours, acb_ka, store.get(ESME, Usage.KA).public_key)
    assert maced.encode() == rtds.encode()
    meter = _esme(tmp_path)
    answer = _esme_answer(store, meter, cc.ECS50, rtds)
    assert answer.message_code == cc.ECS50.message_code
    assert meter.customer.detail()["cin"] == "1234"
    assert _esme(tmp_path).customer.detail()["cin"] == "1234"  # kept across a restart
