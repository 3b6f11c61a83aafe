"""Transforms of the GSME's tariffs and prices (1.1.1, 1.2.1, 1.5, 1.6, 4.11.1), laid out as RTDS
4.5.0 has them."""

from __future__ import annotations
