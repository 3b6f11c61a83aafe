"""GBCS use cases of the ESME's device configuration (6.2.x, 6.4.x): declared here, gathered by
:mod:`rig.protocol.gbcs.catalogue` into CATALOGUE (this module must not import the catalogue)."""

from __future__ import annotations

from rig.protocol.gbcs.usecase import UseCase

USE_CASES: tuple[UseCase, ...] = ()
