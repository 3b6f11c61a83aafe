"""The DCC Users' Receive Response Service: where the DCC POSTs responses and alerts.

One process serves every DCC User of the rig at ``POST /rrs/<USER-EUI>``: it checks the
DCC's XML signature, keeps each document in the user's inbox in the state folder
(durable: a client that is not running misses nothing) and answers 200. ``GET
/inbox/<USER-EUI>`` lists the inbox (``?request_id=`` and ``?wait=`` for one answer,
``?kind=DeviceAlertMessage`` for alerts); the client reads documents from there.
Run as ``rig-dcc-user --config users.json``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
import time
from pathlib import Path

from aiohttp import web

from rig.dccuser.config import DccUsersConfig
from rig.pki.keystores import load
from rig.protocol.duis.signed import verify_document
from rig.protocol.duis.xml import XmlError
from rig.protocol.duis.xmldsig import SignatureError
from rig.protocol.eui import Eui64
from rig.reference import duis_schema
from rig.runtime import process
from rig.runtime.files import write_atomic
from rig.runtime.health import HEALTH_PATH, Heartbeat

log = logging.getLogger("dccuser")


class Inbox:
    """A user's received documents: ``<n>.xml`` plus one index line each."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.index_path = folder / "index.jsonl"

    def entries(self) -> list[dict]:
        if not self.index_path.exists():
            return []
        return [json.loads(line) for line in self.index_path.read_text().splitlines() if line]

    def add(self, entry: dict, body: bytes) -> dict:
        n = len(self.entries()) + 1
        write_atomic(self.folder / f"{n}.xml", body)
        entry = {**entry, "n": n, "file": str(self.folder / f"{n}.xml"), "at": time.time()}
        with self.index_path.open("a") as f:
            f.write(json.dumps(entry) + "\n")
        return entry


class Receiver:
    def __init__(self, config: DccUsersConfig) -> None:
        self.state = config.state_dir
        self.keys = load(list(config.dcc_certs))
        self.xsd = duis_schema()
        self.users = {u.hex for u in config.users}
        self.arrived = asyncio.Condition()
        self.heartbeat = Heartbeat("dcc-users", "dcc-users")
        self.received = 0
        self.refused = 0

    def inbox(self, user_hex: str) -> Inbox:
        return Inbox(self.state / user_hex)

    def _user(self, request: web.Request) -> str:
        try:
            user = Eui64.parse(request.match_info["user"]).hex
        except ValueError:
            raise web.HTTPNotFound(text="not a user EUI") from None
        if user not in self.users:
            raise web.HTTPNotFound(text=f"no DCC User {user} here")
        return user

    async def receive(self, request: web.Request) -> web.Response:
        user = self._user(request)
        body = await request.read()
        try:
            verified = verify_document(body, self.keys, xsd=self.xsd)
        except (XmlError, SignatureError, ValueError) as exc:
            self.refused += 1
            log.warning("rrs.refused", extra={"user": user, "error": str(exc)})
            raise web.HTTPBadRequest(text=f"not a DUIS document signed by the DCC: {exc}") from None
        doc = verified.document
        entry = {
            "kind": getattr(doc, "kind", "Request"),
            "request_id": str(doc.request_id) if doc.request_id else None,
            "response_id": str(getattr(doc, "response_id", None) or "") or None,
            "code": getattr(doc, "response_code", None),
            "signer": verified.signer.eui.duis,
        }
        entry = self.inbox(user).add(entry, body)
        self.received += 1
        log.info(
            "rrs.received",
            extra={"user": user, **{k: entry[k] for k in ("kind", "request_id", "code")}},
        )
        async with self.arrived:
            self.arrived.notify_all()
        return web.Response(text="OK")

    async def list(self, request: web.Request) -> web.Response:
        user = self._user(request)
        rid, kind = request.query.get("request_id"), request.query.get("kind")
        deadline = time.monotonic() + float(request.query.get("wait", "0"))

        def matches() -> list[dict]:
            return [
                e
                for e in self.inbox(user).entries()
                if (rid is None or e["request_id"] == rid) and (kind is None or e["kind"] == kind)
            ]

        found = matches()
        while not found and time.monotonic() < deadline:
            async with self.arrived:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.arrived.wait(), deadline - time.monotonic())
            found = matches()
        return web.json_response(found)

    async def health(self, _request: web.Request) -> web.Response:
        report = self.heartbeat.report(
            checks={}, detail={"received": self.received, "refused": self.refused}
        )
        return web.Response(body=report.encode(), content_type="application/json")


async def serve(config: DccUsersConfig) -> None:
    receiver = Receiver(config)
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_post("/rrs/{user}", receiver.receive)
    app.router.add_get("/inbox/{user}", receiver.list)
    app.router.add_get(HEALTH_PATH, receiver.health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, config.bind, config.port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    beat = asyncio.create_task(receiver.heartbeat.run())
    log.info("rrs.started", extra={"bind": f"{config.bind}:{config.port}"})
    await stop.wait()
    beat.cancel()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    return process.run(
        "rig-dcc-user", __doc__, DccUsersConfig, lambda _config: "dcc-users", serve, argv
    )


if __name__ == "__main__":
    sys.exit(main())
