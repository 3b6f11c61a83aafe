"""Zigbee APS frames: data, acknowledgement and command, with fragmentation and security.

Fragments carry the extended header (first block: total block count; later
blocks: block number); acknowledgements of fragments carry the block number and
an ack bitfield. Each fragment is secured on its own (the APS header is
authenticated with it). Transport Key is the one APS command the trust centre sends.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum

from rig.protocol.codec import DecodeError, Reader
from rig.protocol.eui import Eui64
from rig.protocol.zigbee import security
from rig.protocol.zigbee.security import AuxHeader, KeyId

ZDO_PROFILE = 0x0000
SE_PROFILE = 0x0109  # ZigBee Smart Energy
ZDO_ENDPOINT = 0


class ApsFrameType(IntEnum):
    DATA = 0
    COMMAND = 1
    ACK = 2


class Fragment(IntEnum):
    NONE = 0
    FIRST = 1
    SUBSEQUENT = 2


class ApsCommand(IntEnum):
    TRANSPORT_KEY = 0x05


class KeyType(IntEnum):
    STANDARD_NETWORK_KEY = 0x01
    TRUST_CENTER_LINK_KEY = 0x04


@dataclass(frozen=True, slots=True)
class ApsFrame:
    frame_type: ApsFrameType
    counter: int
    dst_ep: int | None = None
    cluster: int | None = None
    profile: int | None = None
    src_ep: int | None = None
    payload: bytes = b""
    ack_request: bool = False
    secured: bool = False
    broadcast: bool = False
    fragment: Fragment = Fragment.NONE
    block: int = 0  # FIRST: total number of blocks; SUBSEQUENT: this block's number
    ack_bitfield: int | None = None  # acknowledgements of fragmented frames
    aux: AuxHeader | None = None

    def header(self) -> bytes:
        ext = self.fragment is not Fragment.NONE
        command_ack = self.frame_type is ApsFrameType.ACK and self.dst_ep is None
        fc = (
            int(self.frame_type)
            | ((2 if self.broadcast else 0) << 2)
            | (command_ack << 4)
            | (self.secured << 5)
            | (self.ack_request << 6)
            | (ext << 7)
        )
        out = bytearray([fc])
        if self.frame_type is not ApsFrameType.COMMAND and not command_ack:
            out.append(self.dst_ep or 0)
            out += (self.cluster or 0).to_bytes(2, "little")
            out += (self.profile or 0).to_bytes(2, "little")
            out.append(self.src_ep or 0)
        out.append(self.counter & 0xFF)
        if ext:
            out += bytes([int(self.fragment), self.block])
            if self.frame_type is ApsFrameType.ACK:
                out.append(self.ack_bitfield or 0)
        return bytes(out)

    def encode(self) -> bytes:
        """The plaintext frame (security is applied by :func:`seal`)."""
        return self.header() + self.payload


def decode(data: bytes) -> tuple[ApsFrame, int]:
    """An APS frame and the offset of its (possibly sealed) payload; ``aux`` is read."""
    r = Reader(data)
    fc = r.u8("APS frame control")
    ftype = fc & 3
    if ftype > 2:
        raise r.fail("inter-PAN APS frames are not used on a GB HAN")
    mode = (fc >> 2) & 3
    if mode in (1, 3):
        raise r.fail("APS indirect and group addressing are not used on a GB HAN")
    frame_type = ApsFrameType(ftype)
    command_ack = frame_type is ApsFrameType.ACK and bool(fc & 0x10)
    dst_ep = cluster = profile = src_ep = None
    if frame_type is not ApsFrameType.COMMAND and not command_ack:
        dst_ep = r.u8("destination endpoint")
        cluster = r.le(2, "cluster ID")
        profile = r.le(2, "profile ID")
        src_ep = r.u8("source endpoint")
    counter = r.u8("APS counter")
    fragment, block, bitfield = Fragment.NONE, 0, None
    if fc & 0x80:
        ext = r.u8("extended frame control")
        if ext & 3 == 3:
            raise r.fail("reserved APS fragmentation value 3")
        fragment = Fragment(ext & 3)
        if fragment is not Fragment.NONE:
            block = r.u8("block number")
            if frame_type is ApsFrameType.ACK:
                bitfield = r.u8("ack bitfield")
    aux = AuxHeader.read(r) if fc & 0x20 else None
    frame = ApsFrame(
        frame_type,
        counter,
        dst_ep,
        cluster,
        profile,
        src_ep,
        b"",
        ack_request=bool(fc & 0x40),
        secured=bool(fc & 0x20),
        broadcast=mode == 2,
        fragment=fragment,
        block=block,
        ack_bitfield=bitfield,
        aux=aux,
    )
    return frame, r.pos


def seal(
    frame: ApsFrame, key: bytes, counter: int, source: Eui64, key_id: KeyId = KeyId.DATA
) -> bytes:
    """Secure an APS frame with a link-derived key (ext nonce: the source travels with it)."""
    frame = replace(frame, secured=True)
    aux = AuxHeader(key_id, counter, source)
    return security.protect(key, frame.header(), aux, frame.payload, source)


def open_frame(data: bytes, link_key: bytes | None, source: Eui64 | None = None) -> ApsFrame:
    """Decode; when secured, decrypt with the key its key identifier derives from ``link_key``."""
    frame, at = decode(data)
    if frame.aux is None:
        return replace(frame, payload=data[at:])
    if link_key is None:
        raise security.SecurityError("APS frame secured with a link key this device does not hold")
    aux = frame.aux
    src = aux.source or source
    if src is None:
        raise DecodeError("APS security without a source address", at)
    header = data[: at - len(aux.encode())]
    plain = security.unprotect(security.aps_key(link_key, aux.key_id), header, aux, data[at:], src)
    return replace(frame, payload=plain)


@dataclass(frozen=True, slots=True)
class TransportKey:
    """APS Transport Key carrying the network key (Zigbee PRO, 4.4.9.2)."""

    key: bytes
    key_seq: int
    dst: Eui64
    src: Eui64
    key_type: KeyType = KeyType.STANDARD_NETWORK_KEY

    def encode(self) -> bytes:
        return (
            bytes([ApsCommand.TRANSPORT_KEY, self.key_type])
            + self.key
            + bytes([self.key_seq])
            + self.dst.raw[::-1]
            + self.src.raw[::-1]
        )

    @classmethod
    def decode(cls, payload: bytes) -> TransportKey:
        r = Reader(payload)
        r.expect(bytes([ApsCommand.TRANSPORT_KEY]), "Transport Key command")
        key_type = r.u8("key type")
        if key_type != KeyType.STANDARD_NETWORK_KEY:
            raise r.fail(f"key type {key_type}: only the standard network key is transported")
        key = r.take(16, "key")
        seq = r.u8("key sequence number")
        dst = Eui64(r.take(8, "destination address")[::-1])
        src = Eui64(r.take(8, "source address")[::-1])
        r.done("Transport Key")
        return cls(key, seq, dst, src)


def fragments(payload: bytes, size: int) -> list[bytes]:
    """Split an APS payload into blocks of ``size`` bytes (at most 255 blocks)."""
    blocks = [payload[i : i + size] for i in range(0, len(payload), size)] or [b""]
    if len(blocks) > 255:
        raise ValueError(f"{len(payload)} bytes need {len(blocks)} APS blocks; at most 255")
    return blocks
