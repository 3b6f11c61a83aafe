"""A meter's clock as its object servers serve it (issue 16: 8.1.1 Commission Device, ECS70
on the ESME's COSEM clock, GCS28 on the GSME's Time cluster). Filled by the commissioning
work; the meters call :func:`serve_clock` once their servers exist."""

from __future__ import annotations

from typing import Any


def serve_clock(meter: Any) -> None:
    """Put the meter's clock on its COSEM or ZCL server (nothing yet)."""
