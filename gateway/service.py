"""The gateway process: the DCC's DUIS interface (DCC Boxed compatible), SMKI, WAN and delivery.

Wires the DCC's parts together: the downlink (admission, transform, dispatch), the
publisher (admitted commands to the WAN, and again to a hub back online), the uplink
(responses and alerts from the hubs), the deadlines of pending commands, the outbox and
its delivery worker, and the SMKI repository. On start it first takes up what the last
run left owed: commands to publish, deadlines to keep, responses to deliver.

Every reply to a DUIS request carries its response code in ``X-DUIS-Response-Code`` and,
for a refusal, the reason in ``X-Rig-Reason``. A refusal of a request that names its
RequestID is a DUIS acknowledgement with the code (as DCC Boxed answers); one that names
none gets a ``text/plain`` body: the code and its meaning on the first line, the reason on
the second. The HTTP servers run behind :mod:`rig.runtime.http` (header and body
timeouts, a limit on slow connections).

DUIS port: ``POST /api/v1/serviceS|serviceT|serviceD`` and ``GET /health``. SMKI port:
``POST /services/certificatesearch|retrievecertificate``. One MQTT session to the broker,
an SQLite store in the state folder, an outbox worker delivering to each DCC User, and the
firmware distributor sending 11.1's images to the hubs (:mod:`gateway.firmware`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from dataclasses import replace

from aiohttp import web

from gateway.config import GatewayConfig
from gateway.crashpoints import crashpoint
from gateway.credentials import dcc_credential, load_keys
from gateway.deadlines import Deadlines
from gateway.delivery import Delivery
from gateway.device_certificates import DeviceCertificates
from gateway.downlink import Downlink
from gateway.firmware import FirmwareDistributor
from gateway.outbox import Outbox
from gateway.schedules import ScheduleBook, Scheduler
from gateway.smki_service import SmkiService
from gateway.store import STORE_FILE, Store
from gateway.transform.restore import LogArchive, use_archive
from gateway.uplink import Uplink
from gateway.wan import WanRouter
from rig.protocol.eui import Eui64
from rig.protocol.smki import Usage
from rig.runtime import http
from rig.runtime.health import HEALTH_PATH, HealthReport, Heartbeat
from rig.runtime.reference import read_schema, read_srv_table

log = logging.getLogger("gateway")
DUIS_URLS = ("serviceS", "serviceT", "serviceD")
CODE_HEADER = "X-DUIS-Response-Code"  # every DUIS reply names its code here too


class GatewayService:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.heartbeat = Heartbeat("gateway", "gateway")
        self.wan = WanRouter(config.broker, config.hubs)
        config.state_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(config.state_dir / STORE_FILE)
        self.keys = load_keys(config)
        self.device_certificates = DeviceCertificates.load(  # SMKI's, issued since (6.17)
            self.store,
            self.keys,
            None if config.smki_ca_cert is None else config.smki_ca_cert.read_bytes(),
            None if config.smki_ca_key is None else config.smki_ca_key.read_bytes(),
        )
        users = {u.eui: u for u in config.users}
        signer = dcc_credential(self.keys, config, Usage.XML)
        self.outbox = Outbox(self.store, users, signer, read_schema(config.duis_schema))
        self.deadlines = Deadlines(self.store, self.wan, self.outbox)
        self.downlink = Downlink(
            config,
            self.store,
            self.wan,
            self.keys,
            read_srv_table(config.srv_matrix),
            self.outbox,
            self.deadlines,
        )
        # the device logs the hubs report (uplink), which 8.12's transforms restore from
        archive = LogArchive(self.store.db)
        use_archive(archive)
        uplink = Uplink(
            self.store,
            users,
            self.deadlines,
            self.outbox,
            self.downlink.dcc.devices,
            archive,
            self.device_certificates,
        )
        self.wan.on_uplink, self.wan.on_trace = uplink.on_uplink, uplink.on_trace
        self.firmware = FirmwareDistributor(self.store, self.wan)  # 11.1's images
        self.downlink.dcc = replace(self.downlink.dcc, firmware=self.firmware)
        self.wan.on_firmware_held = self.firmware.on_held
        self.wan.on_back_online = self._hub_back  # a hub's lost link
        self.delivery = Delivery(self.store, config.delivery, self.outbox.wakeup)
        # 5.x: the schedules, run on the DCC's clock
        book = ScheduleBook(self.store.db)
        clock = book.clock(config.clock_rate)
        uplink.schedule_of = book.schedule_of
        self.downlink.dcc = replace(
            self.downlink.dcc, users=users, srvs=self.downlink.srvs, schedules=book, clock=clock
        )
        self.scheduler = Scheduler(book, clock, self.downlink.run_scheduled, self.store.transaction)

    async def _hub_back(self, hub: Eui64) -> int:
        """A hub back online: the commands it may have missed again, and its firmware
        distribution resumes from what it holds."""
        await self.firmware.back_online(hub)
        return await self.downlink.publisher.redeliver(hub)

    def report(self) -> HealthReport:
        return self.heartbeat.report(
            checks={"broker": self.wan.check()},
            detail={
                "hubs": self.wan.presence(),
                "duis": f"http://{self.config.bind}:{self.config.duis_port}/api/v1/",
                "smki": f"http://{self.config.bind}:{self.config.smki_port}/services/",
                "outbox": self.store.outbox_summary(),
                "to_publish": self.store.owed_to_wan(time.time()),
                "redelivered": self.downlink.publisher.redelivered,
                "firmware": self.firmware.detail(),
                "store": str(self.store.path),
            },
        )

    async def _health(self, _request: web.Request) -> web.Response:
        return web.Response(body=self.report().encode(), content_type="application/json")

    async def _duis(self, request: web.Request) -> web.StreamResponse:
        url = request.match_info["url"]
        if url not in DUIS_URLS:
            raise web.HTTPNotFound(text=f"no such DUIS URL: use one of {', '.join(DUIS_URLS)}")
        reply = await self.downlink.submit(url, await request.read())
        response = web.Response(
            status=reply.status,
            body=reply.body,
            content_type="application/xml" if reply.body.startswith(b"<") else "text/plain",
            headers={**reply.headers, CODE_HEADER: reply.code},
        )
        crashpoint("before-ack")
        await response.prepare(request)
        await response.write_eof()
        crashpoint("after-ack")
        return response

    async def run(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        # what the last run left owed is picked up before a new request is taken
        rearmed = self.deadlines.rearm()
        owed = self.store.owed_to_wan(time.time())
        tasks = [
            asyncio.create_task(self.heartbeat.run()),
            asyncio.create_task(self.wan.run()),
            asyncio.create_task(self.downlink.publisher.run()),
            asyncio.create_task(self.firmware.run()),
            asyncio.create_task(self.delivery.run()),
            asyncio.create_task(self.scheduler.run_forever()),
        ]
        duis = http.application("DUIS", client_max_size=self.config.max_body * 4)
        duis.router.add_get(HEALTH_PATH, self._health)
        duis.router.add_post("/api/v1/{url}", self._duis)
        smki = http.application("SMKI")
        SmkiService(self.keys, self.downlink.dcc.devices, self.device_certificates).routes(smki)
        servers = [
            await http.start_site(app, self.config.bind, port)
            for app, port in ((duis, self.config.duis_port), (smki, self.config.smki_port))
        ]
        log.info(
            "gateway.started",
            extra={
                "duis": f"{self.config.bind}:{self.config.duis_port}",
                "smki": f"{self.config.bind}:{self.config.smki_port}",
                "pending_requests": rearmed,
                "to_publish": owed,
            },
        )
        await stop.wait()
        log.info("gateway.stopping")
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for server in servers:
            await server.stop()
        self.store.close()
