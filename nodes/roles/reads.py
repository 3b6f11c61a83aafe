"""What a meter serves for family 4's reads (4.x); issue 17."""

from __future__ import annotations

from typing import Any


def serve_reads(meter: Any) -> None:
    """Put family 4's reads (4.x) on the meter's object servers
    (its COSEM server for an ESME, its ZCL server for a GSME)."""
