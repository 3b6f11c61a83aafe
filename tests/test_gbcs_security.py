"""Building, MACing, signing and checking GBCS messages; what happens to bad input."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import dlms
from rig.protocol.gbcs.codes import code_for
from rig.protocol.gbcs.frame import Cra, GbcsMessage
from rig.protocol.gbcs.replay import CounterGuard, ReplayError
from rig.protocol.gbcs.security import (
    SecurityError,
    apply_mac,
    encryption_key,
    protect,
    sign_message,
    unprotect,
    verify_mac,
    verify_signature,
)
from rig.protocol.gbcs.verify import check_mac, check_signature
from rig.protocol.keystore import KeyStore
from rig.protocol.smki import Usage

SUPPLIER = Eui64.parse("90-B3-D5-1F-30-01-00-00")
ACB = Eui64.parse("90-B3-D5-1F-30-00-00-02")
ESME = Eui64.parse("00-DB-12-34-56-78-90-A0")


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _cert(key: ec.EllipticCurvePrivateKey, name: str = "test") -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))  # long expired: dates are not checked
        .sign(key, hashes.SHA256())
    )


@pytest.fixture(scope="module")
def keys() -> dict:
    return {name: _key() for name in ("acb_ka", "sup_ds", "sup_ka", "esme_ka", "esme_ds")}


def _read_registers(counter: int = 0x1000) -> GbcsMessage:
    request = dlms.AccessRequest(
        0x20000000 | (counter & 0xFFFF),
        b"",
        [dlms.RequestSpec(dlms.RequestKind.GET, 3, bytes.fromhex("0100010800ff"), 2)],
        [dlms.Data(dlms.DataType.NULL_DATA)],
    )
    return GbcsMessage.build(
        Cra.COMMAND, counter, SUPPLIER.raw, ESME.raw, code_for("ECS17b"), request.encode()
    )


def test_a_built_command_macs_for_the_device_and_round_trips(keys) -> None:
    msg = apply_mac(_read_registers(), keys["acb_ka"], keys["esme_ka"].public_key())
    wire = msg.encode()
    assert wire[0] == 0xDD and len(msg.mac) == 12
    back = GbcsMessage.decode(wire)
    assert back == msg and back.message_code == 0x0027
    verify_mac(back, keys["esme_ka"], keys["acb_ka"].public_key())  # the device's view


def test_tampered_mac_wrong_key_and_flipped_payload_are_refused(keys) -> None:
    wire = bytearray(
        apply_mac(_read_registers(), keys["acb_ka"], keys["esme_ka"].public_key()).encode()
    )
    good = GbcsMessage.decode(bytes(wire))
    with pytest.raises(SecurityError, match="does not verify"):
        verify_mac(good, keys["esme_ka"], keys["sup_ka"].public_key())  # wrong peer key
    for index in (len(wire) - 1, len(wire) - 20):  # in the MAC, in the payload
        bad = bytearray(wire)
        bad[index] ^= 0x01
        with pytest.raises(SecurityError):
            verify_mac(GbcsMessage.decode(bytes(bad)), keys["esme_ka"], keys["acb_ka"].public_key())


def test_pre_command_signed_by_the_supplier_then_maced(keys) -> None:
    pre = GbcsMessage.build(
        Cra.COMMAND,
        0x2000,
        SUPPLIER.raw,
        ESME.raw,
        code_for("ECS43"),
        b"\x05\x00",
        pre_command=True,
    )
    assert pre.is_pre_command and GbcsMessage.decode(pre.encode()).is_pre_command
    signed = sign_message(pre, keys["sup_ds"])
    verify_signature(signed, keys["sup_ds"].public_key())
    with pytest.raises(SecurityError):
        verify_signature(signed, keys["esme_ds"].public_key())
    sent = GbcsMessage.decode(
        apply_mac(signed, keys["acb_ka"], keys["esme_ka"].public_key()).encode()
    )
    verify_signature(sent, keys["sup_ds"].public_key())
    with pytest.raises(SecurityError, match="before the MAC"):
        sign_message(sent, keys["sup_ds"])


def test_key_store_verdicts_name_missing_keys_and_revocation(keys) -> None:
    store = KeyStore()
    msg = sign_message(_read_registers(), keys["sup_ds"])
    assert check_signature(msg, store).ok is None
    cert = _cert(keys["sup_ds"])
    store.add(SUPPLIER, Usage.DS, cert)
    assert check_signature(msg, store).ok is True
    store.revoke(cert.serial_number)
    assert check_signature(msg, store).ok is None  # revoked: as if unknown
    maced = apply_mac(msg, keys["acb_ka"], keys["esme_ka"].public_key())
    verdict = check_mac(maced, store, ACB)
    assert verdict.ok is None and "90-B3-D5-1F-30-00-00-02" in verdict.reason
    store.add(ACB, Usage.KA, _cert(keys["acb_ka"]), keys["acb_ka"])
    store.add(ESME, Usage.KA, _cert(keys["esme_ka"]))
    assert check_mac(maced, store, ACB).ok is True


def test_truncated_messages_fail_with_an_offset(keys) -> None:
    wire = apply_mac(
        sign_message(_read_registers(), keys["sup_ds"]),
        keys["acb_ka"],
        keys["esme_ka"].public_key(),
    ).encode()
    for cut in (1, 7, 20, len(wire) // 2, len(wire) - 1):
        with pytest.raises(DecodeError) as exc:
            GbcsMessage.decode(wire[:cut])
        assert 0 <= exc.value.offset <= cut


def test_encrypted_part_round_trip_and_tamper(keys) -> None:
    response = GbcsMessage.build(Cra.RESPONSE, 0x1000, ESME.raw, SUPPLIER.raw, 0x27, b"")
    key = encryption_key(response, keys["esme_ka"], keys["sup_ka"].public_key())
    assert key == encryption_key(response, keys["sup_ka"], keys["esme_ka"].public_key())
    blob = protect(key, ESME.raw, b"\x06\x00\x00\x30\x39")
    assert blob[0] == 0x31 and unprotect(key, ESME.raw, blob) == b"\x06\x00\x00\x30\x39"
    with pytest.raises(SecurityError):
        unprotect(key, ESME.raw, blob[:-1] + bytes([blob[-1] ^ 1]))


def test_counter_guard_refuses_replays_and_survives_persistence() -> None:
    guard = CounterGuard()
    guard.accept(SUPPLIER.raw, ESME.raw, 10)
    guard.accept(SUPPLIER.raw, ESME.raw, 11)
    with pytest.raises(ReplayError, match="replayed"):
        guard.accept(SUPPLIER.raw, ESME.raw, 11)
    restored = CounterGuard.from_json(guard.to_json())
    with pytest.raises(ReplayError):
        restored.check(SUPPLIER.raw, ESME.raw, 5)
    restored.accept(ESME.raw, SUPPLIER.raw, 1)  # another direction is its own sequence
