"""What a meter serves for event logs and alert configuration (6.13, 6.22).

Every alert the meter raises passes its :class:`EventLogs` on the way up (the tunnelled
device's ``alert_gate``): it is logged with its time in the meter's event, security or (the
ESME's) power event log (:func:`~rig.protocol.gbcs.catalogue_event_logs.log_of`), unless a
logging filter (the supplier's or the network operator's) disables its code, and held back
when a WAN alert filter disables it (a critical 0x8Fxx alert is always logged and always
goes). The logs and the filters are kept in ``event_logs.json`` in the meter's state
folder (the last :data:`LOG_SIZE` entries of each log), so they survive a restart.

On the ESME's COSEM server:

- the event log (class 7, 0-0:99.98.0) and the security log (0-0:99.98.1), read by a range
  of UTC seconds since 2000 (ECS35a, ECS35b, 6.13);
- the supplier's alert filters (class 1): WAN 0-30:97.98.11 (ECS25a), HAN 0-30:97.98.12
  (ECS25a1), audible alarm 0-30:97.98.13 (ECS25a2), logging 0-30:97.98.14 (ECS25a3), each
  written (6.22) as a 512-bit mask-and-values bit-string; read back, every alert the rig
  knows is in the mask. The rig's ESME notifies no HAN device of events and has no sounder:
  the HAN and alarm filters are kept and read back, and change nothing else;
- the power event log (0-0:99.98.4, ECS35e: time, code, a value the rig leaves 0) and the
  auxiliary controller (ALCS) event log (0-17:99.98.2, ECS35g: time, code, an enum and a
  value); the rig's ESME raises no ALCS event, so that log stays empty unless an auxiliary
  load's code records in it (:meth:`EventLogs.record` with ``log="ALCSEvent"``);
- the network operator's WAN alert filter 0-33:97.98.11 (ECS25b) and logging filter
  0-33:97.98.14 (ECS25b3), for its alerts (:data:`NETWORK_ALERT_BITS`).

On the GSME's ZCL server, the Events cluster's Get Event Log (CS10a, CS10b, 6.13): the
general event log (log ID 3) or the security log (4) between two ZigBee times, answered by a
Publish Event Log, or a Default Response NOT_FOUND when none is in the period; and the
Device Management cluster's Set Event Configuration (GCS20, 6.22): for each event ID it
lists, its WAN, HAN, logging and alarm filters as the configuration byte says, answered by
a Default Response (SUCCESS).

On the CHF (:func:`serve_chf_event_logs`): its event log and security log (ECS35c, ECS35d,
the same objects as the ESME's), with what it records: each alert it raises (CS14's 0x8F12
in its security log, as RTDS's CHF has it; the firmware transfer alerts in its event log).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from nodes.gbcs.cosem_server import CosemError, Result
from nodes.gbcs.future import utc_now
from nodes.roles.prepay_logs import compact_array  # a compact array of fixed-size rows
from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import alerts, cosem, gbz
from rig.protocol.gbcs.catalogue_event_logs import (
    AUX_EVENT_LOG,
    DEVICE_MANAGEMENT,
    EVENT_BIT_FILTERS,
    EVENT_LOG,
    EVENTS,
    FILTERS,
    GET_EVENT_LOG,
    POWER_EVENT_LOG,
    PUBLISH_EVENT_LOG,
    SECURITY_LOG,
    SET_EVENT_CONFIGURATION,
    ZIGBEE_LOG_IDS,
    EventConfiguration,
    EventLogRequest,
    alert_bits,
    filter_settings,
    filter_value,
    is_critical,
    log_of,
    publish_event_log,
)
from rig.protocol.gbcs.dlms import Data, DataType, TypeDescription
from rig.protocol.gbcs.frame import Cra, GbcsMessage
from rig.runtime.files import read_json, write_json

__all__ = ["LOG_SIZE", "EventLogs", "serve_chf_event_logs", "serve_event_logs"]

log = logging.getLogger("nodes.event_logs")
LOG_SIZE = 100  # entries each log keeps, the oldest going first
QUIET = gbz.ZCL_SERVER_TO_CLIENT | gbz.ZCL_CLUSTER_SPECIFIC | gbz.ZCL_DISABLE_DEFAULT_RESPONSE

_D = DataType
EVENT_ENTRY = TypeDescription(
    _D.STRUCTURE,
    0,
    (
        TypeDescription(_D.DOUBLE_LONG_UNSIGNED),
        TypeDescription(_D.LONG_UNSIGNED),
        TypeDescription(_D.OCTET_STRING),
    ),
)
SECURITY_ENTRY = TypeDescription(
    _D.STRUCTURE,
    0,
    (TypeDescription(_D.DOUBLE_LONG_UNSIGNED), TypeDescription(_D.LONG_UNSIGNED)),
)
POWER_ENTRY = TypeDescription(
    _D.STRUCTURE,
    0,
    (
        TypeDescription(_D.DOUBLE_LONG_UNSIGNED),
        TypeDescription(_D.LONG_UNSIGNED),
        TypeDescription(_D.DOUBLE_LONG_UNSIGNED),
    ),
)
ALCS_ENTRY = TypeDescription(
    _D.STRUCTURE,
    0,
    (
        TypeDescription(_D.DOUBLE_LONG_UNSIGNED),
        TypeDescription(_D.LONG_UNSIGNED),
        TypeDescription(_D.ENUM),
        TypeDescription(_D.DOUBLE_LONG_UNSIGNED),
    ),
)
LOG_NAMES = ("Event", "Security", "PowerEvent", "ALCSEvent")


class EventLogs:
    """A meter's event and security logs, (UTC seconds since 2000, alert code) oldest first,
    and its supplier's alert filters (the codes each disables), persisted."""

    def __init__(
        self,
        path: Path,
        device: str,
        now: Callable[[], dt.datetime] = utc_now,
        *,
        power_log: bool = False,
    ) -> None:
        self.path, self.device, self.now = path, device, now
        self.power_log = power_log  # an ESME's: its power events go to their own log
        saved = read_json(path, {}) or {}
        self.logs: dict[str, list[tuple[int, int]]] = {
            name: [(int(at), int(code)) for at, code in saved.get(name, [])][-LOG_SIZE:]
            for name in LOG_NAMES
        }
        disabled = saved.get("disabled", {})
        self.disabled: dict[str, set[int]] = {
            name: {int(c) for c in disabled.get(name, [])} for name in FILTERS
        }

    def _save(self) -> None:
        write_json(
            self.path,
            {
                **{name: [list(e) for e in entries] for name, entries in self.logs.items()},
                "disabled": {name: sorted(codes) for name, codes in self.disabled.items()},
            },
        )

    # --- what happened ---------------------------------------------------------------------
    def record(self, code: int, log: str | None = None) -> str | None:
        """Log an alert with this code now, in ``log`` or the one its code goes to; the
        log it went to (None: its logging is disabled)."""
        if not (self.enabled("log", code) and self.enabled("no_log", code)):
            return None
        at = int(self.now().timestamp()) - cosem.GBCS_EPOCH_UNIX
        name = log or log_of(code, power_log=self.power_log)
        self.logs[name] = [*self.logs[name], (at, code)][-LOG_SIZE:]
        self._save()
        return name

    def clear(self, name: str) -> int:
        """Empty the log ``name`` (3.3: ECS15a, ECS15c, CS11; the security log is never
        cleared remotely); how many entries it held."""
        if name == "Security" or name not in self.logs:
            raise ValueError(f"the {name} log cannot be cleared: clear Event or ALCSEvent")
        held, self.logs[name] = len(self.logs[name]), []
        self._save()
        return held

    def enabled(self, what: str, code: int) -> bool:
        """Whether the filter ``what`` (wan, han, alarm, log) lets this code through
        (critical ones always go)."""
        return is_critical(code) or code not in self.disabled[what]

    def gate(self, message: bytes) -> bool:
        """An outgoing GBCS message: an alert is logged, and whether it goes up (another
        message always goes)."""
        try:
            msg = GbcsMessage.decode(message)
        except DecodeError:
            return True
        code = alerts.alert_code(msg) if msg.cra is Cra.ALERT else None
        if code is None:
            return True
        name = self.record(code)
        sent = self.enabled("wan", code) and self.enabled("no_wan", code)
        log.info(
            "gbcs.alert_logged" if sent else "gbcs.alert_filtered",
            extra={"device": self.device, "alert_code": f"{code:04X}", "log": name or "none"},
        )
        return sent

    # --- the COSEM objects -----------------------------------------------------------------
    def between(self, name: str, selector: int, parameters: Data) -> Data:
        """The entries of the log ``name`` from one UTC second since 2000 to another (both
        included), as a range read asks for them."""
        if selector != cosem.BY_RANGE:
            raise CosemError(Result.TYPE_UNMATCHED, f"the {name} log is read by range")
        try:
            start, end = (int(v.value) for v in cosem.range_of(parameters))
        except (TypeError, ValueError):
            raise CosemError(Result.TYPE_UNMATCHED, "not a range of UTC seconds") from None
        entries = [(at, code) for at, code in self.logs[name] if start <= at <= end]
        if name == "Security":
            return compact_array(SECURITY_ENTRY, ((_at(at), _code(c)) for at, c in entries))
        if name == "PowerEvent":  # the entry's value: none the rig records
            return compact_array(POWER_ENTRY, ((_at(at), _code(c), _at(0)) for at, c in entries))
        if name == "ALCSEvent":
            off = Data(_D.ENUM, 0)
            return compact_array(
                ALCS_ENTRY, ((_at(at), _code(c), off, _at(0)) for at, c in entries)
            )
        empty = Data(_D.OCTET_STRING, b"")  # the event's detail: none the rig records
        return compact_array(EVENT_ENTRY, ((_at(at), _code(c), empty) for at, c in entries))

    def get_event_log(self, payload: bytes, _cmd: GbcsMessage) -> gbz.Reply:
        """CS10a, CS10b: a Get Event Log of the general or the security log by time."""
        try:
            asked = EventLogRequest.decode(payload)
        except DecodeError:
            return gbz.default_response(GET_EVENT_LOG, gbz.ZCL_MALFORMED_COMMAND)
        name = ZIGBEE_LOG_IDS.get(asked.log_id)
        if name is None:
            return gbz.default_response(GET_EVENT_LOG, gbz.ZCL_NOT_FOUND)
        events = [
            (at, code)
            for at, code in self.logs[name]
            if asked.start <= at <= asked.end and asked.event_id in (0, code)
        ]
        events = events[asked.offset :]
        if asked.count:
            events = events[: asked.count]
        if not events:
            return gbz.default_response(GET_EVENT_LOG, gbz.ZCL_NOT_FOUND)
        payload = publish_event_log(asked.log_id, events)
        return gbz.Reply(PUBLISH_EVENT_LOG, payload, True, frame_control=QUIET)

    def filter(self, what: str) -> Data:
        """An alert filter as read: every alert it knows, and whether on."""
        off, bits = self.disabled[what], alert_bits(what)
        return filter_value({code: code not in off for code in bits}, bits)

    def set_filter(self, what: str, value: Data) -> None:
        """ECS25a, a1, a2, a3, b, b3: the alerts in the mask enabled or disabled, as the
        values say."""
        try:
            settings = filter_settings(value, alert_bits(what))
        except (TypeError, ValueError) as exc:
            raise CosemError(Result.TYPE_UNMATCHED, str(exc)) from None
        self._configure(what, settings)

    def set_event_configuration(self, payload: bytes, _cmd: GbcsMessage) -> gbz.Reply:
        """GCS20: each event ID's WAN, HAN, logging and alarm filters as the configuration
        says (a critical alert is not configurable: always sent and logged)."""
        try:
            asked = EventConfiguration.decode(payload)
        except DecodeError as exc:
            log.warning(
                "gbcs.event_configuration_refused",
                extra={"device": self.device, "reason": str(exc)},
            )
            return gbz.default_response(SET_EVENT_CONFIGURATION, gbz.ZCL_MALFORMED_COMMAND)
        for what in EVENT_BIT_FILTERS.values():
            self._configure(what, {code: asked.enabled(what) for code in asked.events})
        return gbz.default_response(SET_EVENT_CONFIGURATION, gbz.ZCL_SUCCESS)

    def _configure(self, what: str, settings: dict[int, bool]) -> None:
        off = self.disabled[what]
        for code, enabled in settings.items():
            (off.discard if enabled else off.add)(code)
        self._save()
        log.info(
            "gbcs.alert_filter_set",
            extra={
                "device": self.device,
                "filter": what,
                "disabled": ",".join(f"{c:04X}" for c in sorted(off)),
            },
        )


def _at(seconds: int) -> Data:
    return Data(_D.DOUBLE_LONG_UNSIGNED, seconds)


def _code(code: int) -> Data:
    return Data(_D.LONG_UNSIGNED, code)


def _serve_logs(server: Any, logs: EventLogs, *names: str) -> None:
    for name, target in zip(
        names, (EVENT_LOG, SECURITY_LOG, POWER_EVENT_LOG, AUX_EVENT_LOG), strict=False
    ):
        server.selective(target, partial(logs.between, name))


def serve_event_logs(meter: Any) -> EventLogs:
    """Log the meter's alerts and filter them (its ``alert_gate``); on an ESME's COSEM
    server, its event, security, power event and ALCS event logs and its supplier's and
    network operator's alert filters; on a GSME's ZCL server, the Events cluster's Get
    Event Log and Device Management's Set Event Configuration."""
    server = meter.cosem
    logs = EventLogs(
        meter.config.state_dir / "event_logs.json",
        meter.config.eui.duis,
        power_log=server is not None,
    )
    meter.alert_gate = logs.gate
    if server is not None:
        _serve_logs(server, logs, *LOG_NAMES)
        for what, target in FILTERS.items():
            server.attribute(target, partial(logs.filter, what), partial(logs.set_filter, what))
    elif meter.zcl is not None:
        meter.zcl.command(EVENTS, GET_EVENT_LOG, logs.get_event_log)
        meter.zcl.command(
            DEVICE_MANAGEMENT,
            SET_EVENT_CONFIGURATION,
            logs.set_event_configuration,
            server_to_client=True,
        )
    return logs


def serve_chf_event_logs(server: Any, state_dir: Path, device: str) -> EventLogs:
    """The CHF's event and security logs (ECS35c, ECS35d) on its COSEM ``server``, kept in
    its state folder; the CHF records each alert it raises in them (:meth:`EventLogs.gate`)."""
    logs = EventLogs(state_dir / "event_logs.json", device)
    _serve_logs(server, logs, "Event", "Security")
    return logs
