"""Bring a rig up, report its status, bring it down: the strategy layer of the controller.

``up`` prepares everything (PKI, SSH, configs), starts the supervisor detached
and waits until every component answers its health probe. ``down`` asks the
supervisor to stop, then sweeps whatever survived (processes carrying this
instance's marker, namespaces, veths, the bridge), so it also cleans up after a
``kill -9``. ``status`` (in :mod:`rig.lifecycle.status`) probes every component.
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

import psutil

from rig.description.model import Rig
from rig.lifecycle.errors import RigError
from rig.lifecycle.status import RigStatus, status
from rig.pki.authority import Pki
from rig.plan import han_keys
from rig.plan.make import make_plan, netns_available, resolve_isolation
from rig.plan.model import Plan, wan_hosts
from rig.plan.render import render
from rig.runtime.files import read_json
from rig.state import StateDir
from rig.virtual import sshd
from rig.virtual.supervisor import lock_holder

Progress = Callable[[str], None]


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
        from rig.virtual import netns

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
    created += han_keys.ensure(rig, state)
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
            [sys.executable, "-m", "rig.virtual.supervisor", str(state.root)],
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
