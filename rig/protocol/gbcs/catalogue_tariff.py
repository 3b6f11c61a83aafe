"""GBCS use cases of the ESME's tariffs and prices (1.1.1, 1.1.2, 1.2.1, 1.2.2, 1.5, 1.6, 1.7,
4.11.1, 4.11.2): declared here, gathered by :mod:`rig.protocol.gbcs.catalogue` into CATALOGUE
(this module must not import the catalogue)."""

from __future__ import annotations

from rig.protocol.gbcs.usecase import UseCase

USE_CASES: tuple[UseCase, ...] = ()
