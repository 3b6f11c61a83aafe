"""Byte-level reading and writing shared by the protocol decoders.

Every decoder reads through a :class:`Reader`, so a malformed input always ends in a
:class:`DecodeError` that names what was expected and the absolute offset where the
input stopped making sense, never in an ``IndexError`` or a silent truncation.
"""

from __future__ import annotations


class DecodeError(ValueError):
    """Input that does not follow the format; ``offset`` is counted from the outermost message."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} (at byte offset {offset})")
        self.reason = message
        self.offset = offset


class Reader:
    """A cursor over bytes; ``base`` is the absolute offset of ``data[0]`` in the whole message."""

    __slots__ = ("base", "data", "end", "pos")

    def __init__(self, data: bytes, *, base: int = 0, start: int = 0, end: int | None = None):
        self.data = data
        self.pos = start
        self.end = len(data) if end is None else end
        self.base = base

    @property
    def offset(self) -> int:
        """Absolute offset of the next byte."""
        return self.base + self.pos

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def at_end(self) -> bool:
        return self.pos >= self.end

    def fail(self, message: str) -> DecodeError:
        return DecodeError(message, self.offset)

    def peek(self, what: str = "a byte") -> int:
        if self.pos >= self.end:
            raise self.fail(f"input ends where {what} was expected")
        return self.data[self.pos]

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise self.fail(f"{what} needs {n} bytes but only {self.remaining} remain")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def rest(self) -> bytes:
        return self.take(self.remaining, "the rest")

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def uint(self, n: int, what: str) -> int:
        return int.from_bytes(self.take(n, what), "big")

    def le(self, n: int, what: str) -> int:
        """An unsigned little-endian integer (IEEE 802.15.4, Zigbee and ZCL fields)."""
        return int.from_bytes(self.take(n, what), "little")

    def sint(self, n: int, what: str) -> int:
        return int.from_bytes(self.take(n, what), "big", signed=True)

    def expect(self, value: bytes, what: str) -> None:
        at = self.offset
        got = self.take(len(value), what)
        if got != value:
            raise DecodeError(f"{what}: expected {value.hex()}, found {got.hex()}", at)

    def der_length(self, what: str) -> int:
        """A DER definite length: short form, or 0x81..0x84 long form, shortest only."""
        at = self.offset
        value, width = self.ber_length(what)
        if width and (value < 0x80 or value >> (8 * (width - 1)) == 0):
            raise DecodeError(f"the length of {what} is not in its shortest form", at)
        return value

    def ber_length(self, what: str) -> tuple[int, int]:
        """A BER definite length and the number of long-form octets (0: short form)."""
        at = self.offset
        first = self.u8(f"the length of {what}")
        if first < 0x80:
            return first, 0
        count = first & 0x7F
        if count == 0 or count > 4:
            raise DecodeError(f"the length of {what} uses an unsupported form 0x{first:02X}", at)
        return self.uint(count, f"the length of {what}"), count

    def sub(self, n: int, what: str) -> Reader:
        """A reader over the next ``n`` bytes; this reader moves past them."""
        if n < 0 or self.pos + n > self.end:
            raise self.fail(f"{what} claims {n} bytes but only {self.remaining} remain")
        inner = Reader(self.data, base=self.base, start=self.pos, end=self.pos + n)
        self.pos += n
        return inner

    def done(self, what: str) -> None:
        if self.pos != self.end:
            raise self.fail(f"{self.remaining} unexpected bytes after {what}")


def der_length(n: int, width: int = 0) -> bytes:
    """The BER definite length of ``n``: the shortest form, or ``width`` long-form octets."""
    if n < 0:
        raise ValueError("a length is never negative")
    if n < 0x80 and not width:
        return bytes([n])
    width = max(width, (n.bit_length() + 7) // 8)
    return bytes([0x80 | width]) + n.to_bytes(width, "big")


def unhex(text: str) -> bytes:
    """Hex text as GBCS tools write it (spaces, newlines and a 0x prefix tolerated)."""
    cleaned = "".join(text.split())
    if cleaned[:2].lower() == "0x":
        cleaned = cleaned[2:]
    try:
        return bytes.fromhex(cleaned)
    except ValueError as exc:
        raise DecodeError(f"not hexadecimal text: {exc}", 0) from None
