"""The use cases the rig serves, against RTDS 4.5.0 and DCC's mapping table: declared once,
transformed byte for byte by the DCC, answered byte for byte by the devices' generic
servers, read back by the DCC User, refused when wrong."""

from __future__ import annotations

import datetime as dt
import json

import pytest

import nodes.roles  # noqa: F401 (the roles register their own handlers: GCS59 the GPF's)
from gateway.downlink import SRV_SIGNED_BY
from gateway.transform import TransformInput, served, transform_for
from nodes.gbcs.cosem_server import CosemServer
from nodes.gbcs.handlers import Context, handler_for
from nodes.gbcs.zcl_server import ZclServer
from rig.dccuser.readers import ReadError, read
from rig.pki.keystores import load
from rig.protocol.codec import DecodeError, unhex
from rig.protocol.duis.message import RequestId, parse_request
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import alerts, cosem, gbz, security
from rig.protocol.gbcs import catalogue as cat
from rig.protocol.gbcs.codes import use_case
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import Der, Form, Protection, check_command, command
from rig.protocol.smki import Usage
from rig.reference import srv_table
from tests.conftest import vectors

SUPPLIER = Eui64.parse("90-B3-D5-1F-30-01-00-00")
NETWORK_OPERATOR = Eui64.parse("90-B3-D5-1F-30-02-00-00")
ACB = Eui64.parse("90-B3-D5-1F-30-00-00-02")
ESME = Eui64.parse("00-DB-12-34-56-78-90-A0")
GSME = Eui64.parse("00-DB-12-34-56-78-90-A1")
PPMID = Eui64.parse("00-DB-12-34-56-78-90-A4")  # the one device with a public DS key
JAN_2015 = dt.datetime(2015, 1, 1, tzinfo=dt.UTC)
# critical in DCC's table and signed by the ACB in RTDS, which the rig's ACB does not sign
# yet (8.7.2's CS03A2: it carries no signature; the PPMID does not ask for one)
ACB_SIGNS = {"CS03A2"}


@pytest.fixture(scope="module")
def store():
    return load([vectors("gbcs", "rtds-keystore"), vectors("gbcs", "device-keys")])


def _rtds(name: str) -> bytes:
    folder, _ = name.split("/")
    return unhex(
        (vectors("gbcs", "rtds-4.5.0", folder) / f"{name.split('/')[1]}_GBCS.HEX").read_text()
    )


class Tables:
    """A device model with nothing but its tables, as the handlers see one."""

    def __init__(self) -> None:
        self.cosem: CosemServer | None = CosemServer()
        self.zcl: ZclServer | None = ZclServer()


def _context(store, device: Eui64, tables: Tables, when=JAN_2015) -> Context:
    def peer_ka(eui: Eui64):
        return store.get(eui, Usage.KA).public_key

    return Context(
        tables,
        store.private(device, Usage.DS).private_key if store.private(device, Usage.DS) else None,
        store.private(device, Usage.KA).private_key,
        peer_ka,
        lambda: when,
    )


def _transform(uc, counter: int, device: Eui64) -> GbcsMessage:
    fn = transform_for(uc)
    assert fn is not None, f"{uc.name} has no transform"
    request = parse_request(_request_root(uc, counter, device))
    return fn(uc, TransformInput(request, counter, SUPPLIER, device))


def _request_root(uc, counter: int, device: Eui64):
    from rig.protocol.duis.bodies import request_body
    from rig.protocol.duis.message import Request

    srv = uc.srvs[0]
    rid = RequestId(SUPPLIER, device, counter)
    req = Request(rid, 1, srv.rsplit(".", 1)[0], srv, request_body(srv))
    return req.to_element()


@pytest.mark.parametrize(
    ("use_case", "device", "counter", "rtds"),
    [
        (cat.ECS17B, ESME, 1000, "4.1.1_ECS17b/ECS17b_4.1.1_SINGLE_SUCCESS_COMMAND"),
        (cat.ECS45, ESME, 1000, "7.4_ECS45/ECS45_7.4_SUCCESS_COMMAND"),
        (cat.GCS13A, GSME, 1001, "4.1.1_GCS13a/GCS13a_4.1.1_SUCCESS_UNRELIABLE_COMMAND"),
    ],
)
def test_transformed_commands_are_the_rtds_bytes_with_the_acb_mac(
    store, use_case, device, counter, rtds
) -> None:
    msg = _transform(use_case, counter, device)
    maced = security.apply_mac(
        msg, store.private(ACB, Usage.KA).private_key, store.get(device, Usage.KA).public_key
    )
    assert maced.encode() == _rtds(rtds)
    assert check_command(GbcsMessage.decode(_rtds(rtds)), cat.CATALOGUE) is use_case


@pytest.mark.parametrize(
    ("use_case", "rtds"),
    [
        (cat.ECS42, "7.1_ECS42/ECS42_7.1_SUCCESS_PRECOMMAND"),
        (cat.ECS43, "7.2_ECS43/ECS43_7.2_SUCCESS_PRECOMMAND"),
        (cat.ECS44, "7.3_ECS44/ECS44_7.3_SUCCESS_PRECOMMAND"),
    ],
)
def test_critical_requests_become_the_rtds_pre_commands(use_case, rtds) -> None:
    pre = _transform(use_case, 1000, ESME)
    assert pre.is_pre_command
    assert pre.encode() == _rtds(rtds)


async def test_the_esme_tables_answer_with_the_rtds_bytes_and_read_back(store) -> None:
    tables = Tables()
    assert tables.cosem is not None
    state = {"supply": cosem.SupplyState.ENABLED}
    tables.cosem.attribute(
        cosem.IMPORT_REGISTERS,
        lambda: Data(
            DataType.STRUCTURE,
            [*cosem.value_with_unit(10, cosem.WH), *cosem.value_with_unit(10, cosem.VARH)],
        ),
    )
    tables.cosem.attribute(
        cosem.DISCONNECT_CONTROL_STATE, lambda: Data(DataType.ENUM, int(state["supply"]))
    )
    ctx = _context(store, ESME, tables)
    supplier_ka = store.private(SUPPLIER, Usage.KA)
    device_ka = store.get(ESME, Usage.KA).public_key

    cmd = GbcsMessage.decode(_rtds("4.1.1_ECS17b/ECS17b_4.1.1_SINGLE_SUCCESS_COMMAND"))
    registers = await handler_for(cat.ECS17B)(cat.ECS17B, cmd, ctx)
    assert registers.encode() == _rtds("4.1.1_ECS17b/ECS17b_4.1.1_SINGLE_SUCCESS_RESPONSE")
    out = read(registers, user_ka=supplier_ka.private_key, device_ka=device_ka)
    assert out["active_import_wh"] == 10 and out["reactive_import_varh"] == 10
    assert out["authenticated_by"] == "mac" and out["device_time"].startswith("2015-01-01")

    cmd45 = GbcsMessage.decode(_rtds("7.4_ECS45/ECS45_7.4_SUCCESS_COMMAND"))
    status = await handler_for(cat.ECS45)(cat.ECS45, cmd45, ctx)
    assert status.encode() == _rtds("7.4_ECS45/ECS45_7.4_SUCCESS_RESPONSE")
    assert read(status, user_ka=supplier_ka.private_key, device_ka=device_ka)["supply"] == (
        "enabled"
    )
    # a register value altered in flight fails the MAC
    tampered = bytearray(registers.encode())
    tampered[-20] ^= 1
    with pytest.raises(ReadError, match="MAC"):
        read(
            GbcsMessage.decode(bytes(tampered)),
            user_ka=supplier_ka.private_key,
            device_ka=device_ka,
        )


async def test_an_object_the_device_lacks_is_answered_object_undefined(store) -> None:
    ctx = _context(store, ESME, Tables())
    cmd45 = GbcsMessage.decode(_rtds("7.4_ECS45/ECS45_7.4_SUCCESS_COMMAND"))
    status = await handler_for(cat.ECS45)(cat.ECS45, cmd45, ctx)
    out = read(
        status,
        user_ka=store.private(SUPPLIER, Usage.KA).private_key,
        device_ka=store.get(ESME, Usage.KA).public_key,
    )
    assert out["result"] == 4 and out["supply"] is None  # object-undefined, as DLMS answers
    with pytest.raises(ReadError, match="cannot be read"):
        read(
            await handler_for(cat.ECS17B)(
                cat.ECS17B,
                GbcsMessage.decode(_rtds("4.1.1_ECS17b/ECS17b_4.1.1_SINGLE_SUCCESS_COMMAND")),
                ctx,
            ),
            user_ka=store.private(SUPPLIER, Usage.KA).private_key,
            device_ka=store.get(ESME, Usage.KA).public_key,
        )


async def test_gas_registers_round_trip_encrypted(store) -> None:
    # GSME private keys are not public: the PPMID's stand in for the device side
    tables = Tables()
    assert tables.zcl is not None
    values = {
        "current_summation_delivered": 4_321_987,
        "unit_of_measure": 1,
        "multiplier": 1,
        "divisor": 1000,
    }
    for attribute in cat.GAS_REGISTERS:
        tables.zcl.attribute(gbz.METERING, attribute, lambda n=attribute.name: values[n])
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    ctx = _context(store, PPMID, tables, when)
    cmd = command(cat.GCS13A, 77, SUPPLIER.raw, PPMID.raw)
    resp = await handler_for(cat.GCS13A)(cat.GCS13A, cmd, ctx)
    assert b"\x42\xf2\x41" not in resp.encode()  # 4321987 little-endian: encrypted on the wire
    sup_ka = store.private(SUPPLIER, Usage.KA)
    dev_ka = store.get(PPMID, Usage.KA).public_key
    out = read(resp, user_ka=sup_ka.private_key, device_ka=dev_ka)
    assert out["volume_m3"] == 4321.987 and out["unit_of_measure"] == 1
    assert out["device_time"] == when.isoformat()


async def test_signed_action_response_and_alert_verify_with_the_device_ds_key(store) -> None:
    ds = store.private(PPMID, Usage.DS)
    tables = Tables()
    assert tables.cosem is not None
    ran: list[int] = []
    tables.cosem.method(cosem.DISCONNECT_SCRIPTS, lambda arg, _inv: ran.append(arg.value))
    pre = command(cat.ECS43, 5, SUPPLIER.raw, PPMID.raw)
    resp = await handler_for(cat.ECS43)(cat.ECS43, pre, _context(store, PPMID, tables))
    assert ran == [cosem.DisconnectScript.DISABLE]
    assert read(resp, device_ds=ds.public_key)["result"] == 0
    start = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    end = start + dt.timedelta(minutes=7)
    alert = alerts.dlms_alert(
        cat.ECS80,
        9,
        PPMID.raw,
        NETWORK_OPERATOR.raw,
        alerts.outage_fields(start, end),
        ds.private_key,
        store.private(PPMID, Usage.KA).private_key,
    )
    assert alerts.alert_code(alert) == cat.ECS80.alert_code == 0x8F36
    out = read(alert, device_ds=ds.public_key)
    assert out["kind"] == "alert" and out["alert_code"] == "8F36"
    assert out["outage_start"].startswith("2026-01-01T12:00") and out["outage_end"].startswith(
        "2026-01-01T12:07"
    )
    wrong = store.get(ESME, Usage.KA).public_key  # any other key
    with pytest.raises(ReadError, match="signature"):
        read(alert, device_ds=wrong)


def test_a_command_with_an_unexpected_payload_is_refused() -> None:
    msg = command(cat.ECS45, 3, SUPPLIER.raw, ESME.raw)
    odd = GbcsMessage.build(
        msg.cra, 3, SUPPLIER.raw, ESME.raw, msg.message_code, msg.payload[:-1] + b"\x01"
    )
    with pytest.raises(DecodeError, match="not the one GBCS defines"):
        check_command(odd, cat.CATALOGUE)
    # a message code GBCS does not define
    other = GbcsMessage.build(msg.cra, 3, SUPPLIER.raw, ESME.raw, 0x0FFF, msg.payload)
    with pytest.raises(DecodeError, match="not served"):
        check_command(other, cat.CATALOGUE)


def test_the_catalogue_says_what_dccs_mapping_table_and_srv_matrix_say() -> None:
    table = json.loads(vectors("metadata", "gbcs-mapping-table.json").read_text())
    by_code = {row["Code"]: row for row in table}
    matrix = srv_table()
    for uc in cat.CATALOGUE.all:
        assert use_case(uc.message_code).use_case == uc.name, uc.name
        if uc.name in ("GCA", "GNCA"):  # GBCS's generic alerts: not in DCC's use-case table
            assert uc.is_alert and (uc.response is Protection.SIGNATURE) == (uc.name == "GCA")
            assert all((c >> 8 == 0x8F) == (uc.name == "GCA") for c in uc.alert_codes)
            continue
        if uc.name in ("DLMS-FDA", "GBZ-FDA"):  # GBCS's future-dated execution alerts: none
            assert uc.is_alert and uc.response is Protection.SIGNATURE  # in DCC's table either
            assert set(uc.alert_codes) == {0x8F66, 0x8F67}
            continue
        if not uc.in_dcc_table:  # RTDS's, no longer in the table
            assert uc.name not in by_code, uc.name
            assert all(matrix[srv].critical == uc.critical for srv in uc.srvs), uc.name
            continue
        # DCC's table has one row for CS02b's variants (CS02bSupplierByTransCoS...)
        # and one row, ECS25a, for ECS25a1, a2, a3 (their titles name them)
        row = by_code.get(uc.name) or by_code.get(uc.name[:6]) or by_code[uc.name[:5]]
        # CS01a: "SME.C.NC but with additional cryptographic processing specified in GBCS
        # Sections 14.3.4 and 14.3.5" (the UTRN's own authentication)
        kind = row["Message Type"].split(" but with additional cryptographic")[0]
        if kind in ("See GBCS", "Variant Command & Response"):  # the credential use cases:
            pass  # GBCS 13 says per variant who signs (checked against RTDS in their tests)
        elif uc.is_alert:  # a critical alert is signed by the device
            assert kind == ("SME.A.C" if uc.response is Protection.SIGNATURE else "SME.A.NC")
        elif uc.sent_by is not None:  # a HAN-only command: PCS01, PCS02 from the PPMID
            assert kind == f"SME.C.{uc.sent_by}-{uc.device_type}", (uc.name, kind)
            assert row["Remote Party or HAN Message"] == "HAN Only Message" and not uc.srvs
        else:  # a critical command is signed: by the DCC User, or by the DCC party that
            # originates it for the User (CS02b by TransCoS)
            signed = uc.critical or uc.signed_by is not None or uc.name in ACB_SIGNS
            assert kind == ("SME.C.C" if signed else "SME.C.NC"), (uc.name, kind)
        # one use case may serve several (ECS70: "6.11, 8.1"), or the table names none
        # ("See GBCS": GCS28, CS06)
        references = [r.strip() for r in row["Service Reference"].split(",")]
        for srv in uc.srvs:
            # the table names the SRV (6.14 for 6.14.1) or its variant (6.14.3: ECS46d); the
            # matrix's reference of 6.20.x is "6.2", the table's "6.20" (its variant's stem)
            named = {matrix[srv].service_reference, srv, srv.rsplit(".", 1)[0]}
            assert references == ["See GBCS"] or named & set(references), (
                uc.name,
                srv,
            )
            # a DCC party signing it for the User (6.21: the ACB) makes the SRV non-critical
            critical = uc.critical and srv not in SRV_SIGNED_BY
            assert matrix[srv].critical == critical, (uc.name, srv)
        if uc.critical:
            assert uc.response is Protection.SIGNATURE, uc.name
        if uc.form is Form.ASN1:  # GBCS writes these in ASN.1: a DER request
            assert uc.is_alert or isinstance(uc.request, Der), uc.name
            continue
        gbz_device = uc.device_type in ("GSME", "GPF")  # the GPF answers in GBZ too
        assert uc.form is (Form.GBZ if gbz_device else Form.DLMS), uc.name


def test_every_declared_command_is_served_end_to_end() -> None:
    for uc in cat.CATALOGUE.all:
        if uc.is_alert:
            continue
        assert handler_for(uc) is not None, f"{uc.name}: no handler in nodes.gbcs"
        if uc.sent_by is not None:  # HAN only: the PPMID builds it (tests/test_gas_prepayment)
            continue
        assert transform_for(uc) is not None, f"{uc.name}: no transform in gateway.transform"
        for srv in uc.srvs:
            assert served(cat.CATALOGUE, srv, uc.device_type) is uc
    assert served(cat.CATALOGUE, "4.1.1", "IHD") is None
    assert served(cat.CATALOGUE, "1.1.1", "CHF") is None  # the hub keeps no tariff
