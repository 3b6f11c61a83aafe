"""The protocol commands as a user runs them: rig gbcs inspect, rig duis, rig utrn."""

from __future__ import annotations

import json

from tests.conftest import rig_cli, vectors


def test_gbcs_inspect_a_folder_gives_one_json_line_per_message(tmp_path) -> None:
    folder = vectors("gbcs", "rtds-4.5.0", "4.1.1_ECS17b")
    keys = [
        "--keys",
        str(vectors("gbcs", "rtds-keystore")),
        "--keys",
        str(vectors("gbcs", "device-keys")),
    ]
    proc = rig_cli("gbcs", "inspect", *keys, "--json", str(folder), state=tmp_path, check=True)
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(records) == 6
    for r in records:
        assert {
            "file",
            "cra",
            "message_code",
            "use_case",
            "originator",
            "recipient",
            "counter",
            "payload",
            "mac_valid",
            "signature_valid",
            "reencoded_identical",
        } <= r.keys()
        assert r["use_case"] == "ECS17b" and r["message_code"] == "0027"
        assert r["mac_valid"] is True and r["reencoded_identical"] is True


def test_gbcs_inspect_reports_a_tampered_message_and_exits_1(tmp_path) -> None:
    hex_text = (
        vectors("gbcs", "rtds-4.5.0", "7.2_ECS43", "ECS43_7.2_SUCCESS_COMMAND_GBCS.HEX")
        .read_text()
        .strip()
    )
    tampered = hex_text[:-2] + ("00" if hex_text[-2:] != "00" else "01")
    keys = ["--keys", str(vectors("gbcs", "rtds-keystore"))]
    proc = rig_cli("gbcs", "inspect", *keys, tampered, "ZZ", state=tmp_path)
    assert proc.returncode == 1
    good, bad = (json.loads(line) for line in proc.stdout.splitlines())
    assert good["mac_valid"] is False and bad["error"].startswith("not hexadecimal")


def test_duis_sign_then_verify(tmp_path) -> None:
    keys = ["--keys", str(vectors("smki", "xml-sign"))]
    template = vectors("duis", "templates", "ECS45_7.4_SUCCESS_REQUEST_DUIS.XML")
    out = tmp_path / "signed.xml"
    rig_cli(
        "duis",
        "sign",
        *keys,
        "--as",
        "90-B3-D5-1F-30-01-00-00",
        str(template),
        "-o",
        str(out),
        state=tmp_path,
        check=True,
    )
    verified = json.loads(
        rig_cli("duis", "verify", *keys, str(out), state=tmp_path, check=True).stdout
    )
    assert verified["valid"] and verified["signer"] == "90-B3-D5-1F-30-01-00-00"
    out.write_bytes(out.read_bytes().replace(b"7.4<", b"7.1<", 1))
    proc = rig_cli("duis", "verify", *keys, str(out), state=tmp_path)
    assert proc.returncode == 1 and "digest mismatch" in proc.stderr
    missing = rig_cli(
        "duis",
        "sign",
        "--keys",
        str(vectors("gbcs", "device-keys")),
        "--as",
        "90-B3-D5-1F-30-01-00-00",
        str(template),
        state=tmp_path,
    )
    assert missing.returncode == 2 and "no XML-signing private key" in missing.stderr


def test_utrn_make_and_check(tmp_path) -> None:
    keys = ["--keys", str(vectors("gbcs", "rtds-keystore"))]
    who = ["--supplier", "90-B3-D5-1F-30-01-00-00", "--meter", "00-DB-12-34-56-78-90-A0"]
    made = rig_cli(
        "utrn",
        "make",
        *keys,
        *who,
        "--counter",
        "0x500000000",
        "--value",
        "2500",
        state=tmp_path,
        check=True,
    ).stdout.strip()
    assert len(made) == 20 and made.isdigit()
    checked = json.loads(
        rig_cli("utrn", "check", *keys, *who, made, state=tmp_path, check=True).stdout
    )
    assert checked["pence"] == 2500 and checked["counter"] == "0x500000000"
    replay = rig_cli(
        "utrn", "check", *keys, *who, "--last-counter", "0x500000000", made, state=tmp_path
    )
    assert replay.returncode == 1
    typo = made[:-1] + str((int(made[-1]) + 1) % 10)
    bad = rig_cli("utrn", "check", *keys, *who, typo, state=tmp_path)
    assert bad.returncode == 1 and "check digit" in bad.stderr
