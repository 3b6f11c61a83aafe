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

The hub's status: 8.14.1-8.14.4 Communications Hub Status Update, in
:mod:`gateway.hub_status` (imported at the end of this module, which registers them).

The schedules: 5.1 Create, 5.2 Read and 5.3 Delete Schedule, in :mod:`gateway.schedules`
(imported at the end too), which also runs them on the DCC's clock.

The firmware services: 11.1 Update Firmware (:func:`update_firmware`, to meters) and 11.4
Update PPMID Firmware (:func:`update_ppmid_firmware`) keep the image and hand it to
:mod:`gateway.firmware`, which distributes it to each device's hub.
"""

from __future__ import annotations

import binascii
from base64 import b64decode
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from lxml import etree

from gateway.config import DeviceConfig, UserConfig
from gateway.dcc_clock import DccClock
from gateway.firmware import FirmwareDistributor
from gateway.inventory import (
    COMMISSIONED,
    DECOMMISSIONED,
    INSTALLED,
    PENDING,
    SETTABLE,
    STATUSES,
    WITHDRAWN,
    Inventory,
)
from rig.protocol.codec import DecodeError
from rig.protocol.duis import codes
from rig.protocol.duis.bodies import InventoryDevice, dsp_inventory
from rig.protocol.duis.message import Request
from rig.protocol.duis.srv import SrvTable
from rig.protocol.duis.xml import NS, text
from rig.protocol.eui import Eui64, EuiError
from rig.protocol.firmware import file_version_of
from rig.protocol.zigbee.ota import OtaFile
from rig.runtime.registry import Registry

if TYPE_CHECKING:
    from gateway.schedules import ScheduleBook


@dataclass(frozen=True, slots=True)
class DccState:
    """What the DCC's services read and change: the smart metering inventory, and what the
    rig description says of the devices on the bench it does not hold yet (boxed)."""

    devices: Inventory
    boxed: Mapping[Eui64, DeviceConfig] = field(default_factory=dict)
    firmware: FirmwareDistributor | None = None  # 11.1's image store and distribution
    users: Mapping[Eui64, UserConfig] = field(default_factory=dict)  # the DCC Users
    srvs: SrvTable | None = None  # DCC's SRV matrix (what the DCC schedules, and for whom)
    schedules: ScheduleBook | None = None  # 5.x's schedules
    clock: DccClock | None = None  # the DCC's clock, which its schedules run on


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


FIRMWARE_TARGETS = ("ESME", "GSME")  # the devices this rig's hubs update over the HAN (11.1)
PPMID_FIRMWARE_TARGETS = ("PPMID",)  # 11.4's
UPDATABLE = (COMMISSIONED, INSTALLED)  # statuses 11.1 and 11.4 send firmware to


@dcc_service("11.1")
def update_firmware(request: Request, dcc: DccState) -> etree._Element | None:
    """11.1 Update Firmware: the DCC keeps the image and distributes it to the hub of each
    listed device, which serves it over the HAN; the device verifies it (8F72 / 8F1C).

    The image must be a ZigBee OTA file whose file version is the FirmwareVersion given
    (E100 otherwise, with what is wrong); the DCC does not check the manufacturer's
    signature, which is the device's to check. Each listed device is checked as DUIS's
    DSPUpdateFirmwareWarning has it: one not in the inventory, not an ESME or GSME, or whose
    responsible supplier is not the sender, is listed in InvalidDeviceIDList; one not
    Commissioned or Installed Not Commissioned in NotCommissionedDeviceIDList; neither gets
    the image. The others do, and the answer is I0 (with the warning when some were left
    out). When no device is left the request is refused with the first one's code: E19
    unknown, E11 not a meter, E4 not its supplier, E5 its status; nothing is kept."""
    return _distribute(request, dcc, FIRMWARE_TARGETS, "DSPUpdateFirmwareWarning")


@dcc_service("11.4")
def update_ppmid_firmware(request: Request, dcc: DccState) -> etree._Element | None:
    """11.4 Update PPMID Firmware: as 11.1 (the image kept, sent to each PPMID's hub in
    chunks, served over the HAN), for PPMIDs only; the PPMID verifies the image, activates
    it and raises CS09. A listed device that is not a PPMID is E11 (InvalidDeviceIDList of
    DSPUpdatePPMIDFirmwareWarning); a PPMID's responsible suppliers are its own, if the
    inventory names one, and those of the meters on its hub (E4 for any other sender)."""
    return _distribute(request, dcc, PPMID_FIRMWARE_TARGETS, "DSPUpdatePPMIDFirmwareWarning")


def _distribute(
    request: Request, dcc: DccState, targets: tuple[str, ...], warning_name: str
) -> etree._Element | None:
    """The image of ``request`` to the hub of each listed device of one of the ``targets``
    types (see :func:`update_firmware`); the warning ``warning_name`` lists those left out."""
    if dcc.firmware is None:
        raise ServiceRefused(codes.NOT_SERVED, "this gateway distributes no firmware")
    image = _firmware_image(request)
    sender = request.request_id.originator
    invalid: list[str] = []
    not_commissioned: list[str] = []
    refusals: list[tuple[str, str]] = []
    by_hub: dict[Eui64, list[Eui64]] = {}
    for item in (text(request.body, "sr:DeviceIDList") or "").split(","):
        try:
            eui = Eui64.parse(item.strip())
        except EuiError as exc:
            raise ServiceRefused(codes.NOT_DUIS, f"DeviceIDList: {exc}") from None
        device = dcc.devices.get(eui)
        refusal = _firmware_refusal(eui, device, sender, targets, dcc)
        if refusal is not None:
            (not_commissioned if refusal[0] == codes.DEVICE_STATUS else invalid).append(eui.duis)
            refusals.append(refusal)
            continue
        assert device is not None and device.hub is not None
        by_hub.setdefault(device.hub, []).append(eui)
    if not by_hub:
        code = refusals[0][0] if refusals else codes.NOT_DUIS
        reasons = "; ".join(r for _, r in refusals) or "DeviceIDList names no device"
        raise ServiceRefused(code, f"no device takes this firmware: {reasons}")
    version = text(request.body, "sr:FirmwareVersion") or ""
    dcc.firmware.accept(image, version, by_hub, str(request.request_id))
    if not invalid and not not_commissioned:
        return None
    warning = etree.Element(f"{{{NS['sr']}}}{warning_name}")
    for name, euis in (
        ("InvalidDeviceIDList", invalid),
        ("NotCommissionedDeviceIDList", not_commissioned),
    ):
        if euis:
            etree.SubElement(warning, f"{{{NS['sr']}}}{name}").text = ",".join(euis)
    return warning


def _firmware_image(request: Request) -> bytes:
    """The request's image, once it reads as an OTA file of the version it says (E100)."""
    try:
        data = b64decode(text(request.body, "sr:FirmwareImage") or "", validate=True)
        header = OtaFile.decode(data).header
    except binascii.Error as exc:
        raise ServiceRefused(codes.NOT_DUIS, f"FirmwareImage is not base64: {exc}") from None
    except DecodeError as exc:
        raise ServiceRefused(
            codes.NOT_DUIS, f"FirmwareImage is not a ZigBee OTA file the DCC can read: {exc}"
        ) from None
    version = text(request.body, "sr:FirmwareVersion") or ""
    try:
        wanted: int | None = file_version_of(version)
    except ValueError:
        wanted = None
    if wanted != header.file_version:
        raise ServiceRefused(
            codes.NOT_DUIS,
            f"FirmwareVersion {version!r} is not the image's OTA file version "
            f"{header.file_version:08X}: give the version the image carries",
        )
    return data


def _firmware_refusal(
    eui: Eui64,
    device: DeviceConfig | None,
    sender: Eui64,
    targets: tuple[str, ...],
    dcc: DccState,
) -> tuple[str, str] | None:
    """Why ``device`` does not get the firmware (its DUIS code and the reason), or None."""
    if device is None:
        return codes.DEVICE_UNKNOWN, f"{eui.duis} is not in the inventory"
    if device.type not in targets or device.hub is None:
        return codes.WRONG_DEVICE_TYPE, (
            f"{eui.duis} is a {device.type}: this SRV updates a {' or '.join(targets)}"
        )
    if sender not in _firmware_suppliers(device, dcc):
        return codes.NOT_AUTHORISED_FOR_DEVICE, (
            f"{sender.duis} is not the responsible supplier of {eui.duis}"
        )
    if device.status not in UPDATABLE:
        return codes.DEVICE_STATUS, f"{eui.duis} is {device.status}"
    return None


def _firmware_suppliers(device: DeviceConfig, dcc: DccState) -> set[Eui64]:
    """Who may update ``device``'s firmware: its responsible supplier; for a PPMID (which the
    inventory may name none for) also those of the meters on its hub."""
    suppliers = {device.supplier} if device.supplier else set()
    if device.type in PPMID_FIRMWARE_TARGETS:
        suppliers |= {
            d.supplier
            for d in dcc.devices.values()
            if d.hub == device.hub and d.type in FIRMWARE_TARGETS and d.supplier
        }
    return suppliers


# 8.14.x hub status, 5.x schedules, 8.13 local responses, 12.1 WAN matrix: registered once this
# module is complete
from gateway import hub_status, local_responses, schedules, wan_matrix  # noqa: E402, F401
