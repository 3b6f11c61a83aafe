"""The ``rig`` command: bring the rig up and down, see its state, manage its PKI."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from rig import lifecycle, sshd
from rig.description import DescriptionError, Rig, load_rig
from rig.pki import Pki, PkiError
from rig.plan import PlanError
from rig.ports import PortInUse
from rig.state import StateDir, default_state_dir

console = Console(stderr=True, width=None if sys.stderr.isatty() else 150)
out = Console(width=None if sys.stdout.isatty() else 150)

HEALTH_STYLE = {
    "healthy": "green",
    "degraded": "yellow",
    "unresponsive": "red",
    "down": "red",
    "restarting": "yellow",
    "starting": "cyan",
}


def _rig_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    @click.option(
        "--rig",
        "rig_file",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="RIG_FILE",
        help="rig description (YAML); default: the built-in virtual rig",
    )
    @click.option(
        "--state-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="RIG_STATE_DIR",
        help="state folder (keys, configs, logs); default: $XDG_STATE_HOME/rig/<rig name>",
    )
    @functools.wraps(fn)
    def wrapper(rig_file: Path | None, state_dir: Path | None, **kw: Any) -> Any:
        try:
            rig = load_rig(rig_file)
        except DescriptionError as exc:
            console.print(f"[red]the rig description has {len(exc.problems)} problem(s):[/]")
            for p in exc.problems:
                console.print(f"  {p}", markup=False, highlight=False)
            sys.exit(2)
        state = StateDir.open(state_dir or default_state_dir(rig.name))
        try:
            return fn(rig=rig, state=state, **kw)
        except (lifecycle.RigError, PlanError, PkiError, PortInUse) as exc:
            console.print(f"[red]error:[/] {exc}", highlight=False)
            sys.exit(getattr(exc, "exit_code", 1))

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gbsm-rig")
def main() -> None:
    """Hardware-in-the-loop test rig for GB smart metering (DUIS, GBCS, Zigbee SE HAN)."""


def _progress(message: str) -> None:
    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {message}", highlight=False)


@main.command()
@_rig_options
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
        lifecycle.up(rig, state, isolation=isolation, timeout=timeout, progress=_progress)
    )
    _print_status(result)


@main.command()
@_rig_options
def down(rig: Rig, state: StateDir) -> None:
    """Stop everything the rig started and remove its namespaces (also after a crash)."""
    counts = asyncio.run(lifecycle.down(state, progress=_progress))
    console.print(
        f"rig {rig.name} is down: stopped {counts['processes']} leftover processes, "
        f"removed {counts['namespaces']} namespaces and {counts['links']} links",
        highlight=False,
    )


@main.command()
@_rig_options
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def status(rig: Rig, state: StateDir, as_json: bool) -> None:
    """Every component's PID, address, health (its own heartbeat) and uptime.

    Exit code: 0 all healthy, 1 something is not, 3 the rig is not up.
    """
    result = asyncio.run(lifecycle.status(state))
    if as_json:
        out.print_json(json.dumps(result.to_dict()))
    else:
        _print_status(result)
    sys.exit(0 if result.healthy else 1 if result.up else 3)


def _print_status(result: lifecycle.RigStatus) -> None:
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


@main.command()
@_rig_options
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
        for line in lifecycle.log_tail(path, lines):
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


@main.command()
@_rig_options
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
        out.print(f"DCC User {u.name}: {u.eui.duis} role {u.role.value}", highlight=False)
    out.print(
        f"ACB {rig.acb_eui.duis}; HAN channel {rig.han.channel} PAN {rig.han.pan_id:04X}",
        highlight=False,
    )


@main.group()
def pki() -> None:
    """The rig's test PKI (SMKI and WAN TLS) in the state folder."""


@pki.command("init")
@_rig_options
def pki_init(rig: Rig, state: StateDir) -> None:
    """Create whatever is missing (also done by `rig up`)."""
    created = Pki(state.pki).ensure(rig, ["127.0.0.1", "localhost"])
    for item in created:
        _progress(f"created {item}")
    console.print(f"PKI in {state.pki}: {len(created)} credentials created", highlight=False)


@pki.command("show")
@_rig_options
@click.option("--json", "as_json", is_flag=True)
def pki_show(rig: Rig, state: StateDir, as_json: bool) -> None:
    """List the SMKI certificates held (EUI, usage, serial, subject, expiry)."""
    rows = Pki(state.pki).inventory()
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table(title=f"SMKI credentials in {state.pki}")
    for col in ("kind", "EUI", "usage", "serial", "subject", "not after"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["kind"], r["eui"], r["usage"], f"{r['serial']:X}", r["subject"], r["not_after"][:10]
        )
    out.print(table)


@pki.command("clear")
@_rig_options
@click.confirmation_option(prompt="Delete every key and certificate of this rig?")
def pki_clear(rig: Rig, state: StateDir) -> None:
    """Delete the PKI (the rig must be down)."""
    if lifecycle.lock_holder(state) is not None:
        raise lifecycle.RigError("the rig is up; `rig down` first")
    shutil.rmtree(state.pki, ignore_errors=True)
    console.print(f"deleted {state.pki}")


@main.command()
@_rig_options
@click.argument("name")
@click.argument("command", nargs=-1)
def ssh(rig: Rig, state: StateDir, name: str, command: tuple[str, ...]) -> None:
    """Open a shell (or run COMMAND) on a virtual node over real SSH."""
    config = sshd.ssh_config_path(state)
    if not config.exists():
        raise lifecycle.RigError("no SSH config: the rig is not up with --isolation netns")
    os.execvp("ssh", ["ssh", "-F", str(config), name, *command])


@main.command()
@_rig_options
@click.option("--isolation", type=click.Choice(["netns", "process"]))
def demo(rig: Rig, state: StateDir, isolation: str | None) -> None:
    """The trainer's story: rig up; read both meters; disable and re-enable the supply
    (the relay shown); one request's hop timeline; rig down."""
    from rig.cli_dcc import print_outcome, print_trace
    from rig.dccuser.tasks import send_request, trace_of

    console.rule(f"[bold]1. rig up[/] — {rig.name}")
    result = asyncio.run(lifecycle.up(rig, state, isolation=isolation, progress=_progress))
    ok = result.healthy
    try:
        if ok:
            esme = next(n.name for n in rig.nodes if n.role.value == "esme")
            gsme = next(n.name for n in rig.nodes if n.role.value == "gsme")
            steps = [
                ("2. read the electricity meter (4.1.1, ECS17b)", "4.1.1", esme),
                (
                    "3. read the gas meter through the hub's GPF queue (4.1.1, GCS13a)",
                    "4.1.1",
                    gsme,
                ),
                (
                    "4. disable the electricity supply (7.2, critical: signed pre-command)",
                    "7.2",
                    esme,
                ),
                ("5. re-enable it (7.1)", "7.1", esme),
            ]
            first = None
            for title, srv_variant, target in steps:
                console.rule(f"[bold]{title}[/]")
                outcome = send_request(rig, state, srv_variant, target, {})
                print_outcome(outcome)
                ok = ok and outcome.ok
                first = first or outcome.request_id
                relay = lifecycle.node_detail(state, esme).get("relay")
                console.print(f"  ESME relay pin: {'closed (1)' if relay else 'open (0)'}")
            console.rule("[bold]6. the hop timeline of the first request[/]")
            record = trace_of(state, first) if first else None
            if record:
                print_trace(record)
    finally:
        console.rule("[bold]7. rig down[/]")
        counts = asyncio.run(lifecycle.down(state, progress=_progress))
        console.print(
            f"down: {counts['processes']} leftover processes, {counts['namespaces']} "
            "leftover namespaces",
            highlight=False,
        )
    if not ok:
        sys.exit(1)


from rig.cli_protocol import duis, gbcs, utrn  # noqa: E402

main.add_command(gbcs)
main.add_command(duis)
main.add_command(utrn)

from rig.cli_han import han  # noqa: E402

main.add_command(han)

from rig.cli_dcc import supplier, trace  # noqa: E402

main.add_command(supplier)
main.add_command(trace)

from rig.cli_deploy import collect, deploy, health, inventory_cmd, reset, service  # noqa: E402

for _command in (deploy, reset, collect, health, inventory_cmd, service):
    main.add_command(_command)

if __name__ == "__main__":
    main()
