"""Zigbee PRO NWK frames (protocol version 2), secured with the network key.

A NWK frame is a header (frame control, destination and source short addresses,
radius, sequence, optional IEEE addresses), the auxiliary security header and the
APS frame encrypted with AES-CCM* (MIC-32). :func:`seal` and :func:`open_frame`
do the security; :func:`decode_header` reads a frame without the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from rig.protocol.codec import DecodeError, Reader
from rig.protocol.eui import Eui64
from rig.protocol.zigbee import security
from rig.protocol.zigbee.security import AuxHeader, KeyId

PROTOCOL_VERSION = 2
BROADCAST_ALL = 0xFFFF
BROADCAST_RX_ON = 0xFFFD
BROADCAST_ROUTERS = 0xFFFC


class NwkFrameType(IntEnum):
    DATA = 0
    COMMAND = 1


# NWK commands (Zigbee PRO 3.4): the Leave command and its options byte
LEAVE = 0x04
LEAVE_REJOIN = 0x20
LEAVE_REQUEST = 0x40  # set: asking the recipient to leave; clear: the sender is leaving
LEAVE_REMOVE_CHILDREN = 0x80


def leave(*, request: bool, rejoin: bool = False) -> bytes:
    """A NWK Leave command's payload: a request to leave (from the trust centre) or the
    indication of a device leaving."""
    return bytes([LEAVE, (LEAVE_REQUEST if request else 0) | (LEAVE_REJOIN if rejoin else 0)])


def leave_of(payload: bytes) -> tuple[bool, bool] | None:
    """(request, rejoin) of a NWK Leave command's payload; None for another command."""
    if len(payload) != 2 or payload[0] != LEAVE:
        return None
    return bool(payload[1] & LEAVE_REQUEST), bool(payload[1] & LEAVE_REJOIN)


@dataclass(frozen=True, slots=True)
class NwkHeader:
    frame_type: NwkFrameType
    dst: int
    src: int
    seq: int
    radius: int = 30
    dst_ieee: Eui64 | None = None
    src_ieee: Eui64 | None = None
    discover_route: int = 0  # 0 suppress, 1 enable
    secured: bool = True

    def encode(self) -> bytes:
        fc = (
            int(self.frame_type)
            | (PROTOCOL_VERSION << 2)
            | (self.discover_route << 6)
            | (self.secured << 9)
            | ((self.dst_ieee is not None) << 11)
            | ((self.src_ieee is not None) << 12)
        )
        out = fc.to_bytes(2, "little") + self.dst.to_bytes(2, "little")
        out += self.src.to_bytes(2, "little") + bytes([self.radius, self.seq & 0xFF])
        if self.dst_ieee is not None:
            out += self.dst_ieee.raw[::-1]
        if self.src_ieee is not None:
            out += self.src_ieee.raw[::-1]
        return out


@dataclass(frozen=True, slots=True)
class NwkFrame:
    header: NwkHeader
    aux: AuxHeader | None
    payload: bytes  # the APS frame (plaintext) or, before opening, the sealed bytes


def _read_header(r: Reader) -> NwkHeader:
    fc = r.le(2, "NWK frame control")
    ftype = fc & 3
    if ftype > 1:
        raise r.fail(f"reserved NWK frame type {ftype}")
    version = (fc >> 2) & 0x0F
    if version != PROTOCOL_VERSION:
        raise r.fail(f"NWK protocol version {version}, expected {PROTOCOL_VERSION} (Zigbee PRO)")
    if fc & 0x0500:
        raise r.fail("multicast and source-routed NWK frames are not used on a GB HAN")
    dst = r.le(2, "NWK destination")
    src = r.le(2, "NWK source")
    radius = r.u8("radius")
    seq = r.u8("NWK sequence")
    dst_ieee = Eui64(r.take(8, "destination IEEE")[::-1]) if fc & 0x0800 else None
    src_ieee = Eui64(r.take(8, "source IEEE")[::-1]) if fc & 0x1000 else None
    return NwkHeader(
        NwkFrameType(ftype),
        dst,
        src,
        seq,
        radius,
        dst_ieee,
        src_ieee,
        (fc >> 6) & 3,
        bool(fc & 0x200),
    )


def decode_header(data: bytes) -> tuple[NwkHeader, AuxHeader | None, int]:
    """Header, auxiliary header, and the offset where the (sealed) payload starts."""
    r = Reader(data)
    header = _read_header(r)
    aux = AuxHeader.read(r) if header.secured else None
    if aux is not None and (aux.key_id is not KeyId.NETWORK or aux.source is None):
        raise r.fail("a NWK frame must be secured with the network key and an extended nonce")
    return header, aux, r.pos


def seal(
    header: NwkHeader, payload: bytes, key: bytes, counter: int, source: Eui64, key_seq: int
) -> bytes:
    aux = AuxHeader(KeyId.NETWORK, counter, source, key_seq)
    return security.protect(key, header.encode(), aux, payload, source)


def open_frame(data: bytes, key: bytes) -> NwkFrame:
    """Decode and, when secured, authenticate and decrypt with the network key."""
    header, aux, at = decode_header(data)
    if aux is None:
        return NwkFrame(header, None, data[at:])
    if len(data) - at < security.MIC_LENGTH:
        raise DecodeError("secured NWK frame shorter than its MIC", len(data))
    if aux.source is None:  # the nonce needs the sender's EUI-64 (extended nonce)
        raise DecodeError("secured NWK frame without the extended nonce's source", at)
    aux_len = len(aux.encode())
    plain = security.unprotect(key, data[: at - aux_len], aux, data[at:], aux.source)
    return NwkFrame(header, aux, plain)
