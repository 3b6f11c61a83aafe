"""Transforms of the ESME's remaining reads of family 4, laid out as RTDS 4.5.0 has them: 4.2
Read Instantaneous Export Registers (ECS17a), 4.16 Read Active Power Import (ECS17c) and
4.15 Read Load Limit Data (ECS27) are GETs with nothing to take from the body; 4.1.3 Read
Instantaneous Import TOU With Blocks Matrices (ECS17e) a protected read naming the counter
and the two parties; 4.6.1 Retrieve Import Daily Read Log (ECS21a) and 4.4.3 Retrieve
Billing Calendar Triggered Billing Data Log (ECS20c) protected reads between the
ReadLogPeriod's two date-times; 4.6.2 Retrieve Export Daily Read Log (ECS21c), 4.8.2 Read
Reactive Import Profile Data (ECS22c), 4.8.3 Read Export Profile Data (ECS22a) and 4.10 Read
Network Data (ECS23, the rig's ESME being single phase) and 4.4.4 Retrieve Payment Based Debt
Payments Log (ECS20a) GETs of a log selected by the ReadLogPeriod (UTC seconds since 2000,
both ends included); 4.4.2 Retrieve Change Of Mode / Tariff Triggered Billing Data Log
(ECS20b) a protected read as ECS20c's; 4.12.1 and 4.12.2 Read Maximum Demand Import / Export
Registers (ECS18b, ECS18a) GETs."""

from __future__ import annotations

from gateway.transform.prepay_logs import read_log_period, read_prepayment_credits
from gateway.transform.registry import TransformInput, transforms
from rig.protocol.gbcs import dlms
from rig.protocol.gbcs.catalogue_billing import (
    ECS17A,
    ECS17C,
    ECS17E,
    ECS18A,
    ECS18B,
    ECS20A,
    ECS20B,
    ECS20C,
    ECS21A,
    ECS21C,
    ECS22A,
    ECS22C,
    ECS23,
    ECS27,
    PROTECTED_READ,
    log_argument,
    tou_block_argument,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, command


@transforms(ECS17A, ECS17C, ECS27, ECS18A, ECS18B)
def read_registers(uc: UseCase, given: TransformInput) -> GbcsMessage:
    return command(uc, given.counter, given.originator.raw, given.device.raw, {})


@transforms(ECS17E)
def read_tou_block_registers(uc: UseCase, given: TransformInput) -> GbcsMessage:
    originator, device = given.originator.raw, given.device.raw
    argument = tou_block_argument(given.counter, originator, device)
    return command(uc, given.counter, originator, device, {PROTECTED_READ: argument})


@transforms(ECS20C, ECS21A, ECS20B)
def read_protected_logs(uc: UseCase, given: TransformInput) -> GbcsMessage:
    start, end = read_log_period(given)
    originator, device = given.originator.raw, given.device.raw
    argument = log_argument(
        uc, dlms.date_time(start), dlms.date_time(end), given.counter, originator, device
    )
    return command(uc, given.counter, originator, device, {PROTECTED_READ: argument})


# the GET of a log by a range of UTC seconds, as 4.4.5's (ECS20d): the same parts, named alike
transforms(ECS21C, ECS22A, ECS22C, ECS23, ECS20A)(read_prepayment_credits)
