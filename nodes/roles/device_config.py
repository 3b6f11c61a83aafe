"""What a meter serves of the ESME's device configuration (6.2.x, 6.4.x)."""

from __future__ import annotations

from typing import Any


def serve_device_config(meter: Any) -> None:
    """Serve the ESME's device configuration on ``meter``'s object server."""
