"""GBCS use cases of the ESME's identity, security and operational configuration (6.5, 6.8, 6.11,
6.12, 6.18.x, 6.20.x, 6.22 ECS25b, 6.25, 6.26, 6.27): declared here, gathered by
:mod:`rig.protocol.gbcs.catalogue` into CATALOGUE (this module must not import the catalogue)."""

from __future__ import annotations

from rig.protocol.gbcs.usecase import UseCase

USE_CASES: tuple[UseCase, ...] = ()
