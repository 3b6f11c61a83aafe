"""The gateway's configuration: the contract between the controller and the DCC process.

Everything the DCC knows: its own credentials (access control broker KA, XML signing),
the DCC Users (role, Receive Response Service), the smart metering inventory, the SMKI
certificates it publishes, DCC's reference files (the DUIS schema, the SRV matrix),
delivery and timing rules. The controller writes it through these records
(:mod:`rig.plan.dcc_config`); :meth:`GatewayConfig.load` refuses a file written for
another version, or with a field of the wrong type, naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from rig.protocol.eui import Eui64
from rig.protocol.smki import Usage
from rig.runtime import records
from rig.runtime.mqtt import MqttTls

DCC_ACB = Eui64(bytes.fromhex("90B3D51F30000002"))  # DCC's access control broker in RTDS
# DCC's transitional change of supplier party (signs 6.23's CS02b), in RTDS and ZAZ1
DCC_TRANSCOS = Eui64(bytes.fromhex("90B3D51F30000004"))
RETRY_S = (2.0, 10.0, 60.0, 200.0)  # waits between attempts: all within 300 s
FAILED_KEEP_S = 2 * 24 * 3600.0  # how long the failed queue is kept
POST_TIMEOUT_S = 10.0
DEFAULT_RESPONSE_S = 30.0


@dataclass(frozen=True, slots=True)
class UserConfig:
    eui: Eui64
    name: str
    role: str  # DUIS user role: IS, GS, ES, ED, GT, RSA, OU (its first, if it has several)
    receive_url: str  # the user's Receive Response Service
    roles: tuple[str, ...] = ()  # every role it holds (DCC Boxed's supplier: IS and GS)

    @property
    def all_roles(self) -> tuple[str, ...]:
        return self.roles or (self.role,)


# the cells of a DCC controlled device the ACB holds until 6.21 hands them over (DUIS's
# RemotePartyRole names)
DCC_CELLS = ("Supplier", "NetworkOperator")


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    """One device in the smart metering inventory."""

    eui: Eui64
    type: str  # ESME, GSME, CHF, GPF, IHD, PPMID
    hub: Eui64 | None
    status: str = "Commissioned"
    supplier: Eui64 | None = None  # responsible supplier
    network_operator: Eui64 | None = None
    # the ACB holds its supplier and network operator cells: a meter installed under the
    # DCC's control, or the GPF of its gas meter, until 6.21 hands it over
    dcc_controlled: bool = False
    # the cells 6.21 has handed over since ("Supplier", "NetworkOperator": DUIS's
    # RemotePartyRole), which the ACB no longer holds
    handed_over: tuple[str, ...] = ()

    @property
    def dcc_cells(self) -> frozenset[str]:
        """The cells of it the ACB still holds (DUIS's RemotePartyRole names)."""
        return frozenset(DCC_CELLS) - set(self.handed_over) if self.dcc_controlled else frozenset()


@dataclass(frozen=True, slots=True)
class CertConfig:
    """A certificate the DCC publishes through SMKI (with its key: the DCC's own)."""

    eui: Eui64
    usage: Usage
    cert: Path
    key: Path | None = None  # only for the DCC's own credentials


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    retry_s: tuple[float, ...] = RETRY_S
    failed_keep_s: float = FAILED_KEEP_S
    timeout_s: float = POST_TIMEOUT_S


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    VERSION: ClassVar[int] = 1

    state_dir: Path
    bind: str
    duis_port: int
    smki_port: int
    broker: MqttTls
    duis_schema: Path  # DCC's DUIS XSD (main file; its imports beside it)
    srv_matrix: Path  # DCC's SRV matrix (duis-request-matrix.json)
    hubs: tuple[Eui64, ...] = ()
    acb_eui: Eui64 = DCC_ACB
    transcos_eui: Eui64 = DCC_TRANSCOS
    users: tuple[UserConfig, ...] = ()
    devices: tuple[DeviceConfig, ...] = ()
    # devices on the bench the inventory does not hold yet (``install: boxed``): what the
    # description says of them, for their 12.2 pre-notification
    boxed: tuple[DeviceConfig, ...] = ()
    certificates: tuple[CertConfig, ...] = ()
    # the SMKI issuing CA (PEM certificate and key) that issues device certificates for the
    # PKCS#10 requests 6.17 gives (None: SMKI issues none)
    smki_ca_cert: Path | None = None
    smki_ca_key: Path | None = None
    delivery: DeliveryConfig = DeliveryConfig()
    # target response time by device type; "default" for the others
    response_time_s: dict[str, float] = field(default_factory=lambda: {"default": 30.0})
    max_body: int = 1_000_000
    # the DCC's clock, which its schedules run on: ``clock_rate`` times as fast as the wall
    # clock, from the gateway's first start (kept in its store)
    clock_rate: float = 1.0
    version: int = VERSION

    def __post_init__(self) -> None:
        if "default" not in self.response_time_s:
            raise ValueError("response_time_s needs a 'default' entry")

    def response_time(self, device_type: str) -> float:
        return float(self.response_time_s.get(device_type, self.response_time_s["default"]))

    @classmethod
    def load(cls, path: Path) -> GatewayConfig:
        return records.read(cls, path, "gateway config")

    def dumps(self) -> str:
        return records.write_data(self)
