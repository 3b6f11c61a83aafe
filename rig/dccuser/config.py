"""The test DCC Users' configuration: the contract between the controller and ``rig-dcc-user``
(their Receive Response Service), also read by the client that sends for them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rig.protocol.eui import Eui64
from rig.runtime import records
from rig.runtime.records import KeyPair


@dataclass(frozen=True, slots=True)
class Client:
    """A DCC User the rig sends for: its role and its XML, DS and KA credentials."""

    name: str
    eui: Eui64
    role: str
    xml: KeyPair
    ds: KeyPair
    ka: KeyPair
    pp_ka: KeyPair | None = None  # a supplier's prepayment KA key: it makes UTRNs


@dataclass(frozen=True, slots=True)
class DccIdentity:
    eui: Eui64  # the DCC (its access control broker)
    xml_cert: Path  # what the DCC signs DUIS responses with


@dataclass(frozen=True, slots=True)
class GatewayUrls:
    duis: str  # http://HOST:PORT/api/v1
    smki: str  # http://HOST:PORT/services


@dataclass(frozen=True, slots=True)
class DccUsersConfig:
    VERSION: ClassVar[int] = 1

    bind: str
    port: int
    state_dir: Path  # the users' inboxes and counters
    # What the Receive Response Service checks the DCC's signatures with: certificate files
    # (.pem), folders of them (the rig's PKI layout or DCC's signing-tool credentials) and
    # ZAZ1 keystore.json files. Only the DCC's XML-signing certificates among them are
    # trusted; the others only name a signer that is refused.
    dcc_certs: tuple[Path, ...]
    users: tuple[Eui64, ...]  # every DCC User the Receive Response Service takes documents for
    clients: tuple[Client, ...]
    dcc: DccIdentity
    gateway: GatewayUrls
    receiver: str  # the Receive Response Service's own URL
    # the SMKI CA certificate that issued the users' certificates: the certification path a
    # gaining supplier sends with them (6.23); None when the rig does not hold it
    issuing_ca: Path | None = None
    version: int = VERSION

    def client(self, user: str) -> Client | None:
        """A client by name or EUI (any form)."""
        for c in self.clients:
            if user in (c.name, c.eui.duis, c.eui.hex):
                return c
        return None

    @classmethod
    def load(cls, path: Path) -> DccUsersConfig:
        return records.read(cls, path, "DCC Users config")

    def dumps(self) -> str:
        return records.write_data(self)
