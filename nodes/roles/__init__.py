"""Device roles: what each node does on the HAN (and, for the CHF, on the WAN)."""

from __future__ import annotations

from nodes.config import NodeConfig
from nodes.gpio import Wiring
from nodes.roles.base import DeviceRole
from nodes.roles.chf import CommsHub
from nodes.roles.display import InHomeDisplay
from nodes.roles.esme import ElectricityMeter
from nodes.roles.gsme import GasMeter
from nodes.roles.ppmid import PrepaymentInterface

_ROLES: dict[str, type[DeviceRole]] = {
    "chf": CommsHub,
    "esme": ElectricityMeter,
    "gsme": GasMeter,
    "ihd": InHomeDisplay,
    "ppmid": PrepaymentInterface,
}


def make_role(config: NodeConfig, wiring: Wiring) -> DeviceRole:
    return _ROLES[config.role](config, wiring)
