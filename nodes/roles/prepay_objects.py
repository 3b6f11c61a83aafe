"""The ESME's prepayment COSEM objects, over its credit engine (:mod:`nodes.roles.credit`):
the debt registers as COSEM charges (class 113: time debt 1 and 2, payment debt), which
ECS07 (2.3 Update Debt) writes and ECS26a (4.13) reads, and the emergency credit object.

A time debt's recovery rate is a unit charge: ``charge x 10^price_scale`` pence per
``period`` seconds (ECS07 writes the passive unit charge, then activates it). The payment
debt's proportion is the share of each top-up, in hundredths of a percent. ``update total
amount remaining`` adds to a register (a negative amount takes off; never below zero).
"""

from __future__ import annotations

from collections.abc import Callable

from nodes.gbcs.cosem_server import CosemError, CosemServer, Invocation, Result
from nodes.roles.credit import Credit
from nodes.roles.debt import Debt, TimeRecovery
from rig.protocol.gbcs import cosem
from rig.protocol.gbcs.cosem import CHARGE
from rig.protocol.gbcs.dlms import Data, DataType


def unit_charge(millipence: int) -> Data:
    """A recovery rate as a COSEM unit charge: the smallest price scale (from -3, i.e.
    millipence) whose charge fits a DLMS long."""
    scale, charge = -3, millipence
    while not -32768 <= charge <= 32767:
        scale, charge = scale + 1, round(charge / 10)
    return cosem.unit_charge(charge, scale)


def rate_of(value: Data) -> int:
    """The millipence a unit charge recovers each period."""
    try:
        charge, scale = cosem.charge_of(value)
    except ValueError:
        raise CosemError(Result.TYPE_UNMATCHED, "not a unit charge") from None
    return round(charge * 10 ** (scale + 3))


def _int(value: Data, what: str) -> int:
    if not isinstance(value.value, int) or isinstance(value.value, bool):
        raise CosemError(Result.TYPE_UNMATCHED, f"{what} takes an integer")
    return value.value


def serve_debt(server: CosemServer, credit: Credit) -> None:
    """Put the three debt registers on ``server``, backed by ``credit``'s debt."""
    passive: dict[int, int] = {}  # written, not yet activated: millipence per period

    def debt() -> Debt:
        return credit.debt

    for i, instance in enumerate((cosem.TIME_DEBT_1, cosem.TIME_DEBT_2)):
        _serve_time_debt(server, credit, debt, passive, i, instance)

    pd = cosem.PAYMENT_DEBT
    server.attribute(
        cosem.Attribute(CHARGE, pd, cosem.PROPORTION),
        lambda: Data(DataType.LONG_UNSIGNED, debt().per_payment_bp),
        lambda value: _set_proportion(credit, _int(value, "proportion")),
    )
    server.method(cosem.Method(CHARGE, pd, cosem.UPDATE_TOTAL_AMOUNT_REMAINING), _add_to(credit, 2))


def _set_proportion(credit: Credit, bp: int) -> None:
    if not 0 <= bp <= 10_000:
        raise CosemError(Result.TYPE_UNMATCHED, f"a proportion is 0-10000, not {bp}")
    credit.debt.per_payment_bp = bp
    credit.save()


def _add_to(credit: Credit, register: int) -> Callable[[Data, Invocation], None]:
    """update_total_amount_remaining of register 0, 1 (time debts) or 2 (payment debt)."""

    def update(amount: Data, _invocation: Invocation) -> None:
        change = _int(amount, "update total amount remaining")
        d = credit.debt
        if register == 2:
            d.payment_debt = max(0, d.payment_debt + change)
        else:
            d.time_debt[register] = max(0, d.time_debt[register] + change)
        credit.save()

    return update


def _serve_time_debt(
    server: CosemServer,
    credit: Credit,
    debt: Callable[[], Debt],
    passive: dict[int, int],
    i: int,
    instance: bytes,
) -> None:
    def recovery() -> TimeRecovery:
        return debt().recovery[i]

    def set_passive(value: Data) -> None:
        passive[i] = rate_of(value)

    def set_period(value: Data) -> None:
        period = _int(value, "period")
        if period <= 0:
            raise CosemError(Result.TYPE_UNMATCHED, "a recovery period is seconds, above 0")
        recovery().period_s = period
        credit.save()

    def activate(_argument: Data, _invocation: Invocation) -> None:
        if i in passive:
            recovery().millipence = passive.pop(i)
            credit.save()

    server.attribute(
        cosem.Attribute(CHARGE, instance, cosem.UNIT_CHARGE_ACTIVE),
        lambda: unit_charge(recovery().millipence),
    )
    server.attribute(
        cosem.Attribute(CHARGE, instance, cosem.UNIT_CHARGE_PASSIVE),
        lambda: unit_charge(passive.get(i, recovery().millipence)),
        set_passive,
    )
    server.attribute(
        cosem.Attribute(CHARGE, instance, cosem.CHARGE_PERIOD),
        lambda: Data(DataType.DOUBLE_LONG_UNSIGNED, recovery().period_s),
        set_period,
    )
    server.method(cosem.Method(CHARGE, instance, cosem.ACTIVATE_PASSIVE_UNIT_CHARGE), activate)
    server.method(
        cosem.Method(CHARGE, instance, cosem.UPDATE_TOTAL_AMOUNT_REMAINING), _add_to(credit, i)
    )
