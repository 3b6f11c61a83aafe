"""DUIS against DCC's data: templates, real DCC Boxed responses, the XSD, bad input."""

from __future__ import annotations

import pytest
from lxml import etree

from rig.pki.keystores import load
from rig.protocol.duis import schema, xmldsig
from rig.protocol.duis.message import (
    Request,
    RequestId,
    Response,
    now,
    parse_document,
    to_bytes,
)
from rig.protocol.duis.signed import sign_document, verify_document
from rig.protocol.duis.xml import XmlError, parse
from rig.protocol.eui import Eui64
from rig.protocol.smki import Usage
from rig.reference import srv_table
from rig.runtime.reference import read_schema
from tests.conftest import vectors

SUPPLIER = Eui64.parse("90-B3-D5-1F-30-01-00-00")
DCC = Eui64.parse("90-B3-D5-1F-30-00-00-02")


@pytest.fixture(scope="module")
def store():
    return load([vectors("smki", "xml-sign")])


@pytest.fixture(scope="module")
def xsd():
    return read_schema(vectors("duis", "xsd") / schema.SCHEMA_FILE)


def test_every_template_parses_and_validates_once_resigned(store, xsd) -> None:
    templates = sorted(vectors("duis", "templates").glob("*.XML"))
    assert len(templates) == 297
    for path in templates:
        doc = parse_document(path.read_bytes())
        assert isinstance(doc, Request), path.name
        signer = store.private(doc.request_id.originator, Usage.XML) or store.private(
            SUPPLIER, Usage.XML
        )
        signed = sign_document(path.read_bytes(), signer, xsd=xsd)
        if signer.eui == doc.request_id.originator:
            assert verify_document(signed, store, xsd=xsd).signer.eui == doc.request_id.originator


def test_real_dcc_boxed_responses_verify(store, xsd) -> None:
    for name in (
        "read-inventory-response-5.4.xml",
        "read-inventory-response-4g.xml",
        "readfw-response.xml",
    ):
        data = vectors("duis", "samples", name).read_bytes()
        assert b"&#13;" in data  # Java's base64 line breaks are tolerated
        result = verify_document(data, store)
        assert result.signer.eui == DCC
        assert isinstance(result.document, Response) and result.document.response_code == "I0"


def test_changed_content_breaks_the_signature(store, xsd) -> None:
    data = vectors("duis", "samples", "readfw-response.xml").read_bytes()
    with pytest.raises(xmldsig.SignatureError, match="digest mismatch"):
        verify_document(data.replace(b"<sr:ResponseCode>I0", b"<sr:ResponseCode>I99"), store)


def test_signature_checks_refuse_unknown_revoked_and_impostor_signers(store, xsd) -> None:
    template = vectors("duis", "templates", "ECS17b_4.1.1_SINGLE_SUCCESS_REQUEST_DUIS.XML")
    other = Eui64.parse("90-B3-D5-1F-30-02-00-00")
    impostor = sign_document(template.read_bytes(), store.private(other, Usage.XML))
    with pytest.raises(xmldsig.SignatureError, match="signed by 90-B3-D5-1F-30-02-00-00"):
        verify_document(impostor, store)
    signed = sign_document(template.read_bytes(), store.private(SUPPLIER, Usage.XML))
    empty = load([vectors("smki", "xml-sign")])
    empty.revoke(store.private(SUPPLIER, Usage.XML).serial)
    with pytest.raises(xmldsig.SignatureError, match="revoked"):
        verify_document(signed, empty)
    unsigned = template.read_bytes().split(b"<ds:Signature")[0] + b"</sr:Request>"
    with pytest.raises(xmldsig.SignatureError, match="not signed"):
        verify_document(unsigned, store)


def test_schema_rejects_an_invalid_request(xsd) -> None:
    data = vectors("duis", "templates", "ECS17b_4.1.1_SINGLE_SUCCESS_REQUEST_DUIS.XML").read_bytes()
    with pytest.raises(schema.SchemaError, match="line"):
        schema.validate(parse(data.replace(b"<sr:CommandVariant>1", b"<sr:CommandVariant>x")), xsd)


@pytest.mark.parametrize(
    "doc",
    [
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
        b'<!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><r>&b;&b;</r>',
        b'<!DOCTYPE r SYSTEM "http://example.invalid/x.dtd"><r/>',
        b"<r><unclosed></r>",
        b"",
    ],
)
def test_hostile_or_broken_xml_is_refused(doc: bytes) -> None:
    with pytest.raises(XmlError):
        parse(doc)


def test_responses_build_sign_and_read_back(store, xsd) -> None:
    rid = RequestId(SUPPLIER, Eui64.parse("00-DB-12-34-56-78-90-A0"), 1000)
    response = Response(
        "I0",
        now(),
        "ResponseMessage",
        rid,
        RequestId(rid.target, SUPPLIER, 1000),
        "4.1",
        "4.1.1",
        gbcs_payload=b"\xdd\x00\x01",
    )
    signed = sign_document(response.to_element(), store.private(DCC, Usage.XML), xsd=xsd)
    back = verify_document(signed, store, xsd=xsd).document
    assert back.gbcs_payload == b"\xdd\x00\x01" and back.request_id == rid
    alert = Response(
        "I0",
        now(),
        "DeviceAlertMessage",
        None,
        RequestId(rid.target, SUPPLIER, 7),
        alert_code="8F35",
        gbcs_payload=b"\x0f",
    )
    back = verify_document(
        sign_document(alert.to_element(), store.private(DCC, Usage.XML), xsd=xsd), store, xsd=xsd
    )
    assert back.document.alert_code == "8F35" and back.document.kind == "DeviceAlertMessage"


def test_request_round_trip_keeps_the_body() -> None:
    data = vectors("duis", "templates", "ECS43_7.2_SUCCESS_REQUEST_DUIS.XML").read_bytes()
    doc = parse_document(data)
    again = parse_document(to_bytes(doc.to_element()))
    assert (again.request_id, again.srv, again.command_variant) == (doc.request_id, "7.2", 4)
    assert etree.tostring(again.body, method="c14n") == etree.tostring(doc.body, method="c14n")


def test_srv_matrix_metadata() -> None:
    table = srv_table()
    assert len(table) == 129
    assert table["7.2"].critical and table["7.2"].command_variants == (4, 5, 6, 7)
    assert not table["4.1.1"].critical and "IS" in table["4.1.1"].roles
    assert table["8.2"].non_device and table["8.2"].command_variants == (8,)
    assert not table["7.2"].allows("ED")
