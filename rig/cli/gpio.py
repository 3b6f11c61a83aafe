"""`rig gpio`: the nodes' GPIO from the bench: press a button (the consumer's restore button
on a meter, a PPMID key) and see every pin. On the virtual rig a press drives the mock pin
as a finger would; on a Pi it reaches the same handler as the real button."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import aiohttp
import click

from rig.cli.common import console, rig_options
from rig.description.model import Rig
from rig.plan.model import Plan
from rig.state import StateDir


@click.group()
def gpio() -> None:
    """Press the nodes' buttons and show their pins."""


def _node_url(rig: Rig, state: StateDir, name: str, path: str) -> str:
    if name not in {n.name for n in rig.nodes}:
        have = ", ".join(n.name for n in rig.nodes)
        raise click.UsageError(f"no node {name!r} in this rig; it has: {have}")
    plan = Plan.load(state)
    if plan is None:
        console.print(f"[red]the rig is not up[/] (state {state.root}): run `rig up` first")
        sys.exit(3)
    return f"http://{plan.component(name).address}{path}"


async def _request(method: str, url: str) -> tuple[int, Any]:
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as http, http.request(method, url) as rsp:
        return rsp.status, await rsp.json(content_type=None)


def _call(method: str, url: str, name: str) -> Any:
    try:
        status, body = asyncio.run(_request(method, url))
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise click.ClickException(
            f"{name} does not answer ({exc}): is it running? see `rig status`"
        ) from None
    if status != 200:
        raise click.ClickException(body.get("error", f"HTTP {status}"))
    return body


@gpio.command()
@rig_options
@click.argument("node")
@click.argument("button")
@click.option("--json", "as_json", is_flag=True, help="print the node's detail after the press")
def press(rig: Rig, state: StateDir, node: str, button: str, as_json: bool) -> None:
    """Press BUTTON on NODE (e.g. `rig gpio press esme restore`)."""
    body = _call("POST", _node_url(rig, state, node, f"/gpio/press?button={button}"), node)
    if as_json:
        click.echo(json.dumps(body, indent=2))
    else:
        console.print(f"pressed {button} on {node}")


@gpio.command()
@rig_options
@click.argument("node")
def show(rig: Rig, state: StateDir, node: str) -> None:
    """Every pin of NODE: function, pin and value."""
    body = _call("GET", _node_url(rig, state, node, "/health"), node)
    pins = (body.get("detail") or {}).get("gpio") or {}
    for function, pin in sorted(pins.items()):
        console.print(f"{function:<24} {pin['pin']:<8} {pin['value']}")
