"""``rig ppmid``: the consumer at the prepayment interface (PPMID) keys in a UTRN or asks for
emergency credit; the PPMID sends it over the HAN and prints the meter's answer.

rig ppmid topup 73946144332040217315                 top up the electricity meter
rig ppmid topup 7394... --target gsme --json         the gas meter (PCS01, on its next wake)
rig ppmid emergency-credit                           activate the ESME's emergency credit

Exit code 0 when the meter accepted, 1 when it refused (the reason is printed) or could
not be reached, 2 on a usage error, 3 when the rig is not up.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import aiohttp
import click

from rig.cli.common import console, out, rig_options
from rig.description.model import Rig, Role
from rig.plan.model import Plan
from rig.state import StateDir

UTRN_DIGITS = 20


@click.group()
def ppmid() -> None:
    """The prepayment interface: key in a UTRN, ask for emergency credit."""


def keypad_options(f: Any) -> Any:
    """--target, --ppmid, --wait and --json: which meter, through which PPMID, and how."""
    for option in reversed(
        (
            click.option(
                "--target",
                type=click.Choice(["esme", "gsme"]),
                default="esme",
                show_default=True,
                help="the meter: electricity (over the HAN) or gas (PCS01/PCS02, next wake)",
            ),
            click.option("--ppmid", "name", help="the PPMID node (default: the rig's only one)"),
            click.option(
                "--wait", default=90.0, show_default=True, help="seconds to wait for the answer"
            ),
            click.option("--json", "as_json", is_flag=True),
        )
    ):
        f = option(f)
    return f


@ppmid.command()
@rig_options
@click.argument("code")
@keypad_options
def topup(
    rig: Rig, state: StateDir, code: str, target: str, name: str | None, wait: float, as_json: bool
) -> None:
    """Key in the 20-digit UTRN CODE at the PPMID for the target meter."""
    digits = code.replace(" ", "").replace("-", "")
    if len(digits) != UTRN_DIGITS or not (digits.isascii() and digits.isdigit()):
        raise click.UsageError(f"a UTRN is {UTRN_DIGITS} digits, not {code!r}")
    record = _keypad(rig, state, name, f"/ppmid/topup?code={digits}&target={target}", wait)
    _show(record, as_json)


@ppmid.command("emergency-credit")
@rig_options
@keypad_options
def emergency_credit(
    rig: Rig, state: StateDir, target: str, name: str | None, wait: float, as_json: bool
) -> None:
    """Press the PPMID's emergency credit key: the target meter activates what it offers."""
    record = _keypad(rig, state, name, f"/ppmid/emergency-credit?target={target}", wait)
    _show(record, as_json)


def _keypad(rig: Rig, state: StateDir, name: str | None, path: str, wait: float) -> Any:
    """POST ``path`` to the PPMID's node and return its JSON answer (exit 1 on an error)."""
    ppmids = [n.name for n in rig.nodes if n.role is Role.PPMID]
    if name is None:
        if len(ppmids) != 1:
            have = ", ".join(ppmids) or "none"
            raise click.UsageError(
                f"this rig has {len(ppmids)} PPMIDs ({have}): name one with --ppmid"
                if ppmids
                else "this rig has no PPMID: add a node with `role: ppmid` to its description"
            )
        name = ppmids[0]
    elif name not in ppmids:
        raise click.UsageError(f"{name!r} is not a PPMID of this rig; its PPMIDs: {ppmids}")
    plan = Plan.load(state)
    if plan is None:
        console.print(f"[red]the rig is not up[/] (state {state.root}): run `rig up` first")
        sys.exit(3)
    url = f"http://{plan.component(name).address}{path}"

    async def post() -> tuple[int, Any]:
        timeout = aiohttp.ClientTimeout(total=wait, sock_connect=5)
        async with aiohttp.ClientSession(timeout=timeout) as http, http.post(url) as rsp:
            return rsp.status, await rsp.json(content_type=None)

    try:
        status, body = asyncio.run(post())
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        console.print(
            f"[red]error:[/] the PPMID {name} does not answer ({exc or 'timed out'}): "
            "is the rig up? see `rig status`",
            highlight=False,
        )
        sys.exit(1)
    if status != 200:
        error = body.get("error") if isinstance(body, dict) else None
        console.print(f"[red]error:[/] {error or f'HTTP {status}'}", highlight=False)
        sys.exit(1)
    return body


def _show(record: dict[str, Any], as_json: bool) -> None:
    accepted = record.get("result") == "accepted"
    if as_json:
        out.print_json(json.dumps(record))
    elif accepted:
        added = record.get("top_up_pence")
        left = record.get("credit_remaining_pence")
        console.print(
            f"[green]accepted[/] by the {record.get('target')}"
            + (f": £{added / 100:.2f} added" if added is not None else "")
            + (f", balance £{left / 100:.2f}" if left is not None else ""),
            highlight=False,
        )
    else:
        console.print(
            f"[red]refused[/] by the {record.get('target')} ({record.get('status_name')}): "
            f"{record.get('reason', '')}",
            highlight=False,
        )
    sys.exit(0 if accepted else 1)
