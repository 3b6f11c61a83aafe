"""``rig up``, ``down``, ``logs``, ``check`` and ``ssh``: the rig's lifecycle (``rig status``
is :mod:`rig.cli.status`, light enough to poll)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import click
from rich.table import Table

from rig.cli.common import console, out, progress, rig_options
from rig.cli.status import print_status
from rig.description import Rig
from rig.lifecycle import strategy as lifecycle
from rig.lifecycle.errors import RigError
from rig.state import StateDir
from rig.virtual import sshd


@click.command()
@rig_options
@click.option(
    "--isolation",
    type=click.Choice(["netns", "process"]),
    help="override the description's choice (auto: netns when root on Linux)",
)
@click.option("--timeout", default=60.0, show_default=True, help="seconds to wait for health")
def up(rig: Rig, state: StateDir, isolation: str | None, timeout: float) -> None:
    """Start the virtual rig: broker, air, gateway and every node."""
    console.print(f"[bold]rig up[/] {rig.name} ({rig.source}) state {state.root}", highlight=False)
    result = asyncio.run(
        lifecycle.up(rig, state, isolation=isolation, timeout=timeout, progress=progress)
    )
    print_status(result)


@click.command()
@rig_options
def down(rig: Rig, state: StateDir) -> None:
    """Stop everything the rig started and remove its namespaces (also after a crash)."""
    counts = asyncio.run(lifecycle.down(state, progress=progress))
    console.print(
        f"rig {rig.name} is down: stopped {counts['processes']} leftover processes, "
        f"removed {counts['namespaces']} namespaces and {counts['links']} links",
        highlight=False,
    )


@click.command()
@rig_options
@click.argument("name", required=False)
@click.option("-n", "--lines", default=40, show_default=True)
@click.option("-f", "--follow", is_flag=True, help="keep printing new lines")
def logs(rig: Rig, state: StateDir, name: str | None, lines: int, follow: bool) -> None:
    """Show a component's log (all components when NAME is left out)."""
    files = sorted(state.logs.glob("*.log"))
    if name:
        files = [state.log(name)]
        if not files[0].exists():
            known = ", ".join(p.stem for p in sorted(state.logs.glob("*.log")))
            console.print(f"[red]no log for {name!r}[/]; known: {known or 'none yet'}")
            sys.exit(2)
    for path in files:
        prefix = "" if name else f"{path.stem:>12} | "
        for line in log_tail(path, lines):
            out.print(prefix + line, markup=False, highlight=False)
    if follow:
        _follow(files, prefix_names=name is None)


def _follow(files: list[Path], prefix_names: bool) -> None:
    handles = {p: open(p, errors="replace") for p in files}  # noqa: SIM115
    for fh in handles.values():
        fh.seek(0, os.SEEK_END)
    try:
        while True:
            for path, fh in handles.items():
                for line in fh.readlines():
                    prefix = f"{path.stem:>12} | " if prefix_names else ""
                    out.print(prefix + line.rstrip("\n"), markup=False, highlight=False)
            time.sleep(0.3)
    except KeyboardInterrupt:
        pass


@click.command()
@rig_options
def check(rig: Rig, state: StateDir) -> None:
    """Validate a rig description and summarise it."""
    table = Table(title=f"rig {rig.name} ({rig.source})")
    for col in ("node", "role", "EUI", "hub", "host", "radio", "gpio"):
        table.add_column(col)
    for n in rig.nodes:
        table.add_row(
            n.name,
            n.role.value,
            n.eui.duis,
            n.hub or "-",
            str(n.placement),
            n.radio.type.value + (f" {n.radio.device}" if n.radio.device else ""),
            ", ".join(f"{k}={v}" for k, v in n.gpio.pins().items()),
        )
    out.print(table)
    for u in rig.users:
        out.print(f"DCC User {u.name}: {u.eui.duis} role {u.roles_text}", highlight=False)
    out.print(
        f"ACB {rig.acb_eui.duis}; HAN channel {rig.han.channel} PAN {rig.han.pan_id:04X}",
        highlight=False,
    )


@click.command()
@rig_options
@click.argument("name")
@click.argument("command", nargs=-1)
def ssh(rig: Rig, state: StateDir, name: str, command: tuple[str, ...]) -> None:
    """Open a shell (or run COMMAND) on a virtual node over real SSH."""
    config = sshd.ssh_config_path(state)
    if not config.exists():
        raise RigError("no SSH config: the rig is not up with --isolation netns")
    os.execvp("ssh", ["ssh", "-F", str(config), name, *command])


def log_tail(path: Path, lines: int) -> list[str]:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 256 * max(lines, 1) - 4096))
            data = fh.read().decode(errors="replace").splitlines()
    except FileNotFoundError:
        return []
    return data[-lines:] if lines else data
