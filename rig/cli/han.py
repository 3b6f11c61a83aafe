"""``rig han``: the simulated air's capture and fault injection, the HAN keys, GBCS through a hub.

rig han capture --seconds 10 --out han.pcap     (--out - streams to stdout)
rig han fault loss esme 0.1 | loss chf esme 0.1 | latency esme 20 | jam | isolate gsme
rig han clear
rig han key [--tshark]
rig han send --device 00-DB-12-34-56-78-90-A0 MESSAGE_HEX_OR_FILE
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import aiohttp
import click

from rig.cli.common import console, rig_options
from rig.description.model import Rig, Role
from rig.plan.han_keys import key_file as network_key_file
from rig.plan.model import Plan, air_control_url
from rig.protocol.codec import unhex
from rig.protocol.eui import Eui64, EuiError
from rig.protocol.zigbee.security import link_key_from_install_code
from rig.state import StateDir


def _plan(state: StateDir) -> Plan:
    plan = Plan.load(state)
    if plan is None:
        console.print(f"[red]the rig is not up[/] (state {state.root}): run `rig up` first")
        sys.exit(3)
    return plan


async def _call(method: str, url: str, body: Any = None) -> Any:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, url, json=body, timeout=aiohttp.ClientTimeout(total=10)) as rsp,
    ):
        data = await rsp.json()
        if rsp.status >= 400:
            raise click.ClickException(data.get("error", f"HTTP {rsp.status}"))
        return data


def _air(state: StateDir, method: str, path: str, body: Any = None) -> Any:
    url = air_control_url(_plan(state)) + path
    try:
        return asyncio.run(_call(method, url, body))
    except aiohttp.ClientError as exc:
        raise click.ClickException(
            f"the air does not answer at {url}: {exc}; is the rig up?"
        ) from None


@click.group()
def han() -> None:
    """The home area network: capture, faults, keys, GBCS through a hub."""


@han.command()
@rig_options
@click.option("--seconds", type=float, default=10.0, show_default=True, help="0: until interrupted")
@click.option(
    "--out",
    "out_path",
    required=True,
    help="pcap file, or - for stdout (pipe to wireshark -k -i -)",
)
def capture(rig: Rig, state: StateDir, seconds: float, out_path: str) -> None:
    """Record the air (802.15.4 with FCS, as Wireshark reads it) for N seconds."""
    url = f"{air_control_url(_plan(state))}/capture?seconds={seconds}"

    async def run() -> int:
        frames_bytes = 0
        sink = sys.stdout.buffer if out_path == "-" else Path(out_path).open("wb")  # noqa: SIM115
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.get(url, timeout=aiohttp.ClientTimeout(total=None, sock_connect=5)) as rsp,
            ):
                async for chunk in rsp.content.iter_any():
                    sink.write(chunk)
                    sink.flush()
                    frames_bytes += len(chunk)
        finally:
            if sink is not sys.stdout.buffer:
                sink.close()
        return frames_bytes

    try:
        size = asyncio.run(run())
    except aiohttp.ClientError as exc:
        raise click.ClickException(f"the air does not answer: {exc}; is the rig up?") from None
    except KeyboardInterrupt:
        return
    if out_path != "-":
        console.print(
            f"captured {size} bytes to {out_path}; open it with `rig han key --tshark`",
            highlight=False,
        )


@han.command()
@rig_options
@click.argument("kind", type=click.Choice(["loss", "latency", "jam", "isolate"]))
@click.argument("args", nargs=-1)
@click.option("--channel", type=int, help="jam: the channel (default: every channel in use)")
def fault(rig: Rig, state: StateDir, kind: str, args: tuple[str, ...], channel: int | None) -> None:
    """Inject a fault: loss NODE [PEER] P, latency NODE [PEER] MS, jam, isolate NODE."""
    nodes, value = list(args), None
    if kind in ("loss", "latency"):
        if len(args) < 2:
            raise click.UsageError(
                f"{kind} needs NODE [PEER] VALUE, e.g. `rig han fault {kind} esme 0.1`"
            )
        nodes, raw = list(args[:-1]), args[-1]
        try:
            value = float(raw.rstrip("%")) / (100 if raw.endswith("%") else 1)
        except ValueError:
            raise click.UsageError(f"{raw!r} is not a number") from None
    result = _air(
        state, "POST", "/faults", {"kind": kind, "nodes": nodes, "value": value, "channel": channel}
    )
    console.print_json(json.dumps(result))


@han.command()
@rig_options
def clear(rig: Rig, state: StateDir) -> None:
    """Remove every fault from the air."""
    console.print_json(json.dumps(_air(state, "DELETE", "/faults")))


def tshark_keys(rig: Rig, state: StateDir) -> list[str]:
    """tshark ``-o`` arguments decrypting the HAN: network keys and install-code link keys."""
    args = []
    for hub in rig.hubs:
        path = network_key_file(state, hub.eui)
        if path.exists():
            args += [
                "-o",
                f'uat:zigbee_pc_keys:"{path.read_text().strip()}","Normal","{hub.name} network"',
            ]
        for device in rig.devices_of(hub):
            if device.install_code is not None:
                key = link_key_from_install_code(device.install_code).hex()
                args += ["-o", f'uat:zigbee_pc_keys:"{key}","Normal","{device.name} link"']
    return args


@han.command()
@rig_options
@click.option("--tshark", is_flag=True, help="print tshark/Wireshark options that decrypt captures")
def key(rig: Rig, state: StateDir, tshark: bool) -> None:
    """The HAN network key of each hub (Wireshark: Zigbee protocol, pre-configured keys)."""
    if tshark:
        click.echo(" ".join(f"'{a}'" if a != "-o" else a for a in tshark_keys(rig, state)))
        return
    found = False
    for hub in rig.hubs:
        path = network_key_file(state, hub.eui)
        if path.exists():
            found = True
            click.echo(f"{hub.name} {hub.eui.duis} {path.read_text().strip()}")
    if not found:
        raise click.ClickException("no network key yet: `rig up` makes one per hub")


@han.command()
@rig_options
@click.option("--device", required=True, help="EUI-64 of the device on the HAN")
@click.option("--timeout", type=float, default=30.0, show_default=True)
@click.argument("message")
def send(rig: Rig, state: StateDir, device: str, timeout: float, message: str) -> None:
    """Send a GBCS message (hex or file) to a device through its hub; print the answer (hex)."""
    try:
        target = Eui64.parse(device)
    except EuiError as exc:
        raise click.UsageError(str(exc)) from None
    node = next((n for n in rig.nodes if n.eui == target), None)
    if node is None or node.role is Role.CHF:
        raise click.UsageError(f"{target.duis} is not a device on this rig's HAN")
    hub = rig.node(node.hub) if node.hub else rig.hubs[0]
    path = Path(message) if len(message) < 256 else None
    try:
        body = path.read_bytes() if path is not None and path.is_file() else unhex(message)
    except ValueError as exc:
        raise click.UsageError(f"MESSAGE is neither a file nor hex: {exc}") from None
    comp = _plan(state).component(hub.name)

    async def run() -> bytes:
        url = f"http://{comp.address}/han/exchange?device={target.duis}&timeout={timeout}"
        async with (
            aiohttp.ClientSession() as http,
            http.post(url, data=body, timeout=aiohttp.ClientTimeout(total=timeout + 5)) as rsp,
        ):
            data = await rsp.read()
            if rsp.status != 200:
                raise click.ClickException(json.loads(data).get("error", f"HTTP {rsp.status}"))
            return data

    try:
        click.echo(asyncio.run(run()).hex().upper())
    except aiohttp.ClientError as exc:
        raise click.ClickException(f"the hub does not answer: {exc}") from None
