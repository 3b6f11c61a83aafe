"""A node's configuration, built from the rig description, the run plan and the PKI: the
:class:`nodes.config.NodeConfig` record the node reads.

The same record serves a virtual node (paths in the controller's state folder) and a Pi
(the deploy relocates key paths to ``/etc/rig/pki``).
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

from gateway.config import DCC_TRANSCOS
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
from rig.pki.authority import LOAD_CONTROLLER_EUI, Pki
from rig.plan import han_keys
from rig.plan.model import Plan, air_control_url, broker_link
from rig.protocol import wan
from rig.protocol.gbcs.catalogue_credentials import RemotePartyRole
from rig.protocol.smki import Usage
from rig.runtime.records import KeyPair
from rig.state import StateDir

SUPPLIER, NETWORK_OPERATOR = RemotePartyRole.SUPPLIER, RemotePartyRole.NETWORK_OPERATOR
ACB, TRANSITIONAL_COS = RemotePartyRole.ACCESS_CONTROL_BROKER, RemotePartyRole.TRANSITIONAL_COS


def network_operator(rig: Rig, node: Node) -> User | None:
    """The network operator a meter's power alerts go to (ED for electricity, GT for gas)."""
    wanted = UserRole.ED if node.role is Role.ESME else UserRole.GT
    return next((u for u in rig.users if u.has(wanted)), None)


def responsible_supplier(rig: Rig, node: Node) -> User | None:
    """The supplier responsible for a meter: the one it names, else the rig's (IS for
    electricity, GS for gas); for a PPMID, its hub's ESME's."""
    if node.role is Role.PPMID and node.hub:
        esme = next((d for d in rig.devices_of(rig.node(node.hub)) if d.role is Role.ESME), None)
        return responsible_supplier(rig, esme) if esme else None
    if node.supplier is not None:
        return rig.user(node.supplier)
    wanted = UserRole.IS if node.role is Role.ESME else UserRole.GS
    return next((u for u in rig.users if u.has(wanted)), None)


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
    """A device's GBCS keys (its own DS/KA) and whom it trusts, as the trust anchor cells it
    starts with: a CHF the ACB, which originates its commands and receives its answers and
    CS14 alerts; a meter or PPMID the ACB, the transitional CoS party, its responsible
    supplier and its network operator (no other DCC User: the others reach it through the
    ACB, as unknown remote parties). A GSME also trusts the KA keys of the PPMIDs on its
    hub (their PCS01 and PCS02), a PPMID those of the GSMEs (their answers). A meter or a
    PPMID also gets the manufacturer's certificate, its firmware images' signer. A DCC
    controlled meter holds the ACB's DS and KA certificates in its supplier and network
    operator cells instead, until 6.21 hands them over."""
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

    # its trust anchor cells: the ACB (it MACs every command); the transitional CoS party
    # (it signs 6.23's CS02b); the responsible supplier and the network operator
    cells = [TrustedCert(rig.acb_eui, Usage.KA, pki.org(rig.acb_eui, Usage.KA).cert, ACB)]
    if node.role is Role.CHF:
        return GbcsConfig(own(Usage.DS), own(Usage.KA), rig.acb_eui, tuple(cells), rig.acb_eui)
    if (transcos := pki.org(DCC_TRANSCOS, Usage.DS).cert).exists():
        cells.append(TrustedCert(DCC_TRANSCOS, Usage.DS, transcos, TRANSITIONAL_COS))
    supplier = responsible_supplier(rig, node)
    operator = network_operator(rig, node)
    for party, role, usages in (
        (supplier, SUPPLIER, (Usage.DS, Usage.KA, Usage.PP_KA)),  # PP-KA: its UTRNs
        (operator, NETWORK_OPERATOR, (Usage.DS, Usage.KA)),
    ):
        if node.dcc_controlled:  # the ACB holds the cells until 6.21 hands them over
            ds, ka = (pki.org(rig.acb_eui, usage).cert for usage in (Usage.DS, Usage.KA))
            held = {Usage.DS: ds, Usage.KA: ka, Usage.PP_KA: ka}  # as RTDS's ESME holds them
            cells += [TrustedCert(rig.acb_eui, usage, held[usage], role) for usage in usages]
            continue
        if party is None:
            continue
        cells += [
            TrustedCert(party.eui, usage, cert, role)
            for usage in usages
            if (cert := pki.org(party.eui, usage).cert).exists()
        ]
    # an ESME's load controller cells (6.15.1's CS02g replaces them), after the others: a
    # supplier acting as load controller is known by its own cells first
    if node.role is Role.ESME:
        cells += [
            TrustedCert(LOAD_CONTROLLER_EUI, usage, cert, RemotePartyRole.LOAD_CONTROLLER)
            for usage in (Usage.DS, Usage.KA)
            if (cert := pki.org(LOAD_CONTROLLER_EUI, usage).cert).exists()
        ]
    maker = pki.manufacturer().cert  # the key its firmware images verify against (11.1, 11.4)
    if node.role is Role.PPMID:  # it sends PCS01 and PCS02 and reads the GSME's answers
        return GbcsConfig(
            own(Usage.DS), own(Usage.KA), rig.acb_eui, (*cells, *neighbours(Role.GSME)),
            manufacturer=maker if maker.exists() else None,
        )  # fmt: skip
    if node.role is Role.GSME:  # its PPMIDs' PCS01 and PCS02
        cells += neighbours(Role.PPMID)
    return GbcsConfig(
        own(Usage.DS),
        own(Usage.KA),
        rig.acb_eui,
        tuple(cells),
        operator.eui if operator else None,
        supplier.eui if supplier else None,
        maker if maker.exists() else None,
    )


def gpf_gbcs_config(rig: Rig, pki: Pki, node: Node) -> GbcsConfig | None:
    """The GBCS keys of the GPF a CHF hosts (its own DS/KA, issued for ``gpf_eui``) and its
    trust anchor cells: the ACB, which MACs every command to it and receives its answers,
    and the gas supplier (of the GSME on the hub), whose reads of the GSME's data it
    answers from its mirror (MAC'd and encrypted for it), and the gas network operator. The
    GPF of a hub whose gas meter is DCC controlled is too: the ACB's certificates in its
    supplier and network operator cells, until 6.21 hands them over."""
    if node.role is not Role.CHF or node.gpf_eui is None:
        return None
    ds, ka = pki.device(node.gpf_eui, Usage.DS), pki.device(node.gpf_eui, Usage.KA)
    cells = [TrustedCert(rig.acb_eui, Usage.KA, pki.org(rig.acb_eui, Usage.KA).cert, ACB)]
    gsme = next((d for d in rig.devices_of(node) if d.role is Role.GSME), None)
    supplier = responsible_supplier(rig, gsme) if gsme is not None else None
    if gsme is not None and gsme.dcc_controlled:  # as its gas meter: the ACB's until 6.21
        ds_, ka_ = (pki.org(rig.acb_eui, usage).cert for usage in (Usage.DS, Usage.KA))
        held = {Usage.DS: ds_, Usage.KA: ka_, Usage.PP_KA: ka_}  # as RTDS's GPF holds them
        for role, usages in (
            (SUPPLIER, (Usage.DS, Usage.KA, Usage.PP_KA)),
            (NETWORK_OPERATOR, (Usage.DS, Usage.KA)),
        ):
            cells += [TrustedCert(rig.acb_eui, u, held[u], role) for u in usages]
    elif gsme is not None:  # its gas meter's supplier and network operator (gas transporter)
        operator = network_operator(rig, gsme)
        for party, role in ((supplier, SUPPLIER), (operator, NETWORK_OPERATOR)):
            cells += [
                TrustedCert(party.eui, usage, cert, role)
                for usage in (Usage.DS, Usage.KA)
                if party is not None and (cert := pki.org(party.eui, usage).cert).exists()
            ]
    return GbcsConfig(
        KeyPair(ds.cert, ds.key), KeyPair(ka.cert, ka.key), rig.acb_eui, tuple(cells),
        rig.acb_eui, supplier.eui if supplier is not None else None,
    )  # fmt: skip


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
        gpf_gbcs=gpf_gbcs_config(rig, pki, node),
        boxed=node.boxed,
    )
