"""Transforms of use cases whose command takes nothing from the DUIS body: the command is
the one its declaration describes, for the request's counter and parties (reads of
registers, of the load switch and of the meter balance, the load switch commands,
emergency credit)."""

from __future__ import annotations

from gateway.transform.registry import TransformInput, transforms
from rig.protocol.gbcs.catalogue import (
    ECS09,
    ECS17B,
    ECS42,
    ECS43,
    ECS44,
    ECS45,
    ECS82,
    GCS13A,
)
from rig.protocol.gbcs.catalogue_gas import GCS06, GCS60
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, command


@transforms(ECS17B, ECS42, ECS43, ECS44, ECS45, ECS82, GCS13A, ECS09, GCS60, GCS06)
def from_declaration(uc: UseCase, given: TransformInput) -> GbcsMessage:
    return command(uc, given.counter, given.originator.raw, given.device.raw)
