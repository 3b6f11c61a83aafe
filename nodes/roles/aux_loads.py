"""What a meter serves of the ESME's auxiliary loads, boost button and auxiliary controller
(6.14.x, 7.5-7.16)."""

from __future__ import annotations

from typing import Any


def serve_aux_loads(meter: Any) -> None:
    """Serve the ESME's auxiliary loads, boost button and auxiliary controller on ``meter``'s
    object server."""
