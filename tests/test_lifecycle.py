"""The virtual rig's lifecycle through the real `rig` CLI: up, status JSON, crashes, down.

Runs with plain processes everywhere, and with network namespaces + sshd where
the machine allows (root on Linux, as in CI).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from rig.lifecycle import strategy as lifecycle
from rig.plan.make import netns_available
from rig.state import StateDir
from tests.conftest import BIN, RIGS, rig_cli, wait_for

RIG = str(RIGS / "small-auto.yaml")
ISOLATIONS = [
    "process",
    pytest.param(
        "netns",
        marks=pytest.mark.skipif(
            not netns_available()[0], reason=f"no network namespaces here: {netns_available()[1]}"
        ),
    ),
]


def status_json(state: Path, *names: str) -> tuple[int, dict]:
    proc = rig_cli("status", "--json", "--rig", RIG, *names, state=state)
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else {}


def assert_nothing_left(state: Path) -> None:
    instance = StateDir.open(state).instance
    assert lifecycle.rig_processes(instance) == []
    if netns_available()[0]:
        from rig.virtual import netns

        assert asyncio.run(netns.leftovers(instance)) == []


@pytest.fixture
def state(tmp_path: Path):
    path = tmp_path / "state"
    yield path
    rig_cli("down", "--rig", RIG, state=path)  # never leave a rig behind


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_up_status_crash_and_down(state: Path, isolation: str) -> None:
    rig_cli("up", "--rig", RIG, "--isolation", isolation, state=state, check=True)

    code, st = status_json(state)
    assert code == 0 and st["up"] and st["healthy"] and st["isolation"] == isolation
    comps = {c["name"]: c for c in st["components"]}
    expected = {"broker", "air", "dcc-users", "gateway", "chf", "esme", "gsme"}
    if isolation == "netns":
        expected |= {"chf-sshd", "esme-sshd", "gsme-sshd"}
    assert set(comps) == expected
    for c in comps.values():
        assert c["health"] == "healthy" and isinstance(c["pid"], int) and c["address"]
        assert c["uptime_s"] is not None and c["uptime_s"] >= 0
    assert comps["esme"]["report"]["eui"] == "00-DB-12-34-56-78-90-A0"
    assert comps["esme"]["report"]["detail"]["gpio"]["relay"]["value"] == 1  # supply on
    assert comps["chf"]["checks"]["wan"] == "ok"
    # `rig status NAME...` probes and lists only those; a name the rig lacks is exit 2
    code, some = status_json(state, "gateway", "esme")
    assert code == 0 and [c["name"] for c in some["components"]] == ["gateway", "esme"]
    unknown = rig_cli("status", "--json", "--rig", RIG, "meter", state=state)
    assert unknown.returncode == 2 and "no component meter" in unknown.stderr

    def hub_online() -> bool:
        gateway = status_json(state, "gateway")[1]["components"][0]
        return gateway["report"]["detail"]["hubs"]["00-DB-12-34-56-78-90-A2"]["online"]

    hubs = wait_for(hub_online)
    assert hubs, "the gateway never saw the hub come online"

    # a second `rig up` says the rig is already up
    again = rig_cli("up", "--rig", RIG, state=state)
    assert again.returncode == 3 and "already up" in again.stderr

    if isolation == "netns":  # real SSH into the node's namespace, host key pinned
        ssh = subprocess.run(
            [
                "ssh",
                "-F",
                str(state / "ssh" / "config"),
                "esme",
                "ip -4 -o addr show eth0; echo node=$RIG_NODE",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert ssh.returncode == 0, ssh.stderr
        assert comps["esme"]["address"].split(":")[0] in ssh.stdout
        assert "node=esme" in ssh.stdout

    # a node that hangs is unresponsive although its process exists
    gsme_pid = comps["gsme"]["pid"]
    os.kill(gsme_pid, signal.SIGSTOP)
    try:
        hung = wait_for(
            lambda: status_json(state, "gsme")[1]["components"][0]["health"] == "unresponsive",
            timeout=15,
        )
        assert hung
        code, _ = status_json(state)
        assert code == 1
    finally:
        os.kill(gsme_pid, signal.SIGCONT)

    # kill -9 of a node: the supervisor restarts it
    os.kill(comps["esme"]["pid"], signal.SIGKILL)

    def restarted():
        c = status_json(state, "esme")[1]["components"][0]
        return c if c["health"] == "healthy" and c["restarts"] == 1 else None

    esme = wait_for(restarted)
    assert esme and esme["pid"] != comps["esme"]["pid"]

    # kill -9 of the supervisor (`rig up`'s daemon): status says so, down still cleans up
    os.kill(st["supervisor"]["pid"], signal.SIGKILL)
    time.sleep(0.3)
    code, st = status_json(state)
    assert code == 1 and st["supervisor"]["alive"] is False and st["up"]
    down = rig_cli("down", "--rig", RIG, state=state, check=True)
    assert "is down" in down.stderr
    assert_nothing_left(state)
    code, st = status_json(state)
    assert code == 3 and st["up"] is False


def test_down_after_rig_up_is_killed_mid_start(state: Path) -> None:
    up = subprocess.Popen(
        [str(BIN / "rig"), "up", "--rig", RIG],
        env={**os.environ, "RIG_STATE_DIR": str(state)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: (state / "run" / "supervisor.json").exists(), timeout=30, every=0.05)
    up.kill()
    up.wait()
    rig_cli("down", "--rig", RIG, state=state, check=True)
    assert_nothing_left(state)
    # and the rig comes up cleanly again afterwards
    rig_cli("up", "--rig", RIG, "--isolation", "process", state=state, check=True)
    assert status_json(state)[0] == 0


def test_fixed_port_in_use_is_named(state: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        s.listen()
        port = s.getsockname()[1]
        rig = tmp_path / "clash.yaml"
        rig.write_text(Path(RIG).read_text().replace("duis_port: auto", f"duis_port: {port}"))
        proc = rig_cli("up", "--rig", str(rig), state=state)
    assert proc.returncode != 0
    assert f"gateway.duis_port {port}/TCP is already in use" in proc.stderr


def test_bad_description_exits_2_with_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(RIG).read_text().replace("00-DB-12-34-56-78-90-A1", "00-DB"))
    proc = rig_cli("up", "--rig", str(bad), state=tmp_path / "s")
    assert proc.returncode == 2
    assert f"{bad}:" in proc.stderr and "nodes[2].eui" in proc.stderr
