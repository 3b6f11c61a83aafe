"""Ansible on the virtual rig, for real: `rig deploy`, `rig reset`, `rig collect` over SSH
into each node's network namespace (host keys checked), through ansible-runner.

One rig for the module, in order: deploy; deploy again (zero changes, also in --check);
meter reads on the deployed nodes; dirty state; reset back to the baseline, field by
field, on the nodes and at the gateway; a read again; collect; a node whose sshd is
stopped fails the deploy by name and leaves the others untouched.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import psutil
import pytest
from conftest import component, rig_cli, wait_for

from rig.dccuser.tasks import send_request
from rig.description import load_rig
from rig.runtime.files import read_json
from rig.state import StateDir

pytestmark = pytest.mark.netns
RIG = Path(__file__).parent / "rigs" / "dcc.yaml"
# dcc.yaml without its GSME, PPMID and boxed ESME: each node deployed costs the suite ~40 s
NODES = ("chf", "esme", "ihd")
LOAD_W = 3600.0  # dcc.yaml: the ESME's load, 1 Wh a second
INITIAL_WH = 12_345_000


@pytest.fixture(scope="module")
def env():
    import os

    if os.geteuid() != 0:
        pytest.skip("deploying to virtual nodes needs root (network namespaces and sshd)")
    # the nodes' service user must walk down to their roots in the state folder: pytest's
    # own folders are 0700 (and any other pytest session on the machine makes them 0700
    # again), so the state lives in a folder of this test's, traversable, like root's
    # default /var/lib/rig
    base = Path(tempfile.mkdtemp(prefix="rig-test-deploy-", dir="/var/tmp"))
    base.chmod(0o711)
    state = base / "state"
    rig_file = base / "dcc.yaml"
    text = RIG.read_text()
    gsme, ihd = text.index("  - {name: gsme"), text.index("  - {name: ihd")
    ppmid = text.index("  - {name: ppmid")
    rig_file.write_text(text[:gsme] + text[ihd:ppmid] + text[text.index("users:", ppmid) :])
    rig_cli("up", "--rig", str(rig_file), state=state, check=True, timeout=150)
    try:
        yield {
            "rig": load_rig(rig_file),
            "state": StateDir.open(state),
            "dir": state,
            "file": rig_file,
        }
    finally:
        rig_cli("down", "--rig", str(rig_file), state=state, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def cli(env, *args: str, timeout: float = 400) -> tuple[int, dict, str]:
    proc = rig_cli(*args, "--rig", str(env["file"]), "--json", state=env["dir"], timeout=timeout)
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(f"rig {args} printed no JSON:\n{proc.stdout}\n{proc.stderr}") from None
    return proc.returncode, result, proc.stderr


def data(env, node: str) -> Path:
    return env["dir"] / "nodes" / node / "var" / "lib" / "rig"


def components(env) -> dict:
    return read_json(env["dir"] / "run" / "components.json")


def gateway_rows(env, table: str) -> int:
    path = env["dir"] / "components" / "gateway" / "data" / "gateway.sqlite"
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def snapshot(env) -> dict:
    """The state a reset must restore, as the nodes and the gateway hold it."""
    chf_log = read_json(data(env, "chf") / "device-log.json", {})
    return {
        "meter": read_json(data(env, "esme") / "meter.json", {}),
        "esme_gbcs": read_json(data(env, "esme") / "gbcs-counters.json", {}),
        "esme_nwk": read_json(data(env, "esme") / "radio" / "nwk-counters.json", {}),
        "chf_nwk": read_json(data(env, "chf") / "radio" / "nwk-counters.json", {}),
        "device_log": sorted(
            (e["eui"], e["device_type"], e["install_code"]) for e in chf_log.get("entries", [])
        ),
        "tunnels": read_json(data(env, "chf") / "tunnels.json", {}),
        "gateway_counters": gateway_rows(env, "counters"),
        "gateway_requests": gateway_rows(env, "requests"),
        "gateway_pending": gateway_rows(env, "pending"),
        "inbox": sorted(
            str(p.relative_to(env["dir"]))
            for p in (env["dir"] / "components" / "dcc-users" / "inbox").rglob("*.xml")
        ),
    }


def esme_status(env) -> dict:
    return component(env["dir"], "esme")


def nwk_max(counters: dict) -> int:
    return int(counters.get("reserved", 0))


def read_esme(env) -> int:
    outcome = send_request(env["rig"], env["state"], "4.1.1", "esme", {})
    assert outcome.ok, outcome
    return int(outcome.values["active_import_wh"])


def test_deploy_installs_configures_and_runs_every_node(env) -> None:
    rc, result, err = cli(env, "deploy")
    assert rc == 0, err
    assert set(result["hosts"]) == {*NODES, "controller"}
    assert all(result["hosts"][n]["changed"] > 0 for n in NODES)
    version = next(Path(env["dir"] / "deploy" / "wheels").glob("*.whl")).name.split("-")[1]
    assert "+src." in version
    records = components(env)
    for node in NODES:
        root = env["dir"] / "nodes" / node
        # the node runs the deployed wheel from its virtualenv, as the service user
        assert records[node]["source"] == "unit"
        proc = psutil.Process(records[node]["pid"])  # ip netns exec → setpriv → rig-node
        assert str(root / "opt" / "rig" / "venv" / "bin") in " ".join(proc.cmdline())
        assert proc.username() == "rig"
        dist = list((root / "opt" / "rig" / "venv").glob(f"lib/python3*/site-packages/*{version}*"))
        assert dist, "the wheel's version is not installed"
        unit = (root / "etc" / "systemd" / "system" / "rig-node.service").read_text()
        assert "User=rig" in unit and f"{root}/opt/rig/venv/bin/rig-node" in unit
        config = root / "etc" / "rig" / "node.json"
        assert (config.stat().st_mode & 0o777, config.owner()) == (0o600, "rig")
        text = config.read_text()
        assert str(env["dir"] / "pki") not in text, "the config still points at the controller"
        cfg = json.loads(text)
        assert cfg["state_dir"] == str(root / "var" / "lib" / "rig")
    keys = list((env["dir"] / "nodes" / "esme" / "etc" / "rig" / "pki").rglob("*"))
    assert any(k.suffix == ".key" for k in keys)
    for k in keys:
        mode = 0o600 if k.is_file() else 0o700
        assert (k.stat().st_mode & 0o777, k.owner()) == (mode, "rig"), k
    assert not list((env["dir"] / "nodes" / "ihd" / "etc" / "rig" / "pki").iterdir())
    # host-key checking is on, against the generated known_hosts
    inv = (env["dir"] / "ansible" / "inventory.yml").read_text()
    assert "StrictHostKeyChecking=yes" in inv and "UserKnownHostsFile=" in inv
    # each run keeps ansible-runner's artifacts under the state folder
    artifacts = Path(result["artifacts"])
    assert artifacts.is_relative_to(env["dir"]) and (artifacts / "stdout").exists()
    assert list((artifacts / "job_events").glob("*.json"))


def test_second_deploy_and_check_mode_change_nothing(env) -> None:
    before = {n: components(env)[n]["pid"] for n in NODES}
    rc, result, err = cli(env, "deploy")
    assert rc == 0, err
    assert result["changed"] == 0, {h: v["changed_tasks"] for h, v in result["hosts"].items()}
    rc, result, err = cli(env, "deploy", "--check")
    assert rc == 0, err
    assert result["changed"] == 0, {h: v["changed_tasks"] for h, v in result["hosts"].items()}
    assert {n: components(env)[n]["pid"] for n in NODES} == before  # nothing restarted
    # an unchanged node costs one module run: the probe that also checks it is reachable
    assert all(result["hosts"][n]["ok"] == 1 for n in NODES), result["hosts"]


def test_reset_restores_the_baseline_field_by_field(env) -> None:
    wait_for(lambda: (data(env, "esme") / "meter.json").exists(), 30)
    baseline = snapshot(env)
    assert baseline["meter"]["supply"] == 1 and baseline["esme_gbcs"] == {}
    assert baseline["device_log"] and baseline["gateway_counters"] == 0
    first = read_esme(env)
    assert first >= INITIAL_WH

    # dirty it: registers advance, supply disabled, counters move on meters and gateway
    time.sleep(3)
    second = read_esme(env)
    assert second >= first + 2
    assert send_request(env["rig"], env["state"], "7.2", "esme", {}).ok
    dirty = snapshot(env)
    assert dirty["meter"]["supply"] == 0
    assert esme_status(env)["report"]["detail"]["gpio"]["relay"]["value"] == 0
    assert dirty["meter"]["import_wh"] >= baseline["meter"]["import_wh"] + 2
    assert dirty["esme_gbcs"]["accepted"], "the ESME accepted no counter"
    assert dirty["gateway_counters"] >= 1 and dirty["gateway_requests"] >= 3
    assert nwk_max(dirty["esme_nwk"]) >= nwk_max(baseline["esme_nwk"])
    assert dirty["inbox"]

    started = time.time()
    rc, result, err = cli(env, "reset")
    assert rc == 0, err
    elapsed = time.time() - started
    assert set(result["hosts"]) == {*NODES, "controller"}
    after = snapshot(env)
    # meters: supply enabled again, registers back to the factory value (plus what the
    # load used since the restart), no counter remembered
    assert after["meter"]["supply"] == 1
    used_since = LOAD_W * elapsed / 3600
    assert INITIAL_WH <= after["meter"]["import_wh"] <= INITIAL_WH + used_since + 1
    assert after["meter"]["import_wh"] < dirty["meter"]["import_wh"]
    assert after["esme_gbcs"] == baseline["esme_gbcs"] == {}
    # HAN: the CHF's device log is the description's again; NWK counters start over
    assert after["device_log"] == baseline["device_log"]
    assert nwk_max(after["esme_nwk"]) <= nwk_max(baseline["esme_nwk"])
    assert nwk_max(after["chf_nwk"]) <= nwk_max(baseline["chf_nwk"])
    # the DCC side matches: no requests, counters, pending commands or delivered responses
    for key in ("gateway_counters", "gateway_requests", "gateway_pending", "inbox"):
        assert after[key] == baseline[key], key
    # the relay closed again (the health report's GPIO view)
    esme = esme_status(env)
    assert esme["health"] == "healthy"
    assert esme["report"]["detail"]["gpio"]["relay"]["value"] == 1

    # and the rig serves again
    again = read_esme(env)
    assert INITIAL_WH <= again < second


def test_collect_fetches_logs_state_and_store(env, tmp_path: Path) -> None:
    out = tmp_path / "artifacts"
    rc, _, err = cli(env, "collect", "--out", str(out))
    assert rc == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    paths = {f["path"] for f in manifest["files"]}
    for node in NODES:
        assert f"nodes/{node}/health.json" in paths and f"nodes/{node}/service.log" in paths
    assert "nodes/esme/state/meter.json" in paths
    assert "logs/gateway.log" in paths
    snap = json.loads((out / "nodes" / "esme" / "state" / "meter.json").read_text())
    assert snap["supply"] == 1
    with sqlite3.connect(out / "dcc" / "gateway.sqlite") as db:
        assert db.execute("SELECT count(*) FROM requests").fetchone()[0] >= 1
    health = json.loads((out / "nodes" / "esme" / "health.json").read_text())
    assert health["name"] == "esme" and "+src." in health["version"]


def test_a_node_without_sshd_fails_the_deploy_by_name(env) -> None:
    before = {n: components(env)[n]["pid"] for n in NODES}
    mtimes = {
        n: (env["dir"] / "nodes" / n / "etc" / "rig" / "node.json").stat().st_mtime_ns
        for n in NODES
    }
    stop = rig_cli("service", "stop", "esme-sshd", state=env["dir"])
    assert stop.returncode == 0, stop.stderr
    # stopping sshd leaves established sessions (Ansible's SSH masters) alive, as on a Pi;
    # a failed host has none: end this node's remaining sshd sessions too
    ns = f"rig{env['state'].instance}-esme"
    pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout
    for pid in map(int, pids.split()):
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            if proc.name() == "sshd":
                proc.kill()
    try:
        rc, result, err = cli(env, "deploy", timeout=120)
        assert rc != 0
        assert "esme" in err and "unreachable" in err, err
        assert result["hosts"]["esme"]["status"] == "unreachable"
        for node in ("chf", "ihd"):
            host = result["hosts"][node]
            assert host["changed"] == 0 and host["status"] == "ok"
            assert host["ok"] == 1, "a deploy step ran although a node was unreachable"
        after = {n: components(env)[n]["pid"] for n in NODES}
        assert after == before
        assert {
            n: (env["dir"] / "nodes" / n / "etc" / "rig" / "node.json").stat().st_mtime_ns
            for n in NODES
        } == mtimes
    finally:
        rig_cli("service", "start", "esme-sshd", state=env["dir"])
    rc, result, err = cli(env, "deploy")
    assert rc == 0 and result["changed"] == 0, err


def test_a_node_that_drifted_is_put_back_and_only_it_restarts(env) -> None:
    # last: the ESME's restart sends an outage alert, which a reset baseline must not see
    before = {n: components(env)[n]["pid"] for n in NODES}
    root = env["dir"] / "nodes" / "esme"
    config = root / "etc" / "rig" / "node.json"
    good = config.read_text()
    config.write_text(good + " ")
    key = next(k for k in (root / "etc" / "rig" / "pki").rglob("*.key"))
    key.chmod(0o644)
    rc, result, err = cli(env, "deploy", "--check")
    assert rc == 0, err
    assert result["hosts"]["esme"]["changed"] >= 2, result["hosts"]["esme"]
    assert all(result["hosts"][n]["changed"] == 0 for n in NODES if n != "esme")
    assert config.read_text() == good + " " and key.stat().st_mode & 0o777 == 0o644
    rc, result, err = cli(env, "deploy")
    assert rc == 0, err
    assert all(result["hosts"][n]["changed"] == 0 for n in NODES if n != "esme")
    assert config.read_text() == good
    assert (config.stat().st_mode & 0o777, config.owner()) == (0o600, "rig")
    assert (key.stat().st_mode & 0o777, key.owner()) == (0o600, "rig")
    after = {n: components(env)[n]["pid"] for n in NODES}
    assert after["esme"] != before["esme"]  # restarted onto the repaired configuration
    assert {n: p for n, p in after.items() if n != "esme"} == {
        n: p for n, p in before.items() if n != "esme"
    }
