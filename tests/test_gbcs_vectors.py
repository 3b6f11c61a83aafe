"""GBCS against DCC's reference data: every RTDS message, the known answers, the UTRN."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from rig.pki.keystores import load
from rig.protocol.codec import unhex
from rig.protocol.eui import Eui64
from rig.protocol.gbcs.codes import use_case
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.inspect import inspect
from rig.protocol.gbcs.security import KdfMode, gcm_decrypt, gcm_encrypt, kdf
from rig.protocol.smki import Usage
from rig.protocol.utrn import TopUp, ValueClass, make, validate
from tests.conftest import vectors

ACB = Eui64.parse("90B3D51F30000002")


@pytest.fixture(scope="module")
def rtds() -> list[tuple[Path, bytes]]:
    folder = vectors("gbcs", "rtds-4.5.0")
    return [(p, unhex(p.read_text())) for p in sorted(folder.rglob("*.HEX"))]


@pytest.fixture(scope="module")
def store():
    return load([vectors("gbcs", "rtds-keystore"), vectors("gbcs", "device-keys")])


def test_every_rtds_message_decodes_and_reencodes_identically(rtds, store) -> None:
    assert len(rtds) == 1275
    records = [inspect(data, store, ACB, file=str(p)) for p, data in rtds]
    not_identical = [r["file"] for r in records if not r["reencoded_identical"]]
    assert not_identical == []
    formats = Counter(r["payload_format"] for r in records)
    assert formats == {"dlms": 743, "gbz": 354, "asn1": 178}


def test_macs_and_signatures_verify_and_the_rest_is_explained(rtds, store) -> None:
    records = [inspect(data, store, ACB, file=str(p)) for p, data in rtds]
    mac = Counter(r["mac_valid"] for r in records)
    sig = Counter(r["signature_valid"] for r in records)
    assert mac[True] >= 811 and mac[False] == 0
    assert sig[True] == 472 and sig[False] == 0
    for r in records:
        if r["mac_valid"] is None:
            assert r["mac_reason"] == "not MAC'd", r
        if r["signature_valid"] is None:
            assert r["signature_reason"] in ("not signed", "pre-command (unsigned)"), r
    kinds = Counter(r["kind"] for r in records)
    assert kinds == {"command": 501, "response": 503, "alert": 93, "pre-command": 178}


def test_message_codes_name_the_folder_use_case(rtds) -> None:
    """Commands, pre-commands and responses carry the code of their folder's use case.

    One RTDS case deliberately differs: the CS04B error case sends a CS04AC command."""
    mismatched = []
    for path, data in rtds:
        if "_ALERT_" in path.name:
            continue
        folder_uc = path.parent.name.split("_", 1)[1]
        uc = use_case(GbcsMessage.decode(data).message_code).use_case
        if not (folder_uc.startswith(uc) or uc.startswith(folder_uc[:5])):
            mismatched.append((path.name, uc))
    assert mismatched == [
        ("CS04B_8.8.2_ERROR_COMMAND_GBCS.HEX", "CS04AC"),
        ("CS04B_8.8.2_ERROR_RESPONSE_GBCS.HEX", "CS04AC"),
    ]


def test_without_keys_every_check_is_unknown_not_false(rtds) -> None:
    for path, data in rtds[:50]:
        r = inspect(data, None, ACB, file=str(path))
        assert r["mac_valid"] in (None,) and r["signature_valid"] in (None,)
        if GbcsMessage.decode(data).mac is not None:
            assert "not public" in r["mac_reason"]


@pytest.fixture(scope="module")
def known() -> dict:
    return json.loads(vectors("gbcs", "known-answers.json").read_text())


def test_kdf_known_answers(known, store) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    base = vectors("gbcs")
    for case in known["kdf"]:
        private = load_pem_private_key((base / case["private_key"]).read_bytes(), None)
        public = x509.load_pem_x509_certificate((base / case["public_cert"]).read_bytes())
        key = kdf(
            private,
            public.public_key(),
            bytes.fromhex(case["originator"]),
            bytes.fromhex(case["recipient"]),
            int(case["originator_counter"], 16),
            KdfMode[case["mode"].upper()],
        )
        assert key.hex().upper() == case["key"], case["name"]


def test_gcm_known_answers(known) -> None:
    for case in known["gcm"]:
        key, orig = bytes.fromhex(case["key"]), bytes.fromhex(case["originator"])
        aad, plain = case["aad_ascii"].encode(), case["plaintext_ascii"].encode()
        ct, tag = gcm_encrypt(key, orig, aad, plain)
        assert tag.hex() == case["tag"]
        assert ct.hex() == case.get("ciphertext", "")
        assert gcm_decrypt(key, orig, aad, ct, tag) == plain


def test_utrn_known_answers(known, store) -> None:
    for case in known["utrn"]:
        supplier, meter = Eui64.parse(case["originator"]), Eui64.parse(case["target"])
        pp = store.private(supplier, Usage.PP_KA).private_key
        device = store.get(meter, Usage.KA).public_key
        top_up = TopUp(
            case["value"], ValueClass[case["value_class"].upper()], int(case["counter"], 16)
        )
        assert make(top_up, supplier.raw, meter.raw, pp, device) == case["utrn"]
        assert validate(case["utrn"], supplier.raw, meter.raw, pp, device) == top_up


def test_the_cs01a_templates_utrn_validates(store) -> None:
    text = vectors("duis", "templates", "CS01a_2.2_SUCCESS_REQUEST_DUIS.XML").read_text()
    code = re.search(r"<sr:UTRN>(\d{20})</sr:UTRN>", text).group(1)
    target = re.search(r"<sr:RequestID>[^:]+:([^:]+):", text).group(1)
    supplier, meter = Eui64.parse("90B3D51F30010000"), Eui64.parse(target)
    top_up = validate(
        code,
        supplier.raw,
        meter.raw,
        store.private(supplier, Usage.PP_KA).private_key,
        store.get(meter, Usage.KA).public_key,
    )
    assert (top_up.value, top_up.value_class) == (10, ValueClass.POUNDS)
