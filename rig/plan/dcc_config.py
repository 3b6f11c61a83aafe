"""What the controller tells the DCC side of the rig: the gateway's configuration (the
:class:`gateway.config.GatewayConfig` record it reads) and the test DCC Users' file.

All of it is derived from the rig description, the run plan and the PKI in the state
folder, so nothing is configured twice.
"""

from __future__ import annotations

from pathlib import Path

from gateway.config import (
    DCC_TRANSCOS,
    DEFAULT_RESPONSE_S,
    CertConfig,
    DeviceConfig,
    GatewayConfig,
    UserConfig,
)
from rig.dccuser.config import Client, DccIdentity, DccUsersConfig, GatewayUrls
from rig.description.model import Rig, Role, User
from rig.pki.authority import Pki
from rig.plan.model import Plan, broker_link, http_host, rrs_url
from rig.plan.node_config import network_operator
from rig.protocol import wan
from rig.protocol.eui import Eui64
from rig.protocol.smki import Usage
from rig.reference import matrix_path, schema_path
from rig.runtime.records import KeyPair
from rig.state import StateDir


def response_times(rig: Rig) -> dict[str, float]:
    """Target response times: on-demand 30 s; a sleepy GSME three wake cycles more."""
    wake = max(
        (float(n.behaviour.get("wake_interval_s", 10)) for n in rig.by_role(Role.GSME)),
        default=10.0,
    )
    return {"default": DEFAULT_RESPONSE_S, "GSME": DEFAULT_RESPONSE_S + 3 * wake}


def inventory(rig: Rig, *, boxed: bool = False) -> tuple[DeviceConfig, ...]:
    """The DCC's inventory as the description seeds it (``boxed``: instead, what it says of
    the boxed devices, which the DCC learns by their 12.2 pre-notification)."""
    devices: list[DeviceConfig] = []
    for node in rig.nodes:
        if node.boxed != boxed:
            continue
        operator = network_operator(rig, node)
        devices.append(
            DeviceConfig(
                node.eui,
                node.role.value.upper(),
                rig.node(node.hub).eui if node.hub else node.eui,
                node.behaviour.get("status", "Commissioned"),
                rig.user(node.supplier).eui if node.supplier else None,
                operator.eui if operator and node.role in (Role.ESME, Role.GSME) else None,
                node.dcc_controlled,
            )
        )
        if node.gpf_eui is not None:  # the DCC controls it as it does its gas meter
            gas = any(d.dcc_controlled for d in rig.devices_of(node) if d.role is Role.GSME)
            devices.append(DeviceConfig(node.gpf_eui, "GPF", node.eui, dcc_controlled=gas))
    return tuple(devices)


def certificates(pki: Pki, rig: Rig) -> tuple[CertConfig, ...]:
    """Every SMKI certificate the DCC publishes, with the DCC's own private keys."""
    out = []
    for row in pki.inventory():
        usage = Usage(row["usage"])
        # the ACB's KA MACs every command, its DS signs 6.21's CS02b, its XML key the
        # responses; the TransCoS party's DS signs 6.23's CS02b
        is_dcc = (row["eui"] == rig.acb_eui.duis and usage in (Usage.KA, Usage.DS, Usage.XML)) or (
            row["eui"] == DCC_TRANSCOS.duis and usage is Usage.DS
        )
        out.append(
            CertConfig(
                Eui64.parse(row["eui"]),
                usage,
                Path(row["cert"]),
                Path(row["key"]) if is_dcc else None,
            )
        )
    return tuple(out)


def gateway_config(plan: Plan, rig: Rig, state: StateDir) -> GatewayConfig:
    pki = Pki(state.pki)
    return GatewayConfig(
        state_dir=state.component("gateway") / "data",
        bind=rig.gateway.bind,
        duis_port=plan.ports["duis"],
        smki_port=plan.ports["smki"],
        broker=broker_link(plan, pki.wan_client(wan.GATEWAY_IDENTITY), pki),
        duis_schema=schema_path(),
        srv_matrix=matrix_path(),
        hubs=tuple(h.eui for h in rig.hubs),
        acb_eui=rig.acb_eui,
        users=tuple(
            UserConfig(
                u.eui,
                u.name,
                u.role.value,
                u.receive_url or f"{rrs_url(plan)}/rrs/{u.eui.hex}",
                tuple(r.value for r in u.roles),
            )
            for u in rig.users
        ),
        devices=inventory(rig),
        boxed=inventory(rig, boxed=True),
        certificates=certificates(pki, rig),
        smki_ca_cert=pki.smki_issuing.cert if pki.smki_issuing.cert.exists() else None,
        smki_ca_key=pki.smki_issuing.key if pki.smki_issuing.key.exists() else None,
        response_time_s=response_times(rig),
        clock_rate=rig.gateway.clock_rate,
    )


def dcc_certificates(rig: Rig, pki: Pki) -> tuple[Path, ...]:
    """Where the DCC's XML-signing certificates are: the rig's own always; with ZAZ1
    identities also the ZAZ1 keystore and DCC Boxed's signing-tool credentials, since
    DCC Boxed signs its responses with any of them."""
    paths = [pki.org(rig.acb_eui, Usage.XML).cert]
    if rig.pki.source == "zaz1":
        paths += [p for p in (rig.pki.keystore, rig.pki.xml_sign) if p is not None]
    return tuple(paths)


def dcc_users(plan: Plan, rig: Rig, state: StateDir) -> DccUsersConfig:
    """The test DCC Users: who they are, their keys, where the gateway and their inboxes are."""
    pki = Pki(state.pki)

    def cred(u: User, usage: Usage) -> KeyPair:
        c = pki.org(u.eui, usage)
        return KeyPair(c.cert, c.key)

    clients = tuple(
        Client(
            u.name,
            u.eui,
            u.role.value,
            cred(u, Usage.XML),
            cred(u, Usage.DS),
            cred(u, Usage.KA),
            cred(u, Usage.PP_KA) if pki.org(u.eui, Usage.PP_KA).cert.exists() else None,
        )
        for u in rig.users
        if pki.org(u.eui, Usage.XML).cert.exists()
    )
    dcc_xml = pki.org(rig.acb_eui, Usage.XML)
    gateway = http_host(rig.gateway.bind)
    return DccUsersConfig(
        bind="127.0.0.1",
        port=plan.ports["rrs"],
        state_dir=state.component("dcc-users") / "inbox",
        dcc_certs=dcc_certificates(rig, pki),
        users=tuple(u.eui for u in rig.users),
        clients=clients,
        dcc=DccIdentity(rig.acb_eui, dcc_xml.cert),
        gateway=GatewayUrls(
            f"http://{gateway}:{plan.ports['duis']}/api/v1",
            f"http://{gateway}:{plan.ports['smki']}/services",
        ),
        receiver=rrs_url(plan),
        issuing_ca=pki.smki_issuing.cert if pki.smki_issuing.cert.exists() else None,
    )
