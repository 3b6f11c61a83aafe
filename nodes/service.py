"""The node process: a device role, its GPIO, a heartbeat and a health endpoint.

The same service runs on a Pi (systemd) and as a virtual node (the rig's
supervisor). ``GET /health`` answers with a :class:`HealthReport` built from the
event loop's own heartbeat, so a hung node shows as stale, not as "running".
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import logging
import math
import signal

from aiohttp import web

from nodes import crashpoints
from nodes.config import NodeConfig
from nodes.gpio import Wiring
from nodes.han.tunnel import TunnelError
from nodes.radio import DeliveryError
from nodes.roles import make_role
from rig.protocol.eui import Eui64
from rig.runtime.health import HEALTH_PATH, HealthReport, Heartbeat
from rig.runtime.http import application, start_site

log = logging.getLogger("nodes.service")


def _version() -> str | None:
    try:
        return importlib.metadata.version("gbsm-rig")
    except importlib.metadata.PackageNotFoundError:
        return None


VERSION = _version()
MAX_EXCHANGE_TIMEOUT_S = 3600.0  # a sleepy device's answer may take long; not forever


class NodeService:
    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.heartbeat = Heartbeat(config.name, "node")
        self.wiring = Wiring(config.pins, config.pin_factory)
        self.role = make_role(config, self.wiring)

    def report(self) -> HealthReport:
        return self.heartbeat.report(
            role=self.config.role,
            version=VERSION,
            eui=self.config.eui.duis,
            checks=self.role.checks(),
            detail=self.role.detail(),
        )

    async def _health(self, _request: web.Request) -> web.Response:
        return web.Response(body=self.report().encode(), content_type="application/json")

    async def _exchange(self, request: web.Request) -> web.Response:
        """CHF only: send one GBCS message to a device on the HAN; the answer is the body."""
        exchange = getattr(self.role, "exchange", None)
        if exchange is None:
            return web.json_response({"error": "only a CHF moves GBCS on the HAN"}, status=404)
        try:
            device = Eui64.parse(request.query.get("device", ""))
        except ValueError as exc:
            return web.json_response({"error": f"{exc}; use ?device=EUI-64"}, status=400)
        try:
            timeout = float(request.query.get("timeout", "30"))
        except ValueError:
            timeout = math.nan
        if not 0 < timeout <= MAX_EXCHANGE_TIMEOUT_S:  # also refuses nan
            most = f"{MAX_EXCHANGE_TIMEOUT_S:g}"
            return web.json_response(
                {"error": f"timeout is seconds, more than 0 and at most {most}"}, status=400
            )
        message = await request.read()
        try:
            answer = await exchange(device, message, timeout)
        except (TunnelError, DeliveryError) as exc:
            return web.json_response({"error": str(exc)}, status=504)
        return web.Response(body=answer, content_type="application/octet-stream")

    async def _press(self, request: web.Request) -> web.Response:
        """Press a button (``?button=restore`` for ``button.restore``): on the virtual rig
        the mock pin is driven low and high again, as a finger would; on a Pi the press
        reaches the same handler the real button has."""
        name = request.query.get("button", "")
        try:
            self.wiring.press(f"button.{name}")
        except KeyError:
            have = ", ".join(self.wiring.buttons()) or "none"
            return web.json_response(
                {"error": f"no button {name!r} on {self.config.name}; it has: {have}"},
                status=404,
            )
        return web.json_response({"pressed": name, "detail": self.role.detail()})

    async def _crash(self, request: web.Request) -> web.Response:
        """Fault injection (:mod:`nodes.crashpoints`): POST ``?at=STEP`` arms a SIGKILL at
        that step, DELETE disarms, GET says what is armed."""
        if request.method == "POST":
            try:
                crashpoints.arm(request.query.get("at", ""))
            except ValueError as exc:
                return web.json_response({"error": f"{exc}; use ?at=STEP"}, status=400)
        elif request.method == "DELETE":
            crashpoints.disarm()
        elif request.method != "GET":
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "POST", "DELETE"])
        return web.json_response(
            {"node": self.config.name, "armed": crashpoints.armed(), "steps": crashpoints.STEPS}
        )

    def app(self) -> web.Application:
        """The health endpoint (and a CHF's HAN exchange), behind the rig's HTTP guard."""
        app = application("node")
        app.router.add_get(HEALTH_PATH, self._health)
        app.router.add_post("/han/exchange", self._exchange)
        app.router.add_post("/gpio/press", self._press)
        app.router.add_route("*", "/fault/crash", self._crash)
        for method, path, handler in self.role.routes():
            app.router.add_route(method, path, handler)
        return app

    async def run(self) -> None:
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        server = await start_site(self.app(), self.config.health_bind, self.config.health_port)
        heartbeat = asyncio.create_task(self.heartbeat.run(), name="heartbeat")
        await self.role.start()
        log.info(
            "node.started",
            extra={
                "device": self.config.eui.duis,
                "role": self.config.role,
                "health": f"{self.config.health_bind}:{self.config.health_port}",
            },
        )
        await stop.wait()
        log.info("node.stopping", extra={"device": self.config.eui.duis})
        await self.role.stop()
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
        await server.stop()
        self.wiring.close()
