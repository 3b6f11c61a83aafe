"""What a meter serves of the ESME's remaining reads of family 4 (4.1.3, 4.2, 4.4.x, 4.6.x, 4.8.2,
4.8.3, 4.10, 4.12.x, 4.15, 4.16)."""

from __future__ import annotations

from typing import Any


def serve_billing(meter: Any) -> None:
    """Serve the ESME's remaining reads of family 4 on ``meter``'s object server."""
