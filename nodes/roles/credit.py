"""A prepayment meter's credit engine: the meter balance (in millipence, the ESME's currency
unit), which falls with consumption at the active price; top-ups by UTRN (GBCS section 14,
:mod:`rig.protocol.utrn`); emergency credit; the low-credit and disablement thresholds.

A UTRN is checked before it is applied: it must be well formed with a good check digit, it
must authenticate with the prepayment KA key of the supplier that sent it and this meter's
KA key (so it is for this meter and from that supplier), its counter must be above the
lowest of the last :data:`WINDOW` accepted and not among them, and the balance it leaves
must not exceed the maximum credit. An accepted top-up, its counter and its entry in the
log of top-ups (the last :data:`TOP_UP_LOG`, which ECS20d reads) are written in one
atomic write before the meter answers, so a top-up is applied once and only once, also
when the meter loses power mid-operation.

In prepayment mode the engine watches the credit as it moves and says (as GBCS alert
codes) what the meter must raise and do: below the low-credit threshold 0x810D; below the
emergency credit threshold emergency credit is offered (0x8119); once activated (0x81AB)
the balance may fall below zero by the emergency credit limit; when the credit left (the
balance plus any emergency credit) reaches the disablement threshold, 0x81AA (if emergency
credit was in use) and 0x8F0F, and the meter interrupts the supply; when a top-up (or
emergency credit) brings credit back, 0x8F32: the supply is armed, for the consumer to
restore. A top-up first repays the emergency credit used; emergency credit ends once the
balance is back above its threshold. In credit mode the balance still moves, but nothing
is offered, raised or interrupted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from nodes.roles.debt import Debt
from rig.protocol import utrn
from rig.protocol.eui import Eui64
from rig.protocol.gbcs.catalogue import (
    BELOW_DISABLEMENT_THRESHOLD,
    EMERGENCY_CREDIT_ACTIVATED,
    EMERGENCY_CREDIT_AVAILABLE,
    EMERGENCY_CREDIT_EXHAUSTED,
    LOW_CREDIT,
    SUPPLY_ARMED,
    UTRN_DUPLICATE,
    UTRN_EXCEEDS_MAX_CREDIT,
    UTRN_NOT_AUTHENTIC,
    UTRN_NOT_FOR_DEVICE,
)
from rig.protocol.gbcs.cosem import MILLIPENCE
from rig.runtime.files import read_json, write_json

log = logging.getLogger("nodes.credit")
WINDOW = 5  # accepted UTRN counters the meter remembers
MAX_CREDIT_PENCE = 100_000  # £1000: a top-up may not take the balance above this
# top-ups the meter logs (the billing data log of prepayment credits, ECS20d): DUIS's
# PrepaymentCredits holds up to five entries, and RTDS answers five
TOP_UP_LOG = 5
DEBT_PAYMENTS_LOG = 10  # the payments to the payment debt kept (as many as RTDS's ECS20a has)

# the GBCS alert codes of a refused top-up
DUPLICATE = UTRN_DUPLICATE
NOT_AUTHENTIC = UTRN_NOT_AUTHENTIC
NOT_FOR_DEVICE = UTRN_NOT_FOR_DEVICE
EXCEEDS_MAX_CREDIT = UTRN_EXCEEDS_MAX_CREDIT
PREPAYMENT, CREDIT = "prepayment", "credit"  # payment modes

# the Prepayment cluster's credit status bits (ZigBee SE 1.4, attribute 0x0003)
CREDIT_OK, LOW, EC_ENABLED, EC_AVAILABLE, EC_SELECTED, EC_IN_USE, EXHAUSTED = (
    1 << n for n in range(7)
)


@dataclass(frozen=True, slots=True)
class Settings:
    """A meter's prepayment configuration (what 2.1 Update Prepay Configuration writes), in
    pence. Emergency credit is offered below ``emergency_credit_threshold_pence`` and lets
    the balance fall ``emergency_credit_pence`` below zero."""

    payment_mode: str = PREPAYMENT
    low_credit_pence: int = 200
    emergency_credit_pence: int = 500
    emergency_credit_threshold_pence: int = 100
    disablement_threshold_pence: int = 0
    max_credit_pence: int = MAX_CREDIT_PENCE  # a top-up may not take the balance above it
    # 2.1's MaxMeterBalance: a top-up may not take the balance above it either (0x8F5B)
    max_meter_balance_pence: int = MAX_CREDIT_PENCE
    # 2.1's DebtRecoveryRateCap for a GSME (GCS05's overall debt cap), in millipence: kept,
    # not acted on; None: none set (GCS21b reads int32's maximum)
    overall_debt_cap_millipence: int | None = None


class EmergencyCreditRefused(Exception):
    """Emergency credit cannot be activated now (it is not available): why."""


class TopUpRefused(Exception):
    """A UTRN the meter does not apply: the GBCS alert code and why."""

    def __init__(self, alert_code: int, reason: str) -> None:
        super().__init__(reason)
        self.alert_code = alert_code


@dataclass(frozen=True, slots=True)
class Applied:
    """An accepted top-up: its counter, the credit it added, the balance it left and the
    alert codes the credit's change raises (e.g. 0x8F32: the supply is armed)."""

    counter: int
    pence: int
    balance_millipence: int
    alerts: tuple[int, ...] = ()


@dataclass(slots=True)
class _Flags:
    """What the engine has already said, so each alert is raised once per crossing."""

    low: bool = False  # below the low-credit threshold
    offered: bool = False  # emergency credit offered
    active: bool = False  # emergency credit activated
    disabled: bool = False  # credit exhausted: the supply is interrupted


class Credit:
    def __init__(
        self,
        path: Path,
        meter: Eui64,
        meter_ka: ec.EllipticCurvePrivateKey,
        initial_pence: int = 0,
        max_credit_pence: int = MAX_CREDIT_PENCE,
        settings: Settings | None = None,
    ) -> None:
        self.path, self.meter, self.meter_ka = path, meter, meter_ka
        saved = read_json(path, {}) or {}
        self.millipence = int(saved.get("balance_millipence", initial_pence * MILLIPENCE))
        self.accepted: list[int] = [int(c) for c in saved.get("accepted_counters", [])]
        given = settings or Settings(max_credit_pence=max_credit_pence)
        self.settings = _settings(saved.get("settings"), given)
        self.flags = _Flags(**{k: bool(v) for k, v in (saved.get("flags") or {}).items()})
        self.debt = Debt.from_json(saved.get("debt"))
        # the top-ups applied, oldest first: (UTC seconds since the Unix epoch, millipence)
        self.top_ups: list[tuple[int, int]] = [
            (int(at), int(value)) for at, value in saved.get("top_ups", [])
        ][-TOP_UP_LOG:]
        # the UTRN of each logged top-up (GCS15e lists them), the newest last: a log kept
        # before the UTRNs were has fewer of them than top-ups
        self.top_up_utrns: list[str] = [str(u) for u in saved.get("top_up_utrns", [])][-TOP_UP_LOG:]
        self.clock = time.time  # when a top-up is applied (a test sets it)
        self.debts_cleared: list[str] = []  # registers recovered in full since last asked
        self._spent = 0.0  # millipence used but not yet taken off (under one)
        # told of the energy each spend charges (Wh): the tariff's block counters count it
        self.on_spend: Callable[[float], None] | None = None
        # called as the engine ticks (each spend): a held 2.1 configuration is waited for
        self.watchers: list[Callable[[], None]] = []
        # what each top-up paid towards the payment debt: (UTC seconds since the Unix epoch,
        # millipence), oldest first (ECS20a, 4.4.4)
        self.debt_payments: list[tuple[int, int]] = [
            (int(at), int(value)) for at, value in saved.get("debt_payments", [])
        ][-TOP_UP_LOG:]

    @property
    def pence(self) -> int:
        return self.millipence // MILLIPENCE

    @property
    def prepayment(self) -> bool:
        return self.settings.payment_mode == PREPAYMENT

    @property
    def emergency_credit_millipence(self) -> int:
        """The emergency credit left: all of it while the balance is above zero."""
        if not self.flags.active:
            return 0
        limit = self.settings.emergency_credit_pence * MILLIPENCE
        return max(0, min(limit, limit + self.millipence))

    @property
    def supply_allowed(self) -> bool:
        return not self.flags.disabled

    def status_bits(self) -> int:
        """The Prepayment cluster's credit status (SE 1.4 attribute 0x0003)."""
        f = self.flags
        bits = 0 if f.disabled else CREDIT_OK
        bits |= LOW if f.low else 0
        bits |= EC_ENABLED if self.settings.emergency_credit_pence and self.prepayment else 0
        bits |= EC_AVAILABLE if f.offered and not f.active else 0
        bits |= EC_SELECTED if f.active else 0
        bits |= EC_IN_USE if f.active and self.millipence < 0 else 0
        bits |= EXHAUSTED if f.disabled else 0
        return bits

    def state(self) -> dict[str, Any]:
        """The engine's state, for the meter's health detail and the displays."""
        return {
            "payment_mode": self.settings.payment_mode,
            "balance_pence": self.pence,
            "emergency_credit": "active"
            if self.flags.active
            else "available"
            if self.flags.offered
            else "none",
            "emergency_credit_pence": self.emergency_credit_millipence // MILLIPENCE,
            "low_credit": self.flags.low,
            "credit_exhausted": self.flags.disabled,
            "debt_pence": self.debt.total // MILLIPENCE,
        }

    def save(self) -> None:
        write_json(
            self.path,
            {
                "balance_millipence": self.millipence,
                "accepted_counters": self.accepted,
                "settings": asdict(self.settings),
                "flags": asdict(self.flags),
                "debt": self.debt.to_json(),
                "top_ups": [list(entry) for entry in self.top_ups],
                "top_up_utrns": self.top_up_utrns,
                "debt_payments": [list(entry) for entry in self.debt_payments],
            },
        )

    def spend(self, wh: float, price_p_kwh: float, seconds: float = 0.0) -> list[int]:
        """Consumption at the active price, and ``seconds`` of time-based debt recovery: the
        balance falls (kept on the next save); the alert codes the fall raises."""
        for watch in self.watchers:
            watch()
        self._spent += wh * price_p_kwh  # millipence: Wh x p/kWh
        if self.on_spend is not None:
            self.on_spend(wh)
        whole = int(self._spent)
        self._spent -= whole
        if self.prepayment and seconds > 0:
            recovered, cleared = self.debt.collect_time(seconds)
            whole += recovered
            self.debts_cleared += cleared
        self.millipence -= whole
        return self._evaluate() if whole else []

    def update_debt(self, debt: Debt) -> None:
        """2.3 Update Debt: new registers and recovery settings, kept at once."""
        self.debt = debt
        self.save()

    def activate_emergency_credit(self) -> list[int]:
        """Activate the emergency credit on offer (from the PPMID, the meter's button, or
        ECS09/GCS06): the alert codes this raises (nothing new when it is already active,
        which GBCS counts as success). EmergencyCreditRefused when none is on offer."""
        if not self.prepayment:
            raise EmergencyCreditRefused("the meter is in credit mode: no emergency credit")
        if self.flags.active:
            return []
        if not self.flags.offered:
            threshold = self.settings.emergency_credit_threshold_pence
            raise EmergencyCreditRefused(
                f"emergency credit is offered below £{threshold / 100:.2f}; the balance is "
                f"£{self.millipence / MILLIPENCE / 100:.2f}"
            )
        self.flags.active, self.flags.offered = True, False
        codes = [EMERGENCY_CREDIT_ACTIVATED, *self._evaluate()]
        self.save()
        return codes

    def _evaluate(self) -> list[int]:
        """What the credit's move says: the alert codes to raise, each once per crossing."""
        if not self.prepayment:
            return []
        s, f, m = self.settings, self.flags, self.millipence
        codes: list[int] = []
        low = m < s.low_credit_pence * MILLIPENCE
        if low and not f.low:
            codes.append(LOW_CREDIT)
        f.low = low
        if f.active:
            f.offered = False
        elif m < s.emergency_credit_threshold_pence * MILLIPENCE and s.emergency_credit_pence:
            if not f.offered:
                codes.append(EMERGENCY_CREDIT_AVAILABLE)
            f.offered = True
        else:
            f.offered = False
        left = m + (s.emergency_credit_pence * MILLIPENCE if f.active else 0)
        exhausted = left <= s.disablement_threshold_pence * MILLIPENCE
        if exhausted and not f.disabled:
            codes += [EMERGENCY_CREDIT_EXHAUSTED] if f.active else []
            codes.append(BELOW_DISABLEMENT_THRESHOLD)
        elif f.disabled and not exhausted:
            codes.append(SUPPLY_ARMED)
        f.disabled = exhausted
        return codes

    def _check(
        self,
        text: str,
        supplier: Eui64,
        supplier_pp: ec.EllipticCurvePublicKey,
        other_keys: tuple[ec.EllipticCurvePublicKey, ...] = (),
    ) -> utrn.TopUp:
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
            failed = str(exc)
        # well formed, but it does not authenticate above the window: say why
        if lowest and _authentic(text, supplier, self.meter, self.meter_ka, supplier_pp):
            raise TopUpRefused(
                NOT_AUTHENTIC,
                f"UTRN counter below {lowest:#x}, the lowest of the last {WINDOW} accepted",
            )
        if any(_authentic(text, supplier, self.meter, self.meter_ka, k) for k in other_keys):
            raise TopUpRefused(
                NOT_AUTHENTIC, "UTRN made with another key of the supplier's, not its PP key"
            )
        # the key the supplier shares with another meter is one this meter cannot have
        raise TopUpRefused(NOT_FOR_DEVICE, f"UTRN not for this meter ({self.meter.duis}): {failed}")

    def top_up(
        self,
        text: str,
        supplier: Eui64,
        supplier_pp: ec.EllipticCurvePublicKey,
        other_keys: tuple[ec.EllipticCurvePublicKey, ...] = (),
    ) -> Applied:
        """Check the UTRN and apply it (persisted), or refuse it with its alert code.
        ``other_keys``: the supplier's other public keys the meter holds (its KA and DS
        keys), to tell a UTRN made with the wrong key from one made for another meter."""
        top_up = self._check(text, supplier, supplier_pp, other_keys)
        if self.pence + top_up.pence > self.settings.max_credit_pence:
            raise TopUpRefused(
                EXCEEDS_MAX_CREDIT,
                f"£{top_up.pence / 100:.2f} would take the balance above the maximum credit "
                f"of £{self.settings.max_credit_pence / 100:.2f}",
            )
        if self.pence + top_up.pence > self.settings.max_meter_balance_pence:
            raise TopUpRefused(
                EXCEEDS_MAX_CREDIT,
                f"£{top_up.pence / 100:.2f} would take the balance above the maximum meter "
                f"balance of £{self.settings.max_meter_balance_pence / 100:.2f}",
            )
        to_debt, cleared = self.debt.collect_payment(top_up.pence * MILLIPENCE)
        self.debts_cleared += cleared
        self.millipence += top_up.pence * MILLIPENCE - to_debt
        self.accepted = sorted([*self.accepted, top_up.counter])[-WINDOW:]
        logged = (int(self.clock()), top_up.pence * MILLIPENCE)
        self.top_ups = [*self.top_ups, logged][-TOP_UP_LOG:]
        self.top_up_utrns = [*self.top_up_utrns, text][-TOP_UP_LOG:]
        if to_debt:
            self.debt_payments = [*self.debt_payments, (logged[0], to_debt)][-DEBT_PAYMENTS_LOG:]
        if self.flags.active and self.millipence >= (
            self.settings.emergency_credit_threshold_pence * MILLIPENCE
        ):
            self.flags.active = False  # the emergency credit used is repaid
        codes = self._evaluate()
        self.save()  # the credit, its counter and its log entry together, before the answer
        return Applied(top_up.counter, top_up.pence, self.millipence, tuple(codes))


def _authentic(
    text: str,
    supplier: Eui64,
    meter: Eui64,
    meter_ka: ec.EllipticCurvePrivateKey,
    key: ec.EllipticCurvePublicKey,
) -> bool:
    """Whether the UTRN authenticates with ``key`` at any counter."""
    try:
        utrn.validate(text, supplier.raw, meter.raw, meter_ka, key, last_counter=0)
    except utrn.UtrnError:
        return False
    return True


def meter_credit(
    state_dir: Path, meter: Eui64, meter_ka: ec.EllipticCurvePrivateKey, behaviour: Any
) -> Credit:
    """A meter's credit, kept in ``state_dir``, as its behaviour knobs start it."""
    return Credit(
        state_dir / "credit.json",
        meter,
        meter_ka,
        initial_pence=int(behaviour.credit_pence),
        settings=prepayment_settings(behaviour),
    )


def prepayment_settings(behaviour: Any) -> Settings:
    """A meter's prepayment settings at first power-on, from its behaviour knobs."""
    return Settings(
        payment_mode=behaviour.payment_mode,
        low_credit_pence=int(behaviour.low_credit_pence),
        emergency_credit_pence=int(behaviour.emergency_credit_pence),
        emergency_credit_threshold_pence=int(behaviour.emergency_credit_threshold_pence),
    )


def _settings(saved: Any, given: Settings) -> Settings:
    """The settings a meter kept (2.1 may have changed them), else those it was built with."""
    if not isinstance(saved, dict):
        return given
    known = {k: v for k, v in saved.items() if k in Settings.__dataclass_fields__}
    return replace(given, **known)
