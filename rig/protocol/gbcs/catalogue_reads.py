"""GBCS use cases: family 4's reads (4.x); issue 17."""

from __future__ import annotations

from rig.protocol.gbcs.usecase import UseCase

USE_CASES: tuple[UseCase, ...] = ()
