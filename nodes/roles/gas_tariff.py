"""What a meter serves of the GSME's tariffs and prices (1.1.1, 1.2.1, 1.5, 1.6, 4.11.1)."""

from __future__ import annotations

from typing import Any


def serve_gas_tariff(meter: Any) -> None:
    """Serve the GSME's tariffs and prices on ``meter``'s object server."""
