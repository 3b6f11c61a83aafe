"""Transforms of the ESME's auxiliary loads, boost button and auxiliary controller (6.14.x,
7.5-7.16), laid out as RTDS 4.5.0 has them."""

from __future__ import annotations
