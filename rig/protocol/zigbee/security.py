"""Zigbee security: the auxiliary header, AES-CCM* with a 4-byte MIC, the nonce, key hashing.

The same CCM* transform secures NWK frames (network key) and APS frames (link
key, or a key hashed from it for Transport Key). Over the air the security level
field is sent as 0 and both ends use level 5 (ENC-MIC-32), as Zigbee PRO does
and as Wireshark assumes by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from zigpy.util import aes_mmo_hash, convert_install_code

from rig.protocol.codec import Reader
from rig.protocol.eui import Eui64

SECURITY_LEVEL = 5  # ENC-MIC-32
MIC_LENGTH = 4
_EXT_NONCE = 0x20


class KeyId(IntEnum):
    DATA = 0  # a link key
    NETWORK = 1
    KEY_TRANSPORT = 2
    KEY_LOAD = 3


class SecurityError(ValueError):
    """A frame that fails authentication: wrong key, tampering, or a replayed counter."""


@dataclass(frozen=True, slots=True)
class AuxHeader:
    key_id: KeyId
    frame_counter: int
    source: Eui64 | None  # present when the extended nonce bit is set
    key_seq: int | None = None  # network key only

    def control(self, level: int = 0) -> int:
        return level | (int(self.key_id) << 3) | (_EXT_NONCE if self.source else 0)

    def encode(self, level: int = 0) -> bytes:
        out = bytes([self.control(level)]) + self.frame_counter.to_bytes(4, "little")
        if self.source is not None:
            out += self.source.raw[::-1]
        if self.key_id is KeyId.NETWORK:
            out += bytes([self.key_seq or 0])
        return out

    @classmethod
    def read(cls, r: Reader) -> AuxHeader:
        control = r.u8("security control")
        counter = r.le(4, "frame counter")
        source = Eui64(r.take(8, "source address")[::-1]) if control & _EXT_NONCE else None
        key_id = KeyId((control >> 3) & 3)
        key_seq = r.u8("key sequence number") if key_id is KeyId.NETWORK else None
        return cls(key_id, counter, source, key_seq)


def nonce(source: Eui64, frame_counter: int, control: int) -> bytes:
    """The 13-byte CCM* nonce: source address, frame counter (both little-endian), control."""
    return source.raw[::-1] + frame_counter.to_bytes(4, "little") + bytes([control])


def protect(key: bytes, header: bytes, aux: AuxHeader, payload: bytes, source: Eui64) -> bytes:
    """``header || aux || ciphertext || MIC``; ``header`` is the NWK or APS header."""
    on_air = aux.encode(0)
    aad = header + aux.encode(SECURITY_LEVEL)
    sealed = AESCCM(key, tag_length=MIC_LENGTH).encrypt(
        nonce(source, aux.frame_counter, aux.control(SECURITY_LEVEL)), payload, aad
    )
    return header + on_air + sealed


def unprotect(key: bytes, header: bytes, aux: AuxHeader, sealed: bytes, source: Eui64) -> bytes:
    """Decrypt and authenticate; raise :class:`SecurityError` on a bad MIC."""
    aad = header + aux.encode(SECURITY_LEVEL)
    try:
        return AESCCM(key, tag_length=MIC_LENGTH).decrypt(
            nonce(source, aux.frame_counter, aux.control(SECURITY_LEVEL)), sealed, aad
        )
    except InvalidTag:
        raise SecurityError(
            f"MIC check failed (key {aux.key_id.name.lower()}, counter {aux.frame_counter})"
        ) from None


def keyed_hash(key: bytes, data: bytes) -> bytes:
    """The Zigbee keyed hash (HMAC over the AES-MMO hash, block size 16)."""
    inner = bytes(k ^ 0x36 for k in key) + data
    outer = bytes(k ^ 0x5C for k in key) + bytes(aes_mmo_hash(inner))
    return bytes(aes_mmo_hash(outer))


def key_transport_key(link_key: bytes) -> bytes:
    return keyed_hash(link_key, b"\x00")


def key_load_key(link_key: bytes) -> bytes:
    return keyed_hash(link_key, b"\x02")


def aps_key(link_key: bytes, key_id: KeyId) -> bytes:
    """The key an APS frame secured with ``key_id`` uses, from the pair's link key."""
    if key_id is KeyId.KEY_TRANSPORT:
        return key_transport_key(link_key)
    if key_id is KeyId.KEY_LOAD:
        return key_load_key(link_key)
    return link_key


def link_key_from_install_code(code: bytes) -> bytes:
    """The pre-configured link key: AES-MMO hash of the install code (with its CRC)."""
    return bytes(convert_install_code(code))
