"""Make a run plan from a rig description: isolation, addresses, ports, components.

A node on the virtual rig gets its own network namespace (netns isolation, as root) or
runs as a local process; a node on a Pi is only probed. "auto" ports are chosen free,
and remembered per state folder so a deployed configuration stays valid across
``rig down``/``rig up``.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

from rig.description.model import Isolation, Rig
from rig.lifecycle import observers
from rig.pki.authority import Pki
from rig.plan.model import (
    NODE_HEALTH_PORT,
    SSH_PORT,
    Component,
    NodeLink,
    Plan,
    PlanError,
    air_control_url,
    dccuser_config,
    http_host,
    rrs_url,
    unit_file,
)
from rig.plan.ports import PortInUse, check_free, free_port
from rig.runtime.files import read_json, write_json
from rig.state import StateDir


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
                # the probe takes a read-only observer identity from the rig's pool
                "pki": str(pki.root),
                "observers": str(observers.lock_folder(state)),
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
                "url": f"http://{http_host(rig.gateway.bind)}:{plan.ports['duis']}/health",
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
