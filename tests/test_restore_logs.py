"""Restoring device logs (issue 16), byte for byte as RTDS 4.5.0 has them: 8.12.1 Restore HAN
Device Log (CCS03, to the CHF) and 8.12.2 Restore GPF Device Log (GCS59, to the GPF).

The DCC restores what it holds of the failed device's log (gateway.transform.restore's
archive). The transforms rebuild RTDS's commands from DCC's templates, MAC included; the
fields stated, not rebuilt: the counters (CCS03's and GCS59's ACB counters, RTDS's) and the
failed device's log, which the archive is given as RTDS's command carries it (RTDS's CS14
then shows the archive restores a reported backup).

The CHF in-process answers RTDS's CCS03 as RTDS does but for the MAC (its private key is
not public: see tests/test_chf_device_log.py), lists the restored devices in 8.9 (CCS06,
CCS07, with their TC link key hashes) and after a restart, lets one join once 8.11 gives
its install code, and refuses a restore into a log that is not empty (RTDS's error
answer). The GPF in-process answers RTDS's GCS59 as RTDS does but for the MAC, and keeps
the restored entries across a restart.

The wiring: the uplink archives a hub's own CS14 (and delivers it to no DCC User), a CCS07
answer and a GPF's GCS59 answer; the suppliers of a hub's meters answer for its GPF; the
DCC User builds DCC's 8.12 bodies. On the running rig (tests/rigs/dcc.yaml, one hub): 8.9
archives the hub's log as it answered; `rig supplier send 8.12.2` restores a failed hub's
GPF log (put in the DCC's archive: the rig has no second hub) into the hub's GPF, I0 and
the GPF's answer decoded, which the DCC then keeps as that GPF's log; 8.12.1 to the hub in
service is sent (CCS03) and refused by the hub, as RTDS's ERROR answer has it.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import component_detail, rig_cli, vectors, wait_for
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree

from gateway.config import DeviceConfig
from gateway.inventory import Inventory
from gateway.store import STORE_FILE, Store
from gateway.transform import TransformInput, served, transform_for
from gateway.transform.registry import TransformRefused
from gateway.transform.restore import LogArchive, use_archive
from gateway.uplink import Uplink
from nodes.config import GbcsConfig, TrustedCert
from nodes.roles.chf import GbcsEndpoint, GpfDeviceLog  # the node's import order
from rig.dccuser.readers import read
from rig.protocol.duis.bodies import request_body
from rig.protocol.duis.xml import text
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import dlms, security
from rig.protocol.gbcs.catalogue import CATALOGUE
from rig.protocol.gbcs.catalogue_chf import CCS01, CCS06, CCS07, LogBackup
from rig.protocol.gbcs.catalogue_credentials import RemotePartyRole
from rig.protocol.gbcs.catalogue_restore import (
    CCS03,
    GCS59,
    GpfEntry,
    RestorePan,
    gpf_restore_entries,
    gpf_restore_results,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.reading import access_response
from rig.protocol.gbcs.usecase import check_command, for_unknown_remote_party, given_argument
from rig.protocol.smki import Usage
from rig.runtime.records import KeyPair
from tests.test_chf_device_log import ACB, CHF, SUPPLIER, Hub, _acb_command, _pem_key
from tests.test_gas_prepayment import _rtds, _template, store  # noqa: F401 (store: a fixture)

GPF = Eui64.parse("00-DB-12-34-56-78-90-A3")
OLD_CHF = Eui64.parse("00-DB-12-34-56-78-90-95")  # the templates' failed devices
OLD_GPF = Eui64.parse("00-DB-12-34-56-78-90-B3")
A0, A1 = Eui64.parse("00-DB-12-34-56-78-90-A0"), Eui64.parse("00-DB-12-34-56-78-90-A1")
CCS03_RTDS = "8.12.1_CCS03/CCS03_8.12.1"
GCS59_RTDS = "8.12.2_GCS59/GCS59_8.12.2"


def _rtds_restore_pan(name: str) -> RestorePan:
    argument = given_argument(CCS03, _rtds(name).payload)
    assert isinstance(argument, dict)
    return RestorePan.from_data(argument["log"])


@pytest.fixture
def archive() -> Iterator[LogArchive]:
    """The DCC's archive, holding the failed CHF's and GPF's logs as RTDS's commands carry
    them."""
    kept = LogArchive(sqlite3.connect(":memory:"))
    pan = _rtds_restore_pan(f"{CCS03_RTDS}_SUCCESS_COMMAND")
    kept.keep_chf(OLD_CHF, LogBackup(b"\xff" * 12, pan.extended_pan_id, pan.devices))
    kept.keep_gpf(OLD_GPF, gpf_restore_entries(_rtds(f"{GCS59_RTDS}_SUCCESS_COMMAND").payload))
    use_archive(kept)
    yield kept
    use_archive(None)


def _ccs03(template: str, acb_counter: int, request_counter: int | None = None) -> GbcsMessage:
    """What the DCC sends for DCC's template (the downlink's path for an ACB-originated use
    case: the ACB's counter, the User's RequestID counter, or ``request_counter``)."""
    request = _template(template)
    fn = transform_for(CCS03)
    assert fn is not None
    ours = fn(CCS03, TransformInput(request, acb_counter, SUPPLIER, CHF))
    counter = request_counter or request.request_id.counter
    return for_unknown_remote_party(ours, ACB.raw, acb_counter, counter, None)


# --- the DCC's transforms, byte for byte ----------------------------------------------------
def test_ccs03_is_rtdss_command_mac_included(store, archive) -> None:
    assert served(CATALOGUE, "8.12.1", "CHF") is CCS03 and CCS03.acb_originated
    acb = store.private(ACB, Usage.KA).private_key
    for name in ("SUCCESS", "ERROR"):  # the same restore, with RTDS's next counters
        expected = _rtds(f"{CCS03_RTDS}_{name}_COMMAND")
        h = expected.header  # stated: the ACB's counter and (ERROR) the User's, 1003
        ours = _ccs03("CCS03_8.12.1_SUCCESS", h.counter, h.other.remote_party_counter)
        maced = security.apply_mac(ours, acb, store.get(CHF, Usage.KA).public_key)
        assert maced.encode() == expected.encode()
        assert check_command(expected, CATALOGUE) is CCS03


def test_gcs59_is_rtdss_command_mac_included(store, archive) -> None:
    assert served(CATALOGUE, "8.12.2", "GPF") is GCS59 and GCS59.acb_own
    assert not GCS59.acb_originated  # RTDS's names no DCC User: the ACB's own command
    expected = _rtds(f"{GCS59_RTDS}_SUCCESS_COMMAND")
    request = _template("GCS59_8.12.2_SUCCESS")
    fn = transform_for(GCS59)
    assert fn is not None
    ours = fn(GCS59, TransformInput(request, expected.header.counter, ACB, GPF))  # the ACB's
    acb = store.private(ACB, Usage.KA).private_key
    maced = security.apply_mac(ours, acb, store.get(GPF, Usage.KA).public_key)
    assert maced.encode() == expected.encode()
    assert check_command(expected, CATALOGUE) is GCS59


def test_the_archive_restores_a_reported_backup_and_keeps_it(tmp_path: Path) -> None:
    alert = dlms.decode(_rtds("NA_CS14/CS14_NA_8F12_ALERT").payload)
    assert isinstance(alert, dlms.DataNotification)
    reported = LogBackup.from_data(alert.body.value[2])
    path = tmp_path / "gateway.sqlite"
    db = sqlite3.connect(path)
    LogArchive(db).keep_chf(OLD_CHF, reported)
    db.commit()
    db.close()
    again = LogArchive(sqlite3.connect(path))  # a gateway restart
    assert again.chf_log(OLD_CHF) == RestorePan(reported.extended_pan_id, reported.devices)
    assert again.chf_log(CHF) is None and again.gpf_log(OLD_GPF) is None


def test_a_restore_from_a_log_the_dcc_does_not_hold_is_refused(archive) -> None:
    use_archive(LogArchive(sqlite3.connect(":memory:")))  # it holds nothing
    with pytest.raises(TransformRefused, match="holds no CHF device log backup") as unknown:
        _ccs03("CCS03_8.12.1_SUCCESS", 1)
    assert unknown.value.code == "E19"
    request = _template("CCS03_8.12.1_SUCCESS")
    fn = transform_for(CCS03)
    assert fn is not None
    with pytest.raises(TransformRefused, match="names the target") as itself:
        fn(CCS03, TransformInput(request, 1, SUPPLIER, OLD_CHF))
    assert itself.value.code == "E100"


def test_rtdss_answers_decode_and_the_dcc_user_reads_them(store) -> None:
    ok = read(_rtds(f"{CCS03_RTDS}_SUCCESS_RESPONSE"))
    refused = read(_rtds(f"{CCS03_RTDS}_ERROR_RESPONSE"))
    assert (ok["use_case"], ok["result"], refused["result"]) == ("CCS03", 0, 1)
    answer = _rtds(f"{GCS59_RTDS}_SUCCESS_RESPONSE")
    results = gpf_restore_results(answer.payload)
    assert [(Eui64(e.eui).duis, e.device_type, c) for e, c in results] == [
        ("00-11-22-33-44-55-66-77", 5, 0),
        ("88-99-AA-BB-CC-DD-EE-FF", 6, 0),
    ]
    acb = store.private(ACB, Usage.KA).private_key
    out = read(answer, user_ka=acb, device_ka=store.get(GPF, Usage.KA).public_key)
    assert out["result"] == 0 and [e["device_type"] for e in out["entries"]] == [5, 6]


# --- the CHF in-process ---------------------------------------------------------------------
def _keys(tmp: Path, name: str) -> tuple[GbcsConfig, ec.EllipticCurvePrivateKey]:
    """A device's own keys (its private keys are not public) and the ACB's trust anchor cell."""
    ka = _pem_key(tmp / f"{name}-ka.key")
    _pem_key(tmp / f"{name}-ds.key")
    acb_cert = vectors("gbcs", "rtds-keystore") / "90b3d51f30000002-ka.pem"
    keys = GbcsConfig(
        KeyPair(tmp / f"{name}-ds.key", tmp / f"{name}-ds.key"),
        KeyPair(tmp / f"{name}-ka.key", tmp / f"{name}-ka.key"),
        ACB,
        (TrustedCert(ACB, Usage.KA, acb_cert, RemotePartyRole.ACCESS_CONTROL_BROKER),),
    )
    return keys, ka


def _hub(tmp: Path, store, devices: tuple[Eui64, ...] = ()) -> Hub:
    """A CHF in-process (started again on the same state: a restart) whose GBCS end holds
    the ACB's trust anchor cell."""
    hub = Hub(tmp, store, devices)
    keys, hub.ka = _keys(tmp, "chf")
    (tmp / "chf-gbcs").mkdir(exist_ok=True)
    hub.node.gbcs = GbcsEndpoint(CHF, "CHF", keys, tmp / "chf-gbcs")
    return hub


def _read_log(hub: Hub, counter: int) -> tuple[list[dict], list[dict]]:
    """8.9 to the CHF: its log as CCS06 lists it, and as CCS07 backs it up."""
    (listed,) = hub.ask(_acb_command(CCS06, "CCS06_8.9_SUCCESS", counter))
    (both,) = hub.ask(_acb_command(CCS07, "CCS07_8.9_SUCCESS", counter + 1))
    return hub.read(listed)["devices"], hub.read(both)["device_log"]["devices"]


def test_the_chf_restores_an_empty_log_as_rtds_answers(tmp_path, store) -> None:
    hub = _hub(tmp_path, store)
    answer, alert = hub.ask(_rtds(f"{CCS03_RTDS}_SUCCESS_COMMAND"))
    rtds = _rtds(f"{CCS03_RTDS}_SUCCESS_RESPONSE")
    assert answer.without_mac().encode() == rtds.without_mac().encode()
    restored = _rtds_restore_pan(f"{CCS03_RTDS}_SUCCESS_COMMAND")
    hashes = [(Eui64(e).duis, h.hex().upper()) for e, h in restored.devices]
    changed = hub.read(alert)
    assert changed["alert_code"] == "8F12"
    assert [(d["eui"], d["hashed_tc_link_key"]) for d in changed["device_log"]["devices"]] == (
        hashes
    )
    for again, counter in ((hub, 2000), (_hub(tmp_path, store), 2010)):  # and after a restart
        listed, backed_up = _read_log(again, counter)
        assert [(d["eui"], d["registered"], d["joined"]) for d in listed] == [
            (A0.duis, True, False),
            (A1.duis, True, False),
        ]
        assert [(d["eui"], d["hashed_tc_link_key"]) for d in backed_up] == hashes
    assert again.node.restored.extended_pan_id == restored.extended_pan_id.hex().upper()


def test_a_restored_device_joins_once_its_install_code_is_given(tmp_path, store) -> None:
    hub = _hub(tmp_path, store)
    hub.ask(_rtds(f"{CCS03_RTDS}_SUCCESS_COMMAND"))
    assert hub.node.device_log.authorize(A0, 0) is None  # a hash gives no key back
    added, _ = hub.ask(_acb_command(CCS01, "CCS01_8.11_SUCCESS", 2000))  # A0's install code
    assert hub.read(added)["result"] == 0
    assert hub.node.device_log.authorize(A0, 0) is not None
    assert A0 not in hub.node.restored.devices and A1 in hub.node.restored.devices
    listed, _ = _read_log(hub, 2001)
    assert sorted(d["eui"] for d in listed) == [A0.duis, A1.duis]  # each once


def test_the_chf_refuses_to_restore_into_a_log_that_is_not_empty(tmp_path, store) -> None:
    hub = _hub(tmp_path, store)
    hub.ask(_rtds(f"{CCS03_RTDS}_SUCCESS_COMMAND"))
    (refused,) = hub.ask(_rtds(f"{CCS03_RTDS}_ERROR_COMMAND"))  # no CS14: nothing changed
    rtds = _rtds(f"{CCS03_RTDS}_ERROR_RESPONSE")
    assert refused.without_mac().encode() == rtds.without_mac().encode()
    (tmp_path / "seeded").mkdir()
    seeded = _hub(tmp_path / "seeded", store, (A0,))  # the rig description's device
    (also,) = seeded.ask(_rtds(f"{CCS03_RTDS}_SUCCESS_COMMAND"))
    assert seeded.read(also)["result"] == 1 and seeded.node.restored.devices == {}


# --- the GPF in-process ---------------------------------------------------------------------
def _gpf(hub: Hub, tmp: Path) -> ec.EllipticCurvePrivateKey:
    """The GPF's GBCS end on ``hub``, hosting GPF 00-DB-12-34-56-78-90-A3; its KA key."""
    hub.node.config = replace(hub.node.config, gpf_eui=GPF)
    keys, ka = _keys(tmp, "gpf")
    (tmp / "gpf").mkdir(exist_ok=True)
    hub.node.gpf_gbcs = GbcsEndpoint(GPF, "GPF", keys, tmp / "gpf")
    return ka


def test_the_gpf_restores_its_log_as_rtds_answers(tmp_path, store) -> None:
    hub = _hub(tmp_path, store)
    ka = _gpf(hub, tmp_path)
    command = _rtds(f"{GCS59_RTDS}_SUCCESS_COMMAND")
    acb = store.private(ACB, Usage.KA).private_key
    maced = security.apply_mac(command.without_mac(), acb, ka.public_key())
    hub.wan.up.clear()
    asyncio.run(hub.node._from_wan(maced.encode()))
    (answer,) = hub.wan.up
    security.verify_mac(answer, acb, ka.public_key())
    rtds = _rtds(f"{GCS59_RTDS}_SUCCESS_RESPONSE")
    assert answer.without_mac().encode() == rtds.without_mac().encode()
    wanted = {Eui64(e.eui): e.device_type for e in gpf_restore_entries(command.payload)}
    assert hub.node.gpf_log.entries == wanted
    kept = GpfDeviceLog.load(tmp_path / "gpf-device-log.json")  # a restart of the CHF
    assert kept.entries == wanted


def test_a_gpf_entry_logged_with_another_device_type_is_not_restored(tmp_path, store) -> None:
    hub = _hub(tmp_path, store)
    ka = _gpf(hub, tmp_path)
    command = _rtds(f"{GCS59_RTDS}_SUCCESS_COMMAND")
    first, second = gpf_restore_entries(command.payload)
    hub.node.gpf_log.entries[Eui64(first.eui)] = second.device_type  # joined as an IHD
    acb = store.private(ACB, Usage.KA).private_key
    maced = security.apply_mac(command.without_mac(), acb, ka.public_key())
    asyncio.run(hub.node._from_wan(maced.encode()))
    (answer,) = hub.wan.up
    codes = [c for _, c in gpf_restore_results(answer.payload)]
    assert codes == [3, 0]  # as a join answers: in the log with another device type
    assert hub.node.gpf_log.entries[Eui64(first.eui)] == second.device_type


def test_without_the_gpfs_keys_a_command_to_it_is_dropped(tmp_path, store) -> None:
    hub = _hub(tmp_path, store)
    hub.node.config = replace(hub.node.config, gpf_eui=GPF)
    hub.wan.up.clear()
    asyncio.run(hub.node._from_wan(_rtds(f"{GCS59_RTDS}_SUCCESS_COMMAND").encode()))
    assert hub.wan.up == [] and hub.node.gpf_log.entries == {}


# --- the wiring: what the DCC archives, who may restore, the request bodies ------------------
def _uplink(path: Path, devices: tuple[DeviceConfig, ...]) -> tuple[Uplink, Store]:
    """The gateway's uplink over a real store and inventory, archiving into that store; no
    DCC User (a CS14 is for the ACB: nothing is queued, so no outbox is reached)."""
    kept = Store(path)
    inventory = Inventory(kept.db, devices)
    uplink = Uplink(kept, {}, None, None, inventory, LogArchive(kept.db))  # type: ignore[arg-type]
    return uplink, kept


def test_the_uplink_archives_a_hubs_cs14_and_delivers_it_to_no_one(tmp_path: Path) -> None:
    cs14 = _rtds("NA_CS14/CS14_NA_8F12_ALERT")
    assert Eui64(cs14.header.originator) == CHF and Eui64(cs14.header.recipient) == ACB
    uplink, kept = _uplink(tmp_path / "g.sqlite", (DeviceConfig(CHF, "CHF", CHF),))
    other_hub = Eui64.parse("00-DB-12-34-56-78-91-A2")
    asyncio.run(uplink.on_uplink(other_hub, cs14.encode()))  # not that hub's own log
    assert LogArchive(kept.db).chf_log(CHF) is None
    asyncio.run(uplink.on_uplink(CHF, cs14.encode()))
    apdu = dlms.decode(cs14.payload)
    assert isinstance(apdu, dlms.DataNotification)
    reported = LogBackup.from_data(apdu.body.value[2])
    held = LogArchive(kept.db).chf_log(CHF)
    assert held == RestorePan(reported.extended_pan_id, reported.devices) and held.devices
    assert kept.db.execute("SELECT COUNT(*) FROM outbox").fetchone() == (0,)  # for no User
    kept.close()


def test_the_archive_keeps_a_ccs07_answer_and_a_gcs59_answer(tmp_path: Path) -> None:
    kept = LogArchive(sqlite3.connect(":memory:"))
    ccs07 = _rtds("8.9_CCS07/CCS07_8.9_SUCCESS_RESPONSE")
    assert kept.keep_reported(OLD_CHF, ccs07) is None  # another hub's answer
    assert kept.keep_reported(CHF, _rtds("8.9_CCS07/CCS07_8.9_ERROR_RESPONSE")) is None
    assert kept.keep_reported(CHF, ccs07) == "CHF"
    answer = access_response(ccs07)
    backup = LogBackup.from_data(answer.data[0])
    assert kept.chf_log(CHF) == RestorePan(backup.extended_pan_id, backup.devices)
    gcs59 = _rtds(f"{GCS59_RTDS}_SUCCESS_RESPONSE")
    earlier = GpfEntry(A0.raw, 0)  # a GSME the DCC held in that GPF's log already
    kept.keep_gpf(GPF, (earlier,))
    assert kept.keep_reported(CHF, gcs59) == "GPF"
    restored = [e for e, _ in gpf_restore_results(gcs59.payload)]
    assert kept.gpf_log(GPF) == (earlier, *restored)


def test_the_suppliers_of_the_meters_on_a_hub_answer_for_its_gpf_too() -> None:
    from gateway.admission import hub_suppliers

    gas = Eui64.parse("90-B3-D5-1F-30-03-00-00")
    devices = {
        d.eui: d
        for d in (
            DeviceConfig(CHF, "CHF", CHF),
            DeviceConfig(GPF, "GPF", CHF),
            DeviceConfig(A0, "ESME", CHF, supplier=SUPPLIER),
            DeviceConfig(A1, "GSME", CHF, supplier=gas),
            DeviceConfig(OLD_GPF, "GPF", OLD_CHF),  # a GPF on a hub with no meter
        )
    }
    assert hub_suppliers(devices[GPF], devices) == {SUPPLIER, gas}
    assert hub_suppliers(devices[OLD_GPF], devices) == set()


def _elements(body: etree._Element) -> list[tuple[str, str, str | None]]:
    """A DUIS body as its elements: namespace, name and text, in document order."""
    return [
        (q.namespace or "", q.localname, (e.text or "").strip() or None)
        for e in body.iter()
        if (q := etree.QName(e))
    ]


@pytest.mark.parametrize(
    ("srv", "template", "element"),
    [
        ("8.12.1", "CCS03_8.12.1_SUCCESS", "OldCHFID"),
        ("8.12.2", "GCS59_8.12.2_SUCCESS", "OldGPFID"),
    ],
)
def test_the_dcc_user_builds_dccs_restore_bodies(srv: str, template: str, element: str) -> None:
    theirs = _template(template).body
    given = text(theirs, f"sr:{element}")
    assert given
    ours = request_body(srv, None, None, {element: given.replace("-", "")})
    assert _elements(ours) == _elements(theirs)
    with pytest.raises(KeyError, match=f"needs {element}"):
        request_body(srv, None, None, {})


# --- on the running rig (tests/rigs/dcc.yaml) -------------------------------------------------
FAILED_GPF = Eui64.parse("00-DB-12-34-56-78-9F-A3")  # a replaced hub's GPF: no node of the rig
FAILED_CHF = Eui64.parse("00-DB-12-34-56-78-9F-A2")


def _send_cli(env, srv: str, target: str, *params: str) -> dict:
    args = [a for p in params for a in ("--param", p)]
    proc = rig_cli(
        "supplier", "send", srv, "--target", target, *args, "--json",
        "--rig", str(env["file"]), state=env["dir"], timeout=120,
    )  # fmt: skip
    out = json.loads(proc.stdout or "{}")
    assert out, proc.stdout + proc.stderr
    return out


def _gateway_archive(env) -> LogArchive:
    """The archive in the running gateway's store (WAL: read and written beside it)."""
    path = env["state"].component("gateway") / "data" / STORE_FILE
    return LogArchive(sqlite3.connect(path, isolation_level=None, timeout=10))


def _gpf_log_on_the_hub(env) -> list[dict]:
    return component_detail(env["dir"], "chf")["han"]["gpf_device_log"]


def test_the_dcc_archives_the_hubs_log_and_restores_a_failed_gpfs(dcc_rig) -> None:
    env = dcc_rig
    rig = env["rig"]
    chf, gpf = rig.node("chf").eui, rig.node("chf").gpf_eui
    ppmid, ihd = rig.node("ppmid").eui, rig.node("ihd").eui
    # 8.9 with ReadSecurityDetails (CCS07): the DCC keeps the hub's log as it answered
    both = _send_cli(env, "8.9", "chf", "ReadSecurityDetails=true")
    assert both.get("response_code") == "I0" and both["values"]["use_case"] == "CCS07", both
    answered = both["values"]["device_log"]
    archive = _gateway_archive(env)
    held = wait_for(lambda: archive.chf_log(chf))
    assert held is not None and Eui64(held.extended_pan_id).duis == answered["extended_pan_id"]
    assert [(Eui64(e).duis, h.hex().upper()) for e, h in held.devices] == [
        (d["eui"], d["hashed_tc_link_key"]) for d in answered["devices"]
    ]
    # a failed hub's GPF whose log the DCC holds: its PPMID and IHD (as RTDS's GCS59 has them)
    log = (GpfEntry(ppmid.raw, 5), GpfEntry(ihd.raw, 6))
    archive.keep_gpf(FAILED_GPF, log)
    unknown = _send_cli(env, "8.12.2", "chf-gpf", f"OldGPFID={FAILED_CHF.duis}")
    assert unknown["acknowledgement"] == "E19", unknown  # the DCC holds no such log
    out = _send_cli(env, "8.12.2", "chf-gpf", f"OldGPFID={FAILED_GPF.duis}")
    assert (out["acknowledgement"], out.get("response_code")) == ("I99", "I0"), out
    values = out["values"]
    assert values["use_case"] == "GCS59" and values["result"] == 0, values
    assert [(e["eui"], e["device_type"], e["join_response"]) for e in values["entries"]] == [
        (ppmid.duis, 5, 0),
        (ihd.duis, 6, 0),
    ]
    # the GPF holds them, and the DCC now holds the new GPF's log
    assert [(e["eui"], e["device_type"]) for e in _gpf_log_on_the_hub(env)] == [
        (ppmid.duis, 5),
        (ihd.duis, 6),
    ]
    assert wait_for(lambda: archive.gpf_log(gpf)) == log


def test_a_hub_in_service_refuses_a_restore_of_its_log(dcc_rig) -> None:
    """8.12.1 to the rig's one hub, from a failed hub's log the DCC holds: the DCC sends
    CCS03 (the ACB's, for the supplier), the hub refuses it (its log is not empty: only a
    replacement hub takes a restore), as RTDS's ERROR answer has it; its log is unchanged."""
    env = dcc_rig
    chf = env["rig"].node("chf").eui
    lost = Eui64.parse("00-DB-12-34-56-78-9F-C0")  # on the failed hub only: no test adds it here
    archive = _gateway_archive(env)
    archive.keep_chf(FAILED_CHF, LogBackup(b"\xff" * 12, FAILED_CHF.raw, ((lost.raw, b""),)))
    before = _send_cli(env, "8.9", "chf", "ReadSecurityDetails=true")["values"]["device_log"]
    unknown = _send_cli(env, "8.12.1", "chf", "OldCHFID=00-DB-12-34-56-78-9F-B2")
    assert unknown["acknowledgement"] == "E19", unknown
    itself = _send_cli(env, "8.12.1", "chf", f"OldCHFID={chf.duis}")
    assert itself["acknowledgement"] == "E100", itself
    out = _send_cli(env, "8.12.1", "chf", f"OldCHFID={FAILED_CHF.duis}")
    assert (out["acknowledgement"], out.get("response_code")) == ("I99", "I0"), out
    assert out["values"]["use_case"] == "CCS03" and out["values"]["result"] == 1, out
    both = _send_cli(env, "8.9", "chf", "ReadSecurityDetails=true")
    after = both["values"]["device_log"]
    assert lost.duis not in [d["eui"] for d in after["devices"]]
    assert [d["eui"] for d in after["devices"]] == [d["eui"] for d in before["devices"]]
