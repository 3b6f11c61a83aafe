"""Transforms of the ESME's device configuration (6.2.x, 6.4.x), laid out as RTDS 4.5.0 has them."""

from __future__ import annotations
