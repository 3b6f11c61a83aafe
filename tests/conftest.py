"""Shared fixtures: paths, the reference vectors, a real mosquitto with the rig's config."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RIGS = Path(__file__).parent / "rigs"
VECTORS = ROOT.parent / "shared" / "vectors"
BIN = Path(sys.executable).parent


def vectors(*parts: str) -> Path:
    """A path in ../shared/vectors, or skip the test saying what is missing (the whole
    module when a module's own definitions need it: a hypothesis strategy from samples)."""
    path = VECTORS.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"reference data {path} is absent (DCC's public vectors live in "
            "../shared/vectors beside the checkout)",
            allow_module_level=True,
        )
    return path


DUIS_TOOL = ROOT / "tools" / "npm" / "duis-tool.js"


def duis_tool(mode: str, file: Path) -> subprocess.CompletedProcess[str]:
    """DCC's npm tools (sign, validate, parse) on one DUIS file, or skip saying what is missing."""
    if not (DUIS_TOOL.parent / "node_modules" / "@smartdcc").is_dir():
        pytest.skip("DCC's npm tools are not installed (make test installs them in tools/npm)")
    if shutil.which("node") is None or shutil.which("java") is None:
        pytest.skip("node and java are needed for DCC's tools (make test installs them)")
    return subprocess.run(
        ["node", str(DUIS_TOOL), mode, str(file)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=DUIS_TOOL.parent,
    )


def rig_cli(
    *args: str,
    state: Path,
    timeout: float = 90,
    check: bool = False,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real `rig` console script against a state folder."""
    proc = subprocess.run(
        [str(BIN / "rig"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "RIG_STATE_DIR": str(state), "COLUMNS": "200", **(env or {})},
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"rig {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


@pytest.fixture
def mosquitto_bin() -> str:
    path = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(path).exists():
        pytest.skip("mosquitto is not installed (make test installs it)")
    return path


def wait_port(host: str, port: int, timeout: float = 10.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port}")


def rig_json(env: dict, *args: str, user: str = "supplier-a", timeout: float = 180) -> dict:
    """`rig ARGS --json --as USER` on the running rig ``env`` (a rig fixture's), its JSON."""
    proc = rig_cli(
        *args, "--json", "--as", user, "--rig", str(env["file"]), state=env["dir"],
        timeout=timeout,
    )  # fmt: skip
    assert proc.stdout, proc.stderr
    return json.loads(proc.stdout)


def component(state: Path, name: str) -> dict:
    """Component ``name`` of the rig whose state folder is ``state``, as `rig status --json`
    shows it (pid, health, report, ...), probed alone and in-process: cheap enough to poll
    (a `rig status` subprocess per poll loads the machine the other tests share). {} when
    the rig is not up."""
    import asyncio
    from dataclasses import asdict

    from rig.lifecycle.status import status
    from rig.state import StateDir

    current = asyncio.run(status(StateDir.open(state), only=[name]))
    return next((asdict(c) for c in current.components if c.name == name), {})


def component_detail(state: Path, name: str) -> dict:
    """What component ``name`` reports about itself (its health report's detail)."""
    from rig.lifecycle.status import node_detail
    from rig.state import StateDir

    return node_detail(StateDir.open(state), name)


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen]]:
    """Processes a test starts; each is ended by its PID afterwards."""
    procs: list[subprocess.Popen] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def wait_for(predicate, timeout: float = 30.0, every: float = 0.5):
    """Poll ``predicate`` until it is truthy or ``timeout`` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


@pytest.fixture(scope="session")
def dcc_rig(tmp_path_factory: pytest.TempPathFactory):
    """The end-to-end rig of tests/rigs/dcc.yaml, up for the whole session (shared by the
    modules that need a whole DCC path). When DCC's reference data is beside the checkout,
    the rig runs on the ZAZ1 credentials, so DCC's own tools can sign and check."""
    base = tmp_path_factory.mktemp("dcc")
    rig_file = base / "dcc.yaml"
    text = (RIGS / "dcc.yaml").read_text()
    # a subnet of its own: other tests start dcc.yaml rigs while this one stays up
    assert "subnet: 10.213.91.0/24" in text
    # RIG_TEST_SUBNET picks another (10.213.N.0/24) so two suites can run side by side
    subnet = os.environ.get("RIG_TEST_SUBNET", "10.213.92.0/24")
    text = text.replace("subnet: 10.213.91.0/24", f"subnet: {subnet}")
    zaz1 = VECTORS / "smki" / "zaz1-keystore.json"
    if zaz1.exists():
        text += f"pki: {{source: zaz1, keystore: {zaz1}}}\n"
    rig_file.write_text(text)
    yield from running_rig(rig_file, base / "state", ("esme", "gsme"))


def running_rig(rig_file: Path, state: Path, devices: tuple[str, ...]):
    """Bring the rig of ``rig_file`` up (state in ``state``), wait until ``devices`` have
    joined and opened their tunnels, yield what tests use, and bring it down after."""
    from rig.description import load_rig
    from rig.state import StateDir

    def tunnel(name: str):
        return component_detail(state, name).get("han", {}).get("tunnel")

    try:
        up = rig_cli("up", "--rig", str(rig_file), state=state, timeout=150)
        if up.returncode != 0:  # said plainly (no traceback): every test of the rig fails so
            pytest.fail(
                f"rig up ({rig_file}) exited {up.returncode}:\n{up.stdout[-3000:]}\n"
                f"{up.stderr[-3000:]}",
                pytrace=False,
            )
        # the devices have joined and opened their tunnels before the first request
        for name in devices:
            wait_for(lambda name=name: tunnel(name), 60)
        yield {
            "rig": load_rig(rig_file),
            "state": StateDir.open(state),
            "file": rig_file,
            "dir": state,
        }
    finally:
        rig_cli("down", "--rig", str(rig_file), state=state, timeout=60)


async def collect_mqtt(client, seconds: float) -> list[tuple[str, bytes]]:
    """Every (topic, payload) an aiomqtt client receives within ``seconds``."""
    import asyncio
    import contextlib

    got: list[tuple[str, bytes]] = []

    async def read() -> None:
        async for m in client.messages:
            got.append((str(m.topic), bytes(m.payload)))

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(read(), seconds)
    return got


def device_alerts(state: Path, user: str, device, since: float = 0.0) -> list[str]:
    """The alert codes ``device`` raised that reached ``user``'s inbox, each authenticated,
    in order, received at or after ``since`` (wall clock)."""
    return _alerts(state, user, "DeviceAlertMessage", since, device)


def dcc_alerts(state: Path, user: str, since: float = 0.0) -> list[str]:
    """The DCC's own alert codes (N-codes) in ``user``'s inbox since ``since``, in order."""
    return _alerts(state, user, "DCCAlertMessage", since)


def _alerts(state: Path, user: str, kind: str, since: float, device=None) -> list[str]:
    import asyncio

    import aiohttp

    from rig.dccuser.client import DccUser

    client = DccUser.from_state(state, user)

    async def read() -> list[str]:
        async with aiohttp.ClientSession() as session:
            entries = await client.inbox(session, kind=kind)
        found = []
        for e in entries:
            if Path(e["file"]).stat().st_mtime < since:
                continue
            doc = client.verify(Path(e["file"]).read_bytes())
            sender = doc.response_id.originator if doc.response_id else None
            if device is None or sender == device:
                found.append(doc.alert_code)
        return found

    return asyncio.run(read())


def start_han_capture(env, pcap: Path) -> subprocess.Popen:
    """`rig han capture` of ``env``'s rig into ``pcap`` until SIGINT (120 s is only a cap)."""
    import signal

    args = ["han", "capture", "--rig", str(env["file"]), "--seconds", "120", "--out", str(pcap)]
    return subprocess.Popen(
        [str(BIN / "rig"), *args],
        env={**os.environ, "RIG_STATE_DIR": str(env["dir"])},
        # a suite run in the background ignores SIGINT; the capture must not inherit that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def tshark_fields(env, pcap: Path, display_filter: str, *fields: str) -> list[list[str]]:
    """The frames of ``pcap`` that match ``display_filter`` (decrypted with the HAN's keys),
    each as its ``fields``."""
    import shlex

    keys = rig_cli("han", "key", "--rig", str(env["file"]), "--tshark", state=env["dir"])
    assert keys.returncode == 0, keys.stdout + keys.stderr
    args = ["tshark", "-r", str(pcap), *shlex.split(keys.stdout), "-Y", display_filter]
    args += ["-T", "fields", "-E", "separator=|"]
    for field in fields:
        args += ["-e", field]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=60).stdout
    return [line.split("|") for line in out.splitlines() if line.strip()]


def assert_joined_in_air(env, pcap: Path, device) -> None:
    """``device`` joined as the air recorded it, dissected clean by tshark: its association
    request, the hub's transport of the network key to it (APS, decrypted only with its
    install-code link key) and its device announce (under the network key)."""
    assert tshark_fields(env, pcap, "_ws.malformed", "frame.number") == []
    mac = str(device).lower().replace("-", ":")
    associate = tshark_fields(env, pcap, "wpan.cmd == 0x01", "wpan.src64")
    assert [mac] in associate, associate
    keyed = tshark_fields(
        env, pcap, "zbee_aps.cmd.id == 0x05", "zbee_aps.cmd.key_type", "zbee_aps.cmd.dst"
    )
    assert ["0x01", mac] in keyed, keyed
    announced = tshark_fields(env, pcap, "zbee_aps.zdp_cluster == 0x0013", "zbee_zdp.ext_addr")
    assert [mac] in announced, announced
