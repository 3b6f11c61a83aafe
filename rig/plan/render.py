"""Render a run plan into the files each component reads: mosquitto's config and ACL, the
air's config, the gateway's and the DCC Users' configs, every node's config.

Each process's config is written through the typed record its reader owns
(:class:`nodes.config.NodeConfig`, :class:`gateway.config.GatewayConfig`,
:class:`rig.virtual.air.config.AirConfig`); rendering only writes files, it creates no key
(the PKI and the HAN keys are made by earlier steps of ``rig up``).
"""

from __future__ import annotations

from typing import Any

from rig.description.model import Node, Rig
from rig.pki.authority import Pki
from rig.plan import broker
from rig.plan.dcc_config import dcc_users, gateway_config
from rig.plan.model import Plan, dccuser_config
from rig.plan.node_config import node_config as node_record
from rig.runtime import records
from rig.runtime.files import write_atomic
from rig.state import StateDir
from rig.virtual.air.config import AirConfig


def render(plan: Plan, rig: Rig, state: StateDir) -> None:
    """Write every component's configuration file from the plan."""
    pki = Pki(state.pki)
    broker_dir = state.component("broker")
    acl = broker_dir / "acl"
    write_atomic(acl, broker.render_acl([h.eui for h in rig.hubs]))
    bind, port = plan.component("broker").address.rsplit(":", 1)
    write_atomic(
        broker_dir / "mosquitto.conf", broker.render_config(pki, bind, int(port), broker_dir, acl)
    )
    air_bind = plan.host_address if plan.isolation == "netns" else "127.0.0.1"
    air = AirConfig(
        air_bind,
        plan.ports["zep"],
        air_bind,
        plan.ports["air_control"],
        state.component("air") / "han.pcap",
    )
    write_atomic(state.component("air") / "air.json", air.dumps())
    write_atomic(
        state.component("gateway") / "gateway.json", gateway_config(plan, rig, state).dumps()
    )
    write_atomic(dccuser_config(state), dcc_users(plan, rig, state).dumps())
    for node in rig.nodes:
        data = str(state.component(node.name) / "data")
        write_atomic(
            state.component(node.name) / "node.json",
            node_record(plan, rig, state, node, data).dumps(),
        )


def node_config(plan: Plan, rig: Rig, state: StateDir, node: Node, data_dir: str) -> Any:
    """A node's configuration as JSON-ready data, with its data kept in ``data_dir`` (the
    deploy relocates its key paths before writing it on the node)."""
    return records.dump(node_record(plan, rig, state, node, data_dir))
