"""Transforms of the ESME's reads of family 4, laid out as RTDS 4.5.0 has them: 4.1.2
Read Instantaneous Import TOU Matrices becomes ECS17d, a protected read of the TOU
registers naming the counter and the two parties; 4.17 Retrieve Daily Consumption Log
becomes ECS66 and 4.8.1 Read Active Import Profile Data ECS22b, protected reads of the
daily consumption log and the half-hourly active import profile between the
ReadLogPeriod's two date-times."""

from __future__ import annotations

from gateway.transform.prepay_logs import read_log_period
from gateway.transform.registry import TransformInput, transforms
from rig.protocol.gbcs import dlms
from rig.protocol.gbcs.catalogue_reads import (
    ECS17D,
    ECS22B,
    ECS66,
    PROTECTED_READ,
    log_argument,
    tou_registers_argument,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, command


@transforms(ECS17D)
def read_tou_registers(uc: UseCase, given: TransformInput) -> GbcsMessage:
    originator, device = given.originator.raw, given.device.raw
    argument = tou_registers_argument(given.counter, originator, device)
    return command(uc, given.counter, originator, device, {PROTECTED_READ: argument})


@transforms(ECS66, ECS22B)
def read_log(uc: UseCase, given: TransformInput) -> GbcsMessage:
    start, end = read_log_period(given)
    originator, device = given.originator.raw, given.device.raw
    argument = log_argument(
        uc, dlms.date_time(start), dlms.date_time(end), given.counter, originator, device
    )
    return command(uc, given.counter, originator, device, {PROTECTED_READ: argument})
