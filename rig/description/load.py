"""Validate a rig description (YAML) into typed records.

Every problem is collected, not just the first, and each names the file, the
line and the field (``nodes[2].eui``), with what to write instead.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from rig.description.errors import DescriptionError, Problem
from rig.description.located import LocatedDict, LocatedList, YamlSyntaxError, load_located
from rig.description.model import (
    AUTO,
    AirSettings,
    GatewaySettings,
    Gpio,
    HanSettings,
    Isolation,
    Node,
    PkiSettings,
    Placement,
    Port,
    Radio,
    RadioType,
    Rig,
    Role,
    User,
    UserRole,
    VirtualSettings,
    Wan,
)
from rig.protocol.eui import Eui64, EuiError
from rig.protocol.install_code import InstallCodeError, parse_install_code

DEFAULT_RIG_PATH = Path(__file__).with_name("default.yaml")
T = TypeVar("T")

_NAME = re.compile(r"[a-z][a-z0-9-]{0,15}")
_PIN = re.compile(r"(GPIO|BCM)\d{1,2}|BOARD\d{1,2}|J8:\d{1,2}|\d{1,2}")
_LABEL = re.compile(r"[a-z][a-z0-9_]*")
_ZIGBEE_CHANNELS = range(11, 27)
_GPIO_OUTPUTS = {Role.ESME: "relay", Role.GSME: "valve"}


class _Reader:
    """Walks located YAML, converting fields and collecting problems."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, line: int | None, path: str, message: str) -> None:
        self.problems.append(Problem(self.file, line, path, message))

    def mapping(self, value: Any, path: str, line: int | None, known: set[str]) -> LocatedDict:
        if value is None:
            value = LocatedDict()
            value.line, value.lines = line or 1, {}
        if not isinstance(value, LocatedDict):
            self.problem(line, path, f"expected a mapping, got {_kind(value)}")
            value = LocatedDict()
            value.line, value.lines = line or 1, {}
            return value
        for key in value:
            if key not in known:
                hint = _closest(str(key), known)
                self.problem(
                    value.lines[key],
                    _join(path, str(key)),
                    "unknown field"
                    + (
                        f"; did you mean {hint!r}?"
                        if hint
                        else f"; known fields: {', '.join(sorted(known))}"
                    ),
                )
        return value

    def field(
        self,
        m: LocatedDict,
        key: str,
        path: str,
        convert: Callable[[Any], T],
        *,
        default: Any = ...,
    ) -> T | None:
        """Convert ``m[key]``; a missing required field or a conversion error is a problem."""
        fpath = _join(path, key)
        if key not in m:
            if default is ...:
                self.problem(m.line, fpath, "missing (required)")
                return None
            return default
        try:
            return convert(m[key])
        except (ValueError, TypeError, KeyError) as exc:
            self.problem(m.lines.get(key, m.line), fpath, str(exc))
            return None

    def line_of(self, m: LocatedDict, key: str) -> int:
        return m.lines.get(key, m.line)


def _kind(value: Any) -> str:
    for typ, word in ((dict, "a mapping"), (list, "a list"), (str, "text"), (int, "a number")):
        if isinstance(value, typ):
            return f"{word} ({value!r})" if typ in (str, int) else word
    return type(value).__name__


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _closest(word: str, options: set[str]) -> str | None:
    hits = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.6)
    return hits[0] if hits else None


# --- scalar converters --------------------------------------------------------


def _text(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ValueError(f"expected text, got {v!r}")
    return v.strip()


def _name(v: Any) -> str:
    v = _text(v)
    if not _NAME.fullmatch(v):
        raise ValueError(
            f"{v!r} is not a valid name: use 1-16 lower-case letters, digits or '-', "
            "starting with a letter (it names processes, namespaces and hosts)"
        )
    return v


def _eui(v: Any) -> Eui64:
    try:
        return Eui64.parse(v if isinstance(v, str) else str(v))
    except EuiError as exc:
        raise ValueError(str(exc)) from None


def _int_in(lo: int, hi: int, what: str) -> Callable[[Any], int]:
    def convert(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            if isinstance(v, str):
                try:
                    v = int(v, 0)
                except ValueError:
                    raise ValueError(f"{v!r} is not a number") from None
            else:
                raise ValueError(f"expected a number, got {v!r}")
        if not lo <= v <= hi:
            raise ValueError(f"{v} is out of range for {what} ({lo}..{hi})")
        return v

    return convert


def _port(v: Any) -> Port:
    if v == AUTO or v is None:
        return None
    return _int_in(1, 65535, "a TCP/UDP port")(v)


def _enum(enum: type[T], what: str) -> Callable[[Any], T]:
    def convert(v: Any) -> T:
        try:
            return enum(v)  # type: ignore[call-arg]
        except ValueError:
            choices = ", ".join(e.value for e in enum)  # type: ignore[attr-defined]
            raise ValueError(f"unknown {what} {v!r}; one of: {choices}") from None

    return convert


def _pin(v: Any) -> str:
    text = str(v).strip()
    if not _PIN.fullmatch(text):
        raise ValueError(
            f"{v!r} is not a gpiozero pin name; write e.g. GPIO17, BCM17, BOARD11 or J8:11"
        )
    return text


def _install_code(v: Any) -> bytes:
    try:
        return parse_install_code(str(v))
    except InstallCodeError as exc:
        raise ValueError(str(exc)) from None


def _address(v: Any) -> str:
    text = _text(v)
    try:
        ipaddress.ip_address(text)
    except ValueError:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]*", text):
            raise ValueError(f"{text!r} is neither an IP address nor a host name") from None
    return text


# --- sections -----------------------------------------------------------------


def _han(r: _Reader, m: Any, path: str, line: int) -> HanSettings | None:
    m = r.mapping(m, path, line, {"channel", "pan_id"})
    channel = r.field(m, "channel", path, _int_in(11, 26, "a 2.4 GHz Zigbee channel"), default=15)
    pan_id = r.field(m, "pan_id", path, _int_in(0x0001, 0xFFFE, "a PAN ID"), default=0x1A62)
    if channel is None or pan_id is None:
        return None
    return HanSettings(channel=channel, pan_id=pan_id)


def _placement(r: _Reader, v: Any, path: str, line: int) -> Placement:
    if v in (None, "virtual"):
        return Placement(virtual=True)
    if isinstance(v, str):
        r.problem(line, path, f"{v!r}: write 'virtual' or a mapping with address and ssh_user")
        return Placement(virtual=True)
    m = r.mapping(v, path, line, {"address", "ssh_user", "ssh_port", "host_key"})
    return Placement(
        virtual=False,
        address=r.field(m, "address", path, _address),
        ssh_user=r.field(m, "ssh_user", path, _text),
        ssh_port=r.field(m, "ssh_port", path, _int_in(1, 65535, "an SSH port"), default=22) or 22,
        host_key=r.field(m, "host_key", path, _host_key, default=None),
    )


def _host_key(v: Any) -> str:
    """An OpenSSH public host key, ``TYPE BASE64`` (what ``ssh-keyscan`` prints after the host)."""
    parts = str(v).split()
    if len(parts) < 2 or not parts[0].startswith(("ssh-", "ecdsa-")):
        raise ValueError(
            f"{v!r} is not an SSH host key; write e.g. 'ssh-ed25519 AAAAC3...' as printed "
            "by `ssh-keyscan -t ed25519 ADDRESS` (check it against the Pi's console)"
        )
    return " ".join(parts[:2])


def _radio(r: _Reader, v: Any, path: str, line: int, placement: Placement) -> Radio:
    m = r.mapping(v, path, line, {"type", "device", "baudrate"})
    rtype = r.field(m, "type", path, _enum(RadioType, "radio type"), default=RadioType.SIM)
    device = r.field(m, "device", path, _text, default=None)
    baud = r.field(m, "baudrate", path, _int_in(9600, 2_000_000, "a baud rate"), default=None)
    if rtype is not None and rtype is not RadioType.SIM:
        if placement.virtual:
            r.problem(
                r.line_of(m, "type"),
                _join(path, "type"),
                "a virtual node has no radio stick; use type: sim (or place it on a Pi)",
            )
        elif device is None:
            r.problem(
                m.line,
                _join(path, "device"),
                f"an {rtype.value} radio needs its serial device, e.g. /dev/ttyUSB0",
            )
    return Radio(type=rtype or RadioType.SIM, device=device, baudrate=baud)


def _gpio(r: _Reader, v: Any, path: str, line: int, role: Role | None) -> Gpio:
    m = r.mapping(v, path, line, {"relay", "valve", "leds", "buttons"})
    for output in ("relay", "valve"):
        if output in m and _GPIO_OUTPUTS.get(role) != output:  # type: ignore[arg-type]
            owner = "an esme" if output == "relay" else "a gsme"
            r.problem(
                m.lines[output],
                _join(path, output),
                f"only {owner} has a {output}, not this {role.value if role else 'node'}",
            )
    groups: dict[str, dict[str, str]] = {}
    for group in ("leds", "buttons"):
        gpath = _join(path, group)
        g = r.mapping(m.get(group), gpath, r.line_of(m, group), set(m.get(group) or ()))
        out: dict[str, str] = {}
        for label in g:
            if not _LABEL.fullmatch(str(label)):
                r.problem(
                    g.lines[label],
                    _join(gpath, str(label)),
                    "a label is lower-case letters, digits and '_'",
                )
                continue
            out[label] = r.field(g, label, gpath, _pin) or ""
        groups[group] = out
    gpio = Gpio(
        relay=r.field(m, "relay", path, _pin, default=None),
        valve=r.field(m, "valve", path, _pin, default=None),
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
}
_BEHAVIOUR = {
    "loopback": bool,  # answer each tunnelled GBCS message with itself (a HAN link test)
    "load_w": float,  # ESME: the load its registers advance with
    "wake_interval_s": float,  # GSME: how long it sleeps between wakes
    "flow_m3h": float,  # GSME: the gas flow its register advances with
    "display_interval_s": float,  # IHD/PPMID: how often they read the meters
    "status": str,  # the device's status in the DCC's inventory (default Commissioned)
}
_STATUSES = (
    "Commissioned",
    "InstalledNotCommissioned",
    "Whitelisted",
    "Decommissioned",
    "Suspended",
    "Withdrawn",
)


def _behaviour(r: _Reader, m: Any, path: str, line: int | None) -> dict[str, Any]:
    m = r.mapping(m, path, line, set(_BEHAVIOUR))
    out: dict[str, Any] = {}
    for key, kind in _BEHAVIOUR.items():
        if key not in m:
            continue
        value = m[key]
        if kind is bool and not isinstance(value, bool):
            r.problem(m.lines[key], _join(path, key), "expected true or false")
        elif kind is str and value not in _STATUSES:
            r.problem(m.lines[key], _join(path, key), f"expected one of {', '.join(_STATUSES)}")
        elif kind is float and (
            isinstance(value, bool) or not isinstance(value, int | float) or value < 0
        ):
            r.problem(m.lines[key], _join(path, key), "expected a number >= 0")
        else:
            out[key] = value
    return out


def _node(r: _Reader, m: Any, path: str, line: int) -> Node | None:
    m = r.mapping(m, path, line, _NODE_FIELDS)
    name = r.field(m, "name", path, _name)
    role = r.field(m, "role", path, _enum(Role, "role"))
    eui = r.field(m, "eui", path, _eui)
    placement = _placement(r, m.get("host"), _join(path, "host"), r.line_of(m, "host"))
    radio = _radio(r, m.get("radio"), _join(path, "radio"), r.line_of(m, "radio"), placement)
    gpio = _gpio(r, m.get("gpio"), _join(path, "gpio"), r.line_of(m, "gpio"), role)
    install_code = r.field(m, "install_code", path, _install_code, default=None)
    gpf_eui = r.field(m, "gpf_eui", path, _eui, default=None)
    han = None
    if "han" in m:
        han = _han(r, m["han"], _join(path, "han"), r.line_of(m, "han"))
    hub = r.field(m, "hub", path, _name, default=None)
    supplier = r.field(m, "supplier", path, _text, default=None)
    health_port = r.field(m, "health_port", path, _int_in(1, 65535, "a TCP port"), default=8470)
    behaviour = {}
    if "behaviour" in m:
        behaviour = _behaviour(
            r, m["behaviour"], _join(path, "behaviour"), r.line_of(m, "behaviour")
        )
    if role is Role.CHF:
        for key in ("install_code", "hub", "supplier"):
            if key in m:
                r.problem(m.lines[key], _join(path, key), f"a chf has no {key.replace('_', ' ')}")
        if "gpf_eui" not in m:
            r.problem(
                m.line, _join(path, "gpf_eui"), "missing: a chf hosts the GPF and needs its EUI"
            )
    elif role is not None:
        for key in ("gpf_eui", "han"):
            if key in m:
                r.problem(m.lines[key], _join(path, key), f"only a chf has {key}")
        if "install_code" not in m:
            r.problem(
                m.line,
                _join(path, "install_code"),
                f"missing: a {role.value} joins the HAN with its install code",
            )
        if supplier is not None and role not in (Role.ESME, Role.GSME):
            r.problem(
                m.lines["supplier"],
                _join(path, "supplier"),
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
        line=line,
        index=_index(path),
    )


def _user(r: _Reader, m: Any, path: str, line: int) -> User | None:
    m = r.mapping(m, path, line, {"name", "eui", "role", "receive_url"})
    name = r.field(m, "name", path, _text)
    eui = r.field(m, "eui", path, _eui)
    role = r.field(m, "role", path, _enum(UserRole, "DUIS user role"))
    url = r.field(m, "receive_url", path, _url, default=None)
    if name is None or eui is None or role is None:
        return None
    return User(name=name, eui=eui, role=role, receive_url=url, line=line, index=_index(path))


def _index(path: str) -> int:
    return int(path[path.index("[") + 1 : path.index("]")])


def _url(v: Any) -> str | None:
    if v == AUTO:
        return None
    text = _text(v)
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", text):
        raise ValueError(f"{text!r} is not an http(s) URL")
    return text


def _seq(r: _Reader, v: Any, path: str, line: int) -> list[tuple[Any, str, int]]:
    if v is None:
        return []
    if not isinstance(v, LocatedList):
        r.problem(line, path, f"expected a list, got {_kind(v)}")
        return []
    return [(item, f"{path}[{i}]", v.lines[i]) for i, item in enumerate(v)]


# --- cross-checks ---------------------------------------------------------------


def _cross_check(r: _Reader, rig: Rig, raw: LocatedDict) -> Rig:
    """Check what spans sections; fill in a device's hub and a meter's supplier where
    the rig leaves no choice. Returns the completed rig."""
    hubs = {n.name: n for n in rig.hubs}
    names: dict[str, int | None] = {}
    euis: dict[bytes, str] = {}

    def claim_eui(eui: Eui64 | None, owner: str, line: int | None, field: str) -> None:
        if eui is None:
            return
        if eui.raw in euis:
            r.problem(line, field, f"EUI {eui} is already used by {euis[eui.raw]}")
        else:
            euis[eui.raw] = owner

    claim_eui(rig.acb_eui, "the DCC access control broker", raw.lines.get("dcc"), "dcc.acb_eui")
    resolved: list[Node] = []
    for node in rig.nodes:
        path = f"nodes[{node.index}]"
        if node.name in names:
            r.problem(
                node.line,
                f"{path}.name",
                f"node name {node.name!r} is already used on line {names[node.name]}",
            )
        names[node.name] = node.line
        claim_eui(node.eui, f"node {node.name}", node.line, f"{path}.eui")
        claim_eui(node.gpf_eui, f"the GPF of {node.name}", node.line, f"{path}.gpf_eui")
        if node.role is not Role.CHF and node.hub is None and len(hubs) == 1:
            node = replace(node, hub=next(iter(hubs)))
        resolved.append(node)
        if node.role is Role.CHF:
            continue
        if node.hub is None:
            if not hubs:
                what = "gas meter talks to the GPF" if node.role is Role.GSME else "device joins"
                r.problem(
                    node.line,
                    f"{path}.role",
                    f"a {node.role.value} needs a chf on the rig (the {what} on the "
                    "CHF's HAN); add a node with role: chf",
                )
            else:
                r.problem(
                    node.line,
                    f"{path}.hub",
                    f"the rig has {len(hubs)} hubs; name the one this "
                    f"{node.role.value} joins: hub: {' | '.join(hubs)}",
                )
        elif node.hub not in hubs:
            r.problem(node.line, f"{path}.hub", f"{node.hub!r} is not a chf node on this rig")
    rig = replace(rig, nodes=tuple(resolved))
    for hub in rig.hubs:
        for role in (Role.ESME, Role.GSME):
            meters = [n.name for n in rig.devices_of(hub) if n.role is role]
            if len(meters) > 1:
                r.problem(
                    hub.line,
                    "nodes",
                    f"hub {hub.name} has {len(meters)} "
                    f"{role.value}s ({', '.join(meters)}); a GB home has at most one",
                )
    seen_pans: dict[tuple[int, int], str] = {}
    for hub in rig.hubs:
        han = rig.han_of(hub)
        key = (han.channel, han.pan_id)
        if key in seen_pans:
            r.problem(
                hub.line,
                "han",
                f"hubs {seen_pans[key]} and {hub.name} would form two "
                f"networks with PAN ID {han.pan_id:04X} on channel {han.channel}",
            )
        seen_pans[key] = hub.name

    users_by_name: dict[str, User] = {}
    for user in rig.users:
        path = f"users[{user.index}]"
        if user.name in users_by_name:
            r.problem(user.line, f"{path}.name", f"DCC User {user.name!r} is listed twice")
        users_by_name[user.name] = user
        claim_eui(user.eui, f"DCC User {user.name!r}", user.line, f"{path}.eui")
    for role, what in ((UserRole.IS, "import supplier (IS)"), (UserRole.GS, "gas supplier (GS)")):
        if not any(u.role is role for u in rig.users):
            r.problem(raw.lines.get("users", 1), "users", f"the rig needs a {what} DCC User")
    if not any(u.role in (UserRole.ED, UserRole.GT) for u in rig.users):
        r.problem(
            raw.lines.get("users", 1),
            "users",
            "the rig needs a network operator DCC User (role ED or GT)",
        )
    resolved = []
    for node in rig.nodes:
        path = f"nodes[{node.index}].supplier"
        wanted = {Role.ESME: UserRole.IS, Role.GSME: UserRole.GS}.get(node.role)
        candidates = [u for u in rig.users if u.role is wanted]
        if wanted is not None and node.supplier is None and len(candidates) == 1:
            node = replace(node, supplier=candidates[0].name)
        resolved.append(node)
        if wanted is None:
            continue
        if node.supplier is None:
            if len(candidates) > 1:
                r.problem(
                    node.line, path, f"several {wanted.value} users; name this meter's supplier"
                )
        elif node.supplier not in users_by_name:
            r.problem(node.line, path, f"no DCC User named {node.supplier!r}")
        elif users_by_name[node.supplier].role is not wanted:
            r.problem(
                node.line,
                path,
                f"{node.supplier!r} is "
                f"{users_by_name[node.supplier].role.value}, not {wanted.value}",
            )

    ports: dict[int, str] = {}
    for field_name, port in (
        ("wan.broker_port", rig.wan.broker_port),
        ("gateway.duis_port", rig.gateway.duis_port),
        ("gateway.smki_port", rig.gateway.smki_port),
        ("air.control_port", rig.air.control_port),
    ):
        if port is None:
            continue
        if port in ports:
            section, key = field_name.split(".")
            sect = raw.get(section)
            line = sect.lines.get(key) if isinstance(sect, LocatedDict) else raw.lines.get(section)
            r.problem(
                line,
                field_name,
                f"port {port} is also {ports[port]}; the controller cannot listen twice",
            )
        else:
            ports[port] = field_name
    return replace(rig, nodes=tuple(resolved))


# --- entry points -----------------------------------------------------------------

_TOP = {"name", "han", "nodes", "users", "dcc", "wan", "gateway", "air", "virtual", "pki"}


def parse_rig(text: str, file: str = "<rig>", base_dir: Path | None = None) -> Rig:
    """Validate description text; ``file`` and ``base_dir`` are for messages and paths."""
    try:
        raw = load_located(text)
    except YamlSyntaxError as exc:
        raise DescriptionError([Problem(file, exc.line, "", f"not valid YAML: {exc}")]) from None
    r = _Reader(file)
    top = r.mapping(raw, "", 1, _TOP)
    name = r.field(top, "name", "", _name, default="rig")
    han = _han(r, top.get("han"), "han", r.line_of(top, "han"))
    nodes = [
        _node(r, item, path, line)
        for item, path, line in _seq(r, top.get("nodes"), "nodes", r.line_of(top, "nodes"))
    ]
    users = [
        _user(r, item, path, line)
        for item, path, line in _seq(r, top.get("users"), "users", r.line_of(top, "users"))
    ]
    if not top.get("nodes"):
        r.problem(r.line_of(top, "nodes"), "nodes", "a rig needs at least one node (a chf)")

    dcc = r.mapping(top.get("dcc"), "dcc", r.line_of(top, "dcc"), {"acb_eui"})
    acb = r.field(dcc, "acb_eui", "dcc", _eui, default=Eui64.parse("90-B3-D5-1F-30-00-00-02"))

    wan_m = r.mapping(top.get("wan"), "wan", r.line_of(top, "wan"), {"broker_port", "address"})
    wan = Wan(
        broker_port=r.field(wan_m, "broker_port", "wan", _port, default=None),
        address=r.field(wan_m, "address", "wan", _address, default=None),
    )
    gw_m = r.mapping(
        top.get("gateway"), "gateway", r.line_of(top, "gateway"), {"bind", "duis_port", "smki_port"}
    )
    gateway = GatewaySettings(
        bind=r.field(gw_m, "bind", "gateway", _address, default="127.0.0.1") or "127.0.0.1",
        duis_port=r.field(gw_m, "duis_port", "gateway", _port, default=8079),
        smki_port=r.field(gw_m, "smki_port", "gateway", _port, default=8083),
    )
    air_m = r.mapping(top.get("air"), "air", r.line_of(top, "air"), {"zep_port", "control_port"})
    air = AirSettings(
        zep_port=r.field(air_m, "zep_port", "air", _port, default=17754),
        control_port=r.field(air_m, "control_port", "air", _port, default=None),
    )
    v_m = r.mapping(
        top.get("virtual"), "virtual", r.line_of(top, "virtual"), {"subnet", "isolation"}
    )
    virtual = VirtualSettings(
        subnet=r.field(v_m, "subnet", "virtual", _subnet, default=VirtualSettings().subnet)
        or VirtualSettings().subnet,
        isolation=r.field(
            v_m, "isolation", "virtual", _enum(Isolation, "isolation"), default=Isolation.AUTO
        )
        or Isolation.AUTO,
    )
    pki_m = r.mapping(top.get("pki"), "pki", r.line_of(top, "pki"), {"source", "keystore"})
    source = r.field(pki_m, "source", "pki", _choice("generate", "zaz1"), default="generate")
    keystore = r.field(pki_m, "keystore", "pki", _text, default=None)
    keystore_path = None
    if keystore:
        keystore_path = Path(keystore)
        if not keystore_path.is_absolute() and base_dir is not None:
            keystore_path = (base_dir / keystore_path).resolve()
    if source == "zaz1" and keystore is None:
        r.problem(
            pki_m.line,
            "pki.keystore",
            "source zaz1 needs the keystore.json path, e.g. "
            "../shared/vectors/smki/zaz1-keystore.json",
        )

    rig = Rig(
        name=name or "rig",
        source=file,
        han=han or HanSettings(15, 0x1A62),
        nodes=tuple(n for n in nodes if n),
        users=tuple(u for u in users if u),
        acb_eui=acb or Eui64.parse("90-B3-D5-1F-30-00-00-02"),
        wan=wan,
        gateway=gateway,
        air=air,
        virtual=virtual,
        pki=PkiSettings(source=source or "generate", keystore=keystore_path),
    )
    rig = _cross_check(r, rig, top)
    if r.problems:
        raise DescriptionError(r.problems)
    return rig


def _subnet(v: Any) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.IPv4Network(str(v), strict=True)
    except ValueError as exc:
        raise ValueError(f"{v!r} is not an IPv4 subnet like 10.213.0.0/24: {exc}") from None
    if net.num_addresses < 16:
        raise ValueError(f"{net} is too small for a rig; use a /28 or larger")
    return net


def _choice(*options: str) -> Callable[[Any], str]:
    def convert(v: Any) -> str:
        if v not in options:
            raise ValueError(f"{v!r} is not one of: {', '.join(options)}")
        return v

    return convert


def load_rig(path: str | Path | None = None) -> Rig:
    """Load a description file, or the built-in virtual rig when ``path`` is None."""
    if path is None:
        return default_rig()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise DescriptionError(
            [Problem(str(p), None, "", f"cannot read: {exc.strerror}")]
        ) from None
    return parse_rig(text, file=str(p), base_dir=p.resolve().parent)


def default_rig() -> Rig:
    """The built-in virtual rig: one CHF (with GPF), ESME, GSME, IHD and PPMID."""
    return parse_rig(
        DEFAULT_RIG_PATH.read_text(encoding="utf-8"),
        file=str(DEFAULT_RIG_PATH),
        base_dir=DEFAULT_RIG_PATH.parent,
    )
