"""UTRNs: the 20-digit prepayment top-up codes of GBCS section 14 (use case CS01a).

A supplier builds a Prepayment Top-Up Token (PTUT, 64 bits):

* high 32 bits: 7 zero bits | 10 low bits of (originator counter >> 32) | value class
  (00 pennies, 01 pounds) | value (13 bits, 0..8191);
* low 32 bits: the last 4 bytes of an AES-GCM tag (16 bytes, no plaintext) keyed by the
  KDF (command mode) of the supplier's *prepayment* KA key and the device's KA key; IV =
  originator || 00000000; AAD = 11 00000000 00 || originator || target || 01 ||
  counter(8) || PTUT high(4).

PPTD = 7394156990786306048 + PTUT (19 digits); the UTRN appends the GBCS Verhoeff check
digit (Tables 14.8a-c). A device rebuilds the counter from the 10 bits it carries and
the last counter it accepted, so a UTRN is accepted once.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from enum import IntEnum

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from rig.protocol.gbcs.security import KdfMode, gcm_iv, kdf

PPTD_BASE = 7394156990786306048
MAX_VALUE = 8191
COUNTER_BITS = 10

# GBCS Table 14.8a (permutation), 14.8b (multiplication), 14.8c (inverse)
_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)
_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_INV = (1, 2, 6, 7, 5, 8, 3, 0, 9, 4)


class UtrnError(ValueError):
    """A UTRN that is malformed, fails its check digit or its MAC, or is replayed."""


class ValueClass(IntEnum):
    PENNIES = 0
    POUNDS = 1


@dataclass(frozen=True, slots=True)
class TopUp:
    value: int
    value_class: ValueClass
    counter: int

    @property
    def pence(self) -> int:
        return self.value * (100 if self.value_class is ValueClass.POUNDS else 1)


def check_digit(digits: str) -> str:
    """The GBCS Verhoeff check digit (section 14.8) of a string of digits."""
    if not digits.isdigit() or not digits.isascii():
        raise UtrnError(f"{digits!r} is not a string of digits")
    acc, k = 0, 4
    for ch in digits:
        acc = _D[acc][_P[k][int(ch)]]
        k = (k + 1) % 8
    return str(_INV[acc])


def _high_dword(top_up: TopUp) -> int:
    if not 0 <= top_up.value <= MAX_VALUE:
        raise UtrnError(f"a UTRN value is 0..{MAX_VALUE}, not {top_up.value}")
    counter_bits = (top_up.counter >> 32) & ((1 << COUNTER_BITS) - 1)
    return (counter_bits << 15) | (int(top_up.value_class) << 13) | top_up.value


def _low_dword(
    top_up: TopUp,
    high: int,
    originator: bytes,
    target: bytes,
    pp_private: ec.EllipticCurvePrivateKey,
    device_public: ec.EllipticCurvePublicKey,
) -> int:
    key = kdf(pp_private, device_public, originator, target, top_up.counter, KdfMode.COMMAND)
    aad = (
        bytes.fromhex("110000000000")
        + originator
        + target
        + b"\x01"
        + top_up.counter.to_bytes(8, "big")
        + high.to_bytes(4, "big")
    )
    tag = AESGCM(key).encrypt(gcm_iv(originator), b"", aad)
    return int.from_bytes(tag[-4:], "big")


def make(
    top_up: TopUp,
    originator: bytes,
    target: bytes,
    pp_private: ec.EllipticCurvePrivateKey,
    device_public: ec.EllipticCurvePublicKey,
) -> str:
    """The 20-digit UTRN for a top-up from ``originator`` (supplier) to ``target`` (meter)."""
    if not 0 <= top_up.counter < 1 << 64:
        raise UtrnError("the counter is an unsigned 64-bit number")
    high = _high_dword(top_up)
    low = _low_dword(top_up, high, originator, target, pp_private, device_public)
    pptd = str(PPTD_BASE + ((high << 32) | low))
    return pptd + check_digit(pptd)


def parse(utrn: str) -> tuple[int, ValueClass, int, int]:
    """(value, value class, 10 counter bits, low dword), after checking form and check digit."""
    text = utrn.replace(" ", "").replace("-", "")
    if len(text) != 20 or not text.isdigit() or not text.isascii():
        raise UtrnError(f"a UTRN is 20 digits, not {utrn!r}")
    if check_digit(text[:19]) != text[19]:
        raise UtrnError(f"UTRN {text} fails its check digit: mistyped?")
    ptut = int(text[:19]) - PPTD_BASE
    if not 0 <= ptut < 1 << 57:
        raise UtrnError(f"UTRN {text} is outside the range of prepayment top-up tokens")
    high, low = ptut >> 32, ptut & 0xFFFFFFFF
    try:
        value_class = ValueClass((high >> 13) & 0x3)
    except ValueError:
        raise UtrnError(f"UTRN {text} names an unknown value class") from None
    return high & 0x1FFF, value_class, (high >> 15) & 0x3FF, low


def validate(
    utrn: str,
    originator: bytes,
    target: bytes,
    pp_private: ec.EllipticCurvePrivateKey,
    device_public: ec.EllipticCurvePublicKey,
    *,
    last_counter: int = 0,
) -> TopUp:
    """Check a UTRN as the meter does; the counter must be above ``last_counter``."""
    value, value_class, bits, low = parse(utrn)
    # The smallest counter above last_counter whose 10 bits (of counter >> 32) match.
    epoch = last_counter >> (32 + COUNTER_BITS)
    counter = ((epoch << COUNTER_BITS) | bits) << 32
    if counter <= last_counter:
        counter += 1 << (32 + COUNTER_BITS)
    top_up = TopUp(value, value_class, counter)
    expected = _low_dword(
        top_up, _high_dword(top_up), originator, target, pp_private, device_public
    )
    if not hmac.compare_digest(expected.to_bytes(4, "big"), low.to_bytes(4, "big")):
        raise UtrnError(
            "UTRN does not authenticate: wrong supplier or meter, or already used "
            f"(counter {counter:#x} is the next one above {last_counter:#x})"
        )
    return top_up
