"""What a GSME serves for the GSME's reads of family 4 (4.x); issue 17."""

from __future__ import annotations

from typing import Any


def serve_gas_reads(meter: Any) -> None:
    """Put the GSME's reads of family 4 (4.x) on the GSME's ZCL server."""
