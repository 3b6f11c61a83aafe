"""pcap files of 802.15.4 frames (link type 195: 802.15.4 with FCS), as Wireshark reads them."""

from __future__ import annotations

import struct

LINKTYPE_IEEE802_15_4_WITHFCS = 195
SNAPLEN = 256


def file_header(linktype: int = LINKTYPE_IEEE802_15_4_WITHFCS) -> bytes:
    """The 24-byte global header: microsecond timestamps, version 2.4, little-endian."""
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, linktype)


def record(timestamp: float, frame: bytes) -> bytes:
    seconds = int(timestamp)
    micros = round((timestamp - seconds) * 1_000_000)
    if micros >= 1_000_000:
        seconds, micros = seconds + 1, micros - 1_000_000
    return struct.pack("<IIII", seconds, micros, len(frame), len(frame)) + frame


def read(data: bytes) -> list[tuple[float, bytes]]:
    """Records of a pcap written by :func:`file_header` and :func:`record` (for tests and tools)."""
    if len(data) < 24 or struct.unpack_from("<I", data)[0] != 0xA1B2C3D4:
        raise ValueError("not a little-endian microsecond pcap file")
    out, at = [], 24
    while at + 16 <= len(data):
        sec, usec, incl, _orig = struct.unpack_from("<IIII", data, at)
        at += 16
        if at + incl > len(data):
            break  # a record cut by the end of a live stream
        out.append((sec + usec / 1e6, data[at : at + incl]))
        at += incl
    return out
