"""Transforms of the GSME's prepayment log reads, laid out as RTDS 4.5.0 has them: 4.4.5
Retrieve Billing Data Log (Prepayment Credits) becomes GCS15e, the Prepayment cluster's Get
Top Up Log from the ReadLogPeriod's start (the component's From Date-Time) up to its end
(capped at the latest ZigBee time), five records; 4.14 Read Prepayment Daily Read Log
becomes GCS16b, 31 Get Prepay Snapshots of the period, offsets 0 to 30."""

from __future__ import annotations

from gateway.transform.prepay_logs import read_log_period
from gateway.transform.registry import TransformInput, transforms
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue_gas_logs import (
    GCS15E,
    GCS16B,
    get_prepay_snapshots,
    get_top_up_log,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, command


@transforms(GCS15E)
def read_gas_prepayment_credits(uc: UseCase, given: TransformInput) -> GbcsMessage:
    start, end = read_log_period(given)
    argument = get_top_up_log(gbz.zigbee_time(start), gbz.zigbee_time(end))
    return command(uc, given.counter, given.originator.raw, given.device.raw, argument)


@transforms(GCS16B)
def read_gas_daily_read_log(uc: UseCase, given: TransformInput) -> GbcsMessage:
    start, end = read_log_period(given)
    argument = get_prepay_snapshots(gbz.zigbee_time(start), gbz.zigbee_time(end))
    return command(uc, given.counter, given.originator.raw, given.device.raw, argument)
