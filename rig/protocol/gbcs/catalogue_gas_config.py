"""GBCS use cases of the GSME's configuration, valve and network data (6.2.x, 6.6, 6.7, 6.8, 6.11,
6.20.1, 6.22, 7.2-7.4, 9.1, 14.1): declared here, gathered by :mod:`rig.protocol.gbcs.catalogue`
into CATALOGUE (this module must not import the catalogue)."""

from __future__ import annotations

from rig.protocol.gbcs.usecase import UseCase

USE_CASES: tuple[UseCase, ...] = ()
