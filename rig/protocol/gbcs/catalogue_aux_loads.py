"""GBCS use cases of the ESME's auxiliary loads, boost button and auxiliary controller (6.14.x,
7.5-7.16): declared here, gathered by :mod:`rig.protocol.gbcs.catalogue` into CATALOGUE (this
module must not import the catalogue)."""

from __future__ import annotations

from rig.protocol.gbcs.usecase import UseCase

USE_CASES: tuple[UseCase, ...] = ()
