"""``rig supplier`` and ``rig trace``: the test DCC User and a request's hop timeline.

rig supplier send 4.1.1 --target esme            read the electricity registers
rig supplier send 7.2 --target esme --json       disable supply (critical: transform, sign, send)
rig supplier send 8.2 --param DeviceID=chf       read the inventory
rig supplier inbox --user network-operator       what the DCC delivered (responses, alerts)
rig trace 90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:1732350000000
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import aiohttp
import click
from rich.table import Table

from gateway.service import STORE_FILE
from gateway.store import Store
from rig.cli import _rig_options, console, out
from rig.dccuser.client import DccUser, DccUserError, Outcome
from rig.description.model import Rig
from rig.protocol.duis import codes, srv
from rig.protocol.eui import Eui64, EuiError
from rig.state import StateDir


def _device(rig: Rig, text: str) -> Eui64:
    for node in rig.nodes:
        if text == node.name:
            return node.eui
        if node.gpf_eui is not None and text == f"{node.name}-gpf":
            return node.gpf_eui
    try:
        return Eui64.parse(text)
    except EuiError:
        raise click.BadParameter(f"{text!r} is neither a node name nor an EUI-64") from None


def _default_user(rig: Rig, target: Eui64 | None) -> str:
    node = next((n for n in rig.nodes if n.eui == target), None)
    if node is not None and node.supplier:
        return node.supplier
    supplier = next((u for u in rig.users if u.role.value in ("IS", "GS")), rig.users[0])
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
    service = srv.lookup(srv_variant)
    if service.non_device and "DeviceID" in params:
        params = {**params, "DeviceID": _device(rig, params["DeviceID"]).duis}
    device = _device(rig, target) if target else None
    if service.non_device and device is not None:
        params.setdefault("DeviceID", device.duis)
        device = None
    client = DccUser.from_state(state.root, user or _default_user(rig, device))
    return asyncio.run(client.send(srv_variant, device, params, wait=wait))


@click.group()
def supplier() -> None:
    """The test DCC User: send service requests and read what the DCC delivered."""


@supplier.command("send")
@_rig_options
@click.argument("srv_variant", metavar="SRV")
@click.option("--target", help="device: node name (esme, gsme, chf) or EUI-64")
@click.option("--param", "params", multiple=True, help="k=v body parameter (8.2: DeviceID=chf)")
@click.option("--as", "user", help="DCC User name or EUI (default: the target's supplier)")
@click.option("--wait", default=90.0, show_default=True, help="seconds to wait for the response")
@click.option("--json", "as_json", is_flag=True)
def supplier_send(
    rig: Rig,
    state: StateDir,
    srv_variant: str,
    target: str | None,
    params: tuple[str, ...],
    user: str | None,
    wait: float,
    as_json: bool,
) -> None:
    """Build, sign and send one service request; verify, decode and print the answer."""
    try:
        kv = dict(p.split("=", 1) for p in params)
    except ValueError:
        raise click.BadParameter("write --param as key=value") from None
    try:
        outcome = send_request(rig, state, srv_variant, target, kv, user, wait)
    except (DccUserError, KeyError) as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False)
        sys.exit(1)
    if as_json:
        out.print_json(json.dumps(outcome.to_json()))
    else:
        _print_outcome(outcome)
    sys.exit(0 if outcome.ok else 1)


def _print_outcome(o: Outcome) -> None:
    style = "green" if o.ok else "red"
    console.print(
        f"[bold]{o.srv}[/] {o.request_id}\n  acknowledgement [{style}]{o.acknowledgement}[/] "
        f"{codes.MEANING.get(o.acknowledgement, '')} {o.reason}",
        highlight=False,
    )
    if o.response_code:
        console.print(
            f"  response [{style}]{o.response_code}[/] {codes.MEANING.get(o.response_code, '')}",
            highlight=False,
        )
    for k, v in o.values.items():
        out.print(f"  {k:22} {v}", highlight=False)
    for d in o.inventory:
        out.print(f"  {d.get('DeviceID')}  {d.get('DeviceType'):6} {d.get('DeviceStatus', '')}")


@supplier.command("inbox")
@_rig_options
@click.option("--as", "user", help="DCC User name or EUI (default: the first supplier)")
@click.option("--alerts", is_flag=True, help="only device alerts")
@click.option("--json", "as_json", is_flag=True)
def supplier_inbox(
    rig: Rig, state: StateDir, user: str | None, alerts: bool, as_json: bool
) -> None:
    """What the DCC delivered to a DCC User's Receive Response Service (alerts decoded)."""
    client = DccUser.from_state(state.root, user or _default_user(rig, None))

    async def read() -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as session:
            entries = await client.inbox(session, kind="DeviceAlertMessage" if alerts else None)
            for e in entries:
                doc = client.verify(Path(e["file"]).read_bytes())
                if doc.gbcs_payload:
                    try:
                        e["values"] = await client.read_gbcs(session, doc.gbcs_payload)
                    except (DccUserError, ValueError) as exc:
                        e["values"] = {"error": str(exc)}
            return entries

    entries = asyncio.run(read())
    if as_json:
        out.print_json(json.dumps(entries))
        return
    for e in entries:
        out.print(
            f"{dt.datetime.fromtimestamp(e['at']):%H:%M:%S} {e['kind']:19} {e['code']} "
            f"{e.get('request_id') or e.get('response_id')} {e.get('values', '')}",
            highlight=False,
        )


def trace_of(state: StateDir, request_id: str) -> dict[str, Any] | None:
    path = state.component("gateway") / "data" / STORE_FILE
    if not path.exists():
        return None
    store = Store(path)
    try:
        return store.request(request_id)
    finally:
        store.close()


@click.command()
@_rig_options
@click.argument("request_id")
@click.option("--json", "as_json", is_flag=True)
def trace(rig: Rig, state: StateDir, request_id: str, as_json: bool) -> None:
    """The hop timeline of one request, from the gateway's store (envelope only)."""
    record = trace_of(state, request_id)
    if record is None:
        console.print(f"[red]no request {request_id}[/] in {state.root}: see `rig supplier inbox`")
        sys.exit(1)
    if as_json:
        out.print_json(json.dumps(record))
        return
    console.print(
        f"[bold]{record['srv'] or 'alert'}[/] {record['request_id']}  message code "
        f"{record['message_code']}  hub {record['hub']}\n  outcome {record['outcome']} "
        f"{record['response_code']} {record['reason'] or ''}",
        highlight=False,
    )
    table = Table("hop", "at (ms)", "+ms", "where")
    t0 = record["hops"][0]["at"] if record["hops"] else 0
    prev = t0
    for h in record["hops"]:
        where = {k: v for k, v in h.items() if k not in ("at", "hop")}
        table.add_row(
            h["hop"],
            f"{(h['at'] - t0) * 1000:8.1f}",
            f"{(h['at'] - prev) * 1000:7.1f}",
            " ".join(f"{k}={v}" for k, v in where.items()),
        )
        prev = h["at"]
    out.print(table)
