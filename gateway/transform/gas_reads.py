"""Transforms of the GSME's reads of family 4 (4.x); issue 17."""

from __future__ import annotations
