"""Typed records of a validated rig description.

Resources in the labgrid sense: they describe the hardware (or its virtual
stand-in), they do not act. Everything else (the virtual rig, the Ansible
inventory, the dashboard, the tests) reads these records.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from rig.protocol.eui import Eui64

AUTO = "auto"
DEFAULT_SUBNET = ipaddress.IPv4Network("10.213.0.0/24")
Port = int | None  # None = "auto": a free port chosen at `rig up`


class Role(StrEnum):
    CHF = "chf"  # communications hub function; also hosts the GPF
    ESME = "esme"
    GSME = "gsme"
    IHD = "ihd"
    PPMID = "ppmid"

    @property
    def joins_han(self) -> bool:
        return self is not Role.CHF


class UserRole(StrEnum):
    """DUIS user roles (DUIS schema ``UserRole``)."""

    IS = "IS"  # import supplier
    GS = "GS"  # gas supplier
    ES = "ES"  # export supplier
    ED = "ED"  # electricity distributor (network operator)
    GT = "GT"  # gas transporter (network operator)
    RSA = "RSA"  # registered supplier agent
    OU = "OU"  # other user


class RadioType(StrEnum):
    SIM = "sim"  # simulated air (ZEP over UDP)
    EZSP = "ezsp"  # Silicon Labs stick through bellows
    ZNP = "znp"  # TI stick through zigpy-znp
    XBEE = "xbee"  # Digi XBee through zigpy-xbee


class Isolation(StrEnum):
    AUTO = "auto"
    NETNS = "netns"
    PROCESS = "process"


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a node runs: on the controller machine (virtual) or on a Pi."""

    virtual: bool
    address: str | None = None
    ssh_user: str | None = None
    ssh_port: int = 22
    host_key: str | None = None  # pinned for host-key checking ("ssh-ed25519 AAAA...")

    def __str__(self) -> str:
        return "virtual" if self.virtual else f"{self.ssh_user}@{self.address}:{self.ssh_port}"


@dataclass(frozen=True, slots=True)
class Radio:
    type: RadioType
    device: str | None = None  # serial device path of a real radio stick
    baudrate: int | None = None


@dataclass(frozen=True, slots=True)
class Gpio:
    """Pin names as gpiozero takes them (``GPIO17``, ``BOARD11``, ``J8:11``)."""

    relay: str | None = None  # ESME load switch
    valve: str | None = None  # GSME gas valve
    leds: dict[str, str] = field(default_factory=dict)
    buttons: dict[str, str] = field(default_factory=dict)

    def pins(self) -> dict[str, str]:
        """Every wired pin by its function name, e.g. ``{"relay": "GPIO17", "led.supply": ...}``."""
        out = {k: v for k, v in (("relay", self.relay), ("valve", self.valve)) if v}
        out.update({f"led.{k}": v for k, v in self.leds.items()})
        out.update({f"button.{k}": v for k, v in self.buttons.items()})
        return out


@dataclass(frozen=True, slots=True)
class HanSettings:
    channel: int
    pan_id: int


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    role: Role
    eui: Eui64
    placement: Placement
    radio: Radio
    gpio: Gpio
    install_code: bytes | None = None  # joining devices only
    hub: str | None = None  # name of the CHF whose HAN a device joins
    gpf_eui: Eui64 | None = None  # CHF only: the gas proxy function it hosts
    han: HanSettings | None = None  # CHF only: the HAN it forms
    supplier: str | None = None  # ESME/GSME: name of the responsible DCC User
    health_port: int = 8470
    behaviour: dict[str, Any] = field(default_factory=dict)  # device knobs, see nodes._BEHAVIOUR
    boxed: bool = False  # `install: boxed`: powered, not in the inventory nor the device log
    dcc_controlled: bool = False  # the ACB holds its supplier and network operator cells
    line: int | None = None
    index: int = 0  # position in the description's node list, for messages

    @property
    def extended_pan_id(self) -> Eui64 | None:
        """GBCS: the HAN's extended PAN ID is the CHF's EUI."""
        return self.eui if self.role is Role.CHF else None


@dataclass(frozen=True, slots=True)
class User:
    """A DCC User: a supplier, network operator or other party sending DUIS."""

    name: str
    eui: Eui64
    # its DUIS user roles: one, or several as DCC Boxed's supplier is both IS and GS
    roles: tuple[UserRole, ...]
    receive_url: str | None = None  # its Receive Response Service; None = auto
    line: int | None = None
    index: int = 0

    @property
    def role(self) -> UserRole:
        """Its first role (its SMKI certificates' organisation role follows it)."""
        return self.roles[0]

    def has(self, role: UserRole) -> bool:
        return role in self.roles

    @property
    def roles_text(self) -> str:
        return "+".join(r.value for r in self.roles)


@dataclass(frozen=True, slots=True)
class Wan:
    broker_port: Port = None
    address: str | None = None  # where nodes reach the controller; None = auto


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    bind: str = "127.0.0.1"
    duis_port: Port = 8079
    smki_port: Port = 8083
    # the DCC's clock (its schedules) runs this many times as fast as the wall clock: 1440
    # makes a DCC day a wall minute, for a bench that shows daily schedules in minutes
    clock_rate: float = 1.0


@dataclass(frozen=True, slots=True)
class AirSettings:
    zep_port: Port = 17754
    control_port: Port = None


@dataclass(frozen=True, slots=True)
class VirtualSettings:
    subnet: ipaddress.IPv4Network = DEFAULT_SUBNET
    isolation: Isolation = Isolation.AUTO


@dataclass(frozen=True, slots=True)
class PkiSettings:
    source: str = "generate"  # or "zaz1"
    keystore: Path | None = None  # ZAZ1 keystore.json when source is zaz1
    # zaz1 only: DCC Boxed's signing-tool credentials (a folder such as vectors' smki/xml-sign),
    # whose DCC XML-signing certificates the DCC Users also trust; None = none
    xml_sign: Path | None = None


@dataclass(frozen=True, slots=True)
class Rig:
    name: str
    source: str  # the file it came from, for messages
    han: HanSettings
    nodes: tuple[Node, ...]
    users: tuple[User, ...]
    acb_eui: Eui64
    wan: Wan = Wan()
    gateway: GatewaySettings = GatewaySettings()
    air: AirSettings = AirSettings()
    virtual: VirtualSettings = VirtualSettings()
    pki: PkiSettings = PkiSettings()

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"no node named {name!r} in rig {self.name!r}")

    def by_role(self, role: Role) -> list[Node]:
        return [n for n in self.nodes if n.role is role]

    @property
    def hubs(self) -> list[Node]:
        return self.by_role(Role.CHF)

    def devices_of(self, hub: Node) -> list[Node]:
        return [n for n in self.nodes if n.hub == hub.name]

    def han_of(self, hub: Node) -> HanSettings:
        return hub.han or self.han

    def user(self, name: str) -> User:
        for u in self.users:
            if u.name == name:
                return u
        raise KeyError(f"no DCC User named {name!r} in rig {self.name!r}")

    @property
    def virtual_nodes(self) -> list[Node]:
        return [n for n in self.nodes if n.placement.virtual]
