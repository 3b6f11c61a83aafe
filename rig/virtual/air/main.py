"""Entry point of the simulated air: ``rig-air --config air.json``.

Listens for ZEP v2 on UDP and delivers each frame per the channel model
(:mod:`rig.virtual.air.medium`); tees every frame into ``han.pcap`` (802.15.4 with FCS)
and to live capture streams. Control API on the control port:

    GET  /health                     liveness and counters
    POST /radios                     a radio registers its name: {name, eui, port, channel}
    GET  /faults   POST /faults      the channel model: {kind, nodes, value, channel}
    DELETE /faults                   clear every fault
    GET  /capture?seconds=N          a pcap stream (N=0: until the client hangs up)
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any, cast

from aiohttp import web

from rig.protocol import pcap, zep
from rig.runtime import process
from rig.runtime.health import HEALTH_PATH, Heartbeat
from rig.runtime.http import application, start_site
from rig.virtual.air.config import AirConfig
from rig.virtual.air.medium import Address, FaultError, Medium

log = logging.getLogger("air")
PCAP_ROTATE_BYTES = 256 * 1024 * 1024


class Tee:
    """The capture: a growing pcap file plus any number of live streams."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.streams: set[asyncio.Queue[bytes]] = set()
        self._fh: io.FileIO | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._open()

    def _open(self) -> None:
        assert self.path is not None
        self._fh = self.path.open("wb", buffering=0)
        self._fh.write(pcap.file_header())

    def write(self, timestamp: float, frame: bytes) -> None:
        rec = pcap.record(timestamp, frame)
        if self._fh is not None and self.path is not None:
            if self._fh.tell() > PCAP_ROTATE_BYTES:
                self._fh.close()
                self.path.replace(self.path.with_suffix(".1.pcap"))
                self._open()
            self._fh.write(rec)
        for q in self.streams:
            q.put_nowait(rec)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


class AirProtocol(asyncio.DatagramProtocol):
    def __init__(self, medium: Medium, tee: Tee) -> None:
        self.medium = medium
        self.tee = tee
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a datagram endpoint's transport (asyncio's own classes do not all subclass it)
        self.transport = cast(asyncio.DatagramTransport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def datagram_received(self, data: bytes, addr: Address) -> None:
        try:
            packet = zep.decode(data)
        except zep.ZepError as exc:
            self.medium.rejected += 1
            log.warning("air.rejected", extra={"from": f"{addr[0]}:{addr[1]}", "error": str(exc)})
            return
        if isinstance(packet, zep.ZepAck) or self.transport is None:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        start, deliveries = self.medium.transmit(addr, packet.channel, len(packet.frame), now)
        if packet.channel not in self.medium.faults.jammed:
            self.tee.write(time.time() + (start - now), packet.frame)
        for d in deliveries:
            out = zep.ZepData(
                packet.channel, packet.device_id, d.lqi, time.time(), packet.sequence, packet.frame
            ).encode()
            loop.call_at(d.at, self._deliver, out, d.address)

    def _deliver(self, datagram: bytes, address: Address) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(datagram, address)


async def _json_object(request: web.Request) -> dict[str, Any]:
    body = await request.json()
    if not isinstance(body, dict):
        raise TypeError(f"the body must be a JSON object, not {type(body).__name__}")
    return body


def make_app(medium: Medium, tee: Tee, heartbeat: Heartbeat) -> web.Application:
    async def health(_request: web.Request) -> web.Response:
        report = heartbeat.report(checks={"zep": "ok"}, detail=medium.summary())
        return web.Response(body=report.encode(), content_type="application/json")

    async def register(request: web.Request) -> web.Response:
        try:
            body = await _json_object(request)
            address = (request.remote or "127.0.0.1", int(body["port"]))
            medium.register(str(body["name"]), address, int(body["channel"]), body.get("eui"))
        except (ValueError, KeyError, TypeError, OverflowError) as exc:
            return web.json_response({"error": f"bad registration: {exc}"}, status=400)
        log.info(
            "air.radio",
            extra={
                "node": body["name"],
                "device": body.get("eui"),
                "address": f"{address[0]}:{address[1]}",
            },
        )
        return web.json_response({"ok": True})

    async def faults(request: web.Request) -> web.Response:
        if request.method == "DELETE":
            medium.clear()
            log.info("air.faults_cleared")
        elif request.method == "POST":
            try:
                body = await _json_object(request)
                value = body.get("value")
                nodes = [str(n) for n in body.get("nodes", [])]
                medium.apply(
                    str(body["kind"]),
                    nodes,
                    None if value is None else float(value),
                    body.get("channel"),
                )
            except (FaultError, ValueError, KeyError, TypeError, OverflowError) as exc:
                return web.json_response({"error": str(exc)}, status=400)
            log.info(
                "air.fault",
                extra={
                    "kind": body["kind"],
                    "nodes": ",".join(nodes),
                    "value": body.get("value"),
                },
            )
        return web.json_response(medium.faults.describe())

    async def capture(request: web.Request) -> web.StreamResponse:
        try:
            seconds = float(request.query.get("seconds", "0"))
        except ValueError:
            return web.json_response({"error": "seconds must be a number"}, status=400)
        response = web.StreamResponse(headers={"Content-Type": "application/vnd.tcpdump.pcap"})
        await response.prepare(request)
        await response.write(pcap.file_header())
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        tee.streams.add(queue)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds if seconds > 0 else None
        try:
            while deadline is None or loop.time() < deadline:
                timeout = None if deadline is None else max(0.0, deadline - loop.time())
                try:
                    rec = await asyncio.wait_for(queue.get(), timeout)
                except TimeoutError:
                    break
                await response.write(rec)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            tee.streams.discard(queue)
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response

    app = application("air")
    app.router.add_get(HEALTH_PATH, health)
    app.router.add_post("/radios", register)
    app.router.add_route("*", "/faults", faults)
    app.router.add_get("/capture", capture)
    return app


async def serve(config: AirConfig) -> None:
    medium = Medium()
    pcap_path = config.pcap
    tee = Tee(pcap_path)
    heartbeat = Heartbeat("air", "air")
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: AirProtocol(medium, tee), local_addr=(config.bind, config.zep_port)
    )
    server = await start_site(
        make_app(medium, tee, heartbeat), config.control_bind, config.control_port
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    beat = asyncio.create_task(heartbeat.run())
    log.info(
        "air.started",
        extra={
            "zep": f"{config.bind}:{config.zep_port}",
            "control": f"{config.control_bind}:{config.control_port}",
            "pcap": str(pcap_path) if pcap_path else "-",
        },
    )
    await stop.wait()
    beat.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await beat
    transport.close()
    await server.stop()
    tee.close()


def main(argv: list[str] | None = None) -> int:
    return process.run("rig-air", __doc__, AirConfig, lambda _config: "air", serve, argv)


if __name__ == "__main__":
    sys.exit(main())
