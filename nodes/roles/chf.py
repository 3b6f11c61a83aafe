"""The communications hub (CHF): WAN client to the DCC, HAN coordinator and trust centre, GPF host.

Forms the HAN (extended PAN ID = its EUI), admits only devices in its device
log, opens GB-HRGP tunnels to them and moves GBCS messages with ``exchange``.
Endpoint 1 is the CHF (Basic, Time, Keep-Alive, Tunneling); endpoint 2 is the
GPF, whose Metering mirror holds what the sleepy GSME reports, for the IHD to read.

``POST /wan/drop?seconds=S[&after_command=1|&after_chunks=N]`` on the node loses the WAN
link for S seconds, at once, right after the next command from the WAN is on the HAN
(``rig wan drop``), or once N more firmware chunks are kept (a drop in the middle of a
distribution).

Firmware (11.1): the DCC sends an image in chunks on the hub's firmware topic; the hub
keeps them on disk (:class:`nodes.roles.firmware.HubImages`, resumable across a WAN outage
or a restart), answers each with what it holds, and once the image is whole stages it in
its OTA Upgrade server (endpoint 1) for the devices the DCC named, then sends an Image
Notify to those that listen (not the sleepy GSME, which asks on its wakes). A device that
verified an image is not offered it again, even after a restart.

Its own GBCS end (issue 16): a command addressed to the CHF itself, from the ACB for a DCC
User, is served from its COSEM objects, the ZigBee network control of its device log
(:mod:`rig.protocol.gbcs.catalogue_chf`): CCS01 adds a device and opens joining for it,
CCS02 removes one (whose frames it then refuses), CCS06 lists the log, CCS07 backs up the
log and the historic log, CCS03 restores a failed hub's log into an empty one
(:class:`RestoredDevices`); ECS35c and ECS35d read its event and security logs
(:func:`nodes.roles.event_logs.serve_chf_event_logs`), which hold the alerts it raised. The
answer goes up the WAN, then, when the log changed, the CS14 alert (0x8F12) with the log,
to the ACB.

The GPF's GBCS end (issue 16): GCS59 restores a failed GPF's device log into the GPF's
(:class:`GpfDeviceLog`), answered with each entry's join response code. It needs the GPF's
own keys (``gpf_gbcs`` of the node config, kept apart in ``gpf-gbcs/`` of its state);
without them a command to the GPF is dropped, logged. The DCC's reads of the GSME's data
sent to the GPF (GCS13a/b/c, GCS14, GCS60a) are answered from the GPF's mirror of what the
GSME last reported (:class:`nodes.roles.gpf_mirror.GpfMirror`, kept across restarts);
3.2's GCS09 sets its change of tenancy date (:class:`nodes.roles.gpf_security.GpfTenancy`),
6.21's CS02b hands its trust anchor cells over (the meters' handlers, its own cells).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from aiohttp import web

from nodes.gbcs.cosem_server import CosemError, CosemServer, Invocation, Result
from nodes.gbcs.endpoint import GbcsEndpoint
from nodes.gbcs.handlers import Context, handles
from nodes.gbcs.zcl_server import ZclServer
from nodes.han import ota as han_ota  # a module: nodes.han.ota imports nodes.roles
from nodes.han.app import CHF_ENDPOINT, GPF_ENDPOINT
from nodes.han.device_log import DeviceLog
from nodes.han.relay import HanRelay
from nodes.han.tunnel import TunnelError, TunnelServer
from nodes.radio import ApsMessage, DeliveryError, NetworkSettings
from nodes.roles.base import Route
from nodes.roles.device_config import serve_hub_identity
from nodes.roles.event_logs import serve_chf_event_logs
from nodes.roles.firmware import HubImage, HubImages, transfer_alert
from nodes.roles.gpf_mirror import GpfMirror, mirrored
from nodes.roles.gpf_security import GpfTenancy
from nodes.roles.han import HanRole
from nodes.wan import WanLink
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import catalogue_chf as chf
from rig.protocol.gbcs import catalogue_restore as restore
from rig.protocol.gbcs import dlms
from rig.protocol.gbcs.catalogue_join import JoinResult
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.frame import Cra, GbcsMessage, GroupingHeader
from rig.protocol.gbcs.usecase import UseCase
from rig.protocol.wan import FirmwareChunk
from rig.protocol.zigbee import se, zcl
from rig.protocol.zigbee.se import NOTIFICATION_SCHEME_B, TUNNEL_MESSAGE_PENDING, ZIGBEE_EPOCH
from rig.protocol.zigbee.zcl import ZclFrame
from rig.runtime.files import read_json, write_json

log = logging.getLogger("nodes.chf")
SEEN_COMMANDS = 4096  # recent (device, originator, counter): a WAN redelivery is dropped here
DEFAULT_JOIN_TIMEOUT_S = 3600  # until CCS01 sets join_timeout (DUIS: at most 3600)
MAX_DROP_S = 3600.0  # a WAN drop asked for over HTTP lasts at most this


def _utc(seconds: float) -> dt.datetime:
    """A Unix time as a UTC datetime (what a COSEM date-time is made from)."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


class RestoredDevices:
    """The devices CCS03 restored into the CHF device log with the hash of their TC link key
    (a hash gives no key back: such a device joins once 8.11 gives its install code), and
    the failed hub's extended PAN ID; kept in the CHF's state."""

    def __init__(self, path: Path) -> None:
        self.path = path
        data = read_json(path, {}) or {}
        self.extended_pan_id: str | None = data.get("extended_pan_id")
        self.devices: dict[Eui64, bytes] = {
            Eui64.parse(eui): bytes.fromhex(hashed)
            for eui, hashed in data.get("devices", {}).items()
        }

    def save(self) -> None:
        devices = {eui.duis: hashed.hex() for eui, hashed in self.devices.items()}
        write_json(self.path, {"extended_pan_id": self.extended_pan_id, "devices": devices})

    def discard(self, eui: Eui64) -> bool:
        if self.devices.pop(eui, None) is None:
            return False
        self.save()
        return True


@dataclass
class GpfDeviceLog:
    """The GPF device log: each device's EUI and GBCS device type; kept in the CHF's state."""

    path: Path
    entries: dict[Eui64, int] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> GpfDeviceLog:
        data = read_json(path, {}) or {}
        entries = {Eui64.parse(e["eui"]): int(e["device_type"]) for e in data.get("entries", [])}
        return cls(path, entries)

    def save(self) -> None:
        entries = [{"eui": e.duis, "device_type": t} for e, t in self.entries.items()]
        write_json(self.path, {"entries": entries})

    def restore(
        self, entries: tuple[restore.GpfEntry, ...]
    ) -> tuple[tuple[restore.GpfEntry, int], ...]:
        """GCS59: each entry of the failed GPF's log added, with its join response code (an
        entry already here keeps its place; one here with another device type is refused,
        as a join is: 3)."""
        results = []
        for entry in entries:
            eui = Eui64(entry.eui)
            held = self.entries.setdefault(eui, entry.device_type)
            code = JoinResult.SUCCESS if held == entry.device_type else JoinResult.INCOMPATIBLE
            results.append((entry, int(code)))
        self.save()
        log.info(
            "gpf.device_log_restored",
            extra={"devices": [Eui64(e.eui).duis for e, c in results if not c]},
        )
        return tuple(results)


@dataclass
class GasProxy:
    """The GPF as its GBCS end serves it: its device log, and its ZCL attributes, those of
    its mirror of the GSME (:mod:`nodes.roles.gpf_mirror`); no COSEM objects."""

    device_log: GpfDeviceLog
    cosem: CosemServer | None = None
    zcl: ZclServer | None = None


@handles(restore.GCS59)
async def restore_gpf_device_log(uc: UseCase, cmd: GbcsMessage, ctx: Context) -> GbcsMessage:
    """GCS59 on the GPF: the entries restored, answered with each one's join response code."""
    gpf = ctx.device
    if not isinstance(gpf, GasProxy):
        raise DecodeError(f"{uc.name}: only the GPF restores a GPF device log", 0)
    try:
        entries = restore.gpf_restore_entries(cmd.payload)
    except ValueError as exc:
        raise DecodeError(f"{uc.name}: {exc}", 0) from None
    payload = restore.gpf_restore_answer(gpf.device_log.restore(entries))
    return ctx.answer(uc, cmd, payload)


class CommsHub(HanRole):
    device_type = "CHF"
    router = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.device_log = DeviceLog(
            self.config.state_dir / "device-log.json", self.config.han.device_log
        )
        self.tunnels = TunnelServer(
            self.app, self._sleepy, self.config.state_dir / "tunnels.json", self._from_device
        )
        self.relay = HanRelay(self.tunnels)  # device to device (PCS01 from the PPMID)
        self._seen: deque[tuple[bytes, bytes, int]] = deque(maxlen=SEEN_COMMANDS)
        self.duplicates_dropped = 0
        self.mirror: dict[str, Any] = {}
        self.mirror_updated: float | None = None
        self.app.serve(
            CHF_ENDPOINT, se.Basic.cluster_id, lambda: {"zcl_version": 3, "power_source": 1}
        )
        self.app.serve(
            CHF_ENDPOINT,
            se.Time.cluster_id,
            lambda: {"time": int(time.time()) - ZIGBEE_EPOCH, "time_status": 0x03},
        )
        self.app.serve(
            CHF_ENDPOINT,
            se.KeepAlive.cluster_id,
            lambda: {"tc_keep_alive_base": 10, "tc_keep_alive_jitter": 300},
        )
        self.app.serve(GPF_ENDPOINT, se.Metering.cluster_id, lambda: dict(self.mirror))
        self.app.reports[(GPF_ENDPOINT, se.Metering.cluster_id)] = self._on_gsme_report
        # what the GPF answers the DCC's reads of the GSME from (GCS13a, GCS14, GCS60a...)
        self.gpf_mirror = GpfMirror.load(self.config.state_dir / "gpf-mirror.json")
        for cluster in mirrored():
            if cluster != se.Metering.cluster_id:
                self.app.reports[(GPF_ENDPOINT, cluster)] = self._on_gsme_mirror_report
        self.join_timeout = DEFAULT_JOIN_TIMEOUT_S
        self._registered: Eui64 | None = None  # added by the CCS01 being served
        self.restored = RestoredDevices(self.config.state_dir / "restored-device-log.json")
        self.gpf_log = GpfDeviceLog.load(self.config.state_dir / "gpf-device-log.json")
        gpf = self.config.gpf_eui.duis if self.config.gpf_eui else ""  # its GCS09 (3.2)
        self.gpf_tenancy = GpfTenancy.load(self.config.state_dir / "gpf-tenancy.json", gpf)
        # the GPF's GBCS end: its own keys and state, when the node config carries them
        self.gpf_gbcs: GbcsEndpoint | None = None
        if self.config.gpf_eui is not None and self.config.gpf_gbcs is not None:
            gpf_state = self.config.state_dir / "gpf-gbcs"
            gpf_state.mkdir(parents=True, exist_ok=True)
            self.gpf_gbcs = GbcsEndpoint(
                self.config.gpf_eui, "GPF", self.config.gpf_gbcs, gpf_state
            )
        self._log_changed = False
        self.cosem: CosemServer | None = self._device_log_objects()
        serve_hub_identity(self)  # its identity (6.2.4's ECS26n)
        # its event and security logs (ECS35c, ECS35d): the alerts it raises, logged
        self.event_logs = serve_chf_event_logs(
            self.cosem, self.config.state_dir, self.config.eui.duis
        )
        self.zcl: ZclServer | None = None
        section = self.config.gbcs
        self.gbcs = (
            GbcsEndpoint(self.config.eui, self.device_type, section, self.config.state_dir)
            if section is not None
            else None
        )
        # firmware from the DCC (11.1), served over the HAN
        self.ota = han_ota.OtaServer(self.app, endpoint=CHF_ENDPOINT, on_event=self._ota_event)
        self.images = HubImages(self.config.state_dir / "firmware-wan", self.config.eui.duis)
        self._staged: dict[Eui64, str] = {}  # device -> the image staged for it
        self._drop_after_chunks: tuple[int, float] | None = None  # (chunks left, seconds)
        for record in self.images.complete():
            self._stage(record, notify=False)  # told again once the HAN is up (start)

    # --- firmware from the DCC (11.1) ----------------------------------------------------------
    async def _firmware_chunk(self, chunk: FirmwareChunk) -> None:
        """A chunk of an image from the DCC: kept if it continues what the hub holds,
        answered with what it holds; a whole image is staged for its devices."""
        held, completed = self.images.take(chunk, self.wan.sessions)
        self.wan.send_held(held)
        log.debug(
            "firmware.chunk",
            extra={"device": self.config.eui.duis, "offset": chunk.offset, "held": held.held},
        )
        if held.complete:
            record = self.images.images[chunk.image]
            self._stage(record, notify=True, only_new=not completed)
        if chunk.data and self._drop_after_chunks is not None:
            left, seconds = self._drop_after_chunks
            self._drop_after_chunks = (left - 1, seconds) if left > 1 else None
            if left <= 1:
                self.wan.drop(seconds)

    def _stage(self, record: HubImage, *, notify: bool, only_new: bool = False) -> None:
        """Offer ``record``'s image to each of its devices that has not verified it yet, and
        (``notify``) tell those that listen."""
        data: bytes | None = None
        for duis in record.devices:
            eui = Eui64.parse(duis)
            if record.done(duis) or (only_new and self._staged.get(eui) == record.image):
                continue
            if data is None:
                data = self.images.data(record.image)
            self.ota.stage(eui, data)
            self._staged[eui] = record.image
            if notify and not self._sleepy(eui):
                self.spawn(self._notify(eui), f"image notify {duis}")

    async def _notify(self, device: Eui64) -> None:
        try:
            await self.ota.notify(device)
        except (DeliveryError, TimeoutError) as exc:  # it asks again on its own
            log.warning("ota.notify_failed", extra={"device": device.duis, "error": str(exc)})

    def _ota_event(self, code: int, detail: dict[str, Any]) -> None:
        """A device ended a transfer: an image it verified or refused is not offered to it
        again (a sleepy device asks at every wake). CCS08 tells the ACB how it ended."""
        alert = transfer_alert(self.gbcs, self.config.eui, code, detail) if self.gbcs else None
        if alert is not None:
            self.event_logs.gate(alert)
            self.wan.send_up(alert)
        status = detail.get("status")
        if code != han_ota.TRANSFER_COMPLETE or status not in ("SUCCESS", "INVALID_IMAGE"):
            return
        device = Eui64.parse(str(detail["device"]))
        image = self._staged.get(device)
        if image is None:
            return
        self.images.finished(image, device.duis, verified=status == "SUCCESS")
        if status != "SUCCESS":
            self.ota.unstage(device)

    # --- the device log as COSEM objects (CCS01, CCS02, CCS06, CCS07) ------------------------
    def _device_log_objects(self) -> CosemServer:
        server = CosemServer()
        server.method(chf.REGISTER_DEVICE, self._register_device)
        server.method(chf.UNREGISTER_DEVICE, self._unregister_device)
        server.attribute(
            chf.JOIN_TIMEOUT,
            lambda: Data(DataType.LONG_UNSIGNED, self.join_timeout),
            self._set_timeout,
        )
        server.attribute(chf.JOINING, lambda: Data(DataType.BOOLEAN, 0xFF), self._set_joining)
        server.attribute(chf.ACTIVE_DEVICES, self._active_devices)
        server.method(chf.BACKUP_LOG, lambda _a, _i: self._backup(historic=False))
        server.method(chf.BACKUP_HISTORIC_LOG, lambda _a, _i: self._backup(historic=True))
        server.method(restore.RESTORE_LOG, self._restore_log)
        return server

    def _register_device(self, argument: Data, _invocation: Invocation) -> None:
        try:
            device = chf.RegisterDevice.from_data(argument)
            eui = Eui64(device.eui)
            added = self.device_log.add(eui, device.install_code)
        except ValueError as exc:
            raise CosemError(Result.TYPE_UNMATCHED, f"register_device: {exc}") from None
        self._registered = eui if added else None
        self._log_changed |= added
        if added:
            self.restored.discard(eui)  # its install code given: it may join now

    def _unregister_device(self, argument: Data, _invocation: Invocation) -> None:
        if argument.type is not DataType.OCTET_STRING or len(argument.value) != 8:
            raise CosemError(Result.TYPE_UNMATCHED, "unregister_device takes an EUI-64")
        eui = Eui64(bytes(argument.value))
        if self.restored.discard(eui):
            self._log_changed = True
            return
        if not self.device_log.remove(eui):
            # as RTDS's CCS02 error answers (action-result 1)
            raise CosemError(Result.HARDWARE_FAULT, f"{eui.duis} is not in the CHF device log")
        self._log_changed = True
        self.spawn(self.radio.remove(eui), f"han-remove-{eui.hex}")  # asked to leave the HAN

    def _restore_log(self, argument: Data, _invocation: Invocation) -> None:
        """CCS03: a failed hub's log restored into this one, which must be empty (a restore
        is for the hub that replaces it); each device keeps its TC link key's hash."""
        try:
            pan = restore.RestorePan.from_data(argument)
        except ValueError as exc:
            raise CosemError(Result.TYPE_UNMATCHED, f"restore_PAN: {exc}") from None
        if self.device_log.entries or self.restored.devices:
            held = len(self.device_log.entries) + len(self.restored.devices)
            # as RTDS's CCS03 error answers (action-result 1)
            raise CosemError(
                Result.HARDWARE_FAULT,
                f"restore_PAN: the CHF device log holds {held} devices; only an empty log "
                "is restored (remove them with 8.11 first)",
            )
        self.restored.extended_pan_id = pan.extended_pan_id.hex().upper()
        self.restored.devices = {Eui64(eui): hashed for eui, hashed in pan.devices}
        self.restored.save()
        self._log_changed = True
        log.info(
            "han.device_log_restored",
            extra={
                "device": self.config.eui.duis,
                "devices": [e.duis for e in self.restored.devices],
                "extended_pan_id": self.restored.extended_pan_id,
            },
        )

    def _set_timeout(self, value: Data) -> None:
        if value.type is not DataType.LONG_UNSIGNED:
            raise CosemError(Result.TYPE_UNMATCHED, "join_timeout is a long-unsigned")
        self.join_timeout = int(value.value)

    def _set_joining(self, value: Data) -> None:
        if value.type is not DataType.BOOLEAN:
            raise CosemError(Result.TYPE_UNMATCHED, "enable_disable_joining is a boolean")
        if value.value and self._registered is not None:
            self.device_log.open_joining(self._registered, self.join_timeout)

    def _active_devices(self) -> Data:
        links = self.radio.link_quality()
        devices = []
        for eui, entry in self.device_log.entries.items():
            link = links.get(eui.duis)
            status = chf.REGISTERED | (chf.JOINED if entry.status == "joined" else 0)
            device = chf.ActiveDevice(eui.raw, status)
            if entry.joined_at is not None:
                device = replace(device, last_heard=dlms.date_time(_utc(entry.joined_at)))
            if link is not None:
                device = replace(
                    device,
                    lqi=(link.lqi, link.lqi, link.lqi),
                    failures=min(link.failures, 255),
                    successes=min(link.frames_in, 255),
                )
            devices.append(device.to_data())
        for eui in self.restored.devices:  # in the log, not (yet) on this HAN
            devices.append(chf.ActiveDevice(eui.raw, chf.REGISTERED).to_data())
        return Data(DataType.ARRAY, devices)

    def _backup(self, *, historic: bool) -> Data:
        return self.log_backup(historic=historic).to_data()

    def log_backup(self, *, historic: bool = False) -> chf.LogBackup:
        """The device log (or the historic one) as backup_PAN returns it and CS14 carries it."""
        log_ = self.device_log
        if historic:
            devices = tuple(
                (Eui64.parse(h.eui).raw, bytes.fromhex(h.hashed_link_key)) for h in log_.historic
            )
        else:
            devices = tuple((eui.raw, log_.hashed_link_key(eui)) for eui in log_.entries)
            devices += tuple((eui.raw, hashed) for eui, hashed in self.restored.devices.items())
        changed = dlms.date_time(_utc(log_.changed))
        return chf.LogBackup(changed, self.config.han.extended_pan_id.raw, devices)

    async def _serve(self, gbcs: bytes, h: GroupingHeader) -> None:
        """A command to the CHF itself: served, answered up the WAN, then CS14 if the log
        changed."""
        if self.gbcs is None:
            log.warning("gbcs.no_credentials", extra={"device": self.config.eui.duis})
            return
        self._registered, self._log_changed = None, False
        answer = await self.gbcs.handle(gbcs, self)
        if answer is None:
            return
        other = h.other  # the DCC User's request, which the ACB's command carries
        user = Eui64(other.remote_party_id) if other.remote_party_id else Eui64(h.originator)
        counter = other.remote_party_counter or h.counter
        self.wan.trace("hub.response", self.config.eui, user, counter)
        self.wan.send_up(answer)
        if self._log_changed:
            now = dlms.date_time(_utc(time.time()))
            fields = chf.log_changed_fields(now, self.log_backup())
            alert = self.gbcs.alert(chf.CS14, fields, recipient=self.gbcs.acb)
            self.event_logs.gate(alert)  # logged (0x8F12: its security log)
            self.wan.send_up(alert)
            log.info("gbcs.alert", extra={"device": self.config.eui.duis, "alert_code": "8F12"})

    async def _serve_gpf(self, gbcs: bytes) -> None:
        """A command to the GPF: served from its device log or its mirror of the GSME,
        answered up the WAN."""
        if self.gpf_gbcs is None:
            log.warning(
                "gbcs.no_credentials",
                extra={"device": str(self.config.gpf_eui), "reason": "no GPF keys on this node"},
            )
            return
        zcl = self.gpf_mirror.server()
        self.gpf_tenancy.serve(zcl)
        gpf = GasProxy(self.gpf_log, zcl=zcl)
        answer = await self.gpf_gbcs.handle(gbcs, gpf)
        if answer is not None:
            self.wan.send_up(answer)

    def _sleepy(self, eui: Eui64) -> bool:
        return self.device_log.sleepy(eui)

    async def start(self) -> None:
        han, wan = self.config.han, self.config.wan
        assert wan is not None and han.network_key is not None  # NodeConfig checks a chf's
        settings = NetworkSettings(han.channel, han.pan_id, han.extended_pan_id, han.network_key)
        await self.radio.form(settings, self.device_log)
        await self.radio.permit_joining(365 * 24 * 3600)  # the device log is the gate
        self.han_state = "formed"
        self.wan = WanLink(wan, self.config.eui, self._from_wan, self._firmware_chunk)
        self.spawn(self.wan.run(), "wan")
        for device in self._staged:  # images staged before a restart: tell who listens
            if not self._sleepy(device):
                self.spawn(self._notify(device), f"image notify {device.duis}")
        self.spawn(self._leds(), "leds")

    async def _from_wan(self, gbcs: bytes, deadline: float | None = None) -> None:
        """A GBCS command from the DCC: route it by its recipient to the device's tunnel,
        unless it comes after the DCC's deadline (the DCC has reported it failed)."""
        try:
            h = GbcsMessage.decode(gbcs).header
        except DecodeError as exc:
            log.warning("wan.not_gbcs", extra={"device": self.config.eui.duis, "error": str(exc)})
            return
        device, originator = Eui64(h.recipient), Eui64(h.originator)
        key = (h.recipient, h.originator, h.counter)
        if key in self._seen:
            self.duplicates_dropped += 1
            log.warning(
                "wan.duplicate_dropped",
                extra={"device": device.duis, "originator": originator.duis, "counter": h.counter},
            )
            return
        if deadline is not None and time.time() > deadline:
            log.warning(
                "wan.expired_dropped",
                extra={
                    "device": device.duis,
                    "counter": h.counter,
                    "late_s": round(time.time() - deadline, 1),
                },
            )
            return
        self.wan.trace("hub.received", device, originator, h.counter)
        if device == self.config.eui:  # the CHF's own use cases
            self._seen.append(key)
            await self._serve(gbcs, h)
            return
        if device == self.config.gpf_eui:  # the GPF's, on this node
            self._seen.append(key)
            await self._serve_gpf(gbcs)
            return
        if device.duis in self.device_log.removed:
            log.warning("han.removed_device", extra={"device": device.duis})
            return
        try:
            how = await self.tunnels.send(device, gbcs)
        except (TunnelError, DeliveryError) as exc:
            log.warning("han.route_failed", extra={"device": device.duis, "error": str(exc)})
            return  # not seen: the DCC's re-delivery is forwarded
        self._seen.append(key)  # forwarded: a re-delivered copy stops here
        self.wan.trace(f"han.{how}", device, originator, h.counter)
        self.wan.command_forwarded()  # a drop armed for after a command happens now

    async def _from_device(self, device: Eui64, gbcs: bytes) -> None:
        """A device's response or alert: up to the DCC as it is (unless it is for another
        device on the HAN); nothing from a device the DCC removed from the log."""
        if device.duis in self.device_log.removed:
            log.warning("han.removed_device_refused", extra={"device": device.duis})
            return
        if await self.relay.route(device, gbcs):
            return
        try:
            h = GbcsMessage.decode(gbcs).header
        except DecodeError as exc:
            log.warning("han.not_gbcs", extra={"device": device.duis, "error": str(exc)})
            return
        if h.cra is Cra.RESPONSE:
            self.wan.trace("hub.response", device, Eui64(h.recipient), h.counter)
        self.wan.send_up(gbcs)
        log.info(
            "wan.up",
            extra={"device": device.duis, "kind": h.cra.name.lower(), "counter": h.counter},
        )

    async def _leds(self) -> None:
        while True:
            self.wiring.set("led.wan", self.wan.connected)
            self.wiring.set("led.han", self.han_state == "formed")
            await asyncio.sleep(0.5)

    async def _on_gsme_report(self, msg: ApsMessage, frame: ZclFrame) -> None:
        """The GSME's wake-up report: mirror it, and tell it whether GBCS waits in the tunnel."""
        known = se.Metering.attributes_by_name  # what the IHD may read of it
        values = zcl.attribute_values(msg.cluster, frame).items()
        self.mirror.update({name: value for name, value in values if name in known})
        self.mirror_updated = time.time()
        self.gpf_mirror.update(msg.cluster, frame.args.attribute_reports, msg.peer.duis)
        flags = TUNNEL_MESSAGE_PENDING if self.tunnels.pending(msg.peer) else 0
        body = zcl.command(
            se.Metering.cluster_id,
            "mirror_report_attribute_response",
            frame.tsn,
            notification_scheme=NOTIFICATION_SCHEME_B,
            notification_flags=[flags, 0, 0, 0, 0],
        )
        await self.app.reply(msg, body)

    async def _on_gsme_mirror_report(self, msg: ApsMessage, frame: ZclFrame) -> None:
        """The GSME's report of another cluster the GPF mirrors (Prepayment, Price)."""
        self.gpf_mirror.update(msg.cluster, frame.args.attribute_reports, msg.peer.duis)

    async def exchange(self, device: Eui64, gbcs: bytes, timeout: float = 30.0) -> bytes:
        """The WAN side's HAN service: GBCS to ``device``, and what it sends back."""
        return await self.tunnels.exchange(device, gbcs, timeout)

    def routes(self) -> list[Route]:
        return [("POST", "/wan/drop", self._drop)]

    async def _drop(self, request: web.Request) -> web.Response:
        """Lose the WAN link for ``seconds``, now or (``after_command=1``) right after the
        next command from the WAN is forwarded onto the HAN."""
        link: WanLink | None = getattr(self, "wan", None)
        if link is None:
            return web.json_response(
                {"error": "the hub's WAN link has not started yet; try again in a few seconds"},
                status=503,
            )
        try:
            seconds = float(request.query.get("seconds", ""))
        except ValueError:
            seconds = math.nan
        if not 0 < seconds <= MAX_DROP_S:  # also refuses nan
            return web.json_response(
                {"error": f"give ?seconds=S, more than 0 and at most {MAX_DROP_S:g}"}, status=400
            )
        after = request.query.get("after_command", "0").lower() in ("1", "true", "yes")
        chunks = request.query.get("after_chunks")
        dropped = None
        if chunks is not None:
            if not chunks.isdigit() or int(chunks) < 1:
                return web.json_response(
                    {"error": "give ?after_chunks=N, a whole number of chunks from 1"},
                    status=400,
                )
            self._drop_after_chunks = (int(chunks), seconds)
            log.info(
                "wan.drop_armed",
                extra={"device": self.config.eui.duis, "seconds": seconds, "chunks": chunks},
            )
        elif after:
            link.drop_after_command(seconds)
        else:
            dropped = link.drop(seconds)
        return web.json_response(
            {
                "hub": self.config.eui.duis,
                "seconds": seconds,
                "after_command": after,
                "after_chunks": None if chunks is None else int(chunks),
                # at once: whether a live session was cut (False: the link was down already)
                "dropped": dropped,
            }
        )

    def checks(self) -> dict[str, str]:
        return {**super().checks(), "wan": self.wan.check()}

    def detail(self) -> dict[str, Any]:
        d = super().detail()
        d["han"].update(
            device_log=self.device_log.summary(),
            historic_device_log=[h.eui for h in self.device_log.historic],
            restored_device_log={
                "extended_pan_id": self.restored.extended_pan_id,
                "devices": [e.duis for e in self.restored.devices],
            },
            gpf_device_log=[
                {"eui": e.duis, "device_type": t} for e, t in self.gpf_log.entries.items()
            ],
            refused=self.device_log.refused[-10:],
            tunnels={
                e.duis: {"id": p.tunnel_id, "queued": len(p.outbox)}
                for e, p in self.tunnels.peers.items()
            },
            gpf_mirror={
                "values": {k: int(v) for k, v in self.mirror.items()},
                "updated": self.mirror_updated,
                "gbcs": self.gpf_mirror.detail(),
            },
            gpf_tenancy=self.gpf_tenancy.detail(),
        )
        return {
            **d,
            "gpf": self.config.gpf_eui.duis if self.config.gpf_eui else None,
            "wan_commands_received": self.wan.commands_received,
            "wan_duplicates_dropped": self.duplicates_dropped,
            "wan_drops": self.wan.drops,
            "wan_drop_armed_s": self.wan.drop_armed,
            "wan_sessions": self.wan.sessions,
            "firmware_wan": self.images.detail(),
            "ota": self.ota.detail(),
            "gbcs": None
            if self.gbcs is None
            else {"accepted": self.gbcs.accepted, "discarded": self.gbcs.discarded},
        }
