"""A device's Smart Energy application on its radio: ZCL servers, client requests, handlers.

Servers answer Read Attributes from live values; cluster commands go to the
handler a role registers for ``(cluster, command)``, or, for a command a cluster
server receives, to the one it serves for ``(endpoint, cluster, command id)``, whose
answer goes back to the sender (a command nobody serves that asks for a Default
Response gets UNSUP_CLUSTER_COMMAND, a handler that fails gets FAILURE); requests
this device makes (reads, commands) wait for their answer by ZCL transaction number.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from nodes.radio.api import ApsMessage, Radio
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.zigbee import zcl
from rig.protocol.zigbee.zcl import Direction, Status

log = logging.getLogger("nodes.han")

Values = Callable[[], dict[str, Any]]
CommandHandler = Callable[[ApsMessage, zcl.ZclFrame], Awaitable[None]]
# a served command's handler: the ZCL frame that answers it (a cluster response or a
# Default Response, with the command's transaction number), or None to answer nothing
CommandServer = Callable[[ApsMessage, zcl.ZclFrame], Awaitable[bytes | None]]
REQUEST_TIMEOUT_S = 3.0
# Endpoints on the HAN: the CHF (and every device) on 1; the GPF, on the CHF's radio, on 2.
CHF_ENDPOINT = DEVICE_ENDPOINT = 1
GPF_ENDPOINT = 2
TO_SERVER = Direction.Client_to_Server


class HanApp:
    def __init__(self, radio: Radio, eui: Eui64) -> None:
        self.radio = radio
        self.eui = eui
        self.servers: dict[tuple[int, int], Values] = {}  # (endpoint, cluster) -> live values
        self.handlers: dict[tuple[int, str], CommandHandler] = {}
        self.reports: dict[tuple[int, int], CommandHandler] = {}
        self.commands: dict[tuple[int, int, int], CommandServer] = {}
        self._tsn = 0
        self._waiting: dict[tuple[Eui64, int], asyncio.Future[zcl.ZclFrame]] = {}
        radio.on_message(self._on_message)

    def serve(self, endpoint: int, cluster: int, values: Values) -> None:
        self.servers[(endpoint, cluster)] = values

    def handle(self, cluster: int, command: str, handler: CommandHandler) -> None:
        self.handlers[(cluster, command)] = handler

    def serve_command(
        self, endpoint: int, cluster: int, command_id: int, handler: CommandServer
    ) -> None:
        """Serve a command the ``cluster`` server on ``endpoint`` receives (client to
        server); what ``handler`` returns is sent back to the command's sender."""
        self.commands[(endpoint, cluster, command_id)] = handler

    def next_tsn(self) -> int:
        self._tsn = (self._tsn + 1) & 0xFF
        return self._tsn

    async def _on_message(self, message: ApsMessage) -> None:
        try:
            frame = zcl.decode(message.cluster, message.payload)
        except (DecodeError, KeyError) as exc:
            log.warning(
                "zcl.bad_frame",
                extra={
                    "device": self.eui.duis,
                    "peer": message.peer.duis,
                    "cluster": f"0x{message.cluster:04x}",
                    "error": str(exc),
                },
            )
            return
        waiter = self._waiting.pop((message.peer, frame.tsn), None)
        if waiter is not None and not waiter.done():
            waiter.set_result(frame)
            return
        if frame.name == "Read_Attributes":
            await self._answer_read(message, frame)
            return
        if frame.name == "Report_Attributes":
            handler = self.reports.get((message.dst_ep, message.cluster))
        else:
            handler = self.handlers.get((message.cluster, frame.name))
        if handler is not None:
            await handler(message, frame)
        elif frame.header.frame_control.is_cluster and frame.header.direction is TO_SERVER:
            await self._serve_command(message, frame)

    async def _serve_command(self, message: ApsMessage, frame: zcl.ZclFrame) -> None:
        command_id = int(frame.header.command_id)
        server = self.commands.get((message.dst_ep, message.cluster, command_id))
        if server is None:
            if zcl.wants_default_response(frame):
                await self.reply(
                    message,
                    zcl.default_response(frame.tsn, command_id, Status.UNSUP_CLUSTER_COMMAND),
                )
            return
        try:
            answer = await server(message, frame)
        except Exception as exc:  # the sender hears of it; the device carries on
            log.exception(
                "zcl.command_failed",
                extra={
                    "device": self.eui.duis,
                    "peer": message.peer.duis,
                    "cluster": f"0x{message.cluster:04x}",
                    "command": frame.name,
                    "error": str(exc),
                },
            )
            answer = zcl.default_response(frame.tsn, command_id, Status.FAILURE)
        if answer is not None:
            await self.reply(message, answer)

    async def _answer_read(self, message: ApsMessage, frame: zcl.ZclFrame) -> None:
        values_of = self.servers.get((message.dst_ep, message.cluster))
        if values_of is None:
            return
        cluster = zcl.cluster(message.cluster)
        by_id: dict[int, Any] = {
            cluster.attributes_by_name[n].id: v for n, v in values_of().items()
        }
        ids = [int(i) for i in frame.args.attribute_ids]
        body = zcl.read_attributes_response(message.cluster, frame.tsn, ids, by_id)
        await self.reply(message, body)

    async def reply(self, to: ApsMessage, body: bytes) -> None:
        await self.radio.send(
            ApsMessage(to.peer, to.cluster, body, to.profile, to.dst_ep, to.src_ep)
        )

    async def request(
        self,
        peer: Eui64,
        cluster: int,
        body: bytes,
        tsn: int,
        *,
        dst_ep: int = 1,
        src_ep: int = 1,
        wait: bool = True,
    ) -> zcl.ZclFrame | None:
        """Send a ZCL frame; when ``wait``, the answer with the same transaction number."""
        waiter: asyncio.Future[zcl.ZclFrame] | None = None
        if wait:
            waiter = asyncio.get_running_loop().create_future()
            self._waiting[(peer, tsn)] = waiter
        try:
            await self.radio.send(ApsMessage(peer, cluster, body, src_ep=src_ep, dst_ep=dst_ep))
            if waiter is None:
                return None
            return await asyncio.wait_for(waiter, REQUEST_TIMEOUT_S)
        finally:
            self._waiting.pop((peer, tsn), None)

    async def send_command(
        self, peer: Eui64, cluster: int, name: str, *, dst_ep: int = 1, **fields: Any
    ) -> zcl.ZclFrame:
        """Send the cluster-specific command ``name`` to ``peer``'s ``cluster`` server
        (asking for a Default Response, as GBCS's PPMID commands do) and return its
        answer: the cluster's response, or a Default Response. TimeoutError when none
        comes, DeliveryError when the frame is not delivered."""
        tsn = self.next_tsn()
        body = zcl.command(cluster, name, tsn, default_response=True, **fields)
        frame = await self.request(peer, cluster, body, tsn, dst_ep=dst_ep)
        assert frame is not None
        return frame

    async def read(
        self, peer: Eui64, cluster: int, names: list[str], *, dst_ep: int = 1
    ) -> dict[str, Any]:
        tsn = self.next_tsn()
        frame = await self.request(
            peer, cluster, zcl.read_attributes(cluster, tsn, names), tsn, dst_ep=dst_ep
        )
        assert frame is not None
        if frame.name != "Read_Attributes_rsp":
            raise DecodeError(f"expected a Read Attributes response, got {frame.name}", 0)
        return zcl.attribute_values(cluster, frame)
