"""The test DCC User's work for the CLI and for Python callers: send a request by node
name, top up a meter, read a request's hop timeline from the gateway's store."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import click

from gateway.store import STORE_FILE, Store
from rig.dccuser.client import DccUser, Outcome
from rig.description.model import Rig, Role, UserRole
from rig.protocol.duis.bodies import gas_parameters
from rig.protocol.eui import Eui64, EuiError
from rig.protocol.smki import Usage
from rig.reference import srv_table
from rig.state import StateDir


def device_of(rig: Rig, text: str) -> Eui64:
    for node in rig.nodes:
        if text == node.name:
            return node.eui
        if node.gpf_eui is not None and text == f"{node.name}-gpf":
            return node.gpf_eui
    try:
        return Eui64.parse(text)
    except EuiError:
        raise click.BadParameter(f"{text!r} is neither a node name nor an EUI-64") from None


def default_user(rig: Rig, target: Eui64 | None, state: StateDir | None = None) -> str:
    """Who sends for ``target`` when no user is named: its responsible supplier as the
    DCC's inventory holds it (a change of supplier moves it), else as the description
    names it, else the rig's first supplier."""
    held = None if state is None or target is None else responsible_supplier(state, target)
    user = next((u for u in rig.users if u.eui == held), None)
    if user is not None:
        return user.name
    node = next((n for n in rig.nodes if n.eui == target), None)
    if node is not None and node.supplier:
        return node.supplier
    supplier = next(
        (u for u in rig.users if u.has(UserRole.IS) or u.has(UserRole.GS)), rig.users[0]
    )
    return supplier.name


def send_request(
    rig: Rig,
    state: StateDir,
    srv_variant: str,
    target: str | None,
    params: dict[str, str],
    user: str | None = None,
    wait: float = 90.0,
) -> Outcome:
    """`rig supplier send` for Python callers (tests, campaigns)."""
    service = srv_table().lookup(srv_variant)
    if service.non_device and "DeviceID" in params:
        params = {**params, "DeviceID": device_of(rig, params["DeviceID"]).duis}
    device = device_of(rig, target) if target else None
    gas = any(n.eui == device and n.role is Role.GSME for n in rig.nodes)
    if gas:  # the GSME's body where it differs (debt recovery, prepay config, tariff)
        params = {**gas_parameters(srv_variant), **params}
    if service.non_device and device is not None:
        params.setdefault("DeviceID", device.duis)
        device = None
    client = DccUser.from_state(state.root, user or default_user(rig, device, state))
    return asyncio.run(client.send(srv_variant, device, params, wait=wait))


def top_up(
    rig: Rig,
    state: StateDir,
    target: str,
    *,
    pounds: float | None = None,
    utrn_code: str | None = None,
    user: str | None = None,
    wait: float = 90.0,
) -> Outcome:
    """`rig supplier topup` for Python callers: 2.2 with a UTRN made (or given)."""
    device = device_of(rig, target)
    client = DccUser.from_state(state.root, user or default_user(rig, device, state))
    return asyncio.run(client.top_up(device, pounds=pounds, utrn_code=utrn_code, wait=wait))


def rekey(
    rig: Rig,
    state: StateDir,
    target: str,
    usage: Usage,
    *,
    user: str | None = None,
    wait: float = 90.0,
) -> Outcome:
    """`rig supplier rekey` for Python callers: 6.17, SMKI's certificate, 6.15.2."""
    device = device_of(rig, target)
    client = DccUser.from_state(state.root, user or default_user(rig, device, state))
    return asyncio.run(client.rekey(device, usage, wait=wait))


def responsible_supplier(state: StateDir, device: Eui64) -> Eui64 | None:
    """The device's responsible supplier in the DCC's inventory (None: no gateway store, or
    the device is not in it)."""
    path = state.component("gateway") / "data" / STORE_FILE
    if not path.exists():
        return None
    store = Store(path)
    try:
        row = store.db.execute(
            "SELECT supplier FROM inventory WHERE eui=?", (device.hex,)
        ).fetchone()
    except sqlite3.Error:
        return None
    finally:
        store.close()
    return Eui64.parse(row[0]) if row and row[0] else None


def trace_of(state: StateDir, request_id: str) -> dict[str, Any] | None:
    path = state.component("gateway") / "data" / STORE_FILE
    if not path.exists():
        return None
    store = Store(path)
    try:
        return store.request(request_id)
    finally:
        store.close()
