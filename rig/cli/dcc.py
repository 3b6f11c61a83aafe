"""``rig supplier`` and ``rig trace``: the test DCC User and a request's hop timeline.

rig supplier send 4.1.1 --target esme            read the electricity registers
rig supplier send 7.2 --target esme --json       disable supply (critical: transform, sign, send)
rig supplier send 8.2 --param DeviceID=chf       read the inventory
rig supplier inbox --user network-operator       what the DCC delivered (responses, alerts)
rig supplier firmware --target esme --image fw.ota   11.1: firmware to the meter, via its hub
rig trace 90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:1732350000000
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import click
from lxml import etree
from rich.table import Table

from rig.cli.common import console, out, rig_options
from rig.dccuser.client import DccUser, DccUserError, Outcome
from rig.dccuser.tasks import default_user, device_of, send_request, top_up, trace_of
from rig.description.model import Rig
from rig.protocol.codec import DecodeError
from rig.protocol.duis import codes
from rig.protocol.duis.message import RequestId
from rig.protocol.duis.xml import NS, SR, parse
from rig.protocol.eui import Eui64
from rig.protocol.firmware import image_hash
from rig.protocol.zigbee.ota import OtaFile
from rig.state import StateDir


def request_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--as USER, --wait SECONDS and --json: how any request is sent and shown."""
    for option in reversed(
        (
            click.option(
                "--as", "user", help="DCC User name or EUI (default: the target's supplier)"
            ),
            click.option(
                "--wait", default=90.0, show_default=True, help="seconds to wait for the response"
            ),
            click.option("--json", "as_json", is_flag=True),
        )
    ):
        f = option(f)
    return f


@click.group()
def supplier() -> None:
    """The test DCC User: send service requests and read what the DCC delivered."""


@supplier.command("send")
@rig_options
@click.argument("srv_variant", metavar="SRV")
@click.option("--target", help="device: node name (esme, gsme, chf) or EUI-64")
@click.option("--param", "params", multiple=True, help="k=v body parameter (8.2: DeviceID=chf)")
@request_options
def supplier_send(
    rig: Rig,
    state: StateDir,
    srv_variant: str,
    target: str | None,
    params: tuple[str, ...],
    user: str | None,
    wait: float,
    as_json: bool,
) -> None:
    """Build, sign and send one service request; verify, decode and print the answer."""
    try:
        kv = dict(p.split("=", 1) for p in params)
    except ValueError:
        raise click.BadParameter("write --param as key=value") from None
    _report(
        lambda: send_request(rig, state, srv_variant, target, kv, user, wait),
        as_json,
        lambda o: o.ok,
    )


@supplier.command("topup")
@rig_options
@click.option("--target", required=True, help="meter: node name (esme) or EUI-64")
@click.option("--amount", "pounds", type=float, help="pounds to add (a UTRN is made for it)")
@click.option("--utrn", "utrn_code", help="send this 20-digit UTRN instead")
@request_options
def supplier_topup(
    rig: Rig,
    state: StateDir,
    target: str,
    pounds: float | None,
    utrn_code: str | None,
    user: str | None,
    wait: float,
    as_json: bool,
) -> None:
    """2.2 Top Up Device: make a UTRN with the supplier's prepayment key (or send one)."""
    if (pounds is None) == (utrn_code is None):
        raise click.UsageError("give exactly one of --amount POUNDS and --utrn CODE")
    try:
        outcome = top_up(
            rig, state, target, pounds=pounds, utrn_code=utrn_code, user=user, wait=wait
        )
    except DccUserError as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False)
        sys.exit(1)
    if as_json:
        out.print_json(json.dumps(outcome.to_json()))
    else:
        console.print(f"UTRN {outcome.utrn}", highlight=False)
        print_outcome(outcome)
    sys.exit(0 if outcome.ok and outcome.values.get("result") == 0 else 1)


def firmware_body(image: bytes, version: str, devices: list[Eui64]) -> etree._Element:
    """The body of 11.1 Update Firmware (DUIS ``UpdateFirmware``): the image (base64), its
    version (8 hex digits) and the devices, comma-separated."""
    body = etree.Element(f"{{{SR}}}UpdateFirmware", nsmap={"sr": SR})
    etree.SubElement(body, f"{{{SR}}}FirmwareImage").text = base64.b64encode(image).decode()
    etree.SubElement(body, f"{{{SR}}}FirmwareVersion").text = version
    etree.SubElement(body, f"{{{SR}}}DeviceIDList").text = ",".join(d.duis for d in devices)
    return body


def update_firmware(
    rig: Rig, state: StateDir, targets: list[str], image: bytes, user: str | None = None
) -> Outcome:
    """11.1 Update Firmware of ``image`` for ``targets`` (node names or EUI-64s), sent by
    ``user`` (by default the first target's supplier): the DCC's synchronous answer, with
    the devices it left out (DSPUpdateFirmwareWarning) in ``values``."""
    devices = [device_of(rig, t) for t in targets]
    try:
        header = OtaFile.decode(image).header
    except DecodeError as exc:
        raise DccUserError(f"the image is not a ZigBee OTA file: {exc}") from None
    version = f"{header.file_version:08X}"
    client = DccUser.from_state(state.root, user or default_user(rig, devices[0]))
    counter = client.next_counter()
    signed = client.request("11.1", client.dcc, 8, counter, firmware_body(image, version, devices))

    async def post() -> tuple[str, str, bytes]:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            return await client.post(session, "serviceD", signed)

    code, reason, reply = asyncio.run(post())
    outcome = Outcome(str(RequestId(client.eui, client.dcc, counter)), "11.1", code, reason)
    outcome.values = {
        "firmware_version": version,
        "image_hash": image_hash(image).hex(),
        "bytes": len(image),
    }
    if reply.startswith(b"<"):
        warning = (
            parse(reply)
            .getroot()
            .find("sr:Body/sr:ResponseMessage/sr:DSPUpdateFirmwareWarning", NS)
        )
        for item in [] if warning is None else list(warning):
            outcome.values[etree.QName(item).localname] = (item.text or "").split(",")
    return outcome


@supplier.command("firmware")
@rig_options
@click.option(
    "--target", "targets", required=True, multiple=True, help="meter: node name or EUI-64"
)
@click.option(
    "--image",
    "image_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="the OTA file (`rig firmware make`)",
)
@click.option("--activate-at", help="when to activate it: 11.3 Activate Firmware's job")
@request_options
def supplier_firmware(
    rig: Rig,
    state: StateDir,
    targets: tuple[str, ...],
    image_path: Path,
    activate_at: str | None,
    user: str | None,
    wait: float,
    as_json: bool,
) -> None:
    """11.1 Update Firmware: the DCC keeps the image and sends it to the target's hub,
    which serves it over the HAN; the meter verifies it and alerts its supplier (8F72
    verified, 8F1C refused). Exit 1 unless the DCC answers I0."""
    del wait  # 11.1 has a synchronous answer only; the meter's alert follows in the inbox
    if activate_at is not None:
        console.print(
            f"note: activation at {activate_at} is 11.3 Activate Firmware, not sent here: "
            "send 11.3 once the meter holds the image (its 8F72 alert)",
            highlight=False,
        )
    _report(
        lambda: update_firmware(rig, state, list(targets), image_path.read_bytes(), user),
        as_json,
        lambda o: o.acknowledgement == codes.SUCCESS,
    )


def _report(send: Callable[[], Outcome], as_json: bool, ok: Callable[[Outcome], bool]) -> None:
    """Send, print the outcome (JSON or a summary), exit 0 when ``ok`` says it went well."""
    try:
        outcome = send()
    except (DccUserError, KeyError) as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False)
        sys.exit(1)
    if as_json:
        out.print_json(json.dumps(outcome.to_json()))
    else:
        print_outcome(outcome)
    sys.exit(0 if ok(outcome) else 1)


def print_outcome(o: Outcome) -> None:
    style = "green" if o.ok else "red"
    console.print(
        f"[bold]{o.srv}[/] {o.request_id}\n  acknowledgement [{style}]{o.acknowledgement}[/] "
        f"{codes.MEANING.get(o.acknowledgement, '')} {o.reason}",
        highlight=False,
    )
    if o.response_code:
        console.print(
            f"  response [{style}]{o.response_code}[/] {codes.MEANING.get(o.response_code, '')}",
            highlight=False,
        )
    for k, v in o.values.items():
        out.print(f"  {k:22} {v}", highlight=False)
    for d in o.inventory:
        out.print(f"  {d.get('DeviceID')}  {d.get('DeviceType'):6} {d.get('DeviceStatus', '')}")


@supplier.command("inbox")
@rig_options
@click.option("--as", "user", help="DCC User name or EUI (default: the first supplier)")
@click.option("--alerts", is_flag=True, help="only device alerts")
@click.option("--json", "as_json", is_flag=True)
def supplier_inbox(
    rig: Rig, state: StateDir, user: str | None, alerts: bool, as_json: bool
) -> None:
    """What the DCC delivered to a DCC User's Receive Response Service (alerts decoded)."""
    client = DccUser.from_state(state.root, user or default_user(rig, None))

    async def read() -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as session:
            entries = await client.inbox(session, kind="DeviceAlertMessage" if alerts else None)
            for e in entries:
                doc = client.verify(Path(e["file"]).read_bytes())
                if doc.gbcs_payload:
                    try:
                        e["values"] = await client.read_gbcs(session, doc.gbcs_payload)
                    except (DccUserError, ValueError) as exc:
                        e["values"] = {"error": str(exc)}
            return entries

    entries = asyncio.run(read())
    if as_json:
        out.print_json(json.dumps(entries))
        return
    for e in entries:
        out.print(
            f"{dt.datetime.fromtimestamp(e['at']):%H:%M:%S} {e['kind']:19} {e['code']} "
            f"{e.get('request_id') or e.get('response_id')} {e.get('values', '')}",
            highlight=False,
        )


@click.command()
@rig_options
@click.argument("request_id")
@click.option("--json", "as_json", is_flag=True)
def trace(rig: Rig, state: StateDir, request_id: str, as_json: bool) -> None:
    """The hop timeline of one request, from the gateway's store (envelope only)."""
    record = trace_of(state, request_id)
    if record is None:
        console.print(f"[red]no request {request_id}[/] in {state.root}: see `rig supplier inbox`")
        sys.exit(1)
    if as_json:
        out.print_json(json.dumps(record))
        return
    print_trace(record)


def print_trace(record: dict[str, Any]) -> None:
    console.print(
        f"[bold]{record['srv'] or 'alert'}[/] {record['request_id']}  message code "
        f"{record['message_code']}  hub {record['hub']}\n  outcome {record['outcome']} "
        f"{record['response_code']} {record['reason'] or ''}",
        highlight=False,
    )
    table = Table("hop", "at (ms)", "+ms", "where")
    t0 = record["hops"][0]["at"] if record["hops"] else 0
    prev = t0
    for h in record["hops"]:
        where = {k: v for k, v in h.items() if k not in ("at", "hop")}
        table.add_row(
            h["hop"],
            f"{(h['at'] - t0) * 1000:8.1f}",
            f"{(h['at'] - prev) * 1000:7.1f}",
            " ".join(f"{k}={v}" for k, v in where.items()),
        )
        prev = h["at"]
    out.print(table)
