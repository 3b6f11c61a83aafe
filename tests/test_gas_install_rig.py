"""Installing a gas meter from its box through the DCC (issue 16), on its own virtual rig
(tests/rigs/gas-install.yaml): the boxed GSME is neither in the DCC's inventory nor in the
hub's device log; 12.2 pre-notifies it (8.2: Pending) and a read of it is refused E5; 8.11
(CCS01) adds it to the hub's device log with its install code (8.2: Whitelisted); it joins
the HAN, which a capture of the air shows (tshark dissects its association and the hub's
transport of the network key to it); 8.7.1 (CS03C) joins it to the PPMID and 8.7.2 (CS03B)
to the IHD, which CS07 lists; 8.1.1 (GCS28) commissions it (8.2: Commissioned); and the
same read then answers with its gas register. Then 8.11 (CCS02) takes the IHD out of the
hub's log: the hub asks it to leave the HAN (NWK Leave, seen in the air) and refuses its
joins until 8.11 (CCS01) adds it again.
"""

from __future__ import annotations

import datetime as dt
import shutil
import signal
import time
from pathlib import Path

import pytest
from conftest import (
    assert_joined_in_air,
    device_alerts,
    running_rig,
    start_han_capture,
    tshark_fields,
    wait_for,
)
from lxml import etree

from rig.dccuser.tasks import send_request
from rig.protocol.eui import Eui64
from tests.test_install import _han_state, _node
from tests.test_inventory import _inventory_status, _serviced, _template_for

RIG = Path(__file__).parent / "rigs" / "gas-install.yaml"
GSME = Eui64.parse("00-DB-12-34-56-78-93-A1")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("gas-install")
    rig_file = base / "gas-install.yaml"
    rig_file.write_text(RIG.read_text())
    yield from running_rig(rig_file, base / "state", ("ppmid", "ihd"))


def _eui(env, name: str) -> Eui64:
    return next(n.eui for n in env["rig"].nodes if n.name == name)


def _by_gas_supplier(env, srv: str, target: str, params: dict[str, str] | None = None):
    return send_request(env["rig"], env["state"], srv, target, params or {}, user="supplier-b")


def _volume_dm3(env) -> int:
    """The GSME's own consumption register (dm3), as the node reports it."""
    return (_node(env, "gsme").get("report") or {}).get("detail", {})["volume_dm3"]


def _gsme_prenotification() -> etree._Element:
    """DCC's 12.2 template (an ESME's) made the boxed GSME's: its EUI and type, no variant."""
    body = _template_for("12.2_DEVICE_PRE_NOTIFICATION_REQUEST_DUIS.XML", GSME)
    ns = {"sr": body.nsmap["sr"]}
    body.find("sr:DeviceType", ns).text = "GSME"
    variant = body.find("sr:ESMEVariant", ns)
    if variant is not None:
        body.remove(variant)
    return body


@pytest.mark.skipif(
    shutil.which("tshark") is None,
    reason="tshark is not installed (scripts/bootstrap.sh installs it): the join is not seen",
)
def test_a_gas_meter_from_its_box_to_commissioned(env, tmp_path: Path) -> None:
    node = next(n for n in env["rig"].nodes if n.name == "gsme")
    assert node.boxed and node.install_code is not None and node.eui == GSME
    # boxed: healthy, not joined, unknown to the DCC
    assert _node(env, "gsme")["health"] == "healthy"
    assert _node(env, "gsme")["detail"] == "boxed" and _han_state(env, "gsme") == "boxed"
    assert _inventory_status(env, GSME) is None

    # 12.2 (DCC's template) by its gas supplier: Pending; a read is refused, not commissioned
    assert _serviced(env, "supplier-b", "12.2", _gsme_prenotification())[1] == "I0"
    assert _inventory_status(env, GSME) == "Pending"
    refused = _by_gas_supplier(env, "4.1.1", "gsme")
    assert refused.acknowledgement == "E5" and "Pending" in refused.reason, refused

    # 8.11 (CCS01) with its install code (DUIS carries it without its CRC), the air recorded
    pcap = tmp_path / "join.pcap"
    capture = start_han_capture(env, pcap)
    try:
        # recording once the air has sent the pcap file header (24 bytes)
        recording = wait_for(lambda: pcap.exists() and pcap.stat().st_size >= 24, 15, 0.1)
        assert recording, "rig han capture wrote no pcap header: does the air answer?"
        install_code = node.install_code[:-2].hex().upper()
        added = _by_gas_supplier(
            env,
            "8.11",
            "chf",
            {"DeviceID": GSME.duis, "InstallCode": install_code, "JoinTimePeriod": "600"},
        )
        assert added.response_code == "I0" and added.values["result"] == 0, added
        assert _inventory_status(env, GSME) == "Whitelisted"
        # it joins the HAN with its install code and opens its tunnel
        assert wait_for(lambda: _han_state(env, "gsme") == "joined", 60, 1.0)
        assert _node(env, "gsme")["detail"] != "boxed"
    finally:
        capture.send_signal(signal.SIGINT)
        capture.wait(30)
    # seen in the air, dissected clean: its association request, the hub's transport of the
    # network key to it (APS, decrypted only with its install-code link key) and its device
    # announce (under the network key)
    assert_joined_in_air(env, pcap, GSME)

    # the hub's device log (8.9) shows it joined; still refused: not commissioned
    log = _by_gas_supplier(env, "8.9", "chf")
    assert log.response_code == "I0", log
    entry = next(d for d in log.values["devices"] if d["eui"] == GSME.duis)
    assert entry["joined"], entry
    refused = _by_gas_supplier(env, "4.1.1", "gsme")
    assert refused.acknowledgement == "E5" and "Whitelisted" in refused.reason, refused

    # 8.7.1 (CS03C, Method C) joins it to the PPMID, 8.7.2 (CS03B, Method B) to the IHD
    ppmid, ihd = _eui(env, "ppmid"), _eui(env, "ihd")
    since = time.time() - 1
    joined = _by_gas_supplier(env, "8.7.1", "gsme", {"OtherDeviceID": ppmid.duis})
    assert joined.response_code == "I0", joined
    assert joined.values["use_case"] == "CS03C" and joined.values["result"] == 0, joined
    joined = _by_gas_supplier(env, "8.7.2", "gsme", {"OtherDeviceID": ihd.duis})
    assert joined.response_code == "I0", joined
    assert joined.values["use_case"] == "CS03B" and joined.values["result"] == 0, joined
    listed = _by_gas_supplier(env, "8.9", "gsme")
    assert listed.values["use_case"] == "CS07" and listed.values["result"] == 0, listed
    assert {"eui": ppmid.duis, "device_type": "PPMID"} in listed.values["devices"]
    assert {"eui": ihd.duis, "device_type": "TYPE_2"} in listed.values["devices"]
    # each join told the gas supplier (8F49, the GSME's GBZ alert, sent on its wakes)
    assert wait_for(
        lambda: device_alerts(env["dir"], "supplier-b", GSME, since).count("8F49") == 2, 30
    )

    # 8.1.1 (GCS28, critical): its clock lies in the validity interval; Commissioned
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    commissioned = _by_gas_supplier(env, "8.1.1", "gsme")
    assert commissioned.response_code == "I0", commissioned
    assert commissioned.values["result"] == 0, commissioned
    device_time = dt.datetime.fromisoformat(commissioned.values["device_time"])
    assert before - dt.timedelta(seconds=5) <= device_time <= dt.datetime.now(dt.UTC)
    assert _inventory_status(env, GSME) == "Commissioned"
    # the hub held its commands for its GETs: a sleepy device, though CCS01 gave no type
    chf_log = (env["dir"] / "logs" / "chf.log").read_text()
    assert f"han.gbcs_queued device={GSME.duis}" in chf_log

    # the read refused before now answers with its gas register, as the meter counts it
    low = _volume_dm3(env)
    read = _by_gas_supplier(env, "4.1.1", "gsme")
    assert read.response_code == "I0", read
    assert read.values["use_case"] == "GCS13a", read
    assert low <= read.values["volume_m3"] * 1000 <= _volume_dm3(env), read


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_a_device_removed_from_the_hubs_log_leaves_the_han_until_added_again(
    env, tmp_path: Path
) -> None:
    """8.11 CCS02 takes the IHD out of the CHF's device log: the CHF asks it to leave the
    HAN (a NWK Leave request under the network key; the IHD answers with its Leave
    indication), and its joins are refused from then on. 8.11 CCS01 with its install code
    lets it join again."""
    ihd = next(n for n in env["rig"].nodes if n.name == "ihd")
    assert ihd.install_code is not None
    assert _han_state(env, "ihd") == "joined"
    pcap = tmp_path / "leave.pcap"
    capture = start_han_capture(env, pcap)
    try:
        assert wait_for(lambda: pcap.exists() and pcap.stat().st_size >= 24, 15, 0.1)
        removed = _by_gas_supplier(env, "8.11", "chf", {"DeviceID": ihd.eui.duis,
                                                         "RequestType": "Remove"})  # fmt: skip
        assert removed.response_code == "I0" and removed.values["result"] == 0, removed
        # off the HAN: it left, and its joins are refused (not in the device log)
        assert wait_for(lambda: _han_state(env, "ihd") in ("left", "not joined"), 30, 0.5)
        time.sleep(3)  # a join attempt or more: refused, it stays off
        assert _han_state(env, "ihd") in ("left", "not joined")
    finally:
        capture.send_signal(signal.SIGINT)
        capture.wait(30)
    mac = str(ihd.eui).lower().replace("-", ":")
    assert tshark_fields(env, pcap, "_ws.malformed", "frame.number") == []
    leaves = tshark_fields(
        env, pcap, "zbee_nwk.cmd.id == 0x04", "zbee_nwk.cmd.leave.request",
        "zbee_nwk.cmd.leave.rejoin", "zbee_nwk.dst64", "zbee_nwk.src64",
    )  # fmt: skip
    chf = str(next(n.eui for n in env["rig"].nodes if n.name == "chf")).lower().replace("-", ":")
    assert ["1", "0", mac, chf] in leaves, leaves  # the CHF's request to the IHD
    assert ["0", "0", "", mac] in leaves, leaves  # the IHD's indication, broadcast

    added = _by_gas_supplier(
        env,
        "8.11",
        "chf",
        {"DeviceID": ihd.eui.duis, "InstallCode": ihd.install_code[:-2].hex().upper(),
         "JoinTimePeriod": "600"},
    )  # fmt: skip
    assert added.response_code == "I0" and added.values["result"] == 0, added
    assert wait_for(lambda: _han_state(env, "ihd") == "joined", 60, 1.0)
