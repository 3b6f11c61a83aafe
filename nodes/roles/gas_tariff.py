"""What a meter serves of the GSME's tariffs and prices (1.1.1, 1.2.1, 1.5, 1.6, 4.11.1).

The tariff is what GCS01a (GCS01b: its prices alone) published, kept as published (each
Publish command's payload) in ``gas_tariff.json`` in the meter's state folder: the delivered
calendar (Publish Calendar, Day Profiles, Week Profiles, Seasons, Special Days) and the
prices (Publish Tariff Information, Block Thresholds, Price Matrix). A Publish Calendar or
Publish Tariff Information starting at 0 replaces its part at once; one dated later holds
the command's parts until then (a restart keeps them), when they replace the active ones;
one dated ZCL's latest (a cancellation) drops what is held. The calendar must be the
delivered one (type 0) and the prices in GBP millipence (trailing digit 0x50), else the
command is refused INVALID_FIELD and changes nothing.

What the tariff changes: the tier in force is the day's (a special day's, else the season's
week's weekday's, on the meter's UTC date), and the consumption goes to that TOU register
(:class:`nodes.roles.gas_reads.GasReads`'s current tier); the price of that tier (a block
tariff's: block 1's) is what the meter charges (the meter reads its ``behaviour.price_p_kwh``
just before it counts what flowed, :class:`GasTariffPrice`). GCS21f reads it back: the Price
cluster's attributes, the Calendar cluster's Gets (answered from the kept Publish commands,
NOT_FOUND before a tariff) and Get Current Price (Publish Price of the tier in force).

GCS40a/b adjust or reset the credit engine's balance, GCS40c/d the credit mode meter balance
(kept here); GCS02/GCS03 change the engine's payment mode (in credit mode it raises no
prepayment alerts and never closes the valve), answered with Change Payment Mode Response.
"""

from __future__ import annotations

import datetime as dt
import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from nodes.gbcs import future
from nodes.gbcs.zcl_server import Command, ZclServer
from nodes.roles.credit import CREDIT, PREPAYMENT, Credit
from nodes.roles.gas_prepay import CALENDAR_FILE, READ_BACK, Calendar
from nodes.roles.gbz_execution import alert_carried_out
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import catalogue_gas_tariff as t
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue_gas import (
    CALENDAR,
    PRICE,
    PUBLISH_CALENDAR,
    PUBLISH_DAY_PROFILE,
    PUBLISH_SEASONS,
    PUBLISH_SPECIAL_DAYS,
    PUBLISH_WEEK_PROFILE,
)
from rig.protocol.gbcs.cosem import MILLIPENCE
from rig.protocol.gbcs.frame import GbcsMessage
from rig.runtime.files import read_json, write_json

log = logging.getLogger("nodes.han")
TARIFF_FILE = "gas_tariff.json"
GBP, MILLIPENCE_DIGITS = 826, 0x50
WILDCARD = 0xFF
# the kept Publish commands: the calendar's (Gas Prepay's Calendar names) and the prices'
CALENDAR_KEYS = {
    PUBLISH_CALENDAR: "calendar",
    PUBLISH_SEASONS: "seasons",
    PUBLISH_SPECIAL_DAYS: "special_days",
    PUBLISH_DAY_PROFILE: "day_profiles",
    PUBLISH_WEEK_PROFILE: "week_profiles",
}
PRICE_KEYS = {
    t.PUBLISH_TARIFF_INFORMATION: "tariff_information",
    t.PUBLISH_BLOCK_THRESHOLDS: "block_thresholds",
    t.PUBLISH_PRICE_MATRIX: "price_matrix",
}
PARTS = (*CALENDAR_KEYS.values(), *PRICE_KEYS.values())
# the commands that begin a new calendar or new prices, and where their start time is
BEGINS = {(CALENDAR, PUBLISH_CALENDAR), (PRICE, t.PUBLISH_TARIFF_INFORMATION)}
START_AT = 12
BY_ID = {PUBLISH_DAY_PROFILE, PUBLISH_WEEK_PROFILE}  # kept by their day or week id (byte 12)
DATED = {  # the Publish commands that carry a start time: each gets an 8F66 when carried out
    (CALENDAR, PUBLISH_CALENDAR),
    (CALENDAR, PUBLISH_SPECIAL_DAYS),
    *((PRICE, command) for command in PRICE_KEYS),
}
BALANCE = {  # GCS40x: (which balance, added or set)
    t.GCS40A.message_code: ("prepayment", True),
    t.GCS40B.message_code: ("prepayment", False),
    t.GCS40C.message_code: ("credit_mode", True),
    t.GCS40D.message_code: ("credit_mode", False),
}


class Refused(ValueError):
    """A Publish command the meter does not keep: the ZCL status and why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def _u32(payload: bytes, at: int) -> int:
    if len(payload) < at + 4:
        raise Refused(gbz.ZCL_MALFORMED_COMMAND, "too short a Publish command")
    return int.from_bytes(payload[at : at + 4], "little")


def _date_matches(date: bytes, day: dt.date) -> bool:
    """A ZCL date (year - 1900, month, day of month, day of week; 0xFF: any) against ``day``."""
    wanted = (day.year - 1900, day.month, day.day, day.isoweekday())
    return all(d in (WILDCARD, w) for d, w in zip(date, wanted, strict=True))


@dataclass
class GasTariff:
    """The GSME's tariff, prices and credit mode balance, kept in ``path``."""

    path: Path
    meter: Eui64
    active: dict[str, Any] = field(default_factory=dict)
    # the parts a future-dated GCS01a/b holds, "at" (ZigBee time), the command's requester,
    # counter and message code, and the dated Publish commands it carried ("done")
    held: dict[str, Any] = field(default_factory=dict)
    held_mode: dict[str, Any] = field(default_factory=dict)  # a future-dated GCS02/03's
    credit_mode_balance: int = 0  # millipence
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    _into: dict[str, str] = field(default_factory=dict)  # a command's group -> active/held

    @classmethod
    def load(cls, path: Path, meter: Eui64) -> GasTariff:
        saved = read_json(path, {}) or {}
        return cls(
            path,
            meter,
            dict(saved.get("active", {})),
            dict(saved.get("held", {})),
            dict(saved.get("held_mode", {})),
            int(saved.get("credit_mode_balance", 0)),
        )

    def save(self) -> None:
        write_json(
            self.path,
            {
                "active": self.active,
                "held": self.held,
                "held_mode": self.held_mode,
                "credit_mode_balance": self.credit_mode_balance,
            },
        )

    # --- GCS01a, GCS01b ----------------------------------------------------------------------
    def publish(self, command: int, payload: bytes, cluster: int, cmd: GbcsMessage) -> None:
        """Keep one Publish command of ``cmd``. Refused when the meter cannot apply it."""
        keys = CALENDAR_KEYS if cluster == CALENDAR else PRICE_KEYS
        group = "calendar" if cluster == CALENDAR else "prices"
        if len(payload) < 13:
            raise Refused(gbz.ZCL_MALFORMED_COMMAND, "too short a Publish command")
        if (cluster, command) in BEGINS:
            self._begin(group, _u32(payload, START_AT), payload, cluster, cmd)
        where = self._into.get(group)
        if where is None:
            raise Refused(
                gbz.ZCL_INVALID_FIELD,
                f"a {group} part before its Publish Calendar or Tariff Information",
            )
        if where == "cancelled":
            return
        kept = self.active if where == "active" else self.held
        key = keys[command]
        if cluster == CALENDAR and command in BY_ID:
            kept.setdefault(key, {})[str(payload[12])] = payload.hex()
        else:
            kept[key] = payload.hex()
        if where == "held" and (cluster, command) in DATED:  # its own 8F66 when carried out
            self.held.setdefault("done", []).append([cluster, t.SERVER_COMMAND, command])
        self.save()

    def _begin(
        self, group: str, start: int, payload: bytes, cluster: int, cmd: GbcsMessage
    ) -> None:
        """A new calendar or new prices: checked, then at once, held, or a cancellation."""
        if cluster == CALENDAR and payload[16:17] != bytes([t.TARIFF_CALENDAR]):
            raise Refused(gbz.ZCL_INVALID_FIELD, "the GSME's tariff calendar is type 0 (delivered)")
        if cluster == PRICE:
            try:
                info = t.TariffInformation.decode(payload)
            except DecodeError as exc:
                raise Refused(gbz.ZCL_MALFORMED_COMMAND, str(exc)) from None
            if start < t.CANCEL and (info.currency, info.trailing_digit) != (
                GBP,
                MILLIPENCE_DIGITS,
            ):
                raise Refused(
                    gbz.ZCL_INVALID_FIELD,
                    f"currency {info.currency}, trailing digit 0x{info.trailing_digit:02X}: the "
                    "GSME's engine counts GBP millipence (826, 0x50)",
                )
        parts = list((CALENDAR_KEYS if cluster == CALENDAR else PRICE_KEYS).values())
        if start >= t.CANCEL:
            for key in parts:
                self.held.pop(key, None)
            self.held["done"] = [d for d in self.held.get("done", []) if d[0] != cluster]
            if not any(k in self.held for k in PARTS):
                self.held = {}
            self._into[group] = "cancelled"
            log.info("gas_tariff.cancelled", extra={"device": self.meter.duis, "part": group})
            return
        h = cmd.header
        if start != t.AT_ONCE and self.held.get("counter") != h.counter:  # it replaces one held
            self.held = {
                "at": start,
                "requester": Eui64(h.originator).duis,
                "counter": h.counter,
                "message_code": h.message_code,
            }
        target = self.active if start == t.AT_ONCE else self.held
        for key in parts:
            target.pop(key, None)
        self._into[group] = "active" if start == t.AT_ONCE else "held"

    def next_due(self) -> float | None:
        """When the next held command is due (UTC seconds), None when none is held."""
        times = [int(h["at"]) for h in (self.held, self.held_mode) if "at" in h]
        return gbz.ZIGBEE_EPOCH + min(times) if times else None

    def activate_due(self, now: dt.datetime | None = None) -> dict[str, Any] | None:
        """The held parts, made active once their time has come: what was held, or None."""
        at = self.held.get("at")
        if at is None or gbz.zigbee_time(now or self.now()) < int(at):
            return None
        held = self.held
        parts = {
            k: v for k, v in held.items() if k in (*CALENDAR_KEYS.values(), *PRICE_KEYS.values())
        }
        if "calendar" in parts:
            for key in CALENDAR_KEYS.values():
                self.active.pop(key, None)
        if "tariff_information" in parts:
            for key in PRICE_KEYS.values():
                self.active.pop(key, None)
        self.active.update(parts)
        self.held = {}
        self.save()
        log.info("gas_tariff.activated", extra={"device": self.meter.duis, "parts": sorted(parts)})
        return held

    def command_done(self) -> None:
        """A command's Publish commands all taken: the next one begins anew."""
        self._into = {}

    # --- what it says --------------------------------------------------------------------------
    def _payload(self, key: str) -> bytes | None:
        found = self.active.get(key)
        return bytes.fromhex(found) if isinstance(found, str) else None

    @property
    def information(self) -> t.TariffInformation | None:
        found = self._payload("tariff_information")
        return t.TariffInformation.decode(found) if found else None

    @property
    def matrix(self) -> t.PriceMatrix | None:
        found = self._payload("price_matrix")
        return t.PriceMatrix.decode(found) if found else None

    @property
    def thresholds(self) -> tuple[int, ...]:
        found = self._payload("block_thresholds")
        return t.BlockThresholds.decode(found).thresholds if found else ()

    def tier(self, when: dt.datetime | None = None) -> int:
        """The price tier in force (1-4; 1 without a calendar, or a block tariff's day)."""
        day = (when or self.now()).date()
        day_id = self._special_day(day)
        if day_id is None:
            week = self._week(day)
            found = self.active.get("week_profiles", {}).get(str(week)) if week else None
            if not found:
                return 1
            day_id = bytes.fromhex(found)[12 + day.isoweekday()]
        profile = self.active.get("day_profiles", {}).get(str(day_id))
        if not profile:
            return 1
        entries = bytes.fromhex(profile)[17:]  # one entry: minutes from midnight, tier
        tier = entries[2] if len(entries) >= 3 else 1
        return tier if 1 <= tier <= t.TIERS else 1

    def _special_day(self, day: dt.date) -> int | None:
        found = self._payload("special_days")
        if not found:
            return None
        entries = found[20:]  # after the start time, type, count, command index and total
        for n in range(0, len(entries) - 4, 5):
            if _date_matches(entries[n : n + 4], day):
                return entries[n + 4]
        return None

    def _week(self, day: dt.date) -> int | None:
        """The week of the season ``day`` falls in (the last season started by it, else the
        year's last one)."""
        found = self._payload("seasons")
        if not found:
            return None
        entries = found[14:]
        seasons = []
        for n in range(0, len(entries) - 4, 5):
            _year, month, dom, _dow = entries[n : n + 4]
            month, dom = (1 if month == WILDCARD else month), (1 if dom == WILDCARD else dom)
            seasons.append(((month, dom), entries[n + 4]))
        seasons.sort()
        started = [week for start, week in seasons if start <= (day.month, day.day)]
        return (started or [week for _, week in seasons])[-1] if seasons else None

    def price(self, tier: int) -> int | None:
        """The price (millipence per kWh) of ``tier``, None without a tariff."""
        matrix = self.matrix
        return None if matrix is None else matrix.price_of(tier)


class GasTariffPrice:
    """The meter's behaviour, its price the tariff's price of the tier in force (what the
    meter charges), every other knob as it was. Read just before the meter counts what
    flowed, it activates held parts that are due and hands the TOU registers the tier."""

    def __init__(self, behaviour: Any, server: GasTariffServer, meter: Any) -> None:
        self._behaviour, self._server, self._meter = behaviour, server, meter
        self._tariff = server.tariff

    def __getattr__(self, name: str) -> Any:
        return getattr(self._behaviour, name)

    @property
    def price_p_kwh(self) -> float:
        self._server.arm()  # a held command (after a restart, too) is waited for
        tier = self._tariff.tier()
        reads = getattr(self._meter, "gas_reads", None)
        if reads is not None:
            reads.tier = tier
        price = self._tariff.price(tier)
        return float(self._behaviour.price_p_kwh) if price is None else price / MILLIPENCE


@dataclass
class GasTariffServer:
    """GCS01a/b, GCS21f, GCS40x, GCS02/03 on ``zcl``."""

    tariff: GasTariff
    credit: Credit | None
    meter: Any = None  # what carries out held commands and sends their alerts
    _counter: int | None = None  # the command whose Publish commands are being taken

    def arm(self) -> None:
        """Wait for the held commands' time, once a loop runs (:func:`carry_out`)."""
        if self.tariff.next_due() is None or getattr(self.meter, "gbcs", None) is None:
            return
        try:
            future.arm(self.meter, "gas_tariff", lambda: carry_out(self))
        except RuntimeError:  # no running loop yet (the meter is being built)
            return

    def serve(self, zcl: ZclServer) -> None:
        for command in CALENDAR_KEYS:
            previous = zcl.served(CALENDAR, command, server_to_client=True)
            action = partial(self._publish, CALENDAR, command)
            zcl.command(CALENDAR, command, self._ours(previous, action), server_to_client=True)
        for command in PRICE_KEYS:
            zcl.command(
                PRICE, command, partial(self._publish, PRICE, command), server_to_client=True
            )
        for command, _ in t.TARIFF_CALENDAR_GETS:
            previous = zcl.served(CALENDAR, command)
            zcl.command(CALENDAR, command, self._ours(previous, partial(self._get, command)))
        zcl.command(PRICE, t.GET_CURRENT_PRICE, self._current_price)
        self._attributes(zcl)
        if self.credit is not None:
            zcl.command(gbz.PREPAYMENT, t.CREDIT_ADJUSTMENT, self._adjust)
            zcl.command(gbz.PREPAYMENT, t.CHANGE_PAYMENT_MODE, self._payment_mode)

    @staticmethod
    def _ours(previous: Command | None, action: Command) -> Command:
        """GCS01a's and GCS21f's to ``action``, the others' to what served them before
        (the Calendar cluster's friendly credit calendar: GCS05, GCS21b)."""
        mine = {t.GCS01A.message_code, t.GCS21F.message_code}

        def serve(payload: bytes, cmd: GbcsMessage) -> gbz.Reply:
            if cmd.message_code in mine or previous is None:
                return action(payload, cmd)
            return previous(payload, cmd)

        return serve

    def _attributes(self, zcl: ZclServer) -> None:
        tariff = self.tariff

        def info(name: str, default: int) -> int:
            found = tariff.information
            return default if found is None else int(getattr(found, name))

        def threshold(n: int) -> int:
            found = tariff.thresholds
            return found[n] if n < len(found) else 0

        def price(tou: bool, n: int) -> int:
            matrix = tariff.matrix
            if matrix is None or matrix.tou != tou:
                return 0
            wanted = n + 1 if tou else n
            return next((p for i, p in matrix.prices if i == wanted), 0)

        served: list[tuple[gbz.ZclAttribute, Callable[[], int]]] = [
            (t.THRESHOLD_DIVISOR, partial(info, "divisor", 1000)),
            (t.THRESHOLD_MULTIPLIER, partial(info, "multiplier", 1)),
            (t.UNIT_OF_MEASURE, partial(info, "unit", 0)),
            (t.STANDING_CHARGE, partial(info, "standing_charge", 0)),
        ]
        served += [(a, partial(threshold, n)) for n, a in enumerate(t.BLOCK_THRESHOLDS)]
        served += [(a, partial(price, False, n)) for n, a in enumerate(t.BLOCK_PRICES)]
        served += [(a, partial(price, True, n)) for n, a in enumerate(t.TIER_PRICES)]
        for attribute, source in served:
            zcl.attribute(PRICE, attribute, source)

    def _publish(self, cluster: int, command: int, payload: bytes, cmd: GbcsMessage) -> gbz.Reply:
        extra = {"device": self.tariff.meter.duis, "cluster": cluster, "command": command}
        if cmd.header.counter != self._counter:  # a new command: its parts begin anew
            self.tariff.command_done()
            self._counter = cmd.header.counter
        try:
            self.tariff.publish(command, payload, cluster, cmd)
        except Refused as exc:
            log.warning("gas_tariff.refused", extra={**extra, "reason": str(exc)})
            return gbz.default_response(command, exc.status)
        log.info("gas_tariff.published", extra=extra)
        self.arm()
        return gbz.default_response(command, gbz.ZCL_SUCCESS)

    def _get(self, command: int, _payload: bytes, _cmd: GbcsMessage) -> gbz.Reply:
        return Calendar(self.tariff.path, self.tariff.active).answer(command)

    def _current_price(self, _payload: bytes, _cmd: GbcsMessage) -> gbz.Reply:
        tariff = self.tariff
        info, tier = tariff.information, tariff.tier()
        price = tariff.price(tier)
        if info is None or price is None:
            return gbz.default_response(t.GET_CURRENT_PRICE, gbz.ZCL_NOT_FOUND)
        now = gbz.zigbee_time(tariff.now())
        answer = t.CurrentPrice(info.issuer_event, now, tier, info.tiers, price)
        return gbz.Reply(t.PUBLISH_PRICE, answer.encode(), True, READ_BACK)

    # --- GCS40x, GCS02/03 ------------------------------------------------------------------------
    def _adjust(self, payload: bytes, cmd: GbcsMessage) -> gbz.Reply:
        credit = self.credit
        assert credit is not None
        extra = {"device": self.tariff.meter.duis}
        try:
            start, _kind, value = t.parse_credit_adjustment(payload)
        except DecodeError as exc:
            log.warning("gas_tariff.adjustment_refused", extra={**extra, "reason": str(exc)})
            return gbz.default_response(t.CREDIT_ADJUSTMENT, gbz.ZCL_MALFORMED_COMMAND)
        which, added = BALANCE.get(cmd.message_code, ("prepayment", True))
        if start != t.AT_ONCE:
            log.warning("gas_tariff.adjustment_refused", extra={**extra, "reason": "dated"})
            return gbz.default_response(t.CREDIT_ADJUSTMENT, gbz.ZCL_INVALID_FIELD)
        if which == "prepayment":
            credit.millipence = credit.millipence + value if added else value
            credit.save()
            balance = credit.millipence
        else:
            self.tariff.credit_mode_balance = (
                self.tariff.credit_mode_balance + value if added else value
            )
            self.tariff.save()
            balance = self.tariff.credit_mode_balance
        log.info(
            "gas_tariff.balance_adjusted", extra={**extra, "balance": which, "millipence": balance}
        )
        return gbz.default_response(t.CREDIT_ADJUSTMENT, gbz.ZCL_SUCCESS)

    def _payment_mode(self, payload: bytes, cmd: GbcsMessage) -> gbz.Reply:
        credit = self.credit
        assert credit is not None
        extra = {"device": self.tariff.meter.duis}
        try:
            at, configuration, _cut_off = t.parse_change_payment_mode(payload)
        except DecodeError as exc:
            log.warning("gas_tariff.payment_mode_refused", extra={**extra, "reason": str(exc)})
            return gbz.default_response(t.CHANGE_PAYMENT_MODE, gbz.ZCL_MALFORMED_COMMAND)
        prepayment = configuration & t.PREPAYMENT_MODE_BITS == t.PREPAYMENT_MODE_BITS
        mode = PREPAYMENT if prepayment else CREDIT
        h = cmd.header
        if at >= t.CANCEL:  # a cancellation: what is held, dropped
            self.tariff.held_mode = {}
            self.tariff.save()
            log.info("gas_tariff.payment_mode_cancelled", extra=extra)
        elif at != t.AT_ONCE:
            self.tariff.held_mode = {
                "at": at,
                "mode": mode,
                "requester": Eui64(h.originator).duis,
                "counter": h.counter,
                "message_code": h.message_code,
                "done": [[gbz.PREPAYMENT, gbz.ZCL_CLUSTER_SPECIFIC, t.CHANGE_PAYMENT_MODE]],
            }
            self.tariff.save()
            log.info("gas_tariff.payment_mode_held", extra={**extra, "mode": mode, "at": at})
            self.arm()
        else:
            set_payment_mode(credit, mode)
            log.info("gas_tariff.payment_mode", extra={**extra, "mode": mode})
        friendly = Calendar.load(credit.path.with_name(CALENDAR_FILE)).published.get("calendar")
        calendar_id = struct.unpack_from("<I", bytes.fromhex(friendly), 8)[0] if friendly else 0
        s = credit.settings
        answer = t.PaymentModeResponse(
            1 if friendly else 0,
            calendar_id,
            s.emergency_credit_pence * MILLIPENCE,
            s.emergency_credit_threshold_pence * MILLIPENCE,
        )
        return gbz.Reply(t.CHANGE_PAYMENT_MODE_RESPONSE, answer.encode(), True, READ_BACK)


def set_payment_mode(credit: Credit, mode: str) -> None:
    credit.settings = replace(credit.settings, payment_mode=mode)
    credit.save()


async def carry_out(server: GasTariffServer) -> None:
    """Wait for the held commands' times on the tariff's clock; carry each out then and
    queue its requester's 8F66 alerts, sent now if the meter is awake, else on its wake."""
    tariff, meter = server.tariff, server.meter

    async def step(now: dt.datetime) -> bool:
        done = [held] if (held := tariff.activate_due(now)) else []
        mode = tariff.held_mode
        if "at" in mode and gbz.zigbee_time(now) >= int(mode["at"]) and server.credit:
            set_payment_mode(server.credit, str(mode["mode"]))
            tariff.held_mode = {}
            tariff.save()
            log.info("gas_tariff.payment_mode", extra={"device": tariff.meter.duis, **mode})
            done.append(mode)
        await alert_carried_out(meter, done)
        return bool(done)

    await future.run_when_due(tariff.next_due, step, lambda: tariff.now())


def serve_gas_tariff(meter: Any) -> GasTariff:
    """Serve the GSME's tariffs and prices on ``meter``'s object server: the tariff on its ZCL
    server, its price as the meter's ``behaviour.price_p_kwh`` (what it charges), its tier
    for the TOU registers (``meter.gas_reads``)."""
    tariff = GasTariff.load(meter.config.state_dir / TARIFF_FILE, meter.config.eui)
    server = GasTariffServer(tariff, getattr(meter, "credit", None), meter)
    server.serve(meter.zcl)
    meter.gas_tariff = tariff
    meter.behaviour = GasTariffPrice(meter.behaviour, server, meter)
    return tariff
