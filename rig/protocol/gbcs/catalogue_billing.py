"""GBCS use cases of the ESME's remaining reads of family 4 (4.1.3, 4.2, 4.4.x, 4.6.x, 4.8.2,
4.8.3, 4.10, 4.12.x, 4.15, 4.16): declared here, gathered by :mod:`rig.protocol.gbcs.catalogue`
into CATALOGUE (this module must not import the catalogue)."""

from __future__ import annotations

from rig.protocol.gbcs.usecase import UseCase

USE_CASES: tuple[UseCase, ...] = ()
