"""Entry point of the simulated air: ``rig-air --config air.json``.

Listens for ZEP v2 on UDP, relays each frame to the other radios on its channel
and serves ``GET /health`` (with the medium's counters) on its control port.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from pathlib import Path

from aiohttp import web

from rig.air.medium import Address, Medium
from rig.protocol import zep
from rig.protocol.health import HEALTH_PATH, Heartbeat
from rig.protocol.logfmt import LogfmtFormatter

log = logging.getLogger("air")


class AirProtocol(asyncio.DatagramProtocol):
    def __init__(self, medium: Medium) -> None:
        self.medium = medium
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Address) -> None:
        try:
            packet = zep.decode(data)
        except zep.ZepError as exc:
            self.medium.rejected += 1
            log.warning("air.rejected", extra={"from": f"{addr[0]}:{addr[1]}", "error": str(exc)})
            return
        if isinstance(packet, zep.ZepAck) or self.transport is None:
            return
        for receiver in self.medium.transmit(addr, packet):
            self.transport.sendto(data, receiver)


async def serve(config: dict) -> None:
    medium = Medium()
    heartbeat = Heartbeat("air", "air")
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: AirProtocol(medium), local_addr=(config["bind"], int(config["zep_port"]))
    )

    async def health(_request: web.Request) -> web.Response:
        report = heartbeat.report(checks={"zep": "ok"}, detail=medium.summary())
        return web.Response(body=report.encode(), content_type="application/json")

    app = web.Application()
    app.router.add_get(HEALTH_PATH, health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, config["control_bind"], int(config["control_port"])).start()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    beat = asyncio.create_task(heartbeat.run())
    log.info(
        "air.started",
        extra={
            "zep": f"{config['bind']}:{config['zep_port']}",
            "control": f"{config['control_bind']}:{config['control_port']}",
        },
    )
    await stop.wait()
    beat.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await beat
    transport.close()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rig-air", description=__doc__)
    parser.add_argument("--config", required=True, type=Path)
    args = parser.parse_args(argv)
    try:
        config = json.loads(args.config.read_text())
    except (OSError, ValueError) as exc:
        print(f"rig-air: cannot read {args.config}: {exc}", file=sys.stderr)
        return 2
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogfmtFormatter("air"))
    logging.basicConfig(level="INFO", handlers=[handler])
    asyncio.run(serve(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
