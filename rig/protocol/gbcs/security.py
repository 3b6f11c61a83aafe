"""GBCS security: the one-step KDF, AES-128-GCM MACs and encryption, ECDSA signatures.

- KDF (GBCS 4.3.3, NIST SP 800-56A one-step, SHA-256): ``key = SHA-256(00000001 || Z ||
  OtherInfo)[0:16]``, ``Z`` the P-256 ECDH shared secret, ``OtherInfo = 60857406080300 ||
  originator || 09 || mode || originator counter || recipient``.
- MAC: AES-128-GCM with a 12-byte tag, IV = originator system title || 00000000,
  AAD = ``11 00000000`` (security header) || ``00``... as the reference data states:
  ``11 00 00 00 00 00`` || the general-signing APDU.
- Signature: ECDSA P-256 / SHA-256 over the general-signing APDU without ``DF`` up to the
  end of the payload, written as raw r||s.

Commands are MAC'd with the access control broker's KA key against the device's KA key;
responses and alerts with the device's KA key against the recipient's. ECDH is symmetric,
so whichever side holds a private key can compute the same MAC key.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import IntEnum

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from rig.protocol.gbcs.frame import MAC_LENGTH, Cra, GbcsMessage

KDF_ALGORITHM_ID = bytes.fromhex("60857406080300")
AAD_PREFIX = bytes.fromhex("110000000000")
GCM_TAG_LENGTH = 12


class KdfMode(IntEnum):
    COMMAND = 1
    RESPONSE = 2
    ALERT = 3
    ENCRYPTION = 4


_MODE_FOR_CRA = {
    Cra.COMMAND: KdfMode.COMMAND,
    Cra.RESPONSE: KdfMode.RESPONSE,
    Cra.ALERT: KdfMode.ALERT,
}


class SecurityError(ValueError):
    """A MAC, tag or signature that does not verify, or a key that cannot be used."""


def kdf(
    private_key: ec.EllipticCurvePrivateKey,
    peer_public: ec.EllipticCurvePublicKey,
    originator: bytes,
    recipient: bytes,
    counter: int,
    mode: KdfMode,
) -> bytes:
    """The 16-byte AES key both parties derive for one message."""
    if len(originator) != 8 or len(recipient) != 8:
        raise SecurityError("the KDF takes 8-byte system titles")
    z = private_key.exchange(ec.ECDH(), peer_public)
    other = (
        KDF_ALGORITHM_ID
        + originator
        + b"\x09"
        + bytes([mode])
        + counter.to_bytes(8, "big")
        + recipient
    )
    return hashlib.sha256(b"\x00\x00\x00\x01" + z + other).digest()[:16]


def gcm_iv(originator: bytes, invocation_counter: bytes = bytes(4)) -> bytes:
    return originator + invocation_counter


def gcm_encrypt(
    key: bytes, originator: bytes, aad: bytes, plaintext: bytes = b"", ic: bytes = bytes(4)
) -> tuple[bytes, bytes]:
    """(ciphertext, 12-byte tag); IV = originator system title || invocation counter."""
    out = AESGCM(key).encrypt(gcm_iv(originator, ic), plaintext, aad)
    return out[: len(plaintext)], out[len(plaintext) : len(plaintext) + GCM_TAG_LENGTH]


def gcm_decrypt(
    key: bytes, originator: bytes, aad: bytes, ciphertext: bytes, tag: bytes, ic: bytes = bytes(4)
) -> bytes:
    """Plaintext, or :class:`SecurityError` when the 12-byte tag does not match."""
    if len(tag) != GCM_TAG_LENGTH:
        raise SecurityError(f"a GBCS GCM tag is 12 bytes, not {len(tag)}")
    mode = modes.GCM(gcm_iv(originator, ic), tag, min_tag_length=GCM_TAG_LENGTH)
    dec = Cipher(algorithms.AES(key), mode).decryptor()
    dec.authenticate_additional_data(aad)
    plain = dec.update(ciphertext)
    try:
        return plain + dec.finalize()
    except InvalidTag:
        raise SecurityError(
            "the GCM tag does not match: wrong key, or the data was altered"
        ) from None


# --- message MACs --------------------------------------------------------------------
def mac_aad(msg: GbcsMessage) -> bytes:
    return AAD_PREFIX + msg.without_mac().general_signing()


def message_key(
    msg: GbcsMessage,
    private_key: ec.EllipticCurvePrivateKey,
    peer_public: ec.EllipticCurvePublicKey,
    mode: KdfMode | None = None,
) -> bytes:
    """The KDF for the message's originator, recipient and counter; the mode follows
    the CRA flag (the MAC key) unless given (``KdfMode.ENCRYPTION``)."""
    h = msg.header
    mode = _MODE_FOR_CRA[h.cra] if mode is None else mode
    return kdf(private_key, peer_public, h.originator, h.recipient, h.counter, mode)


def compute_mac(msg: GbcsMessage, key: bytes) -> bytes:
    _, tag = gcm_encrypt(key, msg.header.originator, mac_aad(msg))
    return tag


def apply_mac(
    msg: GbcsMessage,
    private_key: ec.EllipticCurvePrivateKey,
    peer_public: ec.EllipticCurvePublicKey,
) -> GbcsMessage:
    """Wrap the message in general ciphering with its MAC."""
    return msg.with_mac(compute_mac(msg, message_key(msg, private_key, peer_public)))


def verify_mac(
    msg: GbcsMessage,
    private_key: ec.EllipticCurvePrivateKey,
    peer_public: ec.EllipticCurvePublicKey,
) -> None:
    if msg.mac is None:
        raise SecurityError("the message carries no MAC")
    expected = compute_mac(msg, message_key(msg, private_key, peer_public))
    if not hmac.compare_digest(expected, msg.mac):
        raise SecurityError(
            f"MAC of {msg.kind} 0x{msg.message_code:04X} counter {msg.header.counter:#x} "
            "does not verify: wrong keys, or the message was altered"
        )


# --- signatures ------------------------------------------------------------------------
def raw_signature(der: bytes) -> bytes:
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def der_signature(raw: bytes) -> bytes:
    if len(raw) != 64:
        raise SecurityError(f"a raw P-256 signature is 64 bytes, not {len(raw)}")
    return encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))


def sign_raw(private_key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    return raw_signature(private_key.sign(data, ec.ECDSA(hashes.SHA256())))


def verify_raw(public_key: ec.EllipticCurvePublicKey, data: bytes, raw: bytes) -> None:
    try:
        public_key.verify(der_signature(raw), data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise SecurityError("the ECDSA signature does not verify") from None


def sign_message(msg: GbcsMessage, private_key: ec.EllipticCurvePrivateKey) -> GbcsMessage:
    """Sign a message (a supplier signing the pre-command from the transform service)."""
    if msg.mac is not None:
        raise SecurityError("sign before the MAC is applied: the MAC covers the signature")
    return msg.with_signature(sign_raw(private_key, msg.signed_part()))


def verify_signature(msg: GbcsMessage, public_key: ec.EllipticCurvePublicKey) -> None:
    if msg.signature is None:
        raise SecurityError("the message carries no signature")
    try:
        verify_raw(public_key, msg.signed_part(), msg.signature)
    except SecurityError:
        raise SecurityError(
            f"signature of {msg.kind} 0x{msg.message_code:04X} counter "
            f"{msg.header.counter:#x} does not verify with the originator's DS key"
        ) from None


__all__ = [
    "MAC_LENGTH",
    "KdfMode",
    "SecurityError",
    "apply_mac",
    "compute_mac",
    "encryption_key",
    "gcm_decrypt",
    "gcm_encrypt",
    "kdf",
    "mac_aad",
    "message_key",
    "protect",
    "sign_message",
    "unprotect",
    "verify_mac",
    "verify_signature",
]


# --- encrypted payload parts -----------------------------------------------------------
ENCRYPTED_SC = 0x31  # security control: authenticated and encrypted


def encryption_key(
    msg: GbcsMessage,
    private_key: ec.EllipticCurvePrivateKey,
    peer_public: ec.EllipticCurvePublicKey,
) -> bytes:
    """The key for the message's encrypted parts (KDF in encryption mode). A response to an
    unknown remote party (it carries the supplementary remote party and the device's own
    supplementary originator counter; its MAC is the ACB's) encrypts for that party: the
    KDF takes the device, the remote party and the supplementary originator counter, as
    RTDS 4.5.0's ECS21b URP response decrypts (the party's key from the command's
    certificate)."""
    other = msg.header.other
    if other.remote_party_id is not None and other.originator_counter is not None:
        return kdf(
            private_key,
            peer_public,
            msg.header.originator,
            other.remote_party_id,
            other.originator_counter,
            KdfMode.ENCRYPTION,
        )
    return message_key(msg, private_key, peer_public, KdfMode.ENCRYPTION)


def protect(key: bytes, originator: bytes, plaintext: bytes, ic: bytes = bytes(4)) -> bytes:
    """``31 || IC || ciphertext || tag``: how GBCS carries a sensitive payload part."""
    ct, tag = gcm_encrypt(key, originator, bytes([ENCRYPTED_SC]), plaintext, ic)
    return bytes([ENCRYPTED_SC]) + ic + ct + tag


def unprotect(key: bytes, originator: bytes, blob: bytes) -> bytes:
    if len(blob) < 1 + 4 + GCM_TAG_LENGTH or blob[0] != ENCRYPTED_SC:
        raise SecurityError("not an encrypted part (31 || IC || ciphertext || tag)")
    ic, ct, tag = blob[1:5], blob[5:-GCM_TAG_LENGTH], blob[-GCM_TAG_LENGTH:]
    return gcm_decrypt(key, originator, bytes([ENCRYPTED_SC]), ct, tag, ic)
