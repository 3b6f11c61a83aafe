"""Transforms of the GSME's billing data logs and network data log, laid out as RTDS 4.5.0
has them: 4.4.2 and 4.4.3 Retrieve Billing Data Log become GCS15b (change of mode or
tariff) and GCS15c (billing calendar), 12 Get Prepay Snapshots and 12 Get Snapshots of the
ReadLogPeriod with the use case's Snapshot Cause; 4.4.4 (payment-based debt payments)
becomes GCS15d, Get Debt Repayment Log from the period's start to its end; 4.10 Read
Network Data becomes GCS18, Get Sampled Data of the network data log, one sample per 6
minutes of the period; 4.17 Retrieve Daily Consumption Log (to the GPF) becomes GCS61, Get
Sampled Data of the daily consumption log, one sample per day of the period."""

from __future__ import annotations

from gateway.transform.prepay_logs import read_log_period
from gateway.transform.registry import TransformInput, TransformRefused, transforms
from rig.protocol.duis import codes
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue_gas_billing import (
    GCS15B,
    GCS15C,
    GCS15D,
    GCS18,
    GCS61,
    billing_snapshots,
    daily_consumption_request,
    get_debt_repayment_log,
    network_log_request,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, command


def _period(given: TransformInput) -> tuple[int, int]:
    start, end = read_log_period(given)
    return gbz.zigbee_time(start), gbz.zigbee_time(end)


@transforms(GCS15B, GCS15C)
def read_gas_billing_data_log(uc: UseCase, given: TransformInput) -> GbcsMessage:
    argument = billing_snapshots(uc, *_period(given))
    return command(uc, given.counter, given.originator.raw, given.device.raw, argument)


@transforms(GCS15D)
def read_gas_debt_payments(uc: UseCase, given: TransformInput) -> GbcsMessage:
    argument = get_debt_repayment_log(*_period(given))
    return command(uc, given.counter, given.originator.raw, given.device.raw, argument)


@transforms(GCS18, GCS61)
def read_gas_sampled_data(uc: UseCase, given: TransformInput) -> GbcsMessage:
    ask = network_log_request if uc is GCS18 else daily_consumption_request
    try:
        argument = ask(*_period(given))
    except ValueError as exc:
        raise TransformRefused(codes.NOT_DUIS, f"ReadLogPeriod: {exc}") from None
    return command(uc, given.counter, given.originator.raw, given.device.raw, (argument,))
