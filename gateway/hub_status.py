"""8.14 Communications Hub Status Update (8.14.1-8.14.4; issue 16): non-device SRVs the DCC
answers itself, as DCC Boxed does (I0, no content), changing the status of the hub's CHF
and of the GPF it hosts in the inventory. Registered with
:func:`gateway.dcc_services.dcc_service` (imported by that module).

The rig's reading of DUIS, where DUIS leaves room:

========== =================================== ================================== =========
SRV        body                                from (else E5)                     to
========== =================================== ================================== =========
8.14.1     CHFInstallSuccessSMWAN              Pending, Whitelisted,              Commissioned
                                               InstalledNotCommissioned
8.14.2     CHFInstallSuccessNoSMWAN            Pending, Whitelisted               InstalledNot-
                                                                                  Commissioned
8.14.3     CHFFaultReturn                      any but Decommissioned, Withdrawn, Withdrawn; a
8.14.4     CHFNoFaultReturn                    Suspended, Recovery, Recovered     Commissioned
                                                                                  hub: Decom-
                                                                                  missioned
========== =================================== ================================== =========

Installed with its SM WAN (8.14.1) the DCC reaches the hub and commissions it; without
(8.14.2) it waits installed, until 8.14.1 or 8.4 commissions it. A returned hub (8.14.3,
8.14.4) leaves the inventory's live statuses: Withdrawn if it was never commissioned,
Decommissioned if it was. The hub's GPF follows it when its own status allows the move.

Refusals, nothing changed: DeviceID not in the inventory E19; not a CHF E11; a sender that
is not a responsible supplier of the hub (a supplier of a meter on it) E4, when it has one
(a hub with no meter yet takes any eligible supplier: the SRV matrix's IS and GS, which
admission checks, E2); the hub's status E5.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from gateway.config import DeviceConfig
from gateway.dcc_services import DccState, ServiceRefused, dcc_service
from gateway.inventory import (
    COMMISSIONED,
    DECOMMISSIONED,
    INSTALLED,
    PENDING,
    WHITELISTED,
    WITHDRAWN,
)
from rig.protocol.duis import codes
from rig.protocol.duis.message import Request
from rig.protocol.duis.xml import text
from rig.protocol.eui import Eui64, EuiError

log = logging.getLogger("gateway.hub_status")
RETURNABLE = (PENDING, WHITELISTED, INSTALLED, COMMISSIONED)


@dataclass(frozen=True, slots=True)
class HubUpdate:
    """One 8.14 variant: its body, the hub statuses it takes, and the status it sets (a
    returned hub that was commissioned: ``commissioned_to``)."""

    body: str
    before: tuple[str, ...]
    to: str
    commissioned_to: str | None = None

    def target(self, status: str) -> str:
        return self.commissioned_to if status == COMMISSIONED and self.commissioned_to else self.to


UPDATES = {
    "8.14.1": HubUpdate("CHFInstallSuccessSMWAN", (PENDING, WHITELISTED, INSTALLED), COMMISSIONED),
    "8.14.2": HubUpdate("CHFInstallSuccessNoSMWAN", (PENDING, WHITELISTED), INSTALLED),
    "8.14.3": HubUpdate("CHFFaultReturn", RETURNABLE, WITHDRAWN, DECOMMISSIONED),
    "8.14.4": HubUpdate("CHFNoFaultReturn", RETURNABLE, WITHDRAWN, DECOMMISSIONED),
}


def _hub(request: Request, dcc: DccState, update: HubUpdate) -> DeviceConfig:
    if request.body_name != update.body:
        raise ServiceRefused(
            codes.NOT_DUIS, f"SRV {request.srv} takes {update.body}, not {request.body_name}"
        )
    try:
        eui = Eui64.parse(text(request.body, "sr:DeviceID") or "")
    except EuiError as exc:
        raise ServiceRefused(codes.NOT_DUIS, f"DeviceID: {exc}") from None
    hub = dcc.devices.get(eui)
    if hub is None:
        raise ServiceRefused(codes.DEVICE_UNKNOWN, f"device {eui.duis} is not in the inventory")
    if hub.type != "CHF":
        raise ServiceRefused(
            codes.WRONG_DEVICE_TYPE,
            f"device {eui.duis} is a {hub.type}: 8.14 updates a communications hub (its CHF)",
        )
    return hub


def _responsible(hub: DeviceConfig, dcc: DccState) -> set[Eui64]:
    """The suppliers of the meters on the hub (and its own, where the inventory names one)."""
    on_it = {d.supplier for d in dcc.devices.values() if d.hub == hub.eui and d.supplier}
    return on_it | ({hub.supplier} if hub.supplier else set())


@dcc_service(*UPDATES)
def hub_status_update(request: Request, dcc: DccState) -> None:
    """8.14.1-8.14.4: the hub's CHF, and the GPF on it, to the status the variant sets."""
    update = UPDATES[request.srv]
    hub = _hub(request, dcc, update)
    sender = request.request_id.originator
    responsible = _responsible(hub, dcc)
    if responsible and sender not in responsible:
        raise ServiceRefused(
            codes.NOT_AUTHORISED_FOR_DEVICE,
            f"{sender.duis} supplies no meter on hub {hub.eui.duis}: its suppliers send 8.14",
        )
    if hub.status not in update.before:
        raise ServiceRefused(
            codes.DEVICE_STATUS,
            f"hub {hub.eui.duis} is {hub.status}: SRV {request.srv} takes a hub that is "
            f"{', '.join(update.before)}",
        )
    to = update.target(hub.status)
    dcc.devices.set_status(hub.eui, to)
    changed = [hub.eui.duis]
    for gpf in [d for d in dcc.devices.values() if d.type == "GPF" and d.hub == hub.eui]:
        if gpf.status in update.before:
            dcc.devices.set_status(gpf.eui, update.target(gpf.status))
            changed.append(gpf.eui.duis)
    log.info(
        "inventory.hub_status",
        extra={"device": hub.eui.duis, "srv": request.srv, "status": to, "changed": changed},
    )
