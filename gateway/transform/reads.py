"""Transforms of family 4's reads (4.x); issue 17."""

from __future__ import annotations
