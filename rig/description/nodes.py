"""Reader of one item of ``nodes``: a node and its parts (host placement, radio, GPIO
wiring, behaviour knobs), with the checks that stay within the node.

What spans nodes (names, EUIs, hubs, suppliers) is checked in
:mod:`rig.description.rules`.
"""

from __future__ import annotations

import re
from typing import Any

from rig.description.fields import (
    Reader,
    enum_of,
    index_of,
    int_in,
    join,
    to_address,
    to_bool,
    to_eui,
    to_host_key,
    to_install_code,
    to_name,
    to_pin,
    to_text,
)
from rig.description.located import LocatedDict
from rig.description.model import Gpio, Node, Placement, Radio, RadioType, Role
from rig.description.sections import read_han

_LABEL = re.compile(r"[a-z][a-z0-9_]*")
_GPIO_OUTPUTS = {Role.ESME: "relay", Role.GSME: "valve"}

_NODE_FIELDS = {
    "name",
    "role",
    "eui",
    "install_code",
    "hub",
    "gpf_eui",
    "han",
    "host",
    "radio",
    "gpio",
    "supplier",
    "health_port",
    "behaviour",
    "install",
    "dcc_controlled",
}
# installed (the default): in the DCC's inventory and the CHF's device log from the start;
# boxed: on the bench and powered, but unknown to both until installed and commissioned
INSTALL_STATES = ("installed", "boxed")
_BEHAVIOUR = {
    "loopback": bool,  # answer each tunnelled GBCS message with itself (a HAN link test)
    "load_w": float,  # ESME: the load its registers advance with
    "price_p_kwh": float,  # ESME, GSME: the active price the prepayment balance falls at
    "standing_charge_p_day": float,  # ESME: its standing charge until a tariff sets one
    "payment_mode": str,  # meters: prepayment (default) or credit
    "credit_pence": float,  # meters: the meter balance at first power-on
    "low_credit_pence": float,  # meters: the low-credit threshold (0x810D below it)
    "emergency_credit_pence": float,  # meters: the emergency credit limit
    "emergency_credit_threshold_pence": float,  # meters: emergency credit offered below it
    "utrn_lockout_s": float,  # meters: how long local UTRN entry stays locked
    "wake_interval_s": float,  # GSME: how long it sleeps between wakes
    "flow_m3h": float,  # GSME: the gas flow its register advances with
    "display_interval_s": float,  # IHD/PPMID: how often they read the meters
    "status": str,  # the device's status in the DCC's inventory (default Commissioned)
    "firmware_version": str,  # meters: the running firmware version at first power-on
}
_STATUSES = (
    "Commissioned",
    "InstalledNotCommissioned",
    "Whitelisted",
    "Decommissioned",
    "Suspended",
    "Withdrawn",
)


def read_node(r: Reader, m: Any, path: str, line: int) -> Node | None:
    """One node; None when its name, role or EUI is unusable (the problem is recorded)."""
    m = r.mapping(m, path, line, _NODE_FIELDS)
    name = r.field(m, "name", path, to_name)
    role = r.field(m, "role", path, enum_of(Role, "role"))
    eui = r.field(m, "eui", path, to_eui)
    placement = _placement(r, m.get("host"), join(path, "host"), r.line_of(m, "host"))
    radio = _radio(r, m.get("radio"), join(path, "radio"), r.line_of(m, "radio"), placement)
    gpio = _gpio(r, m.get("gpio"), join(path, "gpio"), r.line_of(m, "gpio"), role)
    install_code = r.field(m, "install_code", path, to_install_code, default=None)
    gpf_eui = r.field(m, "gpf_eui", path, to_eui, default=None)
    han = None
    if "han" in m:
        han = read_han(r, m["han"], join(path, "han"), r.line_of(m, "han"))
    hub = r.field(m, "hub", path, to_name, default=None)
    supplier = r.field(m, "supplier", path, to_text, default=None)
    health_port = r.field(m, "health_port", path, int_in(1, 65535, "a TCP port"), default=8470)
    install = r.field(m, "install", path, to_text, default="installed")
    if install not in INSTALL_STATES:
        r.problem(
            r.line_of(m, "install"),
            join(path, "install"),
            f"{install!r}: write one of {', '.join(INSTALL_STATES)}",
        )
    if install == "boxed" and role in (Role.CHF, Role.IHD):
        r.problem(
            r.line_of(m, "install"),
            join(path, "install"),
            f"a {role.value} is not boxed: the rig installs meters and PPMIDs from the box",
        )
    # a DCC controlled meter: the ACB's certificates in its supplier and network operator
    # cells, until its supplier asks for it with 6.21 (Request Handover of DCC Controlled Device)
    dcc_controlled = r.field(m, "dcc_controlled", path, to_bool, default=False)
    if dcc_controlled and role not in (Role.ESME, Role.GSME):
        r.problem(
            r.line_of(m, "dcc_controlled"),
            join(path, "dcc_controlled"),
            "only a meter (esme, gsme) is handed over from the DCC's control (6.21)",
        )
    behaviour: dict[str, Any] = {}
    if "behaviour" in m:
        behaviour = _behaviour(
            r, m["behaviour"], join(path, "behaviour"), r.line_of(m, "behaviour")
        )
    if role is Role.CHF:
        for key in ("install_code", "hub", "supplier"):
            if key in m:
                r.problem(m.lines[key], join(path, key), f"a chf has no {key.replace('_', ' ')}")
        if "gpf_eui" not in m:
            r.problem(
                m.line, join(path, "gpf_eui"), "missing: a chf hosts the GPF and needs its EUI"
            )
    elif role is not None:
        for key in ("gpf_eui", "han"):
            if key in m:
                r.problem(m.lines[key], join(path, key), f"only a chf has {key}")
        if "install_code" not in m:
            r.problem(
                m.line,
                join(path, "install_code"),
                f"missing: a {role.value} joins the HAN with its install code",
            )
        if supplier is not None and role not in (Role.ESME, Role.GSME):
            r.problem(
                m.lines["supplier"],
                join(path, "supplier"),
                "only a meter (esme, gsme) has a responsible supplier",
            )
    if name is None or role is None or eui is None:
        return None
    return Node(
        name=name,
        role=role,
        eui=eui,
        placement=placement,
        radio=radio,
        gpio=gpio,
        install_code=install_code,
        hub=hub,
        gpf_eui=gpf_eui,
        han=han,
        supplier=supplier,
        health_port=health_port or 8470,
        behaviour=behaviour,
        boxed=install == "boxed",
        dcc_controlled=bool(dcc_controlled),
        line=line,
        index=index_of(path),
    )


def _placement(r: Reader, v: Any, path: str, line: int) -> Placement:
    if v in (None, "virtual"):
        return Placement(virtual=True)
    if isinstance(v, str):
        r.problem(line, path, f"{v!r}: write 'virtual' or a mapping with address and ssh_user")
        return Placement(virtual=True)
    m = r.mapping(v, path, line, {"address", "ssh_user", "ssh_port", "host_key"})
    return Placement(
        virtual=False,
        address=r.field(m, "address", path, to_address),
        ssh_user=r.field(m, "ssh_user", path, to_text),
        ssh_port=r.field(m, "ssh_port", path, int_in(1, 65535, "an SSH port"), default=22) or 22,
        host_key=r.field(m, "host_key", path, to_host_key, default=None),
    )


def _radio(r: Reader, v: Any, path: str, line: int, placement: Placement) -> Radio:
    m = r.mapping(v, path, line, {"type", "device", "baudrate"})
    rtype = r.field(m, "type", path, enum_of(RadioType, "radio type"), default=RadioType.SIM)
    device = r.field(m, "device", path, to_text, default=None)
    baud = r.field(m, "baudrate", path, int_in(9600, 2_000_000, "a baud rate"), default=None)
    if rtype is not None and rtype is not RadioType.SIM:
        if placement.virtual:
            r.problem(
                r.line_of(m, "type"),
                join(path, "type"),
                "a virtual node has no radio stick; use type: sim (or place it on a Pi)",
            )
        elif device is None:
            r.problem(
                m.line,
                join(path, "device"),
                f"an {rtype.value} radio needs its serial device, e.g. /dev/ttyUSB0",
            )
    return Radio(type=rtype or RadioType.SIM, device=device, baudrate=baud)


def _gpio(r: Reader, v: Any, path: str, line: int, role: Role | None) -> Gpio:
    m = r.mapping(v, path, line, {"relay", "valve", "leds", "buttons"})
    own_output = _GPIO_OUTPUTS.get(role) if role is not None else None
    for output in ("relay", "valve"):
        if output in m and own_output != output:
            owner = "an esme" if output == "relay" else "a gsme"
            r.problem(
                m.lines[output],
                join(path, output),
                f"only {owner} has a {output}, not this {role.value if role else 'node'}",
            )
    groups: dict[str, dict[str, str]] = {}
    for group in ("leds", "buttons"):
        gpath = join(path, group)
        raw = m.get(group)
        labels = set(raw) if isinstance(raw, LocatedDict) else set()
        g = r.mapping(raw, gpath, r.line_of(m, group), labels)
        out: dict[str, str] = {}
        for label in g:
            if not _LABEL.fullmatch(str(label)):
                r.problem(
                    g.lines[label],
                    join(gpath, str(label)),
                    "a label is lower-case letters, digits and '_'",
                )
                continue
            out[label] = r.field(g, label, gpath, to_pin) or ""
        groups[group] = out
    gpio = Gpio(
        relay=r.field(m, "relay", path, to_pin, default=None),
        valve=r.field(m, "valve", path, to_pin, default=None),
        leds=groups["leds"],
        buttons=groups["buttons"],
    )
    seen: dict[str, str] = {}
    for function, pin in gpio.pins().items():
        if not pin:
            continue
        if pin in seen:
            r.problem(m.line, path, f"pin {pin} is wired to both {seen[pin]} and {function}")
        seen[pin] = function
    return gpio


_CHOICES = {"status": _STATUSES, "payment_mode": ("prepayment", "credit")}


_FIRMWARE_VERSION_HINT = (
    "expected a quoted version of 8 hex digits ('0123ABCD', as DUIS writes one) or a dotted "
    "one ('1.2.3'); unquoted, YAML reads 00000001 as a number"
)


def _firmware_version(value: str) -> str | None:
    """The version as GBCS and DUIS carry it (8 hex digits, upper case), or None."""
    # imported here: the GBCS codecs (and zigpy under them) would slow every `rig` command
    from rig.protocol.gbcs.catalogue_firmware import normal_version

    try:
        return normal_version(value)
    except ValueError:
        return None


def _behaviour(r: Reader, m: Any, path: str, line: int | None) -> dict[str, Any]:
    m = r.mapping(m, path, line, set(_BEHAVIOUR))
    out: dict[str, Any] = {}
    for key, kind in _BEHAVIOUR.items():
        if key not in m:
            continue
        value = m[key]
        if kind is bool and not isinstance(value, bool):
            r.problem(m.lines[key], join(path, key), "expected true or false")
        elif key == "firmware_version":
            version = _firmware_version(value) if isinstance(value, str) else None
            if version is None:
                r.problem(m.lines[key], join(path, key), _FIRMWARE_VERSION_HINT)
            else:
                out[key] = version
        elif kind is str and value not in _CHOICES[key]:
            r.problem(m.lines[key], join(path, key), f"expected one of {', '.join(_CHOICES[key])}")
        elif kind is float and (
            isinstance(value, bool) or not isinstance(value, int | float) or value < 0
        ):
            r.problem(m.lines[key], join(path, key), "expected a number >= 0")
        else:
            out[key] = value
    return out
