"""Transforms of the GSME's prepayment configuration (issue 15), laid out as RTDS 4.5.0 has
them: 2.3 Update Debt becomes GCS04, three Change Debt commands (time debt 1 and 2, each
adjusted by its DUIS register and recovered at its GasDebtRecovery rate per hour or day;
the payment debt, recovered as DebtRecoveryPerPayment hundredths of a percent of each
top-up). Each carries the DCC's issuer event id, the ZigBee time of the transform. 4.3
Read Instantaneous Prepay Values becomes GCS14 and 4.13 Read Prepayment Configuration
GCS21b, which take nothing from the body."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from gateway.transform import registry
from gateway.transform.fixed import from_declaration
from gateway.transform.registry import TransformInput, for_device_type, transforms
from rig.protocol.duis.xml import text
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue_gas import GCS04, GCS14, GCS21B
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, command

FREQUENCY = {"HOURLY": gbz.HOURLY, "DAILY": gbz.DAILY}  # DUIS DebtRecoveryRatePeriod
TYPE_1, TYPE_2, TYPE_3 = 0x01, 0x03, 0x05  # Debt Amount Type, each incremental

now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)  # noqa: E731 (a test sets it)


@transforms(GCS04)
def update_gas_debt(uc: UseCase, given: TransformInput) -> GbcsMessage:
    body = given.request.body
    for_device_type(
        body,
        "sr:GasDebtRecovery1",
        "2.3 for a GSME takes GasDebtRecovery1 and 2 (ElecDebtRecovery is for an ESME)",
    )

    def number(path: str) -> int:
        return registry.number(body, path)

    issuer = gbz.zigbee_time(now())
    debts = [
        gbz.ChangeDebt(
            issuer,
            number(f"sr:TimeDebtRegister{n}"),
            gbz.TIME_BASED,
            debt_type,
            FREQUENCY[text(body, f"sr:GasDebtRecovery{n}/sr:DebtRecoveryRatePeriod") or "DAILY"],
            recovery_amount=number(f"sr:GasDebtRecovery{n}/sr:DebtRecoveryRate"),
        )
        for n, debt_type in ((1, TYPE_1), (2, TYPE_2))
    ]
    debts.append(
        gbz.ChangeDebt(
            issuer,
            number("sr:PaymentDebtRegister"),
            gbz.PERCENTAGE_BASED,
            TYPE_3,
            gbz.DAILY,  # not used by a percentage-based recovery; RTDS sends daily
            percentage=number("sr:DebtRecoveryPerPayment"),
        )
    )
    payloads = tuple(d.encode() for d in debts)
    return command(uc, given.counter, given.originator.raw, given.device.raw, payloads)


transforms(GCS14, GCS21B)(from_declaration)  # the commands their declarations describe
