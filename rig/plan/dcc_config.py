"""What the controller tells the DCC side of the rig: the gateway's DUIS/SMKI/inventory
configuration, the test DCC Users' file, and each device's GBCS credentials.

All of it is derived from the rig description and the PKI in the state folder, so
nothing is configured twice.
"""

from __future__ import annotations

from typing import Any

from rig.description.model import Node, Rig, Role, User, UserRole
from rig.pki.authority import Pki
from rig.protocol.smki import Usage

DEVICE_TYPE = {
    Role.CHF: "CHF",
    Role.ESME: "ESME",
    Role.GSME: "GSME",
    Role.IHD: "IHD",
    Role.PPMID: "PPMID",
}
DEFAULT_RESPONSE_S = 30.0


def _network_operator(rig: Rig, node: Node) -> User | None:
    wanted = UserRole.ED if node.role is Role.ESME else UserRole.GT
    return next((u for u in rig.users if u.role is wanted), None)


def response_times(rig: Rig) -> dict[str, float]:
    """Target response times: on-demand 30 s; a sleepy GSME three wake cycles more."""
    wake = max(
        (float(n.behaviour.get("wake_interval_s", 10)) for n in rig.by_role(Role.GSME)),
        default=10.0,
    )
    return {"default": DEFAULT_RESPONSE_S, "GSME": DEFAULT_RESPONSE_S + 3 * wake}


def inventory(rig: Rig) -> list[dict[str, Any]]:
    devices: list[dict[str, Any]] = []
    for node in rig.nodes:
        hub = rig.node(node.hub).eui.duis if node.hub else None
        supplier = rig.user(node.supplier).eui.duis if node.supplier else None
        operator = _network_operator(rig, node)
        devices.append(
            {
                "eui": node.eui.duis,
                "type": DEVICE_TYPE[node.role],
                "hub": hub if node.role is not Role.CHF else node.eui.duis,
                "status": node.behaviour.get("status", "Commissioned"),
                "supplier": supplier,
                "network_operator": operator.eui.duis
                if operator and node.role in (Role.ESME, Role.GSME)
                else None,
            }
        )
        if node.gpf_eui is not None:
            devices.append({"eui": node.gpf_eui.duis, "type": "GPF", "hub": node.eui.duis})
    return devices


def certificates(pki: Pki, rig: Rig) -> list[dict[str, Any]]:
    """Every SMKI certificate the DCC publishes, with the DCC's own private keys."""
    out = []
    for row in pki.inventory():
        is_dcc = row["eui"] == rig.acb_eui.duis
        out.append(
            {
                "eui": row["eui"],
                "usage": row["usage"],
                "cert": row["cert"],
                "key": row["key"] if is_dcc and row["usage"] in ("ka", "xml") else None,
            }
        )
    return out


def gateway_section(rig: Rig, pki: Pki, rrs_url: str) -> dict[str, Any]:
    return {
        "acb_eui": rig.acb_eui.duis,
        "users": [
            {
                "eui": u.eui.duis,
                "name": u.name,
                "role": u.role.value,
                "receive_url": u.receive_url or f"{rrs_url}/rrs/{u.eui.hex}",
            }
            for u in rig.users
        ],
        "devices": inventory(rig),
        "certificates": certificates(pki, rig),
        "response_time_s": response_times(rig),
    }


def dcc_users(
    rig: Rig, pki: Pki, state_root: str, gateway: dict[str, str], port: int
) -> dict[str, Any]:
    def cred(u: User, usage: Usage) -> dict[str, str]:
        c = pki.org(u.eui, usage)
        return {"cert": str(c.cert), "key": str(c.key)}

    clients = [
        {
            "name": u.name,
            "eui": u.eui.duis,
            "role": u.role.value,
            **{usage.value: cred(u, usage) for usage in (Usage.XML, Usage.DS, Usage.KA)},
        }
        for u in rig.users
        if pki.org(u.eui, Usage.XML).cert.exists()
    ]
    dcc_xml = pki.org(rig.acb_eui, Usage.XML)
    return {
        "bind": "127.0.0.1",
        "port": port,
        "state_dir": state_root,
        "dcc_certs": [str(dcc_xml.cert.parent)],
        "users": [u.eui.duis for u in rig.users],
        "clients": clients,
        "dcc": {"eui": rig.acb_eui.duis, "xml_cert": str(dcc_xml.cert)},
        "gateway": gateway,
        "receiver": f"http://127.0.0.1:{port}",
    }


def gbcs_section(rig: Rig, pki: Pki, node: Node) -> dict[str, Any] | None:
    """A meter's GBCS keys (its own DS/KA) and whom it trusts (the ACB, the DCC Users)."""
    if node.role not in (Role.ESME, Role.GSME):
        return None
    own = {
        u.value: {
            "cert": str(pki.device(node.eui, u).cert),
            "key": str(pki.device(node.eui, u).key),
        }
        for u in (Usage.DS, Usage.KA)
    }
    trusted = [
        {"eui": rig.acb_eui.duis, "usage": "ka", "cert": str(pki.org(rig.acb_eui, Usage.KA).cert)}
    ]
    for u in rig.users:
        for usage in (Usage.DS, Usage.KA):
            trusted.append(
                {"eui": u.eui.duis, "usage": usage.value, "cert": str(pki.org(u.eui, usage).cert)}
            )
    operator = _network_operator(rig, node)
    return {
        **own,
        "acb": rig.acb_eui.duis,
        "trusted": trusted,
        "alerts_to": operator.eui.duis if operator else None,
    }
