"""The gateway's configuration file, written by the controller from the rig description."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rig.protocol.eui import Eui64


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
class GatewayConfig:
    state_dir: Path
    bind: str
    duis_port: int
    smki_port: int
    broker: BrokerConfig
    hubs: tuple[Eui64, ...]

    @classmethod
    def load(cls, path: Path) -> GatewayConfig:
        try:
            data: dict[str, Any] = json.loads(Path(path).read_text())
            b = data["broker"]
            return cls(
                state_dir=Path(data["state_dir"]),
                bind=data["bind"],
                duis_port=int(data["duis_port"]),
                smki_port=int(data["smki_port"]),
                broker=BrokerConfig(
                    b["host"], int(b["port"]), Path(b["ca"]), Path(b["cert"]), Path(b["key"])
                ),
                hubs=tuple(Eui64.parse(h) for h in data.get("hubs", [])),
            )
        except OSError as exc:
            raise ConfigError(f"cannot read gateway config {path}: {exc.strerror}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"gateway config {path}: bad or missing {exc}") from None
