"""ZEP v2 (ZigBee Encapsulation Protocol): 802.15.4 frames over UDP, as Wireshark reads them.

Data packet: ``"EX"`` | version 2 | type 1 | channel | device ID (2) | LQI mode |
LQI | NTP timestamp (8) | sequence (4) | reserved (10) | length | frame (with FCS).
Ack packet: ``"EX"`` | version 2 | type 2 | sequence (4).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

ZEP_PORT = 17754
PREAMBLE = b"EX"
VERSION = 2
TYPE_DATA = 1
TYPE_ACK = 2
_DATA = struct.Struct(">2sBBBHBBQI10sB")
NTP_UNIX_OFFSET = 2_208_988_800


class ZepError(ValueError):
    """A datagram that is not a ZEP v2 packet."""


@dataclass(frozen=True, slots=True)
class ZepData:
    channel: int
    device_id: int
    lqi: int
    timestamp: float  # seconds since the Unix epoch
    sequence: int
    frame: bytes  # the 802.15.4 MAC frame including its 2-byte FCS
    lqi_mode: int = 0  # 0: LQI present; 1: CRC present instead

    def encode(self) -> bytes:
        ntp = self.timestamp + NTP_UNIX_OFFSET
        fixed = (int(ntp) << 32) | int((ntp % 1) * (1 << 32))
        if not 0 < len(self.frame) <= 127:
            raise ZepError(f"an 802.15.4 frame is 1..127 bytes, not {len(self.frame)}")
        return (
            _DATA.pack(
                PREAMBLE,
                VERSION,
                TYPE_DATA,
                self.channel,
                self.device_id,
                self.lqi_mode,
                self.lqi,
                fixed,
                self.sequence,
                bytes(10),
                len(self.frame),
            )
            + self.frame
        )


@dataclass(frozen=True, slots=True)
class ZepAck:
    sequence: int

    def encode(self) -> bytes:
        return PREAMBLE + bytes([VERSION, TYPE_ACK]) + struct.pack(">I", self.sequence)


def decode(datagram: bytes) -> ZepData | ZepAck:
    if len(datagram) < 4 or datagram[:2] != PREAMBLE:
        raise ZepError("not a ZEP packet (no 'EX' preamble)")
    if datagram[2] != VERSION:
        raise ZepError(f"ZEP version {datagram[2]} is not supported (only 2)")
    if datagram[3] == TYPE_ACK:
        if len(datagram) != 8:
            raise ZepError(f"a ZEP ack is 8 bytes, not {len(datagram)}")
        return ZepAck(struct.unpack(">I", datagram[4:8])[0])
    if datagram[3] != TYPE_DATA:
        raise ZepError(f"unknown ZEP packet type {datagram[3]}")
    if len(datagram) < _DATA.size:
        raise ZepError(f"ZEP data header needs {_DATA.size} bytes, got {len(datagram)}")
    (_, _, _, channel, device_id, lqi_mode, lqi, fixed, sequence, _, length) = _DATA.unpack_from(
        datagram
    )
    frame = datagram[_DATA.size :]
    if len(frame) != length:
        raise ZepError(f"ZEP says the frame has {length} bytes but {len(frame)} follow")
    timestamp = (fixed >> 32) + (fixed & 0xFFFFFFFF) / (1 << 32) - NTP_UNIX_OFFSET
    return ZepData(channel, device_id, lqi, timestamp, sequence, frame, lqi_mode)
