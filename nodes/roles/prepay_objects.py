"""The ESME's prepayment COSEM objects, over its credit engine (:mod:`nodes.roles.credit`):
the debt registers as COSEM charges (class 113: time debt 1 and 2, payment debt), which
ECS07 (2.3 Update Debt) writes and ECS26a (4.13) reads, and the emergency credit object.

A time debt's recovery rate is a unit charge: ``charge x 10^price_scale`` pence per
``period`` seconds (ECS07 writes the passive unit charge, then activates it). The payment
debt's proportion is the share of each top-up, in hundredths of a percent. ``update total
amount remaining`` adds to a register (a negative amount takes off; never below zero). A unit
charge reads back as it was written (ECS26a answers RTDS's 5000 x 10^-5 as such) while the
engine's rate is still the one it says.

The prepayment configuration (ECS08a / 2.1 writes it, ECS26a / 4.13 reads it): the low
credit, emergency credit and disablement thresholds, the emergency credit limit, the maximum
credit and the maximum meter balance are the engine's settings (a write changes what it
does); the non-disablement calendar (special days, schedule), the debt recovery rate cap and
the credit charge configuration are kept, persisted, and read back, but the engine does not
act on them. ECS08a writes each value "to come" (class 9000 attribute 4, the calendar at
B=1) and then its activation date-time: all zero (IMMEDIATE) applies it at once; a date
holds it until then (FUTURE_DATED, kept across a restart), when it is applied and the
requester sent RTDS's 8F66 alert naming the activation attribute; not specified
(CANCELLATION) drops what is held (:class:`PrepayConfig`).
"""

from __future__ import annotations

import datetime as dt
import logging
import weakref
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from nodes.gbcs import future
from nodes.gbcs.cosem_server import CosemError, CosemServer, Invocation, Result
from nodes.gbcs.handlers import Context, handles, serve_dlms
from nodes.roles.credit import Credit
from nodes.roles.debt import Debt, TimeRecovery
from nodes.roles.tariff import Command, Held, execution_alert
from rig.protocol.codec import DecodeError, Reader
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import catalogue_prepay_config, cosem, dlms
from rig.protocol.gbcs.catalogue_prepay_config import ECS08A
from rig.protocol.gbcs.catalogue_tariff import DLMS_FDA, FUTURE_DATED_SUCCESS, NEVER, Element
from rig.protocol.gbcs.cosem import CHARGE, MILLIPENCE
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase
from rig.runtime.files import read_json, write_json

log = logging.getLogger("nodes.prepay_objects")


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
    passive: dict[int, Data] = {}  # written, not yet activated: the unit charge
    shown: dict[int, Data] = {}  # the unit charge as activated, read back while it holds

    def debt() -> Debt:
        return credit.debt

    for i, instance in enumerate((cosem.TIME_DEBT_1, cosem.TIME_DEBT_2)):
        _serve_time_debt(server, credit, debt, (passive, shown), i, instance)

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
    charges: tuple[dict[int, Data], dict[int, Data]],
    i: int,
    instance: bytes,
) -> None:
    passive, shown = charges

    def recovery() -> TimeRecovery:
        return debt().recovery[i]

    def set_passive(value: Data) -> None:
        rate_of(value)  # a unit charge, or refused
        passive[i] = value

    def set_period(value: Data) -> None:
        period = _int(value, "period")
        if period <= 0:
            raise CosemError(Result.TYPE_UNMATCHED, "a recovery period is seconds, above 0")
        recovery().period_s = period
        credit.save()

    def activate(_argument: Data, _invocation: Invocation) -> None:
        if i in passive:
            shown[i] = passive.pop(i)
            recovery().millipence = rate_of(shown[i])
            credit.save()

    def active() -> Data:
        """The unit charge as written (its charge and price scale, as ECS26a reads them
        back) while the engine's rate is still the one it says; else the engine's rate."""
        written = shown.get(i)
        if written is not None and rate_of(written) == recovery().millipence:
            return written
        return unit_charge(recovery().millipence)

    server.attribute(cosem.Attribute(CHARGE, instance, cosem.UNIT_CHARGE_ACTIVE), active)
    server.attribute(
        cosem.Attribute(CHARGE, instance, cosem.UNIT_CHARGE_PASSIVE),
        lambda: passive.get(i) or active(),
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


# --- the prepayment configuration (ECS08 writes it, ECS26a reads it) ---------------------------
# the thresholds and limits the credit engine acts on: the Settings field each DLMS value is
# (the DLMS value is in the ESME's currency unit, millipence; the engine keeps whole pence)
ENGINE_SETTINGS = {
    "low_credit": "low_credit_pence",  # class 111 low_credit_threshold (Blue Book)
    "emergency_credit_limit": "emergency_credit_pence",  # class 112 preset_credit_amount
    "emergency_credit_threshold": "emergency_credit_threshold_pence",  # 112 available thr.
    "max_credit_threshold": "max_credit_pence",  # 9000 0-0:94.44.2.10 (RTDS 8F66 names it)
    "max_meter_balance": "max_meter_balance_pence",  # 9000 0-0:94.44.2.20 (idem)
}
CONFIG_FILE = "prepay_config.json"  # next to the credit engine's file


def _charge_configuration() -> Data:
    """Class 111 credit_charge_configuration: which charge is collected from which credit,
    and when (bits: while the supply is disconnected, in load limiting, in friendly credit
    periods). The rig's engine takes each debt from the meter balance (0-0:19.10.0) in every
    state, so all three bits are set. A stored value: a SET replaces it and reads return it;
    the engine does not act on it."""
    balance = cosem.obis("0-0:19.10.0")
    return Data(
        DataType.ARRAY,
        [
            Data(
                DataType.STRUCTURE,
                [
                    Data(DataType.OCTET_STRING, balance),
                    Data(DataType.OCTET_STRING, charge),
                    Data(DataType.BIT_STRING, (3, b"\xe0")),
                ],
            )
            for charge in (cosem.TIME_DEBT_1, cosem.TIME_DEBT_2, cosem.PAYMENT_DEBT)
        ],
    )


# what the ESME keeps that the engine does not act on (yet): the non-disablement calendar,
# the debt recovery rate cap, the credit charge configuration; their values at first
# power-on, and the DLMS type each must have
KEPT: dict[str, tuple[DataType, Callable[[], Data]]] = {
    "special_days": (DataType.ARRAY, lambda: Data(DataType.ARRAY, [])),
    "schedule": (DataType.ARRAY, lambda: Data(DataType.ARRAY, [])),
    "debt_cap": (DataType.LONG_UNSIGNED, lambda: Data(DataType.LONG_UNSIGNED, 0)),
    "debt_cap_period": (
        DataType.DOUBLE_LONG,
        lambda: Data(DataType.DOUBLE_LONG, catalogue_prepay_config.DEBT_CAP_PERIOD_S),
    ),
    "credit_charge_configuration": (DataType.ARRAY, _charge_configuration),
}


@dataclass(slots=True)
class _Kept:
    """The stored values, persisted atomically as their A-XDR encoding."""

    path: Path
    encoded: dict[str, str]

    @classmethod
    def load(cls, path: Path) -> _Kept:
        saved = read_json(path, {}) or {}
        return cls(path, {k: v for k, v in saved.items() if k in KEPT and isinstance(v, str)})

    def get(self, name: str) -> Data:
        raw = self.encoded.get(name)
        if raw is None:
            return KEPT[name][1]()
        return Data.decode(Reader(bytes.fromhex(raw)))

    def set(self, name: str, value: Data) -> None:
        self.encoded[name] = value.encode().hex()
        write_json(self.path, self.encoded)


Accessor = tuple[Callable[[], Data], Callable[[Data], None]]
Clock = Callable[[], dt.datetime]


def serve_prepay_config(server: CosemServer, credit: Credit) -> PrepayConfig:
    """Put the prepayment configuration objects ECS08 writes and ECS26a reads on
    ``server``: the engine's thresholds and limits (from and into ``credit``'s settings),
    the values the engine keeps without acting on them, and GBCS's future-dated objects
    (class 9000) through which ECS08 writes each value and activates it at once."""
    kept = _Kept.load(credit.path.with_name(CONFIG_FILE))
    device = credit.meter.duis

    def engine(field: str) -> Accessor:
        def get() -> Data:
            return Data(DataType.DOUBLE_LONG, getattr(credit.settings, field) * MILLIPENCE)

        def put(value: Data) -> None:
            changed: dict[str, Any] = {field: _pence(value, field)}
            credit.settings = replace(credit.settings, **changed)
            credit.save()
            log.info("prepay_config.set", extra={"device": device, field: value.value})

        return get, put

    def stored(name: str) -> Accessor:
        def put(value: Data) -> None:
            kind = KEPT[name][0]
            if value.type is not kind:
                raise CosemError(Result.TYPE_UNMATCHED, f"{name} is a {kind.name}")
            kept.set(name, value)
            log.info("prepay_config.set", extra={"device": device, "setting": name})

        return lambda: kept.get(name), put

    def disablement() -> Accessor:
        field = "disablement_threshold_pence"

        def get() -> Data:
            pence = credit.settings.disablement_threshold_pence
            return Data(DataType.ARRAY, [Data(DataType.DOUBLE_LONG, pence * MILLIPENCE)])

        def put(value: Data) -> None:
            if value.type is not DataType.ARRAY or len(value.value) != 1:
                raise CosemError(Result.TYPE_UNMATCHED, "one threshold: the disablement one")
            engine(field)[1](value.value[0])

        return get, put

    values: dict[str, Accessor] = {name: engine(f) for name, f in ENGINE_SETTINGS.items()}
    values.update({name: stored(name) for name in KEPT})

    def account(attribute: int) -> cosem.Attribute:
        return cosem.Attribute(cosem.ACCOUNT, cosem.ACCOUNT_OBJECT, attribute)

    def ec(attribute: int) -> cosem.Attribute:
        return cosem.Attribute(cosem.PREPAY_CREDIT, cosem.EMERGENCY_CREDIT_OBJECT, attribute)

    def dated(instance: bytes, attribute: int) -> cosem.Attribute:
        return cosem.Attribute(cosem.FUTURE_DATED, instance, attribute)

    in_force = {
        account(cosem.LOW_CREDIT_THRESHOLD): "low_credit",
        account(cosem.MAX_PROVISION): "debt_cap",
        account(cosem.MAX_PROVISION_PERIOD): "debt_cap_period",
        account(cosem.CREDIT_CHARGE_CONFIGURATION): "credit_charge_configuration",
        ec(cosem.PRESET_CREDIT_AMOUNT): "emergency_credit_limit",
        ec(cosem.CREDIT_AVAILABLE_THRESHOLD): "emergency_credit_threshold",
        dated(cosem.MAX_CREDIT_THRESHOLD, cosem.VALUE): "max_credit_threshold",
        dated(cosem.MAX_METER_BALANCE, cosem.VALUE): "max_meter_balance",
        cosem.Attribute(cosem.SPECIAL_DAYS, cosem.SPECIAL_DAYS_TABLE, cosem.ENTRIES): (
            "special_days"
        ),
        cosem.Attribute(cosem.SCHEDULE, cosem.NON_DISABLEMENT_SCHEDULE, cosem.ENTRIES): (
            "schedule"
        ),
    }
    for address, name in in_force.items():
        server.attribute(address, *values[name])
    server.attribute(cosem.DISABLEMENT_MONITOR, *disablement())

    # the values to come, and their activation: ECS08 writes each, then activates it
    config = PrepayConfig(credit.path.with_name(HELD_FILE), values, device=device)
    _CONFIGS[server] = config

    def coming(name: str) -> Accessor:
        def put(value: Data) -> None:
            current = values[name][0]()
            if value.type is not current.type:
                raise CosemError(Result.TYPE_UNMATCHED, f"{name} is a {current.type.name}")
            config.to_come[name] = value

        return lambda: config.to_come.get(name) or values[name][0](), put

    for name, activated_by in ACTIVATIONS.items():
        to_come = TO_COME.get(name, dated(activated_by.instance, cosem.VALUE_TO_COME))
        server.attribute(to_come, *coming(name))
        when = partial(config.activation_time, name), partial(config.activation, name)
        server.attribute(activated_by, *when)
    credit.watchers.append(config.watch)
    return config


# each value's activation date-time (class 9000 attribute 6), in the order ECS08a writes them
# (RTDS's 8F66 alerts name them); the calendar to come (B=1) has its own objects to come
def _activation(instance: bytes) -> cosem.Attribute:
    return cosem.Attribute(cosem.FUTURE_DATED, instance, cosem.ACTIVATION)


ACTIVATIONS = {
    "special_days": _activation(cosem.SPECIAL_DAYS_ACTIVATION),
    "max_meter_balance": _activation(cosem.MAX_METER_BALANCE),
    "max_credit_threshold": _activation(cosem.MAX_CREDIT_THRESHOLD),
    "debt_cap": _activation(cosem.DEBT_CAP_AMOUNT),
    "debt_cap_period": _activation(cosem.DEBT_CAP_PERIOD),
    "low_credit": _activation(cosem.LOW_CREDIT_TO_COME),
    "emergency_credit_limit": _activation(cosem.EMERGENCY_CREDIT_LIMIT),
    "emergency_credit_threshold": _activation(cosem.EMERGENCY_CREDIT_THRESHOLD),
    "schedule": _activation(cosem.CALENDAR_ACTIVATION),
}
TO_COME = {
    "special_days": cosem.Attribute(cosem.SPECIAL_DAYS, cosem.SPECIAL_DAYS_TO_COME, cosem.ENTRIES),
    "schedule": cosem.Attribute(cosem.SCHEDULE, cosem.NON_DISABLEMENT_TO_COME, cosem.ENTRIES),
}
HELD_FILE = "prepay_config_held.json"  # next to the credit engine's file
_CONFIGS: weakref.WeakKeyDictionary[CosemServer, PrepayConfig] = weakref.WeakKeyDictionary()


class PrepayConfig:
    """ECS08a's values to come and their activation: at once (all zero), held until a date
    (FUTURE_DATED: kept in ``path`` with its requester and counter, so a restart keeps it),
    or never (CANCELLATION: what is held dropped). A held value is applied at its time on
    the meter's clock, and its requester sent the 8F66 alert naming its activation
    attribute (:func:`carry_out`)."""

    def __init__(self, path: Path, values: dict[str, Accessor], device: str = "") -> None:
        self.path, self.values, self.device = path, values, device
        self.to_come: dict[str, Data] = {}  # written, not yet activated
        self.now: Clock = future.utc_now
        self.command: Command | None = None  # the ECS08a being executed
        self.meter: Any = None  # what sends the alerts (the ESME, once known)
        saved = read_json(path, {}) or {}
        self.held: dict[str, tuple[Held, Data]] = {}
        for name, kept in saved.items():
            try:
                value = Data.decode(Reader(bytes.fromhex(kept["value"])))
                self.held[name] = (Held(**kept["held"]), value)
            except (DecodeError, KeyError, TypeError, ValueError):
                log.warning("prepay_config.held_unreadable", extra={"device": device})

    def save(self) -> None:
        write_json(
            self.path,
            {n: {"held": asdict(h), "value": v.encode().hex()} for n, (h, v) in self.held.items()},
        )

    def activation_time(self, name: str) -> Data:
        held = self.held.get(name)
        if held is None:
            return Data(DataType.OCTET_STRING, NEVER)
        return Data(DataType.OCTET_STRING, dlms.date_time(_at(held[0])))

    def activation(self, name: str, value: Data) -> None:
        """ECS08a's activation date-time of ``name``: at once, at a date (held), or never."""
        raw = value.value
        if value.type is not DataType.OCTET_STRING or not isinstance(raw, bytes) or len(raw) != 12:
            raise CosemError(Result.TYPE_UNMATCHED, f"{name}: not a date-time")
        extra = {"device": self.device, "setting": name}
        if raw == NEVER:
            self.to_come.pop(name, None)
            if self.held.pop(name, None) is not None:
                log.info("prepay_config.cancelled", extra=extra)
            self.save()
            return
        when = None if raw == catalogue_prepay_config.AT_ONCE else dlms.parse_date_time(raw)
        if raw != catalogue_prepay_config.AT_ONCE and when is None:
            raise CosemError(Result.TYPE_UNMATCHED, f"{name}: a date-time the meter cannot place")
        coming = self.to_come.pop(name, None)
        asked = self.command
        if when is None or when <= self.now() or asked is None:
            self.held.pop(name, None)  # an activation now replaces one held
            if coming is not None:
                self.values[name][1](coming)
            self.save()
            return
        held = Held(when.timestamp(), asked.requester.duis, asked.counter, asked.message_code)
        self.held[name] = (held, coming if coming is not None else self.values[name][0]())
        self.save()
        log.info("prepay_config.held", extra={**extra, "at": when.isoformat()})

    def next_due(self) -> float | None:
        return min((h.at for h, _ in self.held.values()), default=None)

    def activate_due(self, now: dt.datetime) -> list[tuple[str, Held]]:
        """Apply each held value whose time has come (in the order ECS08a activated them):
        their names and what was held."""
        done = []
        for name in [n for n in ACTIVATIONS if n in self.held]:
            held, value = self.held[name]
            if held.at <= now.timestamp():
                self.values[name][1](value)
                del self.held[name]
                done.append((name, held))
        if done:
            self.save()
            names = [n for n, _ in done]
            log.info("prepay_config.activated", extra={"device": self.device, "settings": names})
        return done

    def watch(self) -> None:
        """Arm the wait for what is held, once the meter and a running loop are known (the
        credit engine calls this as it ticks: a restart's held values are waited for)."""
        if self.next_due() is None or getattr(self.meter, "gbcs", None) is None:
            return
        try:
            future.arm(self.meter, "prepay_config", lambda: carry_out(self.meter, self))
        except RuntimeError:  # no running loop yet (the meter is being built)
            return


def _at(held: Held) -> dt.datetime:
    return dt.datetime.fromtimestamp(held.at, dt.UTC)


async def carry_out(meter: Any, config: PrepayConfig) -> None:
    """Wait for the held values' times; apply each then and send its requester the 8F66
    alert naming its activation attribute, as RTDS's 2.1 ECS08a alerts do."""

    async def step(now: dt.datetime) -> bool:
        done = config.activate_due(now)
        for name, held in done:
            element = Element(name, (), (), ACTIVATIONS[name], ())
            alert = meter.gbcs.alert(
                DLMS_FDA,
                execution_alert(element, held),
                code=FUTURE_DATED_SUCCESS,
                recipient=Eui64.parse(held.requester),
            )
            await meter.send_up(alert)
            log.info(
                "gbcs.alert_sent",
                extra={"device": config.device, "alert_code": "8F66", "setting": name},
            )
        return bool(done)

    await future.run_when_due(config.next_due, step, lambda: config.now())


def resume_prepay_config(meter: Any) -> None:
    """The ESME known to its prepayment configuration (its held values' alerts are sent
    through it, after a restart too)."""
    server = getattr(meter, "cosem", None)
    config = _CONFIGS.get(server) if server is not None else None
    if config is not None:
        config.meter = meter


@handles(ECS08A)
async def update_prepay_configuration(uc: UseCase, cmd: GbcsMessage, ctx: Context) -> GbcsMessage:
    """ECS08a, executed from the COSEM server as every DLMS use case is, the configuration
    knowing its requester and counter (a held value's alert names them)."""
    config = _CONFIGS.get(ctx.device.cosem) if ctx.device.cosem is not None else None
    if config is None:
        return await serve_dlms(uc, cmd, ctx)
    config.now, config.meter = ctx.now, ctx.device
    h = cmd.header
    config.command = Command(Eui64(h.originator), h.counter, cmd.message_code)
    try:
        return await serve_dlms(uc, cmd, ctx)
    finally:
        config.command = None
        config.watch()


def _pence(value: Data, what: str) -> int:
    """A DLMS amount in millipence as the engine's whole pence."""
    millipence = _int(value, what)
    if millipence % MILLIPENCE:
        raise CosemError(
            Result.TYPE_UNMATCHED,
            f"{what}: {millipence} millipence is not whole pence, which the rig's engine keeps",
        )
    return millipence // MILLIPENCE
