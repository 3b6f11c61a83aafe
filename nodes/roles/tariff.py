"""What a meter serves of the ESME's tariffs and prices (1.1.1, 1.1.2, 1.2.1, 1.2.2, 1.5, 1.6, 1.7,
4.11.1, 4.11.2)."""

from __future__ import annotations

from typing import Any


def serve_tariff(meter: Any) -> None:
    """Serve the ESME's tariffs and prices on ``meter``'s object server."""
