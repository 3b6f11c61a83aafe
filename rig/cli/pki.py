"""``rig pki``: the rig's test PKI (SMKI and WAN TLS) in the state folder."""

from __future__ import annotations

import json
import shutil

import click
from rich.table import Table

from rig.cli.common import console, out, progress, rig_options
from rig.description import Rig
from rig.lifecycle.errors import RigError
from rig.pki.authority import Pki
from rig.state import StateDir
from rig.virtual.supervisor import lock_holder


@click.group()
def pki() -> None:
    """The rig's test PKI (SMKI and WAN TLS) in the state folder."""


@pki.command("init")
@rig_options
def pki_init(rig: Rig, state: StateDir) -> None:
    """Create whatever is missing (also done by `rig up`)."""
    created = Pki(state.pki).ensure(rig, ["127.0.0.1", "localhost"])
    for item in created:
        progress(f"created {item}")
    console.print(f"PKI in {state.pki}: {len(created)} credentials created", highlight=False)


@pki.command("show")
@rig_options
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
@rig_options
@click.confirmation_option(prompt="Delete every key and certificate of this rig?")
def pki_clear(rig: Rig, state: StateDir) -> None:
    """Delete the PKI (the rig must be down)."""
    if lock_holder(state) is not None:
        raise RigError("the rig is up; `rig down` first")
    shutil.rmtree(state.pki, ignore_errors=True)
    console.print(f"deleted {state.pki}")
