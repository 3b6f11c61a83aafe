"""Property-based fuzzing of every decoder: any input ends in a value or a typed error
that names an offset inside the input, never in another exception."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rig.protocol.codec import DecodeError
from rig.protocol.duis.message import DuisError, parse_document
from rig.protocol.duis.xml import XmlError
from rig.protocol.gbcs import asn1, dlms, gbz
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.inspect import inspect
from rig.protocol.gbcs.payload import decode_payload
from rig.protocol.utrn import UtrnError
from rig.protocol.utrn import parse as parse_utrn
from tests.conftest import VECTORS
from tests.mutations import mutated

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _seeds() -> list[bytes]:
    folder = VECTORS / "gbcs" / "rtds-4.5.0"
    if not folder.is_dir():
        return [bytes.fromhex("df0901000000000000100008" + "00" * 30)]
    files = sorted(folder.rglob("*.HEX"))[::25]
    return [bytes.fromhex(p.read_text().strip()) for p in files]


SEEDS = _seeds()


def _mutated() -> st.SearchStrategy[bytes]:
    """Reference messages with bytes flipped, cut or inserted: deep into every decoder."""
    return mutated(SEEDS)


def _decodes_or_names_offset(decoder, data: bytes) -> None:
    try:
        decoder(data)
    except DecodeError as exc:
        assert 0 <= exc.offset <= len(data) + 8, exc  # payload offsets are absolute
        assert exc.reason


ANY = st.one_of(st.binary(max_size=300), _mutated())


@FUZZ
@given(ANY)
def test_gbcs_frame_decoder(data: bytes) -> None:
    _decodes_or_names_offset(GbcsMessage.decode, data)


@FUZZ
@given(_mutated())
def test_payload_decoders_via_whole_messages(data: bytes) -> None:
    try:
        msg = GbcsMessage.decode(data)
    except DecodeError:
        return
    try:
        payload = decode_payload(msg)
    except DecodeError as exc:
        assert msg.payload_offset <= exc.offset <= len(data)
        return
    assert payload.encode() == msg.payload  # whatever decodes, re-encodes identically


@FUZZ
@given(ANY)
def test_inspect_never_raises(data: bytes) -> None:
    record = inspect(data)
    assert "reencoded_identical" in record


@pytest.mark.parametrize("decoder", [dlms.decode, gbz.decode, asn1.decode])
@FUZZ
@given(data=st.binary(max_size=200))
def test_each_payload_decoder_alone(decoder, data: bytes) -> None:
    _decodes_or_names_offset(decoder, data)


@FUZZ
@given(st.binary(max_size=40))
def test_gbz_alert_decoder(data: bytes) -> None:
    _decodes_or_names_offset(lambda d: gbz.decode(b"\x01\x09" + d, alert=True), data)


@FUZZ
@given(st.one_of(st.text(max_size=30), st.from_regex(r"\A[0-9]{20}\Z")))
def test_utrn_parser(text: str) -> None:
    with contextlib.suppress(UtrnError):
        parse_utrn(text)


def _template() -> bytes:
    path = VECTORS / "duis" / "templates" / "ECS17b_4.1.1_SINGLE_SUCCESS_REQUEST_DUIS.XML"
    return path.read_bytes() if path.exists() else b"<r/>"


@FUZZ
@given(st.data())
def test_duis_parser(data: st.DataObject) -> None:
    doc = bytearray(_template())
    for _ in range(data.draw(st.integers(1, 3))):
        if not doc:
            break
        at = data.draw(st.integers(0, len(doc) - 1))
        doc[at : at + data.draw(st.integers(0, 3))] = data.draw(st.binary(max_size=3))
    with contextlib.suppress(XmlError, DuisError):
        parse_document(bytes(doc))


def test_fuzz_seeds_come_from_the_reference_set() -> None:
    if not (VECTORS / "gbcs" / "rtds-4.5.0").is_dir():
        pytest.skip("reference data absent: fuzzing runs from a synthetic seed only")
    assert len(SEEDS) >= 50 and all(GbcsMessage.decode(s).encode() == s for s in SEEDS)
    assert Path(__file__).exists()
