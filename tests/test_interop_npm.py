"""Interop with DCC's own tools from npm: duis-sign-wrap (Java) and duis-parser.

The tools are installed by the setup into tools/npm; they sign with the ZAZ1 XML-signing
keys the vectors also hold, so both sides know each other's certificates.
"""

from __future__ import annotations

import json

import pytest

from rig.pki.keystores import load
from rig.protocol.duis.message import RequestId, Response, now
from rig.protocol.duis.signed import sign_document, verify_document
from rig.protocol.eui import Eui64
from rig.protocol.smki import Usage
from tests.conftest import duis_tool, vectors

SUPPLIER = Eui64.parse("90-B3-D5-1F-30-01-00-00")
DCC = Eui64.parse("90-B3-D5-1F-30-00-00-02")


@pytest.fixture(scope="module")
def store():
    return load([vectors("smki", "xml-sign")])


def test_a_request_signed_by_the_rig_validates_with_duis_sign_wrap(store, tmp_path) -> None:
    template = vectors("duis", "templates", "ECS17b_4.1.1_SINGLE_SUCCESS_REQUEST_DUIS.XML")
    signed = tmp_path / "signed.xml"
    signed.write_bytes(sign_document(template.read_bytes(), store.private(SUPPLIER, Usage.XML)))
    result = duis_tool("validate", signed)
    assert result.returncode == 0, result.stderr
    assert "ReadInstantaneousImportRegisters" in result.stdout
    # and a tampered copy does not
    tampered = tmp_path / "tampered.xml"
    tampered.write_bytes(
        signed.read_bytes().replace(b"<sr:ServiceReference>4.1<", b"<sr:ServiceReference>4.2<")
    )
    assert duis_tool("validate", tampered).returncode != 0


def test_a_request_signed_by_duis_sign_wrap_verifies_in_the_rig(store, tmp_path) -> None:
    template = vectors("duis", "templates", "ECS43_7.2_SUCCESS_REQUEST_DUIS.XML")
    result = duis_tool("sign", template)
    assert result.returncode == 0, result.stderr
    verified = verify_document(result.stdout.encode(), store)
    assert verified.signer.eui == SUPPLIER and verified.document.srv == "7.2"


def test_duis_parser_reads_what_the_rig_emits(store, tmp_path) -> None:
    rid = RequestId(SUPPLIER, Eui64.parse("00-DB-12-34-56-78-90-A0"), 4242)
    response = Response(
        "I0",
        now(),
        "ResponseMessage",
        rid,
        RequestId(rid.target, SUPPLIER, 4242),
        "4.1",
        "4.1.1",
        gbcs_payload=bytes.fromhex("dd0000000000000000"),
    )
    signed = tmp_path / "response.xml"
    signed.write_bytes(sign_document(response.to_element(), store.private(DCC, Usage.XML)))
    assert duis_tool("validate", signed).returncode == 0
    parsed = duis_tool("parse", signed)
    assert parsed.returncode == 0, parsed.stderr
    out = json.loads(parsed.stdout)
    assert out["header"]["type"] == "response"
    assert out["header"]["responseCode"] == "I0"
    assert out["header"]["requestId"]["counter"] == "4242"
    body = out["body"]["ResponseMessage"]
    assert body["ServiceReferenceVariant"] == "4.1.1"
    assert body["GBCSPayload"] == "3QAAAAAAAAAA"  # base64 of the GBCS bytes
