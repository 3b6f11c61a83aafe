"""The GSME's prepayment use cases (GBZ, Prepayment cluster 0x0705), declared as
:mod:`rig.protocol.gbcs.catalogue` declares the others, which gathers them into CATALOGUE.
(It must not import the catalogue.) Being built: issue 15."""

from __future__ import annotations

from rig.protocol.gbcs.usecase import UseCase

GAS_PREPAYMENT: tuple[UseCase, ...] = ()
