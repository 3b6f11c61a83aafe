"""What a meter serves for event logs and alert configuration (6.13, 6.22); issue 17."""

from __future__ import annotations

from typing import Any


def serve_event_logs(meter: Any) -> None:
    """Put event logs and alert configuration (6.13, 6.22) on the meter's object servers
    (its COSEM server for an ESME, its ZCL server for a GSME)."""
