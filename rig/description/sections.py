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
    role = r.field(m, "role", path, enum_of(UserRole, "DUIS user role"))
    url = r.field(m, "receive_url", path, to_url, default=None)
    if name is None or eui is None or role is None:
        return None
    return User(name=name, eui=eui, role=role, receive_url=url, line=line, index=index_of(path))


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
        top.get("gateway"), "gateway", r.line_of(top, "gateway"), {"bind", "duis_port", "smki_port"}
    )
    return GatewaySettings(
        bind=r.field(m, "bind", "gateway", to_address, default="127.0.0.1") or "127.0.0.1",
        duis_port=r.field(m, "duis_port", "gateway", to_port, default=8079),
        smki_port=r.field(m, "smki_port", "gateway", to_port, default=8083),
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
    """``pki``: generated credentials or ZAZ1's; a relative keystore is from ``base_dir``."""
    m = r.mapping(top.get("pki"), "pki", r.line_of(top, "pki"), {"source", "keystore"})
    source = r.field(m, "source", "pki", choice_of("generate", "zaz1"), default="generate")
    keystore = r.field(m, "keystore", "pki", to_text, default=None)
    keystore_path = None
    if keystore:
        keystore_path = Path(keystore)
        if not keystore_path.is_absolute() and base_dir is not None:
            keystore_path = (base_dir / keystore_path).resolve()
    if source == "zaz1" and keystore is None:
        r.problem(
            m.line,
            "pki.keystore",
            "source zaz1 needs the keystore.json path, e.g. "
            "../shared/vectors/smki/zaz1-keystore.json",
        )
    return PkiSettings(source=source or "generate", keystore=keystore_path)
