"""The HAN on a running virtual rig: joins, refusals, 1500-byte tunnel messages under loss,
the sleepy GSME's pull, a capture tshark decrypts cleanly, counters across a restart."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import BIN, component, component_detail, rig_cli, wait_for

from nodes.radio import RadioSettings
from nodes.radio.api import JoinRefused
from nodes.radio.sim.stack import SimRadio
from rig.plan.model import Plan
from rig.protocol.eui import Eui64
from rig.protocol.gbcs.frame import Cra, GbcsMessage
from rig.protocol.install_code import parse_install_code
from rig.protocol.zigbee.security import link_key_from_install_code
from rig.state import StateDir

RIG = str(Path(__file__).parent / "rigs" / "han.yaml")
ESME = "00-DB-12-34-56-78-90-A0"
GSME = "00-DB-12-34-56-78-90-A1"
CHF = Eui64.parse("00-DB-12-34-56-78-90-A2")


@pytest.fixture(scope="module")
def rig_state(tmp_path_factory: pytest.TempPathFactory):
    state = tmp_path_factory.mktemp("han") / "state"
    rig_cli("up", "--rig", RIG, state=state, check=True, timeout=120)
    yield state
    rig_cli("down", "--rig", RIG, state=state, timeout=60)


def health(state: Path, node: str) -> dict:
    comp = component(state, node)
    if comp:
        return {
            "pid": comp["pid"],
            "health": comp.get("health"),
            "detail": (comp.get("report") or {}).get("detail") or {},
        }
    raise KeyError(node)


def gbcs_command(size: int) -> bytes:
    """A structurally valid GBCS command (ECS17b, MAC'd) of exactly ``size`` bytes; its payload
    is one BER octet string, so Wireshark's GBCS dissector reads it whole."""

    def build(n: int) -> bytes:
        payload = b"\x04\x82" + n.to_bytes(2, "big") + os.urandom(n)
        msg = GbcsMessage.build(
            Cra.COMMAND,
            7,
            bytes.fromhex("90B3D51F30010000"),
            CHF.raw[:-1] + b"\xa0",
            0x0027,
            payload,
        )
        return msg.with_mac(os.urandom(12)).encode()

    return build(size - (len(build(1000)) - 1000))


def send(state: Path, device: str, message: bytes) -> bytes:
    proc = rig_cli(
        "han", "send", "--rig", RIG, "--device", device, message.hex(), state=state, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return bytes.fromhex(proc.stdout.strip())


def test_every_device_joins_with_its_install_code(rig_state: Path) -> None:
    def all_joined():
        log = health(rig_state, "chf").get("detail", {}).get("han", {}).get("device_log", [])
        return len(log) == 4 and all(e["status"] == "joined" for e in log) and log

    log = wait_for(all_joined)
    assert log, health(rig_state, "chf")
    assert {e["device_type"] for e in log} == {"ESME", "GSME", "IHD", "PPMID"}
    ihd = wait_for(
        lambda: health(rig_state, "ihd").get("detail", {}).get("display", {}).get("gas_m3")
    )
    assert ihd and ihd > 4000  # gas read by the IHD from the GPF mirror of the sleepy GSME

    def ppmid_display() -> dict | None:  # once it has read the ESME's balance
        display = health(rig_state, "ppmid")["detail"].get("display") or {}
        return display if "credit_pence" in display else None

    shown = wait_for(ppmid_display)
    assert shown, health(rig_state, "ppmid")
    # the PPMID shows the ESME's live balance (£20 at first, falling with consumption)
    balance = health(rig_state, "esme")["detail"]["balance_pence"]
    assert 0 < balance <= 2000 and abs(shown["credit_pence"] - balance) <= 2, (shown, balance)
    assert shown["electricity_kwh"] > 12_345


def test_a_device_missing_from_the_device_log_is_refused_and_logged(rig_state: Path) -> None:
    plan = Plan.load(StateDir.open(rig_state))
    rogue = Eui64.parse("00-DB-12-34-56-78-90-EE")
    radio = SimRadio(
        rogue,
        RadioSettings("rogue", air=(plan.host_address, plan.ports["zep"])),
        rig_state / "rogue-radio",
    )

    async def attempt() -> None:
        try:
            with pytest.raises(JoinRefused, match="device log"):
                await radio.join(
                    20,
                    CHF,
                    link_key_from_install_code(
                        parse_install_code("6944 3093 FF67 A29F 0052 8B64 9250 20DE E16C")
                    ),
                )
        finally:
            await radio.close()

    asyncio.run(attempt())
    refused = health(rig_state, "chf")["detail"]["han"]["refused"]
    assert rogue.duis in [r["eui"] for r in refused]
    assert "han.join_refused" in (rig_state / "logs" / "chf.log").read_text()


@pytest.mark.skipif(
    shutil.which("tshark") is None,
    reason="tshark is not installed (scripts/bootstrap.sh installs it)",
)
def test_1500_bytes_through_the_tunnel_under_loss_gsme_pull_and_a_clean_capture(
    rig_state: Path,
) -> None:
    wait_for(lambda: health(rig_state, "esme").get("detail", {}).get("han", {}).get("tunnel"), 30)
    wait_for(lambda: health(rig_state, "gsme").get("detail", {}).get("han", {}).get("tunnel"), 30)
    wait_for(lambda: health(rig_state, "ppmid").get("detail", {}).get("han", {}).get("tunnel"), 30)
    pcap = rig_state / "han-test.pcap"
    # the capture runs until the exchanges are done (SIGINT below); 120 s is only a cap, so a
    # slow, loaded machine still captures the GSME's pull at the end
    capture = subprocess.Popen(
        [str(BIN / "rig"), "han", "capture", "--rig", RIG, "--seconds", "120", "--out", str(pcap)],
        env={**os.environ, "RIG_STATE_DIR": str(rig_state)},
        # SIGINT ends it below: a suite run in the background (ignoring SIGINT, as a shell's
        # `&` makes it) must not pass that on to the capture
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        time.sleep(1)
        big = gbcs_command(1500)
        assert send(rig_state, ESME, big) == big  # CHF -> ESME -> CHF, whole
        rig_cli(
            "han", "fault", "loss", "--rig", RIG, "chf", "esme", "10%", state=rig_state, check=True
        )
        for _ in range(3):
            assert send(rig_state, ESME, big) == big
        rig_cli("han", "clear", "--rig", RIG, state=rig_state, check=True)
        # the GSME sleeps; the message waits at the CHF until its next wake
        pulled = health(rig_state, "gsme")["detail"]["pulled"]
        small = gbcs_command(300)
        started = time.monotonic()
        assert send(rig_state, GSME, small) == small
        assert time.monotonic() - started < 10
        assert health(rig_state, "gsme")["detail"]["pulled"] == pulled + 1
        assert "han.gbcs_queued" in (rig_state / "logs" / "chf.log").read_text()
        # a UTRN keyed in at the PPMID: Consumer Top Up to the ESME, which refuses this one
        keyed = rig_cli("ppmid", "topup", "1" * 20, "--json", "--rig", RIG, state=rig_state)
        assert keyed.returncode == 1, keyed.stdout + keyed.stderr
        assert json.loads(keyed.stdout)["status_name"] == "REJECTED_INVALID_TOP_UP"
    finally:
        capture.send_signal(signal.SIGINT)
        capture.wait(30)
    keys = rig_cli("han", "key", "--rig", RIG, "--tshark", state=rig_state, check=True).stdout
    args = ["tshark", "-r", str(pcap), *_shell_words(keys)]
    malformed = subprocess.run(
        [*args, "-Y", "_ws.malformed"], capture_output=True, text=True, check=True
    )
    assert malformed.stdout.strip() == "", malformed.stdout
    detail = subprocess.run([*args, "-V"], capture_output=True, text=True, check=True).stdout
    assert "Cluster: Tunneling (0x0704)" in detail
    assert "Cluster: Simple Metering (0x0702)" in detail
    assert "Request Tunnel" in detail or "Transfer Data" in detail
    assert "Transfer data command: PUT" in detail and "GET-RESPONSE" in detail
    # the PPMID's top-up and the ESME's answer, dissected as ZigBee SE Prepayment
    assert "Cluster: Pre-Payment (0x0705)" in detail
    assert "Command: Consumer Top Up (0x04)" in detail
    assert "TopUp Code: " + ":".join(["31"] * 20) in detail  # the UTRN keyed in, as ASCII
    assert "Command: Consumer Top Up Response (0x03)" in detail
    air = component_detail(rig_state, "air")
    assert air["lost"] > 0  # the 10% loss was applied


def _shell_words(text: str) -> list[str]:
    import shlex

    return shlex.split(text)


def test_nwk_counter_continues_after_a_node_restart(rig_state: Path) -> None:
    before = health(rig_state, "esme")["detail"]["han"]["nwk_frame_counter"]
    replays = health(rig_state, "chf")["detail"]["han"]["replays_dropped"]
    pid = health(rig_state, "esme")["pid"]
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: health(rig_state, "esme").get("pid") not in (None, pid), 30)
    assert wait_for(
        lambda: health(rig_state, "esme").get("detail", {}).get("han", {}).get("tunnel"), 30
    )
    after = health(rig_state, "esme")["detail"]["han"]["nwk_frame_counter"]
    assert after > before
    big = gbcs_command(200)
    assert send(rig_state, ESME, big) == big  # the CHF accepts its new frames
    # no frame of the restarted ESME looked like a replay to the CHF: no counter was reused
    assert health(rig_state, "chf")["detail"]["han"]["replays_dropped"] == replays


def test_the_han_survives_a_chf_restart(rig_state: Path) -> None:
    """The CHF loses power: back up, it still holds its devices' link keys and tunnels."""
    pid = health(rig_state, "chf")["pid"]
    os.kill(pid, signal.SIGKILL)
    # back: a new process, and healthy (listening) before the next message goes through it
    assert wait_for(
        lambda: (
            (c := health(rig_state, "chf")).get("pid") not in (None, pid)
            and c.get("health") == "healthy"
        ),
        30,
    )
    message = gbcs_command(1500)
    assert send(rig_state, ESME, message) == message
    small = gbcs_command(300)
    assert send(rig_state, GSME, small) == small
    chf_log = (rig_state / "logs" / "chf.log").read_text().split("rig supervisor: starting chf")[-1]
    assert "aps.security_failed" not in chf_log and "han.tunnel_unknown" not in chf_log
