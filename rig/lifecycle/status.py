"""The status of a running rig: every component probed concurrently through its own
health endpoint (a heartbeat, never "the process exists"), with the supervisor's records
of PIDs, restarts and what was stopped on request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from typing import Any

import psutil

from rig.lifecycle.errors import RigError
from rig.lifecycle.probes import probe
from rig.plan.model import Plan
from rig.runtime.files import read_json
from rig.state import StateDir
from rig.virtual.supervisor import lock_holder


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
    """What a component reports about itself right now (its health report's detail); {}
    when the rig is not up."""
    current = asyncio.run(status(state, only=[name]))
    comp = next((c for c in current.components if c.name == name), None)
    return ((comp.report or {}).get("detail") or {}) if comp else {}


async def status(state: StateDir, only: Collection[str] | None = None) -> RigStatus:
    """The rig's status; with ``only``, of those components alone (the others are not
    probed). A name in ``only`` that is no component of the rig raises RigError (exit 2)."""
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
    components = plan.components
    if only is not None:
        known = {c.name for c in components}
        unknown = sorted(set(only) - known)
        if unknown:
            raise RigError(
                f"no component {', '.join(unknown)} in rig {plan.rig}; it has "
                f"{', '.join(sorted(known))}",
                exit_code=2,
            )
        components = [c for c in components if c.name in only]
    results = await asyncio.gather(*(probe(c.probe) for c in components))
    for comp, res in zip(components, results, strict=True):
        rec = records.get(comp.name, {})
        pid = rec.get("pid")
        alive = _alive(pid, rec.get("create_time")) if comp.argv else None
        detail = res.detail
        if res.ok:
            health = "healthy"
            han = ((res.report or {}).get("detail") or {}).get("han") or {}
            if han.get("state") == "boxed":  # `install: boxed`, not in the device log yet
                detail = "boxed"
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
                detail,
                res.checks,
                res.report,
            )
        )
    return result
