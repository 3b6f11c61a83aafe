"""The sim radio's PHY and MAC: ZEP to the air, 802.15.4 acks, retries and indirect transmission.

What a radio chip does in hardware and firmware: acknowledge frames addressed
to it at once, retransmit unacknowledged frames (macMaxFrameRetries = 3), drop
duplicates, hold frames for sleepy children until they poll with a Data Request,
and ignore the air while its receiver is off.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from rig.protocol import zep
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.zigbee import mac
from rig.protocol.zigbee.mac import FrameType, MacFrame

log = logging.getLogger("nodes.radio")

ACK_WAIT_S = 0.05  # macAckWaitDuration is 0.864 ms on a chip; the sim allows for scheduling
MAX_FRAME_RETRIES = 3
INDIRECT_TTL_S = 7.68  # macTransactionPersistenceTime with the default beacon order


@dataclass(eq=False)  # each held frame is itself: removed from its queue by identity
class _Indirect:
    frame: MacFrame
    done: asyncio.Future[bool]
    expires: float
    tries: int = 0


@dataclass
class MacStats:
    sent: int = 0
    received: int = 0
    retries: int = 0
    failures: int = 0
    bad_fcs: int = 0
    duplicates: int = 0


class AirLink(asyncio.DatagramProtocol):
    """ZEP v2 over UDP to the air process; one channel."""

    def __init__(self, air: tuple[str, int], channel: int, device_id: int) -> None:
        self.air = air
        self.channel = channel
        self.device_id = device_id
        self.transport: asyncio.DatagramTransport | None = None
        self.receive: Callable[[bytes, int], None] = lambda _f, _l: None
        self._seq = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # made by a datagram endpoint

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            packet = zep.decode(data)
        except zep.ZepError:
            return
        if isinstance(packet, zep.ZepData) and packet.channel == self.channel:
            try:
                self.receive(packet.frame, packet.lqi)
            except Exception:  # one bad frame must never stop the radio
                log.exception("radio.frame_failed", extra={"frame": packet.frame.hex()})

    def send(self, psdu: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return  # a radio switched off: what it would still send goes nowhere
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        packet = zep.ZepData(self.channel, self.device_id, 255, time.time(), self._seq, psdu)
        self.transport.sendto(packet.encode(), self.air)

    @property
    def local_port(self) -> int:
        assert self.transport is not None
        return self.transport.get_extra_info("sockname")[1]


class Mac:
    def __init__(self, link: AirLink, eui: Eui64) -> None:
        self.link = link
        self.eui = eui
        self.pan_id: int | None = None
        self.short: int | None = None
        self.rx_on = True
        self.stats = MacStats()
        self.children: dict[int, Eui64] = {}  # short -> EUI, for Data Requests by short address
        self.upper: Callable[[MacFrame, int], None] = lambda _f, _l: None
        self._seq = random.randrange(256)
        self._acks: dict[int, asyncio.Future[MacFrame]] = {}
        self._indirect: dict[Eui64, deque[_Indirect]] = {}
        # (seq, payload) per sender and frame type
        self._recent: dict[tuple[mac.Address, FrameType], deque[tuple[int, bytes]]] = {}
        link.receive = self._on_psdu

    def next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFF
        return self._seq

    async def transmit(self, frame: MacFrame) -> MacFrame | None:
        """Send; for an acknowledged frame retry until acked. The ack, or None if never acked."""
        psdu = frame.encode()
        if not frame.ack_request:
            self.link.send(psdu)
            self.stats.sent += 1
            return mac.ack(frame.seq)
        loop = asyncio.get_running_loop()
        for attempt in range(MAX_FRAME_RETRIES + 1):
            waiter: asyncio.Future[MacFrame] = loop.create_future()
            self._acks[frame.seq] = waiter
            self.link.send(psdu)
            self.stats.sent += 1
            if attempt:
                self.stats.retries += 1
            try:
                return await asyncio.wait_for(waiter, ACK_WAIT_S)
            except TimeoutError:
                continue
            finally:
                self._acks.pop(frame.seq, None)
        self.stats.failures += 1
        return None

    def forget(self, short: int) -> None:
        for key in [k for k in self._recent if k[0] == short]:
            del self._recent[key]

    def queue_indirect(self, child: Eui64, frame: MacFrame) -> asyncio.Future[bool]:
        """Hold ``frame`` until ``child`` polls; resolves True when acked, False on expiry.

        It expires after :data:`INDIRECT_TTL_S` whether or not the child polls again.
        """
        loop = asyncio.get_running_loop()
        item = _Indirect(frame, loop.create_future(), time.monotonic() + INDIRECT_TTL_S)
        self._indirect.setdefault(child, deque()).append(item)
        loop.call_later(INDIRECT_TTL_S, self._expire, child, item)
        return item.done

    def pending(self, child: Eui64) -> int:
        """How many frames are held for ``child`` until it polls."""
        return len(self._pending_for(child))

    def drop_indirect(self, child: Eui64) -> None:
        """Discard what is held for ``child`` (it is associating afresh): each resolves False."""
        for item in self._indirect.pop(child, deque()):
            if not item.done.done():
                item.done.set_result(False)

    def _expire(self, child: Eui64, item: _Indirect) -> None:
        queue = self._indirect.get(child)
        if queue is not None and item in queue:
            queue.remove(item)
            if not queue:
                del self._indirect[child]
        if not item.done.done():
            item.done.set_result(False)

    def _pending_for(self, child: Eui64) -> deque[_Indirect]:
        queue = self._indirect.get(child, deque())
        now = time.monotonic()
        while queue and queue[0].expires < now:
            item = queue.popleft()
            if not item.done.done():
                item.done.set_result(False)
        return queue

    def _on_psdu(self, psdu: bytes, lqi: int) -> None:
        if not self.rx_on:
            return  # receiver off: a sleeping device hears nothing
        try:
            frame = mac.decode(psdu)
        except DecodeError:
            self.stats.bad_fcs += 1
            return
        if frame.frame_type is FrameType.ACK:
            waiter = self._acks.get(frame.seq)
            if waiter is not None and not waiter.done():
                waiter.set_result(frame)
            return
        if not self._for_me(frame):
            return
        self.stats.received += 1
        child = self._child_of(frame.src)
        if frame.ack_request:
            pending = child is not None and bool(self._pending_for(child))
            self.link.send(mac.ack(frame.seq, frame_pending=pending).encode())
        key = (frame.src, frame.frame_type)
        if frame.frame_type is FrameType.DATA and frame.ack_request:
            recent = self._recent.setdefault(key, deque(maxlen=8))
            if (frame.seq, frame.payload) in recent:
                self.stats.duplicates += 1  # our ack was lost and the sender retried
                return
            recent.append((frame.seq, frame.payload))
        if frame.command is mac.Command.DATA_REQUEST and child is not None:
            asyncio.get_running_loop().create_task(self._serve_poll(child))
            return
        self.upper(frame, lqi)

    def _child_of(self, src: mac.Address) -> Eui64 | None:
        if isinstance(src, Eui64):
            return src
        if isinstance(src, int):
            return self.children.get(src)
        return None

    def _for_me(self, frame: MacFrame) -> bool:
        if frame.frame_type is FrameType.BEACON:
            return True
        if frame.dst is None:
            return self.short == 0x0000  # frames without a destination go to the PAN coordinator
        if frame.dst_pan not in (self.pan_id, mac.BROADCAST):
            return False
        if isinstance(frame.dst, Eui64):
            return frame.dst == self.eui
        return frame.dst == mac.BROADCAST or (self.short is not None and frame.dst == self.short)

    async def _serve_poll(self, child: Eui64) -> None:
        queue = self._pending_for(child)
        if not queue:
            return
        item = queue[0]
        item.tries += 1
        ack = await self.transmit(item.frame)
        if ack is not None or item.tries > MAX_FRAME_RETRIES:
            if queue and queue[0] is item:
                queue.popleft()
            if not item.done.done():
                item.done.set_result(ack is not None)

    async def poll(self, parent: int) -> bool:
        """A sleepy device's Data Request; True when the parent has more for us."""
        frame = MacFrame(
            FrameType.COMMAND,
            self.next_seq(),
            bytes([mac.Command.DATA_REQUEST]),
            dst_pan=self.pan_id,
            dst=parent,
            src=self.short if self.short is not None else self.eui,
            src_pan=None if self.short is not None else mac.BROADCAST,
            ack_request=True,
        )
        ack = await self.transmit(frame)
        return bool(ack and ack.frame_pending)
