"""The GSME's prepayment logs (4.14 GCS16b, 4.4.5 GCS15e): being built, issue 15. Declared
as :mod:`rig.protocol.gbcs.catalogue` declares the others, which gathers them into
CATALOGUE (this module must not import the catalogue)."""

from __future__ import annotations

from rig.protocol.gbcs.usecase import UseCase

USE_CASES: tuple[UseCase, ...] = ()
