"""``rig wan``: the SM WAN, live, as a read-only observer of the broker.

rig wan watch                          every hub's GBCS: commands going down, answers coming up
rig wan watch --hub esme --decode      one hub (a device names its hub), payloads decoded
rig wan watch --json --count 2         one JSON object per message; stop after two
rig wan watch --all --seconds 30       also hub status, heartbeats and hop traces; 30 s
rig wan drop --hub chf --seconds 5 [--after-command]   lose a hub's link (fault injection)

One line per message: time, hub, direction (``down``: a command to the hub, ``up``: a
response or alert from it), the GBCS grouping header (CRA flag, originator, recipient,
counter, message code and use case) and the size. ``--decode`` reads each message with
the keys the rig's PKI holds (``rig gbcs inspect``'s decoding and verdicts, and for
responses and alerts the DCC User's reading of their values); a message it cannot
decode says why, and watching goes on.

The watcher takes its own identity from the rig's pool of read-only observers
(:mod:`rig.lifecycle.observers`), so ``rig status`` or another watcher never disconnects
it. Exit codes: 0 done (``--count``, ``--seconds``, Ctrl-C), 1 the broker cannot be
reached or no observer identity is free, 2 a usage error, 3 the rig is not up.

``rig wan drop`` is the one verb that acts: the hub cuts its MQTT connection as a modem
losing its signal would (the broker publishes its will, "offline"), stays off the WAN for
S seconds (what it sends up waits in its queue), then reconnects; with
``--after-command`` the drop comes right after the next command from the WAN is on the HAN.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from collections.abc import Callable
from typing import Any

import aiomqtt
import click
from rich.markup import escape
from rich.text import Text

from rig.cli.common import console, out, rig_options
from rig.cli.fault import node_request
from rig.dccuser import readers
from rig.description.model import Node, Rig, Role
from rig.lifecycle.observers import Observer, ObserverPool
from rig.pki.authority import Pki
from rig.pki.keystores import load as load_keys
from rig.plan.model import Plan, broker_link
from rig.protocol import wan
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64, EuiError
from rig.protocol.gbcs.frame import Cra, GbcsMessage
from rig.protocol.gbcs.inspect import inspect
from rig.protocol.keystore import KeyStore, KeyStoreError
from rig.protocol.smki import Usage
from rig.runtime.mqtt import MqttTls
from rig.state import StateDir

GBCS_DIRECTIONS = ("down", "up")  # a hub's command and answer topics
OTHER_DIRECTIONS = ("status", "beat", "trace")  # shown with --all
HEADER_FIELDS = (
    "cra",
    "kind",
    "originator",
    "recipient",
    "counter",
    "message_code",
    "use_case",
    "use_case_name",
)
_READ_HEADER = ("use_case", "message_code", "kind", "counter")  # already in the line
_STYLE = {"down": "cyan", "up": "green"}


class BrokerUnreachable(RuntimeError):
    """The first connection to the broker failed; the message says what to do."""


# --- which hubs ------------------------------------------------------------------------------
def hub_of(rig: Rig, name: str) -> Node:
    """The hub a node name (or EUI-64) stands for: a hub itself, or the hub a device joins."""
    node = next((n for n in rig.nodes if n.name == name), None)
    if node is None:
        gpf = next((n for n in rig.hubs if name == f"{n.name}-gpf"), None)
        if gpf is not None:
            return gpf
        try:
            eui = Eui64.parse(name)
        except EuiError:
            eui = None
        node = next((n for n in rig.nodes if eui is not None and eui in (n.eui, n.gpf_eui)), None)
    if node is None:
        names = ", ".join(n.name for n in rig.nodes)
        raise click.BadParameter(
            f"{name!r} is no node of rig {rig.name!r}; use one of: {names}", param_hint="--hub"
        )
    if node.role is Role.CHF:
        return node
    if node.hub is not None:
        return rig.node(node.hub)
    return rig.hubs[0]  # the description's rules: a device without `hub` is on the only hub


def topic_filters(hub: Eui64 | None, *, everything: bool) -> list[str]:
    """What to subscribe to: one hub's topics, or every hub's (``+``)."""
    kinds = GBCS_DIRECTIONS + (OTHER_DIRECTIONS if everything else ())
    where = hub.hex if hub is not None else "+"
    return [f"{wan.ROOT}/{where}/{kind}" for kind in kinds]


# --- one record per message -----------------------------------------------------------------
class WanReader:
    """Turns what travels on the WAN into one record per message.

    ``store`` (the rig's keys) and ``acb`` (the DCC's access control broker) are given for
    ``--decode``; without them only the grouping header is read."""

    def __init__(
        self, hub_names: dict[Eui64, str], store: KeyStore | None = None, acb: Eui64 | None = None
    ) -> None:
        self.hub_names = hub_names
        self.store = store
        self.acb = acb

    def record(self, topic: str, payload: bytes, when: dt.datetime) -> dict[str, Any]:
        hub = wan.hub_of_topic(topic)
        direction = topic.rsplit("/", 1)[-1]
        rec: dict[str, Any] = {
            "time": when.isoformat(timespec="milliseconds"),
            "hub": self.hub_names.get(hub, hub.duis) if hub is not None else None,
            "hub_eui": hub.duis if hub is not None else None,
            "direction": direction,
            "topic": topic,
            "size": len(payload),
        }
        if direction in GBCS_DIRECTIONS:
            rec.update(self._gbcs(payload))
        elif direction == "status":
            rec["status"] = payload.decode(errors="replace")
        elif direction == "beat":
            try:
                beat = wan.HubBeat.decode(payload)
                rec.update(seq=beat.seq, uptime_s=beat.uptime_s)
            except (ValueError, KeyError, TypeError) as exc:
                rec["error"] = f"not a hub heartbeat: {exc}"
        elif direction == "trace":
            try:
                rec["trace"] = json.loads(payload)
            except ValueError as exc:
                rec["error"] = f"not a JSON hop trace: {exc}"
        return rec

    def _gbcs(self, payload: bytes) -> dict[str, Any]:
        decode = self.store is not None
        try:
            found = inspect(payload, self.store, self.acb) if decode else inspect(payload)
        except Exception as exc:  # whatever a malformed message does, watching goes on
            return {"error": f"not a GBCS message: {exc.__class__.__name__}: {exc}"}
        if "error" in found:
            return {"error": f"not a GBCS message: {found['error']}"}
        rec: dict[str, Any] = {k: found[k] for k in HEADER_FIELDS}
        if not decode:
            return rec
        rec["decoded"] = {
            k: v for k, v in found.items() if k not in HEADER_FIELDS and k not in ("file",)
        }
        if found["cra"] in (Cra.RESPONSE.name.lower(), Cra.ALERT.name.lower()):
            try:
                rec["values"] = self._read(payload)
            except (readers.ReadError, DecodeError, KeyStoreError) as exc:
                rec["values_error"] = str(exc)
            except Exception as exc:  # whatever a malformed message does, watching goes on
                rec["values_error"] = f"{exc.__class__.__name__}: {exc}"
        return rec

    def _read(self, payload: bytes) -> dict[str, Any]:
        """A response's or alert's values, read as its recipient (the DCC User's reader)."""
        assert self.store is not None
        msg = GbcsMessage.decode(payload)
        device, recipient = Eui64(msg.header.originator), Eui64(msg.header.recipient)
        mine = self.store.private(recipient, Usage.KA)
        device_ka = self.store.find(device, Usage.KA)
        device_ds = self.store.find(device, Usage.DS)
        return readers.read(
            msg,
            user_ka=mine.private_key if mine is not None else None,
            device_ka=device_ka.public_key if device_ka is not None else None,
            device_ds=device_ds.public_key if device_ds is not None else None,
        )


# --- printing ------------------------------------------------------------------------------
def _verdict(rec: dict[str, Any], check: str) -> str:
    ok, reason = rec.get(f"{check}_valid"), rec.get(f"{check}_reason", "")
    if ok is True:
        return f"{check} ok"
    if ok is False:
        return f"{check} FAILED ({reason})" if reason else f"{check} FAILED"
    return f"{check}: {reason}" if reason else f"{check}: not checked"


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else _compact(value)


def text_lines(rec: dict[str, Any]) -> list[Text]:
    """A record as the human reads it: one line, and with --decode one more with the MAC and
    signature verdicts and the values read (responses, alerts) or the payload (commands)."""
    when = rec["time"][11:23]  # HH:MM:SS.mmm
    direction = rec["direction"]
    line = Text.assemble(
        (when, "dim"),
        "  ",
        (rec["hub"] or "?", "bold"),
        "  ",
        (f"{direction:<6}", _STYLE.get(direction, "yellow")),
        "  ",
    )
    if "error" in rec:
        line.append(f"cannot decode: {rec['error']}", "red")
    elif direction in GBCS_DIRECTIONS:
        line.append(
            f"{rec['cra']:<8}  {rec['originator']} → {rec['recipient']}  counter {rec['counter']}"
            f"  {rec['message_code']} {rec['use_case']} {rec['use_case_name']}"
        )
        if rec["kind"] != rec["cra"]:
            line.append(f" ({rec['kind']})")
    elif direction == "status":
        line.append(rec["status"])
    elif direction == "beat":
        line.append(f"seq {rec['seq']}, up {rec['uptime_s']:.0f} s")
    else:
        line.append(_compact(rec.get("trace")))
    line.append(f"  {rec['size']} B", "dim")
    decoded = rec.get("decoded")
    if decoded is None:
        return [line]
    detail = Text(f"    {_verdict(decoded, 'mac')}; {_verdict(decoded, 'signature')}; ")
    if "values" in rec:
        shown = {k: v for k, v in rec["values"].items() if k not in _READ_HEADER}
        detail.append("  ".join(f"{k}={_plain(v)}" for k, v in shown.items()))
        return [line, detail]
    if "values_error" in rec:
        detail.append(f"cannot read the values: {rec['values_error']}; ", "red")
    if "payload_error" in decoded:
        detail.append(f"payload cannot be decoded: {decoded['payload_error']}", "red")
    else:
        detail.append(f"payload ({decoded['payload_format']}): {_compact(decoded['payload'])}")
    return [line, detail]


# --- watching ------------------------------------------------------------------------------
async def watch(
    link: MqttTls,
    observer: Observer,
    filters: list[str],
    on_message: Callable[[str, bytes], bool],
    *,
    count: int | None = None,
    notify: Callable[[str], None] = lambda _m: None,
) -> int:
    """Subscribe as ``observer`` and hand each message to ``on_message`` (True: it counted)
    until ``count`` messages counted; reconnect when the broker goes away after the first
    session. Returns how many counted; :class:`BrokerUnreachable` if the first connection
    fails."""
    shown, sessions, backoff, lost = 0, 0, 0.5, False
    while True:
        try:
            async with aiomqtt.Client(
                link.host,
                link.port,
                identifier=observer.identity,
                tls_context=link.tls_context(),
                clean_session=True,
                keepalive=10,
                timeout=5,
            ) as client:
                await client.subscribe([(f, 1) for f in filters])
                sessions += 1
                backoff, lost = 0.5, False
                notify(
                    f"{'watching' if sessions == 1 else 'watching again'} {', '.join(filters)} "
                    f"on {link.address} as {observer.identity} (Ctrl-C stops)"
                )
                async for message in client.messages:
                    payload = message.payload
                    data = payload if isinstance(payload, bytes) else str(payload).encode()
                    if on_message(str(message.topic), data):
                        shown += 1
                        if count is not None and shown >= count:
                            return shown
        except aiomqtt.MqttError as exc:
            if sessions == 0:
                raise BrokerUnreachable(
                    f"cannot reach the WAN broker at {link.address} ({exc}): is the rig up? "
                    "`rig status` shows it, `rig up` starts it"
                ) from None
            if not lost:  # said once per loss, not at every attempt
                notify(f"lost the broker at {link.address} ({exc}); reconnecting")
                lost = True
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, 5.0)


def _keys(state: StateDir) -> KeyStore:
    folder = Pki(state.pki).smki
    if not folder.is_dir():
        raise click.ClickException(f"no PKI in {state.pki}: `rig up` makes it")
    try:
        return load_keys([folder])
    except KeyStoreError as exc:
        raise click.ClickException(f"cannot read the rig's keys: {exc}") from None


def _check_acl(state: StateDir, identity: str) -> None:
    """The running broker's ACL knows the observers (a rig up from an older version does not)."""
    acl = state.root / "components" / "broker" / "acl"
    if acl.exists() and f"user {identity}\n" not in acl.read_text():
        console.print(
            f"[red]error:[/] the running broker's ACL ({acl}) predates the WAN observers, so "
            f"{identity} would see nothing: `rig down` then `rig up`",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)


@click.group("wan")
def wan_group() -> None:
    """The SM WAN (the MQTT broker between the DCC and the hubs): watch it, drop a hub's link."""


@wan_group.command("drop")
@rig_options
@click.option(
    "--hub", "hub_name", required=True, metavar="NAME", help="the hub NAME, or the hub of a device"
)
@click.option(
    "--seconds",
    type=click.FloatRange(min=0, min_open=True, max=3600),
    required=True,
    metavar="S",
    help="how long the link stays down",
)
@click.option(
    "--after-command",
    is_flag=True,
    help="drop right after the hub forwards the next command from the WAN onto the HAN",
)
@click.option("--json", "as_json", is_flag=True)
def drop_cmd(
    rig: Rig, state: StateDir, hub_name: str, seconds: float, after_command: bool, as_json: bool
) -> None:
    """Lose a hub's WAN link for S seconds (no MQTT goodbye: the broker publishes its will)."""
    hub = hub_of(rig, hub_name)
    query = {"seconds": f"{seconds:g}"} | ({"after_command": "1"} if after_command else {})
    data = node_request(state, hub, "POST", "/wan/drop", **query)
    if as_json:
        out.print_json(json.dumps(data))
    elif after_command:
        console.print(
            f"{hub.name} drops its WAN link for {seconds:g} s after the next command",
            highlight=False,
        )
    elif data.get("dropped"):
        console.print(f"{hub.name} dropped its WAN link for {seconds:g} s", highlight=False)
    else:
        console.print(
            f"{hub.name}'s WAN link was not up; it stays down {seconds:g} s", highlight=False
        )


@wan_group.command("watch")
@rig_options
@click.option(
    "--hub", "hub_name", metavar="NAME", help="only the hub NAME, or the hub of the device NAME"
)
@click.option("--decode", is_flag=True, help="decode payloads with the keys in the rig's PKI")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line")
@click.option("--count", type=click.IntRange(min=1), metavar="N", help="stop after N messages")
@click.option(
    "--seconds",
    type=click.FloatRange(min=0, min_open=True),
    metavar="S",
    help="stop after S seconds",
)
@click.option("--all", "everything", is_flag=True, help="also hub status, heartbeats, traces")
def watch_cmd(
    rig: Rig,
    state: StateDir,
    hub_name: str | None,
    decode: bool,
    as_json: bool,
    count: int | None,
    seconds: float | None,
    everything: bool,
) -> None:
    """Print every GBCS message on the WAN live: down (commands), up (responses, alerts)."""
    hub = hub_of(rig, hub_name) if hub_name else None
    plan = Plan.load(state)
    if plan is None:
        console.print(
            f"[red]error:[/] the rig is not up (state {state.root}): `rig up` starts it",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(3)
    reader = WanReader(
        {h.eui: h.name for h in rig.hubs},
        _keys(state) if decode else None,
        rig.acb_eui if decode else None,
    )

    def on_message(topic: str, payload: bytes) -> bool:
        rec = reader.record(topic, payload, dt.datetime.now().astimezone())
        if as_json:
            click.echo(json.dumps(rec, default=str))
        else:
            for line in text_lines(rec):
                out.print(line, soft_wrap=True, highlight=False)
        return True

    def notify(message: str) -> None:
        console.print(f"[dim]{escape(message)}[/]", highlight=False, soft_wrap=True)

    async def run(observer: Observer) -> None:
        link = broker_link(plan, observer.credential, Pki(state.pki))
        filters = topic_filters(hub.eui if hub else None, everything=everything)
        try:
            async with asyncio.timeout(seconds):
                await watch(link, observer, filters, on_message, count=count, notify=notify)
        except TimeoutError:
            pass

    with ObserverPool.of(state).take() as observer:  # ObserverError: rig_options says it
        _check_acl(state, observer.identity)
        try:
            asyncio.run(run(observer))
        except KeyboardInterrupt:
            return
        except BrokerUnreachable as exc:
            console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            sys.exit(1)
