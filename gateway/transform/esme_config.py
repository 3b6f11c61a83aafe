"""Transforms of the ESME's identity, security and operational configuration (6.5, 6.8, 6.11, 6.12,
6.18.x, 6.20.x, 6.22 ECS25b, 6.25, 6.26, 6.27), laid out as RTDS 4.5.0 has them."""

from __future__ import annotations
