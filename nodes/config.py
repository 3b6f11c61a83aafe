"""A node's configuration file: the contract between the controller and a node.

Written by the controller for virtual nodes and by Ansible on a Pi; read here
with clear errors, so a node never starts half-configured.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rig.protocol.eui import Eui64

ROLES = ("chf", "esme", "gsme", "ihd", "ppmid")


class ConfigError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class WanConfig:
    host: str
    port: int
    ca: Path
    cert: Path
    key: Path


@dataclass(frozen=True, slots=True)
class NodeConfig:
    name: str
    role: str
    eui: Eui64
    state_dir: Path
    health_bind: str
    health_port: int
    hub_eui: Eui64 | None = None
    gpf_eui: Eui64 | None = None
    han: dict[str, Any] = field(default_factory=dict)
    radio: dict[str, Any] = field(default_factory=dict)
    pin_factory: str = "mock"  # "mock" in the virtual rig, "default" on a Pi
    pins: dict[str, str] = field(default_factory=dict)
    wan: WanConfig | None = None
    gbcs: dict[str, Any] | None = None  # a meter's GBCS keys and trusted parties

    @classmethod
    def load(cls, path: Path) -> NodeConfig:
        try:
            data = json.loads(Path(path).read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read node config {path}: {exc.strerror}") from None
        except ValueError as exc:
            raise ConfigError(f"node config {path} is not JSON: {exc}") from None
        return cls.from_dict(data, str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<config>") -> NodeConfig:
        def need(key: str) -> Any:
            if key not in data:
                raise ConfigError(f"{source}: missing {key!r}")
            return data[key]

        try:
            role = need("role")
            if role not in ROLES:
                raise ConfigError(f"{source}: role {role!r} is not one of {', '.join(ROLES)}")
            wan = data.get("wan")
            return cls(
                name=need("name"),
                role=role,
                eui=Eui64.parse(need("eui")),
                state_dir=Path(need("state_dir")),
                health_bind=need("health_bind"),
                health_port=int(need("health_port")),
                hub_eui=Eui64.parse(data["hub_eui"]) if data.get("hub_eui") else None,
                gpf_eui=Eui64.parse(data["gpf_eui"]) if data.get("gpf_eui") else None,
                han=dict(data.get("han") or {}),
                radio=dict(data.get("radio") or {}),
                pin_factory=data.get("pin_factory", "mock"),
                pins=dict(data.get("pins") or {}),
                wan=WanConfig(
                    wan["host"],
                    int(wan["port"]),
                    Path(wan["ca"]),
                    Path(wan["cert"]),
                    Path(wan["key"]),
                )
                if wan
                else None,
                gbcs=data.get("gbcs") or None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"{source}: {exc}") from None
