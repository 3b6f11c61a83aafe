"""The DCC's own services: non-device SRVs, answered by the DCC from what it knows.

Each is registered with :func:`dcc_service` and returns the content of the synchronous
response (command variant 8), or None when the response carries none; one it refuses
raises :class:`ServiceRefused` with the DUIS code (nothing is changed, no counter used). A
non-device SRV with no service here is refused at admission with the reason, never
answered with something else.

The inventory's services: 8.2 Read Inventory; 12.2 Device Pre-notification (a device
enters the inventory Pending, and SMKI then publishes its certificates); 8.3 Decommission
Device (its responsible supplier: Decommissioned, and later requests to it are E5); 8.4
Update Inventory (a status DUIS lets a user set, or DeleteDevice of a Pending device).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from lxml import etree

from gateway.config import DeviceConfig
from gateway.inventory import (
    DECOMMISSIONED,
    PENDING,
    SETTABLE,
    STATUSES,
    WITHDRAWN,
    Inventory,
)
from rig.protocol.duis import codes
from rig.protocol.duis.bodies import InventoryDevice, dsp_inventory
from rig.protocol.duis.message import Request
from rig.protocol.duis.xml import NS, text
from rig.protocol.eui import Eui64, EuiError
from rig.runtime.registry import Registry


@dataclass(frozen=True, slots=True)
class DccState:
    """What the DCC's services read and change: the smart metering inventory, and what the
    rig description says of the devices on the bench it does not hold yet (boxed)."""

    devices: Inventory
    boxed: Mapping[Eui64, DeviceConfig] = field(default_factory=dict)


class ServiceRefused(Exception):
    """A non-device request the DCC refuses: its DUIS code and why."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


Service = Callable[[Request, DccState], etree._Element | None]
_SERVICES: Registry[str, Service] = Registry("DCC service")


def dcc_service(*srvs: str) -> Callable[[Service], Service]:
    """Register the decorated function as the DCC's answer to ``srvs``."""
    return _SERVICES.register(*srvs)


def service_for(srv: str) -> Service | None:
    return _SERVICES.get(srv)


@dcc_service("8.2")
def read_inventory(request: Request, dcc: DccState) -> etree._Element:
    """8.2 Read Inventory: one device, or a hub and every device on its HAN (E19 for a
    device the inventory does not hold)."""
    wanted = text(request.body, "sr:DeviceID")
    devices = list(dcc.devices.values())
    if wanted:
        try:
            found = dcc.devices.get(Eui64.parse(wanted))
        except EuiError:
            found = None
        if found is None:  # a DSP inventory lists one device at least
            raise ServiceRefused(codes.DEVICE_UNKNOWN, f"device {wanted} is not in the inventory")
        devices = [found]
        if found.type == "CHF":
            devices += [d for d in dcc.devices.values() if d.hub == found.eui and d != found]
    return dsp_inventory(InventoryDevice(d.eui, d.type, d.status) for d in devices)


def _device_id(request: Request) -> Eui64:
    try:
        return Eui64.parse(text(request.body, "sr:DeviceID") or "")
    except EuiError as exc:
        raise ServiceRefused(codes.NOT_DUIS, f"DeviceID: {exc}") from None


def _known(request: Request, dcc: DccState) -> DeviceConfig:
    eui = _device_id(request)
    device = dcc.devices.get(eui)
    if device is None:
        raise ServiceRefused(codes.DEVICE_UNKNOWN, f"device {eui.duis} is not in the inventory")
    return device


@dcc_service("12.2")
def pre_notify(request: Request, dcc: DccState) -> None:
    """12.2 Device Pre-notification: the device enters the inventory Pending, of the type
    the request gives; a supplier pre-notifying a meter becomes its responsible supplier.
    What the rig description knows of a boxed device (its hub, its network operator) is
    kept. A device already held (other than withdrawn or decommissioned) is E5."""
    eui = _device_id(request)
    held = dcc.devices.get(eui)
    if held is not None and held.status not in (WITHDRAWN, DECOMMISSIONED):
        raise ServiceRefused(
            codes.DEVICE_STATUS, f"device {eui.duis} is already in the inventory ({held.status})"
        )
    kind = text(request.body, "sr:DeviceType") or ""
    bench = dcc.boxed.get(eui)
    if bench is not None and bench.type != kind:
        raise ServiceRefused(
            codes.WRONG_DEVICE_TYPE, f"device {eui.duis} is a {bench.type}, not a {kind}"
        )
    sender = request.request_id.originator
    supplier = sender if kind in ("ESME", "GSME") else (bench.supplier if bench else None)
    device = replace(bench, status=PENDING, supplier=supplier) if bench else None
    dcc.devices.put(device or DeviceConfig(eui, kind, None, PENDING, supplier))


@dcc_service("8.3")
def decommission(request: Request, dcc: DccState) -> None:
    """8.3 Decommission Device, by the device's responsible supplier (E4 otherwise)."""
    device = _known(request, dcc)
    sender = request.request_id.originator
    if device.supplier != sender:
        raise ServiceRefused(
            codes.NOT_AUTHORISED_FOR_DEVICE,
            f"{sender.duis} is not the responsible supplier of {device.eui.duis}",
        )
    if device.status == DECOMMISSIONED:
        raise ServiceRefused(codes.DEVICE_STATUS, f"device {device.eui.duis} is decommissioned")
    dcc.devices.set_status(device.eui, DECOMMISSIONED)


@dcc_service("8.4")
def update_inventory(request: Request, dcc: DccState) -> None:
    """8.4 Update Inventory: a device status DUIS lets a user set (UpdateDeviceStatusExceptCH
    for a device, UpdateDeviceStatusCH for a CHF, each from the statuses :data:`SETTABLE`
    allows), or DeleteDevice of a Pending device; the other updates (details, MPxN) are
    refused E17 with the reason, nothing changed."""
    device = _known(request, dcc)
    for element, hub in (("UpdateDeviceStatusExceptCH", False), ("UpdateDeviceStatusCH", True)):
        status = text(request.body, f"sr:{element}")
        if status is None:
            continue
        if hub != (device.type == "CHF"):
            raise ServiceRefused(
                codes.WRONG_DEVICE_TYPE, f"{element} does not apply to a {device.type}"
            )
        allowed = SETTABLE[hub].get(status, set())
        if status not in STATUSES or device.status not in allowed:
            raise ServiceRefused(
                codes.DEVICE_STATUS,
                f"device {device.eui.duis} is {device.status}: {element} cannot make it "
                f"{status} (from {', '.join(sorted(allowed)) or 'no status'})",
            )
        dcc.devices.set_status(device.eui, status)
        return None
    if request.body.find("sr:DeleteDevice", NS) is not None:
        if device.status != PENDING:
            raise ServiceRefused(
                codes.DEVICE_STATUS,
                f"device {device.eui.duis} is {device.status}: only a Pending device is deleted",
            )
        dcc.devices.delete(device.eui)
        return None
    raise ServiceRefused(
        codes.NOT_SERVED, "this rig's 8.4 updates a device's status or deletes it; nothing done"
    )
