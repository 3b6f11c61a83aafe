"""The GPF's mirror of the sleepy GSME: GBCS has the GPF answer reads of the GSME's data
(GCS13a, GCS13b, GCS13c, GCS14, GCS60a: RTDS sends them to the GPF) from what the GSME
last sent it over the HAN.

What it mirrors is what the GPF's use cases read (:func:`mirrored`: the attributes of
every ZCL read the catalogue runs on a GPF), so a use case added for the GPF is mirrored
with no more code. At each wake the GSME reports them from its own ZCL server, one ZCL
Report Attributes per cluster to the GPF's endpoint on the CHF (:func:`report_records`,
:func:`report`); the CHF keeps the last value of each (:class:`GpfMirror`, in its state
folder: a restart keeps it) and answers the GPF's GBZ reads from them
(:meth:`GpfMirror.server`). An attribute the GSME has not reported (yet) answers
UNSUPPORTED_ATTRIBUTE, as a device that does not hold it does.

The GPF keeps copies of two of the GSME's logs too, for 4.14 (GCS16b) and 4.17 (GCS61) sent
to it: the daily prepayment snapshots and the daily consumption log. The GSME reports their
newest entries at each wake as two octet-string attributes of the rig's own (ids in the
manufacturer-specific range, not GBCS's: :data:`LOGS`, :class:`MirroredLog`); the GPF adds
them to its copies (the last :data:`SNAPSHOT_DAYS` snapshots, :data:`CONSUMPTION_DAYS` days)
and answers Get Prepay Snapshot (as the GSME does, :class:`nodes.roles.gas_logs.GasLogs`)
and Get Sampled Data of the daily consumption log (Sample ID 1: a sample per UTC day, dm3)
from them; a GPF that slept through more than the reported entries misses those days.
"""

from __future__ import annotations

import logging
import struct
import time
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from nodes.gbcs.zcl_server import ZclServer
from nodes.roles.gas_logs import QUIET, GasLogs
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue import CATALOGUE
from rig.protocol.gbcs.catalogue_gas_billing import DAILY_CONSUMPTION_LOG, DAILY_INTERVAL
from rig.protocol.gbcs.catalogue_gas_logs import GET_PREPAY_SNAPSHOT
from rig.protocol.gbcs.catalogue_gas_reads import (
    CONSUMPTION_DELIVERED,
    GET_SAMPLED_DATA,
    GET_SAMPLED_DATA_RESPONSE,
    SampledData,
    SampledDataRequest,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import Catalogue, ZclRead, ZclReads, ZclSequence
from rig.runtime.files import read_json, write_json

log = logging.getLogger("nodes.han")
GPF = "GPF"
REPORT_ATTRIBUTES = 0x0A  # ZCL general command
REPORT_CONTROL = gbz.ZCL_SERVER_TO_CLIENT | gbz.ZCL_DISABLE_DEFAULT_RESPONSE
DAY_S = 86_400
SNAPSHOT_DAYS = 31  # the daily snapshots the GPF keeps (as the GSME's daily read log)
CONSUMPTION_DAYS = 731  # the days of the daily consumption log the GPF keeps


@dataclass(frozen=True, slots=True)
class MirroredLog:
    """A log the GSME reports to the GPF as an octet string: its newest ``reported``
    entries, each a ZigBee time and values packed as ``entry``."""

    attribute: gbz.ZclAttribute
    entry: struct.Struct
    reported: int

    def encode(self, entries: list[tuple[int, tuple[int, ...]]]) -> bytes:
        return b"".join(self.entry.pack(at, *values) for at, values in entries[-self.reported :])

    def decode(self, data: bytes) -> list[tuple[int, tuple[int, ...]]]:
        if len(data) % self.entry.size:
            raise DecodeError(f"{self.attribute.name}: {len(data)} bytes are no whole entries", 0)
        rows = [self.entry.unpack_from(data, at) for at in range(0, len(data), self.entry.size)]
        return [(int(row[0]), tuple(int(v) for v in row[1:])) for row in rows]


# the daily prepayment snapshots: midnight, then balance, emergency credit, accumulated
# debt, payment debt, time debt 1 and 2 (millipence; as DailyReadLog's entries)
DAILY_SNAPSHOTS = MirroredLog(
    gbz.ZclAttribute(0xFF00, "mirrored_daily_snapshots", gbz.ZCL_OCTET_STRING, 0),
    struct.Struct("<I6i"),
    7,
)
# the daily consumption log: the UTC day's start, then the dm3 consumed that day
DAILY_CONSUMPTION = MirroredLog(
    gbz.ZclAttribute(0xFF01, "mirrored_daily_consumption", gbz.ZCL_OCTET_STRING, 0),
    struct.Struct("<II"),
    14,
)
LOGS = {gbz.PREPAYMENT: DAILY_SNAPSHOTS, gbz.METERING: DAILY_CONSUMPTION}


@cache
def mirrored(catalogue: Catalogue = CATALOGUE) -> dict[int, tuple[gbz.ZclAttribute, ...]]:
    """The attributes the GPF mirrors, by cluster: those its use cases read."""
    found: dict[int, dict[int, gbz.ZclAttribute]] = {}
    for uc in catalogue.all:
        req = uc.request
        if GPF not in uc.device_types:
            continue
        reads: tuple[Any, ...] = (
            req.reads
            if isinstance(req, ZclReads)
            else req.parts
            if isinstance(req, ZclSequence)
            else (req,)
        )
        for read in reads:
            if isinstance(read, ZclRead):
                for attribute in read.attributes:
                    found.setdefault(read.cluster, {})[attribute.ident] = attribute
    for cluster, mirrored_log in LOGS.items():
        found.setdefault(cluster, {})[mirrored_log.attribute.ident] = mirrored_log.attribute
    return {cluster: tuple(by_id.values()) for cluster, by_id in found.items()}


def report_records(zcl: ZclServer | None, cluster: int) -> bytes:
    """The GSME's mirrored attributes of ``cluster`` as Report Attributes records (id, type,
    value), read from its ZCL server; those it does not serve are left out."""
    if zcl is None:
        return b""
    logged = LOGS.get(cluster)
    attributes = tuple(
        a for a in mirrored().get(cluster, ()) if logged is None or a != logged.attribute
    )
    values = gbz.parse_read_records(zcl.read(cluster, [a.ident for a in attributes]), attributes)
    records = b""
    for attribute in attributes:
        if attribute.name in values:
            record = gbz.read_records([(attribute, values[attribute.name])])
            records += record[:2] + record[3:]  # a read record less its status
    if logged is not None:
        record = zcl.read(cluster, [logged.attribute.ident])
        if record[2] == gbz.ZCL_SUCCESS:  # the GSME keeps the log
            records += record[:2] + record[3:]
    return records


def report(tsn: int, records: bytes) -> bytes:
    """A ZCL Report Attributes frame (server to client, no Default Response) of ``records``."""
    return gbz.ZclHeader(REPORT_CONTROL, tsn, REPORT_ATTRIBUTES).encode() + records


@dataclass
class GpfMirror:
    """The last value the GSME reported of each mirrored attribute, kept at ``path``."""

    path: Path
    values: dict[tuple[int, int], int] = field(default_factory=dict)
    updated: float | None = None
    # the logs' copies: by attribute id, each entry's ZigBee time -> its values
    logs: dict[int, dict[int, tuple[int, ...]]] = field(default_factory=dict)
    device: str = ""  # the GSME whose data it mirrors

    @classmethod
    def load(cls, path: Path) -> GpfMirror:
        saved = read_json(path, {}) or {}
        values = {}
        for key, value in saved.get("values", {}).items():
            cluster, ident = (int(part, 16) for part in key.split(":"))
            values[(cluster, ident)] = int(value)
        logs = {
            int(ident, 16): {int(at): tuple(v) for at, v in entries.items()}
            for ident, entries in saved.get("logs", {}).items()
        }
        return cls(path, values, saved.get("updated"), logs, saved.get("device", ""))

    def save(self) -> None:
        logs = {
            f"{ident:04X}": {str(at): list(v) for at, v in sorted(entries.items())}
            for ident, entries in self.logs.items()
        }
        write_json(self.path, {**self.detail(), "logs": logs, "device": self.device})

    def update(self, cluster: int, reports: list[Any], device: str) -> None:
        """A Report Attributes' records (zigpy's: attrid, a typed value) of ``cluster``
        from the GSME: each mirrored attribute of the type it is declared with, kept."""
        declared = {a.ident: a for a in mirrored().get(cluster, ())}
        before = dict(self.values)
        added = False
        self.device = device
        for record in reports:
            attribute = declared.get(int(record.attrid))
            if attribute is None:
                continue  # not one the GPF answers for (the IHD's device type)
            logged = LOGS.get(cluster)
            if logged is not None and attribute == logged.attribute:
                added |= self._add(logged, bytes(record.value.value), device)
                continue
            if int(record.value.type) != attribute.zcl_type:
                log.warning(
                    "gpf.mirror_refused",
                    extra={"device": device, "attribute": attribute.name, "reason": "type"},
                )
                continue
            self.values[(cluster, attribute.ident)] = int(record.value.value)
        self.updated = time.time()
        if self.values != before or added:  # kept when it changed (the register moves it)
            self.save()

    def _add(self, logged: MirroredLog, data: bytes, device: str) -> bool:
        """The reported entries of ``logged`` added to its copy; whether any was new."""
        try:
            entries = logged.decode(data)
        except DecodeError as exc:
            log.warning("gpf.mirror_refused", extra={"device": device, "reason": str(exc)})
            return False
        kept = self.logs.setdefault(logged.attribute.ident, {})
        new = {at: values for at, values in entries if kept.get(at) != values}
        kept.update(new)
        most = SNAPSHOT_DAYS if logged is DAILY_SNAPSHOTS else CONSUMPTION_DAYS
        for old in sorted(kept)[:-most]:
            del kept[old]
        return bool(new)

    def entries(self, logged: MirroredLog) -> list[tuple[int, tuple[int, ...]]]:
        """The copy of ``logged``, oldest first."""
        return sorted(self.logs.get(logged.attribute.ident, {}).items())

    def server(self) -> ZclServer:
        """A ZCL server of the mirrored values, as they stand now."""
        server = ZclServer()
        for cluster, attributes in mirrored().items():
            for attribute in attributes:
                value = self.values.get((cluster, attribute.ident))
                if value is not None:
                    server.attribute(cluster, attribute, partial(int, value))
        gsme = Eui64.parse(self.device) if self.device else Eui64(bytes(8))
        daily = SimpleNamespace(entries=self.entries(DAILY_SNAPSHOTS))
        snapshots = GasLogs(gsme, cast(Any, None), cast(Any, daily))  # as the GSME answers
        server.command(gbz.PREPAYMENT, GET_PREPAY_SNAPSHOT, snapshots.get_prepay_snapshot)
        server.command(gbz.METERING, GET_SAMPLED_DATA, self.get_daily_consumption)
        return server

    def get_daily_consumption(self, payload: bytes, _cmd: GbcsMessage) -> gbz.Reply:
        """GCS61: the daily consumption log, a sample per UTC day from the Earliest Sample
        Time's day, at most Number of Samples, up to the newest day reported (a day missing
        from the copy counts 0)."""
        try:
            asked = SampledDataRequest.decode(payload)
        except DecodeError:
            return gbz.default_response(GET_SAMPLED_DATA, gbz.ZCL_MALFORMED_COMMAND)
        days = dict(self.entries(DAILY_CONSUMPTION))
        wanted = (DAILY_CONSUMPTION_LOG, CONSUMPTION_DELIVERED)
        first = -(-asked.earliest // DAY_S) * DAY_S  # the first whole day from then
        if (asked.sample_id, asked.sample_type) != wanted or not days or first > max(days):
            return gbz.default_response(GET_SAMPLED_DATA, gbz.ZCL_NOT_FOUND)
        first = max(first, min(days))
        count = min(asked.count, (max(days) - first) // DAY_S + 1)
        samples = tuple(days.get(first + n * DAY_S, (0,))[0] for n in range(count))
        answer = SampledData(first, samples, DAILY_INTERVAL, DAILY_CONSUMPTION_LOG).encode()
        return gbz.Reply(
            GET_SAMPLED_DATA_RESPONSE, answer, True, frame_control=QUIET, sensitive=True
        )

    def detail(self) -> dict[str, Any]:
        """What the GPF answers from now, by "cluster:attribute" (hex), and since when."""
        values = {f"{c:04X}:{i:04X}": v for (c, i), v in sorted(self.values.items())}
        entries = {f"{ident:04X}": len(kept) for ident, kept in self.logs.items()}
        return {"values": values, "updated": self.updated, "log_entries": entries}
