"""ZDO on endpoint 0: device announce, address resolution (NWK_addr_req/rsp), node descriptor.

Both sides answer an NWK_addr_req for their own EUI-64 and a Node_Desc_req, and
learn the address in every Device_annce they hear; a coordinator is told of
announces too (:attr:`ZdoServer.on_announce`), to mark its sleepy children and
the device log. :meth:`ZdoServer.resolve` asks the network for a peer's short
address with a broadcast NWK_addr_req.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from typing import Any

import zigpy.types as t

from nodes.radio.api import DeliveryError
from nodes.radio.sim.coordinator import COORDINATOR
from nodes.radio.sim.network import Network, Received
from nodes.radio.sim.tasks import Spawn
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.zigbee import aps, nwk, zdo
from rig.protocol.zigbee.aps import ApsFrameType

RESOLVE_WAIT_S = 1.0


class ZdoServer:
    def __init__(
        self,
        net: Network,
        *,
        capability: int,
        router: bool,
        rx_on_when_idle: bool,
        spawn: Spawn,
    ) -> None:
        self.net = net
        self.mac = net.mac
        self.eui = net.eui
        self.capability = capability
        self.router = router
        self.rx_on_when_idle = rx_on_when_idle
        self.coordinator = False  # described as the coordinator in the node descriptor
        self.on_announce: Callable[[int, Eui64, int], None] = lambda _s, _e, _c: None
        self._spawn = spawn
        self._waiters: dict[tuple[int, int], asyncio.Future[list[Any]]] = {}
        self._tsn = random.randrange(256)

    def serve_coordinator(self, on_announce: Callable[[int, Eui64, int], None]) -> None:
        self.coordinator, self.on_announce = True, on_announce

    def _next_tsn(self) -> int:
        self._tsn = (self._tsn + 1) & 0xFF
        return self._tsn

    def _frame(self, cmd: zdo.ZDOCmd, body: bytes) -> bytes:
        frame = aps.ApsFrame(
            ApsFrameType.DATA, self.net._next_aps_counter(), 0, cmd, aps.ZDO_PROFILE, 0, body
        )
        return frame.encode()

    async def announce(self) -> None:
        """Device_annce: this device's short address, EUI-64 and capability, to the network."""
        assert self.mac.short is not None
        body = zdo.encode(
            zdo.ZDOCmd.Device_annce,
            self._next_tsn(),
            t.NWK(self.mac.short),
            zdo.eui(self.eui),
            t.uint8_t(self.capability),
        )
        frame = self._frame(zdo.ZDOCmd.Device_annce, body)
        if self.rx_on_when_idle:
            await self.net.send_nwk(nwk.BROADCAST_RX_ON, frame)
        else:  # an end device's broadcast goes to its parent, which relays it
            await self.net.send_nwk(COORDINATOR, frame)

    async def resolve(self, peer: Eui64) -> int:
        """The short address of ``peer``: known, or asked for with a broadcast NWK_addr_req."""
        short = self.net.short_of(peer)
        if short is not None:
            return short
        tsn = self._next_tsn()
        waiter = asyncio.get_running_loop().create_future()
        self._waiters[(zdo.ZDOCmd.NWK_addr_rsp, tsn)] = waiter
        body = zdo.encode(zdo.ZDOCmd.NWK_addr_req, tsn, zdo.eui(peer), t.uint8_t(0), t.uint8_t(0))
        frame = self._frame(zdo.ZDOCmd.NWK_addr_req, body)
        try:
            await self.net.send_nwk(nwk.BROADCAST_RX_ON, frame)
            args = await asyncio.wait_for(waiter, RESOLVE_WAIT_S)
        except TimeoutError:
            raise DeliveryError(
                f"{peer.duis} did not answer an address request: not on the network?"
            ) from None
        finally:
            self._waiters.pop((zdo.ZDOCmd.NWK_addr_rsp, tsn), None)
        short = int(args[2])
        self.net.learn(short, peer)
        return short

    def on_zdo(self, received: Received) -> None:
        frame = received.frame
        try:
            cmd, tsn, args = zdo.decode(frame.cluster or 0, frame.payload)
        except DecodeError:
            self.net.stats.bad_frames += 1
            return
        waiter = self._waiters.get((cmd, tsn))
        if waiter is not None and not waiter.done():
            waiter.set_result(args)
            return
        if cmd is zdo.ZDOCmd.Device_annce:
            short, ieee, capability = int(args[0]), zdo.from_zigpy(args[1]), int(args[2])
            self.net.learn(short, ieee)
            self.net.forget(ieee, short)
            self.on_announce(short, ieee, capability)
        elif cmd is zdo.ZDOCmd.NWK_addr_req and zdo.from_zigpy(args[0]) == self.eui:
            self._reply(
                received,
                zdo.ZDOCmd.NWK_addr_rsp,
                tsn,
                t.uint8_t(0),
                zdo.eui(self.eui),
                t.NWK(self.mac.short),
            )
        elif cmd is zdo.ZDOCmd.Node_Desc_req:
            nd = zdo.node_descriptor(
                coordinator=self.coordinator, router=self.router, capability=self.capability
            )
            self._reply(
                received, zdo.ZDOCmd.Node_Desc_rsp, tsn, t.uint8_t(0), t.NWK(self.mac.short), nd
            )

    def _reply(self, received: Received, cmd: zdo.ZDOCmd, tsn: int, *args: Any) -> None:
        net = self.net
        body = zdo.encode(cmd, tsn, *args)

        async def reply() -> None:
            with contextlib.suppress(DeliveryError):
                await net.send_aps(received.src, cmd, aps.ZDO_PROFILE, 0, 0, body, link_key=None)

        self._spawn(reply())
