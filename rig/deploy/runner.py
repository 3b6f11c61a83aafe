"""Run one of the rig's playbooks through ansible-runner, and report per host.

Each run gets its own folder under ``<state>/ansible/runs/`` (ansible-runner's
private data dir: events, stdout, status, rc), so a failed deploy can be read
afterwards. Events feed a live per-host view; the result names every failing
host with its task and message.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rig.state import StateDir

PLAYBOOKS = Path(__file__).resolve().parent.parent.parent / "playbooks"
FAILED_EVENTS = {"runner_on_failed": "failed", "runner_on_unreachable": "unreachable"}


@dataclass
class HostResult:
    host: str
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    task: str = ""  # the task running now, or the one that failed
    message: str = ""
    changed_tasks: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.unreachable:
            return "unreachable"
        if self.failed:
            return "failed"
        return "changed" if self.changed else "ok"


@dataclass
class RunResult:
    playbook: str
    rc: int
    status: str
    seconds: float
    artifacts: Path
    hosts: dict[str, HostResult]

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.failures

    @property
    def failures(self) -> list[HostResult]:
        return [h for h in self.hosts.values() if h.failed or h.unreachable]

    @property
    def changed(self) -> int:
        return sum(h.changed for h in self.hosts.values())

    def failure_text(self) -> str:
        if not self.failures:
            return f"{self.playbook} ended with status {self.status} (rc {self.rc})"
        return "\n".join(
            f"{h.host}: {h.status} at task '{h.task}': {h.message}" for h in self.failures
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "playbook": self.playbook,
            "rc": self.rc,
            "status": self.status,
            "seconds": round(self.seconds, 2),
            "artifacts": str(self.artifacts),
            "changed": self.changed,
            "hosts": {
                name: {
                    "status": h.status,
                    "ok": h.ok,
                    "changed": h.changed,
                    "failed": h.failed,
                    "unreachable": h.unreachable,
                    "skipped": h.skipped,
                    "task": h.task if h.status in ("failed", "unreachable") else "",
                    "message": h.message,
                    "changed_tasks": h.changed_tasks,
                }
                for name, h in sorted(self.hosts.items())
            },
        }


def _message(res: dict[str, Any]) -> str:
    keys = ("msg", "stderr", "reason")
    if res.get("msg") == "non-zero return code":  # raw/command: the command's own words
        keys = ("stdout", "stderr", "msg")
    for key in keys:
        text = res.get(key)
        if text:
            return " ".join(str(text).split())[:400]
    return "see the run's stdout"


class Tracker:
    """Folds ansible-runner events into per-host results; ``on_update`` sees every change."""

    def __init__(self, on_update: Callable[[HostResult], None]) -> None:
        self.hosts: dict[str, HostResult] = {}
        self.on_update = on_update

    def __call__(self, event: dict[str, Any]) -> bool:
        data = event.get("event_data") or {}
        host = data.get("host")
        kind = event.get("event", "")
        if host and (kind.startswith("runner_on_") or kind == "runner_item_on_ok"):
            h = self.hosts.setdefault(host, HostResult(host))
            task = data.get("task", "")
            res = data.get("res") or {}
            if kind == "runner_on_start":
                h.task = task
            elif kind == "runner_on_ok":
                h.ok += 1
                if res.get("changed"):
                    h.changed += 1
                    h.changed_tasks.append(task)
            elif kind == "runner_on_skipped":
                h.skipped += 1
            elif kind in FAILED_EVENTS and not data.get("ignore_errors"):
                setattr(h, FAILED_EVENTS[kind], getattr(h, FAILED_EVENTS[kind]) + 1)
                h.task, h.message = task, _message(res)
            self.on_update(h)
        return True  # keep the event in the artifacts


async def run(
    state: StateDir,
    playbook: str,
    inventory: Path,
    *,
    limit: str | None = None,
    check: bool = False,
    tags: str | None = None,
    extravars: dict[str, Any] | None = None,
    on_update: Callable[[HostResult], None] = lambda _h: None,
) -> RunResult:
    import ansible_runner  # the controller's dependency only

    stamp = time.strftime("%Y%m%dT%H%M%S")
    private = state.sub("ansible", "runs", f"{stamp}-{playbook.removesuffix('.yml')}")
    bindir = str(Path(sys.executable).parent)
    # ansible-runner looks ansible-playbook up on PATH: the controller's virtualenv first
    os.environ["PATH"] = f"{bindir}:{os.environ.get('PATH', '')}"
    tracker = Tracker(on_update)
    cmdline = " ".join(["--check --diff" if check else "", f"--tags {tags}" if tags else ""])
    started = time.monotonic()
    runner = await asyncio.to_thread(
        ansible_runner.run,
        private_data_dir=str(private),
        project_dir=str(PLAYBOOKS),
        playbook=str(PLAYBOOKS / playbook),
        inventory=str(inventory),
        limit=limit,
        extravars=extravars or {},
        cmdline=cmdline.strip() or None,
        envvars={
            "ANSIBLE_CONFIG": str(PLAYBOOKS / "ansible.cfg"),
            "RIG_INSTANCE": state.instance,  # `rig down` sweeps SSH masters left behind
            "PATH": os.environ["PATH"],
        },
        ident="run",
        quiet=True,
        event_handler=tracker,
    )
    return RunResult(
        playbook,
        int(runner.rc if runner.rc is not None else 1),
        str(runner.status),
        time.monotonic() - started,
        private / "artifacts" / "run",
        tracker.hosts,
    )
