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
from dataclasses import asdict, dataclass, field
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
    COMMODITY,
    COMMODITY_SCALE,
    CURRENCY_UNIT,
    DLMS_FDA,
    ECS01A,
    ECS01B,
    ELEMENTS,
    FUTURE_DATED_SUCCESS,
    METER_BALANCE_UPDATE,
    NEVER,
    PRICE_INDICES,
    REGISTER_CLASS,
    TARIFF_REGISTER,
    TARIFF_SCRIPTS,
    THRESHOLD_MATRIX,
    TOU_RATES,
    Element,
    block_price_index,
)
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase
from rig.runtime.files import read_json, write_json

log = logging.getLogger("nodes.tariff")
_D = DataType
TARIFF_FILE = "tariff.json"
THRESHOLDS_PER_TARIFF = 3  # four blocks: three thresholds (RTDS's ECS24 answer has three)
NO_THRESHOLD = 0xFFFF_FFFF
STERLING = 1  # the currency unit register's value for sterling (RTDS ECS24)
Clock = Callable[[], dt.datetime]


# --- the values a new meter starts with ------------------------------------------------------
def _date_time(date: bytes) -> bytes:
    return date + b"\x00\x00\x00\x00\x80\x00\xff"


def price_matrix(charges: dict[int, int], scale: int) -> Data:
    """The price matrix (class 113 unit charge): ``charges`` by charge table index (the
    others 0), per kWh of the active import register, at ``scale``."""
    class_id, instance, attribute = COMMODITY
    table = [
        Data(
            _D.STRUCTURE,
            [Data(_D.OCTET_STRING, bytes([i])), Data(_D.LONG, charges.get(i, 0))],
        )
        for i in PRICE_INDICES
    ]
    return Data(
        _D.STRUCTURE,
        [
            Data(_D.STRUCTURE, [Data(_D.INTEGER, COMMODITY_SCALE), Data(_D.INTEGER, scale)]),
            Data(
                _D.STRUCTURE,
                [
                    Data(_D.LONG_UNSIGNED, class_id),
                    Data(_D.OCTET_STRING, instance),
                    Data(_D.INTEGER, attribute),
                ],
            ),
            Data(_D.ARRAY, table),
        ],
    )


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
    elements: dict[str, ElementState] = field(init=False)
    in_force: bool = field(init=False, default=False)  # an ECS01a tariff (not the first one)
    command: Command | None = field(init=False, default=None)
    # called before an element changes: the TOU registers credit the energy so far
    before_change: Callable[[], None] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        saved = read_json(self.path, {}) or {}
        defaults = one_rate(self.default_price_p_kwh)
        self.in_force = bool(saved.get("in_force", False))
        self.elements = {}
        for e in ELEMENTS:
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

    def activate_due(self, now: dt.datetime) -> list[tuple[Element, Held]]:
        """Activate each held element whose time has come: those, and what was held."""
        done = []
        for e, _alert in ACTIVATED:  # in the order ECS01a activates them
            held = self.elements[e.name].held
            if held is not None and held.at <= now.timestamp():
                self.activate(e.name)
                done.append((e, held))
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

    def price(self, action: int) -> tuple[int, int]:
        """(charge, price scale) of an action: a TOU rate's price, or a block tariff's
        first block (the rig keeps no block counters)."""
        matrix = self.elements["prices"].active[0]
        scaling, _commodity, table = matrix.value
        index = action if action <= TOU_RATES else block_price_index(action - BLOCK_ACTION, 1)
        charges = {bytes(e.value[0].value)[0]: int(e.value[1].value) for e in table.value}
        return charges.get(index, 0), int(scaling.value[1].value)

    def price_p_kwh(self, when: dt.datetime | None = None) -> float:
        """The price of the rate in force, in pence per kWh (sterling)."""
        charge, scale = self.price(self.action_at(when or self.now()))
        exponent = scale + 2  # sterling to pence
        return charge * 10**exponent if exponent >= 0 else charge / 10**-exponent

    # --- served ----------------------------------------------------------------------------
    def serve(self, server: CosemServer) -> None:
        for e in ELEMENTS:
            for i, (passive, active) in enumerate(zip(e.passive, e.active, strict=True)):
                server.attribute(active, self._getter(e.name, i))
                server.attribute(passive, self._getter(e.name, i, passive=True), self._writer(e, i))
            server.attribute(e.activation, *self._activator(e))
        server.attribute(
            cosem.Attribute(REGISTER_CLASS, TARIFF_REGISTER, 2),
            lambda: Data(_D.DOUBLE_LONG_UNSIGNED, STERLING if self._sterling() else 2),
        )
        server.attribute(
            cosem.Attribute(REGISTER_CLASS, TARIFF_REGISTER, 3),
            lambda: Data(
                _D.STRUCTURE,
                [Data(_D.INTEGER, self.price(1)[1]), Data(_D.ENUM, CURRENCY_UNIT)],
            ),
        )

    def _sterling(self) -> bool:
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
        for element, held in done:
            gbcs = meter.gbcs
            alert = gbcs.alert(
                DLMS_FDA,
                execution_alert(element, held),
                code=FUTURE_DATED_SUCCESS,
                recipient=Eui64.parse(held.requester),
            )
            await meter.send_up(alert)
            log.info(
                "gbcs.alert_sent",
                extra={"device": tariff.device, "alert_code": "8F66", "element": element.name},
            )
        return bool(done)

    await future.run_when_due(tariff.next_due, step, clock)


def watch(meter: Any, tariff: Tariff) -> Callable[[], None]:
    """What arms the meter's wait for its held activations, once a loop runs."""

    def arm() -> None:
        if tariff.next_due() is None or getattr(meter, "gbcs", None) is None:
            return
        try:
            future.arm(meter, "tariff", lambda: carry_out(meter, tariff, tariff.now))
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


def serve_tariff(meter: Any) -> Tariff | None:
    """Serve the ESME's tariffs and prices on ``meter``'s object server: the tariff on its
    COSEM server, its price as the meter's ``behaviour.price_p_kwh`` (what it charges, what
    the IHD reads), its current rate for the TOU registers (``meter.tariff``)."""
    server: CosemServer | None = getattr(meter, "cosem", None)
    if server is None:
        return None
    device = meter.config.eui.duis
    tariff = Tariff(
        meter.config.state_dir / TARIFF_FILE, float(meter.behaviour.price_p_kwh), device=device
    )
    tariff.serve(server)
    credit = getattr(meter, "credit", None)
    if credit is not None:  # ECS04a: the meter balance adjusted
        server.method(METER_BALANCE_UPDATE, adjust_balance(credit, meter.metering))
    reads = getattr(meter, "energy_reads", None)  # nodes.roles.reads' (served before)
    if reads is not None:
        tariff.before_change = reads.tou.advance
    meter.tariff = tariff
    meter.behaviour = TariffPrice(meter.behaviour, tariff, watch(meter, tariff))
    return tariff


@handles(ECS01A, ECS01B)
async def set_tariff(uc: UseCase, cmd: GbcsMessage, ctx: Context) -> GbcsMessage:
    """ECS01a, executed from the COSEM server as every DLMS use case is, the tariff knowing
    its requester and counter (for a held activation's alert); what it holds is then
    waited for."""
    tariff: Tariff | None = getattr(ctx.device, "tariff", None)
    if tariff is None:
        return await serve_dlms(uc, cmd, ctx)
    tariff.now = ctx.now
    h = cmd.header
    tariff.command = Command(Eui64(h.originator), h.counter, cmd.message_code)
    try:
        answer = await serve_dlms(uc, cmd, ctx)
    finally:
        tariff.command = None
    watch(ctx.device, tariff)()
    return answer
