"""What a meter serves of the ESME's auxiliary loads, boost button and auxiliary controller
(6.14.x, 7.5-7.16), as COSEM objects over :class:`AuxLoads`, kept in the meter's state folder
(``aux_loads.json``) so a restart keeps what was written:

- the five controllers' descriptions (ECS46a writes, ECS61a/ECS61d read), their switch ids
  (ECS46c: an HCALCS's EUI, or zeros for the meter's own ALCS; ECS61a/ECS61e read);
- the boost button's loads (ECS62), its state and its log of boosts (ECS61c);
- the randomised offset limit (ECS38);
- the calendar and special days (ECS61a, ECS61d read them), written to come by ECS46c and
  ECS46d and taking effect at their activation date-time: at once, at a future date-time
  (held, then applied by a timer, :mod:`nodes.gbcs.future`), or never (a cancellation);
- each controller's commanded state: ECS47 activates or deactivates ALCS [n] for its
  duration (minutes) or resets it, ECS47a commands a level (0-100, output or input) from a
  start to an end, ECS47e limits an APC's level over a period. Read back as the switches'
  output_state (ECS61a) and as the operational data (ECS61e: the JSON RTDS shows).

The switches are the bench's outputs: controller n drives the GPIO output ``led.alcs<n>``
when the node's description wires one (``gpio: {leds: {alcs1: GPIO5}}``; the rig's map has
no auxiliary-relay function of its own), so its state shows in the node's health ``gpio``;
unwired, the state is modelled only. The button ``button.boost``, when wired, boosts the
associated loads for :data:`BOOST_MINUTES`. The calendar is kept and read back but not run:
a load follows its commands, not the schedule's switch times.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nodes.gbcs import future
from nodes.gbcs.cosem_server import CosemError, CosemServer, Result
from nodes.roles.prepay_logs import LOG_ENTRY, compact_array
from rig.protocol.codec import DecodeError, Reader
from rig.protocol.gbcs import catalogue_aux_loads as aux
from rig.protocol.gbcs import cosem, dlms
from rig.protocol.gbcs.dlms import Data, DataType
from rig.runtime.files import read_json, write_json

log = logging.getLogger("nodes.aux_loads")
_D = DataType
BOOST_MINUTES = 60  # how long a press of the boost button boosts its loads
MAX_LEVEL = 100  # a commanded state level is a percentage
EMPTY = Data(_D.ARRAY, []).encode().hex()


def _seconds_2000(t: float) -> int:
    return int(t) - cosem.GBCS_EPOCH_UNIX


class AuxLoads:
    """The five auxiliary controllers of one ESME, their configuration and the boost button,
    persisted in ``path``."""

    def __init__(
        self,
        path: Path,
        drive: Callable[[int, bool], None] = lambda _n, _on: None,
        now: Callable[[], dt.datetime] = future.utc_now,
        device: str = "",
    ) -> None:
        self.path, self.drive, self.now, self.device = path, drive, now, device
        saved: dict[str, Any] = read_json(path, {}) or {}
        self.descriptions: list[str] = saved.get("descriptions", [""] * 5)
        self.switch_ids: list[str] = saved.get("switch_ids", ["00" * 8] * 5)
        self.boost: list[bool] = saved.get("boost", [False] * 5)
        self.boost_log: list[list[int]] = saved.get("boost_log", [])
        self.offset_limit = int(saved.get("offset_limit", 0))
        self.calendar: dict[str, str] = saved.get(
            "calendar", {"special_days": EMPTY, "calendar": EMPTY}
        )
        # written to come, with the UTC timestamp each takes effect (None: not yet dated)
        self.to_come: dict[str, list[Any]] = saved.get("to_come", {})
        # per controller: the commanded level, its mode, its period; an APC's limit
        self.controllers: list[dict[str, Any]] = saved.get(
            "controllers", [{"level": 0, "mode": aux.OUTPUT} for _ in aux.LOADS]
        )
        # what ECS47/ECS47a/ECS47e's SETs give the script that follows, by attribute
        self._given: dict[tuple[int, int], Data] = {}

    # --- persisted state --------------------------------------------------------------------
    def save(self) -> None:
        write_json(
            self.path,
            {
                "descriptions": self.descriptions,
                "switch_ids": self.switch_ids,
                "boost": self.boost,
                "boost_log": self.boost_log,
                "offset_limit": self.offset_limit,
                "calendar": self.calendar,
                "to_come": self.to_come,
                "controllers": self.controllers,
            },
        )

    # --- what the loads do now --------------------------------------------------------------
    def level(self, n: int, at: float | None = None) -> int:
        """Controller ``n``'s level now (0: off): its commanded level within its period, a
        boost, capped by an APC limit within the limit's period."""
        t = self.now().timestamp() if at is None else at
        c = self.controllers[n - 1]
        end = c.get("end")  # None: until told otherwise
        level = c["level"] if c.get("start", 0) <= t and (end is None or t < end) else 0
        if self.boost[n - 1] and any(s <= _seconds_2000(t) < e for s, e in self.boost_log[-1:]):
            level = MAX_LEVEL
        limit = c.get("limit")
        if limit is not None and limit["start"] <= t < limit["end"]:
            level = min(level, limit["level"])
        return int(level)

    def on(self, n: int) -> bool:
        return self.level(n) > 0

    def apply(self) -> None:
        """Drive the outputs as the controllers stand; bring the calendar to come in when due."""
        t = self.now().timestamp()
        for name, (value, at) in list(self.to_come.items()):
            if at is not None and at <= t:
                self.calendar[name] = value
                del self.to_come[name]
                log.info("aux.calendar_active", extra={"device": self.device, "part": name})
                self.save()
        for n in aux.LOADS:
            self.drive(n, self.on(n))

    def next_change(self) -> float | None:
        """When the loads or the calendar next change by themselves (UTC timestamp)."""
        t = self.now().timestamp()
        times = [at for _, at in self.to_come.values() if at is not None]
        for c in self.controllers:
            times += [c.get("start", 0), c.get("end") or 0]
            if c.get("limit"):
                times += [c["limit"]["start"], c["limit"]["end"]]
        times += [(e + cosem.GBCS_EPOCH_UNIX) for _, e in self.boost_log[-1:]]  # the end of a boost
        later = [x for x in times if x > t]
        return min(later) if later else None

    def changed(self) -> None:
        self.apply()
        self.save()
        self._arm()

    def _arm(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a test's synchronous call): applied when next asked

        async def step(_now: dt.datetime) -> bool:
            at = self.next_change()
            if at is None or at > self.now().timestamp():
                return False
            self.apply()
            return True

        async def waiting() -> None:
            await future.run_when_due(self.next_change, step, self.now)

        future.arm(self, "aux-loads", waiting)

    # --- the scripts ------------------------------------------------------------------------
    def run_script(self, script: int, limit: bool = False) -> None:
        """ECS47 (mode 0: activate/deactivate for a duration, reset), ECS47a (a level over a
        period) and, with ``limit``, ECS47e (an APC's limit over a period)."""
        mode, n, low = script >> 12, script >> 8 & 0xF, script & 0xFF
        if n not in aux.LOADS:
            raise CosemError(Result.OTHER_REASON, f"script {script:#06x}: no controller {n}")
        c = self.controllers[n - 1]
        t = self.now().timestamp()
        if mode == 0 and not limit:
            if low == aux.RESET:
                self.controllers[n - 1] = {"level": 0, "mode": aux.OUTPUT}
            elif low in (aux.ACTIVATE, aux.DEACTIVATE):
                minutes = self._given_int(n, 1 if low == aux.ACTIVATE else 2)
                c.update(level=MAX_LEVEL if low == aux.ACTIVATE else 0, mode=aux.OUTPUT, start=t)
                c["end"] = t + minutes * 60 if minutes else None
            else:
                raise CosemError(Result.OTHER_REASON, f"script {script:#06x}: no such action")
        elif mode in (aux.OUTPUT, aux.INPUT) and low <= MAX_LEVEL:
            start, end = (self._given_time(n, e + (2 if limit else 0)) for e in (1, 2))
            if end <= start:
                raise CosemError(Result.OTHER_REASON, "the period ends before it starts")
            if limit:
                c["limit"] = {"level": low, "start": start, "end": end}
            else:
                c.update(level=low, mode=mode, start=start, end=end)
        else:
            raise CosemError(Result.OTHER_REASON, f"script {script:#06x}: not a state to set")
        log.info(
            "aux.script",
            extra={"device": self.device, "controller": n, "script": f"{script:#06x}"},
        )
        self._given.clear()
        self.changed()

    def _given_int(self, n: int, element: int) -> int:
        value = self._given.get((n, element))
        return 0 if value is None else int(value.value)

    def _given_time(self, n: int, element: int) -> float:
        value = self._given.get((n, element))
        when = None if value is None else dlms.parse_date_time(bytes(value.value))
        if when is None:
            raise CosemError(Result.OTHER_REASON, f"controller {n}: no period set before")
        return when.timestamp()

    def given(self, n: int, element: int, value: Data) -> None:
        """A duration (long-unsigned) or a start or end (a date-time) for the next script."""
        if value.type not in (_D.LONG_UNSIGNED, _D.OCTET_STRING):
            raise CosemError(
                Result.TYPE_UNMATCHED, f"a duration or a date-time, not {value.type.name}"
            )
        self._given[(n, element)] = value

    def press_boost(self) -> None:
        """The consumer's boost button: the associated loads on for :data:`BOOST_MINUTES`."""
        t = _seconds_2000(self.now().timestamp())
        self.boost_log = [*self.boost_log, [t, t + BOOST_MINUTES * 60]][-31:]
        log.info("aux.boost", extra={"device": self.device})
        self.changed()

    # --- the calendar to come ---------------------------------------------------------------
    def write_to_come(self, name: str, value: Data) -> None:
        self.to_come[name] = [value.encode().hex(), None]
        self.save()

    def activate(self, name: str, value: Data) -> None:
        """The activation date-time of ``name`` to come: at once, at a time, or never."""
        raw = bytes(value.value)
        held = self.to_come.get(name)
        if raw == aux.NEVER:
            self.to_come.pop(name, None)  # cancelled
        elif held is None:
            raise CosemError(Result.OTHER_REASON, f"no {name} to come to activate")
        elif raw == aux.AT_ONCE:
            held[1] = self.now().timestamp()
        else:
            when = dlms.parse_date_time(raw)
            if when is None:
                raise CosemError(Result.TYPE_UNMATCHED, "not an activation date-time")
            held[1] = when.timestamp()
        self.changed()

    def operational(self, n: int) -> str:
        """ECS61e's operational data of controller ``n``, the JSON RTDS shows."""
        level = self.level(n)
        is_input = self.controllers[n - 1].get("mode") == aux.INPUT
        return json.dumps({"outputState": level, "inputState": level if is_input else 0})

    def detail(self) -> dict[str, Any]:
        return {
            "levels": [self.level(n) for n in aux.LOADS],
            "boost": self.boost,
            "calendar_pending": sorted(self.to_come),
        }


def _setter(kind: DataType, store: Callable[[Any], None]) -> Callable[[Data], None]:
    def set_value(value: Data) -> None:
        if value.type is not kind:
            raise CosemError(Result.TYPE_UNMATCHED, f"a {kind.name}, not a {value.type.name}")
        store(value.value)

    return set_value


def _decoded(hexed: str) -> Data:
    try:
        return Data.decode(Reader(bytes.fromhex(hexed)))
    except (DecodeError, ValueError):
        return Data(_D.ARRAY, [])


def serve_aux_loads(meter: Any) -> AuxLoads | None:
    """Serve the ESME's auxiliary loads, boost button and auxiliary controller on ``meter``'s
    object server; the loads, or None for a device without COSEM objects."""
    server: CosemServer | None = getattr(meter, "cosem", None)
    if server is None:
        return None
    wiring = getattr(meter, "wiring", None)

    def drive(n: int, on: bool) -> None:
        if wiring is not None:
            wiring.set(f"led.alcs{n}", on)

    device = meter.config.eui.duis if hasattr(meter, "config") else ""
    loads = AuxLoads(meter.config.state_dir / "aux_loads.json", drive, device=device)
    meter.aux_loads = loads
    loads.apply()
    if wiring is not None:
        wiring.on_press("button.boost", loads.press_boost)
    register(server, loads)
    return loads


def register(server: CosemServer, loads: AuxLoads) -> None:
    """The objects of :mod:`rig.protocol.gbcs.catalogue_aux_loads` over ``loads``."""
    s = server
    for i, n in enumerate(aux.LOADS):
        _per_load(s, loads, i, n)
    s.method(aux.SCRIPTS, lambda arg, _inv: _script(loads, arg, limit=False))
    s.method(aux.APC_LIMIT_SCRIPTS, lambda arg, _inv: _script(loads, arg, limit=True))
    s.attribute(
        aux.RANDOMISED_OFFSET_LIMIT,
        lambda: Data(_D.LONG_UNSIGNED, loads.offset_limit),
        _setter(_D.LONG_UNSIGNED, lambda v: _limit(loads, int(v))),
    )
    s.attribute(aux.BOOST_STATE, lambda: Data(_D.BOOLEAN, 0xFF if any(loads.boost) else 0))
    s.selective(aux.BOOST_LOG, lambda selector, p: _boosts(loads, selector, p))
    _calendar(s, loads, "special_days", aux.SPECIAL_DAYS, aux.SPECIAL_DAYS_TO_COME)
    _calendar(s, loads, "calendar", aux.CALENDAR, aux.CALENDAR_TO_COME)
    s.attribute(aux.SPECIAL_DAYS_ACTIVATION, _never, _activation(loads, "special_days"))
    s.attribute(aux.CALENDAR_ACTIVATION, _never, _activation(loads, "calendar"))


def _never() -> Data:
    return Data(_D.OCTET_STRING, aux.NEVER)


def _per_load(s: CosemServer, loads: AuxLoads, i: int, n: int) -> None:
    """Load ``n``'s (index ``i``) description, switch id, boost association, switch state,
    operational data, and the values its scripts take."""

    def store(field: str, convert: Callable[[Any], Any]) -> Callable[[Any], None]:
        return lambda v: _store(loads, field, i, convert(v))

    s.attribute(
        aux.DESCRIPTIONS[i],
        lambda: Data(_D.VISIBLE_STRING, loads.descriptions[i].encode()),
        _setter(_D.VISIBLE_STRING, store("descriptions", lambda v: bytes(v).decode())),
    )
    s.attribute(
        aux.SWITCH_IDS[i],
        lambda: Data(_D.OCTET_STRING, bytes.fromhex(loads.switch_ids[i])),
        _setter(_D.OCTET_STRING, store("switch_ids", lambda v: bytes(v).hex())),
    )
    s.attribute(
        aux.BOOST_ASSOCIATION[i],
        lambda: Data(_D.BOOLEAN, 0xFF if loads.boost[i] else 0),
        _setter(_D.BOOLEAN, store("boost", bool)),
    )
    s.attribute(aux.SWITCH_STATES[i], lambda: Data(_D.BOOLEAN, 0xFF if loads.on(n) else 0))
    s.attribute(aux.OPERATIONAL[i], lambda: Data(_D.UTF8_STRING, loads.operational(n).encode()))
    for element in (1, 2, 3, 4):  # ECS47's durations, ECS47a/e's periods: for the script
        s.attribute(aux.controller(n, element), _nothing, _given(loads, n, element))


def _nothing() -> Data:
    return Data(_D.NULL_DATA)


def _given(loads: AuxLoads, n: int, element: int) -> Callable[[Data], None]:
    return lambda v: loads.given(n, element, v)


def _activation(loads: AuxLoads, name: str) -> Callable[[Data], None]:
    return lambda v: _at(loads, name, v)


def _calendar(
    s: CosemServer, loads: AuxLoads, name: str, now: cosem.Attribute, to_come: cosem.Attribute
) -> None:
    s.attribute(now, lambda: _decoded(loads.calendar[name]))
    s.attribute(
        to_come,
        lambda: _decoded(loads.to_come.get(name, [EMPTY])[0]),
        lambda v: _array(loads, name, v),
    )


def _store(loads: AuxLoads, field: str, index: int, value: Any) -> None:
    getattr(loads, field)[index] = value
    loads.changed()


def _limit(loads: AuxLoads, value: int) -> None:
    loads.offset_limit = value
    loads.save()


def _script(loads: AuxLoads, argument: Data, limit: bool) -> None:
    if argument.type is not _D.LONG_UNSIGNED:
        raise CosemError(Result.TYPE_UNMATCHED, "a script id is a long-unsigned")
    loads.run_script(int(argument.value), limit)


def _array(loads: AuxLoads, name: str, value: Data) -> None:
    if value.type is not _D.ARRAY:
        raise CosemError(Result.TYPE_UNMATCHED, f"the {name} to come is an array")
    loads.write_to_come(name, value)


def _at(loads: AuxLoads, name: str, value: Data) -> None:
    if value.type is not _D.OCTET_STRING or len(bytes(value.value)) != 12:
        raise CosemError(Result.TYPE_UNMATCHED, "an activation date-time is 12 octets")
    loads.activate(name, value)


def _boosts(loads: AuxLoads, selector: int, parameters: Data) -> Data:
    if selector != cosem.BY_RANGE:
        raise CosemError(Result.TYPE_UNMATCHED, f"the boost log is read by range, not {selector}")
    try:
        start, end = (int(v.value) for v in cosem.range_of(parameters))
    except (TypeError, ValueError):
        raise CosemError(Result.TYPE_UNMATCHED, "not a range of UTC seconds") from None
    rows = (
        (Data(_D.DOUBLE_LONG_UNSIGNED, s), Data(_D.DOUBLE_LONG_UNSIGNED, e))
        for s, e in loads.boost_log
        if start <= s <= end
    )
    return compact_array(LOG_ENTRY, rows)
