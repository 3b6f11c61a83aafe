"""GBCS use cases: the communications hub function's use cases (the CHF device log: 8.11 CCS01,
CCS02; 8.9 CCS05-CCS07), ASN.1 payloads, issue 16. Declared as
:mod:`rig.protocol.gbcs.catalogue` declares the others, which gathers them into CATALOGUE
(this module must not import the catalogue)."""

from __future__ import annotations

from rig.protocol.gbcs.usecase import UseCase

USE_CASES: tuple[UseCase, ...] = ()
