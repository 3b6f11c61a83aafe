"""`rig conformance`: DCC's templates adapted to a rig's devices and users, the DCC's GBCS
command compared with RTDS's, the HTML report, and a few templates through the running rig."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import RIGS, rig_cli, vectors

from rig.conformance.compare import (
    ZIGBEE_EPOCH,
    compare_command,
    compare_response,
    dcc_time_stamps,
    read_reference,
    recounter,
    reference_for,
    remap,
    rtds_keys,
    unhex,
)
from rig.conformance.report import html, write_html
from rig.conformance.run import Result, Run, prenotification
from rig.conformance.templates import Template, adapt, run_order, template_files
from rig.description import load_rig
from rig.pki.keystores import load
from rig.protocol.duis.xml import SR
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import catalogue as cat
from rig.protocol.gbcs import security
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import command
from rig.protocol.smki import Usage
from rig.reference import srv_table

TEMPLATES = vectors("duis", "templates")
RTDS = vectors("gbcs", "rtds-4.5.0")
RTDS_ESME = Eui64.parse("00-DB-12-34-56-78-90-A0")
RTDS_GSME = Eui64.parse("00-DB-12-34-56-78-90-A1")
RTDS_CHF = Eui64.parse("00-DB-12-34-56-78-90-A2")
RTDS_SUPPLIER = Eui64.parse("90-B3-D5-1F-30-01-00-00")
ACB = Eui64.parse("90-B3-D5-1F-30-00-00-02")
# the rig's devices under other EUIs than RTDS's, so every mapping shows
MOVED = {"90-A0": "91-C0", "90-A1": "91-C1", "90-A2": "91-C2", "90-A3": "91-C3", "90-A4": "91-C4"}


@pytest.fixture(scope="module")
def moved_rig(tmp_path_factory: pytest.TempPathFactory):
    text = (RIGS / "dcc.yaml").read_text()
    for old, new in MOVED.items():
        text = text.replace(f"00-DB-12-34-56-78-{old}", f"00-DB-12-34-56-78-{new}")
    path = tmp_path_factory.mktemp("conformance") / "moved.yaml"
    path.write_text(text)
    return load_rig(path)


def _adapt(name: str, rig):
    return adapt(Template.load(TEMPLATES / name), rig, srv_table())


def _texts(adapted) -> list[str]:
    return [e.text for e in adapted.body.iter() if isinstance(e.tag, str) and e.text]


def test_an_esme_read_goes_to_the_rigs_esme_from_the_templates_supplier(moved_rig) -> None:
    a = _adapt("ECS17b_4.1.1_SINGLE_SUCCESS_REQUEST_DUIS.XML", moved_rig)
    assert (a.target_node, a.target) == ("esme", Eui64.parse("00-DB-12-34-56-78-91-C0"))
    assert (a.user, a.user_eui, a.cv) == ("supplier-a", RTDS_SUPPLIER, "1")
    assert a.euis[RTDS_ESME] == a.target


def test_a_gas_read_is_sent_by_the_gas_supplier_not_the_templates_import_supplier(
    moved_rig,
) -> None:
    a = _adapt("GCS13a_4.1.1_SUCCESS_UNRELIABLE_REQUEST_DUIS.XML", moved_rig)
    assert (a.target_node, a.target) == ("gsme", Eui64.parse("00-DB-12-34-56-78-91-C1"))
    assert a.user == "supplier-b"  # supplier-a is IS only: no party to a gas meter
    # RTDS's originator becomes the user who sends it, for comparing RTDS's bytes
    assert a.euis[RTDS_SUPPLIER] == Eui64.parse("90-B3-D5-1F-30-03-00-00")


def test_a_supplier_of_both_fuels_sends_the_gas_templates_as_they_are(tmp_path: Path) -> None:
    text = (RIGS / "dcc.yaml").read_text()
    text = text.replace(
        "eui: 90-B3-D5-1F-30-01-00-00, role: IS}", "eui: 90-B3-D5-1F-30-01-00-00, role: [IS, GS]}"
    )
    text = text.replace("gpio: {valve: GPIO17},", "gpio: {valve: GPIO17}, supplier: supplier-a,")
    (tmp_path / "both.yaml").write_text(text)
    a = _adapt("GCS13a_4.1.1_SUCCESS_UNRELIABLE_REQUEST_DUIS.XML", load_rig(tmp_path / "both.yaml"))
    assert (a.user, a.target_node) == ("supplier-a", "gsme")
    assert a.euis[RTDS_SUPPLIER] == RTDS_SUPPLIER


def test_a_non_device_request_goes_to_the_dcc_with_its_body_euis_mapped(moved_rig) -> None:
    a = _adapt("8.2_READ_INVENTORY_REQUEST_DUIS.XML", moved_rig)
    assert (a.target_node, a.target, a.cv) == ("dcc", moved_rig.acb_eui, "8")
    assert "00-DB-12-34-56-78-91-C2" in _texts(a)
    assert not any(RTDS_CHF.duis in t for t in _texts(a))
    assert a.body.tag == f"{{{SR}}}ReadInventory"


def test_a_device_requests_body_euis_are_the_rigs(moved_rig) -> None:
    a = _adapt("CCS01_8.11_SUCCESS_REQUEST_DUIS.XML", moved_rig)
    assert a.target_node == "chf"
    assert "00-DB-12-34-56-78-91-C0" in _texts(a) and RTDS_ESME.duis not in _texts(a)


def test_a_critical_request_takes_the_pre_command_route(moved_rig) -> None:
    a = _adapt("ECS43_7.2_SUCCESS_REQUEST_DUIS.XML", moved_rig)
    assert a.srv.critical and a.cv == "4+5" and a.target_node == "esme"
    assert a.user == "supplier-a"


def test_an_ed_only_request_goes_from_the_network_operator(moved_rig) -> None:
    a = _adapt("ECS37_6.18.1_SUCCESS_REQUEST_DUIS.XML", moved_rig)
    assert a.user == "network-operator" and a.target_node == "esme"


def test_a_device_the_rig_lacks_keeps_rtds_eui(tmp_path: Path) -> None:
    text = (RIGS / "dcc.yaml").read_text()
    start = text.index("  - {name: ppmid")
    end = text.index("}", start) + 2
    path = tmp_path / "no-ppmid.yaml"
    path.write_text(text[:start] + text[end:])  # the rig without its PPMID
    a = _adapt("CS03A2NonCritical_8.7.2_SUCCESS_REQUEST_DUIS.XML", load_rig(path))
    assert a.target == Eui64.parse("00-DB-12-34-56-78-90-A4") == Eui64.parse(a.target_node)


def test_the_rtds_case_matches_the_templates_words() -> None:
    ref = reference_for("1.1.1", "ECS01a", ("IMMEDIATE", "TOU", "SUCCESS"))
    assert ref is not None and ref.case == "ECS01a_1.1.1_IMMEDIATE_TOU_SUCCESS"
    assert ref.response is not None and ref.response.name.endswith("_RESPONSE_GBCS.HEX")
    plain = reference_for("4.1.1", "ECS17b", ())
    assert plain is not None and plain.case == "ECS17b_4.1.1_SINGLE_SUCCESS"
    assert reference_for("8.2", None, ()) is None


def _rtds_17b() -> bytes:
    return unhex(RTDS / "4.1.1_ECS17b" / "ECS17b_4.1.1_SINGLE_SUCCESS_COMMAND_GBCS.HEX")


def _ours_17b(counter: int, device: Eui64 = RTDS_ESME) -> GbcsMessage:
    """The rig's own ECS17b command at ``counter``, MAC'd by RTDS's ACB for ``device``."""
    keys = load([vectors("gbcs", "rtds-keystore"), vectors("gbcs", "device-keys")])
    msg = command(cat.ECS17B, counter, RTDS_SUPPLIER.raw, device.raw)
    return security.apply_mac(
        msg, keys.private(ACB, Usage.KA).private_key, keys.get(RTDS_ESME, Usage.KA).public_key
    )


def test_a_command_equals_rtds_at_another_counter_and_differs_by_a_payload_byte() -> None:
    ours = _ours_17b(0x0123_4567_89AB)
    assert ours.header.counter != GbcsMessage.decode(_rtds_17b()).header.counter
    assert compare_command(ours.encode(), _rtds_17b(), {}) == "equal"
    changed = bytearray(ours.payload)
    changed[-1] ^= 0x01
    altered = replace(ours, payload=bytes(changed)).encode()
    verdict = compare_command(altered, _rtds_17b(), {})
    assert verdict.startswith(f"differs: payload offset {len(changed) - 1} ")
    assert compare_command(None, _rtds_17b(), {}) == "differs: the DCC sent no command"
    assert compare_command(ours.encode(), None, {}) == "no RTDS command"


def test_rtds_euis_are_mapped_before_comparing() -> None:
    rig_esme = Eui64.parse("00-DB-12-34-56-78-91-C0")
    ours = _ours_17b(77, rig_esme).encode()
    assert compare_command(ours, _rtds_17b(), {}).startswith("differs: recipient")
    assert compare_command(ours, _rtds_17b(), {RTDS_ESME: rig_esme}) == "equal"
    assert remap(RTDS_ESME.raw * 2, {RTDS_ESME: rig_esme}) == rig_esme.raw * 2


def test_recountering_changes_the_counter_and_the_invoke_id_only() -> None:
    rtds = GbcsMessage.decode(_rtds_17b())
    again = recounter(recounter(rtds, 0x55), rtds.header.counter)
    assert again == rtds
    assert recounter(rtds, 0x55).payload != rtds.payload


def test_recountering_an_asn1_command_rewrites_its_sequence_number() -> None:
    """CS06 carries its counter as an INTEGER: at a counter of six bytes (the DCC User's
    milliseconds) RTDS's command is four bytes longer, and the same when counted back."""
    rtds = GbcsMessage.decode(
        unhex(RTDS / "11.3_CS06" / "CS06_11.3_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX")
    )
    moved = recounter(rtds, 1_796_045_747_570)
    assert len(moved.payload) == len(rtds.payload) + 4
    assert recounter(moved, rtds.header.counter) == rtds


def test_a_response_decodes_with_the_same_keys_as_rtds() -> None:
    ref = unhex(RTDS / "4.1.1_ECS17b" / "ECS17b_4.1.1_SINGLE_SUCCESS_RESPONSE_GBCS.HEX")
    theirs = read_reference(ref, rtds_keys())
    assert theirs["use_case"] == "ECS17b" and theirs["authenticated_by"] == "mac"
    assert compare_response(theirs, None, ref, rtds_keys()) == "decodes"
    fewer = {k: v for k, v in theirs.items() if k != "active_import_wh"}
    assert compare_response(fewer, None, ref, rtds_keys()) == (
        "differs: keys only RTDS: active_import_wh"
    )
    assert compare_response({}, None, ref, rtds_keys()) == "none"
    assert compare_response(theirs, "bad MAC", ref).startswith("differs: bad MAC")


def _result(template: str, srv: str, outcome: str) -> Result:
    family = int(srv.split(".")[0])
    return Result(template, srv=srv, family=family, outcome=outcome, use_case="X")


def test_the_html_is_one_file_with_a_table_per_family(tmp_path: Path) -> None:
    run = Run("dcc", "2026-01-01T00:00:00+00:00", str(TEMPLATES))
    run.results = [
        _result("ECS01a_1.1.1_A.XML", "1.1.1", "answered"),
        _result("ECS17b_4.1.1_B.XML", "4.1.1", "refused"),
        _result("8.2_C.XML", "8.2", "error"),
        _result("ECS52_11.2_D.XML", "11.2", "answered"),
    ]
    write_html(run, tmp_path / "r.html")
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]
    page = (tmp_path / "r.html").read_text()
    assert page == html(run)
    for family in (1, 4, 8, 11):
        assert page.count(f'data-family="{family}"') == 1
    assert page.count('<table class="family"') == 4
    assert '<tr class="refused">' in page and '<tr class="error">' in page
    assert "<script" not in page and "<link" not in page and "<style>" in page
    # families in order, 11 after 8
    assert page.index('data-family="8"') < page.index('data-family="11"')
    assert run.counts()["answered"] == 2


def test_without_a_rig_up_it_says_so_and_exits_1(tmp_path: Path) -> None:
    proc = rig_cli("conformance", "--only", "8.2_*", state=tmp_path / "nothing")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "rig up" in proc.stderr


def test_a_glob_matching_nothing_is_a_usage_error(tmp_path: Path) -> None:
    proc = rig_cli("conformance", "--only", "NO_SUCH_*", state=tmp_path / "nothing")
    assert proc.returncode == 2 and "NO_SUCH_*" in proc.stderr


def test_template_files_take_several_globs() -> None:
    names = [p.name for p in template_files(TEMPLATES, ["ECS52*", "CCS06_8.9*"])]
    assert names == ["CCS06_8.9_SUCCESS_REQUEST_DUIS.XML", "ECS52_11.2_SUCCESS_REQUEST_DUIS.XML"]
    assert len(template_files(TEMPLATES)) == 297


def test_templates_that_change_the_devices_are_sent_last() -> None:
    names = [p.name for p in run_order(template_files(TEMPLATES))]
    assert len(names) == 297
    decommission = names.index("8.3_DECOMMISSION_DEVICE_REQUEST_DUIS.XML")
    assert names.index("ECS17b_4.1.1_SINGLE_SUCCESS_REQUEST_DUIS.XML") < decommission
    assert names.index("CCS02_8.11_SUCCESS_REQUEST_DUIS.XML") < decommission
    assert names[-1] == "8.14.3_COMMUNICATIONS_HUB_STATUS_UPDATE_FAULT_RETURN_REQUEST_DUIS.XML"


def test_a_gbz_command_differing_only_in_the_dccs_own_time_is_equal() -> None:
    now = 1_790_000_000.0  # the run's time (Unix seconds)
    rtds_time = (1_420_070_400 - ZIGBEE_EPOCH).to_bytes(4, "little")  # 2015-01-01, RTDS's
    ours_time = (int(now) - ZIGBEE_EPOCH - 5).to_bytes(4, "little")
    rtds = b"\x01\x02" + rtds_time + b"\x03"
    assert dcc_time_stamps(b"\x01\x02" + ours_time + b"\x03", rtds, now) == [2]
    assert dcc_time_stamps(b"\x01\x02" + ours_time + b"\x04", rtds, now) == []  # and more
    old = (int(now) - ZIGBEE_EPOCH - 30 * 86_400).to_bytes(4, "little")  # not the DCC's now
    assert dcc_time_stamps(b"\x01\x02" + old + b"\x03", rtds, now) == []


def test_templates_that_need_a_device_the_dcc_does_not_hold_get_a_fresh_one(moved_rig) -> None:
    notice = _adapt("12.2_DEVICE_PRE_NOTIFICATION_REQUEST_DUIS.XML", moved_rig)
    new = Eui64.parse(notice.body.findtext(f"{{{SR}}}DeviceID") or "")
    assert new not in {n.eui for n in moved_rig.nodes} and notice.prenotify == ()
    delete = _adapt("8.4_UPDATE_INVENTORY_REQUEST_DUIS.XML", moved_rig)
    hub = _adapt(
        "8.14.1_COMMUNICATIONS_HUB_STATUS_UPDATE_INSTALL_SUCCESS_REQUEST_DUIS.XML", moved_rig
    )
    for adapted, kind in ((delete, "ESME"), (hub, "CHF")):
        ((eui, notified),) = adapted.prenotify  # pre-notified by the runner first
        assert notified == kind and adapted.body.findtext(f"{{{SR}}}DeviceID") == eui.duis
        assert eui not in {n.eui for n in moved_rig.nodes} | {new}
    body = prenotification(new, "CHF")
    assert [e.text for e in body][:4] == [new.duis, "AB01", "010A030B", "CHF"]


def test_the_other_devices_rtds_bodies_name_are_the_rigs(moved_rig) -> None:
    join = _adapt("CS03A1_8.7.1_SUCCESS_REQUEST_DUIS.XML", moved_rig)  # the ESME joins ...
    assert "00-DB-12-34-56-78-91-C4" in _texts(join)  # ... the rig's PPMID
    restore = _adapt("CCS03_8.12.1_SUCCESS_REQUEST_DUIS.XML", moved_rig)
    assert "00-DB-12-34-56-78-90-95" in _texts(restore)  # the old hub: not the rig's own
    schedule = _adapt("ECS46d_6.14.3_FUTURE_DATED_APC_OUTPUT_SUCCESS_REQUEST_DUIS.XML", moved_rig)
    assert schedule.target == Eui64.parse("00-DB-12-34-56-78-91-C0")  # RTDS's -A6: an ESME


def test_schedules_are_read_and_deleted_after_they_are_made() -> None:
    names = [p.name for p in run_order(template_files(TEMPLATES))]
    made = names.index("ECS21a_5.1._DCC_SCHEDULED_REQUEST_DUIS.XML")
    assert made < names.index("5.2_READ_SCHEDULE_REQUEST_DUIS.XML")
    assert names.index("5.2_READ_SCHEDULE_REQUEST_DUIS.XML") < names.index(
        "5.3_DELETE_SCHEDULE_REQUEST_DUIS.XML"
    )
    assert names.index("12.2_DEVICE_PRE_NOTIFICATION_REQUEST_DUIS.XML") < names.index(
        "8.4_UPDATE_INVENTORY_REQUEST_DUIS.XML"
    )


def test_the_runner_gives_a_template_the_senders_own_certificates(moved_rig) -> None:
    import asyncio
    from types import SimpleNamespace

    from rig.conformance.run import Runner

    own = {"DigitalSigningCertificate": "RFM=", "KeyAgreementCertificate": "S0E=",
           "CertificationPath": "Q0E="}  # fmt: skip
    client = SimpleNamespace(name="supplier-b", cos_certificates=lambda: own)
    runner = Runner.__new__(Runner)
    runner.schedule = None
    rekey = "CS02bSupplierBySupplier_6.15.1_IMMEDIATE_SUCCESS_REQUEST_DUIS.XML"
    for name, element, want in (
        ("GCS16b_4.14_URP_SUCCESS_REQUEST_DUIS.XML", "KAPublicSecurityCredentials", "S0E="),
        (rekey, "DigitalSigningCertificate", "RFM="),
        (rekey, "Certificate", "Q0E="),
    ):
        result = Result(name)
        body = asyncio.run(runner._prepare(client, _adapt(name, moved_rig), result))
        assert body.findtext(f".//{{{SR}}}{element}") == want, (name, element)
        assert any("supplier-b" in p for p in result.prepared)


# --- through the running rig --------------------------------------------------------------
ON_THE_RIG = (
    "ECS17b_4.1.1_SINGLE_SUCCESS_*",
    "ECS17b_4.1.1_TWIN_SUCCESS_*",
    "GCS13a_4.1.1_SUCCESS_UNRELIABLE_*",
    "8.2_READ_INVENTORY_*",
    "CCS06_8.9_*",
    "ECS52_11.2_*",
)


def test_templates_through_the_running_rig(dcc_rig, tmp_path: Path) -> None:
    args = [f"--only={g}" for g in ON_THE_RIG]
    json_file, html_file = tmp_path / "c.json", tmp_path / "c.html"
    proc = rig_cli(
        "conformance",
        "--rig",
        str(dcc_rig["file"]),
        *args,
        "--json",
        str(json_file),
        "--html",
        str(html_file),
        "--wait",
        "30",
        state=dcc_rig["dir"],
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(json_file.read_text())
    rows = data["results"]
    assert len(rows) == len(ON_THE_RIG)
    for row in rows:
        assert row["outcome"] == "answered", row
        assert row["acknowledgement"] in ("I0", "I99") and row["response_code"] in ("", "I0")
        assert row["rtds_response"] != "none" or row["srv"] == "8.2", row
    counts = data["counts"]
    assert counts["answered"] == len(rows) and counts["refused"] == counts["error"] == 0
    assert counts["rtds_equal"] == sum(r["rtds_command"] == "equal" for r in rows)
    assert counts["rtds_no_command"] == sum(r["rtds_command"] == "no RTDS command" for r in rows)
    by_name = {r["template"].split("_REQUEST")[0]: r for r in rows}
    # every device template's command is RTDS's, byte for byte (counters, MAC aside)
    assert {n for n, r in by_name.items() if r["rtds_command"] == "equal"} == {
        "ECS17b_4.1.1_SINGLE_SUCCESS",
        "ECS17b_4.1.1_TWIN_SUCCESS",
        "GCS13a_4.1.1_SUCCESS_UNRELIABLE",
        "CCS06_8.9_SUCCESS",
        "ECS52_11.2_SUCCESS",
    }
    assert by_name["8.2_READ_INVENTORY"]["rtds_command"] == "no RTDS command"
    assert by_name["GCS13a_4.1.1_SUCCESS_UNRELIABLE"]["user"] == "supplier-b"
    assert by_name["ECS17b_4.1.1_TWIN_SUCCESS"]["user"] == "network-operator"
    assert [r["family"] for r in rows] == sorted(r["family"] for r in rows)
    page = html_file.read_text()
    assert page.count('<tr class="answered">') == len(rows) and "<script" not in page
