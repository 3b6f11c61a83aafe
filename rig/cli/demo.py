"""``rig demo``: the trainer's story from rig up to rig down, on the virtual rig."""

from __future__ import annotations

import asyncio
import sys

import click

from rig.cli.common import console, progress, rig_options
from rig.cli.dcc import print_outcome, print_trace
from rig.dccuser.tasks import send_request, top_up, trace_of
from rig.description import Rig
from rig.lifecycle import strategy as lifecycle
from rig.lifecycle.status import node_detail
from rig.state import StateDir


@click.command()
@rig_options
@click.option("--isolation", type=click.Choice(["netns", "process"]))
def demo(rig: Rig, state: StateDir, isolation: str | None) -> None:
    """The trainer's story: rig up; read both meters; disable and re-enable the supply
    (the relay shown); a £10 top-up and the meter balance; one request's hop timeline;
    rig down."""
    console.rule(f"[bold]1. rig up[/] — {rig.name}")
    result = asyncio.run(lifecycle.up(rig, state, isolation=isolation, progress=progress))
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
                relay = node_detail(state, esme).get("relay")
                console.print(f"  ESME relay pin: {'closed (1)' if relay else 'open (0)'}")
            console.rule("[bold]6. top up the electricity meter by £10 (2.2, CS01a: a UTRN)[/]")
            before = send_request(rig, state, "4.18", esme, {})
            topped = top_up(rig, state, esme, pounds=10.0)
            console.print(f"  UTRN {topped.utrn}", highlight=False)
            print_outcome(topped)
            after = send_request(rig, state, "4.18", esme, {})
            pence = [o.values.get("meter_balance_pence") for o in (before, after)]
            console.print(f"  meter balance (4.18, ECS82): {pence[0]} p -> {pence[1]} p")
            ok = ok and topped.ok and topped.values.get("result") == 0 and after.ok
            console.rule("[bold]7. the hop timeline of the first request[/]")
            record = trace_of(state, first) if first else None
            if record:
                print_trace(record)
    finally:
        console.rule("[bold]8. rig down[/]")
        counts = asyncio.run(lifecycle.down(state, progress=progress))
        console.print(
            f"down: {counts['processes']} leftover processes, {counts['namespaces']} "
            "leftover namespaces",
            highlight=False,
        )
    if not ok:
        sys.exit(1)
