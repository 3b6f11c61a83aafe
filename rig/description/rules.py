"""Rules that span sections of a rig description: names and EUIs used once, every
device on a hub, one home per hub, the DCC Users the rig needs, distinct ports.

A rule is a function ``rule(rig, raw, report)``: ``rig`` is the completed
:class:`~rig.description.model.Rig` (defaults filled in, see
:mod:`rig.description.defaults`), ``raw`` the located top-level mapping (for the
line of a section), ``report(line, field, message)`` records a problem. Rules
only read. To add one, write the function and list it in :data:`RULES`.
"""

from __future__ import annotations

from collections.abc import Callable

from rig.description.defaults import SUPPLIER_ROLE
from rig.description.located import LocatedDict
from rig.description.model import Rig, Role, UserRole
from rig.protocol.eui import Eui64

Report = Callable[[int | None, str, str], None]
"""Records a problem: ``report(line, field_path, message)``."""

Rule = Callable[[Rig, LocatedDict, Report], None]


def node_names_unique(rig: Rig, raw: LocatedDict, report: Report) -> None:
    """No two nodes share a name (it names processes, namespaces and hosts)."""
    names: dict[str, int | None] = {}
    for node in rig.nodes:
        if node.name in names:
            report(
                node.line,
                f"nodes[{node.index}].name",
                f"node name {node.name!r} is already used on line {names[node.name]}",
            )
        names[node.name] = node.line


def euis_unique(rig: Rig, raw: LocatedDict, report: Report) -> None:
    """No EUI is used twice across the ACB, the nodes, their GPFs and the DCC Users."""
    owners: dict[bytes, str] = {}

    def claim(eui: Eui64 | None, owner: str, line: int | None, field: str) -> None:
        if eui is None:
            return
        if eui.raw in owners:
            report(line, field, f"EUI {eui} is already used by {owners[eui.raw]}")
        else:
            owners[eui.raw] = owner

    claim(rig.acb_eui, "the DCC access control broker", raw.lines.get("dcc"), "dcc.acb_eui")
    for node in rig.nodes:
        path = f"nodes[{node.index}]"
        claim(node.eui, f"node {node.name}", node.line, f"{path}.eui")
        claim(node.gpf_eui, f"the GPF of {node.name}", node.line, f"{path}.gpf_eui")
    for user in rig.users:
        claim(user.eui, f"DCC User {user.name!r}", user.line, f"users[{user.index}].eui")


def devices_have_a_hub(rig: Rig, raw: LocatedDict, report: Report) -> None:
    """Every device joins a chf of this rig: there is one, and ``hub`` names it when
    there are several."""
    hubs = {n.name: n for n in rig.hubs}
    for node in rig.nodes:
        if node.role is Role.CHF:
            continue
        path = f"nodes[{node.index}]"
        if node.hub is None:
            if not hubs:
                what = "gas meter talks to the GPF" if node.role is Role.GSME else "device joins"
                report(
                    node.line,
                    f"{path}.role",
                    f"a {node.role.value} needs a chf on the rig (the {what} on the "
                    "CHF's HAN); add a node with role: chf",
                )
            else:
                report(
                    node.line,
                    f"{path}.hub",
                    f"the rig has {len(hubs)} hubs; name the one this "
                    f"{node.role.value} joins: hub: {' | '.join(hubs)}",
                )
        elif node.hub not in hubs:
            report(node.line, f"{path}.hub", f"{node.hub!r} is not a chf node on this rig")


def one_meter_of_each_kind_per_hub(rig: Rig, raw: LocatedDict, report: Report) -> None:
    """A hub serves one home: at most one installed esme and one gsme (a boxed one besides
    is the meter an installer is about to fit, e.g. a replacement)."""
    for hub in rig.hubs:
        for role in (Role.ESME, Role.GSME):
            meters = [n.name for n in rig.devices_of(hub) if n.role is role and not n.boxed]
            if len(meters) > 1:
                report(
                    hub.line,
                    "nodes",
                    f"hub {hub.name} has {len(meters)} "
                    f"{role.value}s ({', '.join(meters)}); a GB home has at most one",
                )


def hubs_form_distinct_hans(rig: Rig, raw: LocatedDict, report: Report) -> None:
    """No two hubs form a HAN on the same channel with the same PAN ID."""
    seen: dict[tuple[int, int], str] = {}
    for hub in rig.hubs:
        han = rig.han_of(hub)
        key = (han.channel, han.pan_id)
        if key in seen:
            report(
                hub.line,
                "han",
                f"hubs {seen[key]} and {hub.name} would form two "
                f"networks with PAN ID {han.pan_id:04X} on channel {han.channel}",
            )
        seen[key] = hub.name


def user_names_unique(rig: Rig, raw: LocatedDict, report: Report) -> None:
    """No DCC User is listed twice under one name."""
    names: set[str] = set()
    for user in rig.users:
        if user.name in names:
            report(
                user.line, f"users[{user.index}].name", f"DCC User {user.name!r} is listed twice"
            )
        names.add(user.name)


def required_users_present(rig: Rig, raw: LocatedDict, report: Report) -> None:
    """The rig has an import supplier (IS), a gas supplier (GS) and a network operator
    (ED or GT) among its DCC Users."""
    line = raw.lines.get("users", 1)
    for role, what in ((UserRole.IS, "import supplier (IS)"), (UserRole.GS, "gas supplier (GS)")):
        if not any(u.has(role) for u in rig.users):
            report(line, "users", f"the rig needs a {what} DCC User")
    if not any(u.has(UserRole.ED) or u.has(UserRole.GT) for u in rig.users):
        report(line, "users", "the rig needs a network operator DCC User (role ED or GT)")


def meter_suppliers_valid(rig: Rig, raw: LocatedDict, report: Report) -> None:
    """A meter's supplier is named when several users could be it, exists, and has
    the meter's supplier role (IS for an esme, GS for a gsme)."""
    users = {u.name: u for u in rig.users}
    for node in rig.nodes:
        wanted = SUPPLIER_ROLE.get(node.role)
        if wanted is None:
            continue
        path = f"nodes[{node.index}].supplier"
        if node.supplier is None:
            if sum(u.has(wanted) for u in rig.users) > 1:
                report(node.line, path, f"several {wanted.value} users; name this meter's supplier")
        elif node.supplier not in users:
            report(node.line, path, f"no DCC User named {node.supplier!r}")
        elif not users[node.supplier].has(wanted):
            report(
                node.line,
                path,
                f"{node.supplier!r} is {users[node.supplier].roles_text}, not {wanted.value}",
            )


def controller_ports_distinct(rig: Rig, raw: LocatedDict, report: Report) -> None:
    """The controller's listening ports (broker, DUIS, SMKI, air control) differ."""
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
            report(
                line,
                field_name,
                f"port {port} is also {ports[port]}; the controller cannot listen twice",
            )
        else:
            ports[port] = field_name


RULES: tuple[Rule, ...] = (
    node_names_unique,
    euis_unique,
    devices_have_a_hub,
    one_meter_of_each_kind_per_hub,
    hubs_form_distinct_hans,
    user_names_unique,
    required_users_present,
    meter_suppliers_valid,
    controller_ports_distinct,
)


def check(rig: Rig, raw: LocatedDict, report: Report) -> None:
    """Run every rule, in order, on the completed rig."""
    for rule in RULES:
        rule(rig, raw, report)
