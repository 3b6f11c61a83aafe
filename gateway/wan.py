"""The gateway's side of the SM WAN: one MQTT session that reaches every hub.

Tracks each hub's presence from its retained status and heartbeats; later it
routes GBCS commands down and responses and alerts up.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from dataclasses import dataclass

import aiomqtt

from gateway.config import BrokerConfig
from rig.protocol import wan
from rig.protocol.eui import Eui64

log = logging.getLogger("gateway.wan")


@dataclass
class HubPresence:
    online: bool = False
    last_beat: float | None = None  # monotonic time of the last heartbeat
    beats: int = 0


class WanRouter:
    def __init__(self, cfg: BrokerConfig, hubs: tuple[Eui64, ...]) -> None:
        self.cfg = cfg
        self.hubs: dict[str, HubPresence] = {h.duis: HubPresence() for h in hubs}
        self.connected = False
        self.last_error = "not connected yet"

    def check(self) -> str:
        return "ok" if self.connected else f"broker unreachable: {self.last_error}"

    def presence(self) -> dict[str, dict]:
        now = time.monotonic()
        return {
            eui: {
                "online": p.online,
                "beats": p.beats,
                "last_beat_age_s": None if p.last_beat is None else round(now - p.last_beat, 1),
            }
            for eui, p in self.hubs.items()
        }

    def _tls(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.cfg.ca))
        ctx.load_cert_chain(str(self.cfg.cert), str(self.cfg.key))
        return ctx

    async def run(self) -> None:
        backoff = 0.5
        while True:
            try:
                async with aiomqtt.Client(
                    hostname=self.cfg.host,
                    port=self.cfg.port,
                    identifier=wan.GATEWAY_IDENTITY,
                    tls_context=self._tls(),
                    clean_session=False,
                    keepalive=10,
                    timeout=5,
                ) as client:
                    await client.subscribe(f"{wan.ROOT}/+/status", qos=1)
                    await client.subscribe(f"{wan.ROOT}/+/beat", qos=0)
                    self.connected, backoff = True, 0.5
                    log.info("wan.connected", extra={"broker": f"{self.cfg.host}:{self.cfg.port}"})
                    async for message in client.messages:
                        self._on_message(str(message.topic), bytes(message.payload))
            except (aiomqtt.MqttError, OSError) as exc:
                self.last_error = str(exc)
            if self.connected:
                log.warning("wan.disconnected", extra={"error": self.last_error})
            self.connected = False
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)

    def _on_message(self, topic: str, payload: bytes) -> None:
        hub = wan.hub_of_topic(topic)
        if hub is None:
            return
        presence = self.hubs.setdefault(hub.duis, HubPresence())
        if topic.endswith("/status"):
            online = payload == wan.ONLINE
            if online != presence.online:
                log.info("hub.online" if online else "hub.offline", extra={"device": hub.duis})
            presence.online = online
        elif topic.endswith("/beat"):
            try:
                wan.HubBeat.decode(payload)
            except (ValueError, KeyError) as exc:
                log.warning("hub.bad_beat", extra={"device": hub.duis, "error": str(exc)})
                return
            presence.beats += 1
            presence.last_beat = time.monotonic()
