"""The gateway's side of the SM WAN: one MQTT 5 session that reaches every hub.

Tracks each hub's presence from its retained status and heartbeats (a hub seen offline
that comes back online is handed to its owner before anything else the hub sends up is
read, to re-deliver what it still owes the hub), publishes GBCS
commands on a hub's down topic (QoS 1, persistent session, a message expiry equal to the
request's remaining target response time, so a hub that comes back too late never acts
on a command already reported as failed) and hands what hubs send up (GBCS responses
and alerts, hop traces) to its owner, acknowledging each QoS 1 message to the broker only
after its owner has handled (committed) it. Firmware images (11.1) go down in chunks on a
hub's firmware topic; what the hub holds of each comes back on its firmware-held topic.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from rig.protocol import wan
from rig.protocol.eui import Eui64
from rig.runtime.mqtt import MqttTls

log = logging.getLogger("gateway.wan")
SESSION_EXPIRY_S = 7 * 24 * 3600

UplinkHandler = Callable[[Eui64, bytes], Awaitable[None]]
TraceHandler = Callable[[Eui64, dict], Awaitable[None]]
BackOnlineHandler = Callable[[Eui64], Awaitable[object]]
FirmwareHeldHandler = Callable[[Eui64, wan.FirmwareHeld], Awaitable[None]]


class WanUnavailable(RuntimeError):
    """The broker cannot take the command now; the caller retries until its deadline."""


@dataclass
class HubPresence:
    online: bool = False
    known: bool = False  # a status was seen (after a restart: not yet)
    last_beat: float | None = None  # monotonic time of the last heartbeat
    beats: int = 0
    returns: int = 0  # times it came back online after being seen offline


class WanRouter:
    def __init__(
        self,
        cfg: MqttTls,
        hubs: tuple[Eui64, ...],
        on_uplink: UplinkHandler | None = None,
        on_trace: TraceHandler | None = None,
        on_back_online: BackOnlineHandler | None = None,
    ) -> None:
        self.cfg = cfg
        self.hubs: dict[str, HubPresence] = {h.duis: HubPresence() for h in hubs}
        self.on_uplink = on_uplink
        self.on_trace = on_trace
        self.on_back_online = on_back_online
        self.on_firmware_held: FirmwareHeldHandler | None = None
        self.connected = asyncio.Event()
        self.client: aiomqtt.Client | None = None
        self.last_error = "not connected yet"

    def check(self) -> str:
        return "ok" if self.connected.is_set() else f"broker unreachable: {self.last_error}"

    def online(self, hub: Eui64) -> bool:
        p = self.hubs.get(hub.duis)
        return bool(p and p.online)

    def presence(self) -> dict[str, dict]:
        now = time.monotonic()
        return {
            eui: {
                "online": p.online,
                "returns": p.returns,
                "beats": p.beats,
                "last_beat_age_s": None if p.last_beat is None else round(now - p.last_beat, 1),
            }
            for eui, p in self.hubs.items()
        }

    async def send(self, hub: Eui64, gbcs: bytes, deadline: float) -> None:
        """Publish one command to a hub (QoS 1); WanUnavailable if the broker is not there."""
        client = self.client
        if client is None or not self.connected.is_set():
            raise WanUnavailable(self.last_error)
        props = Properties(PacketTypes.PUBLISH)
        props.MessageExpiryInterval = max(1, int(deadline - time.time()))
        # the hub drops a command it gets after this (it sat in a buffer while the hub hung)
        props.UserProperty = [("deadline", f"{deadline:.3f}")]
        try:
            await client.publish(wan.down_topic(hub), gbcs, qos=1, properties=props, timeout=5)
        except (aiomqtt.MqttError, OSError) as exc:
            raise WanUnavailable(str(exc)) from None

    async def send_firmware(self, hub: Eui64, chunk: wan.FirmwareChunk) -> None:
        """Publish one firmware chunk to a hub (QoS 1, no expiry: a chunk queued for a hub
        that is away is answered when it is back); WanUnavailable without a broker."""
        client = self.client
        if client is None or not self.connected.is_set():
            raise WanUnavailable(self.last_error)
        try:
            await client.publish(wan.firmware_topic(hub), chunk.encode(), qos=1, timeout=5)
        except (aiomqtt.MqttError, OSError) as exc:
            raise WanUnavailable(str(exc)) from None

    async def run(self) -> None:
        backoff = 0.5
        connect = Properties(PacketTypes.CONNECT)
        connect.SessionExpiryInterval = SESSION_EXPIRY_S
        while True:
            try:
                client = aiomqtt.Client(
                    hostname=self.cfg.host,
                    port=self.cfg.port,
                    identifier=wan.GATEWAY_IDENTITY,
                    tls_context=self.cfg.tls_context(),
                    protocol=aiomqtt.ProtocolVersion.V5,
                    clean_start=False,
                    properties=connect,
                    keepalive=10,
                    timeout=5,
                )
                # a QoS 1 message is acknowledged only once its handler returned (it has
                # committed what it did with it): one that arrived just before a crash is
                # delivered again by the broker, not lost
                client._client.manual_ack_set(True)
                async with client:
                    await client.subscribe(f"{wan.ROOT}/+/status", qos=1)
                    await client.subscribe(f"{wan.ROOT}/+/beat", qos=0)
                    await client.subscribe(f"{wan.ROOT}/+/up", qos=1)
                    await client.subscribe(f"{wan.ROOT}/+/trace", qos=0)
                    await client.subscribe(f"{wan.ROOT}/+/firmware-held", qos=1)
                    self.client, backoff = client, 0.5
                    self.connected.set()
                    log.info("wan.connected", extra={"broker": f"{self.cfg.host}:{self.cfg.port}"})
                    async for message in client.messages:
                        try:
                            await self._on_message(str(message.topic), bytes(message.payload))
                        finally:
                            if message.qos > 0:
                                client._client.ack(message.mid, message.qos)
            except (aiomqtt.MqttError, OSError) as exc:
                self.last_error = str(exc)
            if self.connected.is_set():
                log.warning("wan.disconnected", extra={"error": self.last_error})
            self.connected.clear()
            self.client = None
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _on_message(self, topic: str, payload: bytes) -> None:
        hub = wan.hub_of_topic(topic)
        if hub is None:
            return
        presence = self.hubs.setdefault(hub.duis, HubPresence())
        kind = topic.rsplit("/", 1)[-1]
        if kind == "status":
            online = payload == wan.ONLINE
            back = online and presence.known and not presence.online
            if online != presence.online:
                log.info("hub.online" if online else "hub.offline", extra={"device": hub.duis})
            presence.online, presence.known = online, True
            if back:
                presence.returns += 1
                # awaited here: what is re-delivered is chosen before the answers the hub
                # queued while it was offline are read (they come after this status)
                if self.on_back_online is not None:
                    await self.on_back_online(hub)
        elif kind == "beat":
            try:
                wan.HubBeat.decode(payload)
            except (ValueError, KeyError) as exc:
                log.warning("hub.bad_beat", extra={"device": hub.duis, "error": str(exc)})
                return
            presence.beats += 1
            presence.last_beat = time.monotonic()
        elif kind == "up" and self.on_uplink is not None:
            await self.on_uplink(hub, payload)
        elif kind == "firmware-held" and self.on_firmware_held is not None:
            try:
                held = wan.FirmwareHeld.decode(payload)
            except wan.WanRecordError as exc:
                log.warning("hub.bad_firmware_held", extra={"device": hub.duis, "error": str(exc)})
                return
            await self.on_firmware_held(hub, held)
        elif kind == "trace" and self.on_trace is not None:
            try:
                data = json.loads(payload)
            except ValueError:
                return
            if isinstance(data, dict):
                await self.on_trace(hub, data)
