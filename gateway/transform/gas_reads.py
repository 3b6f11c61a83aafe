"""Transforms of the GSME's reads of family 4, laid out as RTDS 4.5.0 has them: 4.1.2 Read
Instantaneous Import TOU Matrices becomes GCS13c and 4.1.4 Read Instantaneous Import Block
Counters GCS13b, and 4.18 Read Meter Balance to a GPF GCS60a, each the Read Attributes
its declaration describes (the DUIS body carries nothing the command takes); 4.8.1 Read
Active Import Profile Data becomes GCS17, a Get Sampled Data from the ReadLogPeriod's
start, one sample per half hour up to its end; 4.6.1 Retrieve Import Daily Read Log
becomes GCS16a, 31 Get Snapshots of the period, offsets 0 to 30 (the payloads GCS16b
sends on the Prepayment cluster)."""

from __future__ import annotations

from gateway.transform.prepay_logs import read_log_period
from gateway.transform.registry import TransformInput, TransformRefused, transforms
from rig.protocol.duis import codes
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue_gas_logs import get_prepay_snapshots
from rig.protocol.gbcs.catalogue_gas_reads import (
    GCS13B,
    GCS13C,
    GCS16A,
    GCS17,
    GCS60A,
    profile_request,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, command


@transforms(GCS13C, GCS13B, GCS60A)
def read_gas_register_matrix(uc: UseCase, given: TransformInput) -> GbcsMessage:
    return command(uc, given.counter, given.originator.raw, given.device.raw)


@transforms(GCS17)
def read_gas_profile_data(uc: UseCase, given: TransformInput) -> GbcsMessage:
    start, end = read_log_period(given)
    try:
        asked = profile_request(gbz.zigbee_time(start), gbz.zigbee_time(end))
    except ValueError as exc:
        raise TransformRefused(codes.NOT_DUIS, f"ReadLogPeriod: {exc}") from None
    return command(uc, given.counter, given.originator.raw, given.device.raw, (asked.encode(),))


@transforms(GCS16A)
def read_gas_daily_registers(uc: UseCase, given: TransformInput) -> GbcsMessage:
    start, end = read_log_period(given)
    argument = get_prepay_snapshots(gbz.zigbee_time(start), gbz.zigbee_time(end))
    return command(uc, given.counter, given.originator.raw, given.device.raw, argument)
