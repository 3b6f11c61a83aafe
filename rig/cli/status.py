"""``rig status``: every component's health, from its own heartbeat.

Kept apart from the lifecycle commands (and all that ``rig up`` imports) so that a lab's or
a test's poll of ``rig status --json`` starts quickly; ``rig status NAME...`` probes only
the components named.
"""

from __future__ import annotations

import asyncio
import json
import sys

import click
from rich.table import Table

from rig.cli.common import console, out, rig_options
from rig.description import Rig
from rig.lifecycle.status import RigStatus
from rig.lifecycle.status import status as rig_status
from rig.state import StateDir

HEALTH_STYLE = {
    "healthy": "green",
    "degraded": "yellow",
    "unresponsive": "red",
    "down": "red",
    "restarting": "yellow",
    "starting": "cyan",
}


@click.command()
@rig_options
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def status(rig: Rig, state: StateDir, names: tuple[str, ...], as_json: bool) -> None:
    """Every component's PID, address, health (its own heartbeat) and uptime; with NAMES,
    only those components, probed alone (quicker to poll).

    Exit code: 0 all healthy, 1 something is not, 2 a NAME is no component of the rig, 3
    the rig is not up.
    """
    result = asyncio.run(rig_status(state, only=names or None))  # a wrong NAME: RigError, 2
    if as_json:
        out.print_json(json.dumps(result.to_dict()))
    else:
        print_status(result)
    sys.exit(0 if result.healthy else 1 if result.up else 3)


def print_status(result: RigStatus) -> None:
    if not result.up:
        console.print(f"rig is not up (state {result.state_dir})", highlight=False)
        return
    sup = result.supervisor or {}
    if not sup.get("alive"):
        console.print(
            "[red]the supervisor is not running[/]: nothing restarts failed components; "
            "`rig down` cleans up, then `rig up`"
        )
    table = Table(
        title=f"rig {result.rig} · {result.isolation} · supervisor PID "
        f"{sup.get('pid')} ({'alive' if sup.get('alive') else 'DEAD'})"
    )
    for col in ("component", "kind", "pid", "address", "health", "uptime", "restarts", "detail"):
        table.add_column(col)
    for c in result.components:
        style = HEALTH_STYLE.get(c.health, "white")
        kind = f"{c.kind}/{c.role}" if c.role and c.kind == "node" else c.kind
        table.add_row(
            c.name,
            kind,
            str(c.pid or "-"),
            c.address,
            f"[{style}]{c.health}[/]",
            _duration(c.uptime_s),
            str(c.restarts),
            c.detail,
        )
    out.print(table)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"
