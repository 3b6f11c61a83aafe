"""Render a run plan into the files each component reads: mosquitto's config and ACL, the
air's config, the gateway's and the DCC Users' configs, every node's config.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rig.description.model import Node, Rig, Role
from rig.pki.authority import Pki
from rig.plan import broker
from rig.plan import dcc_config as dccconf
from rig.plan.model import Plan, _http_host, air_control_url, dccuser_config, rrs_url
from rig.protocol import wan
from rig.protocol.eui import Eui64
from rig.runtime.files import write_atomic, write_json
from rig.state import StateDir


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
