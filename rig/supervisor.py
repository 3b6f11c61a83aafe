"""The virtual rig's supervisor: starts every component, restarts the ones that fail, stops all.

Plays systemd's part for virtual nodes. Run detached by ``rig up`` as
``python -m rig.supervisor STATE_DIR``; it holds ``rig.lock`` for its lifetime
(so a second ``rig up`` knows), builds the network, starts the components in
order (broker, air, gateway, nodes and their sshd), records PIDs in
``run/components.json``, restarts a component that exits (1 s backoff doubling
to 30 s) and on SIGTERM stops everything in reverse order and removes the
network. Every process it starts carries ``RIG_INSTANCE`` so ``rig down`` can
find stragglers even after the supervisor itself was killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from rig import netns
from rig.plan import Component, Plan
from rig.protocol.logfmt import LogfmtFormatter
from rig.state import StateDir, write_json

log = logging.getLogger("rig.supervisor")
START_ORDER = ("broker", "air", "dccuser", "gateway", "node", "sshd")
STOP_GRACE_S = 5.0
MAX_BACKOFF_S = 30.0


class LockHeld(RuntimeError):
    pass


def acquire_lock(state: StateDir) -> int:
    fd = os.open(state.lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise LockHeld(str(state.lock)) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def lock_holder(state: StateDir) -> int | None:
    """PID of the live supervisor holding the lock, or None when the rig is not up."""
    try:
        fd = os.open(state.lock, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        with contextlib.suppress(ValueError, OSError):
            return int(Path(state.lock).read_text().split()[0])
        return -1
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class Supervisor:
    def __init__(self, state: StateDir, plan: Plan) -> None:
        self.state = state
        self.plan = plan
        self.stopping = False
        self.procs: dict[str, asyncio.subprocess.Process] = {}
        self.records: dict[str, dict[str, Any]] = {}
        self.env = {**os.environ, "RIG_INSTANCE": plan.instance}

    def _save(self, phase: str, error: str | None = None) -> None:
        write_json(self.state.run / "components.json", self.records)
        me = psutil.Process()
        write_json(
            self.state.run / "supervisor.json",
            {
                "pid": me.pid,
                "create_time": me.create_time(),
                "phase": phase,
                "error": error,
                "instance": self.plan.instance,
            },
        )

    async def _spawn(self, comp: Component) -> None:
        argv = comp.argv if comp.netns is None else ["ip", "netns", "exec", comp.netns, *comp.argv]
        logfile = open(self.state.log(comp.name), "ab", buffering=0)  # noqa: SIM115
        logfile.write(
            f"---- rig supervisor: starting {comp.name} at "
            f"{time.strftime('%Y-%m-%dT%H:%M:%S')}\n".encode()
        )
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=logfile,
                stderr=logfile,
                env=self.env,
                start_new_session=True,
            )
        finally:
            logfile.close()
        self.procs[comp.name] = proc
        rec = self.records.setdefault(comp.name, {"restarts": -1})
        rec.update(
            pid=proc.pid,
            create_time=_create_time(proc.pid),
            started_at=time.time(),
            state="running",
            restarts=rec["restarts"] + 1,
        )
        log.info("component.started", extra={"component": comp.name, "pid": proc.pid})

    async def _watch(self, comp: Component) -> None:
        backoff = 1.0
        while True:
            proc = self.procs[comp.name]
            started = time.monotonic()
            code = await proc.wait()
            if self.stopping:
                return
            rec = self.records[comp.name]
            rec.update(state="restarting", last_exit=code)
            self._save("running")
            log.warning(
                "component.exited",
                extra={"component": comp.name, "code": code, "restart_in_s": backoff},
            )
            if time.monotonic() - started > 60:
                backoff = 1.0
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)
            if self.stopping:
                return
            await self._spawn(comp)
            self._save("running")

    async def run(self) -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(sig, stop.set)
        self._save("starting")
        try:
            if self.plan.isolation == "netns":
                await netns.setup(self.plan)
            runnable = [c for c in self.plan.components if c.argv]
            for kind in START_ORDER:
                for comp in (c for c in runnable if c.kind == kind):
                    await self._spawn(comp)
                if kind == "broker":
                    await _wait_tcp(self.plan.component("broker"))
        except Exception as exc:  # report any start failure to `rig up`, then clean up
            log.error("rig.start_failed", extra={"error": str(exc)})
            self._save("failed", f"{exc.__class__.__name__}: {exc}")
            await self._stop_all()
            return 1
        self._save("running")
        watchers = [asyncio.create_task(self._watch(c)) for c in runnable]
        await stop.wait()
        self.stopping = True
        self._save("stopping")
        for w in watchers:
            w.cancel()
        await self._stop_all()
        self._save("stopped")
        return 0

    async def _stop_all(self) -> None:
        self.stopping = True
        by_kind = {
            k: [n for n, p in self.procs.items() if self.plan.component(n).kind == k]
            for k in START_ORDER
        }
        for kind in reversed(START_ORDER):
            names = by_kind[kind]
            for name in names:
                with contextlib.suppress(ProcessLookupError):
                    self.procs[name].send_signal(signal.SIGTERM)
            for name in names:
                proc = self.procs[name]
                try:
                    await asyncio.wait_for(proc.wait(), STOP_GRACE_S)
                except TimeoutError:
                    log.warning("component.kill", extra={"component": name, "pid": proc.pid})
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    await proc.wait()
                self.records[name].update(state="stopped", last_exit=proc.returncode)
        if self.plan.isolation == "netns":
            await netns.teardown(self.plan.instance)


def _create_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


async def _wait_tcp(comp: Component, timeout: float = 10.0) -> None:
    host, port = comp.probe["host"], int(comp.probe["port"])
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection(host, port)
            writer.close()
            return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{comp.name} did not listen on {host}:{port} within "
                    f"{timeout:.0f} s ({exc}); see its log"
                ) from None
            await asyncio.sleep(0.1)


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print("usage: python -m rig.supervisor STATE_DIR", file=sys.stderr)
        return 2
    state = StateDir.open(Path(args[0]))
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogfmtFormatter("supervisor"))
    logging.basicConfig(level="INFO", handlers=[handler])
    try:
        fd = acquire_lock(state)
    except LockHeld:
        print(f"rig supervisor: {state.lock} is held: this rig is already up", file=sys.stderr)
        return 3
    plan = Plan.load(state)
    if plan is None:
        print(f"rig supervisor: no run plan in {state.run}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(Supervisor(state, plan).run())
    finally:
        os.close(fd)


if __name__ == "__main__":
    sys.exit(main())
