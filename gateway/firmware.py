"""The DCC's firmware images (11.1 Update Firmware) and their distribution to the hubs.

11.1 keeps the image in the gateway's store, where it survives a restart, and records for
each comms hub the devices on its HAN it is for (:meth:`FirmwareDistributor.accept`,
inside the request's transaction). The distributor then sends each hub its image over the
WAN in chunks of :data:`CHUNK_SIZE` bytes on the hub's firmware topic (QoS 1), one at a
time, each from where the hub last said it stands (:class:`rig.protocol.wan.FirmwareHeld`,
its answer to every chunk, recorded in the store; an answer that does not move the hub on
from the chunk's offset answers an earlier copy and is not taken for this chunk's). A
chunk lost with the link is sent again; after a WAN outage, a hub restart or a gateway
restart the first chunk carries no data (how much do you hold?) and the distribution
resumes from the hub's answer, not from 0. The hub stages a complete image for the devices
named (:mod:`nodes.roles.chf`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.store import Distribution, Store
from gateway.wan import WanRouter, WanUnavailable
from rig.protocol import wan
from rig.protocol.eui import Eui64
from rig.protocol.firmware import image_hash

log = logging.getLogger("gateway.firmware")
CHUNK_SIZE = 1024  # bytes of image a chunk
ANSWER_TIMEOUT_S = 3.0  # a chunk the hub has not answered by then is sent again
IDLE_S = 1.0

Key = tuple[str, str]  # (hub hex, image)


@dataclass(slots=True)
class Sending:
    """What this run of the gateway sent of one image to one hub (health detail, logs)."""

    chunks: int = 0
    sent_bytes: int = 0  # image bytes published, a chunk sent again counted again
    resumed_from: list[int] = field(default_factory=list)  # where each run of sending began
    ask: bool = True  # ask the hub what it holds before the next data chunk
    resuming: bool = True  # the next data chunk begins a run of sending


class FirmwareDistributor:
    """Images from the store to the hubs, chunk by chunk, resumably."""

    def __init__(self, store: Store, router: WanRouter, chunk_size: int = CHUNK_SIZE) -> None:
        self.store, self.wan, self.chunk_size = store, router, chunk_size
        self.wakeup = asyncio.Event()
        self.sending: dict[Key, Sending] = {}
        # the chunk awaiting its answer: its event, its offset, whether it asks only
        self._answers: dict[Key, tuple[asyncio.Event, int, bool]] = {}
        self._images: dict[str, bytes] = {}

    def accept(
        self, data: bytes, version: str, devices: Mapping[Eui64, list[Eui64]], request_id: str
    ) -> str:
        """Keep ``data`` and send it to each hub for its ``devices`` (in the caller's
        transaction); the image's SHA-256 (hex)."""
        image = image_hash(data).hex()
        self.store.put_firmware(image, version, data)
        for hub, on_han in devices.items():
            self.store.distribute(hub.hex, image, [d.duis for d in on_han], request_id)
        self.wakeup.set()
        log.info(
            "firmware.accepted",
            extra={
                "request_id": request_id,
                "image": image,
                "version": version,
                "bytes": len(data),
                "hubs": [h.duis for h in devices],
            },
        )
        return image

    async def back_online(self, hub: Eui64) -> None:
        """``hub`` is back: ask it what it holds before going on."""
        for key, sending in self.sending.items():
            if key[0] == hub.hex:
                sending.ask = sending.resuming = True
        self.wakeup.set()

    async def on_held(self, hub: Eui64, held: wan.FirmwareHeld) -> None:
        """The hub's answer to a chunk: what it holds of the image, recorded."""
        key = (hub.hex, held.image)
        finished = time.time() if held.complete else None
        with self.store.transaction():
            self.store.firmware_held(hub.hex, held.image, held.held, finished)
        if held.complete:
            log.info(
                "firmware.distributed",
                extra={"device": hub.duis, "image": held.image, "bytes": held.size},
            )
        waiting = self._answers.get(key)
        if waiting is not None:
            event, offset, asking = waiting
            # a data chunk's answer moves the hub on from its offset (or back: it lost
            # some); one that does not answers an earlier copy, still on its way
            if asking or held.held != offset:
                event.set()
        self.wakeup.set()

    async def run(self) -> None:
        while True:
            self.wakeup.clear()
            moved = False
            for d in self.store.distributions(open_only=True):
                hub = Eui64.parse(d.hub)
                if self.wan.online(hub):
                    moved |= await self._step(hub, d)
            if not moved:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), IDLE_S)

    def _image(self, image: str) -> bytes:
        data = self._images.get(image)
        if data is None:
            data = self.store.firmware(image) or b""
            self._images[image] = data
        return data

    async def _step(self, hub: Eui64, d: Distribution) -> bool:
        """Send the next chunk of ``d`` (or ask first) and wait for the hub's answer; False
        when none came (the link is down, or the chunk was lost)."""
        key = (d.hub, d.image)
        sending = self.sending.setdefault(key, Sending())
        asking = sending.ask or d.held >= d.size
        data = b"" if asking else self._image(d.image)[d.held : d.held + self.chunk_size]
        chunk = wan.FirmwareChunk(
            d.image, d.size, d.held, data, tuple(Eui64.parse(x) for x in d.devices)
        )
        answer = asyncio.Event()
        self._answers[key] = (answer, d.held, asking)
        try:
            await self.wan.send_firmware(hub, chunk)
        except WanUnavailable as exc:
            log.warning("firmware.send_retry", extra={"device": hub.duis, "error": str(exc)})
            return False
        if data:
            if sending.resuming:
                sending.resuming = False
                sending.resumed_from.append(d.held)
            sending.chunks += 1
            sending.sent_bytes += len(data)
        try:
            await asyncio.wait_for(answer.wait(), ANSWER_TIMEOUT_S)
        except TimeoutError:
            log.warning(
                "firmware.unanswered",
                extra={"device": hub.duis, "image": d.image, "offset": d.held},
            )
            return False
        finally:
            self._answers.pop(key, None)
        if asking:
            sending.ask = False
            if d.held:
                log.info(
                    "firmware.resume",
                    extra={"device": hub.duis, "image": d.image, "offset": d.held},
                )
        return True

    def detail(self) -> dict[str, Any]:
        """Per hub and image: what the hub holds, and what this run sent."""
        out: dict[str, Any] = {}
        for d in self.store.distributions():
            sending = self.sending.get((d.hub, d.image)) or Sending()
            out.setdefault(Eui64.parse(d.hub).duis, {})[d.image] = {
                "devices": list(d.devices),
                "held": d.held,
                "size": d.size,
                "finished": d.finished,
                "chunks_sent": sending.chunks,
                "bytes_sent": sending.sent_bytes,
                "resumed_from": list(sending.resumed_from),
            }
        return out
