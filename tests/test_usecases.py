"""The use cases the rig serves, against RTDS 4.5.0: built byte for byte, read back,
refused when wrong."""

from __future__ import annotations

import datetime as dt

import pytest

from rig.pki.keystores import load
from rig.protocol.codec import DecodeError, unhex
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import security
from rig.protocol.gbcs import usecases as uc
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.smki import Usage
from tests.conftest import vectors

SUPPLIER = Eui64.parse("90-B3-D5-1F-30-01-00-00")
NETWORK_OPERATOR = Eui64.parse("90-B3-D5-1F-30-02-00-00")
ACB = Eui64.parse("90-B3-D5-1F-30-00-00-02")
ESME = Eui64.parse("00-DB-12-34-56-78-90-A0")
GSME = Eui64.parse("00-DB-12-34-56-78-90-A1")
PPMID = Eui64.parse("00-DB-12-34-56-78-90-A4")  # the one device with a public DS key


@pytest.fixture(scope="module")
def store():
    return load([vectors("gbcs", "rtds-keystore"), vectors("gbcs", "device-keys")])


def _rtds(name: str) -> bytes:
    folder, _ = name.split("/")
    return unhex(
        (vectors("gbcs", "rtds-4.5.0", folder) / f"{name.split('/')[1]}_GBCS.HEX").read_text()
    )


@pytest.mark.parametrize(
    ("use_case", "device", "counter", "rtds"),
    [
        (uc.ECS17B, ESME, 1000, "4.1.1_ECS17b/ECS17b_4.1.1_SINGLE_SUCCESS_COMMAND"),
        (uc.ECS45, ESME, 1000, "7.4_ECS45/ECS45_7.4_SUCCESS_COMMAND"),
        (uc.GCS13A, GSME, 1001, "4.1.1_GCS13a/GCS13a_4.1.1_SUCCESS_UNRELIABLE_COMMAND"),
    ],
)
def test_transformed_commands_are_the_rtds_bytes_with_the_acb_mac(
    store, use_case, device, counter, rtds
) -> None:
    msg = uc.command(use_case, counter, SUPPLIER.raw, device.raw)
    maced = security.apply_mac(
        msg, store.private(ACB, Usage.KA).private_key, store.get(device, Usage.KA).public_key
    )
    assert maced.encode() == _rtds(rtds)
    assert uc.check_command(GbcsMessage.decode(_rtds(rtds))) is use_case


@pytest.mark.parametrize(
    ("use_case", "rtds"),
    [
        (uc.ECS42, "7.1_ECS42/ECS42_7.1_SUCCESS_PRECOMMAND"),
        (uc.ECS43, "7.2_ECS43/ECS43_7.2_SUCCESS_PRECOMMAND"),
        (uc.ECS44, "7.3_ECS44/ECS44_7.3_SUCCESS_PRECOMMAND"),
    ],
)
def test_critical_requests_become_the_rtds_pre_commands(use_case, rtds) -> None:
    pre = uc.command(use_case, 1000, SUPPLIER.raw, ESME.raw)
    assert pre.is_pre_command
    assert pre.encode() == _rtds(rtds)


def test_device_responses_are_the_rtds_bytes_and_read_back(store) -> None:
    esme_ka = store.private(ESME, Usage.KA).private_key
    supplier_ka = store.private(SUPPLIER, Usage.KA)
    cmd = GbcsMessage.decode(_rtds("4.1.1_ECS17b/ECS17b_4.1.1_SINGLE_SUCCESS_COMMAND"))
    when = dt.datetime(2015, 1, 1, tzinfo=dt.UTC)
    registers = uc.register_response(cmd, 10, 10, when, esme_ka, supplier_ka.public_key)
    assert registers.encode() == _rtds("4.1.1_ECS17b/ECS17b_4.1.1_SINGLE_SUCCESS_RESPONSE")
    device_ka = store.get(ESME, Usage.KA).public_key
    read = uc.read(registers, user_ka=supplier_ka.private_key, device_ka=device_ka)
    assert read["active_import_wh"] == 10 and read["reactive_import_varh"] == 10
    assert read["authenticated_by"] == "mac" and read["device_time"].startswith("2015-01-01")

    cmd45 = GbcsMessage.decode(_rtds("7.4_ECS45/ECS45_7.4_SUCCESS_COMMAND"))
    status = uc.status_response(cmd45, uc.SupplyState.ENABLED, esme_ka, supplier_ka.public_key)
    assert status.encode() == _rtds("7.4_ECS45/ECS45_7.4_SUCCESS_RESPONSE")
    assert uc.read(status, user_ka=supplier_ka.private_key, device_ka=device_ka)["supply"] == (
        "enabled"
    )
    # a register value altered in flight fails the MAC
    tampered = bytearray(registers.encode())
    tampered[-20] ^= 1
    with pytest.raises(uc.ReadError, match="MAC"):
        uc.read(
            GbcsMessage.decode(bytes(tampered)),
            user_ka=supplier_ka.private_key,
            device_ka=device_ka,
        )


def test_gas_registers_round_trip_encrypted(store) -> None:
    # GSME private keys are not public: the PPMID's stand in for the device side
    dev_ka = store.private(PPMID, Usage.KA)
    sup_ka = store.private(SUPPLIER, Usage.KA)
    cmd = uc.command(uc.GCS13A, 77, SUPPLIER.raw, PPMID.raw)
    values = {
        "current_summation_delivered": 4_321_987,
        "unit_of_measure": 1,
        "multiplier": 1,
        "divisor": 1000,
    }
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    resp = uc.gas_response(cmd, values, when, dev_ka.private_key, sup_ka.public_key)
    assert b"\x42\xf2\x41" not in resp.encode()  # 4321987 little-endian: encrypted on the wire
    out = uc.read(resp, user_ka=sup_ka.private_key, device_ka=dev_ka.public_key)
    assert out["volume_m3"] == 4321.987 and out["unit_of_measure"] == 1


def test_signed_action_response_and_alert_verify_with_the_device_ds_key(store) -> None:
    ds = store.private(PPMID, Usage.DS)
    pre = uc.command(uc.ECS43, 5, SUPPLIER.raw, PPMID.raw)
    resp = uc.action_response(pre, ds.private_key)
    assert uc.read(resp, device_ds=ds.public_key)["result"] == 0
    start = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    end = start + dt.timedelta(minutes=7)
    alert = uc.supply_restored_alert(9, PPMID.raw, NETWORK_OPERATOR.raw, start, end, ds.private_key)
    assert uc.alert_code(alert) == uc.ALERT_SUPPLY_RESTORED
    out = uc.read(alert, device_ds=ds.public_key)
    assert out["kind"] == "alert" and out["alert_code"] == "8F36"
    assert out["outage_start"].startswith("2026-01-01T12:00") and out["outage_end"].startswith(
        "2026-01-01T12:07"
    )
    wrong = store.get(ESME, Usage.KA).public_key  # any other key
    with pytest.raises(uc.ReadError, match="signature"):
        uc.read(alert, device_ds=wrong)


def test_a_command_with_an_unexpected_payload_is_refused() -> None:
    msg = uc.command(uc.ECS45, 3, SUPPLIER.raw, ESME.raw)
    odd = GbcsMessage.build(
        msg.cra, 3, SUPPLIER.raw, ESME.raw, msg.message_code, msg.payload[:-1] + b"\x01"
    )
    with pytest.raises(DecodeError, match="not the one GBCS defines"):
        uc.check_command(odd)
    other = GbcsMessage.build(msg.cra, 3, SUPPLIER.raw, ESME.raw, 0x0001, msg.payload)
    with pytest.raises(DecodeError, match="not served"):
        uc.check_command(other)
