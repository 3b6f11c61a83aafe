"""``rig fault``: fault injection on a node: a crash (SIGKILL) at a named step.

rig fault crash --node esme --at after-top-up     the ESME kills itself once a top-up is
                                                  applied, before it answers
rig fault clear --node esme                       disarm

The node arms itself (``/fault/crash`` on its HTTP server, :mod:`nodes.crashpoints`); the
arming lives in its process, so the node the supervisor restarts is disarmed. Exit codes:
0 done, 1 the node refused or does not answer, 2 a usage error, 3 the rig is not up.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from typing import Any

import aiohttp
import click

from rig.cli.common import console, out, rig_options
from rig.cli.han import _plan
from rig.description.model import Node, Rig
from rig.state import StateDir


def node_named(rig: Rig, name: str, param_hint: str = "--node") -> Node:
    try:
        return rig.node(name)
    except KeyError:
        names = ", ".join(n.name for n in rig.nodes)
        raise click.BadParameter(
            f"{name!r} is no node of rig {rig.name!r}; use one of: {names}", param_hint=param_hint
        ) from None


def node_request(
    state: StateDir, node: Node, method: str, path: str, **query: str
) -> dict[str, Any]:
    """One call to a node's HTTP server (where `rig status` shows it): its JSON answer, or a
    ClickException saying what went wrong and what to do."""
    url = f"http://{_plan(state).component(node.name).address}{path}"
    if query:
        url += f"?{urllib.parse.urlencode(query)}"

    async def call() -> tuple[int, bytes]:
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, url, timeout=aiohttp.ClientTimeout(total=10)) as rsp,
        ):
            return rsp.status, await rsp.read()

    try:
        status, body = asyncio.run(call())
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise click.ClickException(
            f"{node.name} does not answer at {url} ({exc or 'timed out'}): "
            f"`rig status` shows whether it runs"
        ) from None
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if status == 404 and not isinstance(data, dict):  # aiohttp's own: no such route
        raise click.ClickException(
            f"{node.name} has no {path}: it runs older code; "
            "`rig down` then `rig up` (or `rig deploy`) brings it up to date"
        )
    if not isinstance(data, dict):
        raise click.ClickException(f"{node.name} answered HTTP {status}, not JSON: {body[:200]!r}")
    if status >= 400:
        raise click.ClickException(f"{node.name}: {data.get('error', f'HTTP {status}')}")
    return data


@click.group()
def fault() -> None:
    """Fault injection on a node: crash it at a named step."""


@fault.command()
@rig_options
@click.option("--node", "node_name", required=True, metavar="NAME", help="the node, e.g. esme")
@click.option("--at", "step", required=True, metavar="STEP", help="the step, e.g. after-top-up")
@click.option("--json", "as_json", is_flag=True)
def crash(rig: Rig, state: StateDir, node_name: str, step: str, as_json: bool) -> None:
    """Arm NODE to kill itself (SIGKILL) the next time it reaches STEP."""
    node = node_named(rig, node_name)
    data = node_request(state, node, "POST", "/fault/crash", at=step)
    if as_json:
        out.print_json(json.dumps(data))
    else:
        console.print(
            f"{node.name} will be killed at {step}; armed: {', '.join(data['armed'])}",
            highlight=False,
        )


@fault.command()
@rig_options
@click.option("--node", "node_name", required=True, metavar="NAME", help="the node, e.g. esme")
@click.option("--json", "as_json", is_flag=True)
def clear(rig: Rig, state: StateDir, node_name: str, as_json: bool) -> None:
    """Disarm every crash point of NODE."""
    node = node_named(rig, node_name)
    data = node_request(state, node, "DELETE", "/fault/crash")
    if as_json:
        out.print_json(json.dumps(data))
    else:
        console.print(f"{node.name}: no crash point armed", highlight=False)
