"""GBCS over the HAN: the Tunneling cluster with GB-HRGP, CHF (server) and device (client) sides.

Each device requests a tunnel to the CHF (protocol 6, manufacturer 0xFFFF,
max transfer 1500). The CHF sends a GBCS message with PUT and waits for the
device's PUT in return; for the sleepy GSME it queues the message instead and
hands it over when the GSME asks with GET (GET-RESPONSE, with the number still
queued). Messages to one device move whole and in order. A message longer than the
tunnel's 1500 octets crosses in General Block Transfer blocks (:mod:`rig.protocol.gbcs.gbt`),
one PUT (or queued GET-RESPONSE) each, put back together by the receiver.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from nodes.han.app import CHF_ENDPOINT, HanApp
from nodes.radio.api import ApsMessage
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import gbt
from rig.protocol.gbcs.frame import Cra, GbcsMessage
from rig.protocol.zigbee import zcl
from rig.protocol.zigbee.se import (
    GB_HRGP_PROTOCOL_ID,
    GB_MANUFACTURER_CODE,
    MAX_TRANSFER_SIZE,
    Tunneling,
    TunnelStatus,
)
from rig.protocol.zigbee.tunnel import TunnelCommand, TunnelMessage
from rig.runtime.files import read_json, write_json

log = logging.getLogger("nodes.han")
TUNNEL = Tunneling.cluster_id

Unsolicited = Callable[[Eui64, bytes], Awaitable[None]]
GbcsHandler = Callable[[bytes], Awaitable[bytes | None]]


class TunnelError(RuntimeError):
    pass


@dataclass
class _Peer:
    tunnel_id: int
    endpoint: int
    sleepy: bool = False
    outbox: deque[bytes] = field(default_factory=deque)  # queued for a sleepy device's GET
    waiting: deque[asyncio.Future[bytes]] = field(default_factory=deque)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    blocks: gbt.Reassembly = field(default_factory=gbt.Reassembly)  # a long message's GBT


class TunnelServer:
    """The CHF's side: tunnels by device, and ``exchange`` for the WAN side."""

    def __init__(
        self,
        app: HanApp,
        is_sleepy: Callable[[Eui64], bool],
        state: Path,
        on_unsolicited: Unsolicited | None = None,
    ) -> None:
        self.app = app
        self.is_sleepy = is_sleepy
        self.on_unsolicited = on_unsolicited
        self.state = state  # open tunnels survive a CHF restart, as the devices still use them
        self.peers: dict[Eui64, _Peer] = {}
        for eui, saved in (read_json(state, {}) or {}).items():
            device = Eui64.parse(eui)
            queued = deque(bytes.fromhex(m) for m in (saved[2] if len(saved) > 2 else []))
            self.peers[device] = _Peer(saved[0], saved[1], is_sleepy(device), queued)
        self._next_id = max((p.tunnel_id for p in self.peers.values()), default=0) + 1
        self.delivered = 0
        app.handle(TUNNEL, "request_tunnel", self._on_request)
        app.handle(TUNNEL, "transfer_data", self._on_data)

    def _save(self) -> None:
        """Tunnels and the GSME's queued messages: a CHF that loses power keeps both."""
        write_json(
            self.state,
            {
                e.duis: [p.tunnel_id, p.endpoint, [m.hex() for m in p.outbox]]
                for e, p in self.peers.items()
            },
        )

    def pending(self, device: Eui64) -> int:
        peer = self.peers.get(device)
        return len(peer.outbox) if peer else 0

    async def _on_request(self, msg: ApsMessage, frame: zcl.ZclFrame) -> None:
        ok = (
            frame.field("protocol_id") == GB_HRGP_PROTOCOL_ID
            and frame.field("manufacturer_code") == GB_MANUFACTURER_CODE
        )
        peer = self.peers.get(msg.peer)
        if ok and peer is None:
            peer = self.peers[msg.peer] = _Peer(self._next_id, msg.src_ep, self.is_sleepy(msg.peer))
            self._next_id += 1
            self._save()
        status = TunnelStatus.SUCCESS if ok else TunnelStatus.PROTOCOL_NOT_SUPPORTED
        body = zcl.command(
            TUNNEL,
            "request_tunnel_response",
            frame.tsn,
            to_server=False,
            tunnel_id=peer.tunnel_id if ok and peer else 0xFFFF,
            tunnel_status=status,
            max_incoming_transfer_size=MAX_TRANSFER_SIZE,
        )
        await self.app.reply(msg, body)
        log.info(
            "han.tunnel_open" if ok else "han.tunnel_refused",
            extra={"device": msg.peer.duis, "protocol": frame.field("protocol_id")},
        )

    async def _on_data(self, msg: ApsMessage, frame: zcl.ZclFrame) -> None:
        peer = self.peers.get(msg.peer)
        if peer is None or frame.field("tunnel_id") != peer.tunnel_id:
            log.warning("han.tunnel_unknown", extra={"device": msg.peer.duis})
            return
        try:
            message = TunnelMessage.decode(bytes(frame.field("data")))
        except ValueError as exc:
            log.warning("han.tunnel_bad", extra={"device": msg.peer.duis, "error": str(exc)})
            return
        if message.command is TunnelCommand.GET:
            item = peer.outbox.popleft() if peer.outbox else b""
            if item:
                self._save()
            answer = TunnelMessage(TunnelCommand.GET_RESPONSE, item, len(peer.outbox))
            await self._transfer(msg.peer, peer, answer)
            if item:
                log.info(
                    "han.gbcs_pulled",
                    extra={
                        "device": msg.peer.duis,
                        "bytes": len(item),
                        "remaining": len(peer.outbox),
                    },
                )
        elif message.command is TunnelCommand.PUT:
            whole = _whole(peer.blocks, message.message, msg.peer)
            if whole is None:
                return
            message = TunnelMessage(TunnelCommand.PUT, whole)
            self.delivered += 1
            while peer.waiting and peer.waiting[0].done():
                peer.waiting.popleft()
            if peer.waiting and not _is_alert(whole):  # an alert is never the answer
                peer.waiting.popleft().set_result(message.message)
            elif self.on_unsolicited is not None:
                await self.on_unsolicited(msg.peer, message.message)

    async def _transfer(self, device: Eui64, peer: _Peer, message: TunnelMessage) -> None:
        body = zcl.command(
            TUNNEL,
            "transfer_data",
            self.app.next_tsn(),
            to_server=False,
            tunnel_id=peer.tunnel_id,
            data=message.encode(),
        )
        await self.app.radio.send(
            ApsMessage(device, TUNNEL, body, src_ep=CHF_ENDPOINT, dst_ep=peer.endpoint)
        )

    def _peer(self, device: Eui64, gbcs: bytes) -> _Peer:
        if len(gbcs) > gbt.MAX_MESSAGE:
            raise TunnelError(
                f"a GBCS message on the HAN is at most {gbt.MAX_MESSAGE} bytes, not {len(gbcs)}"
            )
        peer = self.peers.get(device)
        if peer is None:
            raise TunnelError(f"{device.duis} has no tunnel to this hub (not joined yet?)")
        return peer

    async def _put(self, device: Eui64, peer: _Peer, gbcs: bytes) -> str:
        """PUT to an awake device, or queue for a sleepy one's GET; says which."""
        if peer.sleepy:
            peer.outbox.extend(gbt.blocks(gbcs, MAX_TRANSFER_SIZE))
            self._save()
            log.info(
                "han.gbcs_queued",
                extra={"device": device.duis, "bytes": len(gbcs), "queued": len(peer.outbox)},
            )
            return "queued"
        for part in gbt.blocks(gbcs, MAX_TRANSFER_SIZE):
            await self._transfer(device, peer, TunnelMessage(TunnelCommand.PUT, part))
        return "sent"

    async def send(self, device: Eui64, gbcs: bytes) -> str:
        """Send a GBCS message to ``device`` without waiting: what it sends back (responses,
        alerts) reaches ``on_unsolicited``. Returns "sent" or "queued" (a sleepy device)."""
        peer = self._peer(device, gbcs)
        async with peer.lock:
            return await self._put(device, peer, gbcs)

    async def exchange(self, device: Eui64, gbcs: bytes, timeout: float = 30.0) -> bytes:
        """Send a GBCS message to ``device`` and return what it sends back."""
        peer = self._peer(device, gbcs)
        answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        async with peer.lock:  # one at a time per device: whole and in order
            peer.waiting.append(answer)
            await self._put(device, peer, gbcs)
            try:
                return await asyncio.wait_for(answer, timeout)
            except TimeoutError:
                raise TunnelError(f"no answer from {device.duis} within {timeout:.0f} s") from None


class TunnelClient:
    """A device's side: opens its tunnel to the CHF, answers PUTs; a sleepy one pulls with GET."""

    def __init__(self, app: HanApp, chf: Eui64, handler: GbcsHandler) -> None:
        self.app = app
        self.chf = chf
        self.handler = handler
        self.tunnel_id: int | None = None
        self.received = 0
        self._pulled: asyncio.Queue[TunnelMessage] = asyncio.Queue()
        self._blocks = gbt.Reassembly()
        app.handle(TUNNEL, "transfer_data", self._on_data)

    async def open(self) -> None:
        tsn = self.app.next_tsn()
        body = zcl.command(
            TUNNEL,
            "request_tunnel",
            tsn,
            protocol_id=GB_HRGP_PROTOCOL_ID,
            manufacturer_code=GB_MANUFACTURER_CODE,
            flow_control_support=False,
            max_incoming_transfer_size=MAX_TRANSFER_SIZE,
        )
        frame = await self.app.request(self.chf, TUNNEL, body, tsn, dst_ep=CHF_ENDPOINT)
        if (
            frame is None
            or frame.name != "request_tunnel_response"
            or frame.field("tunnel_status") != TunnelStatus.SUCCESS
        ):
            raise TunnelError(f"the CHF refused the tunnel: {frame.args if frame else 'no answer'}")
        self.tunnel_id = int(frame.field("tunnel_id"))

    async def _send(self, message: TunnelMessage) -> None:
        assert self.tunnel_id is not None
        body = zcl.command(
            TUNNEL,
            "transfer_data",
            self.app.next_tsn(),
            tunnel_id=self.tunnel_id,
            data=message.encode(),
        )
        await self.app.radio.send(ApsMessage(self.chf, TUNNEL, body, dst_ep=CHF_ENDPOINT))

    async def _on_data(self, msg: ApsMessage, frame: zcl.ZclFrame) -> None:
        try:
            message = TunnelMessage.decode(bytes(frame.field("data")))
        except ValueError as exc:
            log.warning("han.tunnel_bad", extra={"device": self.app.eui.duis, "error": str(exc)})
            return
        if message.command is TunnelCommand.GET_RESPONSE:
            await self._pulled.put(message)
        elif message.command is TunnelCommand.PUT:
            await self._process(message.message)

    async def _process(self, gbcs: bytes) -> None:
        whole = _whole(self._blocks, gbcs, self.chf)
        if whole is None:
            return
        self.received += 1
        answer = await self.handler(whole)
        if answer is not None:
            await self.put(answer)

    async def put(self, gbcs: bytes) -> None:
        """A message to the CHF (an answer, an alert): in GBT blocks when it is long."""
        for part in gbt.blocks(gbcs, MAX_TRANSFER_SIZE):
            await self._send(TunnelMessage(TunnelCommand.PUT, part))

    async def pull(self) -> int:
        """GET until the CHF has nothing left; answer each message with PUT. How many came."""
        count = 0
        while True:
            await self._send(TunnelMessage(TunnelCommand.GET))
            got = await asyncio.wait_for(self._pulled.get(), 5.0)
            if got.message:
                count += 1
                await self._process(got.message)
            if got.remaining == 0:
                return count


def _whole(blocks: gbt.Reassembly, data: bytes, sender: Eui64) -> bytes | None:
    """``data`` itself, or (a GBT block) the message its blocks make once the last one is
    in; None while blocks are due, or when one is out of order (logged, the rest dropped)."""
    if not gbt.is_block(data):
        return data
    try:
        return blocks.add(data)
    except DecodeError as exc:
        log.warning("han.gbt_dropped", extra={"device": sender.duis, "error": str(exc)})
        return None


def _is_alert(data: bytes) -> bool:
    """Whether a device's message is a GBCS alert (it goes up, whatever command waits)."""
    try:
        return GbcsMessage.decode(data).cra is Cra.ALERT
    except DecodeError:
        return False
