"""Bring a rig up, report its status, bring it down: the strategy layer of the controller.

``up`` prepares everything (PKI, SSH, configs), starts the supervisor detached
and waits until every component answers its health probe. ``down`` asks the
supervisor to stop, then sweeps whatever survived (processes carrying this
instance's marker, namespaces, veths, the bridge), so it also cleans up after a
``kill -9``. ``status`` probes every component concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from rig import sshd
from rig.description.model import Rig
from rig.pki import Pki
from rig.plan import Plan, make_plan, netns_available, render, resolve_isolation, wan_hosts
from rig.probes import probe
from rig.state import StateDir, read_json
from rig.supervisor import lock_holder

Progress = Callable[[str], None]


class RigError(RuntimeError):
    """A lifecycle failure with what to do about it; ``exit_code`` for the CLI."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class ComponentStatus:
    name: str
    kind: str
    role: str | None
    eui: str | None
    pid: int | None
    address: str
    health: str  # healthy | degraded | unresponsive | restarting | down | starting | stopped
    uptime_s: float | None
    restarts: int
    detail: str
    checks: dict[str, str] = field(default_factory=dict)
    report: dict[str, Any] | None = None


@dataclass
class RigStatus:
    rig: str | None
    state_dir: str
    instance: str
    up: bool
    isolation: str | None = None
    supervisor: dict[str, Any] | None = None
    components: list[ComponentStatus] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return (
            self.up
            and bool(self.supervisor and self.supervisor["alive"])
            and all(c.health == "healthy" for c in self.components)
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["healthy"] = self.healthy
        return data


def _alive(pid: int | None, create_time: float | None) -> bool:
    """Is ``pid`` still the process we started (not a reused PID)?"""
    if not pid:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return create_time is None or abs(proc.create_time() - create_time) < 0.05
    except psutil.Error:
        return False


def node_detail(state: StateDir, name: str) -> dict[str, Any]:
    """What a component reports about itself right now (its health report's detail)."""
    current = asyncio.run(status(state))
    comp = next((c for c in current.components if c.name == name), None)
    return ((comp.report or {}).get("detail") or {}) if comp else {}


async def status(state: StateDir) -> RigStatus:
    plan = Plan.load(state)
    sup = read_json(state.run / "supervisor.json")
    holder = lock_holder(state)
    result = RigStatus(
        plan.rig if plan else None,
        str(state.root),
        state.instance,
        up=plan is not None,  # the supervisor may have died: then nothing is supervised
        isolation=plan.isolation if plan else None,
    )
    if plan is None:
        return result
    sup_alive = (
        holder is not None and sup is not None and _alive(sup.get("pid"), sup.get("create_time"))
    )
    result.supervisor = {
        "pid": sup.get("pid") if sup else None,
        "alive": sup_alive,
        "phase": sup.get("phase") if sup else None,
        "error": sup.get("error") if sup else None,
    }
    records = read_json(state.run / "components.json", {}) or {}
    results = await asyncio.gather(*(probe(c.probe) for c in plan.components))
    for comp, res in zip(plan.components, results, strict=True):
        rec = records.get(comp.name, {})
        pid = rec.get("pid")
        alive = _alive(pid, rec.get("create_time")) if comp.argv else None
        if res.ok:
            health = "healthy"
        elif comp.argv and not alive:
            health = {"restarting": "restarting", None: "starting"}.get(rec.get("state"), "down")
            if rec.get("desired") == "stopped":
                health = "stopped"  # on request (`rig service stop`, a reset in progress)
            if not sup_alive:
                health = "down"
        else:
            health = res.health
        uptime = res.uptime_s
        if uptime is None and alive and rec.get("started_at"):
            uptime = round(time.time() - rec["started_at"], 1)
        result.components.append(
            ComponentStatus(
                comp.name,
                comp.kind,
                comp.role,
                comp.eui,
                pid if alive or not comp.argv else None,
                comp.address,
                health,
                uptime,
                max(rec.get("restarts", 0), 0),
                res.detail,
                res.checks,
                res.report,
            )
        )
    return result


# --- sweeping -------------------------------------------------------------------


def rig_processes(instance: str) -> list[psutil.Process]:
    """Processes started for this rig instance: they carry ``RIG_INSTANCE`` in their environment."""
    me = os.getpid()
    found = []
    for proc in psutil.process_iter():
        if proc.pid == me:
            continue
        try:
            if proc.environ().get("RIG_INSTANCE") == instance:
                found.append(proc)
        except psutil.Error:
            continue
    return found


async def sweep(state: StateDir) -> dict[str, int]:
    """Stop every leftover process of this instance and remove its network."""
    procs = rig_processes(state.instance)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, still = await asyncio.to_thread(psutil.wait_procs, procs, 3.0)
    for proc in still:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    await asyncio.to_thread(psutil.wait_procs, still, 3.0)
    counts = {"processes": len(procs), "namespaces": 0, "links": 0}
    if netns_available()[0]:
        from rig import netns

        removed = await netns.teardown(state.instance)
        counts["processes"] += removed["processes"]
        counts["namespaces"], counts["links"] = removed["namespaces"], removed["links"]
    return counts


# --- up and down ------------------------------------------------------------------


async def up(
    rig: Rig,
    state: StateDir,
    *,
    isolation: str | None = None,
    timeout: float = 60.0,
    progress: Progress = lambda _m: None,
) -> RigStatus:
    holder = lock_holder(state)
    if holder is not None:
        raise RigError(
            f"rig {rig.name!r} is already up (supervisor PID {holder}, state "
            f"{state.root}); `rig status` shows it, `rig down` stops it",
            3,
        )
    leftovers = await sweep(state)
    if any(leftovers.values()):
        progress(
            f"cleaned up after an unclean stop: {leftovers['processes']} processes, "
            f"{leftovers['namespaces']} namespaces, {leftovers['links']} links"
        )
    for name in ("plan.json", "components.json", "supervisor.json"):
        (state.run / name).unlink(missing_ok=True)
    iso = resolve_isolation(rig, isolation)
    progress(f"isolation: {iso.value}")
    plan = make_plan(rig, state, iso)
    created = Pki(state.pki).ensure(rig, wan_hosts(plan))
    progress(f"PKI ready ({len(created)} credentials created)" if created else "PKI ready")
    if iso.value == "netns":
        await sshd.prepare(plan, state)
        progress("SSH keys and per-node sshd configs ready")
    render(plan, rig, state)
    plan.save(state)
    _spawn_supervisor(state, plan)
    progress("supervisor started; waiting for every component to answer its health probe")
    return await _wait_healthy(state, timeout, progress)


def _spawn_supervisor(state: StateDir, plan: Plan) -> None:
    log = open(state.log("supervisor"), "ab")  # noqa: SIM115
    try:
        subprocess.Popen(
            [sys.executable, "-m", "rig.supervisor", str(state.root)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            env={**os.environ, "RIG_INSTANCE": plan.instance},
            cwd=str(state.root),
        )
    finally:
        log.close()


async def _wait_healthy(state: StateDir, timeout: float, progress: Progress) -> RigStatus:
    deadline = time.monotonic() + timeout
    seen_healthy: set[str] = set()
    while True:
        await asyncio.sleep(0.5)
        sup = read_json(state.run / "supervisor.json") or {}
        if sup.get("phase") == "failed":
            raise RigError(
                f"the rig could not start: {sup.get('error')}\n"
                f"see {state.log('supervisor')} and `rig logs`"
            )
        current = await status(state)
        for comp in current.components:
            if comp.health == "healthy" and comp.name not in seen_healthy:
                seen_healthy.add(comp.name)
                progress(f"{comp.name} healthy ({len(seen_healthy)}/{len(current.components)})")
        if current.components and current.healthy:
            return current
        if time.monotonic() > deadline:
            bad = [
                f"{c.name}: {c.health} ({c.detail})"
                for c in current.components
                if c.health != "healthy"
            ]
            raise RigError(
                f"not every component became healthy within {timeout:.0f} s:\n  "
                + "\n  ".join(bad)
                + "\nthe rig is left up for inspection: "
                "`rig status`, `rig logs NAME`, then `rig down`",
                4,
            )


async def down(state: StateDir, progress: Progress = lambda _m: None) -> dict[str, int]:
    holder = lock_holder(state)
    if holder and holder > 0:
        progress(f"stopping supervisor (PID {holder})")
        with contextlib.suppress(psutil.Error):
            supervisor = psutil.Process(holder)
            supervisor.send_signal(signal.SIGTERM)
            await asyncio.to_thread(psutil.wait_procs, [supervisor], 30)
    counts = await sweep(state)
    for name in ("plan.json", "components.json", "supervisor.json"):
        (state.run / name).unlink(missing_ok=True)
    return counts


def log_tail(path: Path, lines: int) -> list[str]:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 256 * max(lines, 1) - 4096))
            data = fh.read().decode(errors="replace").splitlines()
    except FileNotFoundError:
        return []
    return data[-lines:] if lines else data
