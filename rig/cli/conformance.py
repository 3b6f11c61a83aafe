"""``rig conformance``: DCC's DUIS templates through the running rig, against RTDS.

rig conformance                                        every template (../shared/vectors)
rig conformance --only 'ECS17b_4.1.1*' --json r.json   some, with the JSON record
rig conformance --only 'GCS13a*' --only '8.2_*'         several globs
rig conformance --templates DIR --html report.html     another folder, an HTML report
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from rig.cli.common import console, out, rig_options
from rig.conformance.report import family_name, write_html, write_json
from rig.conformance.run import OUTCOMES, Result, Run, Runner
from rig.conformance.templates import template_files
from rig.description.model import Rig
from rig.lifecycle.status import status as rig_status
from rig.reference import VECTORS
from rig.state import StateDir

DEFAULT_TEMPLATES = VECTORS / "duis" / "templates"
OUTCOME_STYLE = {"answered": "green", "refused": "yellow", "error": "red"}


def _rig_usable(state: StateDir) -> str | None:
    """Why the running rig cannot take requests (what to do), or None when it can."""
    found = asyncio.run(rig_status(state))
    if not found.up:
        return f"the rig is not up (state {state.root}): start it with `rig up` and run again"
    gateway = next((c for c in found.components if c.kind == "gateway"), None)
    if gateway is None or gateway.health != "healthy":
        health = "absent" if gateway is None else gateway.health
        return (
            f"the rig's gateway is {health}: see `rig status` and `rig logs gateway`, "
            "or `rig down` and `rig up`"
        )
    return None


def _summary(run: Run) -> Table:
    table = Table(title=f"rig conformance: {run.rig} ({len(run.results)} templates)")
    for col in ("SRV family", *OUTCOMES, "RTDS equal", "RTDS differs", "response differs"):
        table.add_column(col, justify="left" if col == "SRV family" else "right")
    by_family: dict[int, list[Result]] = {}
    for r in run.sorted_results():
        by_family.setdefault(r.family, []).append(r)

    def row(name: str, results: list[Result]) -> list[str]:
        n = Counter(r.outcome for r in results)
        return [
            name,
            *(f"[{OUTCOME_STYLE[o]}]{n[o]}[/]" if n[o] else "0" for o in OUTCOMES),
            str(sum(r.rtds_command == "equal" for r in results)),
            str(sum(r.rtds_command.startswith("differs") for r in results)),
            str(sum(r.rtds_response.startswith("differs") for r in results)),
        ]

    for family, results in by_family.items():
        table.add_row(*row(family_name(family), results))
    table.add_section()
    table.add_row(*row("all", run.results))
    return table


@click.command()
@rig_options
@click.option(
    "--templates",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_TEMPLATES,
    show_default=True,
    help="folder of DUIS request templates (*_REQUEST_DUIS.XML)",
)
@click.option(
    "--only",
    "only",
    metavar="GLOB",
    multiple=True,
    help="only the templates whose file name matches (repeat for several)",
)
@click.option(
    "--json", "json_file", type=click.Path(dir_okay=False, path_type=Path), help="JSON record"
)
@click.option(
    "--html", "html_file", type=click.Path(dir_okay=False, path_type=Path), help="HTML report"
)
@click.option(
    "--wait",
    default=60.0,
    show_default=True,
    help="seconds to wait for each device's answer (a GSME answers on its wake)",
)
def conformance(
    rig: Rig,
    state: StateDir,
    folder: Path,
    only: tuple[str, ...],
    json_file: Path | None,
    html_file: Path | None,
    wait: float,
) -> None:
    """Send DCC's DUIS templates through the running rig, one at a time, each adapted to the
    rig's devices and sent by an eligible DCC User; record the DCC's answer and compare its
    GBCS command and the device's answer with DCC's reference test data (RTDS). Templates
    that change the devices (credentials, joins, inventory, hub status, decommissioning) go
    last; a run leaves the rig changed, so rerun on a fresh `rig up`.

    Exit code: 0 it ran (whatever the outcomes), 1 the rig is not up or not usable, 2 usage.
    """
    if not folder.is_dir():
        raise click.UsageError(
            f"no template folder {folder}: give one with --templates DIR (DCC's templates live "
            f"in {DEFAULT_TEMPLATES})"
        )
    paths = template_files(folder, only)
    if not paths:
        raise click.UsageError(
            f"no template in {folder} matches {' or '.join(only)}"
            if only
            else f"no *.XML in {folder}"
        )
    problem = _rig_usable(state)
    if problem:
        console.print(f"[red]error:[/] {problem}", highlight=False)
        sys.exit(1)
    runner = Runner(rig, state, wait=wait)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[last]}"),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task("conformance", total=len(paths), last="")

        def advance(r: Result) -> None:
            style = OUTCOME_STYLE.get(r.outcome, "white")
            bar.update(task, advance=1, last=f"[{style}]{r.template} {r.outcome}[/]")

        run = asyncio.run(runner.run(paths, folder=folder, on_result=advance))
    out.print(_summary(run))
    if json_file is not None:
        write_json(run, json_file)
        console.print(f"JSON: {json_file}", highlight=False)
    if html_file is not None:
        write_html(run, html_file)
        console.print(f"HTML: {html_file}", highlight=False)
