"""The gateway's configuration file, written by the controller from the rig description.

Everything the DCC knows: its own credentials (access control broker KA, XML signing),
the DCC Users (role, XML signing certificate, Receive Response Service), the smart
metering inventory, the SMKI certificates it publishes, delivery and timing rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rig.protocol.eui import Eui64

DCC_ACB = Eui64(bytes.fromhex("90B3D51F30000002"))  # DCC's access control broker in RTDS


class ConfigError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    host: str
    port: int
    ca: Path
    cert: Path
    key: Path


@dataclass(frozen=True, slots=True)
class UserConfig:
    eui: Eui64
    name: str
    role: str  # DUIS user role: IS, GS, ES, ED, GT, RSA, OU
    receive_url: str


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    eui: Eui64
    type: str  # ESME, GSME, CHF, GPF, IHD, PPMID
    hub: Eui64 | None
    status: str = "Commissioned"
    supplier: Eui64 | None = None  # responsible supplier
    network_operator: Eui64 | None = None


@dataclass(frozen=True, slots=True)
class CertConfig:
    eui: Eui64
    usage: str  # ds, ka, pp-ka, xml
    cert: Path
    key: Path | None = None  # only for the DCC's own credentials


RETRY_S = (2.0, 10.0, 60.0, 200.0)  # waits between attempts: all within 300 s
FAILED_KEEP_S = 2 * 24 * 3600.0  # how long the failed queue is kept
POST_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    retry_s: tuple[float, ...] = RETRY_S
    failed_keep_s: float = FAILED_KEEP_S
    timeout_s: float = POST_TIMEOUT_S


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    state_dir: Path
    bind: str
    duis_port: int
    smki_port: int
    broker: BrokerConfig
    hubs: tuple[Eui64, ...]
    acb_eui: Eui64 = DCC_ACB
    users: tuple[UserConfig, ...] = ()
    devices: tuple[DeviceConfig, ...] = ()
    certificates: tuple[CertConfig, ...] = ()
    delivery: DeliveryConfig = DeliveryConfig()
    response_time_s: dict[str, float] = field(default_factory=lambda: {"default": 30.0})
    max_body: int = 1_000_000

    def response_time(self, device_type: str) -> float:
        return float(self.response_time_s.get(device_type, self.response_time_s["default"]))

    @classmethod
    def load(cls, path: Path) -> GatewayConfig:
        try:
            data: dict[str, Any] = json.loads(Path(path).read_text())
            return cls.from_dict(data)
        except OSError as exc:
            raise ConfigError(f"cannot read gateway config {path}: {exc.strerror}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"gateway config {path}: bad or missing {exc}") from None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GatewayConfig:
        b = data["broker"]

        def eui(v: str | None) -> Eui64 | None:
            return Eui64.parse(v) if v else None

        d = data.get("delivery", {})
        return cls(
            state_dir=Path(data["state_dir"]),
            bind=data["bind"],
            duis_port=int(data["duis_port"]),
            smki_port=int(data["smki_port"]),
            broker=BrokerConfig(
                b["host"], int(b["port"]), Path(b["ca"]), Path(b["cert"]), Path(b["key"])
            ),
            hubs=tuple(Eui64.parse(h) for h in data.get("hubs", [])),
            acb_eui=Eui64.parse(data.get("acb_eui", "90-B3-D5-1F-30-00-00-02")),
            users=tuple(
                UserConfig(Eui64.parse(u["eui"]), u["name"], u["role"], u["receive_url"])
                for u in data.get("users", [])
            ),
            devices=tuple(
                DeviceConfig(
                    Eui64.parse(x["eui"]),
                    x["type"],
                    eui(x.get("hub")),
                    x.get("status", "Commissioned"),
                    eui(x.get("supplier")),
                    eui(x.get("network_operator")),
                )
                for x in data.get("devices", [])
            ),
            certificates=tuple(
                CertConfig(
                    Eui64.parse(c["eui"]),
                    c["usage"],
                    Path(c["cert"]),
                    Path(c["key"]) if c.get("key") else None,
                )
                for c in data.get("certificates", [])
            ),
            delivery=DeliveryConfig(
                tuple(float(x) for x in d.get("retry_s", RETRY_S)),
                float(d.get("failed_keep_s", FAILED_KEEP_S)),
                float(d.get("timeout_s", POST_TIMEOUT_S)),
            ),
            response_time_s={
                k: float(v) for k, v in data.get("response_time_s", {"default": 30}).items()
            }
            | ({} if "default" in data.get("response_time_s", {}) else {"default": 30.0}),
            max_body=int(data.get("max_body", 1_000_000)),
        )
