"""General Block Transfer (GBT, DLMS general-block-transfer, tag 0xE0): how a GBCS message
longer than the HAN tunnel's maximum transfer size (1500 octets) crosses the HAN in blocks.

A block is ``E0``, the block control (bit 7: the last block; bit 6: streaming; bits 0-5:
the window), the block number (from 1), the number of the block acknowledged (0: the
sender streams and waits for none) and the block's data as an A-XDR octet string. The
sender streams every block; the receiver puts them back together in order
(:class:`Reassembly`), refusing a gap, a repeat or a message that grows without bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rig.protocol.codec import DecodeError, Reader

GBT_TAG = 0xE0
LAST_BLOCK, STREAMING, WINDOW = 0x80, 0x40, 0x01
HEADER = 1 + 1 + 2 + 2 + 3  # tag, control, number, ack, the longest length it writes
MAX_MESSAGE = 64 * 1024  # what a receiver puts together at most


def _length(n: int) -> bytes:
    """An A-XDR length: one octet below 0x80, else 0x81/0x82 and the length."""
    if n < 0x80:
        return bytes([n])
    if n < 0x100:
        return bytes([0x81, n])
    return bytes([0x82]) + n.to_bytes(2, "big")


def is_block(data: bytes) -> bool:
    return data[:1] == bytes([GBT_TAG])


def blocks(message: bytes, max_size: int) -> list[bytes]:
    """``message`` as it crosses a link of ``max_size`` octets: itself when it fits, else
    its GBT blocks, each at most ``max_size`` octets."""
    if len(message) <= max_size:
        return [message]
    room = max_size - HEADER
    if room <= 0:
        raise ValueError(f"a link of {max_size} octets carries no GBT block")
    parts = [message[i : i + room] for i in range(0, len(message), room)]
    out = []
    for number, part in enumerate(parts, start=1):
        control = (LAST_BLOCK if number == len(parts) else 0) | STREAMING | WINDOW
        head = bytes([GBT_TAG, control]) + number.to_bytes(2, "big") + bytes(2)
        out.append(head + _length(len(part)) + part)
    return out


@dataclass(frozen=True, slots=True)
class Block:
    last: bool
    number: int
    data: bytes

    @classmethod
    def decode(cls, raw: bytes) -> Block:
        r = Reader(raw)
        if r.u8("the GBT tag") != GBT_TAG:
            raise DecodeError("not a general-block-transfer block", 0)
        control = r.u8("the block control")
        number = int.from_bytes(r.take(2, "the block number"), "big")
        r.take(2, "the acknowledged block number")
        first = r.u8("the block data's length")
        if first < 0x80:
            length = first
        elif first in (0x81, 0x82):
            length = int.from_bytes(r.take(first - 0x80, "the block data's length"), "big")
        else:
            raise DecodeError(f"GBT block data length form 0x{first:02X}", 0)
        data = r.take(length, "the block data")
        if not r.at_end():
            raise DecodeError("bytes after the GBT block's data", 0)
        return cls(bool(control & LAST_BLOCK), number, data)


@dataclass
class Reassembly:
    """One sender's blocks, put back together in order."""

    parts: list[bytes] = field(default_factory=list)

    def add(self, raw: bytes) -> bytes | None:
        """The whole message once ``raw`` (its last block) completes it, else None.
        DecodeError (and the blocks so far dropped) for a block out of order or a message
        longer than :data:`MAX_MESSAGE`."""
        try:
            block = Block.decode(raw)
            if block.number != len(self.parts) + 1:
                raise DecodeError(
                    f"GBT block {block.number} where block {len(self.parts) + 1} was due", 0
                )
            if sum(map(len, self.parts)) + len(block.data) > MAX_MESSAGE:
                raise DecodeError(f"a GBT message longer than {MAX_MESSAGE} octets", 0)
        except DecodeError:
            self.parts.clear()
            raise
        self.parts.append(block.data)
        if not block.last:
            return None
        whole = b"".join(self.parts)
        self.parts.clear()
        return whole
