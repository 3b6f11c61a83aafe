"""Filling in what a rig description may leave out because the rig leaves no choice.

Runs after the sections are read and before :mod:`rig.description.rules` checks
the completed rig. Nothing here reports a problem: where the choice is not
obvious the field stays empty and a rule says what to write.
"""

from __future__ import annotations

from dataclasses import replace

from rig.description.model import Node, Rig, Role, UserRole

# the DCC User role responsible for each kind of meter
SUPPLIER_ROLE = {Role.ESME: UserRole.IS, Role.GSME: UserRole.GS}


def complete(rig: Rig) -> Rig:
    """The rig with every default filled in."""
    return fill_suppliers(fill_hubs(rig))


def fill_hubs(rig: Rig) -> Rig:
    """A device without ``hub`` joins the rig's chf when the rig has exactly one."""
    hubs = {n.name for n in rig.hubs}
    if len(hubs) != 1:
        return rig
    (hub,) = hubs

    def fill(node: Node) -> Node:
        if node.role is Role.CHF or node.hub is not None:
            return node
        return replace(node, hub=hub)

    return replace(rig, nodes=tuple(fill(n) for n in rig.nodes))


def fill_suppliers(rig: Rig) -> Rig:
    """A meter without ``supplier`` gets the one DCC User with its supplier role, if
    exactly one has it (IS for an esme, GS for a gsme)."""

    def fill(node: Node) -> Node:
        wanted = SUPPLIER_ROLE.get(node.role)
        if wanted is None or node.supplier is not None:
            return node
        candidates = [u for u in rig.users if u.has(wanted)]
        if len(candidates) != 1:
            return node
        return replace(node, supplier=candidates[0].name)

    return replace(rig, nodes=tuple(fill(n) for n in rig.nodes))
