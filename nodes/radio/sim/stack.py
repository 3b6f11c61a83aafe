"""The ``sim`` radio: a Zigbee PRO stack on the simulated air, behind ``nodes.radio.api.Radio``.

Coordinator side (the CHF): answers beacon requests, associates devices the trust
centre accepts (and refuses the others with PAN access denied), then sends them
the network key in an APS Transport Key secured with the key-transport key
hashed from their install-code link key. Device side: scan, associate, take the
network key, announce. Both sides answer ZDO descriptor and address requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from pathlib import Path
from typing import Any

import aiohttp
import zigpy.types as t

from nodes.radio.api import (
    ApsMessage,
    DeliveryError,
    Handler,
    JoinRefused,
    LinkQuality,
    NetworkSettings,
    RadioCounters,
    RadioSettings,
    TrustCentre,
)
from nodes.radio.sim.counters import FrameCounters
from nodes.radio.sim.link import AirLink, Mac
from nodes.radio.sim.network import Network, Received
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.zigbee import aps, mac, nwk, security, zdo
from rig.protocol.zigbee.aps import ApsFrameType, TransportKey
from rig.protocol.zigbee.mac import FrameType, MacFrame
from rig.runtime.files import read_json, write_json

log = logging.getLogger("nodes.radio")

SCAN_S = 0.3
POLL_EVERY_S = 0.05
COORDINATOR = 0x0000


class SimRadio:
    def __init__(self, eui: Eui64, settings: RadioSettings, state_dir: Path) -> None:
        self.eui = eui
        self.name = settings.name
        self.air = settings.air
        self.control = settings.control  # the air's control URL, to register by name
        self.router = settings.router
        self.rx_on_when_idle = settings.rx_on_when_idle
        self.state_file = state_dir / "radio.json"
        state_dir.mkdir(parents=True, exist_ok=True)
        self._counters = RadioCounters()
        self.frame_counters = FrameCounters(state_dir / "nwk-counters.json")
        self.link: AirLink | None = None
        self.mac: Mac | None = None
        self.net: Network | None = None
        self.settings: NetworkSettings | None = None
        self.coordinator = False
        self.trust_centre: TrustCentre | None = None
        self._handlers: list[Handler] = []
        self._permit_until = 0.0
        self._beacons: list[tuple[MacFrame, int]] = []
        self._assoc: asyncio.Future[mac.AssociationResponse] | None = None
        self._key: asyncio.Future[TransportKey] | None = None
        self._zdo_waiters: dict[tuple[int, int], asyncio.Future[list[Any]]] = {}
        self._zdo_tsn = random.randrange(256)
        self._tasks: set[asyncio.Task] = set()
        self._poller: asyncio.Task | None = None
        self._flush: asyncio.Task | None = None

    # --- lifecycle ----------------------------------------------------------------------

    async def _open(self, channel: int) -> None:
        loop = asyncio.get_running_loop()
        device_id = int.from_bytes(self.eui.raw[-2:], "big")
        _, link = await loop.create_datagram_endpoint(
            lambda: AirLink(self.air, channel, device_id),
            remote_addr=None,
            local_addr=("0.0.0.0", 0),
        )
        self.link = link
        self.mac = Mac(link, self.eui)
        self.net = Network(self.mac, self.eui, self.frame_counters, self._counters)
        self.net.upper = self._on_received
        self.net.on_mac_command = self._on_mac_command  # type: ignore[method-assign]
        self._flush = loop.create_task(self._flush_counters())

    async def _register(self, channel: int) -> None:
        if not self.control or self.link is None:
            return
        body = {
            "name": self.name,
            "eui": self.eui.duis,
            "port": self.link.local_port,
            "channel": channel,
        }
        for attempt in range(20):
            try:
                async with (
                    aiohttp.ClientSession() as http,
                    http.post(
                        f"{self.control}/radios", json=body, timeout=aiohttp.ClientTimeout(total=2)
                    ) as rsp,
                ):
                    rsp.raise_for_status()
                    return
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                if attempt == 19:
                    log.warning(
                        "radio.unregistered", extra={"device": self.eui.duis, "error": str(exc)}
                    )
                await asyncio.sleep(0.25)

    async def _flush_counters(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.frame_counters.flush()

    async def close(self) -> None:
        for task in [*self._tasks, *([self._flush] if self._flush else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.frame_counters.flush()
        if self.link is not None and self.link.transport is not None:
            self.link.transport.close()

    def _spawn(self, coro: Any) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- forming (the coordinator and trust centre) ----------------------------------------

    async def form(self, settings: NetworkSettings, trust_centre: TrustCentre) -> None:
        await self._open(settings.channel)
        assert self.mac is not None and self.net is not None
        self.coordinator, self.trust_centre, self.settings = True, trust_centre, settings
        self.mac.pan_id, self.mac.short = settings.pan_id, COORDINATOR
        self.net.network_key, self.net.key_seq = settings.network_key, settings.key_seq
        saved = read_json(self.state_file, {}) or {}
        for short, info in saved.get("children", {}).items():
            eui = Eui64.parse(info["eui"])
            key = trust_centre.link_key(eui)
            if key is None:
                continue  # no longer in the device log: forgotten with its address
            self.net.learn(int(short), eui)
            self.net.link_keys[eui] = key
            if not info.get("rx_on_when_idle", True):
                self.net.sleepy.add(eui)
                self.mac.children[int(short)] = eui
        self._save()
        await self._register(settings.channel)  # the air delivers to us only from here on
        log.info(
            "han.formed",
            extra={
                "device": self.eui.duis,
                "channel": settings.channel,
                "pan_id": f"0x{settings.pan_id:04x}",
                "extended_pan_id": settings.extended_pan_id.duis,
            },
        )

    async def permit_joining(self, seconds: int) -> None:
        self._permit_until = asyncio.get_running_loop().time() + seconds

    def _permitting(self) -> bool:
        return asyncio.get_running_loop().time() < self._permit_until

    @property
    def capability(self) -> int:
        """MAC capability information, as sent in association and device announce."""
        capability = mac.CAP_ALLOCATE_ADDRESS
        if self.rx_on_when_idle:
            capability |= mac.CAP_RX_ON_WHEN_IDLE
        if self.router:
            capability |= mac.CAP_FFD | mac.CAP_MAINS_POWERED
        return capability

    def _save(self) -> None:
        """The network state a restart resumes from: the coordinator keeps its children,
        a device its network key and trust centre."""
        assert self.net is not None and self.settings is not None and self.mac is not None
        state: dict[str, Any] = {
            "channel": self.settings.channel,
            "pan_id": self.settings.pan_id,
            "extended_pan_id": self.settings.extended_pan_id.duis,
            "key_seq": self.settings.key_seq,
            "short": self.mac.short,
        }
        if self.coordinator:
            state["children"] = {
                str(short): {"eui": eui.duis, "rx_on_when_idle": eui not in self.net.sleepy}
                for short, eui in self.net.addresses.items()
                if short != COORDINATOR
            }
        else:
            state["network_key"] = self.settings.network_key.hex()
            state["trust_centre"] = self.net.addresses[COORDINATOR].duis
        write_json(self.state_file, state, 0o600)

    def _allocate(self, eui: Eui64) -> int:
        assert self.net is not None
        known = self.net.short_of(eui)
        if known is not None:
            return known
        while True:
            short = random.randrange(0x0001, 0xFFF7)
            if short not in self.net.addresses:
                return short

    def _on_mac_command(self, frame: MacFrame, lqi: int) -> None:
        command = frame.command
        if frame.frame_type is FrameType.BEACON:
            self._beacons.append((frame, lqi))
        elif command is mac.Command.BEACON_REQUEST and self.coordinator:
            self._send_beacon()
        elif command is mac.Command.ASSOCIATION_REQUEST and self.coordinator:
            self._spawn(self._associate(frame))
        elif command is mac.Command.ASSOCIATION_RESPONSE and self._assoc and not self._assoc.done():
            with contextlib.suppress(DecodeError, ValueError):
                self._assoc.set_result(mac.AssociationResponse.decode(frame.payload))

    def _send_beacon(self) -> None:
        assert self.mac is not None and self.settings is not None
        beacon = mac.Beacon(self.settings.extended_pan_id, self._permitting(), True)
        frame = MacFrame(
            FrameType.BEACON,
            self.mac.next_seq(),
            beacon.encode(),
            src_pan=self.settings.pan_id,
            src=COORDINATOR,
        )
        self._spawn(self.mac.transmit(frame))

    async def _associate(self, request: MacFrame) -> None:
        assert self.mac is not None and self.net is not None and self.trust_centre is not None
        device = request.src
        if not isinstance(device, Eui64) or len(request.payload) < 2:
            return
        capability = request.payload[1]
        link_key = self.trust_centre.authorize(device, capability) if self._permitting() else None
        short = self._allocate(device) if link_key is not None else 0xFFFF
        status = (
            mac.AssociationStatus.SUCCESS if link_key else mac.AssociationStatus.PAN_ACCESS_DENIED
        )
        response = MacFrame(
            FrameType.COMMAND,
            self.mac.next_seq(),
            mac.AssociationResponse(short, status).encode(),
            dst_pan=self.mac.pan_id,
            dst=device,
            src=self.eui,
            ack_request=True,
        )
        delivered = await self.mac.queue_indirect(device, response)
        if link_key is None or not delivered:
            return
        sleepy = not capability & mac.CAP_RX_ON_WHEN_IDLE
        self.net.learn(short, device)
        self.net.link_keys[device] = link_key
        if sleepy:
            self.net.sleepy.add(device)
            self.mac.children[short] = device
        else:
            self.net.sleepy.discard(device)
        self.frame_counters.forget(device.hex)  # a (re)joining device may restart its counter
        self._save()
        assert self.settings is not None
        key = TransportKey(self.settings.network_key, self.settings.key_seq, device, self.eui)
        frame = aps.ApsFrame(
            ApsFrameType.COMMAND, self.net._next_aps_counter(), payload=key.encode()
        )
        body = aps.seal(
            frame,
            security.key_transport_key(link_key),
            self.frame_counters.next(),
            self.eui,
            security.KeyId.KEY_TRANSPORT,
        )
        if not await self.net.send_nwk(short, body, secure=False, dst_eui=device):
            log.warning("han.transport_key_lost", extra={"device": device.duis})

    # --- joining (a device) ----------------------------------------------------------------

    async def join(self, channel: int, extended_pan_id: Eui64, link_key: bytes) -> NetworkSettings:
        if self.mac is None:
            await self._open(channel)
            await self._register(channel)
        assert self.mac is not None and self.net is not None
        self.net.default_link_key = link_key  # until the trust centre's address is known
        saved = read_json(self.state_file, {}) or {}
        if saved.get("extended_pan_id") == extended_pan_id.duis and saved.get("network_key"):
            return await self._resume(saved, link_key)
        for _scan in range(10):
            self._beacons.clear()
            request = MacFrame(
                FrameType.COMMAND,
                self.mac.next_seq(),
                bytes([mac.Command.BEACON_REQUEST]),
                dst_pan=mac.BROADCAST,
                dst=mac.BROADCAST,
            )
            await self.mac.transmit(request)
            await asyncio.sleep(SCAN_S)
            for frame, _lqi in self._beacons:
                with contextlib.suppress(DecodeError):
                    beacon = mac.Beacon.decode(frame.payload)
                    if beacon.extended_pan_id == extended_pan_id and beacon.association_permit:
                        assert isinstance(frame.src_pan, int)
                        return await self._associate_with(frame.src_pan, beacon, link_key, channel)
        raise JoinRefused(
            f"no network {extended_pan_id.duis} permitting joins on channel {channel}"
        )

    async def _associate_with(
        self, pan_id: int, beacon: mac.Beacon, link_key: bytes, channel: int
    ) -> NetworkSettings:
        assert self.mac is not None and self.net is not None
        loop = asyncio.get_running_loop()
        self.mac.pan_id = pan_id
        capability = self.capability
        self._assoc = loop.create_future()
        request = MacFrame(
            FrameType.COMMAND,
            self.mac.next_seq(),
            bytes([mac.Command.ASSOCIATION_REQUEST, capability]),
            dst_pan=pan_id,
            dst=COORDINATOR,
            src_pan=mac.BROADCAST,
            src=self.eui,
            ack_request=True,
        )
        if await self.mac.transmit(request) is None:
            raise JoinRefused("the coordinator did not acknowledge the association request")
        response = None
        for _ in range(20):
            await asyncio.sleep(POLL_EVERY_S)
            await self.mac.poll(COORDINATOR)
            if self._assoc.done():
                response = self._assoc.result()
                break
        if response is None:
            raise JoinRefused("no association response from the coordinator")
        if response.status is not mac.AssociationStatus.SUCCESS:
            raise JoinRefused(
                f"association refused by the trust centre ({response.status.name}): "
                "is this device in the CHF's device log?"
            )
        self.mac.short = response.short_address
        self._key = loop.create_future()
        for _ in range(60):
            if self._key.done():
                break
            if not self.rx_on_when_idle:
                await self.mac.poll(COORDINATOR)
            await asyncio.sleep(POLL_EVERY_S)
        if not self._key.done():
            raise JoinRefused("associated, but no network key came from the trust centre")
        transported = self._key.result()
        self.settings = NetworkSettings(
            channel, pan_id, beacon.extended_pan_id, transported.key, transported.key_seq
        )
        self.net.network_key, self.net.key_seq = transported.key, transported.key_seq
        self.net.learn(COORDINATOR, transported.src)
        self.net.link_keys = {transported.src: link_key}
        self._save()
        await self._announce()
        log.info(
            "han.joined",
            extra={
                "device": self.eui.duis,
                "short": f"0x{self.mac.short:04x}",
                "parent": transported.src.duis,
            },
        )
        return self.settings

    async def _resume(self, saved: dict[str, Any], link_key: bytes) -> NetworkSettings:
        """Back after a restart: network key and address kept, as a real stick keeps them."""
        assert self.mac is not None and self.net is not None
        tc = Eui64.parse(saved["trust_centre"])
        self.settings = NetworkSettings(
            saved["channel"],
            saved["pan_id"],
            Eui64.parse(saved["extended_pan_id"]),
            bytes.fromhex(saved["network_key"]),
            saved["key_seq"],
        )
        self.mac.pan_id, self.mac.short = self.settings.pan_id, saved["short"]
        self.net.network_key, self.net.key_seq = self.settings.network_key, self.settings.key_seq
        self.net.learn(COORDINATOR, tc)
        self.net.link_keys = {tc: link_key}
        await self._announce()
        log.info(
            "han.resumed",
            extra={
                "device": self.eui.duis,
                "short": f"0x{self.mac.short:04x}",
                "nwk_counter": self.frame_counters.outgoing,
            },
        )
        return self.settings

    async def _announce(self) -> None:
        assert self.mac is not None and self.net is not None and self.mac.short is not None
        capability = self.capability
        body = zdo.encode(
            zdo.ZDOCmd.Device_annce,
            self._next_tsn(),
            t.NWK(self.mac.short),
            zdo.eui(self.eui),
            t.uint8_t(capability),
        )
        frame = aps.ApsFrame(
            ApsFrameType.DATA,
            self.net._next_aps_counter(),
            0,
            zdo.ZDOCmd.Device_annce,
            aps.ZDO_PROFILE,
            0,
            body,
        )
        if self.rx_on_when_idle:
            await self.net.send_nwk(nwk.BROADCAST_RX_ON, frame.encode())
        else:  # an end device's broadcast goes to its parent, which relays it
            await self.net.send_nwk(COORDINATOR, frame.encode())

    # --- data ------------------------------------------------------------------------------

    def on_message(self, handler: Handler) -> None:
        self._handlers.append(handler)

    def _link_key_for(self, peer: Eui64) -> bytes | None:
        assert self.net is not None
        return self.net.link_keys.get(peer)

    async def send(self, message: ApsMessage) -> None:
        if self.net is None:
            raise DeliveryError("the radio is not on a network")
        if self.net.short_of(message.peer) is None:
            await self.resolve(message.peer)
        key = self._link_key_for(message.peer) if message.profile == aps.SE_PROFILE else None
        await self.net.send_aps(
            message.peer,
            message.cluster,
            message.profile,
            message.src_ep,
            message.dst_ep,
            message.payload,
            link_key=key,
        )

    async def resolve(self, peer: Eui64) -> int:
        """The short address of ``peer``: known, or asked for with a broadcast NWK_addr_req."""
        assert self.net is not None
        short = self.net.short_of(peer)
        if short is not None:
            return short
        tsn = self._next_tsn()
        waiter = asyncio.get_running_loop().create_future()
        self._zdo_waiters[(zdo.ZDOCmd.NWK_addr_rsp, tsn)] = waiter
        body = zdo.encode(zdo.ZDOCmd.NWK_addr_req, tsn, zdo.eui(peer), t.uint8_t(0), t.uint8_t(0))
        frame = aps.ApsFrame(
            ApsFrameType.DATA,
            self.net._next_aps_counter(),
            0,
            zdo.ZDOCmd.NWK_addr_req,
            aps.ZDO_PROFILE,
            0,
            body,
        )
        try:
            await self.net.send_nwk(nwk.BROADCAST_RX_ON, frame.encode())
            args = await asyncio.wait_for(waiter, 1.0)
        except TimeoutError:
            raise DeliveryError(
                f"{peer.duis} did not answer an address request: not on the network?"
            ) from None
        finally:
            self._zdo_waiters.pop((zdo.ZDOCmd.NWK_addr_rsp, tsn), None)
        short = int(args[2])
        self.net.learn(short, peer)
        return short

    def _next_tsn(self) -> int:
        self._zdo_tsn = (self._zdo_tsn + 1) & 0xFF
        return self._zdo_tsn

    def _on_received(self, received: Received) -> None:
        frame = received.frame
        if frame.frame_type is ApsFrameType.COMMAND:
            self._on_aps_command(received)
            return
        if frame.profile == aps.ZDO_PROFILE and frame.dst_ep == 0:
            self._on_zdo(received)
            return
        message = ApsMessage(
            received.src,
            frame.cluster or 0,
            frame.payload,
            frame.profile or 0,
            frame.src_ep or 0,
            frame.dst_ep or 0,
            received.lqi,
        )
        for handler in self._handlers:
            self._spawn(handler(message))

    def _on_aps_command(self, received: Received) -> None:
        if self._key is None or self._key.done():
            return
        with contextlib.suppress(DecodeError, ValueError):
            key = TransportKey.decode(received.frame.payload)
            if key.dst == self.eui:
                self._key.set_result(key)

    def _on_zdo(self, received: Received) -> None:
        assert self.net is not None and self.mac is not None
        frame = received.frame
        try:
            cmd, tsn, args = zdo.decode(frame.cluster or 0, frame.payload)
        except DecodeError:
            self._counters.bad_frames += 1
            return
        waiter = self._zdo_waiters.get((cmd, tsn))
        if waiter is not None and not waiter.done():
            waiter.set_result(args)
            return
        if cmd is zdo.ZDOCmd.Device_annce:
            short, ieee, capability = int(args[0]), zdo.from_zigpy(args[1]), int(args[2])
            self.net.learn(short, ieee)
            self.net.forget(ieee, short)
            if self.coordinator and self.trust_centre is not None and ieee in self.net.link_keys:
                if not capability & mac.CAP_RX_ON_WHEN_IDLE:
                    self.net.sleepy.add(ieee)
                    self.mac.children[short] = ieee
                self.trust_centre.joined(ieee, short)
                self._save()
        elif cmd is zdo.ZDOCmd.NWK_addr_req and zdo.from_zigpy(args[0]) == self.eui:
            self._zdo_reply(
                received,
                zdo.ZDOCmd.NWK_addr_rsp,
                tsn,
                t.uint8_t(0),
                zdo.eui(self.eui),
                t.NWK(self.mac.short),
            )
        elif cmd is zdo.ZDOCmd.Node_Desc_req:
            nd = zdo.node_descriptor(
                coordinator=self.coordinator,
                router=self.router,
                capability=self.capability,
            )
            self._zdo_reply(
                received, zdo.ZDOCmd.Node_Desc_rsp, tsn, t.uint8_t(0), t.NWK(self.mac.short), nd
            )

    def _zdo_reply(self, received: Received, cmd: zdo.ZDOCmd, tsn: int, *args: Any) -> None:
        assert self.net is not None
        net = self.net
        body = zdo.encode(cmd, tsn, *args)

        async def reply() -> None:
            with contextlib.suppress(DeliveryError):
                await net.send_aps(received.src, cmd, aps.ZDO_PROFILE, 0, 0, body, link_key=None)

        self._spawn(reply())

    # --- sleepy devices -------------------------------------------------------------------

    async def sleep(self) -> None:
        if self.mac is not None and not self.rx_on_when_idle:
            self.mac.rx_on = False

    async def wake(self) -> None:
        if self.mac is not None:
            self.mac.rx_on = True
            if not self.rx_on_when_idle and (self._poller is None or self._poller.done()):
                self._poller = self._spawn(self._poll_while_awake())

    async def _poll_while_awake(self) -> None:
        assert self.mac is not None
        while self.mac.rx_on:
            await self.mac.poll(COORDINATOR)
            await asyncio.sleep(POLL_EVERY_S)

    # --- reporting ------------------------------------------------------------------------

    def link_quality(self) -> dict[str, LinkQuality]:
        return dict(self._counters.links)

    def counters(self) -> RadioCounters:
        return self._counters

    @property
    def nwk_frame_counter(self) -> int:
        return self.frame_counters.outgoing

    @property
    def short(self) -> int | None:
        return self.mac.short if self.mac else None
