"""IEEE 802.15.4-2006 MAC frames: data, acknowledgement, MAC command and beacon.

Addresses are a short address (``int``) or an :class:`Eui64`; both travel little-endian.
Every frame ends in the 2-byte FCS (CRC-16/KERMIT), which :func:`decode` checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from rig.protocol.codec import DecodeError, Reader
from rig.protocol.eui import Eui64

BROADCAST = 0xFFFF
MAX_PSDU = 127  # aMaxPHYPacketSize


class FrameType(IntEnum):
    BEACON = 0
    DATA = 1
    ACK = 2
    COMMAND = 3


class Command(IntEnum):
    ASSOCIATION_REQUEST = 0x01
    ASSOCIATION_RESPONSE = 0x02
    DATA_REQUEST = 0x04
    BEACON_REQUEST = 0x07


class AssociationStatus(IntEnum):
    SUCCESS = 0x00
    PAN_AT_CAPACITY = 0x01
    PAN_ACCESS_DENIED = 0x02


# Capability information (association request and Zigbee device announce)
CAP_ALTERNATE_PAN_COORDINATOR = 0x01
CAP_FFD = 0x02
CAP_MAINS_POWERED = 0x04
CAP_RX_ON_WHEN_IDLE = 0x08
CAP_SECURITY = 0x40
CAP_ALLOCATE_ADDRESS = 0x80

Address = int | Eui64 | None


def fcs(data: bytes) -> int:
    """CRC-16/KERMIT (ITU-T, reflected, init 0), the 802.15.4 frame check sequence."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc


@dataclass(frozen=True, slots=True)
class MacFrame:
    frame_type: FrameType
    seq: int
    payload: bytes = b""
    dst_pan: int | None = None
    dst: Address = None
    src_pan: int | None = None  # None with a source: PAN ID compression (same PAN as dst)
    src: Address = None
    ack_request: bool = False
    frame_pending: bool = False
    version: int = 0  # 0 = 802.15.4-2003 frames, as Zigbee PRO sends them

    @property
    def command(self) -> Command | None:
        if self.frame_type is FrameType.COMMAND and self.payload:
            return (
                Command(self.payload[0]) if self.payload[0] in Command._value2member_map_ else None
            )
        return None

    def encode(self) -> bytes:
        compress = self.src is not None and self.dst is not None and self.src_pan is None
        fc = (
            int(self.frame_type)
            | (self.frame_pending << 4)
            | (self.ack_request << 5)
            | (compress << 6)
            | (_mode(self.dst) << 10)
            | (self.version << 12)
            | (_mode(self.src) << 14)
        )
        out = bytearray(fc.to_bytes(2, "little"))
        out.append(self.seq & 0xFF)
        if self.dst is not None:
            out += (self.dst_pan if self.dst_pan is not None else BROADCAST).to_bytes(2, "little")
            out += _addr(self.dst)
        if self.src is not None:
            if not compress:
                out += (self.src_pan if self.src_pan is not None else BROADCAST).to_bytes(
                    2, "little"
                )
            out += _addr(self.src)
        out += self.payload
        if len(out) + 2 > MAX_PSDU:
            raise ValueError(f"an 802.15.4 frame is at most {MAX_PSDU} bytes, not {len(out) + 2}")
        out += fcs(bytes(out)).to_bytes(2, "little")
        return bytes(out)


def _mode(addr: Address) -> int:
    return 0 if addr is None else 3 if isinstance(addr, Eui64) else 2


def _addr(addr: Address) -> bytes:
    if isinstance(addr, Eui64):
        return addr.raw[::-1]
    assert addr is not None
    return int(addr).to_bytes(2, "little")


def _read_addr(r: Reader, mode: int, what: str) -> Address:
    if mode == 0:
        return None
    if mode == 2:
        return r.le(2, what)
    if mode == 3:
        return Eui64(r.take(8, what)[::-1])
    raise r.fail(f"{what}: reserved addressing mode 1")


def decode(frame: bytes) -> MacFrame:
    """Decode a whole PSDU (with FCS); a bad FCS or a truncated header is a DecodeError."""
    if len(frame) < 5:
        raise DecodeError(f"an 802.15.4 frame has at least 5 bytes, not {len(frame)}", 0)
    if len(frame) > MAX_PSDU:
        raise DecodeError(f"an 802.15.4 frame has at most {MAX_PSDU} bytes", MAX_PSDU)
    body, want = frame[:-2], int.from_bytes(frame[-2:], "little")
    if fcs(body) != want:
        raise DecodeError(f"FCS {want:04x} does not match the frame ({fcs(body):04x})", len(body))
    r = Reader(body)
    fc = r.le(2, "frame control")
    seq = r.u8("sequence number")
    frame_type = fc & 7
    if frame_type not in FrameType._value2member_map_:
        raise DecodeError(f"reserved MAC frame type {frame_type}", 0)
    if fc & 0x08:
        raise DecodeError("MAC-layer security is not used by Zigbee", 0)
    dst_mode, src_mode, compress = (fc >> 10) & 3, (fc >> 14) & 3, bool(fc & 0x40)
    dst_pan = r.le(2, "destination PAN") if dst_mode else None
    dst = _read_addr(r, dst_mode, "destination address")
    src_pan = None
    if src_mode and not compress:
        src_pan = r.le(2, "source PAN")
    src = _read_addr(r, src_mode, "source address")
    return MacFrame(
        FrameType(frame_type),
        seq,
        r.rest(),
        dst_pan,
        dst,
        src_pan,
        src,
        ack_request=bool(fc & 0x20),
        frame_pending=bool(fc & 0x10),
        version=(fc >> 12) & 3,
    )


def ack(seq: int, frame_pending: bool = False) -> MacFrame:
    return MacFrame(FrameType.ACK, seq, frame_pending=frame_pending)


# --- beacons: a Zigbee PRO coordinator or router answering a beacon request ---------------


@dataclass(frozen=True, slots=True)
class Beacon:
    extended_pan_id: Eui64
    association_permit: bool
    pan_coordinator: bool
    router_capacity: bool = True
    end_device_capacity: bool = True
    depth: int = 0
    update_id: int = 0

    def encode(self) -> bytes:
        superframe = 0x0FFF | (self.pan_coordinator << 14) | (self.association_permit << 15)
        capacity = (self.router_capacity << 2) | ((self.depth & 0x0F) << 3)
        capacity |= self.end_device_capacity << 7
        return (
            superframe.to_bytes(2, "little")
            + b"\x00"  # GTS specification
            + b"\x00"  # pending addresses
            + b"\x00"  # Zigbee protocol ID
            + b"\x22"  # stack profile 2 (PRO), protocol version 2
            + bytes([capacity])
            + self.extended_pan_id.raw[::-1]
            + b"\xff\xff\xff"  # TX offset: non-beacon network
            + bytes([self.update_id])
        )

    @classmethod
    def decode(cls, payload: bytes) -> Beacon:
        r = Reader(payload)
        superframe = r.le(2, "superframe specification")
        r.take(2, "GTS and pending addresses")
        r.expect(b"\x00", "Zigbee protocol ID")
        r.u8("stack profile")
        capacity = r.u8("device capacity")
        epid = Eui64(r.take(8, "extended PAN ID")[::-1])
        r.take(3, "TX offset")
        update = r.u8("update ID")
        return cls(
            epid,
            association_permit=bool(superframe & 0x8000),
            pan_coordinator=bool(superframe & 0x4000),
            router_capacity=bool(capacity & 0x04),
            end_device_capacity=bool(capacity & 0x80),
            depth=(capacity >> 3) & 0x0F,
            update_id=update,
        )


@dataclass(frozen=True, slots=True)
class AssociationResponse:
    short_address: int
    status: AssociationStatus

    def encode(self) -> bytes:
        return (
            bytes([Command.ASSOCIATION_RESPONSE])
            + self.short_address.to_bytes(2, "little")
            + bytes([self.status])
        )

    @classmethod
    def decode(cls, payload: bytes) -> AssociationResponse:
        r = Reader(payload)
        r.expect(bytes([Command.ASSOCIATION_RESPONSE]), "association response")
        short = r.le(2, "short address")
        status = r.u8("association status")
        return cls(
            short,
            AssociationStatus(status)
            if status in (0, 1, 2)
            else AssociationStatus.PAN_ACCESS_DENIED,
        )


def airtime_us(psdu_length: int) -> int:
    """Time on air at 250 kbit/s (O-QPSK, 2.4 GHz): SHR (5 bytes) + PHR (1) + PSDU, 32 µs/byte."""
    return (6 + psdu_length) * 32
