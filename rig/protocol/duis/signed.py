"""Signed DUIS documents end to end: parse safely, check the schema, verify or sign.

``verify_document`` also checks that a request was signed by its RequestID's originator
(a DCC User signs only its own requests); responses and alerts are signed by the DCC.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from rig.protocol.duis import schema, xmldsig
from rig.protocol.duis.message import Request, Response, parse_request, parse_response, to_bytes
from rig.protocol.duis.xml import SR, parse
from rig.protocol.keystore import Credential, KeyStore


@dataclass(frozen=True, slots=True)
class Verified:
    document: Request | Response
    signer: Credential


def read(root: etree._Element) -> Request | Response:
    return parse_request(root) if root.tag == f"{{{SR}}}Request" else parse_response(root)


def verify_document(
    data: bytes, store: KeyStore, *, xsd: etree.XMLSchema | None = None
) -> Verified:
    """The document and who signed it; checked against ``xsd`` first when one is given."""
    tree = parse(data)
    if xsd is not None:
        schema.validate(tree, xsd)
    root = tree.getroot()
    signer = xmldsig.verify(root, store)
    doc = read(root)
    if isinstance(doc, Request) and signer.eui != doc.request_id.originator:
        raise xmldsig.SignatureError(
            f"request from {doc.request_id.originator.duis} is signed by {signer.eui.duis}"
        )
    return Verified(doc, signer)


def compact(root: etree._Element) -> None:
    """Drop indentation (whitespace-only text between elements), as DCC's signing tool
    does before signing: the signature then survives re-serialisation by any tool."""
    for el in root.iter():
        if len(el) and el.text is not None and not el.text.strip():
            el.text = None
        if el.tail is not None and not el.tail.strip():
            el.tail = None


def sign_document(
    data: bytes | etree._Element, signer: Credential, *, xsd: etree.XMLSchema | None = None
) -> bytes:
    """Sign (or re-sign) a document with a credential holding a private key; the signed
    document is checked against ``xsd`` when one is given."""
    if signer.private_key is None:
        raise xmldsig.SignatureError(f"no private key for {signer.name or signer.eui.duis}")
    root = data if isinstance(data, etree._Element) else parse(data).getroot()
    compact(root)
    xmldsig.sign(root, signer.private_key, signer.certificate)
    if xsd is not None:
        schema.validate(root, xsd)
    return to_bytes(root)
