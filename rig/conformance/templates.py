"""A DCC DUIS template adapted to the rig: RTDS's device EUIs replaced by the rig's nodes of
the same device type (in the RequestID target and in the body's texts), sent by an eligible
DCC User of the rig (the template's own when it has it and may send the SRV).

Templates are named ``<use case>_<SRV>_<case words>_REQUEST_DUIS.XML`` (non-device ones
``<SRV>_<NAME>_REQUEST_DUIS.XML``); their devices are RTDS's ``00-DB-12-34-56-78-90-A0``
(ESME) to ``-A6``, their DCC ``90-B3-D5-1F-30-00-00-02``.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from gateway.eligibility import NETWORK_ROLES, fuel_roles
from rig.dccuser.tasks import default_user
from rig.description.model import Node, Rig, Role, User
from rig.protocol.duis.message import DuisError, Request, parse_document
from rig.protocol.duis.srv import Srv, SrvTable
from rig.protocol.duis.xml import SR
from rig.protocol.eui import Eui64
from rig.state import StateDir

SUFFIX = "_REQUEST_DUIS.XML"
RTDS_DCC = Eui64.parse("90-B3-D5-1F-30-00-00-02")
# RTDS's devices as the templates address them: (device type, which of the rig's nodes of
# that type: the first, the second); "gpf" is the GPF its CHF hosts
RTDS_DEVICES: dict[Eui64, tuple[str, int]] = {
    Eui64.parse("00-DB-12-34-56-78-90-A0"): ("esme", 0),
    Eui64.parse("00-DB-12-34-56-78-90-A1"): ("gsme", 0),
    Eui64.parse("00-DB-12-34-56-78-90-A2"): ("chf", 0),
    Eui64.parse("00-DB-12-34-56-78-90-A3"): ("gpf", 0),
    Eui64.parse("00-DB-12-34-56-78-90-A4"): ("ppmid", 0),
    Eui64.parse("00-DB-12-34-56-78-90-A5"): ("ihd", 0),
    # RTDS's second ESME (its ECS46d future-dated and cancelled auxiliary controller
    # schedules and their 8F66 alerts; ESME keys): the rig's ESME
    Eui64.parse("00-DB-12-34-56-78-90-A6"): ("esme", 0),
}
# the other devices RTDS's templates name in their bodies (a join's OtherDeviceID, the old
# hub of 8.12): the rig's device of the kind that pairs with the target, as the use case has
# it (CS03A1: a meter joins a PPMID; CS03A2: the PPMID or IHD joins the meter; CS03B: the
# GSME joins an IHD; CS03C: the GSME and the PPMID; CS04AC: the ESME leaves the PPMID). 8.12's
# old hub and GPF are left as RTDS has them: the DCC holds no log of theirs (E19), as a rig
# with one hub cannot restore a failed one's
RTDS_OTHER_DEVICES: dict[Eui64, tuple[str, int]] = {
    Eui64.parse("00-DB-12-34-56-78-90-9A"): ("ppmid", 0),
    Eui64.parse("00-DB-12-34-56-78-90-93"): ("esme", 0),
    Eui64.parse("00-DB-12-34-56-78-90-9C"): ("ihd", 0),
    Eui64.parse("00-DB-12-34-56-78-90-98"): ("ppmid", 0),
    Eui64.parse("00-DB-12-34-56-78-90-94"): ("gsme", 0),
    Eui64.parse("00-DB-12-34-56-78-90-99"): ("ppmid", 0),
}
# SRVs whose device must be one the DCC does not hold yet (12.2 pre-notifies it), or one
# the runner pre-notifies first, so that the rig's own devices keep their status: 8.4's
# DeleteDevice takes a Pending device, 8.14.x a hub not yet installed or commissioned
FRESH_DEVICE_SRVS = {"12.2": False, "8.4": True, "8.14.1": True, "8.14.2": True,
                     "8.14.3": True, "8.14.4": True}  # fmt: skip
# the roles that can act for a device of each fuel
DEVICE_ROLES = {kind: fuel_roles(kind.upper()) for kind in ("esme", "gsme", "gpf")}


class TemplateError(ValueError):
    """A template that cannot be read or adapted; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Template:
    path: Path
    request: Request

    @classmethod
    def load(cls, path: Path) -> Template:
        try:
            doc = parse_document(path.read_bytes())
        except (DuisError, ValueError) as exc:
            raise TemplateError(f"{path.name} is not a DUIS request: {exc}") from None
        if not isinstance(doc, Request):
            raise TemplateError(f"{path.name} is a DUIS response, not a request")
        return cls(path, doc)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def use_case(self) -> str | None:
        """The GBCS use case the name starts with (``ECS17b``); None for a non-device one."""
        first = self.name.split("_", 1)[0]
        return None if first[:1].isdigit() else first

    @property
    def case_words(self) -> tuple[str, ...]:
        """The words naming the case: ``SINGLE``, ``SUCCESS`` of ``ECS17b_4.1.1_SINGLE_...``."""
        stem = self.name.removesuffix(SUFFIX).split("_")
        return tuple(w for w in stem[2:] if w) if self.use_case else ()


def template_files(folder: Path, only: Sequence[str] = ()) -> list[Path]:
    """The templates (``*.XML``) of ``folder`` whose name matches one of the globs ``only``
    (all of them when none is given)."""
    found = sorted(p for p in folder.iterdir() if p.is_file() and p.name.upper().endswith(".XML"))
    if only:
        found = [p for p in found if any(fnmatch.fnmatch(p.name, g) for g in only)]
    return found


# SRVs whose success changes what later templates meet (a device's inventory status, HAN
# membership, credentials, supplier or firmware): sent after all the others, in this order,
# the most far-reaching (decommissioning, a hub's fault return) last
LATE_SRVS = (
    "5.2",  # after 5.1 (ECS21a_5.1...), whose schedule they read and delete
    "5.3",
    "6.15.1",
    "6.15.2",
    "6.17",
    "6.21",
    "6.23",
    "8.1.1",
    "11.1",
    "11.3",
    "11.4",
    "8.7.1",
    "8.7.2",
    "8.8.1",
    "8.8.2",
    "8.11",
    "8.12.1",
    "8.12.2",
    "12.2",
    "8.4",
    "8.5",
    "8.6",
    "8.14.1",
    "8.14.2",
    "8.14.4",
    "8.3",
    "8.14.3",
)


def run_order(paths: Sequence[Path]) -> list[Path]:
    """``paths`` in the order a run sends them: by name, the LATE_SRVS after the rest."""

    def key(path: Path) -> tuple[int, str]:
        try:
            srv = Template.load(path).request.srv
        except TemplateError:
            return (0, path.name)
        late = LATE_SRVS.index(srv) + 1 if srv in LATE_SRVS else 0
        return (late, path.name)

    return sorted(paths, key=key)


def srv_family(srv: str) -> int:
    """The SRV's family: its first number (1 tariffs, 2 prepayment, ... 12)."""
    head = srv.split(".", 1)[0]
    return int(head) if head.isdigit() else 0


def _nodes_of(rig: Rig, kind: str) -> list[tuple[str, Eui64]]:
    """(name, EUI) of the rig's devices of ``kind``, installed ones before boxed ones."""
    nodes: list[Node] = sorted(rig.nodes, key=lambda n: n.boxed)
    if kind == "gpf":
        return [(f"{n.name}-gpf", n.gpf_eui) for n in nodes if n.gpf_eui is not None]
    return [(n.name, n.eui) for n in nodes if n.role is Role(kind)]


def device_map(rig: Rig) -> dict[Eui64, tuple[str, Eui64]]:
    """RTDS's device EUI -> (node name, EUI) of the rig's device of the same type; RTDS's
    DCC -> the rig's access control broker."""
    out: dict[Eui64, tuple[str, Eui64]] = {RTDS_DCC: ("dcc", rig.acb_eui)}
    for rtds, (kind, index) in (RTDS_DEVICES | RTDS_OTHER_DEVICES).items():
        nodes = _nodes_of(rig, kind)
        if index < len(nodes):
            out[rtds] = nodes[index]
    return out


def roles_of(user: User) -> tuple[str, ...]:
    """The user's DUIS roles (one, or several where the description lists them)."""
    return tuple(r.value for r in user.roles)


def may_send(user: User, srv: Srv, kind: str | None = None) -> bool:
    """The user holds a role eligible for ``srv`` that can act for a device of ``kind``
    (esme, gsme, gpf, chf, ...; None: any)."""
    fuel = DEVICE_ROLES.get(kind or "")
    return any(srv.allows(r) and (fuel is None or r in fuel) for r in roles_of(user))


@dataclass(frozen=True, slots=True)
class Adapted:
    """A template made ready for the rig: who sends it, to what, with which body."""

    template: Template
    srv: Srv
    user: str  # the rig's DCC User that sends it
    user_eui: Eui64
    target: Eui64  # the rig's device, the ACB for a non-device SRV, or RTDS's unmapped one
    target_node: str  # node name, "dcc", or the EUI when the rig has no such device
    body: etree._Element
    cv: str  # the command variant(s) the DCC User sends: "1", "4+5" or "8"
    # RTDS EUI -> the rig's, for the body and for RTDS's bytes (the originator's too)
    euis: dict[Eui64, Eui64] = field(default_factory=dict)
    # devices the runner pre-notifies (12.2) before it sends the template: (EUI, type)
    prenotify: tuple[tuple[Eui64, str], ...] = ()

    @property
    def template_cv(self) -> int:
        return self.template.request.command_variant


def _choose_user(
    rig: Rig, srv: Srv, named: Eui64, target: Eui64, kind: str | None, state: StateDir | None
) -> User:
    """The template's originator when the rig has it and it may send ``srv``; else the
    target's responsible user (a network operator for ED/GT-only SRVs), else any eligible
    user; else the responsible one, whom the DCC will refuse."""
    users = list(rig.users)
    own = next((u for u in users if u.eui == named), None)
    if own is not None and may_send(own, srv, kind):
        return own
    eligible = [u for u in users if may_send(u, srv, kind)]
    network_only = not srv.non_device and srv.roles <= NETWORK_ROLES
    if network_only and eligible:
        return eligible[0]
    responsible = None if srv.non_device else rig_user(rig, default_user(rig, target, state))
    if responsible is not None and may_send(responsible, srv, kind):
        return responsible
    if eligible:
        return eligible[0]
    return responsible or own or users[0]


def rig_user(rig: Rig, name: str) -> User | None:
    return next((u for u in rig.users if u.name == name), None)


def replace_euis(body: etree._Element, euis: dict[Eui64, Eui64]) -> etree._Element:
    """A copy of ``body`` with every exact occurrence of a mapped EUI (DUIS form) in its
    element texts replaced by the rig's."""
    out = etree.fromstring(etree.tostring(body))
    pairs = [(a.duis, b.duis) for a, b in euis.items() if a != b]
    for element in out.iter():
        if isinstance(element.tag, str) and element.text:
            text = element.text
            for old, new in pairs:
                text = text.replace(old, new)
            element.text = text
    return out


def adapt(template: Template, rig: Rig, table: SrvTable, state: StateDir | None = None) -> Adapted:
    """``template`` for ``rig``: target and body EUIs mapped, an eligible originator."""
    req = template.request
    try:
        srv = table.lookup(req.srv)
    except KeyError as exc:
        raise TemplateError(f"{template.name}: {exc.args[0]}") from None
    mapped = device_map(rig)
    devices = {rtds: eui for rtds, (_name, eui) in mapped.items()}
    if srv.non_device:
        target, target_node = rig.acb_eui, "dcc"
    elif req.request_id.target in mapped:
        target_node, target = mapped[req.request_id.target]
    else:
        target, target_node = req.request_id.target, req.request_id.target.duis
    kind = None if srv.non_device else RTDS_DEVICES.get(req.request_id.target, (None, 0))[0]
    user = _choose_user(rig, srv, req.request_id.originator, target, kind, state)
    cv = "8" if srv.non_device else "4+5" if srv.critical else "1"
    body = replace_euis(req.body, devices)
    prenotify: tuple[tuple[Eui64, str], ...] = ()
    if srv.variant in FRESH_DEVICE_SRVS:
        fresh, kind_of = fresh_device(), "CHF" if srv.variant.startswith("8.14") else "ESME"
        found = body.find(f"{{{SR}}}DeviceID")
        if found is not None:
            found.text = fresh.duis
        if FRESH_DEVICE_SRVS[srv.variant]:
            prenotify = ((fresh, kind_of),)
    return Adapted(
        template,
        srv,
        user.name,
        user.eui,
        target,
        target_node,
        body,
        cv,
        {**devices, req.request_id.originator: user.eui},
        prenotify,
    )


_fresh: list[int] = []


def fresh_device() -> Eui64:
    """An EUI-64 no rig device has and no earlier run used: 00-DB-12-34-5F then the time."""
    n = max(time.time_ns() // 1_000_000 & 0xFFFFFF, (_fresh[-1] + 1) if _fresh else 0)
    _fresh.append(n)
    return Eui64(bytes.fromhex("00DB12345F") + (n & 0xFFFFFF).to_bytes(3, "big"))
