"""The enveloped XML signature of DUIS, exactly as DCC (and DCC Boxed) computes it.

* SignedInfo is canonicalised with **exclusive** C14N, and signed with ECDSA P-256 /
  SHA-256; SignatureValue is base64 of raw r||s (Java signers wrap it with ``&#13;``).
* The one Reference (URI="", transform: enveloped-signature) digests with SHA-256 the
  **inclusive** C14N 1.0 of the document without the Signature element.
* KeyInfo names the signer's certificate by X509IssuerSerial; verifiers look it up in
  their key store (pinned certificates: no chain, no dates).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree

from rig.protocol.duis.xml import DS
from rig.protocol.gbcs.security import SecurityError, sign_raw, verify_raw
from rig.protocol.keystore import Credential, KeyStore
from rig.protocol.smki import SerialError, parse_serial

EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"


class SignatureError(ValueError):
    """A DUIS signature that is absent, malformed, unknown or wrong."""


def _q(name: str) -> str:
    return f"{{{DS}}}{name}"


def _signature_of(root: etree._Element) -> etree._Element | None:
    return next((c for c in root if c.tag == _q("Signature")), None)


def _detach(element: etree._Element) -> None:
    """Remove an element but keep the text that followed it (enveloped-signature)."""
    parent = element.getparent()
    assert parent is not None
    tail = element.tail
    prev = element.getprevious()
    if tail:
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(element)


def reference_digest(root: etree._Element) -> bytes:
    """SHA-256 of the inclusive C14N of the document without its Signature."""
    copy = etree.fromstring(etree.tostring(root))
    sig = _signature_of(copy)
    if sig is not None:
        _detach(sig)
    return hashlib.sha256(_c14n(copy.getroottree(), exclusive=False)).digest()


def _c14n(node: etree._Element | etree._ElementTree, *, exclusive: bool) -> bytes:
    """Canonical XML; a document C14N cannot render (e.g. a relative namespace URI) is a
    :class:`SignatureError`, not lxml's own exception."""
    try:
        return etree.tostring(node, method="c14n", exclusive=exclusive, with_comments=False)
    except etree.C14NError as exc:
        raise SignatureError(f"the document cannot be canonicalised (C14N): {exc}") from None


def issuer_text(cert: x509.Certificate) -> str:
    """RFC 2253 issuer as Java writes it (``CN=Z1,OU=07``)."""
    return cert.issuer.rfc4514_string()


def sign(
    root: etree._Element, private_key: ec.EllipticCurvePrivateKey, cert: x509.Certificate
) -> etree._Element:
    """Replace any Signature of ``root`` with a fresh one; returns the Signature element."""
    old = _signature_of(root)
    if old is not None:
        _detach(old)
    digest = base64.b64encode(reference_digest(root)).decode()
    sig = etree.SubElement(root, _q("Signature"), nsmap={"ds": DS})
    info = etree.SubElement(sig, _q("SignedInfo"))
    etree.SubElement(info, _q("CanonicalizationMethod"), Algorithm=EXC_C14N)
    etree.SubElement(info, _q("SignatureMethod"), Algorithm=ECDSA_SHA256)
    ref = etree.SubElement(info, _q("Reference"), URI="")
    transforms = etree.SubElement(ref, _q("Transforms"))
    etree.SubElement(transforms, _q("Transform"), Algorithm=ENVELOPED)
    etree.SubElement(ref, _q("DigestMethod"), Algorithm=SHA256)
    etree.SubElement(ref, _q("DigestValue")).text = digest
    value = etree.SubElement(sig, _q("SignatureValue"))
    key_info = etree.SubElement(sig, _q("KeyInfo"))
    data = etree.SubElement(key_info, _q("X509Data"))
    serial = etree.SubElement(data, _q("X509IssuerSerial"))
    etree.SubElement(serial, _q("X509IssuerName")).text = issuer_text(cert)
    etree.SubElement(serial, _q("X509SerialNumber")).text = str(cert.serial_number)
    signed_info = etree.tostring(info, method="c14n", exclusive=True, with_comments=False)
    value.text = base64.b64encode(sign_raw(private_key, signed_info)).decode()
    return sig


@dataclass(frozen=True, slots=True)
class SignatureInfo:
    issuer: str
    serial: int
    digest: bytes
    value: bytes  # raw r||s
    signed_info_c14n: bytes


def read_signature(root: etree._Element) -> SignatureInfo:
    sig = _signature_of(root)
    if sig is None:
        raise SignatureError("document is not signed: no ds:Signature after the Body")
    info = sig.find(_q("SignedInfo"))
    if info is None:
        raise SignatureError("ds:Signature has no SignedInfo")

    def alg(path: str) -> str | None:
        el = info.find(path)
        return None if el is None else el.get("Algorithm")

    expected = {
        _q("CanonicalizationMethod"): EXC_C14N,
        _q("SignatureMethod"): ECDSA_SHA256,
        f"{_q('Reference')}/{_q('DigestMethod')}": SHA256,
    }
    for path, want in expected.items():
        if alg(path) != want:
            raise SignatureError(f"{path.split('}')[-1]} must be {want}, not {alg(path)}")
    refs = info.findall(_q("Reference"))
    if len(refs) != 1 or refs[0].get("URI") != "":
        raise SignatureError('exactly one Reference with URI="" is required')
    transforms = [t.get("Algorithm") for t in refs[0].iter(_q("Transform"))]
    if transforms != [ENVELOPED]:
        raise SignatureError(f"the only transform must be enveloped-signature, not {transforms}")

    def b64(el: etree._Element | None, what: str) -> bytes:
        text = None if el is None else el.text
        if text is None or not text.strip():
            raise SignatureError(f"{what} is missing")
        try:
            return base64.b64decode("".join(text.split()), validate=True)
        except ValueError:
            raise SignatureError(f"{what} is not base64") from None

    digest = b64(refs[0].find(_q("DigestValue")), "DigestValue")
    value = b64(sig.find(_q("SignatureValue")), "SignatureValue")
    if len(value) != 64:
        raise SignatureError(f"SignatureValue must be raw r||s (64 bytes), not {len(value)} bytes")
    issuer = sig.find(f".//{_q('X509IssuerName')}")
    serial = sig.find(f".//{_q('X509SerialNumber')}")
    if issuer is None or serial is None:
        raise SignatureError("KeyInfo must name the certificate by X509IssuerSerial")
    try:
        serial_number = parse_serial(serial.text or "", "X509SerialNumber")
    except SerialError as exc:
        raise SignatureError(f"KeyInfo X509IssuerSerial: {exc}") from None
    return SignatureInfo(
        (issuer.text or "").strip(),
        serial_number,
        digest,
        value,
        _c14n(info, exclusive=True),
    )


def _same_issuer(a: str, b: str) -> bool:
    norm = lambda s: sorted(p.strip().upper() for p in s.split(","))  # noqa: E731
    return norm(a) == norm(b)


def verify(root: etree._Element, store: KeyStore) -> Credential:
    """Check the signature; returns the signer's credential (its EUI says who signed)."""
    info = read_signature(root)
    candidates = [
        c
        for c in store.by_serial(info.serial)
        if not c.revoked and _same_issuer(issuer_text(c.certificate), info.issuer)
    ]
    if not candidates:
        revoked = [c for c in store.by_serial(info.serial) if c.revoked]
        why = "is revoked" if revoked else "is not in the key store"
        raise SignatureError(
            f"signing certificate {info.issuer} serial {info.serial} {why}: "
            "register the sender's XML-signing certificate"
        )
    if not hmac.compare_digest(reference_digest(root), info.digest):
        raise SignatureError("digest mismatch: the document was changed after signing")
    for cred in candidates:
        try:
            verify_raw(cred.public_key, info.signed_info_c14n, info.value)
            return cred
        except SecurityError:
            continue
    raise SignatureError("SignatureValue does not verify with the named certificate")
