"""Zigbee install codes as printed on GB devices.

An install code is 6, 8, 12 or 16 random bytes followed by their CRC-16/X-25
(little-endian), the form ZigBee Smart Energy and zigpy's ``convert_install_code``
expect. The link key derived from it (AES-MMO hash) is the radio layer's job.
"""

from __future__ import annotations

VALID_CODE_LENGTHS = (6, 8, 12, 16)


class InstallCodeError(ValueError):
    """An install code of the wrong length or with a bad CRC."""


def crc16_x25(data: bytes) -> int:
    """CRC-16/X-25 (reflected 0x1021, init 0xFFFF, final xor 0xFFFF)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc ^ 0xFFFF


def with_crc(code: bytes) -> bytes:
    """Append the CRC to the random part of an install code."""
    if len(code) not in VALID_CODE_LENGTHS:
        raise InstallCodeError(f"an install code has 6, 8, 12 or 16 bytes, not {len(code)}")
    return code + crc16_x25(code).to_bytes(2, "little")


def parse_install_code(text: str) -> bytes:
    """Parse hex (spaces, ``-`` and ``:`` allowed) and check length and CRC."""
    digits = "".join(ch for ch in str(text) if ch not in " -:")
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        raise InstallCodeError(f"{text!r} is not hex") from None
    if len(raw) - 2 not in VALID_CODE_LENGTHS:
        raise InstallCodeError(
            "an install code is 6, 8, 12 or 16 bytes plus a 2-byte CRC; "
            f"{text!r} has {len(raw)} bytes"
        )
    body, crc = raw[:-2], int.from_bytes(raw[-2:], "little")
    if crc16_x25(body) != crc:
        raise InstallCodeError(
            f"install code CRC is {crc:04X} but should be {crc16_x25(body):04X}: "
            "a typo in the code?"
        )
    return raw
