"""EUI-64 identifiers as GBCS and DUIS write them.

DUIS writes ``00-DB-12-34-56-78-90-A0``; GBCS system titles and SMKI certificates
carry the 8 raw bytes; MQTT topics and file names use the 16 hex digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SEPARATORS = re.compile(r"[-:\s]")
_HEX16 = re.compile(r"[0-9A-Fa-f]{16}")


class EuiError(ValueError):
    """A text that is not an EUI-64."""


@dataclass(frozen=True, order=True, slots=True)
class Eui64:
    """An IEEE EUI-64, stored as 8 bytes, most significant first."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != 8:
            raise EuiError(f"an EUI-64 has 8 bytes, not {len(self.raw)}")

    @classmethod
    def parse(cls, text: str) -> Eui64:
        """Accept ``00-DB-12-34-56-78-90-A0``, ``00:db:...`` or ``00DB1234567890A0``."""
        if not isinstance(text, str):
            raise EuiError(f"expected an EUI-64 as text, got {type(text).__name__}")
        groups = _SEPARATORS.split(text.strip())
        if len(groups) > 1 and not (len(groups) == 8 and all(len(g) == 2 for g in groups)):
            raise EuiError(
                f"{text!r} is not an EUI-64: write 8 bytes, e.g. 00-DB-12-34-56-78-90-A0"
            )
        digits = "".join(groups)
        if not _HEX16.fullmatch(digits):
            raise EuiError(
                f"{text!r} is not an EUI-64: expected 16 hex digits, e.g. 00-DB-12-34-56-78-90-A0"
            )
        return cls(bytes.fromhex(digits))

    @property
    def duis(self) -> str:
        """The DUIS form: ``00-DB-12-34-56-78-90-A0``."""
        return "-".join(f"{b:02X}" for b in self.raw)

    @property
    def hex(self) -> str:
        """16 upper-case hex digits, as in topics and file names."""
        return self.raw.hex().upper()

    def __str__(self) -> str:
        return self.duis
