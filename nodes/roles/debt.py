"""A prepayment meter's debt registers (GBCS ECS07, 2.3 Update Debt) and their recovery.

Two time debt registers are recovered at a rate per period (a daily rate, say) whether
or not energy is used; the payment debt register takes a share of each top-up
(``per_payment_bp``, hundredths of a percent, 0-10000 as DUIS has it). Registers are in
millipence, like the meter balance; what is recovered comes off the balance (time debt)
or off the top-up before it reaches the balance (payment debt). Pure: no I/O; the credit
engine (:mod:`nodes.roles.credit`) keeps it with the balance in one atomic write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DAY_S = 86_400
REGISTERS = ("time_debt_1", "time_debt_2", "payment_debt")


@dataclass(slots=True)
class TimeRecovery:
    """How fast a time debt register is recovered: ``millipence`` every ``period_s``."""

    millipence: int = 0
    period_s: int = DAY_S


@dataclass(slots=True)
class Debt:
    time_debt: list[int] = field(default_factory=lambda: [0, 0])  # registers 1, 2
    payment_debt: int = 0
    recovery: list[TimeRecovery] = field(default_factory=lambda: [TimeRecovery(), TimeRecovery()])
    per_payment_bp: int = 0  # the share of a top-up that goes to the payment debt
    _owed: list[float] = field(default_factory=lambda: [0.0, 0.0])  # under one millipenny

    @property
    def total(self) -> int:
        return sum(self.time_debt) + self.payment_debt

    def registers(self) -> dict[str, int]:
        return dict(zip(REGISTERS, [*self.time_debt, self.payment_debt], strict=True))

    def collect_time(self, seconds: float) -> tuple[int, list[str]]:
        """Time-based recovery over ``seconds``: the millipence recovered (to take off the
        balance) and the registers this emptied."""
        taken, emptied = 0, []
        for i, rate in enumerate(self.recovery):
            if self.time_debt[i] <= 0 or rate.millipence <= 0 or rate.period_s <= 0:
                continue
            self._owed[i] += rate.millipence * seconds / rate.period_s
            whole = min(int(self._owed[i]), self.time_debt[i])
            self._owed[i] -= int(self._owed[i])
            self.time_debt[i] -= whole
            taken += whole
            if self.time_debt[i] == 0:
                emptied.append(REGISTERS[i])
        return taken, emptied

    def collect_payment(self, top_up: int) -> tuple[int, list[str]]:
        """Payment-based recovery from a top-up of ``top_up`` millipence: what goes to the
        payment debt, and the registers this emptied."""
        if self.payment_debt <= 0 or self.per_payment_bp <= 0:
            return 0, []
        share = min(top_up * self.per_payment_bp // 10_000, self.payment_debt)
        self.payment_debt -= share
        return share, ["payment_debt"] if self.payment_debt == 0 else []

    def to_json(self) -> dict[str, Any]:
        return {
            "time_debt": self.time_debt,
            "payment_debt": self.payment_debt,
            "recovery": [[r.millipence, r.period_s] for r in self.recovery],
            "per_payment_bp": self.per_payment_bp,
        }

    @classmethod
    def from_json(cls, saved: Any) -> Debt:
        if not isinstance(saved, dict):
            return cls()
        return cls(
            [int(v) for v in saved.get("time_debt", [0, 0])],
            int(saved.get("payment_debt", 0)),
            [TimeRecovery(int(m), int(p)) for m, p in saved.get("recovery", [[0, DAY_S]] * 2)],
            int(saved.get("per_payment_bp", 0)),
        )
