"""A prepayment meter's credit: the meter balance (in millipence, the ESME's currency
unit), which falls with consumption at the active price, and top-ups by UTRN (GBCS
section 14, :mod:`rig.protocol.utrn`).

A UTRN is checked before it is applied: it must authenticate with the prepayment KA key of
the supplier that sent it and this meter's KA key (so it is for this meter and from that
supplier), its counter must be above the lowest of the last :data:`WINDOW` accepted and
not among them, and the balance it leaves must not exceed the maximum credit. An accepted
top-up and its counter are written in one atomic write before the meter answers, so a
top-up is applied once and only once, also when the meter loses power mid-operation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from rig.protocol import utrn
from rig.protocol.eui import Eui64
from rig.protocol.gbcs.catalogue import (
    UTRN_DUPLICATE,
    UTRN_EXCEEDS_MAX_CREDIT,
    UTRN_NOT_AUTHENTIC,
)
from rig.protocol.gbcs.cosem import MILLIPENCE
from rig.runtime.files import read_json, write_json

log = logging.getLogger("nodes.credit")
WINDOW = 5  # accepted UTRN counters the meter remembers
MAX_CREDIT_PENCE = 100_000  # £1000: a top-up may not take the balance above this

# the GBCS alert codes of a refused top-up
DUPLICATE = UTRN_DUPLICATE
NOT_AUTHENTIC = UTRN_NOT_AUTHENTIC
EXCEEDS_MAX_CREDIT = UTRN_EXCEEDS_MAX_CREDIT


class EmergencyCreditRefused(Exception):
    """Emergency credit cannot be activated now (it is not available): why."""


class TopUpRefused(Exception):
    """A UTRN the meter does not apply: the GBCS alert code and why."""

    def __init__(self, alert_code: int, reason: str) -> None:
        super().__init__(reason)
        self.alert_code = alert_code


@dataclass(frozen=True, slots=True)
class Applied:
    """An accepted top-up: its counter, the credit it added and the balance it left."""

    counter: int
    pence: int
    balance_millipence: int


class Credit:
    def __init__(
        self,
        path: Path,
        meter: Eui64,
        meter_ka: ec.EllipticCurvePrivateKey,
        initial_pence: int = 0,
        max_credit_pence: int = MAX_CREDIT_PENCE,
    ) -> None:
        self.path, self.meter, self.meter_ka = path, meter, meter_ka
        saved = read_json(path, {}) or {}
        self.millipence = int(saved.get("balance_millipence", initial_pence * MILLIPENCE))
        self.accepted: list[int] = [int(c) for c in saved.get("accepted_counters", [])]
        self.max_credit_pence = max_credit_pence
        self._spent = 0.0  # millipence used but not yet taken off (under one)

    @property
    def pence(self) -> int:
        return self.millipence // MILLIPENCE

    def save(self) -> None:
        write_json(
            self.path,
            {"balance_millipence": self.millipence, "accepted_counters": self.accepted},
        )

    def spend(self, wh: float, price_p_kwh: float) -> None:
        """Consumption at the active price: the balance falls (kept on the next save)."""
        self._spent += wh * price_p_kwh  # millipence: Wh x p/kWh
        whole = int(self._spent)
        self.millipence -= whole
        self._spent -= whole

    def activate_emergency_credit(self) -> list[int]:
        """Activate the emergency credit on offer (from the PPMID, the meter's button, or
        ECS09/GCS06): the GBCS alert codes this raises. EmergencyCreditRefused when none
        is available. (Being built: issue 15.)"""
        raise EmergencyCreditRefused("no emergency credit is available")

    def _check(self, text: str, supplier: Eui64, supplier_pp: ec.EllipticCurvePublicKey):
        def validate(last: int) -> utrn.TopUp:
            return utrn.validate(
                text, supplier.raw, self.meter.raw, self.meter_ka, supplier_pp, last_counter=last
            )

        try:
            utrn.parse(text)
        except utrn.UtrnError as exc:
            raise TopUpRefused(NOT_AUTHENTIC, str(exc)) from None
        for used in self.accepted:  # one of the counters already accepted?
            try:
                again = validate(used - 1).counter == used
            except utrn.UtrnError:
                again = False
            if again:
                raise TopUpRefused(DUPLICATE, f"UTRN counter {used:#x} was already used")
        lowest = min(self.accepted) if len(self.accepted) >= WINDOW else 0
        try:
            return validate(lowest)
        except utrn.UtrnError as exc:
            raise TopUpRefused(NOT_AUTHENTIC, str(exc)) from None

    def top_up(self, text: str, supplier: Eui64, supplier_pp: ec.EllipticCurvePublicKey) -> Applied:
        """Check the UTRN and apply it (persisted), or refuse it with its alert code."""
        top_up = self._check(text, supplier, supplier_pp)
        if self.pence + top_up.pence > self.max_credit_pence:
            raise TopUpRefused(
                EXCEEDS_MAX_CREDIT,
                f"£{top_up.pence / 100:.2f} would take the balance above the maximum credit "
                f"of £{self.max_credit_pence / 100:.2f}",
            )
        self.millipence += top_up.pence * MILLIPENCE
        self.accepted = sorted([*self.accepted, top_up.counter])[-WINDOW:]
        self.save()  # the credit and its counter together, before the meter answers
        return Applied(top_up.counter, top_up.pence, self.millipence)
