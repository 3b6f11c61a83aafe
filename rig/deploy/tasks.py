"""The controller's Ansible jobs: deploy, reset, collect, health (for the CLI, CI and tests).

Each one builds the inventory from the rig description and the running rig's plan,
runs its playbook through ansible-runner and returns a :class:`RunResult`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rig.deploy import build, inventory, runner
from rig.deploy.runner import HostResult, RunResult
from rig.description.model import Rig
from rig.lifecycle.errors import RigError
from rig.plan.model import Plan
from rig.runtime.files import write_json
from rig.state import StateDir


def current_plan(state: StateDir) -> Plan:
    plan = Plan.load(state)
    if plan is None:
        raise RigError(
            "the rig is not up: `rig up` first (it starts the controller's services and, "
            "on the virtual rig, each node's SSH server)"
        )
    return plan


def write_inventory(rig: Rig, state: StateDir, software: build.Build | None) -> Path:
    try:
        inv = inventory.build(rig, current_plan(state), state, software)
    except inventory.InventoryError as exc:
        raise RigError(str(exc), 2) from None
    return inventory.write(inv, state)


async def play(
    rig: Rig,
    state: StateDir,
    name: str,
    *,
    check: bool = False,
    limit: str | None = None,
    tags: str | None = None,
    extravars: dict[str, Any] | None = None,
    on_update: Callable[[HostResult], None] = lambda _h: None,
    progress: Callable[[str], None] = lambda _m: None,
) -> RunResult:
    software = None
    if name == "deploy":
        try:
            software = build.prepare(state.root)
        except build.BuildError as exc:
            raise RigError(str(exc)) from None
        progress(f"built {software.wheel.name}")
    path = write_inventory(rig, state, software)
    result = await runner.run(
        state,
        f"{name}.yml",
        path,
        limit=limit,
        check=check,
        tags=tags,
        extravars=extravars,
        on_update=on_update,
    )
    write_json(result.artifacts.parent.parent / "result.json", result.to_dict())
    return result


def default_artifacts(state: StateDir) -> Path:
    return state.sub("artifacts") / time.strftime("%Y%m%dT%H%M%S")


def manifest(folder: Path, result: RunResult) -> Path:
    """``manifest.json`` of a collected folder: every file with its size and SHA-256."""
    files = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.name == "manifest.json":
            continue
        data = path.read_bytes()
        files.append(
            {
                "path": str(path.relative_to(folder)),
                "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
    target = folder / "manifest.json"
    target.write_text(
        json.dumps(
            {
                "collected_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "ansible_run": str(result.artifacts),
                "hosts": {h: r.status for h, r in sorted(result.hosts.items())},
                "files": files,
            },
            indent=2,
        )
        + "\n"
    )
    return target
