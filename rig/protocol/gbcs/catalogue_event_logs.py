"""GBCS use cases: event logs and alert configuration (6.13, 6.22); issue 17."""

from __future__ import annotations

from rig.protocol.gbcs.usecase import UseCase

USE_CASES: tuple[UseCase, ...] = ()
