"""Who may act on a device: the DCC's rule that a DCC User's role makes it responsible for
the devices it supplies or operates, which admission (:mod:`gateway.admission`) applies to
each device request and the DCC's schedules (:mod:`gateway.schedules`) to the device a
schedule names."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from gateway.config import DeviceConfig
from rig.protocol.eui import Eui64

SUPPLIER_ROLES = {"IS", "GS", "ES"}
NETWORK_ROLES = {"ED", "GT"}
# the supplier roles that supply a meter (the hub's devices: either meter's supplier)
DEVICE_SUPPLIER_ROLES = {"ESME": {"IS", "ES"}, "GSME": {"GS"}}
# the network role of each fuel's meter: the electricity distributor's, the gas transporter's
DEVICE_NETWORK_ROLES = {"ESME": {"ED"}, "GSME": {"GT"}}
# roles tied to no fuel: the registered supplier agent and an Other User
ANY_FUEL_ROLES = {"RSA", "OU"}
HOSTED = ("GPF", "PPMID")  # devices whose suppliers are those of the meters on their hub


def hub_suppliers(
    device: DeviceConfig, devices: Mapping[Eui64, DeviceConfig], meter: str | None = None
) -> set[Eui64]:
    """The suppliers responsible for a comms hub, its CHF or the GPF it hosts, or a PPMID on
    it: those of the meters on the hub (none of them names a supplier of its own); with
    ``meter``, of the meters of that type only."""
    hub = device.eui if device.type == "CHF" else device.hub if device.type in HOSTED else None
    if hub is None:
        return set()
    return {
        d.supplier
        for d in devices.values()
        if d.hub == hub and d.supplier and (meter is None or d.type == meter)
    }


def as_supplier(roles: Iterable[str], device: DeviceConfig) -> bool:
    """Whether one of ``roles`` is a supplier role of the device's kind (IS or ES for an
    ESME, GS for a GSME, any supplier role for the others)."""
    return any(r in DEVICE_SUPPLIER_ROLES.get(device.type, SUPPLIER_ROLES) for r in roles)


def fuel_roles(device_type: str) -> frozenset[str]:
    """The roles that can act for a meter of ``device_type``'s fuel (or a GPF, which serves
    the gas meter): an import supplier or electricity distributor is no party to a gas
    meter, and the other way round."""
    meter = "GSME" if device_type == "GPF" else device_type
    return frozenset(DEVICE_SUPPLIER_ROLES[meter] | DEVICE_NETWORK_ROLES[meter] | ANY_FUEL_ROLES)


def responsible(
    sender: Eui64,
    roles: Iterable[str],
    device: DeviceConfig,
    devices: Mapping[Eui64, DeviceConfig],
    users_own: bool = False,
) -> bool:
    """Whether ``sender``, acting in ``roles``, is responsible for ``device``: its supplier
    (or a supplier of a meter on its hub, for the hub's devices) in a supplier role of its
    kind, or its network operator in a network role.

    ``users_own``: the command is the sender's own (the device checks the sender's
    certificates, not the ACB's). A GPF's supplier cells hold its gas supplier's, so only
    the gas supplier, as GS, sends it its own commands; the import supplier on the same hub
    is responsible for it only through the ACB (8.12.2's restore)."""
    roles = tuple(roles)
    if device.type == "GPF" and users_own:
        gas = {device.supplier} if device.supplier else hub_suppliers(device, devices, "GSME")
        supplies = "GS" in roles and sender in gas
    else:
        supplies = as_supplier(roles, device) and (
            sender == device.supplier or sender in hub_suppliers(device, devices)
        )
    if supplies:
        return True
    return any(r in NETWORK_ROLES for r in roles) and sender == device.network_operator
