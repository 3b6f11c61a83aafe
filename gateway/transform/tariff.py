"""Transforms of the ESME's tariffs and prices (1.1.1, 1.1.2, 1.2.1, 1.2.2, 1.5, 1.6, 1.7, 4.11.1,
4.11.2), laid out as RTDS 4.5.0 has them."""

from __future__ import annotations
