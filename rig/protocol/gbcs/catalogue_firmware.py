"""GBCS use cases: the meters' firmware use cases (11.2 Read Firmware Version: ECS52, GCS38),
issue 16. Declared as :mod:`rig.protocol.gbcs.catalogue` declares the others, which gathers
them into CATALOGUE (this module must not import the catalogue)."""

from __future__ import annotations

from rig.protocol.gbcs.usecase import UseCase

USE_CASES: tuple[UseCase, ...] = ()
