"""The DCC Users' Receive Response Service: where the DCC POSTs responses and alerts.

One process serves every DCC User of the rig at ``POST /rrs/<USER-EUI>``: it checks the
DCC's XML signature, keeps each document in the user's inbox in the state folder
(durable: a client that is not running misses nothing) and answers 200. ``GET
/inbox/<USER-EUI>`` lists the inbox (``?request_id=`` and ``?wait=`` for one answer,
``?kind=DeviceAlertMessage`` for alerts); the client reads documents from there.
Run as ``rig-dcc-user --config users.json``.

Only the DCC signs what arrives here: a document must verify with one of the DCC's
XML-signing certificates named by the config's ``dcc_certs`` (the rig's own; with ZAZ1
identities also DCC Boxed's, which signs with any of three) and its signer must be the
DCC's EUI with XML-signing usage; anything else is refused 400 with the reason. The DCC
delivers at least once (its outbox re-POSTs what it could not record as delivered), so a
document is kept once per inbox, keyed on the SHA-256 of its bytes; the key is in the
inbox's index, so a restart forgets nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import signal
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography import x509

from rig.dccuser.config import DccUsersConfig
from rig.pki.keystores import load
from rig.protocol.duis.signed import verify_document
from rig.protocol.eui import Eui64
from rig.protocol.keystore import Credential, KeyStoreError
from rig.protocol.smki import Usage
from rig.reference import duis_schema
from rig.runtime import process
from rig.runtime.files import write_atomic
from rig.runtime.health import HEALTH_PATH, Heartbeat
from rig.runtime.http import HttpServer, application, start_site

log = logging.getLogger("dccuser")

MAX_BODY = 16 * 1024 * 1024
MAX_WAIT_S = 300.0  # a longer ?wait= is cut to this


class Inbox:
    """A user's received documents: ``<n>.xml`` plus one index line each.

    An index line holds ``n``, ``file``, ``at``, what the receiver read from the document
    (``kind``, ``request_id``, ``response_id``, ``code``, ``signer``) and ``sha256``, the
    digest of the document's bytes by which a document delivered again is recognised.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.index_path = folder / "index.jsonl"

    def entries(self) -> list[dict]:
        if not self.index_path.exists():
            return []
        out = []
        for line in self.index_path.read_text().splitlines():
            try:
                entry = json.loads(line) if line.strip() else None
            except ValueError:
                entry = None  # a line torn by a crash while it was appended
            if isinstance(entry, dict):
                out.append(entry)
        return out

    def find(self, sha256: str) -> dict | None:
        """The entry of the document whose bytes have this digest, if it was kept."""
        return next((e for e in self.entries() if e.get("sha256") == sha256), None)

    def add(self, entry: dict, body: bytes) -> tuple[dict, bool]:
        """Keep ``body`` unless it is already here: (its entry, whether it is new)."""
        digest = hashlib.sha256(body).hexdigest()
        entries = self.entries()
        for existing in entries:
            if existing.get("sha256") == digest:
                return existing, False
        n = max((e["n"] for e in entries if isinstance(e.get("n"), int)), default=0) + 1
        write_atomic(self.folder / f"{n}.xml", body)
        entry = {
            **entry,
            "n": n,
            "file": str(self.folder / f"{n}.xml"),
            "at": time.time(),
            "sha256": digest,
        }
        with self.index_path.open("a+b") as f:
            line = json.dumps(entry).encode() + b"\n"
            if f.tell() > 0:  # a line torn by a crash while it was appended stays apart
                f.seek(-1, 2)
                if f.read(1) != b"\n":
                    line = b"\n" + line
            f.write(line)  # appended: "a" writes at the end wherever it read
        return entry, True


def describe(cred: Credential) -> str:
    """Who signed, for a refusal: EUI, usage, certificate."""
    name = f" {cred.name}" if cred.name else ""
    return f"{cred.eui.duis} ({cred.usage.value.upper()} certificate{name}, serial {cred.serial})"


class Receiver:
    max_wait_s = MAX_WAIT_S

    def __init__(self, config: DccUsersConfig) -> None:
        self.state = config.state_dir
        self.dcc = config.dcc.eui
        self.keys = load(list(config.dcc_certs))
        for client in config.clients:  # known, to name them when they sign what the DCC should
            with contextlib.suppress(OSError, ValueError):
                cert = x509.load_pem_x509_certificate(client.xml.cert.read_bytes())
                self.keys.add(client.eui, Usage.XML, cert, name=client.name)
        self.trusted = self.keys.credentials(self.dcc, Usage.XML)
        if not self.trusted:
            raise KeyStoreError(
                f"no XML-signing certificate of the DCC ({self.dcc.duis}) in "
                + ", ".join(str(p) for p in config.dcc_certs)
            )
        self.xsd = duis_schema()
        self.users = {u.hex for u in config.users}
        self.arrived = asyncio.Condition()
        self.heartbeat = Heartbeat("dcc-users", "dcc-users")
        self.received = 0
        self.duplicates = 0
        self.refused = 0

    def inbox(self, user_hex: str) -> Inbox:
        return Inbox(self.state / user_hex)

    def app(self) -> web.Application:
        """The service's routes, behind the rig's HTTP guard."""
        app = application("dcc-users", client_max_size=MAX_BODY)
        app.router.add_post("/rrs/{user}", self.receive)
        app.router.add_get("/inbox/{user}", self.list)
        app.router.add_get(HEALTH_PATH, self.health)
        return app

    def _user(self, request: web.Request) -> str:
        try:
            user = Eui64.parse(request.match_info["user"]).hex
        except ValueError:
            raise web.HTTPNotFound(text="not a user EUI") from None
        if user not in self.users:
            raise web.HTTPNotFound(text=f"no DCC User {user} here")
        return user

    def _refuse(self, user: str, why: str) -> web.HTTPBadRequest:
        self.refused += 1
        log.warning("rrs.refused", extra={"user": user, "error": why})
        return web.HTTPBadRequest(text=f"not a DUIS document signed by the DCC: {why}\n")

    async def receive(self, request: web.Request) -> web.Response:
        user = self._user(request)
        body = await request.read()
        try:
            verified = verify_document(body, self.keys, xsd=self.xsd)
        except (ValueError, KeyStoreError) as exc:  # XmlError, SchemaError, SignatureError, ...
            raise self._refuse(user, str(exc)) from None
        signer = verified.signer
        if signer.eui != self.dcc or signer.usage is not Usage.XML:
            raise self._refuse(
                user,
                f"it is signed by {describe(signer)}, not with an XML-signing certificate "
                f"of the DCC ({self.dcc.duis})",
            )
        doc = verified.document
        entry: dict[str, Any] = {
            "kind": getattr(doc, "kind", "Request"),
            "request_id": str(doc.request_id) if doc.request_id else None,
            "response_id": str(getattr(doc, "response_id", None) or "") or None,
            "code": getattr(doc, "response_code", None),
            "signer": signer.eui.duis,
        }
        entry, new = self.inbox(user).add(entry, body)
        fields = {"user": user, **{k: entry.get(k) for k in ("kind", "request_id", "code")}}
        if not new:
            self.duplicates += 1
            log.info("rrs.duplicate", extra={**fields, "n": entry.get("n")})
            return web.Response(text="OK (already received)\n")
        self.received += 1
        log.info("rrs.received", extra=fields)
        async with self.arrived:
            self.arrived.notify_all()
        return web.Response(text="OK\n")

    def _wait(self, request: web.Request) -> float:
        text = request.query.get("wait", "0")
        try:
            wait = float(text)
        except ValueError:
            wait = math.nan
        if math.isnan(wait) or wait < 0:
            shown = text if len(text) <= 40 else text[:40] + "..."
            raise web.HTTPBadRequest(
                text=f"wait={shown!r}: expected a number of seconds, 0 or more\n"
            )
        return min(wait, self.max_wait_s)

    async def list(self, request: web.Request) -> web.Response:
        user = self._user(request)
        rid, kind = request.query.get("request_id"), request.query.get("kind")
        deadline = time.monotonic() + self._wait(request)

        def matches() -> list[dict]:
            return [
                e
                for e in self.inbox(user).entries()
                if (rid is None or e.get("request_id") == rid)
                and (kind is None or e.get("kind") == kind)
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
            checks={},
            detail={
                "received": self.received,
                "duplicates": self.duplicates,
                "refused": self.refused,
                "trusted": [describe(c) for c in self.trusted],
            },
        )
        return web.Response(body=report.encode(), content_type="application/json")


async def start(receiver: Receiver, bind: str, port: int) -> HttpServer:
    """Serve ``receiver`` on ``bind:port`` (0 = a free port: see ``server.port``)."""
    return await start_site(receiver.app(), bind, port)


async def serve(config: DccUsersConfig) -> None:
    receiver = Receiver(config)
    server = await start(receiver, config.bind, config.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    beat = asyncio.create_task(receiver.heartbeat.run())
    log.info(
        "rrs.started",
        extra={
            "bind": f"{config.bind}:{server.port}",
            "trusted": ", ".join(describe(c) for c in receiver.trusted),
        },
    )
    await stop.wait()
    beat.cancel()
    await server.stop()


def main(argv: list[str] | None = None) -> int:
    return process.run(
        "rig-dcc-user", __doc__, DccUsersConfig, lambda _config: "dcc-users", serve, argv
    )


if __name__ == "__main__":
    sys.exit(main())
