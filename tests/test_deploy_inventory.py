"""What `rig deploy` hands Ansible, without a running rig: the inventory of the physical
example rig (hardware/rigs/bench-a.yaml), the keys bundle, the wheel's version, and the
service unit the virtual rig's supervisor reads."""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from rig.deploy import build, inventory
from rig.description import load_rig
from rig.description.model import Isolation
from rig.pki.authority import Pki
from rig.plan import han_keys
from rig.plan.make import make_plan
from rig.plan.model import wan_hosts
from rig.state import StateDir
from rig.virtual.units import UnitError, parse

BENCH = ROOT / "hardware" / "rigs" / "bench-a.yaml"
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHkqIn5bXsZ6wQxkQ0gqK3wq1N9dYw1bq3V7vJmX3x3a"


def bench_rig(tmp_path: Path, *, pinned: bool):
    text = BENCH.read_text().split("\npki:")[0]  # generated PKI, ports free on this machine
    for fixed in ("broker_port: 8883", "duis_port: 8079", "smki_port: 8083"):
        text = text.replace(fixed, fixed.split(":")[0] + ": auto")
    text += "\nair: {zep_port: auto, control_port: auto}\n"
    if pinned:
        text = text.replace("ssh_user: rig}", f"ssh_user: rig, host_key: {HOST_KEY}}}")
    path = tmp_path / "bench-a.yaml"
    path.write_text(text)
    rig = load_rig(path)
    state = StateDir.open(tmp_path / "state")
    plan = make_plan(rig, state, Isolation.PROCESS)
    Pki(state.pki).ensure(rig, wan_hosts(plan))
    han_keys.ensure(rig, state)  # as `rig up` does, before anything renders a config
    return rig, state, plan


def test_pis_without_a_pinned_host_key_are_refused(tmp_path: Path) -> None:
    rig, state, plan = bench_rig(tmp_path, pinned=False)
    with pytest.raises(inventory.InventoryError) as err:
        inventory.build(rig, plan, state, None)
    assert "chf, esme, gsme, ihd, ppmid" in str(err.value) and "ssh-keyscan" in str(err.value)


def test_physical_inventory_from_the_description(tmp_path: Path) -> None:
    rig, state, plan = bench_rig(tmp_path, pinned=True)
    inv = inventory.build(rig, plan, state, None)
    path = inventory.write(inv, state)
    assert path.stat().st_mode & 0o777 == 0o600
    top = yaml.safe_load(path.read_text())["all"]["children"]
    roles = top["nodes"]["children"]
    assert set(roles) == {"role_chf", "role_esme", "role_gsme", "role_ihd", "role_ppmid"}
    assert set(top["pi"]["hosts"]) == {n.name for n in rig.nodes} and not top["virtual"]["hosts"]
    esme = roles["role_esme"]["hosts"]["esme"]
    assert (esme["ansible_host"], esme["ansible_user"], esme["ansible_become"]) == (
        "192.168.50.12",
        "rig",
        True,
    )
    assert esme["rig_service_manager"] == "systemd" and esme["rig_prefix"] == ""
    assert "StrictHostKeyChecking=yes" in esme["ansible_ssh_common_args"]
    known = Path(esme["ansible_ssh_common_args"].split("UserKnownHostsFile=")[1].split()[0])
    assert f"192.168.50.12 {HOST_KEY}" in known.read_text().splitlines()
    # the node's configuration names only node paths; its keys travel in one bundle
    config = esme["rig_config"]
    assert config["state_dir"] == "/var/lib/rig" and config["pin_factory"] == "default"
    assert config["gbcs"]["ds"]["key"].startswith("/etc/rig/pki/smki/")
    assert str(state.pki) not in yaml.safe_dump(config)
    with tarfile.open(esme["rig_pki_bundle"]) as tar:
        members = {m.name: m for m in tar.getmembers()}
    relocated = config["gbcs"]["ds"]["key"].removeprefix("/etc/rig/pki/")
    assert members[relocated].mode == 0o600
    assert all(m.mode == 0o700 for m in members.values() if m.isdir())
    assert roles["role_ihd"]["hosts"]["ihd"]["rig_pki_bundle"] == ""  # no keys for an IHD
    chf = roles["role_chf"]["hosts"]["chf"]
    assert chf["rig_config"]["wan"]["host"] == "192.168.50.2"  # the controller on the LAN
    assert chf["rig_radio_device"] == "/dev/ttyUSB0"
    assert top["dcc"]["hosts"]["controller"]["ansible_connection"] == "local"


def test_the_keys_bundle_is_deterministic(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    (pki / "a" / "b").mkdir(parents=True)
    files = [pki / "a" / "b" / "x.key", pki / "top.pem"]
    for f in files:
        f.write_text(f.name)
    one = inventory.pki_bundle(files, pki, tmp_path / "one.tar").read_bytes()
    two = inventory.pki_bundle(list(reversed(files)), pki, tmp_path / "two.tar").read_bytes()
    assert one == two
    with tarfile.open(fileobj=io.BytesIO(one)) as tar:
        assert [m.name for m in tar.getmembers()] == ["a", "a/b", "a/b/x.key", "top.pem"]


def test_the_wheel_version_names_the_sources(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, tree / name)
    for package in build.PACKAGES:
        (tree / package).mkdir()
        (tree / package / "__init__.py").write_text("")
    first = build.source_hash(tree)
    assert build.source_hash(tree) == first
    (tree / "nodes" / "__pycache__").mkdir()
    (tree / "nodes" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert build.source_hash(tree) == first  # caches do not count
    (tree / "nodes" / "__init__.py").write_text("# changed\n")
    assert build.source_hash(tree) != first


def test_the_supervisor_reads_the_service_unit() -> None:
    unit = parse(
        "[Unit]\nDescription=x\n[Service]\nUser=rig\nGroup=rig\n"
        "WorkingDirectory=/var/lib/rig\nEnvironment=A=1 B='two words'\nEnvironment=C=3\n"
        "ExecStart=/opt/rig/venv/bin/rig-node --config /etc/rig/node.json\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )
    assert unit.environment == {"A": "1", "B": "two words", "C": "3"}
    assert unit.argv("rigabc-esme") == [
        *("ip", "netns", "exec", "rigabc-esme"),
        *("setpriv", "--reuid", "rig", "--regid", "rig", "--init-groups", "--"),
        *("/opt/rig/venv/bin/rig-node", "--config", "/etc/rig/node.json"),
    ]
    assert parse("[Service]\nExecStart=/bin/true\n").argv(None) == ["/bin/true"]
    with pytest.raises(UnitError, match="no ExecStart"):
        parse("[Unit]\nDescription=x\n")
    with pytest.raises(UnitError, match=":2: expected Key=Value"):
        parse("[Service]\nnonsense\n", "u")


def _fake_supervisor(path: Path, log: list[tuple[str, str]]) -> None:
    """The supervisor's control socket: one JSON line each way; every unit starts."""
    import json
    import socket
    import threading

    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()
    state: dict[str, str] = {}

    def serve() -> None:
        while True:
            conn, _ = server.accept()
            with conn:
                req = json.loads(conn.makefile().readline())
                op, unit = req["op"], req["unit"]
                if op == "status":
                    answer = {"ok": True, "units": {u: {"state": s} for u, s in state.items()}}
                else:
                    log.append((op, unit))
                    was = state.get(unit, "running")
                    state[unit] = "stopped" if op == "stop" else "running"
                    answer = {"ok": True, "changed": was != state[unit]}
                conn.sendall(json.dumps(answer).encode() + b"\n")

    threading.Thread(target=serve, daemon=True).start()


def test_the_reset_steps_as_a_plain_script(tmp_path: Path) -> None:
    """reset.yml runs module_utils/rig_control.py through `raw`: JSON in, JSON out."""
    import http.server
    import json
    import subprocess
    import sys
    import threading

    script = ROOT / "playbooks" / "module_utils" / "rig_control.py"

    def step(**params: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", script.read_text(), json.dumps(params)],
            capture_output=True,
            text=True,
            timeout=30,
        )

    never = step(step="stop", manager="rig", units=["esme"], config_file="/nonexistent")
    assert never.returncode == 1
    assert never.stdout.strip() == "esme has no /nonexistent: run `rig deploy` first"

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"checks": {"han": "ok"}, "beat_age_s": 0.2}).encode()
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    web = http.server.HTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    sock, log = tmp_path / "supervisor.sock", []
    _fake_supervisor(sock, log)
    config, data = tmp_path / "node.json", tmp_path / "data"
    config.write_text("{}")
    (data / "radio").mkdir(parents=True)
    (data / "meter.json").write_text("{}")
    common = {"manager": "rig", "socket": str(sock), "units": ["esme"], "node": "esme"}
    stop = step(step="stop", config_file=str(config), **common)
    assert stop.returncode == 0, stop.stdout + stop.stderr
    assert json.loads(stop.stdout)["changed"] is True
    url = f"http://127.0.0.1:{web.server_port}/health"
    restore = step(step="restore", empty=[str(data)], health_url=url, **common)
    assert restore.returncode == 0, restore.stdout + restore.stderr
    result = json.loads(restore.stdout)
    assert result["changed"] is True and sorted(result["removed"]) == [
        str(data / "meter.json"),
        str(data / "radio"),
    ]
    assert data.is_dir() and not list(data.iterdir())  # emptied, not removed
    assert log == [("stop", "esme"), ("start", "esme")]
    web.shutdown()
