"""What a meter serves for event logs and alert configuration (6.13, 6.22).

Every alert the meter raises passes its :class:`EventLogs` on the way up (the tunnelled
device's ``alert_gate``): it is logged with its time in the meter's event or security log
(:func:`~rig.protocol.gbcs.catalogue_event_logs.log_of`), unless the supplier's logging
filter disables its code, and held back when the supplier's WAN alert filter disables it (a
critical 0x8Fxx alert is always logged and always goes). Both logs and the filters are kept
in ``event_logs.json`` in the meter's state folder (the last :data:`LOG_SIZE` entries of
each log), so they survive a restart.

On the ESME's COSEM server:

- the event log (class 7, 0-0:99.98.0) and the security log (0-0:99.98.1), read by a range
  of UTC seconds since 2000 (ECS35a, ECS35b, 6.13);
- the supplier's alert filters (class 1): WAN 0-30:97.98.11 (ECS25a), HAN 0-30:97.98.12
  (ECS25a1), audible alarm 0-30:97.98.13 (ECS25a2), logging 0-30:97.98.14 (ECS25a3), each
  written (6.22) as a 512-bit mask-and-values bit-string; read back, every alert the rig
  knows is in the mask. The rig's ESME notifies no HAN device of events and has no sounder:
  the HAN and alarm filters are kept and read back, and change nothing else.

On the GSME's ZCL server, the Events cluster's Get Event Log (CS10a, CS10b, 6.13): the
general event log (log ID 3) or the security log (4) between two ZigBee times, answered by a
Publish Event Log, or a Default Response NOT_FOUND when none is in the period.
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
    EVENT_LOG,
    EVENTS,
    FILTERS,
    GET_EVENT_LOG,
    PUBLISH_EVENT_LOG,
    SECURITY_LOG,
    SUPPLIER_ALERT_BITS,
    ZIGBEE_LOG_IDS,
    EventLogRequest,
    filter_settings,
    filter_value,
    is_critical,
    log_of,
    publish_event_log,
)
from rig.protocol.gbcs.dlms import Data, DataType, TypeDescription
from rig.protocol.gbcs.frame import Cra, GbcsMessage
from rig.runtime.files import read_json, write_json

__all__ = ["LOG_SIZE", "EventLogs", "serve_event_logs"]

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


class EventLogs:
    """A meter's event and security logs, (UTC seconds since 2000, alert code) oldest first,
    and its supplier's alert filters (the codes each disables), persisted."""

    def __init__(self, path: Path, device: str, now: Callable[[], dt.datetime] = utc_now) -> None:
        self.path, self.device, self.now = path, device, now
        saved = read_json(path, {}) or {}
        self.logs: dict[str, list[tuple[int, int]]] = {
            name: [(int(at), int(code)) for at, code in saved.get(name, [])][-LOG_SIZE:]
            for name in ("Event", "Security")
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
    def record(self, code: int) -> str | None:
        """Log an alert with this code now; the log it went to (None: its logging is
        disabled)."""
        if not self.enabled("log", code):
            return None
        at = int(self.now().timestamp()) - cosem.GBCS_EPOCH_UNIX
        name = log_of(code)
        self.logs[name] = [*self.logs[name], (at, code)][-LOG_SIZE:]
        self._save()
        return name

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
        sent = self.enabled("wan", code)
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
        """A supplier's alert filter as read: every alert it knows, and whether on."""
        off = self.disabled[what]
        return filter_value({code: code not in off for code in SUPPLIER_ALERT_BITS})

    def set_filter(self, what: str, value: Data) -> None:
        """ECS25a, a1, a2, a3: the alerts in the mask enabled or disabled, as the values
        say."""
        try:
            settings = filter_settings(value)
        except (TypeError, ValueError) as exc:
            raise CosemError(Result.TYPE_UNMATCHED, str(exc)) from None
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


def serve_event_logs(meter: Any) -> EventLogs:
    """Log the meter's alerts and filter them (its ``alert_gate``); on an ESME's COSEM
    server, its event and security logs and its supplier's alert filters; on a GSME's
    ZCL server, the Events cluster's Get Event Log."""
    logs = EventLogs(meter.config.state_dir / "event_logs.json", meter.config.eui.duis)
    meter.alert_gate = logs.gate
    server = meter.cosem
    if server is not None:
        server.selective(EVENT_LOG, lambda s, p: logs.between("Event", s, p))
        server.selective(SECURITY_LOG, lambda s, p: logs.between("Security", s, p))
        for what, target in FILTERS.items():
            server.attribute(target, partial(logs.filter, what), partial(logs.set_filter, what))
    elif meter.zcl is not None:
        meter.zcl.command(EVENTS, GET_EVENT_LOG, logs.get_event_log)
    return logs
