"""ASN.1 DER payloads of GBCS (CHF and security use cases: CS01-CS04, CS06-CS11, CCS and
GCS28 commissioning) as a typed tag-length-value tree.

GBCS defines these payloads in ASN.1 (e.g. TrustAnchorReplacementCommand, the CS08 device
log reads). :class:`Tlv` keeps each node's class, number and form, decodes the universal
primitives it meets (INTEGER, OCTET STRING, ENUMERATED, GeneralizedTime, OIDs…) for
display, and re-encodes byte for byte, including the non-minimal BER lengths some
devices send (``30 82 00 83``). Only definite lengths are accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rig.protocol.codec import DecodeError, Reader, der_length

MAX_DEPTH = 32
UNIVERSAL_NAMES = {
    1: "BOOLEAN",
    2: "INTEGER",
    3: "BIT STRING",
    4: "OCTET STRING",
    5: "NULL",
    6: "OBJECT IDENTIFIER",
    10: "ENUMERATED",
    12: "UTF8String",
    16: "SEQUENCE",
    17: "SET",
    19: "PrintableString",
    23: "UTCTime",
    24: "GeneralizedTime",
}
CLASSES = ("universal", "application", "context", "private")


@dataclass(frozen=True, slots=True)
class Tlv:
    cls: int  # 0 universal, 1 application, 2 context-specific, 3 private
    constructed: bool
    number: int
    value: bytes = b""  # primitive contents
    children: tuple[Tlv, ...] = ()
    length_width: int = 0  # long-form length octets as received (BER), 0 = shortest

    def encode(self) -> bytes:
        body = b"".join(c.encode() for c in self.children) if self.constructed else self.value
        first = (self.cls << 6) | (0x20 if self.constructed else 0)
        if self.number < 31:
            tag = bytes([first | self.number])
        else:
            groups = []
            n = self.number
            while True:
                groups.append(n & 0x7F)
                n >>= 7
                if not n:
                    break
            groups.reverse()
            tag = bytes([first | 0x1F]) + bytes(g | 0x80 for g in groups[:-1]) + bytes(groups[-1:])
        return tag + der_length(len(body), self.length_width) + body

    @property
    def name(self) -> str:
        if self.cls == 0:
            return UNIVERSAL_NAMES.get(self.number, f"UNIVERSAL {self.number}")
        return f"[{CLASSES[self.cls]} {self.number}]"

    def to_json(self) -> Any:
        if self.constructed:
            return {self.name: [c.to_json() for c in self.children]}
        out: dict[str, Any] = {self.name: self.value.hex()}
        if self.cls == 0:
            if self.number in (2, 10) and self.value:
                out["int"] = int.from_bytes(self.value, "big", signed=True)
            elif self.number in (12, 19, 23, 24):
                out["text"] = self.value.decode("ascii", "replace")
            elif self.number == 6:
                out["oid"] = _oid_text(self.value)
        return out

    @classmethod
    def decode(cls, r: Reader, depth: int = 0) -> Tlv:
        if depth > MAX_DEPTH:
            raise r.fail(f"ASN.1 nested deeper than {MAX_DEPTH} levels")
        first = r.u8("an ASN.1 tag")
        klass, constructed, number = first >> 6, bool(first & 0x20), first & 0x1F
        if number == 0x1F:
            at = r.offset
            number = 0
            for i in range(4):
                b = r.u8("a high tag number")
                if i == 0 and b == 0x80:
                    raise DecodeError("ASN.1 high tag number starts with a padding octet", at)
                number = (number << 7) | (b & 0x7F)
                if not b & 0x80:
                    break
            else:
                raise r.fail("ASN.1 tag number longer than 4 bytes")
            if number < 31:
                raise DecodeError(f"ASN.1 tag number {number} must use the one-octet form", at)
        length, width = r.ber_length("an ASN.1 value")
        if width and length >> (8 * (width - 1)) and length >= 0x80:
            width = 0  # already the shortest form: nothing to remember
        inner = r.sub(length, "an ASN.1 value")
        if not constructed:
            return cls(klass, False, number, inner.rest(), (), width)
        children = []
        while not inner.at_end():
            children.append(cls.decode(inner, depth + 1))
        return cls(klass, True, number, b"", tuple(children), width)


def _oid_text(raw: bytes) -> str:
    if not raw:
        return ""
    arcs, n = [], 0
    for b in raw:
        n = (n << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(n)
            n = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first, *arcs[1:]])


@dataclass(frozen=True, slots=True)
class DerPayload:
    elements: tuple[Tlv, ...]

    def encode(self) -> bytes:
        return b"".join(e.encode() for e in self.elements)

    def to_json(self) -> dict:
        return {"asn1": [e.to_json() for e in self.elements]}


def decode(data: bytes, *, base: int = 0) -> DerPayload:
    r = Reader(data, base=base)
    if r.at_end():
        raise r.fail("an ASN.1 payload cannot be empty")
    elements = []
    while not r.at_end():
        elements.append(Tlv.decode(r))
    return DerPayload(tuple(elements))


# --- building values (the rig's own payloads) -------------------------------------------------
SEQUENCE, INTEGER, OCTET_STRING, BIT_STRING, NULL, ENUMERATED, GENERALIZED_TIME = (
    16,
    2,
    4,
    3,
    5,
    10,
    24,
)


def integer(n: int, number: int = INTEGER, cls: int = 0) -> Tlv:
    """An INTEGER (or ENUMERATED, or an implicitly tagged one), DER: the shortest two's
    complement."""
    width = max(1, (n.bit_length() + 8) // 8)
    return Tlv(cls, False, number, n.to_bytes(width, "big", signed=True))


def octets(value: bytes) -> Tlv:
    return Tlv(0, False, OCTET_STRING, value)


def sequence(*children: Tlv, length_width: int = 0, number: int = SEQUENCE, cls: int = 0) -> Tlv:
    """A SEQUENCE (or an implicitly tagged constructed value) of ``children``; a
    ``length_width`` of 2 writes its length long-form as some devices do (``30 82 00 CA``)."""
    return Tlv(cls, True, number, children=tuple(children), length_width=length_width)


def int_value(field: Tlv) -> int:
    """The value of an INTEGER or ENUMERATED (or an implicitly tagged one)."""
    return int.from_bytes(field.value, "big", signed=True)
