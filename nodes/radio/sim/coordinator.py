"""The coordinator and trust centre (the CHF's side): form the network, admit devices, hand keys.

It answers beacon requests, associates the devices the trust centre accepts
while joining is permitted (and refuses the others with PAN access denied), then
sends each the network key in an APS Transport Key secured with the
key-transport key hashed from its install-code link key. A device that asks to
associate again (its response or its key was lost, and it gave up waiting) is
admitted afresh: what was still held for it is dropped, it keeps the address it
had, and the key goes again. Formed again after a restart, it takes back the
saved children the trust centre still knows. A device the trust centre drops (the CHF's
CCS02) is asked to leave with a NWK Leave request and forgotten.
"""

from __future__ import annotations

import asyncio
import logging
import random

from nodes.radio.api import DeliveryError, NetworkSettings, TrustCentre
from nodes.radio.sim.network import Network
from nodes.radio.sim.radio_state import RadioState
from nodes.radio.sim.tasks import Spawn
from rig.protocol.eui import Eui64
from rig.protocol.zigbee import aps, mac, nwk, security
from rig.protocol.zigbee.aps import ApsFrameType, TransportKey
from rig.protocol.zigbee.mac import FrameType, MacFrame

log = logging.getLogger("nodes.radio")

COORDINATOR = 0x0000  # the PAN coordinator's short address; it is the trust centre too


class JoinPermit:
    """``permit_joining``: until when the coordinator admits new devices."""

    def __init__(self) -> None:
        self._until = 0.0

    def open_for(self, seconds: int) -> None:
        self._until = asyncio.get_running_loop().time() + seconds

    def permitting(self) -> bool:
        return asyncio.get_running_loop().time() < self._until


class Coordinator:
    def __init__(
        self,
        net: Network,
        settings: NetworkSettings,
        trust_centre: TrustCentre,
        permit: JoinPermit,
        state: RadioState,
        spawn: Spawn,
    ) -> None:
        self.net = net
        self.mac = net.mac
        self.eui = net.eui
        self.settings = settings
        self.trust_centre = trust_centre
        self.permit = permit
        self.state = state
        self._spawn = spawn
        self._admitting: dict[Eui64, asyncio.Future[object]] = {}  # association under way

    def form(self) -> None:
        """Take the network's PAN ID, address and key; re-admit the saved children."""
        settings, net = self.settings, self.net
        self.mac.pan_id, self.mac.short = settings.pan_id, COORDINATOR
        net.network_key, net.key_seq = settings.network_key, settings.key_seq
        for child in self.state.children():
            key = self.trust_centre.link_key(child.eui)
            if key is None:
                continue  # no longer in the device log: forgotten with its address
            net.learn(child.short, child.eui)
            net.link_keys[child.eui] = key
            if not child.rx_on_when_idle:
                net.sleepy.add(child.eui)
                self.mac.children[child.short] = child.eui
        self.save()

    def save(self) -> None:
        children = {s: eui for s, eui in self.net.addresses.items() if s != COORDINATOR}
        self.state.save_coordinator(self.settings, self.mac.short, children, self.net.sleepy)

    def on_mac_command(self, frame: MacFrame, lqi: int) -> None:
        command = frame.command
        if command is mac.Command.BEACON_REQUEST:
            self._send_beacon()
        elif command is mac.Command.ASSOCIATION_REQUEST:
            self._admit(frame)

    def on_announce(self, short: int, ieee: Eui64, capability: int) -> None:
        """A Device_annce: an admitted device is on the network (again) at ``short``."""
        if ieee not in self.net.link_keys:
            return
        if not capability & mac.CAP_RX_ON_WHEN_IDLE:
            self.net.sleepy.add(ieee)
            self.mac.children[short] = ieee
        self.trust_centre.joined(ieee, short)
        self.save()

    def _send_beacon(self) -> None:
        beacon = mac.Beacon(self.settings.extended_pan_id, self.permit.permitting(), True)
        frame = MacFrame(
            FrameType.BEACON,
            self.mac.next_seq(),
            beacon.encode(),
            src_pan=self.settings.pan_id,
            src=COORDINATOR,
        )
        self._spawn(self.mac.transmit(frame))

    def _allocate(self, eui: Eui64) -> int:
        known = self.net.short_of(eui)
        if known is not None:
            return known
        while True:
            short = random.randrange(0x0001, 0xFFF7)
            if short not in self.net.addresses:
                return short

    def _admit(self, request: MacFrame) -> None:
        """One association at a time per device: a repeated request supersedes the one before.

        The device gave up on the earlier one (no response, or no key, reached it), so its
        response and anything else still held for it are stale: dropped, never sent.
        """
        device = request.src
        if not isinstance(device, Eui64) or len(request.payload) < 2:
            return
        earlier = self._admitting.pop(device, None)
        if earlier is not None:
            earlier.cancel()
        self.mac.drop_indirect(device)
        admission = self._spawn(self._associate(request))
        self._admitting[device] = admission
        admission.add_done_callback(lambda done: self._admitted(device, done))

    def _admitted(self, device: Eui64, admission: asyncio.Future[object]) -> None:
        if self._admitting.get(device) is admission:
            del self._admitting[device]

    async def _associate(self, request: MacFrame) -> None:
        net, device = self.net, request.src
        assert isinstance(device, Eui64)  # checked by _admit
        capability = request.payload[1]
        permitted = self.permit.permitting()
        link_key = self.trust_centre.authorize(device, capability) if permitted else None
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
        net.learn(short, device)
        net.link_keys[device] = link_key
        for old in [s for s, eui in self.mac.children.items() if eui == device]:
            del self.mac.children[old]  # its address as a sleepy child before, if it was one
        if not capability & mac.CAP_RX_ON_WHEN_IDLE:
            net.sleepy.add(device)
            self.mac.children[short] = device
        else:
            net.sleepy.discard(device)
        net.counters.forget(device.hex)  # a (re)joining device may restart its counter
        self.save()
        await self._send_network_key(device, short, link_key)

    def on_nwk_command(self, header: nwk.NwkHeader, source: Eui64 | None, payload: bytes) -> None:
        """A device's Leave indication: it is off the network, its address forgotten (it
        joins afresh, if the trust centre still admits it)."""
        leave = nwk.leave_of(payload)
        if leave is None or leave[0] or source is None:
            return
        self.net.addresses.pop(header.src, None)
        self.net.sleepy.discard(source)
        self.save()
        log.info("han.device_left", extra={"device": source.duis})

    async def remove(self, device: Eui64) -> bool:
        """Ask ``device`` to leave the network (a NWK Leave request, without rejoin) and
        forget it: its address, its link key, its sleepy child entry. True when its MAC
        acknowledged the request (a sleepy one takes it at its next poll)."""
        net, short = self.net, self.net.short_of(device)
        net.link_keys.pop(device, None)
        delivered = False
        if short is not None:
            try:
                delivered = await net.send_nwk(
                    short, nwk.leave(request=True), dst_eui=device, command=True
                )
            except DeliveryError:
                delivered = False
            net.addresses.pop(short, None)
            net.forget(device, short)
        for old in [s for s, eui in self.mac.children.items() if eui == device]:
            del self.mac.children[old]
        net.sleepy.discard(device)
        self.save()
        log.info(
            "han.removed",
            extra={"device": device.duis, "short": short, "leave_acknowledged": delivered},
        )
        return delivered

    async def _send_network_key(self, device: Eui64, short: int, link_key: bytes) -> None:
        """APS Transport Key, secured with the key-transport key of the device's link key."""
        key = TransportKey(self.settings.network_key, self.settings.key_seq, device, self.eui)
        frame = aps.ApsFrame(
            ApsFrameType.COMMAND, self.net._next_aps_counter(), payload=key.encode()
        )
        body = aps.seal(
            frame,
            security.key_transport_key(link_key),
            self.net.counters.next(),
            self.eui,
            security.KeyId.KEY_TRANSPORT,
        )
        if not await self.net.send_nwk(short, body, secure=False, dst_eui=device):
            log.warning("han.transport_key_lost", extra={"device": device.duis})
