"""GBCS use cases of commissioning and firmware activation (issue 16): 8.1.1 Commission
Device (ECS70, GCS28) and 11.3 Activate Firmware (CS06). Declared as
:mod:`rig.protocol.gbcs.catalogue` declares the others, which gathers them into CATALOGUE
(this module must not import the catalogue)."""

from __future__ import annotations

from rig.protocol.gbcs.usecase import UseCase

USE_CASES: tuple[UseCase, ...] = ()
