"""A meter's firmware: the version it runs, its behaviour profile, and an image waiting to be
activated; served to 11.2 Read Firmware Version from the meter's object server.

On a virtual node "firmware" is the emulated device's version string plus a behaviour
profile (:mod:`rig.protocol.firmware`); running another version changes no Python. The
version is kept as GBCS and DUIS carry it, 8 hex digits (``0123ABCD``; a dotted one is
kept as its OTA file version, :func:`rig.protocol.gbcs.catalogue_firmware.normal_version`).
At first power-on it is the description's ``behaviour.firmware_version`` (by default
:data:`~rig.protocol.gbcs.catalogue_firmware.DEFAULT_VERSION`, the version the DCC's
inventory lists); from then on it is what the state file says, written whole or not at all
(:func:`rig.runtime.files.write_json`), so a version activated survives a power cut.

A pending image (an image received and verified, 11.1) is its version, the SHA-256 of the
whole image (:func:`rig.protocol.firmware.image_hash`, which CS06 names), its profile and
when it is to be activated (None: when 11.3 says); :meth:`Firmware.activate` makes it the
running one.

A future-dated 11.3 (CS06 with an execution date-time) is a :class:`ScheduledActivation`,
kept in the same state file so it survives a power cut; :mod:`nodes.gbcs.activation` carries
it out at its time.

An image still arriving over the HAN is a :class:`Download`: its bytes and offset kept in the
state folder, so the transfer resumes after an outage or a power cut (nodes.han.ota).

The ESME serves the version as the value of COSEM object 0-0:0.2.1.255 (ECS52), the GSME
as its Metering cluster's CurrentMeterID (GCS38): :func:`serve_firmware`.

A hub keeps the images the DCC sends it over the WAN in chunks (11.1) in
:class:`HubImages`: each image's bytes so far (a :class:`Download`, so a WAN outage or a
restart resumes where it stopped), then, once all of it is there and its SHA-256 is the
one the DCC named, the whole image and the devices it is for. How each device's transfer
over the HAN ended goes to the ACB as CCS08 (:func:`transfer_alert`).

A PPMID (11.4) activates an image as soon as it has verified it and tells the ACB with CS09
(:func:`activation_alert`): the version running after it and whether it activated.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from nodes.gbcs.activation import ScheduledActivation
from nodes.gbcs.cosem_server import CosemServer
from nodes.gbcs.zcl_server import ZclServer
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import cosem, gbz
from rig.protocol.gbcs.catalogue_firmware import (
    ACTIVATE_RESULTS,
    CURRENT_METER_ID,
    FILE_TRANSFER_FAILURE,
    FILE_TRANSFER_SUCCESS,
    IMAGE_DISCARDED,
    PPMID_FIRMWARE_ACTIVATED,
    TRANSFER_FAILED,
    TRANSFER_RESPONSES,
    TRANSFER_SUCCESSFUL,
    normal_version,
    octet_string_value,
    ppmid_activation_alert,
    ppmid_activation_payload,
    transfer_alert_payload,
    version_octets,
)
from rig.protocol.gbcs.catalogue_firmware import transfer_alert as ccs08
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.wan import FirmwareChunk, FirmwareHeld
from rig.runtime.files import read_json, write_atomic, write_json

log = logging.getLogger("nodes.firmware")
FIRMWARE_FILE = "firmware.json"


@dataclass(frozen=True, slots=True)
class PendingImage:
    """An image the device holds, verified, not yet running."""

    version: str  # as GBCS carries it (8 hex digits)
    hash: str  # SHA-256 of the whole image, hex
    profile: dict[str, Any] = field(default_factory=dict)
    activate_at: float | None = None  # UTC seconds since the Unix epoch; None: on 11.3

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PendingImage:
        at = data.get("activate_at")
        return cls(
            normal_version(str(data["version"])),
            str(data["hash"]),
            dict(data.get("profile") or {}),
            None if at is None else float(at),
        )


class Firmware:
    """The firmware state of one device, kept in ``path``."""

    def __init__(self, path: Path, initial_version: str, device: str = "") -> None:
        self.path, self.device = path, device
        saved = read_json(path, {}) or {}
        try:
            self.version = normal_version(str(saved.get("version", initial_version)))
            pending = saved.get("pending")
            self.pending = None if not pending else PendingImage.from_json(pending)
            scheduled = saved.get("scheduled")
            self.scheduled = None if not scheduled else ScheduledActivation.from_json(scheduled)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(
                f"{path}: not a firmware state ({exc}); fix it, or delete it for the device "
                "to run its description's version"
            ) from None
        self.profile: dict[str, Any] = dict(saved.get("profile") or {})
        if not path.exists():
            self.save()  # the version the device first ran, as it will be read from now on

    @property
    def octets(self) -> bytes:
        """The running version as GBCS carries it: 4 octets."""
        return version_octets(self.version)

    def run(self, version: str, profile: dict[str, Any] | None = None) -> None:
        """Run ``version`` (with its behaviour ``profile``) from now on."""
        before, self.version = self.version, normal_version(version)
        self.profile = dict(profile or {})
        self.save()
        log.info(
            "firmware.running",
            extra={"device": self.device, "version": self.version, "was": before},
        )

    def hold(self, image: PendingImage) -> None:
        """Keep a verified image until it is activated (one at a time: a newer replaces it)."""
        self.pending = image
        self.save()
        log.info(
            "firmware.pending",
            extra={"device": self.device, "version": image.version, "hash": image.hash},
        )

    def activate(self) -> None:
        """The pending image becomes the running firmware (ValueError when none is held)."""
        if self.pending is None:
            raise ValueError("no firmware image is pending: distribute one first (11.1)")
        image, self.pending = self.pending, None
        self.run(image.version, image.profile)

    def schedule(self, activation: ScheduledActivation | None) -> None:
        """Hold a future-dated activation (one at a time: a later CS06 replaces it), or
        (None) forget it."""
        self.scheduled = activation
        self.save()
        log.info(
            "firmware.scheduled" if activation else "firmware.schedule_cleared",
            extra={"device": self.device, **(asdict(activation) if activation else {})},
        )

    def save(self) -> None:
        write_json(self.path, self.state())

    def state(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "profile": self.profile,
            "pending": None if self.pending is None else asdict(self.pending),
            "scheduled": None if self.scheduled is None else asdict(self.scheduled),
        }


def manufacturer_key(meter: Any) -> ec.EllipticCurvePublicKey | None:
    """The key ``meter``'s firmware images verify against: its manufacturer's, from the
    certificate its GBCS configuration names (None: it takes no firmware over the HAN)."""
    section = meter.config.gbcs
    path = None if section is None else section.manufacturer
    if path is None:
        return None
    try:
        key = x509.load_pem_x509_certificate(path.read_bytes()).public_key()
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"{path}: not the manufacturer's certificate ({exc}); run `rig pki init` and "
            "`rig up` again"
        ) from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError(f"{path}: the manufacturer's key is not an EC key")
    return key


def serve_firmware(meter: Any) -> Firmware:
    """The firmware state of ``meter`` (its state folder, its description's initial version),
    served on its object servers: the ESME's COSEM firmware version object (ECS52), the
    GSME's Metering CurrentMeterID (GCS38)."""
    firmware = Firmware(
        meter.config.state_dir / FIRMWARE_FILE,
        meter.behaviour.firmware_version,
        meter.config.eui.duis,
    )
    server = getattr(meter, "cosem", None)
    if isinstance(server, CosemServer):
        server.attribute(
            cosem.FIRMWARE_VERSION, lambda: Data(DataType.OCTET_STRING, firmware.octets)
        )
    zcl = getattr(meter, "zcl", None)
    if isinstance(zcl, ZclServer):
        zcl.attribute(gbz.METERING, CURRENT_METER_ID, lambda: octet_string_value(firmware.octets))
    return firmware


DOWNLOAD_FILE = "firmware-download.json"
DOWNLOAD_DATA = "firmware-download.bin"


class Download:
    """An image partly received over the HAN, kept in the device's state folder so a HAN or
    WAN outage, or a power cut, resumes the transfer where it stopped.

    The bytes go to ``firmware-download.bin`` (appended, flushed to disk) before
    ``firmware-download.json`` (written whole, :func:`rig.runtime.files.write_json`) records
    the new offset; the JSON is the truth and bytes past its offset are ignored, so a cut
    between the two writes loses at most one block. ``image`` names what is downloaded (for
    OTA: manufacturer code, image type, file version, size): another image restarts at 0.
    """

    def __init__(self, folder: Path, device: str = "") -> None:
        self.meta, self.blob, self.device = folder / DOWNLOAD_FILE, folder / DOWNLOAD_DATA, device
        saved = read_json(self.meta, {}) or {}
        self.image: str | None = saved.get("image")
        offset = int(saved.get("offset", 0))
        have = self.blob.stat().st_size if self.blob.exists() else 0
        self.offset = min(offset, have)  # a blob shorter than the record: resume from it

    def begin(self, image: str) -> int:
        """The offset to continue ``image`` from: where it stopped, or 0 for another image."""
        if image != self.image:
            if self.image is not None:
                log.info(
                    "firmware.download_restarted",
                    extra={"device": self.device, "image": image, "was": self.image},
                )
            self.image, self.offset = image, 0
            self.blob.parent.mkdir(parents=True, exist_ok=True)
            self.blob.write_bytes(b"")
            self._save()
        elif not self.blob.exists():
            self.offset = 0
            self.blob.parent.mkdir(parents=True, exist_ok=True)
            self.blob.write_bytes(b"")
            self._save()
        elif self.offset:
            log.info(
                "firmware.download_resumed",
                extra={"device": self.device, "image": image, "offset": self.offset},
            )
        return self.offset

    def append(self, offset: int, data: bytes) -> None:
        """Keep ``data``, the bytes at ``offset`` (which must be where the download stands)."""
        if self.image is None or offset != self.offset:
            raise ValueError(
                f"a block at offset {offset} does not continue the download at {self.offset}: "
                "ask for the block at the download's offset"
            )
        with self.blob.open("r+b") as fh:
            fh.seek(offset)
            fh.truncate()
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        self.offset += len(data)
        self._save()

    def data(self) -> bytes:
        """The bytes received so far."""
        return self.blob.read_bytes()[: self.offset] if self.blob.exists() else b""

    def clear(self) -> None:
        """Forget the download (after it verified, or was refused)."""
        self.image, self.offset = None, 0
        self.meta.unlink(missing_ok=True)
        self.blob.unlink(missing_ok=True)

    def _save(self) -> None:
        write_json(self.meta, {"image": self.image, "offset": self.offset})


HUB_IMAGES_FILE = "images.json"


@dataclass(slots=True)
class HubImage:
    """One image a hub receives from the DCC, and what it knows of its arrival."""

    image: str  # SHA-256 of the whole image, hex (the DCC's name for it)
    size: int
    devices: list[str] = field(default_factory=list)  # DUIS EUI-64s to serve it to
    complete: bool = False
    received: int = 0  # bytes of chunk data that arrived, again or not
    duplicates: int = 0  # of which the hub held already
    session_starts: list[int] = field(default_factory=list)  # first offset in each session
    last_session: int = 0
    delivered: list[str] = field(default_factory=list)  # devices that verified it
    refused: list[str] = field(default_factory=list)  # devices whose check it failed

    def detail(self, held: int) -> dict[str, Any]:
        return {
            "size": self.size,
            "held": held,
            "complete": self.complete,
            "devices": list(self.devices),
            "received": self.received,
            "duplicates": self.duplicates,
            "session_starts": list(self.session_starts),
            "delivered": list(self.delivered),
            "refused": list(self.refused),
        }

    def done(self, device: str) -> bool:
        """``device`` ended its transfer of this image: verified or refused it."""
        return device in self.delivered or device in self.refused


class HubImages:
    """The images a hub receives from the DCC in chunks (11.1), kept in ``folder``:
    ``images.json`` (what each is, written whole), a :class:`Download` per image under
    way, and ``<image>.ota`` once complete and checked against its SHA-256."""

    def __init__(self, folder: Path, device: str = "") -> None:
        self.folder, self.device = folder, device
        self.index = folder / HUB_IMAGES_FILE
        saved = read_json(self.index, {}) or {}
        self.images = {k: HubImage(**v) for k, v in saved.items()}
        for record in self.images.values():
            record.last_session = 0  # sessions count from 1 again in this process
        self._downloads: dict[str, Download] = {}

    def _download(self, image: str) -> Download:
        download = self._downloads.get(image)
        if download is None:
            download = Download(self.folder / image[:16], self.device)
            download.begin(image)
            self._downloads[image] = download
        return download

    def held(self, image: str) -> int:
        record = self.images.get(image)
        if record is None:
            return 0
        return record.size if record.complete else self._download(image).offset

    def take(self, chunk: FirmwareChunk, session: int) -> tuple[FirmwareHeld, bool]:
        """Keep ``chunk`` if it continues what the hub holds (a chunk already held is
        counted, one past a gap dropped): what the hub now holds, and whether this chunk
        completed the image. No data: only the answer."""
        record = self.images.get(chunk.image)
        if record is None or record.size != chunk.size:
            record = self.images[chunk.image] = HubImage(chunk.image, chunk.size)
        record.devices = sorted(set(record.devices) | {d.duis for d in chunk.devices})
        if session != record.last_session:
            record.session_starts.append(chunk.offset)
            record.last_session = session
        completed = False
        record.received += len(chunk.data)
        if record.complete:
            record.duplicates += len(chunk.data)
        elif chunk.data:
            download = self._download(chunk.image)
            held, end = download.offset, chunk.offset + len(chunk.data)
            if chunk.offset <= held < end:
                record.duplicates += held - chunk.offset
                download.append(held, chunk.data[held - chunk.offset :])
            elif end <= held:
                record.duplicates += len(chunk.data)
            else:
                log.warning(
                    "firmware.chunk_gap",
                    extra={"device": self.device, "offset": chunk.offset, "held": held},
                )
            if download.offset >= record.size:
                completed = self._complete(record, download)
        self._save()
        return FirmwareHeld(chunk.image, self.held(chunk.image), record.size), completed

    def _complete(self, record: HubImage, download: Download) -> bool:
        data = download.data()[: record.size]
        if hashlib.sha256(data).hexdigest() != record.image:
            log.warning(
                "firmware.image_corrupt",
                extra={"device": self.device, "image": record.image, "bytes": len(data)},
            )
            download.clear()
            download.begin(record.image)
            return False
        write_atomic(self.path(record.image), data)
        download.clear()
        self._downloads.pop(record.image, None)
        record.complete = True
        log.info(
            "firmware.image_received",
            extra={"device": self.device, "image": record.image, "bytes": record.size},
        )
        return True

    def path(self, image: str) -> Path:
        return self.folder / f"{image}.ota"

    def data(self, image: str) -> bytes:
        return self.path(image).read_bytes()

    def complete(self) -> list[HubImage]:
        """The images held whole, oldest first."""
        return [r for r in self.images.values() if r.complete]

    def finished(self, image: str, device: str, *, verified: bool) -> None:
        """``device`` verified ``image``, or refused it: either way it is not offered to it
        again, even after a restart."""
        record = self.images.get(image)
        if record is None or record.done(device):
            return
        (record.delivered if verified else record.refused).append(device)
        self._save()

    def detail(self) -> dict[str, Any]:
        return {k: r.detail(self.held(k)) for k, r in self.images.items()}

    def _save(self) -> None:
        write_json(self.index, {k: asdict(r) for k, r in self.images.items()})


def transfer_response(code: int, status: str | None) -> int:
    """CCS08's response code for how a device ended an OTA transfer (the hub's OTA event
    ``code``, :data:`nodes.han.ota.TRANSFER_EVENTS`, and the Upgrade End Request's
    ``status``): transferred and verified, discarded by the device (INVALID_IMAGE), or
    broken off."""
    if code == TRANSFER_SUCCESSFUL and status == "SUCCESS":
        return FILE_TRANSFER_SUCCESS
    if code == TRANSFER_SUCCESSFUL and status == "INVALID_IMAGE":
        return IMAGE_DISCARDED
    return FILE_TRANSFER_FAILURE


def transfer_alert(gbcs: Any, hub: Eui64, code: int, detail: dict[str, Any]) -> bytes | None:
    """CCS08 (0x0128) from ``hub`` to its ACB for an OTA transfer that ended (the OTA server's
    event ``code`` and ``detail``), signed with the hub's DS key and counted with its alert
    counter (``gbcs``, its :class:`nodes.gbcs.endpoint.GbcsEndpoint`); None for an event
    that ends no transfer."""
    if code not in (TRANSFER_SUCCESSFUL, TRANSFER_FAILED) or "device" not in detail:
        return None
    response = transfer_response(code, detail.get("status"))
    version = bytes.fromhex(str(detail.get("file_version", "00000000")))
    device = Eui64.parse(str(detail["device"]))
    payload = transfer_alert_payload(dt.datetime.now(dt.UTC), device.raw, version, response)
    counter = gbcs.next_counter()  # the hub's alert counter, persisted first
    msg = ccs08(counter, hub.raw, gbcs.acb.raw, payload, gbcs.ds)
    log.info(
        "gbcs.alert",
        extra={
            "device": hub.duis,
            "use_case": "CCS08",
            "alert_code": f"{TRANSFER_SUCCESSFUL if response == 0 else TRANSFER_FAILED:04X}",
            "target": device.duis,
            "response": TRANSFER_RESPONSES[response],
        },
    )
    return msg.encode()


def activation_alert(gbcs: Any, device: Eui64, version: bytes, result: int) -> bytes:
    """CS09 (0x012B) from a PPMID to its ACB: it ran the activation of an image (``result``
    0 activated, 1 not) and now runs ``version`` (4 octets); signed with its DS key and
    counted with its alert counter (``gbcs``, its :class:`nodes.gbcs.endpoint.GbcsEndpoint`)."""
    payload = ppmid_activation_payload(dt.datetime.now(dt.UTC), version, result)
    counter = gbcs.next_counter()  # the device's alert counter, persisted first
    msg = ppmid_activation_alert(counter, device.raw, gbcs.acb.raw, payload, gbcs.ds)
    log.info(
        "gbcs.alert",
        extra={
            "device": device.duis,
            "use_case": "CS09",
            "alert_code": f"{PPMID_FIRMWARE_ACTIVATED:04X}",
            "version": version.hex().upper(),
            "result": ACTIVATE_RESULTS[result],
        },
    )
    return msg.encode()
