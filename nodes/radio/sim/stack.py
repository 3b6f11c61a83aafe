"""The ``sim`` radio: a Zigbee PRO stack on the simulated air, behind ``nodes.radio.api.Radio``.

:class:`SimRadio` puts the jobs together: the link, MAC and network layers
(:mod:`~nodes.radio.sim.link`, :mod:`~nodes.radio.sim.network`), then the
coordinator and trust centre (:mod:`~nodes.radio.sim.coordinator`) or the joiner
(:mod:`~nodes.radio.sim.joiner`), the ZDO server (:mod:`~nodes.radio.sim.zdo_server`),
a sleepy device's polling (:mod:`~nodes.radio.sim.polling`), the saved state
(:mod:`~nodes.radio.sim.radio_state`, :mod:`~nodes.radio.sim.counters`) and
registration with the air (:mod:`~nodes.radio.sim.air_registration`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

from nodes.radio.api import (
    ApsMessage,
    DeliveryError,
    Handler,
    LinkQuality,
    NetworkSettings,
    RadioCounters,
    RadioSettings,
    TrustCentre,
)
from nodes.radio.sim.air_registration import register
from nodes.radio.sim.coordinator import COORDINATOR, Coordinator, JoinPermit
from nodes.radio.sim.counters import FrameCounters
from nodes.radio.sim.joiner import Joiner
from nodes.radio.sim.link import AirLink, Mac
from nodes.radio.sim.network import Network, Received
from nodes.radio.sim.polling import Polling
from nodes.radio.sim.radio_state import RadioState
from nodes.radio.sim.tasks import Tasks
from nodes.radio.sim.zdo_server import ZdoServer
from rig.protocol.eui import Eui64
from rig.protocol.zigbee import aps, mac, nwk
from rig.protocol.zigbee.aps import ApsFrameType
from rig.protocol.zigbee.nwk import NwkHeader

log = logging.getLogger("nodes.radio")

COUNTERS_FLUSH_S = 1.0


class SimRadio:
    def __init__(self, eui: Eui64, settings: RadioSettings, state_dir: Path) -> None:
        self.eui = eui
        self.name = settings.name
        self.air = settings.air
        self.control = settings.control  # the air's control URL, to register by name
        self.router = settings.router
        self.rx_on_when_idle = settings.rx_on_when_idle
        state_dir.mkdir(parents=True, exist_ok=True)
        self.state = RadioState(state_dir / "radio.json")
        self.frame_counters = FrameCounters(state_dir / "nwk-counters.json")
        self._counters = RadioCounters()
        self._tasks = Tasks()
        self._permit = JoinPermit()
        self._handlers: list[Handler] = []
        self.settings: NetworkSettings | None = None
        self.link: AirLink | None = None
        self.mac: Mac | None = None
        self.net: Network | None = None
        self._zdo: ZdoServer | None = None
        self._polling: Polling | None = None
        self._coordinator: Coordinator | None = None
        self._joiner: Joiner | None = None
        self._left: list[Callable[[], None]] = []  # told when the trust centre removed it

    # --- lifecycle ----------------------------------------------------------------------

    async def _open(self, channel: int) -> Network:
        loop = asyncio.get_running_loop()
        device_id = int.from_bytes(self.eui.raw[-2:], "big")
        _, link = await loop.create_datagram_endpoint(
            lambda: AirLink(self.air, channel, device_id),
            remote_addr=None,
            local_addr=("0.0.0.0", 0),
        )
        self.link = link
        self.mac = Mac(link, self.eui)
        self.net = net = Network(self.mac, self.eui, self.frame_counters, self._counters)
        net.upper = self._on_received
        spawn = self._tasks.spawn
        self._zdo = ZdoServer(
            net,
            capability=self.capability,
            router=self.router,
            rx_on_when_idle=self.rx_on_when_idle,
            spawn=spawn,
        )
        self._polling = Polling(self.mac, self.rx_on_when_idle, spawn)
        spawn(self._flush_counters())
        return net

    async def _register(self, channel: int) -> None:
        if self.control and self.link is not None:
            await register(self.control, self.name, self.eui, self.link.local_port, channel)

    async def _flush_counters(self) -> None:
        while True:
            await asyncio.sleep(COUNTERS_FLUSH_S)
            self.frame_counters.flush()

    async def close(self) -> None:
        await self._tasks.cancel_all()
        self.frame_counters.flush()
        if self.link is not None and self.link.transport is not None:
            self.link.transport.close()

    # --- forming (the coordinator and trust centre) or joining (a device) --------------------

    async def form(self, settings: NetworkSettings, trust_centre: TrustCentre) -> None:
        net = await self._open(settings.channel)
        assert self._zdo is not None
        self.settings = settings
        coordinator = Coordinator(
            net, settings, trust_centre, self._permit, self.state, self._tasks.spawn
        )
        self._coordinator = coordinator
        net.on_mac_command = coordinator.on_mac_command
        net.on_nwk_command = coordinator.on_nwk_command
        self._zdo.serve_coordinator(coordinator.on_announce)
        coordinator.form()
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
        self._permit.open_for(seconds)

    async def join(self, channel: int, extended_pan_id: Eui64, link_key: bytes) -> NetworkSettings:
        if self.net is None:
            await self._open(channel)
            await self._register(channel)
        assert self.net is not None and self._zdo is not None
        if self._joiner is None:
            self._joiner = Joiner(
                self.net,
                capability=self.capability,
                rx_on_when_idle=self.rx_on_when_idle,
                state=self.state,
                announce=self._zdo.announce,
            )
            self.net.on_mac_command = self._joiner.on_mac_command
            self.net.on_nwk_command = self._on_nwk_command
        self.settings = await self._joiner.join(channel, extended_pan_id, link_key)
        return self.settings

    async def remove(self, eui: Eui64) -> None:
        """The trust centre drops ``eui``: asked to leave, and forgotten."""
        if self._coordinator is None:
            raise DeliveryError("only the coordinator (the trust centre) removes a device")
        await self._coordinator.remove(eui)

    def on_left(self, handler: Callable[[], None]) -> None:
        self._left.append(handler)

    def _on_nwk_command(self, header: NwkHeader, source: Eui64 | None, payload: bytes) -> None:
        """A joined device's NWK command: the trust centre's Leave request (no rejoin) makes
        it leave: it says so (a Leave indication, broadcast), forgets the network (its key,
        address and saved membership) and tells its role, which may try to join again."""
        leave = nwk.leave_of(payload)
        if leave is None or not leave[0] or header.src != COORDINATOR:
            return
        self._tasks.spawn(self._leave(source))

    async def _leave(self, by: Eui64 | None) -> None:
        net = self.net
        assert net is not None
        with contextlib.suppress(DeliveryError):
            await net.send_nwk(nwk.BROADCAST_RX_ON, nwk.leave(request=False), command=True)
        self.state.forget()
        net.network_key, net.link_keys = None, {}
        self.settings = None
        if self.mac is not None:
            self.mac.short = None
        log.info("han.left", extra={"device": self.eui.duis, "asked_by": by.duis if by else None})
        for handler in self._left:
            handler()

    @property
    def capability(self) -> int:
        """MAC capability information, as sent in association and device announce."""
        capability = mac.CAP_ALLOCATE_ADDRESS
        if self.rx_on_when_idle:
            capability |= mac.CAP_RX_ON_WHEN_IDLE
        if self.router:
            capability |= mac.CAP_FFD | mac.CAP_MAINS_POWERED
        return capability

    # --- data ------------------------------------------------------------------------------

    def on_message(self, handler: Handler) -> None:
        self._handlers.append(handler)

    async def send(self, message: ApsMessage) -> None:
        if self.net is None:
            raise DeliveryError("the radio is not on a network")
        if self.net.short_of(message.peer) is None:
            await self.resolve(message.peer)
        key = self.net.link_keys.get(message.peer) if message.profile == aps.SE_PROFILE else None
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
        assert self._zdo is not None
        return await self._zdo.resolve(peer)

    def _on_received(self, received: Received) -> None:
        frame = received.frame
        if frame.frame_type is ApsFrameType.COMMAND:
            if self._joiner is not None:
                self._joiner.on_aps_command(received)
            return
        if frame.profile == aps.ZDO_PROFILE and frame.dst_ep == 0:
            assert self._zdo is not None
            self._zdo.on_zdo(received)
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
            self._tasks.spawn(handler(message))

    # --- sleepy devices -------------------------------------------------------------------

    async def sleep(self) -> None:
        if self._polling is not None:
            self._polling.sleep()

    async def wake(self) -> None:
        if self._polling is not None:
            self._polling.wake()

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
