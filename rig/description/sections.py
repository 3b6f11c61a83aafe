"""Readers of the top-level sections other than ``nodes``: the HAN, the DCC Users and
the controller's settings (dcc, wan, gateway, air, virtual, pki).

Each takes the :class:`~rig.description.fields.Reader` (which collects problems) and
returns its record, with defaults for what the description leaves out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rig.description.fields import (
    Reader,
    choice_of,
    enum_of,
    index_of,
    int_in,
    to_address,
    to_eui,
    to_port,
    to_rate,
    to_subnet,
    to_text,
    to_url,
)
from rig.description.located import LocatedDict
from rig.description.model import (
    AirSettings,
    GatewaySettings,
    HanSettings,
    Isolation,
    PkiSettings,
    User,
    UserRole,
    VirtualSettings,
    Wan,
)
from rig.protocol.eui import Eui64

DEFAULT_ACB_EUI = "90-B3-D5-1F-30-00-00-02"


def read_han(r: Reader, m: Any, path: str, line: int) -> HanSettings | None:
    """A HAN (the rig's ``han`` or a chf's own): channel and PAN ID."""
    m = r.mapping(m, path, line, {"channel", "pan_id"})
    channel = r.field(m, "channel", path, int_in(11, 26, "a 2.4 GHz Zigbee channel"), default=15)
    pan_id = r.field(m, "pan_id", path, int_in(0x0001, 0xFFFE, "a PAN ID"), default=0x1A62)
    if channel is None or pan_id is None:
        return None
    return HanSettings(channel=channel, pan_id=pan_id)


def read_user(r: Reader, m: Any, path: str, line: int) -> User | None:
    """One item of ``users``: a DCC User."""
    m = r.mapping(m, path, line, {"name", "eui", "role", "receive_url"})
    name = r.field(m, "name", path, to_text)
    eui = r.field(m, "eui", path, to_eui)
    roles = r.field(m, "role", path, _roles)
    url = r.field(m, "receive_url", path, to_url, default=None)
    if name is None or eui is None or roles is None:
        return None
    return User(name=name, eui=eui, roles=roles, receive_url=url, line=line, index=index_of(path))


_ROLE = enum_of(UserRole, "DUIS user role")
# the roles one DCC User may hold together: those of one SMKI organisation role (a supplier's
# IS, GS and ES; a network operator's ED and GT), as its certificates carry one
_ROLE_FAMILIES = (
    frozenset({UserRole.IS, UserRole.GS, UserRole.ES}),
    frozenset({UserRole.ED, UserRole.GT}),
)


def _roles(v: Any) -> tuple[UserRole, ...]:
    """``role: IS`` or ``role: [IS, GS]``: one role, or several of one organisation role."""
    roles = tuple(_ROLE(x) for x in v) if isinstance(v, list) else (_ROLE(v),)
    if not roles:
        raise ValueError("give at least one DUIS user role")
    if len(set(roles)) != len(roles):
        raise ValueError(f"{'+'.join(roles)}: a role is given twice")
    if len(roles) > 1 and not any(set(roles) <= family for family in _ROLE_FAMILIES):
        raise ValueError(
            f"{'+'.join(roles)}: one DCC User's roles are a supplier's (IS, GS, ES) or a "
            "network operator's (ED, GT); make a second user for the other"
        )
    return roles


def read_acb_eui(r: Reader, top: LocatedDict) -> Eui64:
    """``dcc``: the access control broker's EUI."""
    dcc = r.mapping(top.get("dcc"), "dcc", r.line_of(top, "dcc"), {"acb_eui"})
    acb = r.field(dcc, "acb_eui", "dcc", to_eui, default=Eui64.parse(DEFAULT_ACB_EUI))
    return acb or Eui64.parse(DEFAULT_ACB_EUI)


def read_wan(r: Reader, top: LocatedDict) -> Wan:
    m = r.mapping(top.get("wan"), "wan", r.line_of(top, "wan"), {"broker_port", "address"})
    return Wan(
        broker_port=r.field(m, "broker_port", "wan", to_port, default=None),
        address=r.field(m, "address", "wan", to_address, default=None),
    )


def read_gateway(r: Reader, top: LocatedDict) -> GatewaySettings:
    m = r.mapping(
        top.get("gateway"),
        "gateway",
        r.line_of(top, "gateway"),
        {"bind", "duis_port", "smki_port", "clock_rate"},
    )
    return GatewaySettings(
        bind=r.field(m, "bind", "gateway", to_address, default="127.0.0.1") or "127.0.0.1",
        duis_port=r.field(m, "duis_port", "gateway", to_port, default=8079),
        smki_port=r.field(m, "smki_port", "gateway", to_port, default=8083),
        clock_rate=r.field(m, "clock_rate", "gateway", to_rate, default=1.0),
    )


def read_air(r: Reader, top: LocatedDict) -> AirSettings:
    m = r.mapping(top.get("air"), "air", r.line_of(top, "air"), {"zep_port", "control_port"})
    return AirSettings(
        zep_port=r.field(m, "zep_port", "air", to_port, default=17754),
        control_port=r.field(m, "control_port", "air", to_port, default=None),
    )


def read_virtual(r: Reader, top: LocatedDict) -> VirtualSettings:
    m = r.mapping(top.get("virtual"), "virtual", r.line_of(top, "virtual"), {"subnet", "isolation"})
    default = VirtualSettings()
    return VirtualSettings(
        subnet=r.field(m, "subnet", "virtual", to_subnet, default=default.subnet) or default.subnet,
        isolation=r.field(
            m, "isolation", "virtual", enum_of(Isolation, "isolation"), default=Isolation.AUTO
        )
        or Isolation.AUTO,
    )


def read_pki(r: Reader, top: LocatedDict, base_dir: Path | None) -> PkiSettings:
    """``pki``: generated credentials or ZAZ1's; relative paths are from ``base_dir``.

    With ZAZ1, ``xml_sign`` names DCC Boxed's signing-tool credentials (the folder whose
    DCC XML-signing certificates the DCC Users trust beside the keystore's); it defaults
    to the ``xml-sign`` folder beside the keystore when there is one.
    """
    m = r.mapping(top.get("pki"), "pki", r.line_of(top, "pki"), {"source", "keystore", "xml_sign"})
    source = r.field(m, "source", "pki", choice_of("generate", "zaz1"), default="generate")
    keystore = r.field(m, "keystore", "pki", to_text, default=None)
    xml_sign = r.field(m, "xml_sign", "pki", to_text, default=None)
    keystore_path = _path(keystore, base_dir)
    xml_sign_path = _path(xml_sign, base_dir)
    if source == "zaz1" and keystore is None:
        r.problem(
            m.line,
            "pki.keystore",
            "source zaz1 needs the keystore.json path, e.g. "
            "../shared/vectors/smki/zaz1-keystore.json",
        )
    if xml_sign_path is not None:
        if source != "zaz1":
            r.problem(
                r.line_of(m, "xml_sign"),
                "pki.xml_sign",
                "DCC Boxed's signing-tool credentials go with source zaz1 "
                "(a generated PKI trusts only the rig's own DCC certificate)",
            )
        elif not xml_sign_path.is_dir():
            r.problem(
                r.line_of(m, "xml_sign"),
                "pki.xml_sign",
                f"{xml_sign_path} is not a folder of XML-signing credentials, e.g. "
                "../shared/vectors/smki/xml-sign",
            )
    elif source == "zaz1" and keystore_path is not None:
        beside = (keystore_path if keystore_path.is_dir() else keystore_path.parent) / "xml-sign"
        xml_sign_path = beside if beside.is_dir() else None
    return PkiSettings(source=source or "generate", keystore=keystore_path, xml_sign=xml_sign_path)


def _path(text: str | None, base_dir: Path | None) -> Path | None:
    """A path of the description: a relative one is from ``base_dir`` (the file's folder)."""
    if not text:
        return None
    path = Path(text)
    if not path.is_absolute() and base_dir is not None:
        path = (base_dir / path).resolve()
    return path
