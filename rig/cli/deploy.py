"""The rig on Ansible: ``rig deploy|reset|collect|health|inventory``, and ``rig service``.

rig deploy [--check] [--limit esme]    install the checkout on every node, start, verify
rig reset                              the whole rig back to factory state, verified healthy
rig collect [--out DIR]                logs, state snapshots, captures into one folder
rig service stop esme-sshd             the virtual rig's systemctl (fault injection too)
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import click
import yaml
from rich.live import Live
from rich.table import Table

from rig.cli.common import console, out, rig_options
from rig.deploy import tasks
from rig.deploy.runner import HostResult, RunResult
from rig.description.model import Rig
from rig.lifecycle.errors import RigError
from rig.state import StateDir
from rig.virtual.supervisor import LockHeld, control

STYLE = {
    "ok": "green",
    "changed": "yellow",
    "failed": "bold red",
    "unreachable": "bold red",
    "running": "cyan",
}


def _table(hosts: dict[str, HostResult], title: str) -> Table:
    table = Table(title=title, title_justify="left", expand=False)
    for col in ("host", "status", "ok", "changed", "failed", "skipped", "task"):
        table.add_column(col, justify="right" if col in ("ok", "changed", "skipped") else "left")
    for name in sorted(hosts):
        h = hosts[name]
        status = h.status if h.failed or h.unreachable else "running"
        table.add_row(
            name,
            f"[{STYLE[status]}]{status}[/]",
            str(h.ok),
            str(h.changed),
            str(h.failed + h.unreachable),
            str(h.skipped),
            h.task[:60],
        )
    return table


def _summary(result: RunResult) -> Table:
    table = Table(
        title=f"{result.playbook}: {'ok' if result.ok else 'FAILED'} in {result.seconds:.1f} s "
        f"({result.changed} changes)",
        title_justify="left",
    )
    for col in ("host", "result", "ok", "changed", "failed", "unreachable", "skipped"):
        table.add_column(col)
    for name in sorted(result.hosts):
        h = result.hosts[name]
        table.add_row(
            name,
            f"[{STYLE[h.status]}]{h.status}[/]",
            str(h.ok),
            str(h.changed),
            str(h.failed),
            str(h.unreachable),
            str(h.skipped),
        )
    return table


def _play(rig: Rig, state: StateDir, name: str, as_json: bool, **kw: Any) -> RunResult:
    hosts: dict[str, HostResult] = {}
    title = f"rig {name}: {rig.name}"
    try:
        if as_json or not console.is_terminal:
            result = asyncio.run(
                tasks.play(rig, state, name, progress=lambda m: console.print(m), **kw)
            )
        else:
            with Live(_table(hosts, title), console=console, refresh_per_second=8) as live:

                def update(h: HostResult) -> None:
                    hosts[h.host] = h
                    live.update(_table(hosts, title))

                result = asyncio.run(
                    tasks.play(
                        rig, state, name, on_update=update, progress=live.console.print, **kw
                    )
                )
    except RigError as exc:
        console.print(f"[red]rig {name}:[/] {exc}", highlight=False)
        sys.exit(exc.exit_code)
    if as_json:
        out.print_json(json.dumps(result.to_dict()))
    else:
        console.print(_summary(result))
        console.print(f"ansible-runner artifacts: {result.artifacts}", highlight=False)
    if not result.ok:
        console.print(f"[bold red]rig {name} failed[/]\n{result.failure_text()}", highlight=False)
    return result


def _common(fn: Any) -> Any:
    fn = click.option("--json", "as_json", is_flag=True, help="machine-readable result")(fn)
    fn = click.option("--limit", help="only these hosts (Ansible pattern)")(fn)
    return rig_options(fn)


@click.command()
@_common
@click.option("--check", is_flag=True, help="show what would change; change nothing")
@click.option("--tags", help="only these parts: user, install, config, radio, service, health")
def deploy(
    rig: Rig, state: StateDir, as_json: bool, limit: str | None, check: bool, tags: str | None
) -> None:
    """Install this checkout on every node (a wheel in a virtualenv), configure, start, verify."""
    result = _play(rig, state, "deploy", as_json, check=check, limit=limit, tags=tags)
    sys.exit(0 if result.ok else 1)


@click.command()
@_common
def reset(rig: Rig, state: StateDir, as_json: bool, limit: str | None) -> None:
    """Stop every node, restore factory state with the gateway's to match, restart, verify."""
    result = _play(rig, state, "reset", as_json, limit=limit)
    sys.exit(0 if result.ok else 1)


@click.command()
@_common
def health(rig: Rig, state: StateDir, as_json: bool, limit: str | None) -> None:
    """Ask every node (from the node itself) and the gateway whether they are healthy."""
    result = _play(rig, state, "health", as_json, limit=limit)
    sys.exit(0 if result.ok else 1)


@click.command()
@_common
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="artifacts folder")
def collect(
    rig: Rig, state: StateDir, as_json: bool, limit: str | None, out_dir: Path | None
) -> None:
    """Fetch logs, state snapshots and the HAN capture into one artifacts folder."""
    folder = (out_dir or tasks.default_artifacts(state)).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    result = _play(
        rig, state, "collect", as_json, limit=limit, extravars={"rig_collect_dir": str(folder)}
    )
    manifest = tasks.manifest(folder, result)
    if not as_json:
        files = len(json.loads(manifest.read_text())["files"])
        console.print(f"collected {files} files into {folder}", highlight=False)
    sys.exit(0 if result.ok else 1)


@click.command("inventory")
@rig_options
def inventory_cmd(rig: Rig, state: StateDir) -> None:
    """Print the Ansible inventory generated from the rig description (the rig must be up)."""
    try:
        path = tasks.write_inventory(rig, state, None)
    except RigError as exc:
        console.print(f"[red]rig inventory:[/] {exc}", highlight=False)
        sys.exit(exc.exit_code)
    data = yaml.safe_load(path.read_text())
    for host in data["all"]["children"]["nodes"]["children"].values():
        for hv in host["hosts"].values():
            hv["rig_config"] = "<the node's configuration: see the file>"
    out.print(yaml.safe_dump(data, sort_keys=False, width=1000), highlight=False, end="")
    console.print(f"written to {path}", highlight=False)


@click.command()
@rig_options
@click.argument("action", type=click.Choice(["status", "start", "stop", "restart"]))
@click.argument("name", required=False)
def service(rig: Rig, state: StateDir, action: str, name: str | None) -> None:
    """Start, stop or restart one component under the virtual rig's supervisor."""
    if action != "status" and not name:
        raise click.UsageError(f"rig service {action} needs a component name (see `rig status`)")
    try:
        answer = asyncio.run(control(state, action, None if action == "status" else name))
    except LockHeld as exc:
        console.print(f"[red]rig service:[/] {exc}", highlight=False)
        sys.exit(1)
    if action == "status":
        units = answer.get("units", {})
        shown = {name: units[name]} if name in units else units
        out.print_json(json.dumps(shown))
        return
    if not answer.get("ok"):
        console.print(f"[red]rig service:[/] {answer.get('error')}", highlight=False)
        sys.exit(1)
    verb = "changed" if answer.get("changed") else "unchanged"
    console.print(
        f"{name}: {answer.get('state')} (pid {answer.get('pid')}, {verb})", highlight=False
    )
