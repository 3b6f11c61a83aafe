# GPL-3.0-or-later
"""What the rig's playbooks run on a node or the controller: the supervisor's control
socket, health reports, and the steps of a reset.

Python 3.11 and its standard library only. The modules in ``library/`` import it (Ansible
bundles it into their payload). reset.yml runs it as a plain script through ``raw``,
``python3 -c <this file> JSON``: :func:`factory_step` with those parameters, its result
printed as JSON, or the reason it failed and exit 1. No module payload to build, send and
unpack, and one Python start per host and step: the reset's two rounds are its critical
path.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

STALE_AFTER_S = 5.0  # a heartbeat older than this: hung (rig.runtime.health agrees)


def ask(path: str, op: str, unit: str | None, timeout: float = 30.0) -> dict[str, Any]:
    """One request to the virtual rig's supervisor: one JSON line each way."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        conn.connect(path)
        conn.sendall(json.dumps({"op": op, "unit": unit}).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data or b"{}")


def supervisor_down(path: str, exc: OSError) -> str:
    return (
        f"the rig's supervisor does not answer on {path} ({exc}): is the rig up? "
        "(`rig status`, then `rig up`)"
    )


def systemctl(*args: str) -> tuple[int, str]:
    proc = subprocess.run(
        ["systemctl", *args], capture_output=True, text=True, check=False, timeout=120
    )
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def health(url: str, version: str = "", checks: bool = True) -> tuple[bool, Any, str]:
    """Ask a health endpoint once: (healthy, report, what is wrong).

    Healthy means HTTP 200 and, with ``checks``, every check "ok" and a fresh heartbeat;
    with ``version``, the service must also run that version of the rig."""
    try:
        with urllib.request.urlopen(url, timeout=3) as reply:
            status, body = reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return False, None, f"HTTP {exc.code} from {url}"
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, None, f"no answer from {url} ({reason})"
    if status != 200:
        return False, None, f"HTTP {status} from {url}"
    try:
        report = json.loads(body)
    except ValueError:
        return not checks and not version, None, f"{url} answered without a JSON report"
    if checks:
        failing = {k: v for k, v in (report.get("checks") or {}).items() if v != "ok"}
        if failing:
            return False, report, ", ".join(f"{k}: {v}" for k, v in sorted(failing.items()))
        if float(report.get("beat_age_s", STALE_AFTER_S)) >= STALE_AFTER_S:
            return False, report, f"heartbeat {report.get('beat_age_s')} s old (hung?)"
    if version and report.get("version") != version:
        return False, report, f"runs {report.get('version')}, not {version}"
    return True, report, ""


def wait_healthy(
    url: str, seconds: float, version: str = "", checks: bool = True, every: float = 0.2
) -> tuple[bool, Any, str, float]:
    """Poll ``health`` until healthy or ``seconds`` pass: (healthy, report, problem, waited)."""
    started = time.monotonic()
    while True:
        ok, report, problem = health(url, version, checks)
        waited = time.monotonic() - started
        if ok or waited >= seconds:
            return ok, report, problem, round(waited, 2)
        time.sleep(every)


class Failed(Exception):
    pass


class Units:
    """Start and stop units through systemd or the rig's supervisor."""

    def __init__(self, manager: str, socket: str | None) -> None:
        self.manager, self.socket = manager, socket or ""

    def _ask(self, op: str, unit: str) -> dict[str, Any]:
        try:
            answer = ask(self.socket, op, unit)
        except OSError as exc:
            raise Failed(supervisor_down(self.socket, exc)) from None
        if not answer.get("ok"):
            raise Failed(f"{unit}: {answer.get('error') or op + ' failed'}")
        return answer

    def running(self, unit: str) -> bool:
        if self.manager == "systemd":
            return systemctl("is-active", unit)[1] == "active"
        try:
            units = ask(self.socket, "status", None).get("units", {})
        except OSError as exc:
            raise Failed(supervisor_down(self.socket, exc)) from None
        return units.get(unit, {}).get("state") == "running"

    def stop(self, unit: str) -> bool:
        if self.manager == "systemd":
            was = self.running(unit)
            rc, out = systemctl("stop", unit)
            if rc != 0:
                raise Failed(f"systemctl stop {unit}: {out}")
            return was
        return bool(self._ask("stop", unit).get("changed"))

    def start(self, unit: str) -> bool:
        if self.manager == "systemd":
            if systemctl("is-enabled", unit)[1] != "enabled":
                rc, out = systemctl("enable", unit)
                if rc != 0:
                    raise Failed(f"systemctl enable {unit}: {out}")
            was = self.running(unit)
            rc, out = systemctl("start", unit)
            if rc != 0:
                raise Failed(f"systemctl start {unit}: {out}")
            return not was
        return bool(self._ask("start", unit).get("changed"))


def empty(folder: str) -> list[str]:
    """Remove everything inside ``folder`` (not the folder): what was removed."""
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return []
    for name in names:
        path = os.path.join(folder, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    return [os.path.join(folder, n) for n in names]


def factory_step(p: dict[str, Any], check: bool = False) -> dict[str, Any]:
    """One step of a reset (``stop``, ``restore`` or ``reset``): what was done, and timings."""
    p = {**STEP_DEFAULTS, **p}
    step, units = p["step"], p["units"]
    who = p["node"] or ", ".join(units)
    if p["config_file"] and not os.path.exists(p["config_file"]):
        raise Failed(f"{who} has no {p['config_file']}: run `rig deploy` first")
    svc = Units(p["manager"], p["socket"])
    result: dict[str, Any] = {"changed": False, "timings": {}}
    started = time.monotonic()

    def lap(name: str) -> None:
        result["timings"][name] = round(time.monotonic() - started, 2)

    if step in ("stop", "reset"):
        if check:
            result["changed"] = any(svc.running(u) for u in units)
        else:
            for unit in units:
                result["changed"] |= svc.stop(unit)
        lap("stopped")
    if step in ("restore", "reset"):
        removed: list[str] = []
        for folder in p["empty"]:
            if check:
                names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
                removed += [os.path.join(folder, n) for n in names]
            else:
                removed += empty(folder)
        result["removed"] = removed
        result["changed"] |= bool(removed)
        lap("emptied")
        if check:
            result["changed"] |= not all(svc.running(u) for u in units)
            return result
        for unit in reversed(units):
            result["changed"] |= svc.start(unit)
        lap("started")
        if p["health_url"]:
            checks = p["health_checks"]
            if isinstance(checks, str):  # from a template, as a plain script's argument
                checks = checks.strip().lower() in ("1", "true", "yes", "on")
            ok, report, problem, waited = wait_healthy(
                p["health_url"], float(p["health_seconds"]), checks=checks
            )
            lap("healthy")
            result["health"] = report
            if not ok:
                log = (
                    f"`rig logs {units[0]}`"
                    if p["manager"] == "rig"
                    else f"`journalctl -u {units[0]}` on the node"
                )
                raise Failed(
                    f"{who} did not report healthy within {waited:.0f} s: {problem} (see {log})"
                )
    return result


STEP_DEFAULTS: dict[str, Any] = {
    "socket": None,
    "config_file": None,
    "node": "",
    "empty": [],
    "health_url": "",
    "health_checks": True,
    "health_seconds": 60,
}


def main(argv: list[str]) -> int:
    """``rig_control.py JSON``: one reset step with those parameters; its result as JSON."""
    try:
        result = factory_step(json.loads(argv[1]))
    except (Failed, OSError) as exc:
        print(str(exc) if isinstance(exc, Failed) else f"{exc.__class__.__name__}: {exc}")
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
