"""``rig supplier`` and ``rig trace``: the test DCC User and a request's hop timeline.

rig supplier send 4.1.1 --target esme            read the electricity registers
rig supplier send 7.2 --target esme --json       disable supply (critical: transform, sign, send)
rig supplier send 8.2 --param DeviceID=chf       read the inventory
rig supplier inbox --user network-operator       what the DCC delivered (responses, alerts)
rig supplier firmware --target esme --image fw.ota   11.1: firmware to the meter, via its hub
rig supplier firmware --target ppmid --image fw.ota  11.4: firmware to the PPMID, via its hub
rig supplier change-supplier --target esme --to supplier-b   6.23: supplier-b gains the meter
rig trace 90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:1732350000000
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import click
from lxml import etree
from rich.table import Table

from rig.cli.common import console, out, rig_options
from rig.dccuser.client import DccUser, DccUserError, Outcome
from rig.dccuser.tasks import (
    default_user,
    device_of,
    rekey,
    send_request,
    top_up,
    trace_of,
)
from rig.description.model import Rig, Role
from rig.protocol.codec import DecodeError
from rig.protocol.duis import codes
from rig.protocol.duis.message import RequestId
from rig.protocol.duis.xml import NS, SR, parse
from rig.protocol.eui import Eui64
from rig.protocol.firmware import image_hash
from rig.protocol.smki import Usage
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


@supplier.command("rekey")
@rig_options
@click.option("--target", required=True, help="device: node name (esme, gsme) or EUI-64")
@click.option(
    "--usage",
    type=click.Choice(["ds", "ka"]),
    default="ds",
    show_default=True,
    help="the key pair to replace: digital signing or key agreement",
)
@request_options
def supplier_rekey(
    rig: Rig,
    state: StateDir,
    target: str,
    usage: str,
    user: str | None,
    wait: float,
    as_json: bool,
) -> None:
    """A new key pair for a device: 6.17 Issue Security Credentials (the device generates
    it and answers a PKCS#10 request), the DCC's SMKI issues its certificate, and 6.15.2
    Update Security Credentials (Device) installs it; the device and the DCC use it from
    then on. Exit 1 unless the device took the certificate (result 0)."""
    _report(
        lambda: rekey(rig, state, target, Usage(usage), user=user, wait=wait),
        as_json,
        lambda o: o.ok and o.values.get("result") == 0,
    )


@supplier.command("change-supplier")
@rig_options
@click.option("--target", required=True, help="meter: node name (esme, gsme) or EUI-64")
@click.option("--to", "to", required=True, help="the gaining supplier: DCC User name or EUI")
@click.option(
    "--at",
    "at",
    help="future-dated: the meter holds it until this time (ISO 8601, UTC; or +SECONDS "
    "from now), then alerts the gaining supplier 8F66 and the DCC moves its inventory",
)
@click.option("--cancel", is_flag=True, help="cancel the future-dated change the meter holds")
@click.option("--wait", default=90.0, show_default=True, help="seconds to wait for the answer")
@click.option("--json", "as_json", is_flag=True)
def supplier_change(
    rig: Rig,
    state: StateDir,
    target: str,
    to: str,
    at: str | None,
    cancel: bool,
    wait: float,
    as_json: bool,
) -> None:
    """6.23 Update Security Credentials (CoS) from the gaining supplier: the DCC's TransCoS
    party signs the CS02b that puts its certificates into the meter, and the DCC's
    inventory then names it the responsible supplier. With --at the meter answers Command
    Accepted and carries it out at that time; --cancel drops the one it holds. Exit 1
    unless every replacement succeeded (or, with --at or --cancel, it was accepted)."""
    if at is not None and cancel:
        raise click.UsageError("give --at or --cancel, not both")
    params = {}
    try:
        if at is not None:
            params["ExecutionDateTime"] = execution_time(at)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--at") from None
    if cancel:
        params["ExecutionDateTime"] = "3000-12-31T00:00:00Z"  # DUIS's cancellation
    _report(
        lambda: send_request(rig, state, "6.23", target, params, to, wait),
        as_json,
        lambda o: (
            o.ok and bool(o.values.get("accepted") if params else o.values.get("result") == 0)
        ),
    )


# the SRV that updates a device's firmware, its body's element and its warning's (DUIS)
FIRMWARE_SRVS = {
    "11.1": ("UpdateFirmware", "DSPUpdateFirmwareWarning"),
    "11.4": ("UpdatePPMIDFirmware", "DSPUpdatePPMIDFirmwareWarning"),
}


def firmware_body(
    image: bytes, version: str, devices: list[Eui64], srv: str = "11.1"
) -> etree._Element:
    """The body of 11.1 Update Firmware (DUIS ``UpdateFirmware``) or 11.4 Update PPMID
    Firmware (``UpdatePPMIDFirmware``, the same fields): the image (base64), its version
    (8 hex digits) and the devices, comma-separated."""
    body = etree.Element(f"{{{SR}}}{FIRMWARE_SRVS[srv][0]}", nsmap={"sr": SR})
    etree.SubElement(body, f"{{{SR}}}FirmwareImage").text = base64.b64encode(image).decode()
    etree.SubElement(body, f"{{{SR}}}FirmwareVersion").text = version
    etree.SubElement(body, f"{{{SR}}}DeviceIDList").text = ",".join(d.duis for d in devices)
    return body


def firmware_srv(rig: Rig, devices: list[Eui64]) -> str:
    """11.4 when every device is a PPMID the description names, else 11.1 (DccUserError for
    PPMIDs and other devices together: one request each)."""
    ppmids = {n.eui for n in rig.by_role(Role.PPMID)}
    if not ppmids.intersection(devices):
        return "11.1"
    if not ppmids.issuperset(devices):
        raise DccUserError(
            "11.4 updates PPMIDs and 11.1 the meters: send the PPMIDs and the meters apart"
        )
    return "11.4"


def update_firmware(
    rig: Rig, state: StateDir, targets: list[str], image: bytes, user: str | None = None
) -> Outcome:
    """11.1 Update Firmware (11.4 Update PPMID Firmware for PPMIDs) of ``image`` for
    ``targets`` (node names or EUI-64s), sent by ``user`` (by default the first target's
    supplier): the DCC's synchronous answer, with the devices it left out (its warning) in
    ``values``."""
    devices = [device_of(rig, t) for t in targets]
    srv = firmware_srv(rig, devices)
    try:
        header = OtaFile.decode(image).header
    except DecodeError as exc:
        raise DccUserError(f"the image is not a ZigBee OTA file: {exc}") from None
    version = f"{header.file_version:08X}"
    client = DccUser.from_state(state.root, user or default_user(rig, devices[0], state))
    counter = client.next_counter()
    body = firmware_body(image, version, devices, srv)
    signed = client.request(srv, client.dcc, 8, counter, body)

    async def post() -> tuple[str, str, bytes]:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            return await client.post(session, "serviceD", signed)

    code, reason, reply = asyncio.run(post())
    outcome = Outcome(str(RequestId(client.eui, client.dcc, counter)), srv, code, reason)
    outcome.values = {
        "firmware_version": version,
        "image_hash": image_hash(image).hex(),
        "bytes": len(image),
    }
    if reply.startswith(b"<"):
        warning = (
            parse(reply)
            .getroot()
            .find(f"sr:Body/sr:ResponseMessage/sr:{FIRMWARE_SRVS[srv][1]}", NS)
        )
        for item in [] if warning is None else list(warning):
            outcome.values[etree.QName(item).localname] = (item.text or "").split(",")
    return outcome


@supplier.command("firmware")
@rig_options
@click.option(
    "--target",
    "targets",
    required=True,
    multiple=True,
    help="meter or PPMID (11.4): node name or EUI-64",
)
@click.option(
    "--image",
    "image_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="the OTA file (`rig firmware make`)",
)
@click.option(
    "--activate-at",
    help="then activate it at this time (ISO 8601, UTC; or +SECONDS from now): 11.3 "
    "future-dated, sent to each target once it holds the image (its 8F72)",
)
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
    verified, 8F1C refused). To PPMIDs, 11.4 Update PPMID Firmware: the PPMID verifies
    the image and activates it at once (CS09, a PPMIDAlert from the DCC). With
    --activate-at (meters only), then 11.3 Activate Firmware, future-dated,
    to each target that verified it within --wait seconds: the meter answers Command
    Accepted and, at that time, alerts 8F66 (activated) or 8F67. Exit 1 unless the DCC
    answers I0 (and, with --activate-at, every 11.3 is accepted)."""
    try:
        when = None if activate_at is None else execution_time(activate_at)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--activate-at") from None
    image = image_path.read_bytes()

    def send() -> Outcome:
        outcome = update_firmware(rig, state, list(targets), image, user)
        if when is not None and outcome.acknowledgement == codes.SUCCESS:
            outcome.values["activation"] = activate_when_held(
                rig, state, list(targets), image, when, user, wait
            )
        return outcome

    def ok(o: Outcome) -> bool:
        activations = o.values.get("activation", {})
        accepted = all(a.get("response_code") == codes.SUCCESS for a in activations.values())
        return o.acknowledgement == codes.SUCCESS and accepted and (when is None or activations)

    _report(send, as_json, ok)


def execution_time(text: str) -> str:
    """An ExecutionDateTime as DUIS writes it (UTC, ``Z``) from ISO 8601 (UTC when no zone
    is given) or ``+SECONDS`` from now (ValueError, saying what to write, otherwise)."""
    try:
        if text.startswith("+"):
            when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=float(text[1:]))
        else:
            when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: give one like 2030-01-15T09:00:00Z, or +60 (seconds)"
        ) from None
    when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def activate_when_held(
    rig: Rig,
    state: StateDir,
    targets: list[str],
    image: bytes,
    when: str,
    user: str | None,
    wait: float,
) -> dict[str, dict[str, Any]]:
    """Per target: wait (up to ``wait`` s) for its verdict on ``image`` (8F72 verified, 8F1C
    refused), then, verified, send it 11.3 future-dated at ``when``: what each came to."""
    devices = {t: device_of(rig, t) for t in targets}
    sender = user or default_user(rig, next(iter(devices.values())), state)
    verdicts = asyncio.run(_verdicts(state, sender, set(devices.values()), time.time() - 1, wait))
    name = image_hash(image).hex().upper()
    done: dict[str, dict[str, Any]] = {}
    for target, device in devices.items():
        verdict = verdicts.get(device)
        if verdict != "8F72":
            done[target] = {"alert": verdict, "reason": "the meter does not hold the image"}
            continue
        params = {"FirmwareHash": name, "ExecutionDateTime": when}
        sent = send_request(rig, state, "11.3", target, params, sender, wait)
        done[target] = {
            "execution_date_time": when,
            "request_id": sent.request_id,
            "acknowledgement": sent.acknowledgement,
            "response_code": sent.response_code,
            **sent.values,
        }
    return done


async def _verdicts(
    state: StateDir, user: str, devices: set[Eui64], since: float, wait: float
) -> dict[Eui64, str]:
    """The firmware verdict (8F72 or 8F1C) each of ``devices`` sent ``user`` after ``since``,
    as they come within ``wait`` seconds."""
    client = DccUser.from_state(state.root, user)
    found: dict[Eui64, str] = {}
    deadline = time.monotonic() + wait
    async with aiohttp.ClientSession() as session:
        while set(found) != devices and time.monotonic() < deadline:
            for entry in await client.inbox(session, kind="DeviceAlertMessage", wait=1.0):
                path = Path(entry["file"])
                if path.stat().st_mtime < since:
                    continue
                doc = client.verify(path.read_bytes())
                device = doc.response_id.originator if doc.response_id else None
                if device in devices and doc.alert_code in ("8F72", "8F1C"):
                    found[device] = doc.alert_code
            await asyncio.sleep(0.5)
    return found


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
