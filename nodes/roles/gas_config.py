"""What a meter serves of the GSME's configuration, valve and network data (6.2.x, 6.6, 6.7, 6.8,
6.11, 6.20.1, 6.22, 7.2-7.4, 9.1, 14.1)."""

from __future__ import annotations

from typing import Any


def serve_gas_config(meter: Any) -> None:
    """Serve the GSME's configuration, valve and network data on ``meter``'s object server."""
