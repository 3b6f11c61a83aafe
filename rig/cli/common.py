"""What every ``rig`` command shares: the consoles, the rig options, progress lines.

``--rig`` and ``--state-dir`` load the rig description and open its state folder once,
and turn the controller's errors into a red line and an exit code.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from rig.description import DescriptionError, load_rig
from rig.lifecycle.errors import RigError
from rig.pki.authority import PkiError
from rig.plan.model import PlanError
from rig.plan.ports import PortInUse
from rig.state import StateDir, adopt_legacy_state, default_state_dir

console = Console(stderr=True, width=None if sys.stderr.isatty() else 150)
out = Console(width=None if sys.stdout.isatty() else 150)


def rig_options(fn: Callable[..., Any]) -> Callable[..., Any]:
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
        help="state folder (keys, configs, logs); default: /var/lib/rig/<rig name> as root, "
        "else $XDG_STATE_HOME/rig/<rig name> (~/.local/state/rig/<rig name>)",
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
        try:
            if state_dir is None:  # the default; root's old one (before /var/lib/rig) moves there
                state_dir = adopt_legacy_state(
                    rig.name,
                    default_state_dir(rig.name),
                    notify=lambda m: console.print(f"[yellow]note:[/] {m}", highlight=False),
                )
            state = StateDir.open(state_dir)
        except OSError as exc:
            console.print(
                f"[red]error:[/] cannot use the state folder: {exc}; give another one with "
                "--state-dir or $RIG_STATE_DIR",
                highlight=False,
            )
            sys.exit(1)
        try:
            return fn(rig=rig, state=state, **kw)
        except (RigError, PlanError, PkiError, PortInUse) as exc:
            console.print(f"[red]error:[/] {exc}", highlight=False)
            sys.exit(getattr(exc, "exit_code", 1))

    return wrapper


def progress(message: str) -> None:
    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {message}", highlight=False)
