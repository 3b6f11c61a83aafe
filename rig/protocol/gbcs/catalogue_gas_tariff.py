"""GBCS use cases of the GSME's tariffs and prices (1.1.1, 1.2.1, 1.5, 1.6, 4.11.1): declared here,
gathered by :mod:`rig.protocol.gbcs.catalogue` into CATALOGUE (this module must not import the
catalogue)."""

from __future__ import annotations

from rig.protocol.gbcs.usecase import UseCase

USE_CASES: tuple[UseCase, ...] = ()
