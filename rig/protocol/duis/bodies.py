"""The DUIS body elements the rig builds and reads: requests a DCC User sends, and the DCC's
synchronous answers (a pre-command to sign, the smart metering inventory).

Element names and order follow the DUIS schema (5.4); the schema check of the whole
document is the caller's (:mod:`rig.protocol.duis.schema`).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass

from lxml import etree

from rig.protocol.duis.xml import NS, SR
from rig.protocol.eui import Eui64

_E = f"{{{SR}}}"
GBCS_VERSION = "4.3"
MAX_INVENTORY = 17  # devices in one DSPInventory: a hub's home

# the request body element of each SRV the rig builds requests for
REQUEST_BODIES = {
    "4.1.1": "ReadInstantaneousImportRegisters",
    "7.1": "EnableSupply",
    "7.2": "DisableSupply",
    "7.3": "ArmSupply",
    "7.4": "ReadSupplyStatus",
    "8.2": "ReadInventory",
}


def request_body(srv: str, device_id: Eui64 | None = None) -> etree._Element:
    """The body of a request for ``srv`` (8.2 reads the inventory of ``device_id``)."""
    name = REQUEST_BODIES.get(srv)
    if name is None:
        raise KeyError(f"no request body for SRV {srv}: the rig builds {', '.join(REQUEST_BODIES)}")
    body = etree.Element(f"{_E}{name}", nsmap={"sr": SR})
    if device_id is not None:
        etree.SubElement(body, f"{_E}DeviceID").text = device_id.duis
    return body


def pre_command(gbcs: bytes) -> etree._Element:
    """The PreCommand a transform returns for a critical request (CV 4), for the user to sign."""
    pre = etree.Element(f"{_E}PreCommand")
    etree.SubElement(pre, f"{_E}GBCSVersion").text = GBCS_VERSION
    etree.SubElement(pre, f"{_E}GBCSPayload").text = base64.b64encode(gbcs).decode()
    return pre


@dataclass(frozen=True, slots=True)
class InventoryDevice:
    """One device as the DCC's inventory lists it (8.2 Read Inventory)."""

    device_id: Eui64
    device_type: str
    status: str
    manufacturer: str = "1234"
    model: str = "RIG0001"
    firmware_version: str = "00000001"
    firmware_status: str = "Active"
    cpl_status: str = "Active"


def dsp_inventory(devices: Iterable[InventoryDevice]) -> etree._Element:
    inv = etree.Element(f"{_E}DSPInventory")
    for d in list(devices)[:MAX_INVENTORY]:
        dev = etree.SubElement(inv, f"{_E}Device")
        for tag, value in (
            ("DeviceID", d.device_id.duis),
            ("DeviceType", d.device_type),
            ("DeviceStatus", d.status),
            ("DeviceManufacturer", d.manufacturer),
            ("DeviceModel", d.model),
            ("DeviceFirmwareVersion", d.firmware_version),
            ("DeviceFirmwareVersionStatus", d.firmware_status),
            ("CPLStatus", d.cpl_status),
        ):
            etree.SubElement(dev, f"{_E}{tag}").text = value
    return inv


def read_inventory(root: etree._Element) -> list[dict[str, str]]:
    """The devices of a Read Inventory response, each as ``{field: text}``."""
    return [
        {etree.QName(f).localname: (f.text or "") for f in dev}
        for dev in root.iterfind("sr:Body/sr:ResponseMessage/sr:DSPInventory/sr:Device", NS)
    ]
