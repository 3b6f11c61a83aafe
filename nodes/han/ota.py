"""Firmware over the HAN: the hub's OTA Upgrade server and a device's OTA client (0x0019).

The hub stages an image for a device (:meth:`OtaServer.stage`); the device asks for it
(Query Next Image), fetches it block by block (Image Block Request, at most
:data:`MAX_BLOCK_DATA` bytes a block, so every block travels in one 802.15.4 frame),
verifies the manufacturer's signature (:func:`rig.protocol.firmware.verify_image`) and ends
with an Upgrade End Request: SUCCESS, the image now held pending
(:meth:`nodes.roles.firmware.Firmware.hold`), or INVALID_IMAGE, the image discarded.

The client keeps what it received in the device's state folder
(:class:`nodes.roles.firmware.Download`), so an outage of the HAN or of the WAN behind the
hub, or a power cut, resumes the transfer at its offset; another image restarts at 0. A
sleepy device spreads the transfer over its wakes: :meth:`OtaClient.update` takes a time
and a block budget and answers INCOMPLETE when it runs out.

Events (``on_event(code, detail)``), by GBCS alert code:

* 0x8F72 image verified, 0x8F1C image verification failed: device alerts whose DUIS payload
  is FirmwareVerificationDeviceAlert (ManufacturerImageHash), as the MMC schema says;
* 0x8F8A and 0x8F89, the transfer: GBCS gives them to CCS08 Firmware Transfer Alert, which
  the comms hub raises (its use case: an image discarded, a hardware version mismatch, a
  transfer failed, a transfer successful). Neither DCC's mapping table nor the DUIS schemas
  say which code is which outcome; RTDS's only CCS08 sample carries 0x8F8A with status 0.
  The rig uses 0x8F8A for a transfer that completed and 0x8F89 for one that failed, and
  every event's detail says which (``transfer``: ``complete`` or ``failed``), so the
  mapping is one table (:data:`TRANSFER_EVENTS`) to correct once GBCS is checked.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric import ec

from nodes.han.app import CHF_ENDPOINT, DEVICE_ENDPOINT, REQUEST_TIMEOUT_S, HanApp
from nodes.radio.api import ApsMessage, DeliveryError
from nodes.roles.firmware import Download, Firmware, PendingImage
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.firmware import (
    DEFAULT_IMAGE_TYPE,
    RIG_MANUFACTURER_CODE,
    FirmwareError,
    file_version_of,
    verify_image,
)
from rig.protocol.gbcs.catalogue import FIRMWARE_VERIFICATION_FAILED, FIRMWARE_VERIFIED
from rig.protocol.gbcs.catalogue_firmware import normal_version
from rig.protocol.zigbee import mac, zcl
from rig.protocol.zigbee.ota import (
    OTA_CLUSTER,
    UPGRADE_WAIT,
    ImageBlockRequest,
    ImageBlockResponse,
    ImageId,
    ImageNotify,
    OtaCommand,
    OtaFile,
    OtaStatus,
    QueryNextImageRequest,
    QueryNextImageResponse,
    UpgradeEndRequest,
    UpgradeEndResponse,
    decode_command,
    decode_frame,
    encode_frame,
)
from rig.protocol.zigbee.se import ZIGBEE_EPOCH

log = logging.getLogger("nodes.han.ota")
RESUME_TRIES = 5  # a transfer the HAN broke off is taken up again this often
RESUME_PAUSE_S = 2.0

IMAGE_VERIFIED: Final = FIRMWARE_VERIFIED  # 0x8F72, declared with the generic alerts
IMAGE_VERIFICATION_FAILED: Final = FIRMWARE_VERIFICATION_FAILED  # 0x8F1C
TRANSFER_COMPLETE: Final = 0x8F8A  # see the module docstring: the outcome each names is
TRANSFER_FAILED: Final = 0x8F89  # the rig's reading, not established from GBCS text
TRANSFER_EVENTS: Final = {"complete": TRANSFER_COMPLETE, "failed": TRANSFER_FAILED}

# One secured 802.15.4 frame (127 bytes) leaves 65 bytes of APS payload once MAC (11), NWK
# (8), NWK security (14 + MIC 4), APS (8) and APS link-key security (13 + MIC 4) are paid;
# an Image Block Response spends 3 on the ZCL header and 14 on its fields (status, image,
# offset, data size): 48 bytes of image a block, no APS fragmentation.
_APS_PAYLOAD: Final = mac.MAX_PSDU - 11 - 8 - 14 - 4 - 8 - 13 - 4
MAX_BLOCK_DATA: Final = _APS_PAYLOAD - 3 - 14
END_REPLY_TIMEOUT_S: Final = 1.0  # an Upgrade End Request that is not SUCCESS: Default Response

EventSink = Callable[[int, dict[str, Any]], None]


def _zcl_time(unix: float) -> int:
    return max(0, int(unix) - ZIGBEE_EPOCH)


def _image_key(image: ImageId, size: int) -> str:
    return f"{image.manufacturer_code:04X}-{image.image_type:04X}-{image.file_version:08X}-{size}"


# --- the server (the hub) ------------------------------------------------------------------


@dataclass(slots=True)
class Staged:
    image: ImageId
    data: bytes
    upgrade_at: float | None  # UTC seconds; None: upgrade now
    wait: bool  # the device waits for an upgrade command (Upgrade End Response 0xFFFFFFFF)


@dataclass(slots=True)
class Progress:
    """What the server sent one device of its staged image (health detail, logs)."""

    device: str
    file_version: int
    size: int
    served: int = 0  # image bytes sent in blocks, a block sent again counted again
    blocks: int = 0
    offset: int = 0  # the end of the last block sent
    starts: list[int] = field(default_factory=list)  # each download's first offset
    started: float | None = None
    finished: float | None = None
    outcome: str | None = None  # the device's Upgrade End Request status

    def detail(self) -> dict[str, Any]:
        return {
            "file_version": f"{self.file_version:08X}",
            "size": self.size,
            "served": self.served,
            "blocks": self.blocks,
            "offset": self.offset,
            "starts": list(self.starts),
            "started": self.started,
            "finished": self.finished,
            "outcome": self.outcome,
        }


class OtaServer:
    """The OTA Upgrade server on ``app`` (the hub's, endpoint 1): the image staged for each
    device, served in blocks, and what each device fetched of it."""

    def __init__(
        self,
        app: HanApp,
        *,
        endpoint: int = CHF_ENDPOINT,
        on_event: EventSink | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app, self.on_event, self.clock, self.endpoint = app, on_event, clock, endpoint
        self.staged: dict[Eui64, Staged] = {}
        self.progress: dict[Eui64, Progress] = {}
        self._queried: set[Eui64] = set()  # asked since their last block: a download begins
        for command, handler in (
            (QueryNextImageRequest, self._query),
            (ImageBlockRequest, self._block),
            (UpgradeEndRequest, self._end),
        ):
            app.serve_command(endpoint, OTA_CLUSTER, command.COMMAND_ID, handler)

    def stage(
        self, device: Eui64, image: bytes, *, upgrade_at: float | None = None, wait: bool = False
    ) -> ImageId:
        """Offer ``image`` (an OTA file) to ``device`` from now on; its Upgrade End Response
        says upgrade now, at ``upgrade_at`` (UTC seconds) or, with ``wait``, on command."""
        try:
            header = OtaFile.decode(image).header
        except DecodeError as exc:
            raise ValueError(f"not an OTA file, so not staged for {device.duis}: {exc}") from None
        self.staged[device] = Staged(header.image, image, upgrade_at, wait)
        self.progress[device] = Progress(device.duis, header.file_version, len(image))
        log.info(
            "ota.staged",
            extra={
                "device": device.duis,
                "file_version": f"{header.file_version:08X}",
                "bytes": len(image),
            },
        )
        return header.image

    async def notify(self, device: Eui64) -> None:
        """Tell ``device`` its image is waiting (Image Notify, unicast, jitter 100: answer
        now). A sleepy device hears it on its next wake, from its parent's queue; it may as
        well just ask at every wake (:meth:`OtaClient.update`)."""
        staged = self.staged[device]
        notice = ImageNotify(
            100, staged.image.manufacturer_code, staged.image.image_type, staged.image.file_version
        )
        tsn = self.app.next_tsn()
        await self.app.request(
            device, OTA_CLUSTER, encode_frame(notice, tsn), tsn, src_ep=self.endpoint, wait=False
        )
        log.info("ota.notified", extra={"device": device.duis})

    def unstage(self, device: Eui64) -> None:
        """Offer ``device`` nothing more; a download under way is aborted at its next block."""
        if self.staged.pop(device, None) is not None:
            log.info("ota.unstaged", extra={"device": device.duis})

    def detail(self) -> dict[str, dict[str, Any]]:
        """Per device, what it fetched (for the hub's health detail)."""
        return {p.device: p.detail() for p in self.progress.values()}

    def _command(self, message: ApsMessage) -> OtaCommand:
        return decode_frame(message.payload).command

    async def _query(self, message: ApsMessage, frame: zcl.ZclFrame) -> bytes:
        request = self._command(message)
        assert isinstance(request, QueryNextImageRequest)
        staged = self.staged.get(message.peer)
        progress = self.progress.get(message.peer)
        offer = (
            staged is not None
            and staged.image.manufacturer_code == request.manufacturer_code
            and staged.image.image_type == request.image_type
            and staged.image.file_version != request.current_file_version
            and not (progress is not None and progress.outcome == OtaStatus.SUCCESS.name)
        )
        log.info(
            "ota.query",
            extra={
                "device": message.peer.duis,
                "current": f"{request.current_file_version:08X}",
                "offered": offer,
            },
        )
        if offer:
            self._queried.add(message.peer)
        if not offer or staged is None:
            answer = QueryNextImageResponse(OtaStatus.NO_IMAGE_AVAILABLE)
        else:
            answer = QueryNextImageResponse(OtaStatus.SUCCESS, staged.image, len(staged.data))
        return encode_frame(answer, frame.tsn)

    async def _block(self, message: ApsMessage, frame: zcl.ZclFrame) -> bytes:
        request = self._command(message)
        assert isinstance(request, ImageBlockRequest)
        staged = self.staged.get(message.peer)
        progress = self.progress.get(message.peer)
        offset = request.file_offset
        if (
            staged is None
            or progress is None
            or staged.image != request.image
            or not 0 <= offset < len(staged.data)
        ):
            log.warning(
                "ota.block_refused",
                extra={
                    "device": message.peer.duis,
                    "offset": offset,
                    "reason": "no such image staged" if staged is None else "bad image or offset",
                },
            )
            return encode_frame(ImageBlockResponse.abort(), frame.tsn)
        size = max(1, min(request.max_data_size, MAX_BLOCK_DATA))
        data = staged.data[offset : offset + size]
        now = self.clock()
        if message.peer in self._queried or progress.started is None:
            self._queried.discard(message.peer)
            progress.starts.append(offset)
            log.info(
                "ota.transfer_from",
                extra={"device": message.peer.duis, "offset": offset, "bytes": progress.size},
            )
        progress.started = progress.started or now
        progress.served += len(data)
        progress.blocks += 1
        progress.offset = offset + len(data)
        log.debug(
            "ota.block", extra={"device": message.peer.duis, "offset": offset, "bytes": len(data)}
        )
        return encode_frame(ImageBlockResponse.block(staged.image, offset, data), frame.tsn)

    async def _end(self, message: ApsMessage, frame: zcl.ZclFrame) -> bytes:
        request = self._command(message)
        assert isinstance(request, UpgradeEndRequest)
        staged = self.staged.get(message.peer)
        progress = self.progress.get(message.peer)
        now = self.clock()
        if progress is not None and progress.file_version == request.image.file_version:
            progress.finished, progress.outcome = now, request.status.name
        transfer = "failed" if request.status is OtaStatus.ABORT else "complete"
        detail = {
            "device": message.peer.duis,
            "file_version": f"{request.image.file_version:08X}",
            "status": request.status.name,
            "transfer": transfer,
        }
        log.info("ota.upgrade_end", extra=detail)
        if self.on_event is not None:
            self.on_event(TRANSFER_EVENTS[transfer], detail)
        if request.status is not OtaStatus.SUCCESS or staged is None:
            # ZCL OTA: a status other than SUCCESS (or an image no longer staged) gets a
            # Default Response; the device discards the image
            command_id = UpgradeEndRequest.COMMAND_ID
            return zcl.default_response(frame.tsn, command_id, zcl.Status.SUCCESS)
        if staged.wait:
            upgrade_time = UPGRADE_WAIT
        else:
            upgrade_time = _zcl_time(now if staged.upgrade_at is None else staged.upgrade_at)
        answer = UpgradeEndResponse(request.image, _zcl_time(now), upgrade_time)
        return encode_frame(answer, frame.tsn)


# --- the client (a device) -----------------------------------------------------------------


class Outcome(StrEnum):
    NO_IMAGE = "no_image"  # the server has nothing newer for this device
    INCOMPLETE = "incomplete"  # out of budget, or the HAN failed: call again to resume
    VERIFIED = "verified"  # held pending (0x8F72)
    REFUSED = "refused"  # did not verify, discarded (0x8F1C)
    ABORTED = "aborted"  # the server aborted the transfer; the partial image discarded


@dataclass(frozen=True, slots=True)
class UpdateResult:
    outcome: Outcome
    file_version: int | None = None
    offset: int = 0  # bytes of the image held (so far, or in all)
    size: int = 0
    upgrade_at: float | None = None  # VERIFIED: when the server says to upgrade (UTC s)
    upgrade_on_command: bool = False  # VERIFIED: the server says wait for an upgrade command
    reason: str = ""


class OtaError(RuntimeError):
    """An answer the OTA client cannot use (wrong command, bad offset)."""


class OtaClient:
    """A device's OTA Upgrade client: fetches the image its server offers, resumably, and
    verifies it against the manufacturer's public key."""

    def __init__(
        self,
        app: HanApp,
        firmware: Firmware,
        manufacturer_key: ec.EllipticCurvePublicKey,
        *,
        folder: Path | None = None,
        on_event: EventSink | None = None,
        manufacturer_code: int = RIG_MANUFACTURER_CODE,
        image_type: int = DEFAULT_IMAGE_TYPE,
        endpoint: int = DEVICE_ENDPOINT,
        server_endpoint: int = CHF_ENDPOINT,
        block_size: int = MAX_BLOCK_DATA,
        timeout_s: float = REQUEST_TIMEOUT_S,
        attempts: int = 3,
    ) -> None:
        self.app, self.firmware, self.key = app, firmware, manufacturer_key
        self.on_event = on_event
        self.manufacturer_code, self.image_type = manufacturer_code, image_type
        self.endpoint, self.server_endpoint = endpoint, server_endpoint
        self.block_size = max(1, min(block_size, MAX_BLOCK_DATA))
        self.timeout_s, self.attempts = timeout_s, attempts
        self.device = firmware.device or app.eui.duis
        self.download = Download(folder or firmware.path.parent, self.device)

    async def update_resuming(
        self, server: Eui64, tries: int = RESUME_TRIES, pause_s: float = RESUME_PAUSE_S
    ) -> UpdateResult:
        """:meth:`update`, taken up again (after ``pause_s``) while the HAN breaks it off,
        up to ``tries`` times (an awake device's fetch after Image Notify)."""
        result = await self.update(server)
        for _ in range(tries - 1):
            if result.outcome is not Outcome.INCOMPLETE:
                break
            await asyncio.sleep(pause_s)
            result = await self.update(server)
        log.info(
            "firmware.update",
            extra={"device": self.device, "outcome": result.outcome.value, "reason": result.reason},
        )
        return result

    async def update(
        self, server: Eui64, *, budget_s: float | None = None, max_blocks: int | None = None
    ) -> UpdateResult:
        """Ask ``server`` for a newer image and fetch it from where the last call stopped;
        INCOMPLETE once ``budget_s`` seconds or ``max_blocks`` blocks are spent, or when the
        HAN fails ``attempts`` times in a row (call again to resume)."""
        deadline = None if budget_s is None else time.monotonic() + budget_s
        try:
            offered = await self._ask(server, self._query(), QueryNextImageResponse)
        except (TimeoutError, DeliveryError, OtaError) as exc:
            return self._incomplete(None, 0, f"Query Next Image: {exc}")
        assert isinstance(offered, QueryNextImageResponse)
        if offered.status is not OtaStatus.SUCCESS or offered.image is None:
            log.info("ota.no_image", extra={"device": self.device, "status": offered.status.name})
            return UpdateResult(Outcome.NO_IMAGE, reason=offered.status.name)
        image, size = offered.image, offered.image_size or 0
        offset = self.download.begin(_image_key(image, size))
        blocks, failures = 0, 0
        while offset < size:
            if (max_blocks is not None and blocks >= max_blocks) or (
                deadline is not None and time.monotonic() >= deadline
            ):
                return self._incomplete(image, size, "out of budget")
            want = min(self.block_size, size - offset)
            try:
                answer = await self._ask(
                    server, ImageBlockRequest(image, offset, want), ImageBlockResponse
                )
            except (TimeoutError, DeliveryError) as exc:
                failures += 1
                if failures >= self.attempts:
                    return self._incomplete(image, size, f"no block at {offset}: {exc!r}")
                continue
            except OtaError as exc:
                return self._incomplete(image, size, str(exc))
            assert isinstance(answer, ImageBlockResponse)
            failures = 0
            if answer.status is OtaStatus.ABORT:
                return self._aborted(image, size)
            if answer.status is OtaStatus.WAIT_FOR_DATA:
                pause = max(
                    (answer.request_time or 0) - (answer.current_time or 0),
                    (answer.min_block_period or 0) / 1000,
                )
                if deadline is not None and time.monotonic() + pause > deadline:
                    return self._incomplete(image, size, "the server asks to wait")
                await asyncio.sleep(pause)
                continue
            if answer.image != image or answer.file_offset != offset or not answer.data:
                return self._incomplete(
                    image, size, f"a block for {answer.file_offset}, asked for {offset}"
                )
            self.download.append(offset, answer.data[: size - offset])
            log.debug(
                "ota.block",
                extra={"device": self.device, "offset": offset, "bytes": len(answer.data)},
            )
            offset, blocks = self.download.offset, blocks + 1
        return await self._finish(server, image, size)

    def detail(self) -> dict[str, Any]:
        """The download under way, if any (for the device's health detail)."""
        return {"image": self.download.image, "offset": self.download.offset}

    def on_notify(self, offered: Callable[[Eui64], None]) -> None:
        """Call ``offered(server)`` when a server's Image Notify says it has an image for this
        device (the role then runs :meth:`update` against that server)."""

        async def heard(message: ApsMessage, frame: zcl.ZclFrame) -> None:
            log.info("ota.notice", extra={"device": self.device, "server": message.peer.duis})
            offered(message.peer)

        self.app.handle(OTA_CLUSTER, "image_notify", heard)

    def _query(self) -> QueryNextImageRequest:
        return QueryNextImageRequest(
            self.manufacturer_code, self.image_type, file_version_of(self.firmware.version)
        )

    async def _ask(
        self, server: Eui64, command: OtaCommand, answer: type[OtaCommand]
    ) -> OtaCommand:
        tsn = self.app.next_tsn()
        body = encode_frame(command, tsn)
        frame = await asyncio.wait_for(
            self.app.request(
                server,
                OTA_CLUSTER,
                body,
                tsn,
                dst_ep=self.server_endpoint,
                src_ep=self.endpoint,
            ),
            self.timeout_s,
        )
        assert frame is not None
        command_id = int(frame.header.command_id)
        if frame.header.frame_control.is_general or command_id != answer.COMMAND_ID:
            raise OtaError(f"the server answered {frame.name}, not {answer.__name__}")
        try:
            return decode_command(command_id, False, frame.args.serialize())
        except DecodeError as exc:
            raise OtaError(f"the server's {answer.__name__}: {exc}") from None

    def _incomplete(self, image: ImageId | None, size: int, reason: str) -> UpdateResult:
        version = None if image is None else image.file_version
        log.info(
            "ota.incomplete",
            extra={
                "device": self.device,
                "offset": self.download.offset,
                "bytes": size,
                "reason": reason,
            },
        )
        return UpdateResult(Outcome.INCOMPLETE, version, self.download.offset, size, reason=reason)

    def _event(self, code: int, detail: dict[str, Any]) -> None:
        if self.on_event is not None:
            self.on_event(code, {"device": self.device, **detail})

    def _aborted(self, image: ImageId, size: int) -> UpdateResult:
        offset = self.download.offset
        self.download.clear()
        detail = {"file_version": f"{image.file_version:08X}", "offset": offset, "bytes": size}
        log.warning("ota.aborted", extra={"device": self.device, **detail})
        self._event(TRANSFER_FAILED, {**detail, "transfer": "failed", "reason": "ABORT"})
        return UpdateResult(Outcome.ABORTED, image.file_version, offset, size, reason="ABORT")

    async def _finish(self, server: Eui64, image: ImageId, size: int) -> UpdateResult:
        data = self.download.data()
        version = f"{image.file_version:08X}"
        self._event(
            TRANSFER_COMPLETE, {"file_version": version, "bytes": size, "transfer": "complete"}
        )
        try:
            verified = verify_image(data, self.key)
        except FirmwareError as exc:
            reason = f"{type(exc).__name__}: {exc}"
            log.warning(
                "ota.refused",
                extra={"device": self.device, "file_version": version, "reason": reason},
            )
            self.download.clear()
            self._event(IMAGE_VERIFICATION_FAILED, {"file_version": version, "reason": reason})
            await self._end(server, UpgradeEndRequest(OtaStatus.INVALID_IMAGE, image))
            return UpdateResult(Outcome.REFUSED, image.file_version, size, size, reason=reason)
        pending = PendingImage(
            normal_version(verified.version), verified.hash.hex(), verified.profile
        )
        self.firmware.hold(pending)
        self.download.clear()  # held first: a power cut between the two fetches nothing again
        self._event(
            IMAGE_VERIFIED,
            {"file_version": version, "version": pending.version, "hash": pending.hash},
        )
        answer = await self._end(server, UpgradeEndRequest(OtaStatus.SUCCESS, image))
        upgrade_at, on_command = None, False
        if isinstance(answer, UpgradeEndResponse):
            on_command = answer.upgrade_time == UPGRADE_WAIT
            if not on_command:
                upgrade_at = float(answer.upgrade_time + ZIGBEE_EPOCH)
        return UpdateResult(
            Outcome.VERIFIED, image.file_version, size, size, upgrade_at, on_command
        )

    async def _end(self, server: Eui64, request: UpgradeEndRequest) -> OtaCommand | None:
        """Send the Upgrade End Request; its answer (Upgrade End Response on SUCCESS), or None
        when none comes (the device keeps what it decided either way)."""
        try:
            if request.status is OtaStatus.SUCCESS:
                return await self._ask(server, request, UpgradeEndResponse)
            tsn = self.app.next_tsn()
            await asyncio.wait_for(
                self.app.request(
                    server,
                    OTA_CLUSTER,
                    encode_frame(request, tsn),
                    tsn,
                    dst_ep=self.server_endpoint,
                    src_ep=self.endpoint,
                ),
                min(self.timeout_s, END_REPLY_TIMEOUT_S),
            )
        except (TimeoutError, DeliveryError, OtaError) as exc:
            log.warning(
                "ota.upgrade_end_unanswered",
                extra={"device": self.device, "status": request.status.name, "error": repr(exc)},
            )
        return None


__all__ = [
    "IMAGE_VERIFICATION_FAILED",
    "IMAGE_VERIFIED",
    "MAX_BLOCK_DATA",
    "TRANSFER_COMPLETE",
    "TRANSFER_EVENTS",
    "TRANSFER_FAILED",
    "OtaClient",
    "OtaError",
    "OtaServer",
    "Outcome",
    "Progress",
    "UpdateResult",
]
