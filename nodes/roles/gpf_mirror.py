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
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any

from nodes.gbcs.zcl_server import ZclServer
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue import CATALOGUE
from rig.protocol.gbcs.usecase import Catalogue, ZclRead, ZclReads, ZclSequence
from rig.runtime.files import read_json, write_json

log = logging.getLogger("nodes.han")
GPF = "GPF"
REPORT_ATTRIBUTES = 0x0A  # ZCL general command
REPORT_CONTROL = gbz.ZCL_SERVER_TO_CLIENT | gbz.ZCL_DISABLE_DEFAULT_RESPONSE


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
    return {cluster: tuple(by_id.values()) for cluster, by_id in found.items()}


def report_records(zcl: ZclServer | None, cluster: int) -> bytes:
    """The GSME's mirrored attributes of ``cluster`` as Report Attributes records (id, type,
    value), read from its ZCL server; those it does not serve are left out."""
    if zcl is None:
        return b""
    attributes = mirrored().get(cluster, ())
    values = gbz.parse_read_records(zcl.read(cluster, [a.ident for a in attributes]), attributes)
    records = b""
    for attribute in attributes:
        if attribute.name in values:
            record = gbz.read_records([(attribute, values[attribute.name])])
            records += record[:2] + record[3:]  # a read record less its status
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

    @classmethod
    def load(cls, path: Path) -> GpfMirror:
        saved = read_json(path, {}) or {}
        values = {}
        for key, value in saved.get("values", {}).items():
            cluster, ident = (int(part, 16) for part in key.split(":"))
            values[(cluster, ident)] = int(value)
        return cls(path, values, saved.get("updated"))

    def save(self) -> None:
        write_json(self.path, self.detail())

    def update(self, cluster: int, reports: list[Any], device: str) -> None:
        """A Report Attributes' records (zigpy's: attrid, a typed value) of ``cluster``
        from the GSME: each mirrored attribute of the type it is declared with, kept."""
        declared = {a.ident: a for a in mirrored().get(cluster, ())}
        before = dict(self.values)
        for record in reports:
            attribute = declared.get(int(record.attrid))
            if attribute is None:
                continue  # not one the GPF answers for (the IHD's device type)
            if int(record.value.type) != attribute.zcl_type:
                log.warning(
                    "gpf.mirror_refused",
                    extra={"device": device, "attribute": attribute.name, "reason": "type"},
                )
                continue
            self.values[(cluster, attribute.ident)] = int(record.value.value)
        self.updated = time.time()
        if self.values != before:  # kept when it changed (the wakes' register moves it)
            self.save()

    def server(self) -> ZclServer:
        """A ZCL server of the mirrored values, as they stand now."""
        server = ZclServer()
        for cluster, attributes in mirrored().items():
            for attribute in attributes:
                value = self.values.get((cluster, attribute.ident))
                if value is not None:
                    server.attribute(cluster, attribute, partial(int, value))
        return server

    def detail(self) -> dict[str, Any]:
        """What the GPF answers from now, by "cluster:attribute" (hex), and since when."""
        values = {f"{c:04X}:{i:04X}": v for (c, i), v in sorted(self.values.items())}
        return {"values": values, "updated": self.updated}
