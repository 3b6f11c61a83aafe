"""From a rig description to a run plan: every component, where it runs, how to probe it.

``make_plan`` resolves isolation, addresses and "auto" ports; ``render`` writes
the configuration files each component reads (mosquitto, air, gateway, every
node). The plan is saved in ``run/plan.json`` so that the supervisor, ``rig
status`` and ``rig down`` work from it without re-reading the description.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rig import broker, dccconf
from rig.description.model import Isolation, Node, Rig, Role
from rig.pki import Pki
from rig.ports import PortInUse, check_free, free_port
from rig.protocol import wan
from rig.protocol.eui import Eui64
from rig.state import StateDir, read_json, write_atomic, write_json

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


def netns_available() -> tuple[bool, str]:
    """Whether this machine can give each node its own network namespace."""
    if sys.platform != "linux":
        return False, "network namespaces need Linux"
    if os.geteuid() != 0:
        return False, "network namespaces need root"
    if shutil.which("ip") is None:
        return False, "the 'ip' command (iproute2) is missing"
    if not Path("/usr/sbin/sshd").exists():
        return False, "OpenSSH server (/usr/sbin/sshd) is missing"
    return True, "root on Linux with iproute2 and sshd"


def resolve_isolation(rig: Rig, override: str | None) -> Isolation:
    wanted = Isolation(override) if override else rig.virtual.isolation
    ok, why = netns_available()
    if wanted is Isolation.AUTO:
        return Isolation.NETNS if ok else Isolation.PROCESS
    if wanted is Isolation.NETNS and not ok:
        raise PlanError(f"--isolation netns is not possible here: {why}; use --isolation process")
    return wanted


def _port(
    value: int | None,
    what: str,
    kind: int = socket.SOCK_STREAM,
    remembered: int | None = None,
) -> int:
    """A fixed port checked free on every address, or for "auto" the port this rig had last
    time (deployed nodes keep working across `rig down`/`rig up`), else a free one."""
    if value is None:
        if remembered:
            try:
                check_free(remembered, what, "0.0.0.0", kind)
                return remembered
            except PortInUse:
                pass
        return free_port("0.0.0.0", kind)
    check_free(value, what, "0.0.0.0", kind)
    return value


def _ports(rig: Rig, state: StateDir) -> dict[str, int]:
    path = state.root / "ports.json"
    last = read_json(path, {}) or {}
    wanted: dict[str, tuple[int | None, str, int]] = {
        "broker": (rig.wan.broker_port, "wan.broker_port", socket.SOCK_STREAM),
        "duis": (rig.gateway.duis_port, "gateway.duis_port", socket.SOCK_STREAM),
        "smki": (rig.gateway.smki_port, "gateway.smki_port", socket.SOCK_STREAM),
        "zep": (rig.air.zep_port, "air.zep_port", socket.SOCK_DGRAM),
        "air_control": (rig.air.control_port, "air.control_port", socket.SOCK_STREAM),
        "rrs": (None, "the DCC Users' Receive Response Service", socket.SOCK_STREAM),
    }
    ports = {
        key: _port(value, what, kind, last.get(key)) for key, (value, what, kind) in wanted.items()
    }
    write_json(path, ports)
    return ports


def make_plan(rig: Rig, state: StateDir, isolation: Isolation) -> Plan:
    inst = state.instance
    physical = [n for n in rig.nodes if not n.placement.virtual]
    links: list[NodeLink] = []
    if isolation is Isolation.NETNS:
        hosts = list(rig.virtual.subnet.hosts())
        host_address = str(hosts[0])
        if len(rig.virtual_nodes) > len(hosts) - 10:
            raise PlanError(
                f"subnet {rig.virtual.subnet} is too small for {len(rig.virtual_nodes)} nodes"
            )
        for i, node in enumerate(rig.virtual_nodes):
            links.append(
                NodeLink(node.name, f"rig{inst}-{node.name}", f"rv{inst}{i}", str(hosts[9 + i]))
            )
        bridge, prefixlen = f"rb{inst}", rig.virtual.subnet.prefixlen
    else:
        host_address, bridge, prefixlen = "127.0.0.1", None, None
    if physical:
        if rig.wan.address is None:
            raise PlanError(
                "the rig has nodes on Pis: set wan.address to the controller's "
                "address on the lab network, so the Pis can reach the broker"
            )
        host_address = rig.wan.address
    broker_bind = "0.0.0.0" if physical else host_address
    ports = _ports(rig, state)
    plan = Plan(
        rig.name,
        inst,
        str(state.root),
        isolation.value,
        host_address,
        bridge,
        prefixlen,
        links,
        ports,
    )
    _components(plan, rig, state, broker_bind)
    return plan


def _components(plan: Plan, rig: Rig, state: StateDir, broker_bind: str) -> None:
    pki = Pki(state.pki)
    py = sys.executable
    bindir = Path(py).parent
    ctl = pki.wan_client(wan.CONTROLLER_IDENTITY)
    broker_dir = state.component("broker")
    plan.components.append(
        Component(
            "broker",
            "broker",
            ["/usr/sbin/mosquitto", "-c", str(broker_dir / "mosquitto.conf")],
            f"{broker_bind}:{plan.ports['broker']}",
            {
                "type": "mqtt",
                "host": plan.host_address if broker_bind == "0.0.0.0" else broker_bind,
                "port": plan.ports["broker"],
                "ca": str(pki.wan_ca.cert),
                "cert": str(ctl.cert),
                "key": str(ctl.key),
            },
        )
    )
    plan.components.append(
        Component(
            "air",
            "air",
            [str(bindir / "rig-air"), "--config", str(state.component("air") / "air.json")],
            f"{plan.host_address}:{plan.ports['zep']}/udp",
            {"type": "http", "url": f"{air_control_url(plan)}/health"},
        )
    )
    plan.components.append(
        Component(
            "dcc-users",
            "dccuser",
            [str(bindir / "rig-dcc-user"), "--config", str(dccuser_config(state))],
            f"127.0.0.1:{plan.ports['rrs']}",
            {"type": "http", "url": f"{rrs_url(plan)}/health"},
        )
    )
    plan.components.append(
        Component(
            "gateway",
            "gateway",
            [
                str(bindir / "rig-gateway"),
                "--config",
                str(state.component("gateway") / "gateway.json"),
            ],
            f"{rig.gateway.bind}:{plan.ports['duis']}",
            {
                "type": "http",
                "url": f"http://{_http_host(rig.gateway.bind)}:{plan.ports['duis']}/health",
            },
        )
    )
    links = {link.node: link for link in plan.links}
    for node in rig.nodes:
        config = state.component(node.name) / "node.json"
        if not node.placement.virtual:
            address, port, argv, ns = node.placement.address, node.health_port, [], None
        elif node.name in links:
            link = links[node.name]
            address, port, ns = link.address, NODE_HEALTH_PORT, link.netns
            argv = [str(bindir / "rig-node"), "--config", str(config)]
        else:
            address, port, ns = "127.0.0.1", free_port(), None
            argv = [str(bindir / "rig-node"), "--config", str(config)]
        plan.components.append(
            Component(
                node.name,
                "node",
                argv,
                f"{address}:{port}",
                {"type": "http", "url": f"http://{address}:{port}/health"},
                netns=ns,
                role=node.role.value,
                eui=node.eui.duis,
                unit=str(unit_file(state, node.name)) if ns is not None else None,
            )
        )
        if ns is not None:
            sshd_dir = state.component(node.name) / "ssh"
            plan.components.append(
                Component(
                    f"{node.name}-sshd",
                    "sshd",
                    ["/usr/sbin/sshd", "-D", "-e", "-f", str(sshd_dir / "sshd_config")],
                    f"{address}:{SSH_PORT}",
                    {"type": "ssh", "host": address, "port": SSH_PORT},
                    netns=ns,
                    role=node.role.value,
                )
            )


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


def _http_host(bind: str) -> str:
    return "127.0.0.1" if bind == "0.0.0.0" else bind


def rrs_url(plan: Plan) -> str:
    return f"http://127.0.0.1:{plan.ports['rrs']}"


def dccuser_config(state: StateDir) -> Path:
    return state.component("dcc-users") / "users.json"


def air_control_url(plan: Plan) -> str:
    host = plan.host_address if plan.isolation == "netns" else "127.0.0.1"
    return f"http://{host}:{plan.ports['air_control']}"


def network_key_file(state: StateDir, hub: Eui64) -> Path:
    return state.sub("han") / f"{hub.hex}-network-key"


def network_key(state: StateDir, hub: Eui64) -> bytes:
    """The HAN's network key: made once per hub and rig state, kept for sniffers and restarts."""
    path = network_key_file(state, hub)
    if not path.exists():
        write_atomic(path, os.urandom(16).hex() + "\n", 0o600)
    return bytes.fromhex(path.read_text().strip())


def _han_section(
    rig: Rig, state: StateDir, node: Node, hub: Node | None, han: Any
) -> dict[str, Any]:
    section: dict[str, Any] = {
        "channel": han.channel,
        "pan_id": han.pan_id,
        "extended_pan_id": (hub or node).eui.duis,
    }
    if node.role is Role.CHF:
        section["network_key"] = network_key(state, node.eui).hex()
        section["device_log"] = [
            {
                "eui": d.eui.duis,
                "device_type": d.role.value.upper(),
                "install_code": d.install_code.hex().upper(),
            }
            for d in rig.devices_of(node)
            if d.install_code is not None
        ]
    else:
        if node.install_code is not None:
            section["install_code"] = node.install_code.hex().upper()
        if hub is not None:
            esme = [d for d in rig.devices_of(hub) if d.role is Role.ESME]
            section["peers"] = {"esme": esme[0].eui.duis if esme else None}
    section.update(node.behaviour)
    return section


def wan_hosts(plan: Plan) -> list[str]:
    """Names the broker's TLS certificate must carry."""
    return sorted({"127.0.0.1", "localhost", plan.host_address})


def render(plan: Plan, rig: Rig, state: StateDir) -> None:
    """Write every component's configuration file from the plan."""
    pki = Pki(state.pki)
    broker_dir = state.component("broker")
    acl = broker_dir / "acl"
    write_atomic(acl, broker.render_acl([h.eui for h in rig.hubs]))
    b = plan.component("broker")
    bind, port = b.address.rsplit(":", 1)
    write_atomic(
        broker_dir / "mosquitto.conf", broker.render_config(pki, bind, int(port), broker_dir, acl)
    )
    write_json(
        state.component("air") / "air.json",
        {
            "bind": plan.host_address if plan.isolation == "netns" else "127.0.0.1",
            "zep_port": plan.ports["zep"],
            "control_bind": plan.host_address if plan.isolation == "netns" else "127.0.0.1",
            "control_port": plan.ports["air_control"],
            "pcap": str(state.component("air") / "han.pcap"),
        },
    )
    gw = pki.wan_client(wan.GATEWAY_IDENTITY)
    write_json(
        state.component("gateway") / "gateway.json",
        {
            "state_dir": str(state.component("gateway") / "data"),
            "bind": rig.gateway.bind,
            "duis_port": plan.ports["duis"],
            "smki_port": plan.ports["smki"],
            "broker": {
                "host": b.probe["host"],
                "port": plan.ports["broker"],
                "ca": str(pki.wan_ca.cert),
                "cert": str(gw.cert),
                "key": str(gw.key),
            },
            "hubs": [h.eui.duis for h in rig.hubs],
            **dccconf.gateway_section(rig, pki, rrs_url(plan)),
        },
    )
    gw_host = _http_host(rig.gateway.bind)
    write_json(
        dccuser_config(state),
        dccconf.dcc_users(
            rig,
            pki,
            str(state.component("dcc-users") / "inbox"),
            {
                "duis": f"http://{gw_host}:{plan.ports['duis']}/api/v1",
                "smki": f"http://{gw_host}:{plan.ports['smki']}/services",
            },
            plan.ports["rrs"],
        ),
    )
    for node in rig.nodes:
        write_json(
            state.component(node.name) / "node.json",
            node_config(plan, rig, state, node, str(state.component(node.name) / "data")),
        )


def node_config(
    plan: Plan, rig: Rig, state: StateDir, node: Node, state_dir: str
) -> dict[str, Any]:
    """A node's configuration (nodes.config.NodeConfig), with its data kept in ``state_dir``."""
    pki = Pki(state.pki)
    b = plan.component("broker")
    comp = plan.component(node.name)
    host, hport = comp.address.rsplit(":", 1)
    hub = rig.node(node.hub) if node.hub else None
    han = rig.han_of(hub or node) if (hub or node.role is Role.CHF) else rig.han
    data: dict[str, Any] = {
        "name": node.name,
        "role": node.role.value,
        "eui": node.eui.duis,
        "state_dir": state_dir,
        "health_bind": "0.0.0.0" if not node.placement.virtual else host,
        "health_port": int(hport),
        "hub_eui": hub.eui.duis if hub else None,
        "gpf_eui": node.gpf_eui.duis if node.gpf_eui else None,
        "han": _han_section(rig, state, node, hub, han),
        "radio": {
            "type": node.radio.type.value,
            "device": node.radio.device,
            "air": f"{plan.host_address}:{plan.ports['zep']}",
            "control": air_control_url(plan),
        },
        "pin_factory": "mock" if node.placement.virtual else "default",
        "pins": node.gpio.pins(),
        "gbcs": dccconf.gbcs_section(rig, pki, node),
    }
    if node.role is Role.CHF:
        cred = pki.wan_client(wan.hub_identity(node.eui))
        data["wan"] = {
            "host": b.probe["host"],
            "port": plan.ports["broker"],
            "ca": str(pki.wan_ca.cert),
            "cert": str(cred.cert),
            "key": str(cred.key),
        }
    return data
