"""The run plan: every component of a running rig, where it runs and how to probe it.

:func:`rig.plan.make.make_plan` resolves isolation, addresses and "auto" ports from the
description; the plan is saved in ``run/plan.json`` so that the supervisor, ``rig
status`` and ``rig down`` work from it without re-reading the description. Where a
deployed node keeps its files and where the controller's services listen are read off
the plan here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rig.pki.authority import Credential, Pki
from rig.runtime.files import read_json, write_json
from rig.runtime.mqtt import MqttTls
from rig.state import StateDir

NODE_HEALTH_PORT = 8470
SSH_PORT = 22


class PlanError(RuntimeError):
    pass


@dataclass
class Component:
    name: str
    kind: str  # broker | air | gateway | node | sshd
    argv: list[str]  # empty: runs elsewhere (a Pi), only probed
    address: str
    probe: dict[str, Any]
    netns: str | None = None
    role: str | None = None
    eui: str | None = None
    unit: str | None = None  # virtual node: the service unit a deploy writes in its node root


@dataclass
class NodeLink:
    node: str
    netns: str
    veth: str
    address: str


@dataclass
class Plan:
    rig: str
    instance: str
    state_dir: str
    isolation: str
    host_address: str  # where nodes reach the broker and the air
    bridge: str | None
    prefixlen: int | None
    links: list[NodeLink]
    ports: dict[str, int]
    components: list[Component] = field(default_factory=list)

    def save(self, state: StateDir) -> None:
        write_json(state.run / "plan.json", asdict(self))

    @classmethod
    def load(cls, state: StateDir) -> Plan | None:
        data = read_json(state.run / "plan.json")
        if not data:
            return None
        data["links"] = [NodeLink(**x) for x in data["links"]]
        data["components"] = [Component(**c) for c in data["components"]]
        return cls(**data)

    def component(self, name: str) -> Component:
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(name)


NODE_UNIT = "rig-node.service"


def node_paths(prefix: str) -> dict[str, str]:
    """Where a deployed node keeps things, below ``prefix``: "" on a Pi, the node root on
    the virtual rig. The Ansible roles take these as variables."""
    return {
        "rig_prefix": prefix,
        "rig_venv": f"{prefix}/opt/rig/venv",
        "rig_wheel_dir": f"{prefix}/opt/rig/wheels",
        "rig_config_dir": f"{prefix}/etc/rig",
        "rig_config_file": f"{prefix}/etc/rig/node.json",
        "rig_data_dir": f"{prefix}/var/lib/rig",
        "rig_unit_dir": f"{prefix}/etc/systemd/system",
    }


def unit_file(state: StateDir, node: str) -> Path:
    """Where a deploy puts a virtual node's service unit (as on a Pi: etc/systemd/system)."""
    return Path(node_paths(str(state.node_root(node)))["rig_unit_dir"]) / NODE_UNIT


def http_host(bind: str) -> str:
    return "127.0.0.1" if bind == "0.0.0.0" else bind


def rrs_url(plan: Plan) -> str:
    return f"http://127.0.0.1:{plan.ports['rrs']}"


def dccuser_config(state: StateDir) -> Path:
    return state.component("dcc-users") / "users.json"


def air_control_url(plan: Plan) -> str:
    host = plan.host_address if plan.isolation == "netns" else "127.0.0.1"
    return f"http://{host}:{plan.ports['air_control']}"


def wan_hosts(plan: Plan) -> list[str]:
    """Names the broker's TLS certificate must carry."""
    return sorted({"127.0.0.1", "localhost", plan.host_address})


def broker_link(plan: Plan, client: Credential, pki: Pki) -> MqttTls:
    """How ``client`` reaches the WAN's broker from wherever it runs."""
    b = plan.component("broker")
    return MqttTls(b.probe["host"], plan.ports["broker"], pki.wan_ca.cert, client.cert, client.key)
