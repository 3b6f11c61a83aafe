"""A node's configuration: the contract between the controller and a node.

Written by the controller for virtual nodes and by Ansible on a Pi, always through these
records (:mod:`rig.plan.node_config`); read here with clear errors, so a node never
starts half-configured: :meth:`NodeConfig.load` refuses a file written for another
version, or with a field of the wrong type, naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

from rig.protocol.eui import Eui64
from rig.protocol.smki import Usage
from rig.runtime import records
from rig.runtime.mqtt import MqttTls
from rig.runtime.records import KeyPair

Role = Literal["chf", "esme", "gsme", "ihd", "ppmid"]
ROLES: tuple[Role, ...] = ("chf", "esme", "gsme", "ihd", "ppmid")


@dataclass(frozen=True, slots=True)
class DeviceLogEntry:
    """A device the CHF lets join its HAN, with the install code its link key comes from."""

    eui: Eui64
    device_type: str  # ESME, GSME, IHD, PPMID
    install_code: bytes  # with its CRC


@dataclass(frozen=True, slots=True)
class HanConfig:
    """The HAN the node forms (a CHF) or joins (every other device)."""

    channel: int
    pan_id: int
    extended_pan_id: Eui64  # the CHF's EUI
    network_key: bytes | None = None  # CHF: the network key it forms the HAN with
    device_log: tuple[DeviceLogEntry, ...] = ()  # CHF: who may join
    install_code: bytes | None = None  # a joining device's install code (with its CRC)
    esme: Eui64 | None = None  # IHD, PPMID: the electricity meter they read
    gsme: Eui64 | None = None  # PPMID: the gas meter it sends PCS01 and PCS02 to

    def __post_init__(self) -> None:
        if not 11 <= self.channel <= 26:
            raise ValueError(f"HAN channel {self.channel} is not a 2.4 GHz channel (11..26)")


@dataclass(frozen=True, slots=True)
class RadioConfig:
    type: str = "sim"  # sim | ezsp | znp | xbee
    device: str | None = None  # a radio stick's serial device
    air: tuple[str, int] = ("127.0.0.1", 17754)  # sim: where the air listens for ZEP
    control: str | None = None  # sim: the air's control URL


@dataclass(frozen=True, slots=True)
class Behaviour:
    """Device knobs (the description's ``behaviour:``), each with its default."""

    loopback: bool = False  # return each tunnelled GBCS message as it came (a HAN link test)
    load_w: float = 500.0  # ESME: the load its registers advance with
    initial_wh: float = 12_345_000.0  # ESME: the import register at first power-on
    price_p_kwh: float = 28.5  # ESME, GSME: the active price their balance falls at
    standing_charge_p_day: float = 45.0  # ESME: the standing charge its Price cluster shows
    payment_mode: str = "prepayment"  # meters: prepayment or credit
    credit_pence: float = 2_000  # meters: the balance at first power-on (£20)
    low_credit_pence: float = 200  # meters: 0x810D below this
    emergency_credit_pence: float = 500  # meters: how far emergency credit lets it go below 0
    emergency_credit_threshold_pence: float = 100  # meters: emergency credit offered below
    utrn_lockout_s: float = 60.0  # meters: local UTRN entry locked this long after 5 bad codes
    wake_interval_s: float = 10.0  # GSME: how long it sleeps between wakes
    flow_m3h: float = 0.3  # GSME: the gas flow its register advances with
    initial_dm3: float = 4_321_000.0  # GSME: the register at first power-on
    display_interval_s: float = 5.0  # IHD/PPMID: how often they read the meters
    # meters: the running firmware at first power-on (catalogue_firmware.DEFAULT_VERSION)
    firmware_version: str = "00000001"


@dataclass(frozen=True, slots=True)
class TrustedCert:
    """A remote party's certificate the device checks commands against."""

    eui: Eui64
    usage: Usage
    cert: Path
    # the trust anchor cell it seeds: the remote party role (GBCS RemotePartyRole: supplier 2,
    # network operator 3, ACB 4, transitional CoS 5), PP_KA the supplier's top-up cell;
    # None: a HAN peer's key (a GSME's PPMID), not a cell
    role: int | None = None


@dataclass(frozen=True, slots=True)
class GbcsConfig:
    """A device's GBCS keys, and whom it trusts (a meter, a PPMID; a CHF: the ACB)."""

    ds: KeyPair  # its digital-signing key
    ka: KeyPair  # its key-agreement key
    acb: Eui64  # the access control broker whose MAC every command carries
    trusted: tuple[TrustedCert, ...]
    alerts_to: Eui64 | None = None  # the network operator its power alerts go to (CHF: ACB)
    supplier: Eui64 | None = None  # the responsible supplier: UTRNs keyed in locally are its
    # meters: the device manufacturer's certificate, whose key its firmware images verify
    # against (11.1; 8F72 verified, 8F1C refused)
    manufacturer: Path | None = None


@dataclass(frozen=True, slots=True)
class NodeConfig:
    VERSION: ClassVar[int] = 1

    name: str
    role: Role
    eui: Eui64
    state_dir: Path
    health_bind: str
    health_port: int
    han: HanConfig
    radio: RadioConfig = RadioConfig()
    behaviour: Behaviour = Behaviour()
    hub_eui: Eui64 | None = None
    gpf_eui: Eui64 | None = None
    pin_factory: Literal["mock", "default"] = "mock"  # "mock" virtual, "default" on a Pi
    pins: dict[str, str] = field(default_factory=dict)  # function -> pin ("relay": "GPIO17")
    wan: MqttTls | None = None  # CHF: its WAN link to the DCC's broker
    gbcs: GbcsConfig | None = None  # meters, PPMID, CHF: GBCS keys and trusted parties
    # CHF hosting a GPF (gpf_eui): the GPF's own GBCS keys and trust anchor cells (the ACB)
    gpf_gbcs: GbcsConfig | None = None
    # `install: boxed`: powered on the bench, not in the CHF's device log until 8.11 adds
    # it; it keeps trying to join, and reports "boxed" (healthy) until it has
    boxed: bool = False
    version: int = VERSION

    def __post_init__(self) -> None:
        if self.role == "chf" and (self.wan is None or self.han.network_key is None):
            raise ValueError("a chf needs a 'wan' section and han.network_key")
        if self.role != "chf" and self.han.install_code is None:
            raise ValueError(f"a {self.role} joins the HAN: it needs han.install_code")

    @classmethod
    def load(cls, path: Path) -> NodeConfig:
        return records.read(cls, path, "node config")

    def dumps(self) -> str:
        return records.write_data(self)
