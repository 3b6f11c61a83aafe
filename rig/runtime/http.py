"""The rig's HTTP servers (DUIS, SMKI, Receive Response Service, health): aiohttp behind a
guard that no slow or hostile client can hold, and that never answers with a traceback.

* **Header timeout.** A connection must deliver a request's headers within
  ``header_timeout_s`` of connecting (or of its previous response); otherwise it is closed.
* **Body timeout.** A request body must arrive within ``body_timeout_s`` of its headers;
  otherwise 408 Request Timeout. The body is read (and kept for the handler) before the
  handler runs, so every handler gets this for free.
* **Slow connections.** At most ``max_slow`` connections may be waiting for their headers
  at once; a new one beyond that closes the oldest waiting connection.
* **Errors.** An exception a handler did not expect is logged with its traceback and
  answered 500 with one line that names the log; the client never sees a traceback.

Use :func:`start_site` in place of ``web.TCPSite(...).start()``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

log = logging.getLogger("rig.http")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """How long a client may take, and how many may be slow at once."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 15.0
    max_slow: int = 32
    keepalive_timeout_s: float = 15.0


def header_text(value: str, limit: int = 300) -> str:
    """``value`` made safe for an HTTP header: printable ASCII on one line, at most
    ``limit`` characters (what a sender wrote may be anything)."""
    safe = value.encode("ascii", "backslashreplace").decode("ascii")
    return "".join(c if " " <= c <= "~" else " " for c in safe)[:limit]


class _Gate:
    """The connections of one site still waiting for a request's headers, oldest first."""

    def __init__(self, limits: HttpLimits) -> None:
        self.limits = limits
        self.waiting: dict[_Guard, None] = {}  # insertion-ordered set
        self.by_transport: dict[asyncio.BaseTransport, _Guard] = {}
        self.closed_slow = 0

    def wait(self, guard: _Guard) -> None:
        self.waiting[guard] = None
        while len(self.waiting) > self.limits.max_slow:
            oldest = next(iter(self.waiting))
            self.closed_slow += 1
            oldest.close("too many slow connections")

    def done(self, guard: _Guard) -> None:
        self.waiting.pop(guard, None)


class _Guard(asyncio.Protocol):
    """One connection: aiohttp's protocol inside, and the header timer around it."""

    def __init__(self, inner: RequestHandler, gate: _Gate) -> None:
        self.inner, self.gate = inner, gate
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None

    def arm(self) -> None:
        """Wait for the next request's headers, for at most the header timeout."""
        self.disarm()
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(
            self.gate.limits.header_timeout_s, self.close, "headers too slow"
        )
        self.gate.wait(self)

    def disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.gate.done(self)

    def close(self, why: str) -> None:
        self.disarm()
        if self.transport is not None and not self.transport.is_closing():
            peer = self.transport.get_extra_info("peername")
            log.warning("http.closed", extra={"peer": str(peer), "reason": why})
            self.transport.abort()

    # asyncio.Protocol, passed on to aiohttp
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.gate.by_transport[transport] = self
        self.inner.connection_made(transport)
        self.arm()

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        self.inner.eof_received()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm()
        if self.transport is not None:
            self.gate.by_transport.pop(self.transport, None)
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


_GATE = web.AppKey("rig.http.gate", _Gate)


def _middleware(gate: _Gate, name: str) -> Any:
    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        conn = gate.by_transport.get(request.transport) if request.transport else None
        if conn is not None:
            conn.disarm()  # the headers are in
        try:
            if request.can_read_body:
                try:
                    async with asyncio.timeout(gate.limits.body_timeout_s):
                        await request.read()  # kept: the handler's read() returns it
                except TimeoutError:
                    raise web.HTTPRequestTimeout(
                        text=f"the request body did not arrive within "
                        f"{gate.limits.body_timeout_s:g} s\n"
                    ) from None
            return await handler(request)
        except web.HTTPException:
            raise
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception:
            log.exception("http.handler_failed", extra={"server": name, "path": request.path})
            return web.Response(
                status=500, text=f"internal error in the {name} server: see its log\n"
            )
        finally:
            if conn is not None and not _transport_closing(request):
                conn.arm()

    return guard


def _transport_closing(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


class _Site(web.TCPSite):
    """A TCP site whose every connection goes through a :class:`_Guard`."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, gate: _Gate) -> None:
        super().__init__(runner, host, port)
        self.gate = gate

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        gate = self.gate
        self._server = await asyncio.get_running_loop().create_server(
            lambda: _Guard(server(), gate), self._host, self._port
        )
        sockets = self._server.sockets
        self._bound_port = sockets[0].getsockname()[1] if sockets else self._port


@dataclass
class HttpServer:
    """A started server: its runner (``await server.stop()``) and bound port."""

    runner: web.AppRunner
    site: web.TCPSite
    gate: _Gate

    @property
    def port(self) -> int:
        return self.site.port

    @property
    def closed_slow(self) -> int:
        return self.gate.closed_slow

    async def stop(self) -> None:
        await self.runner.cleanup()


def application(name: str, limits: HttpLimits | None = None, **kwargs: Any) -> web.Application:
    """An aiohttp application with the guard's middleware (``kwargs`` go to aiohttp)."""
    gate = _Gate(limits or HttpLimits())
    app = web.Application(middlewares=[_middleware(gate, name)], **kwargs)
    app[_GATE] = gate
    return app


async def start_site(app: web.Application, host: str, port: int) -> HttpServer:
    """Serve ``app`` (made by :func:`application`) on ``host:port`` behind the guard."""
    gate = app.get(_GATE)
    if not isinstance(gate, _Gate):
        raise TypeError("make the application with rig.runtime.http.application()")
    runner = web.AppRunner(
        app,
        access_log=None,
        keepalive_timeout=gate.limits.keepalive_timeout_s,
        lingering_time=1.0,  # after a refusal, drain the rest of a body for 1 s at most
    )
    await runner.setup()
    site = _Site(runner, host, port, gate)
    await site.start()
    return HttpServer(runner, site, gate)
