"""A node's configuration, built from the rig description, the run plan and the PKI: the
:class:`nodes.config.NodeConfig` record the node reads.

The same record serves a virtual node (paths in the controller's state folder) and a Pi
(the deploy relocates key paths to ``/etc/rig/pki``).
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

from nodes.config import (
    Behaviour,
    DeviceLogEntry,
    GbcsConfig,
    HanConfig,
    NodeConfig,
    RadioConfig,
    TrustedCert,
)
from nodes.config import Role as NodeRole
from rig.description.model import Node, Rig, Role, User, UserRole
from rig.pki.authority import Pki
from rig.plan import han_keys
from rig.plan.model import Plan, air_control_url, broker_link
from rig.protocol import wan
from rig.protocol.smki import Usage
from rig.runtime.records import KeyPair
from rig.state import StateDir


def network_operator(rig: Rig, node: Node) -> User | None:
    """The network operator a meter's power alerts go to (ED for electricity, GT for gas)."""
    wanted = UserRole.ED if node.role is Role.ESME else UserRole.GT
    return next((u for u in rig.users if u.role is wanted), None)


def responsible_supplier(rig: Rig, node: Node) -> User | None:
    """The supplier responsible for a meter (IS for electricity, GS for gas)."""
    wanted = UserRole.IS if node.role is Role.ESME else UserRole.GS
    return next((u for u in rig.users if u.role is wanted), None)


def han_config(rig: Rig, state: StateDir, node: Node) -> HanConfig:
    hub = rig.node(node.hub) if node.hub else node
    settings = rig.han_of(hub) if hub.role is Role.CHF else rig.han
    if node.role is Role.CHF:
        return HanConfig(
            settings.channel,
            settings.pan_id,
            node.eui,
            network_key=han_keys.read(state, node.eui),
            device_log=tuple(
                DeviceLogEntry(d.eui, d.role.value.upper(), d.install_code)
                for d in rig.devices_of(node)
                if d.install_code is not None and not d.boxed  # boxed: not until 8.11
            ),
        )
    esme = next((d.eui for d in rig.devices_of(hub) if d.role is Role.ESME), None)
    gsme = next((d.eui for d in rig.devices_of(hub) if d.role is Role.GSME), None)
    return HanConfig(
        settings.channel,
        settings.pan_id,
        hub.eui,
        install_code=node.install_code,
        esme=esme if node.role in (Role.IHD, Role.PPMID) else None,
        gsme=gsme if node.role is Role.PPMID else None,
    )


def gbcs_config(rig: Rig, pki: Pki, node: Node) -> GbcsConfig | None:
    """A device's GBCS keys (its own DS/KA) and whom it trusts: a meter the ACB and the DCC
    Users, a GSME also the KA keys of the PPMIDs on its hub (their PCS01 and PCS02); a
    PPMID the KA keys of the GSMEs on its hub (their answers); a CHF the ACB, which
    originates its commands and receives its answers and CS14 alerts. A meter also gets
    the manufacturer's certificate, its firmware images' signer."""
    if node.role not in (Role.ESME, Role.GSME, Role.PPMID, Role.CHF):
        return None

    def own(usage: Usage) -> KeyPair:
        cred = pki.device(node.eui, usage)
        return KeyPair(cred.cert, cred.key)

    def neighbours(role: Role) -> list[TrustedCert]:
        hub = rig.node(node.hub) if node.hub else node
        return [
            TrustedCert(d.eui, Usage.KA, pki.device(d.eui, Usage.KA).cert)
            for d in rig.devices_of(hub)
            if d.role is role
        ]

    if node.role is Role.PPMID:  # it sends PCS01 and PCS02 and reads the GSME's answers
        return GbcsConfig(own(Usage.DS), own(Usage.KA), rig.acb_eui, tuple(neighbours(Role.GSME)))
    trusted = [TrustedCert(rig.acb_eui, Usage.KA, pki.org(rig.acb_eui, Usage.KA).cert)]
    if node.role is Role.CHF:
        return GbcsConfig(own(Usage.DS), own(Usage.KA), rig.acb_eui, tuple(trusted), rig.acb_eui)
    trusted += [
        TrustedCert(u.eui, usage, pki.org(u.eui, usage).cert)
        for u in rig.users
        for usage in (Usage.DS, Usage.KA, Usage.PP_KA)  # a supplier's UTRNs: its PP-KA key
        if usage is not Usage.PP_KA or pki.org(u.eui, usage).cert.exists()
    ]
    if node.role is Role.GSME:
        trusted += neighbours(Role.PPMID)
    operator = network_operator(rig, node)
    maker = pki.manufacturer().cert  # the key its firmware images verify against (11.1)
    return GbcsConfig(
        own(Usage.DS),
        own(Usage.KA),
        rig.acb_eui,
        tuple(trusted),
        operator.eui if operator else None,
        supplier.eui if (supplier := responsible_supplier(rig, node)) else None,
        maker if maker.exists() else None,
    )


def node_config(plan: Plan, rig: Rig, state: StateDir, node: Node, data_dir: str) -> NodeConfig:
    """The node's configuration, with its data kept in ``data_dir``."""
    pki = Pki(state.pki)
    host, health_port = plan.component(node.name).address.rsplit(":", 1)
    wan_link = None
    if node.role is Role.CHF:
        wan_link = broker_link(plan, pki.wan_client(wan.hub_identity(node.eui)), pki)
    b = node.behaviour
    return NodeConfig(
        name=node.name,
        role=cast(NodeRole, node.role.value),
        eui=node.eui,
        state_dir=Path(data_dir),
        health_bind="0.0.0.0" if not node.placement.virtual else host,
        health_port=int(health_port),
        han=han_config(rig, state, node),
        radio=RadioConfig(
            node.radio.type.value,
            node.radio.device,
            (plan.host_address, plan.ports["zep"]),
            air_control_url(plan),
        ),
        behaviour=Behaviour(**{k: v for k, v in b.items() if k in Behaviour.__dataclass_fields__}),
        hub_eui=rig.node(node.hub).eui if node.hub else None,
        gpf_eui=node.gpf_eui,
        pin_factory="mock" if node.placement.virtual else "default",
        pins=node.gpio.pins(),
        wan=wan_link,
        gbcs=gbcs_config(rig, pki, node),
        boxed=node.boxed,
    )
