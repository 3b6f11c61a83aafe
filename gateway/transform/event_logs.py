"""Transforms of event logs and alert configuration (6.13, 6.22); issue 17."""

from __future__ import annotations
