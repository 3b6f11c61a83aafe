"""The virtual rig's supervisor: starts every component, restarts the ones that fail, stops all.

Plays systemd's part for virtual nodes. Run detached by ``rig up`` as
``python -m rig.virtual.supervisor STATE_DIR``; it holds ``rig.lock`` for its lifetime
(so a second ``rig up`` knows), builds the network, starts the components in
order (broker, air, gateway, nodes and their sshd), records PIDs in
``run/components.json``, restarts a component that exits (1 s backoff doubling
to 30 s) and on SIGTERM stops everything in reverse order and removes the
network. Every process it starts carries ``RIG_INSTANCE`` so ``rig down`` can
find stragglers even after the supervisor itself was killed.

It plays systemd for the virtual nodes, too: a virtual node that has been deployed
runs from the service unit the deploy wrote in its node root (``ExecStart``,
``User``...), an undeployed one from this checkout. ``run/supervisor.sock``
takes ``start``/``stop``/``restart``/``status`` for any component (one JSON line
each way); a component stopped that way stays stopped until started. Ansible's
``rig_service`` module and ``rig service`` talk to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from rig.plan.model import Component, Plan
from rig.runtime.files import write_json
from rig.runtime.logfmt import LogfmtFormatter
from rig.state import StateDir
from rig.virtual import netns, units

log = logging.getLogger("rig.virtual.supervisor")
START_ORDER = ("broker", "air", "dccuser", "gateway", "node", "sshd")
STOP_GRACE_S = 5.0
MAX_BACKOFF_S = 30.0


class LockHeld(RuntimeError):
    pass


def socket_path(state: StateDir) -> Path:
    return state.run / "supervisor.sock"


async def control(state: StateDir, op: str, unit: str | None = None) -> dict[str, Any]:
    """Send one request to the running supervisor; its JSON answer (``error`` on refusal)."""
    try:
        reader, writer = await asyncio.open_unix_connection(str(socket_path(state)))
    except OSError as exc:
        raise LockHeld(f"the rig's supervisor does not answer ({exc}); is the rig up?") from None
    try:
        writer.write(json.dumps({"op": op, "unit": unit}).encode() + b"\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), STOP_GRACE_S * 3)
    finally:
        writer.close()
    return json.loads(line or b"{}")


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
        self.desired: dict[str, str] = {}  # running | stopped (on request)
        self.wake: dict[str, asyncio.Event] = {}
        self.locks: dict[str, asyncio.Lock] = {}
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

    def _command(self, comp: Component) -> tuple[list[str], dict[str, str], str | None, str]:
        """argv, environment, working directory and source ("unit" or "checkout")."""
        if comp.unit and Path(comp.unit).exists():
            unit = units.load(Path(comp.unit))
            env = {**self.env, **unit.environment}
            return unit.argv(comp.netns), env, unit.working_directory, "unit"
        argv = comp.argv if comp.netns is None else ["ip", "netns", "exec", comp.netns, *comp.argv]
        return argv, self.env, None, "checkout"

    def alive(self, name: str) -> bool:
        proc = self.procs.get(name)
        return proc is not None and proc.returncode is None

    async def _spawn(self, comp: Component) -> None:
        rec = self.records.setdefault(comp.name, {"restarts": -1})
        try:
            argv, env, cwd, source = self._command(comp)
        except units.UnitError as exc:
            rec.update(state="failed", error=str(exc), pid=None)
            log.error("component.unit_invalid", extra={"component": comp.name, "error": str(exc)})
            return
        logfile = open(self.state.log(comp.name), "ab", buffering=0)  # noqa: SIM115
        logfile.write(
            f"---- rig supervisor: starting {comp.name} ({source}) at "
            f"{time.strftime('%Y-%m-%dT%H:%M:%S')}\n".encode()
        )
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=logfile,
                stderr=logfile,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        finally:
            logfile.close()
        self.procs[comp.name] = proc
        rec.update(
            pid=proc.pid,
            create_time=_create_time(proc.pid),
            started_at=time.time(),
            state="running",
            restarts=rec["restarts"] + 1,
            source=source,
            error=None,
            desired=self.desired.get(comp.name, "running"),
        )
        log.info(
            "component.started", extra={"component": comp.name, "pid": proc.pid, "source": source}
        )

    async def _watch(self, comp: Component) -> None:
        backoff = 1.0
        wake = self.wake[comp.name]
        while True:
            proc = self.procs.get(comp.name)
            if proc is None or (proc.returncode is not None and self._held(comp.name, proc)):
                wake.clear()
                await wake.wait()
                continue
            started = time.monotonic()
            code = await proc.wait()
            if self.stopping:
                return
            if self._held(comp.name, proc):
                continue  # stopped or restarted on request: not a failure
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
            async with self.locks[comp.name]:
                if self._held(comp.name, proc):
                    continue
                await self._spawn(comp)
            self._save("running")

    def _held(self, name: str, proc: asyncio.subprocess.Process) -> bool:
        """Stopped on request, or replaced by a newer process: nothing for the watcher to do."""
        return self.desired.get(name) == "stopped" or self.procs.get(name) is not proc

    async def _terminate(self, name: str) -> None:
        proc = self.procs[name]
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), STOP_GRACE_S)
        except TimeoutError:
            log.warning("component.kill", extra={"component": name, "pid": proc.pid})
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()

    # --- the control socket ----------------------------------------------------------------

    async def request(self, op: str, name: str | None) -> dict[str, Any]:
        if op == "status":
            return {"ok": True, "units": self.records}
        if name is None:
            return {"ok": False, "error": f"{op} needs a unit"}
        try:
            comp = self.plan.component(name)
        except KeyError:
            known = ", ".join(c.name for c in self.plan.components if c.argv)
            return {"ok": False, "error": f"no component {name!r} here; known: {known}"}
        if not comp.argv:
            return {"ok": False, "error": f"{name} runs on a Pi: systemd manages it there"}
        if op not in ("start", "stop", "restart"):
            return {"ok": False, "error": f"unknown operation {op!r}: start, stop, restart, status"}
        async with self.locks[name]:
            was_running = self.alive(name)
            if op in ("stop", "restart") and was_running:
                self.desired[name] = "stopped"
                await self._terminate(name)
                self.records[name].update(state="stopped", last_exit=self.procs[name].returncode)
            if op in ("start", "restart") and (op == "restart" or not was_running):
                self.desired[name] = "running"
                await self._spawn(comp)
                self.wake[name].set()
            self.desired[name] = "stopped" if op == "stop" else "running"
            self.records[name]["desired"] = self.desired[name]
            self._save("running")
        rec = self.records[name]
        changed = op == "restart" or was_running != (op == "start")
        log.info("component.control", extra={"component": name, "op": op, "changed": changed})
        return {"ok": rec.get("state") != "failed", "changed": changed, **rec}

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            try:
                req = json.loads(line)
                answer = await self.request(str(req.get("op")), req.get("unit"))
            except (ValueError, AttributeError):
                answer = {"ok": False, "error": 'send one JSON line: {"op": ..., "unit": ...}'}
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
        finally:
            writer.close()

    async def run(self) -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(sig, stop.set)
        self._save("starting")
        runnable = [c for c in self.plan.components if c.argv]
        for comp in runnable:
            self.desired[comp.name] = "running"
            self.wake[comp.name] = asyncio.Event()
            self.locks[comp.name] = asyncio.Lock()
        sock = socket_path(self.state)
        sock.unlink(missing_ok=True)
        server = await asyncio.start_unix_server(self._serve, str(sock))
        os.chmod(sock, 0o600)
        try:
            if self.plan.isolation == "netns":
                await netns.setup(self.plan)
            for kind in START_ORDER:
                for comp in (c for c in runnable if c.kind == kind):
                    await self._spawn(comp)
                if kind == "broker":
                    await _wait_tcp(self.plan.component("broker"))
        except Exception as exc:  # report any start failure to `rig up`, then clean up
            log.error("rig.start_failed", extra={"error": str(exc)})
            self._save("failed", f"{exc.__class__.__name__}: {exc}")
            server.close()
            await self._stop_all()
            return 1
        self._save("running")
        watchers = [asyncio.create_task(self._watch(c)) for c in runnable]
        await stop.wait()
        self.stopping = True
        server.close()
        sock.unlink(missing_ok=True)
        self._save("stopping")
        for w in watchers:
            w.cancel()
        await self._stop_all()
        self._save("stopped")
        return 0

    async def _stop_all(self) -> None:
        self.stopping = True
        by_kind = {
            k: [n for n in self.procs if self.plan.component(n).kind == k] for k in START_ORDER
        }
        for kind in reversed(START_ORDER):
            names = [n for n in by_kind[kind] if self.alive(n)]
            await asyncio.gather(*(self._terminate(n) for n in names))
            for name in by_kind[kind]:
                self.records[name].update(state="stopped", last_exit=self.procs[name].returncode)
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
        print("usage: python -m rig.virtual.supervisor STATE_DIR", file=sys.stderr)
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
