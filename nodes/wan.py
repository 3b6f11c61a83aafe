"""The hub's WAN link: a persistent MQTT session over TLS to the DCC's broker.

Connects with the hub's own client certificate, announces itself with a
retained "online" on its status topic (the broker publishes "offline" as its
will if the link dies), heartbeats once every few seconds and receives the
commands the gateway queues for it, reconnecting with backoff for as long as
the node runs. What it sends up (GBCS responses and alerts, QoS 1; hop traces, QoS 0)
waits in a queue while the link is down and goes out in order once it is back.

A lab can take the link down (:meth:`WanLink.drop`), as a modem losing its signal: the TCP
connection dies with no MQTT goodbye (the broker publishes the hub's will, "offline"), the
link stays down for the seconds asked, then reconnects. Armed with
:meth:`WanLink.drop_after_command`, the drop happens right after the hub has forwarded
the next command from the WAN onto the HAN.

Firmware chunks (11.1) arrive on the hub's firmware topic and go to ``on_firmware``; the
hub's answer, what it holds (:meth:`WanLink.send_held`), goes up like a response (QoS 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from rig.protocol import wan
from rig.protocol.eui import Eui64
from rig.runtime.mqtt import MqttTls

log = logging.getLogger("nodes.wan")
BEAT_EVERY_S = 5.0
SESSION_EXPIRY_S = 7 * 24 * 3600


def _deadline(message: aiomqtt.Message) -> float | None:
    """The gateway's deadline for a command (MQTT 5 user property), if it set one."""
    for key, value in getattr(message.properties, "UserProperty", None) or []:
        if key == "deadline":
            try:
                return float(value)
            except ValueError:
                return None
    return None


class WanLink:
    def __init__(
        self,
        cfg: MqttTls,
        chf: Eui64,
        on_command: Callable[[bytes, float | None], Awaitable[None]] | None = None,
        on_firmware: Callable[[wan.FirmwareChunk], Awaitable[None]] | None = None,
    ) -> None:
        self.cfg = cfg
        self.chf = chf
        self.identity = wan.hub_identity(chf)
        self.on_command = on_command
        self.on_firmware = on_firmware
        self.sessions = 0  # MQTT sessions opened: each reconnect after a loss is one more
        self.connected = False
        self.last_error = "not connected yet"
        self.commands_received = 0
        self._started = time.monotonic()
        self._beat = 0
        self._out: deque[tuple[str, bytes, int]] = deque()
        self._more = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._down_until = 0.0  # monotonic: a dropped link stays down until then
        self._drop_after_command: float | None = None  # seconds, once armed
        self.drops = 0

    def send_up(self, gbcs: bytes) -> None:
        """A GBCS response or alert for the gateway (QoS 1)."""
        self._out.append((wan.up_topic(self.chf), gbcs, 1))
        self._more.set()

    def send_held(self, held: wan.FirmwareHeld) -> None:
        """What the hub holds of a firmware image, for the gateway (QoS 1)."""
        self._out.append((wan.firmware_held_topic(self.chf), held.encode(), 1))
        self._more.set()

    def trace(self, hop: str, device: Eui64, user: Eui64, counter: int) -> None:
        """When a message passed a hop here: envelope only, for the gateway's timeline."""
        data = {
            "hop": hop,
            "device": device.hex,
            "user": user.hex,
            "counter": counter,
            "at": time.time(),
        }
        self._out.append((wan.trace_topic(self.chf), json.dumps(data).encode(), 0))
        self._more.set()

    async def _sender(self, client: aiomqtt.Client) -> None:
        while True:
            while self._out:
                topic, payload, qos = self._out[0]
                await client.publish(topic, payload, qos=qos, timeout=5)
                self._out.popleft()
            self._more.clear()
            await self._more.wait()

    def check(self) -> str:
        if self.connected:
            return "ok"
        down = self._down_until - time.monotonic()
        if down > 0:
            return f"link dropped on purpose (rig wan drop), back in {down:.0f} s"
        return f"broker unreachable: {self.last_error}"

    def drop(self, seconds: float) -> bool:
        """Lose the link now and keep it down for ``seconds``: the TCP connection is cut
        under the MQTT session (no DISCONNECT, so the broker publishes the will). False
        when the link was not up (it then stays down that long all the same)."""
        self._down_until = time.monotonic() + seconds
        self.drops += 1
        client = self._client
        sock = client._client.socket() if client is not None else None
        log.warning("wan.dropped", extra={"device": self.chf.duis, "seconds": seconds})
        if not isinstance(sock, socket.socket):
            return False
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)  # paho reads EOF: the session ends, unsaid
        return True

    def drop_after_command(self, seconds: float) -> None:
        """Arm a drop of ``seconds`` for right after the next command is forwarded."""
        self._drop_after_command = seconds
        log.info("wan.drop_armed", extra={"device": self.chf.duis, "seconds": seconds})

    @property
    def drop_armed(self) -> float | None:
        return self._drop_after_command

    def command_forwarded(self) -> None:
        """The hub has put a command from the WAN onto the HAN: an armed drop happens now."""
        seconds, self._drop_after_command = self._drop_after_command, None
        if seconds is not None:
            self.drop(seconds)

    async def run(self) -> None:
        backoff = 0.5
        while True:
            down = self._down_until - time.monotonic()
            if down > 0:
                await asyncio.sleep(down)  # a dropped link: no signal yet
            try:
                await self._session()
            except aiomqtt.MqttError as exc:
                self.last_error = str(exc)
            except OSError as exc:
                self.last_error = f"{exc.__class__.__name__}: {exc}"
            finally:
                self._client = None
            if self.connected:
                log.warning(
                    "wan.disconnected", extra={"device": self.chf.duis, "error": self.last_error}
                )
                backoff = 0.5  # it was up: the next try is soon
            self.connected = False
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)

    async def _session(self) -> None:
        will = aiomqtt.Will(wan.status_topic(self.chf), wan.OFFLINE, qos=1, retain=True)
        connect = Properties(PacketTypes.CONNECT)
        connect.SessionExpiryInterval = SESSION_EXPIRY_S
        async with aiomqtt.Client(
            hostname=self.cfg.host,
            port=self.cfg.port,
            identifier=self.identity,
            tls_context=self.cfg.tls_context(),
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=False,
            properties=connect,
            will=will,
            keepalive=10,
            timeout=5,
        ) as client:
            self._client = client
            await client.publish(wan.status_topic(self.chf), wan.ONLINE, qos=1, retain=True)
            await client.subscribe(wan.down_topic(self.chf), qos=1)
            await client.subscribe(wan.firmware_topic(self.chf), qos=1)
            self.sessions += 1
            self.connected = True
            log.info(
                "wan.connected",
                extra={"device": self.chf.duis, "broker": f"{self.cfg.host}:{self.cfg.port}"},
            )
            beats = asyncio.create_task(self._beats(client))
            sender = asyncio.create_task(self._sender(client))
            try:
                async for message in client.messages:
                    if str(message.topic) == wan.firmware_topic(self.chf):
                        await self._firmware(bytes(message.payload))
                        continue
                    self.commands_received += 1
                    log.info(
                        "wan.command",
                        extra={"device": self.chf.duis, "bytes": len(message.payload)},
                    )
                    if self.on_command is not None:
                        await self.on_command(bytes(message.payload), _deadline(message))
            except asyncio.CancelledError:
                # a clean stop says goodbye; the will message covers a crash
                with contextlib.suppress(aiomqtt.MqttError):
                    await client.publish(
                        wan.status_topic(self.chf), wan.OFFLINE, qos=1, retain=True, timeout=2
                    )
                raise
            finally:
                beats.cancel()
                sender.cancel()

    async def _firmware(self, payload: bytes) -> None:
        try:
            chunk = wan.FirmwareChunk.decode(payload)
        except wan.WanRecordError as exc:
            log.warning(
                "wan.bad_firmware_chunk", extra={"device": self.chf.duis, "error": str(exc)}
            )
            return
        if self.on_firmware is not None:
            await self.on_firmware(chunk)

    async def _beats(self, client: aiomqtt.Client) -> None:
        while True:
            self._beat += 1
            beat = wan.HubBeat(seq=self._beat, uptime_s=round(time.monotonic() - self._started, 1))
            await client.publish(wan.beat_topic(self.chf), beat.encode(), qos=0)
            await asyncio.sleep(BEAT_EVERY_S)
