"""Installing a device from its box (issue 16, so far): a node with `install: boxed` is on
the bench and powered but neither in the DCC's inventory nor in the hub's device log, and
`rig status` shows it "boxed"; 12.2 pre-notifies it (Pending); 8.11 adds it to the CHF's
device log with its install code (CCS01), which the DCC records as Whitelisted once the
hub answers success; the meter then joins the HAN with its install code, and the hub's
device log (8.9) shows it joined. A read of it is still refused E5 (not commissioned) until
8.1.1 (ECS70) commissions it: 8.2 then shows it Commissioned, and the read answers.

On the running rig of tests/rigs/dcc.yaml, whose esme2 is boxed (run once per session: the
meter is installed afterwards).
"""

from __future__ import annotations

import datetime as dt
import shutil
import signal
import time

import pytest
from conftest import (
    assert_joined_in_air,
    component,
    device_alerts,
    start_han_capture,
    wait_for,
)

from rig.dccuser.tasks import send_request
from rig.description import DescriptionError, parse_rig
from rig.protocol.eui import Eui64
from tests.test_description import GOOD, IC, add_node
from tests.test_inventory import _inventory_status, _serviced, _template_for

ESME2 = Eui64.parse("00-DB-12-34-56-78-90-B0")
PPMID = Eui64.parse("00-DB-12-34-56-78-90-A4")
IHD = Eui64.parse("00-DB-12-34-56-78-90-A5")


# --- the description ------------------------------------------------------------------------
def test_a_boxed_meter_is_a_second_meter_a_hub_may_have() -> None:
    boxed = f"{{name: gsme2, role: gsme, eui: 00-DB-12-34-56-78-90-B1, install_code: {IC}, "
    rig = parse_rig(add_node(GOOD, boxed + "install: boxed}"))
    assert [n.boxed for n in rig.nodes if n.name == "gsme2"] == [True]
    with pytest.raises(DescriptionError, match="'wrapped': write one of installed, boxed"):
        parse_rig(add_node(GOOD, boxed + "install: wrapped}"))
    with pytest.raises(DescriptionError, match="a chf is not boxed"):
        parse_rig(GOOD.replace("role: chf,", "role: chf, install: boxed,", 1))


# --- on the running rig ---------------------------------------------------------------------
def _node(env, name: str) -> dict:
    return component(env["dir"], name)


def _han_state(env, name: str) -> str | None:
    detail = (_node(env, name).get("report") or {}).get("detail") or {}
    return (detail.get("han") or {}).get("state")


@pytest.mark.skipif(
    shutil.which("tshark") is None,
    reason="tshark is not installed (scripts/bootstrap.sh installs it): the join is not seen",
)
def test_from_the_box_to_the_hans_device_log(dcc_rig, tmp_path) -> None:
    env = dcc_rig
    rig, state = env["rig"], env["state"]
    node = next(n for n in rig.nodes if n.name == "esme2")
    assert node.boxed and node.install_code is not None
    # boxed: healthy, not joined, unknown to the DCC
    assert _node(env, "esme2")["health"] == "healthy"
    assert _node(env, "esme2")["detail"] == "boxed" and _han_state(env, "esme2") == "boxed"
    assert _inventory_status(env, ESME2) is None

    # 12.2: Pending
    body = _template_for("12.2_DEVICE_PRE_NOTIFICATION_REQUEST_DUIS.XML", ESME2)
    assert _serviced(env, "supplier-a", "12.2", body)[1] == "I0"
    assert _inventory_status(env, ESME2) == "Pending"

    # 8.11 (CCS01): the hub adds it with its install code (DUIS carries it without its CRC),
    # the air recorded
    pcap = tmp_path / "join.pcap"
    capture = start_han_capture(env, pcap)
    try:
        recording = wait_for(lambda: pcap.exists() and pcap.stat().st_size >= 24, 15, 0.1)
        assert recording, "rig han capture wrote no pcap header: does the air answer?"
        install_code = node.install_code[:-2].hex().upper()
        added = send_request(
            rig,
            state,
            "8.11",
            "chf",
            {"DeviceID": ESME2.duis, "InstallCode": install_code, "JoinTimePeriod": "600"},
            user="supplier-a",
        )
        assert added.response_code == "I0" and added.values["result"] == 0, added
        assert _inventory_status(env, ESME2) == "Whitelisted"
        # it joins the HAN with its install code
        assert wait_for(lambda: _han_state(env, "esme2") == "joined", 60, 1.0)
        assert _node(env, "esme2")["detail"] != "boxed"
    finally:
        capture.send_signal(signal.SIGINT)
        capture.wait(30)
    # seen in the air: its association, the key transported to it, its announce
    assert_joined_in_air(env, pcap, ESME2)
    log = send_request(rig, state, "8.9", "chf", {}, user="supplier-a")
    assert log.response_code == "I0", log
    entry = next(d for d in log.values["devices"] if d["eui"] == ESME2.duis)
    assert entry["joined"], entry

    # not commissioned yet: a meter read is refused E5
    read = send_request(rig, state, "4.1.1", "esme2", {}, user="supplier-a")
    assert read.acknowledgement == "E5", read

    # the join service (8.7.1 with the PPMID: CS03A1; 8.7.2 with the IHD: CS03B); the meter
    # lists both (8.9: CS07) and tells its supplier each time (8F49)
    since = time.time() - 1
    for srv, other, use_case in (("8.7.1", PPMID, "CS03A1"), ("8.7.2", IHD, "CS03B")):
        joined = send_request(rig, state, srv, "esme2", {"OtherDeviceID": other.duis})
        assert joined.response_code == "I0", joined
        assert (joined.values["use_case"], joined.values["result"]) == (use_case, 0), joined
    listed = send_request(rig, state, "8.9", "esme2", {}, user="supplier-a")
    assert {d["eui"] for d in listed.values["devices"]} >= {PPMID.duis, IHD.duis}, listed
    assert wait_for(
        lambda: device_alerts(env["dir"], "supplier-a", ESME2, since).count("8F49") == 2, 30
    )

    # 8.1.1 (ECS70, critical: the DCC User signs the pre-command): the meter's clock lies in
    # the validity interval, so it answers success, and the DCC records it Commissioned
    before = dt.datetime.now(dt.UTC)
    commissioned = send_request(rig, state, "8.1.1", "esme2", {}, user="supplier-a")
    assert commissioned.response_code == "I0", commissioned
    assert commissioned.values["result"] == 0 and commissioned.values["clock_status"] == 0
    device_time = dt.datetime.fromisoformat(commissioned.values["device_time"])
    assert before - dt.timedelta(seconds=5) <= device_time <= dt.datetime.now(dt.UTC)
    assert _inventory_status(env, ESME2) == "Commissioned"

    # now a read answers, with its registers
    read = send_request(rig, state, "4.1.1", "esme2", {}, user="supplier-a")
    assert read.response_code == "I0", read
    assert read.values["active_import_wh"] >= 0 and "reactive_import_varh" in read.values


def test_activating_an_image_the_meter_does_not_hold_changes_nothing(dcc_rig) -> None:
    """11.3 (CS06, critical, ASN.1) through the DCC to the ESME, for an image it was never
    sent: answered (I0) with result 1 and the running version, which 11.2 still reads."""
    rig, state = dcc_rig["rig"], dcc_rig["state"]
    before = send_request(rig, state, "11.2", "esme", {}, user="supplier-a")
    assert before.response_code == "I0", before
    activation = send_request(
        rig, state, "11.3", "esme", {"FirmwareHash": "AB" * 32}, user="supplier-a"
    )
    assert activation.response_code == "I0", activation
    assert activation.values["result"] == 1
    assert activation.values["firmware_version"] == before.values["firmware_version"]
    after = send_request(rig, state, "11.2", "esme", {}, user="supplier-a")
    assert after.values["firmware_version"] == before.values["firmware_version"]


def test_the_gsmes_clock_answers_commissioning(dcc_rig) -> None:
    """8.1.1 for a GSME (GCS28, critical, ASN.1) through the DCC and the hub: the gas meter
    answers 0 with its time, which lies in the validity interval."""
    rig, state = dcc_rig["rig"], dcc_rig["state"]
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    outcome = send_request(rig, state, "8.1.1", "gsme", {})  # from its supplier
    assert outcome.response_code == "I0", outcome
    assert outcome.values["result"] == 0
    device_time = dt.datetime.fromisoformat(outcome.values["device_time"])
    assert before - dt.timedelta(seconds=5) <= device_time <= dt.datetime.now(dt.UTC)
