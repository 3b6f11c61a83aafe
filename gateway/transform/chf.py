"""Transforms of the communications hub function's use cases (the CHF device log: 8.11 CCS01,
CCS02; 8.9 CCS05-CCS07), ASN.1 payloads, issue 16."""

from __future__ import annotations
