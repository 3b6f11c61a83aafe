"""General Block Transfer on the HAN tunnel: a GBCS message longer than the tunnel's 1500
octets (RTDS's 6.23 CS02b is 1,900) crosses in blocks and is put back together whole;
blocks out of order or a message without bound are dropped, not guessed at."""

from __future__ import annotations

import pytest

from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import gbt
from rig.protocol.zigbee.se import MAX_TRANSFER_SIZE
from tests.test_usecases import _rtds

COS = "6.23_CS02bSupplierByTransCoS/CS02bSupplierByTransCoS_6.23_IMMEDIATE_SUCCESS_COMMAND"


def test_a_long_command_crosses_in_blocks_and_is_put_back_whole() -> None:
    command = _rtds(COS)
    assert len(command) > MAX_TRANSFER_SIZE
    parts = gbt.blocks(command, MAX_TRANSFER_SIZE)
    assert len(parts) == 2 and all(len(p) <= MAX_TRANSFER_SIZE for p in parts)
    assert all(gbt.is_block(p) for p in parts)
    assert [gbt.Block.decode(p).number for p in parts] == [1, 2]
    assert [gbt.Block.decode(p).last for p in parts] == [False, True]
    joined = gbt.Reassembly()
    assert joined.add(parts[0]) is None
    assert joined.add(parts[1]) == command
    # a message that fits goes as it is
    assert gbt.blocks(command[:100], MAX_TRANSFER_SIZE) == [command[:100]]


def test_blocks_out_of_order_or_without_bound_are_dropped() -> None:
    parts = gbt.blocks(bytes(range(256)) * 20, 600)
    assert len(parts) == 9
    joined = gbt.Reassembly()
    joined.add(parts[0])
    with pytest.raises(DecodeError, match="block 3 where block 2 was due"):
        joined.add(parts[2])
    assert joined.parts == []  # what came before is dropped with it
    with pytest.raises(DecodeError, match="block 2 where block 1 was due"):
        joined.add(parts[1])
    endless = gbt.Reassembly()
    huge = gbt.blocks(bytes(gbt.MAX_MESSAGE + 10), 1500)
    with pytest.raises(DecodeError, match="longer than"):
        for p in huge:
            endless.add(p)
    with pytest.raises(DecodeError, match="not a general-block-transfer"):
        gbt.Block.decode(b"\xdf\x09")
    with pytest.raises(DecodeError):
        gbt.Block.decode(parts[0][:-1])
