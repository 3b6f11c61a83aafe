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

How each device's transfer over the HAN ended comes back from the hub as CCS08 (0x0128, to
the ACB): :func:`transfer_dcc_alert` makes it the DCC Alert DUIS defines for it,
CommsHubAlert with its FirmwareTransferAlert, for the DCC User whose 11.1 sent the image.

11.4 Update PPMID Firmware distributes a PPMID's image the same way. The PPMID activates it
once verified and tells the ACB with CS09 (0x012B): :func:`ppmid_activation_dcc_alert`
makes it the DCC Alert DUIS defines for it, PPMIDAlert with its PPMIDFirmwareUpgradeAlert,
for the DCC User whose 11.4 sent the image.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from gateway.store import Distribution, Store
from gateway.wan import WanRouter, WanUnavailable
from rig.protocol import wan
from rig.protocol.codec import DecodeError
from rig.protocol.duis.message import RequestId, Response, now
from rig.protocol.duis.xml import SR
from rig.protocol.eui import Eui64
from rig.protocol.firmware import image_hash
from rig.protocol.gbcs.catalogue_firmware import (
    ppmid_activation_of,
    transfer_alert_of,
    version_of,
)
from rig.protocol.gbcs.frame import GbcsMessage

log = logging.getLogger("gateway.firmware")
CHUNK_SIZE = 1024  # bytes of image a chunk
ANSWER_TIMEOUT_S = 3.0  # a chunk the hub has not answered by then is sent again
IDLE_S = 1.0

Key = tuple[str, str]  # (hub hex, image)
# The DCCAlertCode of CommsHubAlert: the schema allows N1 to N65 and names none per alert
# type; the rig's pick, one constant to correct against DUIS's table of DCC Alerts.
FIRMWARE_TRANSFER_DCC_ALERT = "N56"
PPMID_ACTIVATION_DCC_ALERT = "N57"  # PPMIDAlert's (CS09): the rig's pick too, as above
_E = f"{{{SR}}}"


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


def _element(parent: etree._Element, name: str, value: str) -> None:
    etree.SubElement(parent, f"{_E}{name}").text = value


def transfer_dcc_alert(store: Store, hub: Eui64, msg: GbcsMessage) -> tuple[Eui64, Response] | None:
    """The DCC Alert for a hub's CCS08 and the DCC User it goes to: the one whose 11.1 sent
    the hub the image for that device (the latest such). None, logged, when the alert cannot
    be read or no 11.1 sent the device an image through this hub."""
    try:
        alert = transfer_alert_of(msg.payload)
        outcome = alert.outcome
    except (DecodeError, IndexError, ValueError) as exc:
        log.warning("firmware.bad_transfer_alert", extra={"device": hub.duis, "error": str(exc)})
        return None
    device = Eui64(alert.device)
    request = _sent_by(store, hub, device, alert.alert_code)
    if request is None:
        return None
    body = etree.Element(f"{_E}DCCAlert", nsmap={"sr": SR})
    comms_hub = etree.SubElement(body, f"{_E}CommsHubAlert")
    _element(comms_hub, "CommsHubDeviceID", hub.duis)
    _element(comms_hub, "AlertCode", f"{alert.alert_code:04X}")
    _element(comms_hub, "TimeStamp", alert.when.strftime("%Y-%m-%dT%H:%M:%SZ"))
    transfer = etree.SubElement(comms_hub, f"{_E}FirmwareTransferAlert")
    _element(transfer, "UpdateFirmwareRequestID", str(request))
    _element(transfer, "OtherDeviceID", device.duis)
    _element(transfer, "FirmwareVersion", version_of(alert.version))
    _element(transfer, "TransferResponseCode", outcome)
    return request.originator, _dcc_alert(msg, request, FIRMWARE_TRANSFER_DCC_ALERT, body)


def _dcc_alert(msg: GbcsMessage, request: RequestId, code: str, body: etree._Element) -> Response:
    """The DCC Alert ``code`` with ``body``, for the sender of ``request``, raised by the
    device's ``msg`` (to the ACB)."""
    return Response(
        "I0",
        now(),
        "DCCAlertMessage",
        None,
        RequestId(Eui64(msg.header.recipient), request.originator, msg.header.counter),
        alert_code=code,
        content=body,
    )


def _sent_by(store: Store, hub: Eui64, device: Eui64, code: int) -> RequestId | None:
    """The request (11.1 or 11.4, the latest) that sent ``device`` an image through ``hub``;
    None, logged, when none did."""
    sent = [d for d in store.distributions() if d.hub == hub.hex and device.duis in d.devices]
    if not sent:
        log.warning(
            "firmware.alert_unmatched",
            extra={"device": device.duis, "hub": hub.duis, "alert_code": f"{code:04X}"},
        )
        return None
    return RequestId.parse(sent[-1].request_id)


def ppmid_activation_dcc_alert(
    store: Store, hub: Eui64, msg: GbcsMessage
) -> tuple[Eui64, Response] | None:
    """The DCC Alert for a PPMID's CS09 and the DCC User it goes to: the one whose 11.4 sent
    the PPMID the image through ``hub`` (the latest such). None, logged, when the alert
    cannot be read or no 11.4 sent the PPMID an image."""
    device = Eui64(msg.header.originator)
    try:
        alert = ppmid_activation_of(msg.payload)
        outcome = alert.outcome
    except (DecodeError, IndexError, ValueError) as exc:
        log.warning(
            "firmware.bad_activation_alert", extra={"device": device.duis, "error": str(exc)}
        )
        return None
    request = _sent_by(store, hub, device, alert.alert_code)
    if request is None:
        return None
    body = etree.Element(f"{_E}DCCAlert", nsmap={"sr": SR})
    ppmid = etree.SubElement(body, f"{_E}PPMIDAlert")
    _element(ppmid, "DeviceID", device.duis)
    _element(ppmid, "DeviceAlertCode", f"{alert.alert_code:04X}")
    _element(ppmid, "Timestamp", alert.when.strftime("%Y-%m-%dT%H:%M:%SZ"))
    upgrade = etree.SubElement(ppmid, f"{_E}PPMIDFirmwareUpgradeAlert")
    _element(upgrade, "FirmwareVersion", version_of(alert.version))
    _element(upgrade, "ActivateImageResultCode", outcome)
    response = _dcc_alert(msg, request, PPMID_ACTIVATION_DCC_ALERT, body)
    log.info(
        "firmware.ppmid_activated",
        extra={"device": device.duis, "version": version_of(alert.version), "outcome": outcome},
    )
    return request.originator, response
