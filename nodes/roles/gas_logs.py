"""The GSME's prepayment logs on its ZCL server (4.14, 4.4.5). Being built: issue 15."""

from __future__ import annotations

from typing import Any


def serve_gas_logs(meter: Any) -> None:
    """Put the GSME's prepayment logs on its ZCL server."""
