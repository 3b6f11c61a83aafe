"""Joining a network (a device's side): scan, associate, take the network key, or resume.

A scan broadcasts beacon requests and looks for a beacon of the wanted extended
PAN ID that permits joining; association follows, polling the coordinator for
the response (it is sent indirectly), then the network key arrives in an APS
Transport Key. Each attempt starts unassociated (no short address: it polls for
its association response by its EUI, as 802.15.4 says), so an attempt after one
that got no key starts clean. A device restarted with a saved membership resumes:
same network key, short address and trust centre, as a real stick keeps them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from nodes.radio.api import JoinRefused, NetworkSettings
from nodes.radio.sim.coordinator import COORDINATOR
from nodes.radio.sim.network import Network, Received
from nodes.radio.sim.polling import POLL_EVERY_S
from nodes.radio.sim.radio_state import Membership, RadioState
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.zigbee import mac
from rig.protocol.zigbee.aps import TransportKey
from rig.protocol.zigbee.mac import FrameType, MacFrame

log = logging.getLogger("nodes.radio")

SCAN_S = 0.3
SCANS = 10
ASSOCIATION_POLLS = 20
KEY_WAITS = 60


class Joiner:
    def __init__(
        self,
        net: Network,
        *,
        capability: int,
        rx_on_when_idle: bool,
        state: RadioState,
        announce: Callable[[], Awaitable[None]],
    ) -> None:
        self.net = net
        self.mac = net.mac
        self.eui = net.eui
        self.capability = capability
        self.rx_on_when_idle = rx_on_when_idle
        self.state = state
        self._announce = announce
        self._beacons: list[tuple[MacFrame, int]] = []
        self._assoc: asyncio.Future[mac.AssociationResponse] | None = None
        self._key: asyncio.Future[TransportKey] | None = None

    async def join(self, channel: int, extended_pan_id: Eui64, link_key: bytes) -> NetworkSettings:
        self.net.default_link_key = link_key  # until the trust centre's address is known
        saved = self.state.membership(extended_pan_id)
        if saved is not None:
            return await self._resume(saved, link_key)
        self.mac.short = None  # not associated: an address from a failed attempt is void
        for _scan in range(SCANS):
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

    def on_mac_command(self, frame: MacFrame, lqi: int) -> None:
        if frame.frame_type is FrameType.BEACON:
            self._beacons.append((frame, lqi))
        elif (
            frame.command is mac.Command.ASSOCIATION_RESPONSE
            and self._assoc
            and not self._assoc.done()
        ):
            with contextlib.suppress(DecodeError, ValueError):
                response = mac.AssociationResponse.decode(frame.payload)
                if response.status is mac.AssociationStatus.SUCCESS:
                    # the MAC takes its address at once: the Transport Key may follow any moment
                    self.mac.short = response.short_address
                self._assoc.set_result(response)

    def on_aps_command(self, received: Received) -> None:
        """An APS command: the Transport Key this device is waiting for, if it is one."""
        if self._key is None or self._key.done():
            return
        with contextlib.suppress(DecodeError, ValueError):
            key = TransportKey.decode(received.frame.payload)
            if key.dst == self.eui:
                self._key.set_result(key)

    async def _associate_with(
        self, pan_id: int, beacon: mac.Beacon, link_key: bytes, channel: int
    ) -> NetworkSettings:
        loop = asyncio.get_running_loop()
        self.mac.pan_id = pan_id
        self._assoc = loop.create_future()
        self._key = loop.create_future()  # taken whenever it comes once we are associated
        request = MacFrame(
            FrameType.COMMAND,
            self.mac.next_seq(),
            bytes([mac.Command.ASSOCIATION_REQUEST, self.capability]),
            dst_pan=pan_id,
            dst=COORDINATOR,
            src_pan=mac.BROADCAST,
            src=self.eui,
            ack_request=True,
        )
        if await self.mac.transmit(request) is None:
            raise JoinRefused("the coordinator did not acknowledge the association request")
        response = None
        for _ in range(ASSOCIATION_POLLS):
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
        for _ in range(KEY_WAITS):
            if self._key.done():
                break
            if not self.rx_on_when_idle:
                await self.mac.poll(COORDINATOR)
            await asyncio.sleep(POLL_EVERY_S)
        if not self._key.done():
            raise JoinRefused("associated, but no network key came from the trust centre")
        transported = self._key.result()
        settings = NetworkSettings(
            channel, pan_id, beacon.extended_pan_id, transported.key, transported.key_seq
        )
        self.net.network_key, self.net.key_seq = transported.key, transported.key_seq
        self.net.learn(COORDINATOR, transported.src)
        self.net.link_keys = {transported.src: link_key}
        self.state.save_device(settings, self.mac.short, transported.src)
        await self._announce()
        log.info(
            "han.joined",
            extra={
                "device": self.eui.duis,
                "short": f"0x{self.mac.short:04x}",
                "parent": transported.src.duis,
            },
        )
        return settings

    async def _resume(self, saved: Membership, link_key: bytes) -> NetworkSettings:
        """Back after a restart: network key and address kept, as a real stick keeps them."""
        settings, tc = saved.settings, saved.trust_centre
        self.mac.pan_id, self.mac.short = settings.pan_id, saved.short
        self.net.network_key, self.net.key_seq = settings.network_key, settings.key_seq
        self.net.learn(COORDINATOR, tc)
        self.net.link_keys = {tc: link_key}
        await self._announce()
        log.info(
            "han.resumed",
            extra={
                "device": self.eui.duis,
                "short": f"0x{self.mac.short:04x}",
                "nwk_counter": self.net.counters.outgoing,
            },
        )
        return settings
