"""The gateway process: the DCC's HTTP interface and its WAN router.

Serves ``GET /health`` on the DUIS port (the DUIS endpoints join it later) and
keeps one MQTT session to the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from aiohttp import web

from gateway.config import GatewayConfig
from gateway.wan import WanRouter
from rig.protocol.health import HEALTH_PATH, HealthReport, Heartbeat

log = logging.getLogger("gateway")


class GatewayService:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.heartbeat = Heartbeat("gateway", "gateway")
        self.wan = WanRouter(config.broker, config.hubs)

    def report(self) -> HealthReport:
        return self.heartbeat.report(
            checks={"broker": self.wan.check()},
            detail={
                "hubs": self.wan.presence(),
                "duis": f"http://{self.config.bind}:{self.config.duis_port}/api/v1/",
            },
        )

    async def _health(self, _request: web.Request) -> web.Response:
        return web.Response(body=self.report().encode(), content_type="application/json")

    async def run(self) -> None:
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        app = web.Application()
        app.router.add_get(HEALTH_PATH, self._health)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, self.config.bind, self.config.duis_port).start()
        tasks = [asyncio.create_task(self.heartbeat.run()), asyncio.create_task(self.wan.run())]
        log.info("gateway.started", extra={"duis": f"{self.config.bind}:{self.config.duis_port}"})
        await stop.wait()
        log.info("gateway.stopping")
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await runner.cleanup()
