"""What the GPF (on the CHF node) serves of the supplier's services beyond its mirror reads:

- 3.2 Restrict Access for Change of Tenancy (GCS09): Device Management's Publish Change of
  Tenancy. GBCS: the GPF keeps the date (past or future, taken at once) and from then on
  restricts the householder's access to its logs of the gas meter's data (profile data,
  cumulative and historical value store, daily read, prepayment daily read, billing data,
  daily consumption) to what is not older than it (:meth:`GpfTenancy.consumer_may_see`);
  the supplier's reads (4.x) are answered as before. The rig's GPF shows the householder
  only current values on the HAN (the IHD reads its Metering mirror), so nothing else
  changes; the CHF's health detail shows the date (``gpf_tenancy``). Kept in the CHF's state
  folder (``gpf-tenancy.json``): a restart keeps it. Answered by a Default Response, as
  RTDS's GPF does; a payload it cannot read is refused (MALFORMED_COMMAND) and logged.
- 6.21 Request Handover of DCC Controlled Device (CS02b SupplierBySupplier / NOByNO from
  the ACB): served by the GPF's GBCS end with the meters' handlers
  (:mod:`nodes.gbcs.credentials`) on the GPF's own trust anchor cells (``gpf-gbcs/`` of the
  CHF's state, so a restart keeps the new ones); nothing here.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nodes.gbcs.zcl_server import ZclServer
from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import catalogue_customer as cc
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.frame import GbcsMessage
from rig.runtime.files import read_json, write_json

log = logging.getLogger("nodes.gpf")


@dataclass
class GpfTenancy:
    """The GPF's change of tenancy date (GCS09), kept at ``path``."""

    path: Path
    change_of_tenancy: str = ""  # ISO, UTC: the householder sees no log data before it
    issuer_event_id: int = 0  # the Publish Change of Tenancy's, as the DCC sent it
    device: str = ""  # the GPF's EUI (DUIS form), for the logs

    @classmethod
    def load(cls, path: Path, device: str = "") -> GpfTenancy:
        saved = read_json(path, {}) or {}
        return cls(
            path,
            str(saved.get("change_of_tenancy", "")),
            int(saved.get("issuer_event_id", 0)),
            device,
        )

    def save(self) -> None:
        write_json(
            self.path,
            {
                "change_of_tenancy": self.change_of_tenancy,
                "issuer_event_id": self.issuer_event_id,
            },
        )

    def consumer_may_see(self, at: dt.datetime) -> bool:
        """Whether the householder may see log data of ``at`` (not before the date)."""
        if not self.change_of_tenancy:
            return True
        return at >= dt.datetime.fromisoformat(self.change_of_tenancy)

    def detail(self) -> dict[str, Any]:
        return {"consumer_history_from": self.change_of_tenancy or None}

    def publish_change_of_tenancy(self, payload: bytes, _cmd: GbcsMessage) -> gbz.Reply:
        """GCS09: the date kept, at once, answered by a Default Response."""
        command = cc.PUBLISH_CHANGE_OF_TENANCY
        try:
            change = cc.TenancyChange.decode(payload)
        except DecodeError as exc:
            log.warning("gpf.tenancy_refused", extra={"device": self.device, "reason": str(exc)})
            return gbz.default_response(command, gbz.ZCL_MALFORMED_COMMAND)
        when = gbz.from_zigbee_time(change.implementation_time)
        self.change_of_tenancy = when.isoformat()
        self.issuer_event_id = change.issuer_event_id
        self.save()
        log.info(
            "gpf.change_of_tenancy",
            extra={"device": self.device, "consumer_history_from": self.change_of_tenancy},
        )
        return gbz.default_response(command, gbz.ZCL_SUCCESS)

    def serve(self, server: ZclServer) -> None:
        """Register GCS09's command on the GPF's ZCL server."""
        server.command(
            cc.DEVICE_MANAGEMENT,
            cc.PUBLISH_CHANGE_OF_TENANCY,
            self.publish_change_of_tenancy,
            server_to_client=True,
        )
