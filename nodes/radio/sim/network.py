"""The sim radio's NWK and APS layers: network-key security, replay checks, APS acks and fragments.

NWK: every frame after join is secured with the network key (AES-CCM*, MIC-32);
frames whose counter is not above the last one from that sender are dropped
(replays). APS: unicast data is acknowledged and retried (apsMaxFrameRetries =
3); payloads too big for one frame go as fragments (window size 1, each block
acknowledged); Smart Energy clusters are secured with the pair's link key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from nodes.radio.api import DeliveryError, LinkQuality, RadioCounters
from nodes.radio.sim.counters import FrameCounters
from nodes.radio.sim.link import Mac
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.zigbee import aps, mac, nwk, security
from rig.protocol.zigbee.aps import ApsFrame, ApsFrameType, Fragment
from rig.protocol.zigbee.mac import FrameType, MacFrame
from rig.protocol.zigbee.nwk import NwkFrameType, NwkHeader

log = logging.getLogger("nodes.radio")

APS_ACK_WAIT_S = 0.4
APS_MAX_RETRIES = 3
# Bytes left for an APS payload in one 127-byte frame: MAC header 9 + FCS 2, NWK header 8,
# NWK auxiliary header 14 and MIC 4; then the APS header (8, +2 when fragmented) and, for
# link-key security, the APS auxiliary header 13 (extended nonce) and MIC 4.
_AFTER_NWK = mac.MAX_PSDU - 11 - 8 - 14 - 4
_APS_SECURITY = 13 + 4
REASSEMBLY_TIMEOUT_S = 10.0
# How long a received frame's (APS counter, block, payload) stays in the duplicate rejection
# table (Zigbee's apsDuplicateEntryLifetime): longer than a sender's whole retry span (4
# attempts, 1.6 s each to a sleepy device), far shorter than the time one sender takes to
# wrap its 8-bit APS counter. Without the lifetime a sender's 257th frame to a device that
# hears only some of its frames could repeat an old (counter, payload) and be acknowledged
# and dropped as a duplicate: a display's periodic read, say, unanswered ever after.
DUPLICATE_LIFETIME_S = 8.0
DUPLICATE_TABLE_SIZE = 64


def block_size(secured: bool) -> int:
    """APS payload bytes per fragment."""
    return _AFTER_NWK - 10 - (_APS_SECURITY if secured else 0)


def fits_one_frame(length: int, secured: bool) -> bool:
    return length <= _AFTER_NWK - 8 - (_APS_SECURITY if secured else 0)


@dataclass
class _Reassembly:
    total: int
    blocks: dict[int, bytes] = field(default_factory=dict)
    first: ApsFrame | None = None


@dataclass(frozen=True, slots=True)
class Received:
    """An APS frame handed up, with its sender."""

    src: Eui64
    src_short: int
    frame: ApsFrame  # payload reassembled and decrypted
    lqi: int


class Network:
    def __init__(
        self, mac_layer: Mac, eui: Eui64, counters: FrameCounters, stats: RadioCounters
    ) -> None:
        self.mac = mac_layer
        self.eui = eui
        self.counters = counters
        self.stats = stats
        self.network_key: bytes | None = None
        self.key_seq = 0
        self.link_keys: dict[Eui64, bytes] = {}
        self.default_link_key: bytes | None = None  # a joining device's TC link key
        self.addresses: dict[int, Eui64] = {}  # short -> EUI (address map)
        self.sleepy: set[Eui64] = set()  # children reached only by indirect transmission
        self.upper: Callable[[Received], None] = lambda _r: None
        # MAC commands and beacons go to the stack's coordinator or joiner (association, beacons)
        self.on_mac_command: Callable[[MacFrame, int], None] = lambda _f, _l: None
        # a NWK command secured with the network key: its header, sender and payload
        self.on_nwk_command: Callable[[NwkHeader, Eui64 | None, bytes], None] = lambda _h, _s, _p: (
            None
        )
        self._nwk_seq = 0
        self._aps_counter = random.randrange(256)
        self._acks: dict[tuple[Eui64, int, int], asyncio.Future[None]] = {}
        self._reassembly: dict[tuple[Eui64, int], _Reassembly] = {}
        # frames already taken from each sender: (APS counter, block, payload). A retransmission
        # repeats all three; a restarted sender reusing a counter sends other content.
        self._seen: dict[Eui64, deque[tuple[float, int, int, bytes]]] = {}
        self._locks: dict[Eui64, asyncio.Lock] = {}
        mac_layer.upper = self._on_mac

    # --- addresses ------------------------------------------------------------------------

    def short_of(self, eui: Eui64) -> int | None:
        for short, e in self.addresses.items():
            if e == eui:
                return short
        return None

    def learn(self, short: int, eui: Eui64) -> None:
        for old in [s for s, e in self.addresses.items() if e == eui and s != short]:
            del self.addresses[old]
        self.addresses[short] = eui

    def forget(self, peer: Eui64, short: int) -> None:
        """A device announced itself again (restart or rejoin): drop its duplicate history."""
        self._seen.pop(peer, None)
        for key in [k for k in self._reassembly if k[0] == peer]:
            del self._reassembly[key]
        self.mac.forget(short)

    # --- NWK --------------------------------------------------------------------------------

    def _next_nwk_seq(self) -> int:
        self._nwk_seq = (self._nwk_seq + 1) & 0xFF
        return self._nwk_seq

    async def send_nwk(
        self,
        dst: int,
        payload: bytes,
        *,
        secure: bool = True,
        dst_eui: Eui64 | None = None,
        command: bool = False,
    ) -> bool:
        """One NWK frame (data, or a NWK ``command``) to a neighbour (or broadcast); True
        when the MAC got it acknowledged."""
        assert self.mac.short is not None
        header = NwkHeader(
            NwkFrameType.COMMAND if command else NwkFrameType.DATA,
            dst,
            self.mac.short,
            self._next_nwk_seq(),
            # a NWK command names its sender's (and a unicast one its recipient's) IEEE address
            dst_ieee=dst_eui if command else None,
            src_ieee=self.eui if command else None,
            secured=secure,
        )
        if secure:
            if self.network_key is None:
                raise DeliveryError("no network key yet: join or form a network first")
            body = nwk.seal(
                header, payload, self.network_key, self.counters.next(), self.eui, self.key_seq
            )
        else:
            body = header.encode() + payload
        broadcast = dst >= nwk.BROADCAST_ROUTERS
        frame = MacFrame(
            FrameType.DATA,
            self.mac.next_seq(),
            body,
            dst_pan=self.mac.pan_id,
            dst=mac.BROADCAST if broadcast else dst,
            src=self.mac.short,
            ack_request=not broadcast,
        )
        target = dst_eui or self.addresses.get(dst)
        if target is not None and target in self.sleepy:
            return await self.mac.queue_indirect(target, frame)
        return await self.mac.transmit(frame) is not None

    def _on_mac(self, frame: MacFrame, lqi: int) -> None:
        if frame.frame_type is not FrameType.DATA:
            self.on_mac_command(frame, lqi)
            return
        try:
            header, aux, _ = nwk.decode_header(frame.payload)
        except DecodeError:
            self.stats.bad_frames += 1
            return
        if aux is not None:
            if self.network_key is None:
                return
            try:
                opened = nwk.open_frame(frame.payload, self.network_key)
            except (security.SecurityError, DecodeError):
                self.stats.mic_failures += 1
                log.warning(
                    "nwk.mic_failed", extra={"device": self.eui.duis, "src": f"0x{header.src:04x}"}
                )
                return
            source = aux.source
            assert source is not None
            if not self.counters.accept(source.hex, aux.frame_counter):
                self.stats.replays_dropped += 1
                log.warning(
                    "nwk.replay_dropped",
                    extra={
                        "device": self.eui.duis,
                        "src": source.duis,
                        "counter": aux.frame_counter,
                    },
                )
                return
            self.learn(header.src, source)
            payload = opened.payload
        else:
            source = self.addresses.get(header.src)
            payload = frame.payload[len(header.encode()) :]
        mine = header.dst == self.mac.short or header.dst >= nwk.BROADCAST_ROUTERS
        if not mine:
            return
        if header.frame_type is NwkFrameType.COMMAND:
            if aux is not None:  # a NWK command counts only under the network key
                self.on_nwk_command(header, source, payload)
            return
        self._on_aps(header, source, payload, lqi, secured_nwk=aux is not None)

    # --- APS --------------------------------------------------------------------------------

    def _next_aps_counter(self) -> int:
        self._aps_counter = (self._aps_counter + 1) & 0xFF
        return self._aps_counter

    async def send_aps(
        self,
        peer: Eui64,
        cluster: int,
        profile: int,
        src_ep: int,
        dst_ep: int,
        payload: bytes,
        *,
        link_key: bytes | None,
        broadcast_to: int | None = None,
    ) -> None:
        """APS data to ``peer``, acknowledged and fragmented as needed; DeliveryError if lost."""
        if broadcast_to is not None:
            frame = ApsFrame(
                ApsFrameType.DATA,
                self._next_aps_counter(),
                dst_ep,
                cluster,
                profile,
                src_ep,
                payload,
            )
            await self.send_nwk(broadcast_to, frame.encode())
            return
        dst = self.short_of(peer)
        if dst is None:
            raise DeliveryError(
                f"no address for {peer.duis} on this network (not joined, or not announced)"
            )
        secured = link_key is not None
        counter = self._next_aps_counter()
        if fits_one_frame(len(payload), secured):
            blocks = [payload]
        else:
            blocks = aps.fragments(payload, block_size(secured))
        lock = self._locks.setdefault(peer, asyncio.Lock())
        async with lock:  # one fragmented transfer at a time per peer, in order
            for index, block in enumerate(blocks):
                fragment = (
                    Fragment.NONE
                    if len(blocks) == 1
                    else Fragment.FIRST
                    if index == 0
                    else Fragment.SUBSEQUENT
                )
                frame = ApsFrame(
                    ApsFrameType.DATA,
                    counter,
                    dst_ep,
                    cluster,
                    profile,
                    src_ep,
                    block,
                    ack_request=True,
                    fragment=fragment,
                    block=len(blocks) if fragment is Fragment.FIRST else index,
                )
                await self._send_acked(peer, dst, frame, index, link_key)

    async def _send_acked(
        self, peer: Eui64, dst: int, frame: ApsFrame, index: int, link_key: bytes | None
    ) -> None:
        loop = asyncio.get_running_loop()
        link = self.stats.links.setdefault(peer.duis, LinkQuality())
        for attempt in range(APS_MAX_RETRIES + 1):
            if attempt:
                link.aps_retries += 1
            waiter: asyncio.Future[None] = loop.create_future()
            key = (peer, frame.counter, index)
            self._acks[key] = waiter
            try:
                if link_key is not None:
                    body = aps.seal(frame, link_key, self.counters.next(), self.eui)
                else:
                    body = frame.encode()
                if not await self.send_nwk(dst, body, dst_eui=peer):
                    link.failures += 1
                    continue
                link.frames_out += 1
                await asyncio.wait_for(waiter, APS_ACK_WAIT_S * (4 if peer in self.sleepy else 1))
                return
            except TimeoutError:
                continue
            finally:
                self._acks.pop(key, None)
        raise DeliveryError(
            f"APS frame {frame.counter} block {index} to {peer.duis} not acknowledged "
            f"after {APS_MAX_RETRIES + 1} attempts"
        )

    def _duplicate(self, source: Eui64, counter: int, index: int, payload: bytes) -> bool:
        """True when this block was taken from ``source`` within the duplicate lifetime (a
        retransmission whose acknowledgement was lost); else remember it and say False."""
        now = asyncio.get_running_loop().time()
        seen = self._seen.setdefault(source, deque(maxlen=DUPLICATE_TABLE_SIZE))
        while seen and now - seen[0][0] > DUPLICATE_LIFETIME_S:
            seen.popleft()
        if any(entry[1:] == (counter, index, payload) for entry in seen):
            return True
        seen.append((now, counter, index, payload))
        return False

    def _send_ack(self, header: NwkHeader, frame: ApsFrame, index: int) -> None:
        ack = ApsFrame(
            ApsFrameType.ACK,
            frame.counter,
            frame.src_ep,
            frame.cluster,
            frame.profile,
            frame.dst_ep,
            fragment=frame.fragment,
            block=index,
            ack_bitfield=1 if frame.fragment is not Fragment.NONE else None,
        )
        task = asyncio.get_running_loop().create_task(self.send_nwk(header.src, ack.encode()))
        task.add_done_callback(_quiet)

    def _on_aps(
        self, header: NwkHeader, source: Eui64 | None, data: bytes, lqi: int, *, secured_nwk: bool
    ) -> None:
        try:
            frame, _ = aps.decode(data)
            if frame.secured:
                key_owner = frame.aux.source if frame.aux and frame.aux.source else source
                link_key = self.link_keys.get(key_owner) if key_owner else None
                link_key = link_key or self.default_link_key
                frame = aps.open_frame(data, link_key, source)
            else:
                frame = aps.open_frame(data, None)
        except security.SecurityError as exc:
            self.stats.mic_failures += 1
            log.warning("aps.security_failed", extra={"device": self.eui.duis, "error": str(exc)})
            return
        except DecodeError:
            self.stats.bad_frames += 1
            return
        if source is None and frame.aux is not None:
            source = frame.aux.source
        if source is None:
            return
        link = self.stats.links.setdefault(source.duis, LinkQuality())
        link.frames_in += 1
        link.lqi = lqi
        if frame.frame_type is ApsFrameType.ACK:
            index = frame.block if frame.fragment is not Fragment.NONE else 0
            waiter = self._acks.get((source, frame.counter, index))
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            return
        if frame.frame_type is ApsFrameType.COMMAND:
            self.upper(Received(source, header.src, frame, lqi))
            return
        if not secured_nwk and frame.profile != 0:
            return  # application data must at least carry network-key security
        index = 0 if frame.fragment in (Fragment.NONE, Fragment.FIRST) else frame.block
        if frame.ack_request and header.dst < nwk.BROADCAST_ROUTERS:
            self._send_ack(header, frame, index)
        if self._duplicate(source, frame.counter, index, frame.payload):
            self.stats.duplicates_dropped += 1
            return
        if frame.fragment is Fragment.NONE:
            self.upper(Received(source, header.src, frame, lqi))
            return
        key = (source, frame.counter)
        if frame.fragment is Fragment.FIRST:
            entry = self._reassembly.setdefault(key, _Reassembly(frame.block))
            entry.total, entry.first = frame.block, frame
            entry.blocks[0] = frame.payload
            asyncio.get_running_loop().call_later(
                REASSEMBLY_TIMEOUT_S, self._reassembly.pop, key, None
            )
        else:
            entry = self._reassembly.setdefault(key, _Reassembly(0))
            entry.blocks[frame.block] = frame.payload
        if entry.first is not None and len(entry.blocks) == entry.total:
            del self._reassembly[key]
            payload = b"".join(entry.blocks[i] for i in range(entry.total))
            whole = ApsFrame(
                ApsFrameType.DATA,
                frame.counter,
                entry.first.dst_ep,
                entry.first.cluster,
                entry.first.profile,
                entry.first.src_ep,
                payload,
                secured=entry.first.secured,
            )
            self.upper(Received(source, header.src, whole, lqi))


def _quiet(task: asyncio.Task) -> None:
    with contextlib.suppress(asyncio.CancelledError, DeliveryError):
        task.result()
