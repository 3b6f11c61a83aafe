"""The gateway process: the DCC's DUIS interface (DCC Boxed compatible), SMKI, WAN and delivery.

DUIS port: ``POST /api/v1/serviceS|serviceT|serviceD`` and ``GET /health``. SMKI port:
``POST /services/certificatesearch|retrievecertificate``. One MQTT session to the broker,
an SQLite store in the state folder, an outbox worker delivering to each DCC User.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from aiohttp import web

from gateway.config import GatewayConfig
from gateway.dcc import Dcc
from gateway.delivery import Delivery
from gateway.smki_service import SmkiService
from gateway.store import Store
from gateway.wan import WanRouter
from rig.runtime.health import HEALTH_PATH, HealthReport, Heartbeat

log = logging.getLogger("gateway")
DUIS_URLS = ("serviceS", "serviceT", "serviceD")
STORE_FILE = "gateway.sqlite"


class GatewayService:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.heartbeat = Heartbeat("gateway", "gateway")
        self.wan = WanRouter(config.broker, config.hubs)
        config.state_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(config.state_dir / STORE_FILE)
        self.dcc = Dcc(config, self.store, self.wan)
        self.delivery = Delivery(self.store, config.delivery, self.dcc.delivery_wakeup)

    def report(self) -> HealthReport:
        return self.heartbeat.report(
            checks={"broker": self.wan.check()},
            detail={
                "hubs": self.wan.presence(),
                "duis": f"http://{self.config.bind}:{self.config.duis_port}/api/v1/",
                "smki": f"http://{self.config.bind}:{self.config.smki_port}/services/",
                "outbox": self.store.outbox_summary(),
                "store": str(self.store.path),
            },
        )

    async def _health(self, _request: web.Request) -> web.Response:
        return web.Response(body=self.report().encode(), content_type="application/json")

    async def _duis(self, request: web.Request) -> web.Response:
        url = request.match_info["url"]
        if url not in DUIS_URLS:
            raise web.HTTPNotFound(text=f"no such DUIS URL: use one of {', '.join(DUIS_URLS)}")
        body = await _read_limited(request, self.config.max_body)
        reply = await self.dcc.submit(url, body)
        return web.Response(
            status=reply.status,
            body=reply.body,
            content_type="application/xml" if reply.body.startswith(b"<") else "text/plain",
            headers=reply.headers,
        )

    async def run(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        duis = web.Application(client_max_size=self.config.max_body * 4)
        duis.router.add_get(HEALTH_PATH, self._health)
        duis.router.add_post("/api/v1/{url}", self._duis)
        smki = web.Application()
        SmkiService(self.dcc.keys, set(self.dcc.devices)).routes(smki)
        runners = []
        for app, port in ((duis, self.config.duis_port), (smki, self.config.smki_port)):
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, self.config.bind, port).start()
            runners.append(runner)
        rearmed = self.dcc.rearm()
        tasks = [
            asyncio.create_task(self.heartbeat.run()),
            asyncio.create_task(self.wan.run()),
            asyncio.create_task(self.delivery.run()),
        ]
        log.info(
            "gateway.started",
            extra={
                "duis": f"{self.config.bind}:{self.config.duis_port}",
                "smki": f"{self.config.bind}:{self.config.smki_port}",
                "pending_requests": rearmed,
            },
        )
        await stop.wait()
        log.info("gateway.stopping")
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for runner in runners:
            await runner.cleanup()
        self.store.close()


async def _read_limited(request: web.Request, limit: int) -> bytes:
    """The body, or its first ``limit + 1`` bytes: enough to refuse it as too large."""
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(65536):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return b"".join(chunks)
