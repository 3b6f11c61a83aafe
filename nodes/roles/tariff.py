"""What a meter serves of the ESME's tariffs and prices (1.1.1, 1.1.2, 1.2.1, 1.2.2, 1.5, 1.6, 1.7,
4.11.1, 4.11.2).

The tariff is six elements (:data:`rig.protocol.gbcs.catalogue_tariff.ELEMENTS`), each kept
as the COSEM values ECS24 reads (active), the values ECS01a wrote and has not activated yet
(passive), and, when ECS01a dated its activation in the future, that time, its requester
and counter. All of it lives in ``tariff.json`` in the meter's state folder, so a restart
keeps a held tariff. ECS01a's activation date-time of an element activates it at once
(all zero), holds it until then (a date), or cancels what is held (not specified). A held
element is activated at its time, not before, on the meter's clock
(:func:`nodes.gbcs.future.run_when_due`); the requester then gets the future-dated execution
alert (0x00CC, 8F66) naming the element's activation attribute, as RTDS's 1.1.1 alerts do.

What the tariff changes: the rate in force is the action of the active switching table at
the meter's time (special day, else season, week and weekday; a day's last action runs on
until the next day's first); the energy the meter imports goes to that TOU register
(:mod:`nodes.roles.reads` asks :meth:`Tariff.rates_between`), and the price of that rate is
what the meter charges and what its HAN Price cluster shows the IHD, as it reads the
meter's ``behaviour.price_p_kwh`` (:class:`TariffPrice`). A meter whose tariff was never set
charges its behaviour's price, and ECS24 reads a one-rate tariff at that price.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from nodes.gbcs import future
from nodes.gbcs.cosem_server import CosemError, CosemServer, Invocation, Result
from nodes.gbcs.cosem_server import Method as CosemMethod
from nodes.gbcs.handlers import Context, handles, serve_dlms
from rig.protocol.codec import DecodeError, Reader
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import cosem, dlms
from rig.protocol.gbcs.catalogue_tariff import (
    ACTIVATED,
    AT_ONCE,
    BLOCK_ACTION,
    BLOCK_TARIFFS,
    CREDITS,
    CURRENCY_UNIT,
    DISABLEMENT_THRESHOLD,
    DLMS_FDA,
    ECS01A,
    ECS01B,
    ECS01C,
    ECS01D,
    ECS02,
    ECS03,
    ELEMENTS,
    FUTURE_DATED_FAILURE,
    FUTURE_DATED_SUCCESS,
    METER_BALANCE_UPDATE,
    NEVER,
    PAYMENT_ACTIVATED,
    PAYMENT_MODE,
    REGISTER_CLASS,
    RESET_BLOCK_COUNTERS,
    RUN_TARIFF_SCRIPT,
    SECONDARY_ACTIVATED,
    SECONDARY_COMMODITY,
    SECONDARY_ELEMENTS,
    SECONDARY_RATES,
    SECONDARY_TARIFF_REGISTER,
    SET_AMOUNT_TO_VALUE,
    TARIFF_REGISTER,
    TARIFF_SCRIPTS,
    THRESHOLD_MATRIX,
    TOU_RATES,
    Element,
    block_price_index,
    price_matrix,
)
from rig.protocol.gbcs.cosem import MILLIPENCE
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase
from rig.runtime.files import read_json, write_json

log = logging.getLogger("nodes.tariff")
_D = DataType
TARIFF_FILE = "tariff.json"
SECONDARY_FILE = "tariff_secondary.json"  # the secondary element's tariff
ACCOUNT_FILE = "account_to_come.json"  # 1.6's account to come
THRESHOLDS_PER_TARIFF = 3  # four blocks: three thresholds (RTDS's ECS24 answer has three)
NO_THRESHOLD = 0xFFFF_FFFF
STERLING = 1  # the currency unit register's value for sterling (RTDS ECS24)
Clock = Callable[[], dt.datetime]


# --- the values a new meter starts with ------------------------------------------------------
def _date_time(date: bytes) -> bytes:
    return date + b"\x00\x00\x00\x00\x80\x00\xff"


def one_rate(price_p_kwh: float) -> dict[str, list[Data]]:
    """A new meter's tariff: one season, one week, one day, all of it rate 1 at
    ``price_p_kwh`` (in sterling, the smallest scale from -5 whose charge fits a long), no
    special days, no block thresholds, no standing charge."""
    scale, charge = -5, price_p_kwh / 100 * 10**5
    while abs(round(charge)) > 32767:
        scale, charge = scale + 1, charge / 10
    action = Data(
        _D.STRUCTURE,
        [
            Data(_D.OCTET_STRING, bytes(4)),
            Data(_D.OCTET_STRING, TARIFF_SCRIPTS),
            Data(_D.LONG_UNSIGNED, 1),
        ],
    )
    one = Data(_D.OCTET_STRING, b"\x01")
    since_2000 = Data(_D.OCTET_STRING, _date_time(b"\x07\xd0\x01\x01\xff"))
    season = [Data(_D.OCTET_STRING, b"all"), since_2000, one]
    return {
        "switching_table": [
            Data(_D.ARRAY, [Data(_D.STRUCTURE, season)]),
            Data(_D.ARRAY, [Data(_D.STRUCTURE, [one, *[Data(_D.UNSIGNED, 1)] * 7])]),
            Data(
                _D.ARRAY,
                [Data(_D.STRUCTURE, [Data(_D.UNSIGNED, 1), Data(_D.ARRAY, [action])])],
            ),
        ],
        "special_days": [Data(_D.ARRAY, [])],
        "thresholds": [_thresholds([]) for _ in range(BLOCK_TARIFFS)],
        "currency": [Data(_D.BOOLEAN, 0xFF)],
        "standing_charge": [cosem.unit_charge(0, -5)],
        "prices": [price_matrix({1: round(charge)}, scale)],
    }


def _thresholds(values: list[int]) -> Data:
    padded = (values + [NO_THRESHOLD] * THRESHOLDS_PER_TARIFF)[:THRESHOLDS_PER_TARIFF]
    return Data(_D.ARRAY, [Data(_D.DOUBLE_LONG_UNSIGNED, v) for v in padded])


# --- the tariff, persisted ---------------------------------------------------------------------
@dataclass(slots=True)
class Held:
    """An element's values written by a future-dated ECS01a, and who asked."""

    at: float  # UTC seconds since the Unix epoch
    requester: str  # DUIS EUI-64: the 8F66 alert goes there
    counter: int  # the ECS01a's counter, which the alert names
    message_code: int = 0x0019  # the command's (ECS01a, ECS01b), which the alert names


@dataclass(slots=True)
class ElementState:
    active: list[Data]
    passive: list[Data] | None = None
    held: Held | None = None


def _hex(values: list[Data]) -> list[str]:
    return [v.encode().hex() for v in values]


def _data(encoded: list[str]) -> list[Data]:
    return [Data.decode(Reader(bytes.fromhex(h))) for h in encoded]


@dataclass(slots=True)
class Command:
    """The ECS01a being executed: its requester and counter (a held activation's alert
    names them)."""

    requester: Eui64
    counter: int
    message_code: int


@dataclass
class Tariff:
    """The ESME's tariff elements, persisted in ``path``."""

    path: Path
    default_price_p_kwh: float
    now: Clock = future.utc_now
    device: str = ""
    # what it holds (the primary element's tariff; the secondary element's; 1.6's account),
    # the order they activate in (their 8F66 alerts'), the values a new meter starts with
    parts: tuple[Element, ...] = ELEMENTS
    activated: tuple[tuple[Element, str], ...] = ACTIVATED
    starting: Callable[[float], dict[str, list[Data]]] | None = None
    kind: str = "tariff"  # its timer's name (nodes.gbcs.future.arm)
    elements: dict[str, ElementState] = field(init=False)
    in_force: bool = field(init=False, default=False)  # an ECS01a tariff (not the first one)
    command: Command | None = field(init=False, default=None)
    # called before an element changes: the TOU registers credit the energy so far
    before_change: Callable[[], None] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        saved = read_json(self.path, {}) or {}
        defaults = (self.starting or one_rate)(self.default_price_p_kwh)
        self.in_force = bool(saved.get("in_force", False))
        self.block_wh = [float(v) for v in saved.get("block_counters", [0.0] * BLOCK_TARIFFS)]
        self.elements = {}
        for e in self.parts:
            kept = saved.get("elements", {}).get(e.name, {})
            try:
                active = _data(kept["active"]) if "active" in kept else defaults[e.name]
                passive = _data(kept["passive"]) if kept.get("passive") else None
            except (DecodeError, ValueError):
                log.warning("tariff.state_unreadable", extra={"device": self.device})
                active, passive = defaults[e.name], None
            held = Held(**kept["held"]) if kept.get("held") else None
            self.elements[e.name] = ElementState(active, passive, held)

    def save(self) -> None:
        write_json(
            self.path,
            {
                "in_force": self.in_force,
                "block_counters": self.block_wh,
                "elements": {
                    name: {
                        "active": _hex(s.active),
                        "passive": None if s.passive is None else _hex(s.passive),
                        "held": None if s.held is None else asdict(s.held),
                    }
                    for name, s in self.elements.items()
                },
            },
        )

    # --- ECS01a: the passive values, then their activation -------------------------------
    def write(self, element: Element, index: int, value: Data) -> None:
        kind = element.kinds[index]
        if value.type is not kind:
            raise CosemError(Result.TYPE_UNMATCHED, f"{element.names[index]} is a {kind.name}")
        if element is THRESHOLD_MATRIX:
            value = _thresholds([int(v.value) for v in value.value])
        state = self.elements[element.name]
        passive = list(state.passive or state.active)
        passive[index] = value
        state.passive = passive
        self.save()

    def activation(self, element: Element, value: Data) -> None:
        """The activation date-time of ``element``: at once, at a date (held), or never
        (what is held is cancelled)."""
        raw = value.value
        if value.type is not _D.OCTET_STRING or not isinstance(raw, bytes) or len(raw) != 12:
            raise CosemError(Result.TYPE_UNMATCHED, f"{element.name}: not a date-time")
        state = self.elements[element.name]
        if raw == NEVER:
            state.passive, state.held = None, None
            log.info("tariff.cancelled", extra={"device": self.device, "element": element.name})
        elif raw == AT_ONCE:
            self.activate(element.name)
        else:
            when = dlms.parse_date_time(raw)
            if when is None:
                raise CosemError(Result.TYPE_UNMATCHED, f"{element.name}: a date-time to place")
            if when <= self.now() or self.command is None:
                self.activate(element.name)
            else:
                asked = self.command
                state.held = Held(
                    when.timestamp(), asked.requester.duis, asked.counter, asked.message_code
                )
                log.info(
                    "tariff.held",
                    extra={"device": self.device, "element": element.name, "at": when.isoformat()},
                )
        self.save()

    def activate(self, name: str) -> None:
        state = self.elements[name]
        if state.passive is not None:
            if self.before_change is not None:
                self.before_change()
            state.active, state.passive = state.passive, None
            self.in_force = True
        state.held = None
        self.save()
        log.info("tariff.activated", extra={"device": self.device, "element": name})

    def next_due(self) -> float | None:
        times = [s.held.at for s in self.elements.values() if s.held is not None]
        return min(times) if times else None

    def activate_due(self, now: dt.datetime) -> list[tuple[Element, Held, bool]]:
        """Activate each held element whose time has come: those, what was held, and
        whether it took effect."""
        done = []
        for e, _alert in self.activated:  # in the order ECS01a activates them
            held = self.elements[e.name].held
            if held is not None and held.at <= now.timestamp():
                try:
                    self.activate(e.name)
                    ok = True
                except CosemError as exc:
                    self.elements[e.name].passive, self.elements[e.name].held = None, None
                    self.save()
                    extra = {"device": self.device, "element": e.name, "reason": str(exc)}
                    log.warning("tariff.activation_failed", extra=extra)
                    ok = False
                done.append((e, held, ok))
        return done

    # --- what the active tariff says -----------------------------------------------------------
    def _day_id(self, day: dt.date) -> int | None:
        seasons, weeks, _days = self.elements["switching_table"].active
        for entry in self.elements["special_days"].active[0].value:
            if _matches(bytes(entry.value[1].value), day):
                return int(entry.value[2].value)
        started = [
            (start, s)
            for s in seasons.value
            if (start := _season_start(bytes(s.value[1].value), day)) is not None
        ]
        if not started:
            return None
        week_name = bytes(max(started, key=lambda x: x[0])[1].value[2].value)
        week = next((w for w in weeks.value if bytes(w.value[0].value) == week_name), None)
        return None if week is None else int(week.value[1 + day.weekday()].value)

    def _actions(self, day: dt.date) -> list[tuple[dt.time, int]]:
        day_id = self._day_id(day)
        profiles = self.elements["switching_table"].active[2].value
        for profile in profiles:
            if int(profile.value[0].value) == day_id:
                actions = []
                for a in profile.value[1].value:
                    hh, mm, ss, _ = bytes(a.value[0].value)
                    actions.append((dt.time(hh % 24, mm % 60, ss % 60), int(a.value[2].value)))
                return sorted(actions)
        return []

    def action_at(self, when: dt.datetime) -> int:
        """The switching table's action in force at ``when`` (UTC): a TOU rate (1-48) or
        100 + a block tariff; 1 when the table says nothing for the day."""
        t = when.astimezone(dt.UTC)
        today = [a for start, a in self._actions(t.date()) if start <= t.time()]
        if today:
            return today[-1]
        for back in range(1, 8):  # the last action of the last day that had one
            earlier = self._actions(t.date() - dt.timedelta(days=back))
            if earlier:
                return earlier[-1][1]
        return 1

    def _next_switch(self, after: dt.datetime) -> dt.datetime:
        day = after.date()
        for start, _ in self._actions(day):
            at = dt.datetime.combine(day, start, dt.UTC)
            if at > after:
                return at
        return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)

    def rates_between(self, start: dt.datetime, end: dt.datetime) -> list[tuple[int, float]]:
        """The TOU rate (1-48; 0 under a block tariff) of each stretch from ``start`` to
        ``end`` and its seconds, in order."""
        if start >= end:
            action = self.action_at(end)
            return [(action if action <= TOU_RATES else 0, 1.0)]
        out: list[tuple[int, float]] = []
        t = start.astimezone(dt.UTC)
        while t < end:
            nxt = min(self._next_switch(t), end)
            action = self.action_at(t)
            out.append((action if action <= TOU_RATES else 0, (nxt - t).total_seconds()))
            t = nxt
        return out

    def block(self, tariff: int) -> int:
        """The block (1-4) block tariff ``tariff``'s counter is in: one past each of its
        thresholds (in the active import register's Wh) the counter has reached."""
        thresholds = self.elements["thresholds"].active[tariff - 1].value
        limits = [int(t.value) for t in thresholds if int(t.value) != NO_THRESHOLD]
        return 1 + sum(self.block_wh[tariff - 1] >= limit for limit in limits)

    def count(self, wh: float) -> None:
        """Energy the meter charged (``Credit.on_spend``): under a block tariff, its counter
        takes it (kept each whole Wh)."""
        action = self.action_at(self.now())
        if action <= BLOCK_ACTION or wh <= 0:
            return
        n = action - BLOCK_ACTION - 1
        before, self.block_wh[n] = self.block_wh[n], self.block_wh[n] + wh
        if int(before) != int(self.block_wh[n]):
            self.save()

    def reset_block_counters(self, _argument: Data | None = None) -> None:
        """ECS05: every block counter back to zero (the first block's price again)."""
        self.block_wh = [0.0] * BLOCK_TARIFFS
        self.save()
        log.info("tariff.block_counters_reset", extra={"device": self.device})

    def price(self, action: int) -> tuple[int, int]:
        """(charge, price scale) of an action: a TOU rate's price, or a block tariff's
        price of the block its counter is in."""
        matrix = self.elements["prices"].active[0]
        scaling, _commodity, table = matrix.value
        index = action
        if action > BLOCK_ACTION:
            index = block_price_index(action - BLOCK_ACTION, self.block(action - BLOCK_ACTION))
        charges = {bytes(e.value[0].value)[0]: int(e.value[1].value) for e in table.value}
        return charges.get(index, 0), int(scaling.value[1].value)

    def standing_charge_p_day(self) -> float:
        """The standing charge in force (ECS01a, ECS01b), in pence a day."""
        charge, scale = cosem.charge_of(self.elements["standing_charge"].active[0])
        exponent = scale + 2  # sterling to pence
        return charge * 10**exponent if exponent >= 0 else charge / 10**-exponent

    def price_p_kwh(self, when: dt.datetime | None = None) -> float:
        """The price of the rate in force, in pence per kWh (sterling)."""
        charge, scale = self.price(self.action_at(when or self.now()))
        exponent = scale + 2  # sterling to pence
        return charge * 10**exponent if exponent >= 0 else charge / 10**-exponent

    # --- served ----------------------------------------------------------------------------
    def serve(self, server: CosemServer, *, actives: bool = True) -> None:
        """Each element's passive values and activation; its active values too unless
        another family serves them (``actives`` False: 1.6's account)."""
        for e in self.parts:
            for i, (passive, active) in enumerate(zip(e.passive, e.active, strict=True)):
                if actives:
                    server.attribute(active, self._getter(e.name, i))
                server.attribute(passive, self._getter(e.name, i, passive=True), self._writer(e, i))
            server.attribute(e.activation, *self._activator(e))

    def serve_register(self, server: CosemServer, register: bytes, sterling: Callable[[], bool]):
        """The tariff register ECS24 (ECS24b) reads first: the currency unit (1: sterling),
        its scaler the price matrix's price scale."""
        server.attribute(
            cosem.Attribute(REGISTER_CLASS, register, 2),
            lambda: Data(_D.DOUBLE_LONG_UNSIGNED, STERLING if sterling() else 2),
        )
        server.attribute(
            cosem.Attribute(REGISTER_CLASS, register, 3),
            lambda: Data(
                _D.STRUCTURE,
                [Data(_D.INTEGER, self.price(1)[1]), Data(_D.ENUM, CURRENCY_UNIT)],
            ),
        )

    def sterling(self) -> bool:
        return bool(self.elements["currency"].active[0].value)

    def _writer(self, element: Element, index: int) -> Callable[[Data], None]:
        return lambda value: self.write(element, index, value)

    def _activator(self, element: Element) -> tuple[Callable[[], Data], Callable[[Data], None]]:
        def get() -> Data:
            return Data(_D.OCTET_STRING, self._activation_time(element))

        return get, lambda value: self.activation(element, value)

    def _getter(self, name: str, index: int, *, passive: bool = False) -> Callable[[], Data]:
        def get() -> Data:
            state = self.elements[name]
            values = state.passive if passive and state.passive is not None else state.active
            return values[index]

        return get

    def _activation_time(self, element: Element) -> bytes:
        held = self.elements[element.name].held
        if held is None:
            return NEVER
        return dlms.date_time(dt.datetime.fromtimestamp(held.at, dt.UTC))


def _matches(date: bytes, day: dt.date) -> bool:
    """Whether a COSEM date (year, month, day of month, weekday; 0xFF(FF) any) is ``day``."""
    year, month, dom, weekday = int.from_bytes(date[:2], "big"), date[2], date[3], date[4]
    return (
        year in (0xFFFF, day.year)
        and month in (0xFF, day.month)
        and dom in (0xFF, day.day)
        and weekday in (0xFF, day.isoweekday())
    )


def _season_start(start: bytes, day: dt.date) -> dt.date | None:
    """When a season starting at ``start`` (a COSEM date-time, the year perhaps not
    specified: every year) last began on or before ``day``; None if it has not yet."""
    year, month, dom = int.from_bytes(start[:2], "big"), start[2], start[3]
    month, dom = (1 if month == 0xFF else month), (1 if dom == 0xFF else dom)
    try:
        if year != 0xFFFF:
            began = dt.date(year, month, dom)
            return began if began <= day else None
        began = dt.date(day.year, month, dom)
        return began if began <= day else dt.date(day.year - 1, month, dom)
    except ValueError:
        return None


# --- on the meter ------------------------------------------------------------------------------
class TariffPrice:
    """The meter's behaviour, its price the tariff's price of the rate in force (what the
    meter charges, what its HAN Price cluster shows): every other knob as it was."""

    def __init__(self, behaviour: Any, tariff: Tariff, watch: Callable[[], None]) -> None:
        self._behaviour, self._tariff, self._watch = behaviour, tariff, watch

    def __getattr__(self, name: str) -> Any:
        return getattr(self._behaviour, name)

    @property
    def price_p_kwh(self) -> float:
        self._watch()  # a held activation (after a restart, too) is waited for
        if not self._tariff.in_force:
            return float(self._behaviour.price_p_kwh)
        return self._tariff.price_p_kwh()

    @property
    def standing_charge_p_day(self) -> float:
        self._watch()
        if not self._tariff.in_force:
            return float(self._behaviour.standing_charge_p_day)
        return self._tariff.standing_charge_p_day()


def execution_alert(element: Element, held: Held) -> list[Data]:
    """The 8F66 alert's fields: when it was due, and what was done (the command's message
    code and counter, then the class, instance and attribute it set)."""
    target = element.activation
    done = (
        held.message_code.to_bytes(2, "big")
        + held.counter.to_bytes(8, "big")
        + target.class_id.to_bytes(2, "big")
        + target.instance
        + bytes([target.attribute])
    )
    when = dt.datetime.fromtimestamp(held.at, dt.UTC)
    return [Data(_D.OCTET_STRING, dlms.date_time(when)), Data(_D.OCTET_STRING, done)]


async def carry_out(meter: Any, tariff: Tariff, clock: Clock) -> None:
    """Wait for the held elements' times on ``clock``; activate each then and send its
    requester the 8F66 alert (a new command taken as it comes)."""

    async def step(now: dt.datetime) -> bool:
        done = tariff.activate_due(now)
        for element, held, ok in done:
            gbcs = meter.gbcs
            code = FUTURE_DATED_SUCCESS if ok else FUTURE_DATED_FAILURE
            alert = gbcs.alert(
                DLMS_FDA,
                execution_alert(element, held),
                code=code,
                recipient=Eui64.parse(held.requester),
            )
            await meter.send_up(alert)
            extra = {"device": tariff.device, "alert_code": f"{code:04X}", "element": element.name}
            log.info("gbcs.alert_sent", extra=extra)
        return bool(done)

    await future.run_when_due(tariff.next_due, step, clock)


def watch(meter: Any, *stores: Tariff) -> Callable[[], None]:
    """What arms the meter's wait for each store's held activations, once a loop runs."""

    def arm() -> None:
        if getattr(meter, "gbcs", None) is None:
            return
        for store in stores:
            if store.next_due() is None:
                continue
            try:
                future.arm(meter, store.kind, partial(carry_out, meter, store, store.now))
            except RuntimeError:  # no running loop yet (the meter is being built)
                return

    return arm


def adjust_balance(credit: Any, metering: Callable[[], Any]) -> CosemMethod:
    """ECS04a's update_amount of the meter balance: the amount (millipence, perhaps
    negative) added to the credit engine's balance, what was used so far taken off first;
    the engine's next look raises what the new balance calls for."""

    def update(amount: Data, _invocation: Invocation) -> None:
        if amount.type is not _D.DOUBLE_LONG:
            raise CosemError(Result.TYPE_UNMATCHED, "update_amount takes a double-long")
        metering()
        credit.millipence += int(amount.value)
        credit.save()
        extra = {"device": credit.meter.duis, "millipence": amount.value}
        log.info("tariff.balance_adjusted", extra=extra)

    return update


# --- the secondary element: held, not charged ------------------------------------------------
def _secondary_start(_price_p_kwh: float) -> dict[str, list[Data]]:
    """A new meter's secondary element tariff: no seasons, weeks, days or special days, its
    four prices 0."""
    empty = Data(_D.ARRAY, [])
    prices = price_matrix({}, -5, SECONDARY_COMMODITY, tuple(range(1, SECONDARY_RATES + 1)))
    return {"switching_table": [empty] * 3, "special_days": [empty], "prices": [prices]}


# --- 1.6: the account to come ----------------------------------------------------------------
class Account(Tariff):
    """1.6's account to come (0-1:19.0.0) and disablement threshold to come, held as the
    tariff's elements are; activated, the mode and credit charge configuration become the
    account in force's (the credit engine's payment mode, as 6.2.9's object switches it),
    the threshold the engine's disablement threshold (whole pence, as the engine keeps it)."""

    server: CosemServer
    credit: Any

    def activate(self, name: str) -> None:
        state = self.elements[name]
        if state.passive is not None:
            if name == DISABLEMENT_THRESHOLD.name:
                millipence = int(state.passive[0].value)
                pence = millipence // MILLIPENCE
                self.credit.settings = replace(
                    self.credit.settings, disablement_threshold_pence=pence
                )
                self.credit.save()
            else:
                for address, value in zip(PAYMENT_MODE.active, state.passive, strict=True):
                    self.server.set(address, value)
        state.passive, state.held = None, None
        self.save()
        log.info("tariff.account_activated", extra={"device": self.device, "element": name})


def _account_start(_price_p_kwh: float) -> dict[str, list[Data]]:
    mode = Data(_D.STRUCTURE, [Data(_D.ENUM, 0), Data(_D.ENUM, 0)])
    return {
        "payment_mode": [mode, Data(_D.ARRAY, [])],
        "disablement_threshold": [Data(_D.DOUBLE_LONG, 0)],
    }


def _account(meter: Any, server: CosemServer, credit: Any) -> Account:
    account = Account(
        meter.config.state_dir / ACCOUNT_FILE,
        0.0,
        device=meter.config.eui.duis,
        parts=(PAYMENT_MODE, DISABLEMENT_THRESHOLD),
        activated=PAYMENT_ACTIVATED,
        starting=_account_start,
        kind="payment_mode",
    )
    account.server, account.credit = server, credit
    account.serve(server, actives=False)
    return account


# --- 1.5 in credit mode: ECS04b ------------------------------------------------------------------
def reset_credits(credit: Any, metering: Callable[[], Any]) -> list[CosemMethod]:
    """ECS04b's set_amount_to_value of each credit: the meter balance (what was used so far
    taken off first), the emergency credit balance (0: emergency credit no longer in use) and
    the accumulated debt (the rig's engine takes debts off the balance at once and keeps
    none accumulated: 0 is what it holds). A value other than 0 for those two is refused."""

    def amount(value: Data) -> int:
        if value.type is not _D.DOUBLE_LONG:
            raise CosemError(Result.TYPE_UNMATCHED, "set_amount_to_value takes a double-long")
        return int(value.value)

    def balance(value: Data, _invocation: Invocation) -> None:
        metering()
        credit.millipence = amount(value)
        credit.save()
        log.info(
            "tariff.balance_set", extra={"device": credit.meter.duis, "millipence": value.value}
        )

    def emergency(value: Data, _invocation: Invocation) -> None:
        if amount(value):
            raise CosemError(Result.OTHER_REASON, "the emergency credit balance is reset to 0 only")
        credit.flags.active = credit.flags.offered = False
        credit.save()

    def accumulated(value: Data, _invocation: Invocation) -> None:
        if amount(value):
            raise CosemError(Result.OTHER_REASON, "the rig's engine accumulates no debt: 0 only")

    return [balance, emergency, accumulated]


def serve_tariff(meter: Any) -> Tariff | None:
    """Serve the ESME's tariffs and prices on ``meter``'s object server: the tariff on its
    COSEM server, its price as the meter's ``behaviour.price_p_kwh`` (what it charges, what
    the IHD reads), its current rate for the TOU registers (``meter.tariff``); the secondary
    element's tariff (a single element meter holds it, and charges nothing by it); 1.6's
    account to come; 1.5's resets; 1.7's block counter reset."""
    server: CosemServer | None = getattr(meter, "cosem", None)
    if server is None:
        return None
    device = meter.config.eui.duis
    tariff = Tariff(
        meter.config.state_dir / TARIFF_FILE, float(meter.behaviour.price_p_kwh), device=device
    )
    tariff.serve(server)
    tariff.serve_register(server, TARIFF_REGISTER, tariff.sterling)
    secondary = Tariff(
        meter.config.state_dir / SECONDARY_FILE,
        0.0,
        device=device,
        parts=SECONDARY_ELEMENTS,
        activated=SECONDARY_ACTIVATED,
        starting=_secondary_start,
        kind="secondary_tariff",
    )
    secondary.serve(server)
    secondary.serve_register(server, SECONDARY_TARIFF_REGISTER, tariff.sterling)
    server.method(RUN_TARIFF_SCRIPT, _run_script(tariff))
    stores = [tariff, secondary]
    credit = getattr(meter, "credit", None)
    if credit is not None:  # ECS04a: the meter balance adjusted; ECS04b: reset
        server.method(METER_BALANCE_UPDATE, adjust_balance(credit, meter.metering))
        for target, method in zip(CREDITS, reset_credits(credit, meter.metering), strict=True):
            server.method(cosem.Method(cosem.PREPAY_CREDIT, target, SET_AMOUNT_TO_VALUE), method)
        stores.append(_account(meter, server, credit))
        credit.on_spend = tariff.count
    reads = getattr(meter, "energy_reads", None)  # nodes.roles.reads' (served before)
    if reads is not None:
        tariff.before_change = reads.tou.advance
    meter.tariff, meter.tariff_stores = tariff, tuple(stores)
    meter.behaviour = TariffPrice(meter.behaviour, tariff, watch(meter, *stores))
    return tariff


def _run_script(tariff: Tariff) -> CosemMethod:
    def run(script: Data, _invocation: Invocation) -> None:
        if script.type is not _D.LONG_UNSIGNED or script.value != RESET_BLOCK_COUNTERS:
            raise CosemError(
                Result.OTHER_REASON,
                f"the tariffication script table runs script {RESET_BLOCK_COUNTERS} (reset the "
                "block counters) on command; its others are the switching table's",
            )
        tariff.reset_block_counters()

    return run


@handles(ECS01A, ECS01B, ECS01C, ECS01D, ECS02, ECS03)
async def set_tariff(uc: UseCase, cmd: GbcsMessage, ctx: Context) -> GbcsMessage:
    """ECS01a-d and 1.6's ECS02/03, executed from the COSEM server as every DLMS use case
    is, each store knowing the requester and counter (for a held activation's alert); what
    they hold is then waited for."""
    stores: tuple[Tariff, ...] = getattr(ctx.device, "tariff_stores", ())
    if not stores:
        return await serve_dlms(uc, cmd, ctx)
    h = cmd.header
    for store in stores:
        store.now = ctx.now
        store.command = Command(Eui64(h.originator), h.counter, cmd.message_code)
    try:
        answer = await serve_dlms(uc, cmd, ctx)
    finally:
        for store in stores:
            store.command = None
    watch(ctx.device, *stores)()
    return answer
