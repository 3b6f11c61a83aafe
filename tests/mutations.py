"""One way to damage a good message for fuzzing: bytes flipped, cut, inserted or set, a few
times, anywhere. Every fuzz test that starts from reference messages draws from here."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

SET_BYTES = bytes([0x00, 0x7F, 0x80, 0x81, 0x82, 0xFF])


@st.composite
def mutated(
    draw: st.DrawFn,
    seeds: Sequence[bytes],
    inserts: Sequence[bytes] = (),
    set_bytes: bytes = SET_BYTES,
    most: int = 4,
) -> bytes:
    """A seed with 1..``most`` mutations; an insert is random bytes or one of ``inserts``."""
    data = bytearray(draw(st.sampled_from(list(seeds))))
    extra = st.binary(min_size=1, max_size=8)
    if inserts:
        extra = st.one_of(extra, st.sampled_from(list(inserts)))
    for _ in range(draw(st.integers(1, most))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "set"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(extra)
        elif data:
            data[at] = draw(st.sampled_from(list(set_bytes)))
    return bytes(data)
