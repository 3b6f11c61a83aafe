"""The GSME's prepayment configuration over its credit engine (issue 15): the Prepayment
cluster's Change Debt (GCS04, 2.3 Update Debt) sets or adjusts one debt register of
:class:`nodes.roles.debt.Debt` and how it is recovered, kept at once; the attributes GCS14
(4.3) reads: the engine's accumulated debt, emergency credit and debt registers, and the
Price cluster's currency (GBP) and trailing digit (amounts in millipence); and what GCS21b
(4.13) reads: the engine's settings and each debt's recovery. The engine has one credit
limit (a top-up may not take the balance above it): it is both the maximum credit and the
maximum credit per top-up; it has no overall debt cap (served as int32's maximum). The
meter holds no non-disablement calendar (2.1 does not set one yet): the Calendar cluster's
Get commands are answered NOT_FOUND, as RTDS's GCS21b NOT_FOUND response has them.

Debt types 1 and 2 are the time debt registers, recovered time-based at an amount per
hour, day or week; type 3 is the payment debt, recovered as a percentage (hundredths of
a percent) of each top-up. An incremental amount adjusts the register (never below 0), an
absolute one sets it. A command the engine cannot apply (a time debt recovered by
percentage, say) is answered INVALID_FIELD and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from nodes.gbcs.zcl_server import ZclServer
from nodes.roles.credit import Credit
from nodes.roles.debt import DAY_S, Debt, TimeRecovery
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue_gas import (
    ACCUMULATED_DEBT,
    CALENDAR,
    CALENDAR_GETS,
    CURRENCY,
    CUT_OFF_VALUE,
    DEBT_AMOUNTS,
    EMERGENCY_CREDIT_LIMIT,
    EMERGENCY_CREDIT_REMAINING,
    EMERGENCY_CREDIT_THRESHOLD,
    LOW_CREDIT_WARNING,
    MAX_CREDIT_LIMIT,
    MAX_CREDIT_PER_TOP_UP,
    OVERALL_DEBT_CAP,
    PRICE,
    PRICE_TRAILING_DIGIT,
    RECOVERY_AMOUNT_1,
    RECOVERY_AMOUNT_2,
    RECOVERY_FREQUENCY_1,
    RECOVERY_FREQUENCY_2,
    TOP_UP_PERCENTAGE_3,
)
from rig.protocol.gbcs.cosem import MILLIPENCE
from rig.protocol.gbcs.frame import GbcsMessage

log = logging.getLogger("nodes.han")
PERIOD_S = {gbz.HOURLY: 3_600, gbz.DAILY: DAY_S, gbz.WEEKLY: 7 * DAY_S}
MAX_PERCENTAGE = 10_000  # 100.00 %
PAYMENT_DEBT = 2  # the register of debt type 3
FREQUENCY = {seconds: frequency for frequency, seconds in PERIOD_S.items()}
NO_DEBT_CAP = 0x7FFF_FFFF
GBP = 826  # ISO 4217
MILLIPENCE_DIGITS = 0x50  # Price Trailing Digit: five digits after the point (10^-5 pounds)


class DebtRefused(ValueError):
    """A Change Debt the engine does not apply: why."""


def changed(debt: Debt, change: gbz.ChangeDebt) -> Debt:
    """``debt`` with ``change`` applied (a copy). DebtRefused when it cannot be."""
    if change.debt_type > 0x05:
        raise DebtRefused(f"debt amount type 0x{change.debt_type:02X} is not one of ZCL's")
    out = Debt.from_json(debt.to_json())
    register = change.register
    current = out.payment_debt if register == PAYMENT_DEBT else out.time_debt[register]
    if change.incremental:
        value = max(0, current + change.amount)
    elif change.amount < 0:
        raise DebtRefused("an absolute debt amount is not negative")
    else:
        value = change.amount
    if register == PAYMENT_DEBT:
        if change.method != gbz.PERCENTAGE_BASED:
            raise DebtRefused("the payment debt is recovered as a percentage of each top-up")
        if change.percentage > MAX_PERCENTAGE:
            raise DebtRefused(f"a recovery percentage of {change.percentage / 100}% is over 100%")
        out.payment_debt, out.per_payment_bp = value, change.percentage
        return out
    if change.method != gbz.TIME_BASED or change.frequency not in PERIOD_S:
        raise DebtRefused("a time debt is recovered time-based, hourly, daily or weekly")
    out.time_debt[register] = value
    out.recovery[register] = TimeRecovery(change.recovery_amount, PERIOD_S[change.frequency])
    return out


@dataclass
class GasPrepay:
    """The Change Debt command, the debt and configuration attributes of ``meter``'s
    Prepayment cluster over ``credit`` (its Credit Remaining the meter serves itself), its
    currency, and its Calendar cluster's Gets."""

    meter: Eui64
    credit: Credit

    def serve(self, zcl: ZclServer) -> None:
        zcl.command(gbz.PREPAYMENT, gbz.CHANGE_DEBT, self.change_debt)
        zcl.attribute(PRICE, PRICE_TRAILING_DIGIT, lambda: MILLIPENCE_DIGITS)
        zcl.attribute(PRICE, CURRENCY, lambda: GBP)
        zcl.attribute(gbz.PREPAYMENT, ACCUMULATED_DEBT, lambda: self.credit.debt.total)
        zcl.attribute(
            gbz.PREPAYMENT,
            EMERGENCY_CREDIT_REMAINING,
            lambda: self.credit.emergency_credit_millipence,
        )
        for n, attribute in enumerate(DEBT_AMOUNTS):
            zcl.attribute(gbz.PREPAYMENT, attribute, partial(self._register, n))
        self._serve_configuration(zcl)

    def _serve_configuration(self, zcl: ZclServer) -> None:
        """GCS21b's attributes, from the engine's settings and debt recovery."""
        credit = self.credit
        served: list[tuple[gbz.ZclAttribute, Callable[[], int]]] = [
            (TOP_UP_PERCENTAGE_3, lambda: credit.debt.per_payment_bp),
            (OVERALL_DEBT_CAP, lambda: NO_DEBT_CAP),
            (CUT_OFF_VALUE, lambda: credit.settings.disablement_threshold_pence * MILLIPENCE),
            (EMERGENCY_CREDIT_LIMIT, lambda: credit.settings.emergency_credit_pence * MILLIPENCE),
            (
                EMERGENCY_CREDIT_THRESHOLD,
                lambda: credit.settings.emergency_credit_threshold_pence * MILLIPENCE,
            ),
            (LOW_CREDIT_WARNING, lambda: credit.settings.low_credit_pence * MILLIPENCE),
            (MAX_CREDIT_LIMIT, lambda: credit.settings.max_credit_pence * MILLIPENCE),
            (MAX_CREDIT_PER_TOP_UP, lambda: credit.settings.max_credit_pence * MILLIPENCE),
        ]
        for n, (frequency, amount) in enumerate(
            ((RECOVERY_FREQUENCY_1, RECOVERY_AMOUNT_1), (RECOVERY_FREQUENCY_2, RECOVERY_AMOUNT_2))
        ):
            served.append((frequency, partial(self._frequency, n)))
            served.append((amount, partial(self._recovery_amount, n)))
        for attribute, source in served:
            zcl.attribute(gbz.PREPAYMENT, attribute, source)
        for command, _ in CALENDAR_GETS:
            zcl.command(CALENDAR, command, partial(self._no_calendar, command))

    def _frequency(self, n: int) -> int:
        return FREQUENCY.get(self.credit.debt.recovery[n].period_s, gbz.DAILY)

    def _recovery_amount(self, n: int) -> int:
        return self.credit.debt.recovery[n].millipence

    def _no_calendar(self, command: int, _payload: bytes, _cmd: GbcsMessage) -> gbz.Reply:
        """A Calendar cluster Get: NOT_FOUND, the meter holding no non-disablement calendar."""
        return gbz.default_response(command, gbz.ZCL_NOT_FOUND)

    def _register(self, n: int) -> int:
        """Debt Amount #n+1: time debt 1, 2, then the payment debt."""
        debt = self.credit.debt
        return debt.payment_debt if n == PAYMENT_DEBT else debt.time_debt[n]

    def change_debt(self, payload: bytes, _cmd: GbcsMessage) -> gbz.Reply:
        extra = {"device": self.meter.duis}
        try:
            change = gbz.ChangeDebt.decode(payload)
            debt = changed(self.credit.debt, change)
        except DecodeError as exc:
            log.warning("prepay.debt_refused", extra={**extra, "reason": str(exc)})
            return gbz.default_response(gbz.CHANGE_DEBT, gbz.ZCL_MALFORMED_COMMAND)
        except DebtRefused as exc:
            log.warning("prepay.debt_refused", extra={**extra, "reason": str(exc)})
            return gbz.default_response(gbz.CHANGE_DEBT, gbz.ZCL_INVALID_FIELD)
        self.credit.update_debt(debt)
        log.info(
            "prepay.debt_changed",
            extra={**extra, "debt_type": change.debt_type, **debt.registers()},
        )
        return gbz.default_response(gbz.CHANGE_DEBT, gbz.ZCL_SUCCESS)
