"""The GSME's prepayment configuration over its credit engine (issue 15): the Prepayment
cluster's Change Debt (GCS04, 2.3 Update Debt) sets or adjusts one debt register of
:class:`nodes.roles.debt.Debt` and how it is recovered, kept at once; the attributes GCS14
(4.3) reads: the engine's accumulated debt, emergency credit and debt registers, and the
Price cluster's currency (GBP) and trailing digit (amounts in millipence); and what GCS21b
(4.13) reads: the engine's settings and each debt's recovery: its maximum meter balance is
ZCL's maximum credit limit, its credit limit the maximum credit per top-up (a top-up may
take the balance above neither); its overall debt cap is kept, not acted on (int32's
maximum until one is set). GCS05 (2.1) writes them: Emergency Credit Setup, Set Overall
Debt Cap, Set Low Credit Warning Level and Set Maximum Credit Limit (an amount that is
not whole pence, which the engine keeps, is refused INVALID_FIELD); and it publishes the
non-disablement (friendly credit) calendar, which the meter keeps as published, without
acting on it. Each takes effect at its start or implementation time (Set Low Credit
Warning Level: its GBZ From Date-Time; Publish Day Profile, Week Profile and Seasons:
their Publish Calendar's): at once (0); later, held in ``gas_prepay_held.json`` (a
restart keeps it) and carried out at its time on the meter's clock, when each dated
command's 8F66 future-dated execution alert (GBZ-FDA) goes to the requester; ZCL's latest
(0xFFFFFFFE or later: DUIS's cancellation) drops what is held. A time past but not 0 is
refused INVALID_FIELD; a new future-dated GCS05 replaces the one held.
GCS21b's Calendar Gets read it back, as RTDS's GCS21b SUCCESS response does: Get Day
Profiles is answered by one Publish Day Profile per day profile kept, Get Week Profiles
likewise, Get Seasons and Get Special Days by theirs; a Get of nothing kept (no calendar
published) is answered NOT_FOUND, as RTDS's GCS21b NOT_FOUND response has it.

Debt types 1 and 2 are the time debt registers, recovered time-based at an amount per
hour, day or week; type 3 is the payment debt, recovered as a percentage (hundredths of
a percent) of each top-up. An incremental amount adjusts the register (never below 0), an
absolute one sets it. A command the engine cannot apply (a time debt recovered by
percentage, say) is answered INVALID_FIELD and changes nothing.
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
from nodes.gbcs.zcl_server import ZclServer
from nodes.roles.credit import Credit
from nodes.roles.debt import DAY_S, Debt, TimeRecovery
from nodes.roles.gbz_execution import alert_carried_out
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
    EMERGENCY_CREDIT_SETUP,
    EMERGENCY_CREDIT_THRESHOLD,
    FRIENDLY_CREDIT_CALENDAR,
    LOW_CREDIT_WARNING,
    MAX_CREDIT_LIMIT,
    MAX_CREDIT_PER_TOP_UP,
    OVERALL_DEBT_CAP,
    PRICE,
    PRICE_TRAILING_DIGIT,
    PUBLISH_CALENDAR,
    PUBLISH_DAY_PROFILE,
    PUBLISH_SEASONS,
    PUBLISH_SPECIAL_DAYS,
    PUBLISH_WEEK_PROFILE,
    RECOVERY_AMOUNT_1,
    RECOVERY_AMOUNT_2,
    RECOVERY_FREQUENCY_1,
    RECOVERY_FREQUENCY_2,
    SET_LOW_CREDIT_WARNING_LEVEL,
    SET_MAXIMUM_CREDIT_LIMIT,
    SET_OVERALL_DEBT_CAP,
    TOP_UP_PERCENTAGE_3,
)
from rig.protocol.gbcs.catalogue_gas_tariff import CANCEL
from rig.protocol.gbcs.cosem import MILLIPENCE
from rig.protocol.gbcs.frame import GbcsMessage
from rig.runtime.files import read_json, write_json

log = logging.getLogger("nodes.han")
PERIOD_S = {gbz.HOURLY: 3_600, gbz.DAILY: DAY_S, gbz.WEEKLY: 7 * DAY_S}
MAX_PERCENTAGE = 10_000  # 100.00 %
PAYMENT_DEBT = 2  # the register of debt type 3
FREQUENCY = {seconds: frequency for frequency, seconds in PERIOD_S.items()}
NO_DEBT_CAP = 0x7FFF_FFFF
GBP = 826  # ISO 4217
MILLIPENCE_DIGITS = 0x50  # Price Trailing Digit: five digits after the point (10^-5 pounds)


CALENDAR_FILE = "gas_calendar.json"  # next to the credit engine's file
HELD_FILE = "gas_prepay_held.json"  # a future-dated GCS05's commands, until their time
AT_ONCE = 0
START_AT = 12  # Publish Calendar's and Publish Special Days' start time (after three ids)
# GCS05's Prepayment commands: their payload (little-endian), and for each amount the
# Settings field it sets (in pence, or millipence as named); "at" is a start or
# implementation time (0: at once)
SETTINGS_COMMANDS: dict[int, tuple[str, tuple[str | None, ...]]] = {
    EMERGENCY_CREDIT_SETUP: (
        "<IIII",
        (None, "at", "emergency_credit_pence", "emergency_credit_threshold_pence"),
    ),
    SET_OVERALL_DEBT_CAP: ("<IIIi", (None, None, "at", "overall_debt_cap_millipence")),
    SET_LOW_CREDIT_WARNING_LEVEL: ("<I", ("low_credit_pence",)),
    SET_MAXIMUM_CREDIT_LIMIT: (
        "<IIIII",
        (None, None, "at", "max_meter_balance_pence", "max_credit_pence"),
    ),
}
# the Publish commands' payloads (from offset 12: after provider, issuer event and calendar
# ids): where the calendar type is, in those that carry one, and the profiles kept by id
CALENDAR_TYPE_AT = {PUBLISH_CALENDAR: 16, PUBLISH_DAY_PROFILE: 16, PUBLISH_SPECIAL_DAYS: 16}
PROFILES = {PUBLISH_DAY_PROFILE: "day_profiles", PUBLISH_WEEK_PROFILE: "week_profiles"}
# GCS21b's Gets (ZCL: 0x01 Get Day Profiles ... 0x04 Get Special Days): what answers each
CALENDAR_ANSWERS = {
    0x01: (PUBLISH_DAY_PROFILE, "day_profiles"),
    0x02: (PUBLISH_WEEK_PROFILE, "week_profiles"),
    0x03: (PUBLISH_SEASONS, "seasons"),
    0x04: (PUBLISH_SPECIAL_DAYS, "special_days"),
}
# a Publish command read back: server to client, cluster-specific, no Default Response
READ_BACK = gbz.ZCL_DISABLE_DEFAULT_RESPONSE | gbz.ZCL_SERVER_TO_CLIENT | gbz.ZCL_CLUSTER_SPECIFIC
SINGLE = {
    PUBLISH_CALENDAR: "calendar",
    PUBLISH_SEASONS: "seasons",
    PUBLISH_SPECIAL_DAYS: "special_days",
}
DATED_PUBLISH = (PUBLISH_CALENDAR, PUBLISH_SPECIAL_DAYS)  # those with a start time (8F66 each)


class DebtRefused(ValueError):
    """A Change Debt the engine does not apply: why."""


class SettingRefused(ValueError):
    """A GCS05 command the meter does not apply: the ZCL status and why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def setting_time(command: int, payload: bytes, cmd: GbcsMessage) -> int:
    """When a GCS05 Prepayment command takes effect (ZigBee time; 0: at once): its start or
    implementation time, else its GBZ component's From Date-Time."""
    layout, names = SETTINGS_COMMANDS[command]
    if "at" in names and len(payload) == struct.calcsize(layout):
        return int(struct.unpack(layout, payload)[names.index("at")])
    try:
        components = gbz.decode(cmd.payload).components
    except DecodeError:
        return 0
    times = (
        c.from_date_time
        for c in components
        if (c.cluster, c.zcl.command) == (gbz.PREPAYMENT, command)
    )
    return next((t for t in times if t is not None), 0)


def settings_changed(command: int, payload: bytes) -> dict[str, int]:
    """The Settings fields (pence, or millipence as named) a GCS05 Prepayment command sets.
    SettingRefused when its payload is not the command's or an amount the engine keeps in
    pence is not whole pence."""
    layout, names = SETTINGS_COMMANDS[command]
    if len(payload) != struct.calcsize(layout):
        raise SettingRefused(gbz.ZCL_MALFORMED_COMMAND, f"{len(payload)} bytes: not {layout}")
    out: dict[str, int] = {}
    for name, value in zip(names, struct.unpack(layout, payload), strict=True):
        if name is None or name == "at":
            continue
        if name.endswith("_millipence"):  # kept as given
            out[name] = value
            continue
        if value % MILLIPENCE or value < 0:
            raise SettingRefused(
                gbz.ZCL_INVALID_FIELD,
                f"{name}: {value} millipence is not whole pence, which the rig's engine keeps",
            )
        out[name] = value // MILLIPENCE
    return out


@dataclass
class Calendar:
    """The non-disablement (friendly credit) calendar GCS05 publishes, kept as published
    (each Publish command's payload, hex) in ``path``: a Publish Calendar starts a new one."""

    path: Path
    published: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Calendar:
        saved = read_json(path, {}) or {}
        return cls(path, saved if isinstance(saved, dict) else {})

    @staticmethod
    def check(command: int, payload: bytes) -> None:
        """SettingRefused when a Publish command is not a friendly credit one."""
        type_at = CALENDAR_TYPE_AT.get(command)
        if len(payload) < 13 or (type_at is not None and len(payload) <= type_at):
            raise SettingRefused(gbz.ZCL_MALFORMED_COMMAND, "too short a Publish command")
        if type_at is not None and payload[type_at] != FRIENDLY_CREDIT_CALENDAR:
            raise SettingRefused(
                gbz.ZCL_INVALID_FIELD,
                f"calendar type 0x{payload[type_at]:02X}: the meter keeps a friendly credit "
                f"(0x{FRIENDLY_CREDIT_CALENDAR:02X}) calendar",
            )

    def publish(self, command: int, payload: bytes) -> None:
        """Keep one Publish command. SettingRefused when it is not a friendly credit one."""
        self.check(command, payload)
        if command == PUBLISH_CALENDAR:
            self.published = {}
        if command in PROFILES:
            profiles = self.published.setdefault(PROFILES[command], {})
            profiles[str(payload[12])] = payload.hex()  # by its day or week id
        else:
            self.published[SINGLE[command]] = payload.hex()
        write_json(self.path, self.published)

    def answer(self, get: int) -> gbz.Reply:
        """A Get's answer: the Publish commands kept for it, or NOT_FOUND."""
        publish, kept = CALENDAR_ANSWERS[get]
        found = self.published.get(kept)
        if isinstance(found, dict):  # profiles, by id
            payloads = [bytes.fromhex(found[k]) for k in sorted(found, key=int)]
        else:
            payloads = [bytes.fromhex(found)] if found else []
        if not payloads:
            return gbz.default_response(get, gbz.ZCL_NOT_FOUND)
        replies = [gbz.Reply(publish, p, True, READ_BACK) for p in payloads]
        return replace(replies[0], more=tuple(replies[1:]))


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
    currency, and its Calendar cluster's Gets; GCS05's commands at their time."""

    meter: Eui64
    credit: Credit
    device: Any = None  # the GSME: what carries out held commands and sends their alerts
    now: Callable[[], dt.datetime] = future.utc_now  # the clock held commands wait on
    calendar: Calendar = field(init=False)
    # a future-dated GCS05's requester, counter, message code and its commands held (each:
    # cluster, command, time, payload hex, whether it has its own 8F66), kept in HELD_FILE
    held: dict[str, Any] = field(init=False)
    _counter: int | None = field(default=None, init=False)  # the GCS05 being taken
    _calendar_at: int = field(default=AT_ONCE, init=False)  # its Publish Calendar's time

    def __post_init__(self) -> None:
        self.calendar = Calendar.load(self.credit.path.with_name(CALENDAR_FILE))
        self.held = dict(read_json(self._held_path, {}) or {})
        if self.device is not None:
            self.device.gas_prepay = self
            self.credit.watchers.append(self.arm)  # each register: a held GCS05 waited for

    @property
    def _held_path(self) -> Path:
        return self.credit.path.with_name(HELD_FILE)

    def serve(self, zcl: ZclServer) -> None:
        zcl.command(gbz.PREPAYMENT, gbz.CHANGE_DEBT, self.change_debt)
        for command in SETTINGS_COMMANDS:
            zcl.command(gbz.PREPAYMENT, command, partial(self.set_prepayment, command))
        for command in (*PROFILES, *SINGLE):
            zcl.command(CALENDAR, command, partial(self.publish, command), server_to_client=True)
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
            (OVERALL_DEBT_CAP, self._debt_cap),
            (CUT_OFF_VALUE, lambda: credit.settings.disablement_threshold_pence * MILLIPENCE),
            (EMERGENCY_CREDIT_LIMIT, lambda: credit.settings.emergency_credit_pence * MILLIPENCE),
            (
                EMERGENCY_CREDIT_THRESHOLD,
                lambda: credit.settings.emergency_credit_threshold_pence * MILLIPENCE,
            ),
            (LOW_CREDIT_WARNING, lambda: credit.settings.low_credit_pence * MILLIPENCE),
            (MAX_CREDIT_LIMIT, lambda: credit.settings.max_meter_balance_pence * MILLIPENCE),
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
            zcl.command(CALENDAR, command, partial(self._calendar_get, command))

    def _debt_cap(self) -> int:
        cap = self.credit.settings.overall_debt_cap_millipence
        return NO_DEBT_CAP if cap is None else cap

    def set_prepayment(self, command: int, payload: bytes, cmd: GbcsMessage) -> gbz.Reply:
        """One of GCS05's Prepayment commands: its amounts into the engine's settings, at
        once, held until its time, or (a cancellation) what is held dropped."""
        extra = {"device": self.meter.duis, "command": command}
        self._taking(cmd)
        try:
            changes: dict[str, Any] = settings_changed(command, payload)
            at = setting_time(command, payload, cmd)
            when = self._when(at)
        except SettingRefused as exc:
            log.warning("prepay.setting_refused", extra={**extra, "reason": str(exc)})
            return gbz.default_response(command, exc.status)
        if when == AT_ONCE:
            self._apply(changes)
        else:
            self._dated(cmd, gbz.PREPAYMENT, command, when, payload)
        return gbz.default_response(command, gbz.ZCL_SUCCESS)

    def _apply(self, changes: dict[str, Any]) -> None:
        self.credit.settings = replace(self.credit.settings, **changes)
        self.credit.save()
        log.info("prepay.settings_changed", extra={"device": self.meter.duis, **changes})

    def publish(self, command: int, payload: bytes, cmd: GbcsMessage) -> gbz.Reply:
        """One of GCS05's Calendar Publish commands: the calendar kept as published, at
        once, held until its time (Day, Week Profiles and Seasons: their calendar's), or (a
        cancellation) what is held dropped."""
        extra = {"device": self.meter.duis, "command": command}
        self._taking(cmd)
        try:
            Calendar.check(command, payload)
            if command in DATED_PUBLISH:
                when = self._when(struct.unpack_from("<I", payload, START_AT)[0])
                if command == PUBLISH_CALENDAR:
                    self._calendar_at = when
            else:
                when = self._calendar_at
            if when == AT_ONCE:
                self.calendar.publish(command, payload)
        except SettingRefused as exc:
            log.warning("prepay.calendar_refused", extra={**extra, "reason": str(exc)})
            return gbz.default_response(command, exc.status)
        if when == AT_ONCE:
            log.info("prepay.calendar_published", extra=extra)
        else:
            self._dated(cmd, CALENDAR, command, when, payload)
        return gbz.default_response(command, gbz.ZCL_SUCCESS)

    # --- future-dated GCS05 ----------------------------------------------------------------------
    def _taking(self, cmd: GbcsMessage) -> None:
        """A command's first component: its Publish commands begin at once, until its
        Publish Calendar says otherwise."""
        if cmd.header.counter != self._counter:
            self._counter, self._calendar_at = cmd.header.counter, AT_ONCE

    def _when(self, at: int) -> int:
        """A command's time: 0 (at once), a later ZigBee time, or CANCEL (ZCL's latest).
        SettingRefused for a time past but not 0."""
        if at >= CANCEL:
            return CANCEL
        if at != AT_ONCE and at <= gbz.zigbee_time(self.now()):
            raise SettingRefused(
                gbz.ZCL_INVALID_FIELD,
                f"a change dated {gbz.from_zigbee_time(at).isoformat()} is past: give 0 (at "
                "once) or a later time",
            )
        return at

    def _dated(self, cmd: GbcsMessage, cluster: int, command: int, at: int, body: bytes) -> None:
        """A command for later: held until ``at`` (a new GCS05 replaces the one held), or
        (``at`` CANCEL) what is held dropped."""
        extra = {"device": self.meter.duis, "cluster": cluster, "command": command}
        if at == CANCEL:
            if self.held:
                log.info("prepay.held_cancelled", extra={**extra, "counter": self.held["counter"]})
            self.held = {}
            write_json(self._held_path, self.held)
            return
        h = cmd.header
        if self.held.get("counter") != h.counter:
            self.held = {
                "requester": Eui64(h.originator).duis,
                "counter": h.counter,
                "message_code": h.message_code,
                "commands": [],
            }
        alerted = cluster == gbz.PREPAYMENT or command in DATED_PUBLISH
        self.held["commands"].append([cluster, command, at, body.hex(), alerted])
        write_json(self._held_path, self.held)
        log.info("prepay.held", extra={**extra, "at": at})
        self.arm()

    def next_due(self) -> float | None:
        """When the next held command is due (UTC seconds), None when none is held."""
        times = [int(c[2]) for c in self.held.get("commands", [])]
        return gbz.ZIGBEE_EPOCH + min(times) if times else None

    def carry_out_due(self, now: dt.datetime) -> tuple[bool, list[dict[str, Any]]]:
        """The held commands due by ``now`` carried out, in order: whether any was, and for
        each dated one what its 8F66 alert names (gbz_execution.execution_alerts' form)."""
        commands = self.held.get("commands", [])
        zigbee_now = gbz.zigbee_time(now)
        due = [c for c in commands if int(c[2]) <= zigbee_now]
        if not due:
            return False, []
        alerts = []
        for cluster, command, at, body, alerted in due:
            payload = bytes.fromhex(body)
            try:
                if cluster == gbz.PREPAYMENT:
                    self._apply(settings_changed(command, payload))
                else:
                    self.calendar.publish(command, payload)
            except SettingRefused as exc:  # checked when held: not expected
                log.warning(
                    "prepay.held_refused", extra={"device": self.meter.duis, "reason": str(exc)}
                )
                continue
            if alerted:  # RTDS's GCS05 8F66s name frame control 0x01, the Publish ones too
                done = [[cluster, gbz.ZCL_CLUSTER_SPECIFIC, command]]
                alerts.append({**self.held, "at": at, "done": done})
        rest = [c for c in commands if int(c[2]) > zigbee_now]
        self.held = {**self.held, "commands": rest} if rest else {}
        write_json(self._held_path, self.held)
        log.info("prepay.held_carried_out", extra={"device": self.meter.duis, "commands": len(due)})
        return True, alerts

    def arm(self) -> None:
        """Wait for the held commands' time, once a loop runs (:meth:`_carry_out`)."""
        if self.next_due() is None or getattr(self.device, "gbcs", None) is None:
            return
        try:
            future.arm(self.device, "gas_prepay", self._carry_out)
        except RuntimeError:  # no running loop yet (the meter is being built)
            return

    async def _carry_out(self) -> None:
        """Carry out each held command at its time on the clock; queue the requester's 8F66
        alerts, sent now if the meter is awake, else on its wake."""

        async def step(now: dt.datetime) -> bool:
            carried, alerts = self.carry_out_due(now)
            await alert_carried_out(self.device, alerts)
            return carried

        await future.run_when_due(self.next_due, step, lambda: self.now())

    def _frequency(self, n: int) -> int:
        return FREQUENCY.get(self.credit.debt.recovery[n].period_s, gbz.DAILY)

    def _recovery_amount(self, n: int) -> int:
        return self.credit.debt.recovery[n].millipence

    def _calendar_get(self, command: int, _payload: bytes, _cmd: GbcsMessage) -> gbz.Reply:
        """A Calendar cluster Get: the kept non-disablement calendar's part, or NOT_FOUND."""
        return self.calendar.answer(command)

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
