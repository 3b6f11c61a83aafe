"""The DCC's own services: non-device SRVs, answered by the DCC from what it knows.

Each is registered with :func:`dcc_service` and returns the content of the synchronous
response (command variant 8). A non-device SRV with no service here is refused at
admission with the reason, never answered with something else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from lxml import etree

from gateway.config import DeviceConfig
from rig.protocol.duis.bodies import InventoryDevice, dsp_inventory
from rig.protocol.duis.message import Request
from rig.protocol.duis.xml import text
from rig.protocol.eui import Eui64, EuiError
from rig.runtime.registry import Registry


@dataclass(frozen=True, slots=True)
class DccState:
    """What the DCC's services read: the smart metering inventory."""

    devices: Mapping[Eui64, DeviceConfig]


Service = Callable[[Request, DccState], etree._Element]
_SERVICES: Registry[str, Service] = Registry("DCC service")


def dcc_service(*srvs: str) -> Callable[[Service], Service]:
    """Register the decorated function as the DCC's answer to ``srvs``."""
    return _SERVICES.register(*srvs)


def service_for(srv: str) -> Service | None:
    return _SERVICES.get(srv)


@dcc_service("8.2")
def read_inventory(request: Request, dcc: DccState) -> etree._Element:
    """8.2 Read Inventory: one device, or a hub and every device on its HAN."""
    wanted = text(request.body, "sr:DeviceID")
    devices = list(dcc.devices.values())
    if wanted:
        try:
            found = dcc.devices.get(Eui64.parse(wanted))
        except EuiError:
            found = None
        devices = []
        if found is not None:
            devices = [found]
            if found.type == "CHF":
                devices += [d for d in dcc.devices.values() if d.hub == found.eui and d != found]
    return dsp_inventory(InventoryDevice(d.eui, d.type, d.status) for d in devices)
