"""Health probes: ask each component itself, never just "does the PID exist".

* services (gateway, air, nodes): ``GET /health`` and judge the heartbeat's age;
* the broker: a real MQTT session over TLS, reading ``$SYS/broker/uptime``, as a
  read-only observer identity taken from the rig's pool for the probe's duration
  (:mod:`rig.lifecycle.observers`), so a probe never disconnects a ``rig wan watch``
  or another probe;
* sshd: the SSH identification banner.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt

from rig.lifecycle.observers import ObserverError, ObserverPool
from rig.pki.authority import Pki
from rig.runtime.health import STALE_AFTER_S, HealthReport

TIMEOUT_S = 2.5


@dataclass
class ProbeResult:
    ok: bool
    health: str  # healthy | degraded | unresponsive
    detail: str = ""
    uptime_s: float | None = None
    checks: dict[str, str] = field(default_factory=dict)
    report: dict[str, Any] | None = None


async def probe(spec: dict[str, Any]) -> ProbeResult:
    kind = spec["type"]
    try:
        async with asyncio.timeout(TIMEOUT_S):
            if kind == "http":
                return await _http(spec["url"])
            if kind == "mqtt":
                return await _mqtt(spec)
            if kind == "ssh":
                return await _ssh(spec["host"], int(spec["port"]))
    except TimeoutError:
        return ProbeResult(False, "unresponsive", f"no answer within {TIMEOUT_S} s")
    except (OSError, aiohttp.ClientError, aiomqtt.MqttError, ValueError) as exc:
        return ProbeResult(False, "unresponsive", f"{exc.__class__.__name__}: {exc}")
    raise ValueError(f"unknown probe type {kind!r}")


async def _http(url: str) -> ProbeResult:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        if resp.status != 200:
            return ProbeResult(False, "unresponsive", f"HTTP {resp.status} from {url}")
        report = HealthReport.decode(await resp.read())
    checks = report.checks
    if report.beat_age_s > STALE_AFTER_S:
        return ProbeResult(
            False,
            "unresponsive",
            f"heartbeat stale ({report.beat_age_s:.1f} s)",
            report.uptime_s,
            checks,
            asdict(report),
        )
    if report.failing:
        detail = "; ".join(f"{k}: {v}" for k, v in report.failing.items())
        return ProbeResult(False, "degraded", detail, report.uptime_s, checks, asdict(report))
    return ProbeResult(
        True, "healthy", f"beat {report.beat}", report.uptime_s, checks, asdict(report)
    )


async def _mqtt(spec: dict[str, Any]) -> ProbeResult:
    if "observers" not in spec:  # a plan written before the observers: its own certificate
        return await _mqtt_session(spec, None, spec["cert"], spec["key"])
    pool = ObserverPool(Path(spec["observers"]), Pki(Path(spec["pki"])))
    try:
        observer = pool.take()
    except ObserverError as exc:
        return ProbeResult(False, "degraded", f"cannot probe the broker: {exc}")
    with observer:
        cred = observer.credential
        return await _mqtt_session(spec, observer.identity, str(cred.cert), str(cred.key))


async def _mqtt_session(
    spec: dict[str, Any], identity: str | None, cert: str, key: str
) -> ProbeResult:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=spec["ca"])
    ctx.load_cert_chain(cert, key)
    async with aiomqtt.Client(
        hostname=spec["host"],
        port=int(spec["port"]),
        identifier=identity,  # the broker takes the certificate's CN anyway
        tls_context=ctx,
        clean_session=True,
        timeout=TIMEOUT_S,
    ) as client:
        await client.subscribe("$SYS/broker/uptime")
        async for message in client.messages:
            # $SYS uptime is refreshed only every sys_interval: say the session works,
            # leave uptime to the process record
            who = f" as {identity}" if identity else ""
            return ProbeResult(True, "healthy", f"MQTT/TLS session ok{who} ({message.topic})")
    return ProbeResult(False, "unresponsive", "no $SYS message")


async def _ssh(host: str, port: int) -> ProbeResult:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        banner = await reader.readline()
    finally:
        writer.close()
    if banner.startswith(b"SSH-2.0-"):
        return ProbeResult(True, "healthy", banner.decode().strip())
    return ProbeResult(False, "unresponsive", f"unexpected banner {banner[:40]!r}")
