"""SMKI certificate profiles: what GB smart metering certificates look like.

Pure functions over ``cryptography`` objects, following the certificates DCC
publishes (RTDS device certificates, ZAZ1 organisation certificates):

* Device certificates: empty subject; critical subjectAltName with an otherName
  hardwareModuleName {hwType 1.2.826.0.1.8641679.1.2.2.1, hwSerialNum = EUI-64};
  critical keyUsage digitalSignature *or* keyAgreement, never both; critical
  certificatePolicies; 8-byte key identifiers; P-256; notAfter 9999-12-31.
* Organisation certificates: subject OU = remote party role code (hex, e.g. 02
  supplier), x500UniqueIdentifier = EUI-64 (BIT STRING), optional CN; same
  keyUsage rule. XML-signing certificates use role codes 87 (DCC User) and
  89 (DCC service provider).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from enum import StrEnum

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID, ObjectIdentifier

from rig.protocol.codec import der_length
from rig.protocol.eui import Eui64

HARDWARE_MODULE_NAME = ObjectIdentifier("1.3.6.1.5.5.7.8.4")
GB_DEVICE_HW_TYPE = "1.2.826.0.1.8641679.1.2.2.1"
GB_ORG_POLICY = ObjectIdentifier("1.2.826.0.1.8641679.1.2.1.4")
GB_DEVICE_POLICY = ObjectIdentifier("1.2.826.0.1.1800000.1.2.1.4")  # as in RTDS device certs
NO_EXPIRY = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)


class Usage(StrEnum):
    """A GBCS key's single purpose."""

    DS = "ds"  # digital signing
    KA = "ka"  # key agreement
    PP_KA = "pp-ka"  # supplier's prepayment key agreement (UTRN)
    XML = "xml"  # DUIS XML signing


class OrgRole(StrEnum):
    """SMKI remote party role codes, as written in an organisation certificate's OU."""

    RECOVERY = "01"
    SUPPLIER = "02"
    NETWORK_OPERATOR = "03"
    ACCESS_CONTROL_BROKER = "04"
    TRANSITIONAL_COS = "05"
    WAN_PROVIDER = "06"
    ISSUING_CA = "07"
    LOAD_CONTROLLER = "08"
    OTHER_USER = "7F"
    XML_SIGN_USER = "87"
    XML_SIGN_DSP = "89"


class ProfileError(ValueError):
    """A certificate that does not follow the SMKI profile."""


SERIAL_MAX_OCTETS = 20  # RFC 5280 4.1.2.2: a serialNumber is at most 20 octets
SERIAL_MAX_DIGITS = len(str(2 ** (8 * SERIAL_MAX_OCTETS) - 1))  # 49
_ASCII_DIGITS = re.compile("[0-9]+")  # not \\d and not str.isdigit(): both take "²" and "٣"
_XML_SPACE = " \t\r\n"


class SerialError(ValueError):
    """A text that is not a certificate serial; the message says what a serial must be."""


def parse_serial(text: str, what: str = "a certificate serial") -> int:
    """A certificate serial written in decimal, as SMKI's CertificateSerial and XMLDSig's
    X509SerialNumber carry it: ASCII digits 0-9 only, at most 49 of them and at most
    20 octets (RFC 5280); XML white space around it is ignored.

    Anything else raises :class:`SerialError`, whose message names ``what`` and the rule
    (never the text itself, which may be huge or hostile); ``int()`` never sees more
    digits than a serial can have.
    """
    value = text.strip(_XML_SPACE)
    if not value:
        why = "it is empty"
    elif not _ASCII_DIGITS.fullmatch(value):
        why = "it holds a character other than 0-9"
    elif len(value) > SERIAL_MAX_DIGITS:
        why = f"it has {len(value)} digits"
    elif (number := int(value)).bit_length() > 8 * SERIAL_MAX_OCTETS:
        why = f"it needs more than {SERIAL_MAX_OCTETS} octets"
    else:
        return number
    raise SerialError(
        f"{what} must be a decimal serial of at most {SERIAL_MAX_DIGITS} digits "
        f"(ASCII 0-9, at most {SERIAL_MAX_OCTETS} octets as RFC 5280 allows): {why}"
    )


def _der(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + der_length(len(body)) + body


def _der_oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return _der(0x06, bytes(out))


def hardware_module_name(eui: Eui64) -> x509.OtherName:
    """The device SAN: HardwareModuleName ::= SEQUENCE { hwType OID, hwSerialNum OCTET STRING }."""
    value = _der(0x30, _der_oid(GB_DEVICE_HW_TYPE) + _der(0x04, eui.raw))
    return x509.OtherName(HARDWARE_MODULE_NAME, value)


def key_identifier(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """8-byte key identifier (truncated SHA-1 of the public key), as SMKI uses."""
    point = public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return hashlib.sha1(point).digest()[:8]


def _serial() -> int:
    return int.from_bytes(secrets.token_bytes(16), "big") >> 1 or 1


def _key_usage(usage: Usage, *, ca: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=usage in (Usage.DS, Usage.XML) and not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=usage in (Usage.KA, Usage.PP_KA) and not ca,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _builder(
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.CertificateBuilder:
    issuer_pub = issuer.public_key() if issuer else public_key
    if not isinstance(issuer_pub, ec.EllipticCurvePublicKey):
        raise ProfileError(
            f"the issuer certificate's public key is {type(issuer_pub).__name__}, not an EC key"
        )
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer else subject)
        .public_key(public_key)
        .serial_number(_serial())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier(key_identifier(public_key)), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier(key_identifier(issuer_pub), None, None),
            critical=False,
        )
    )


def ca_certificate(
    name: str,
    private_key: ec.EllipticCurvePrivateKey,
    *,
    issuer: x509.Certificate | None = None,
    issuer_key: ec.EllipticCurvePrivateKey | None = None,
    not_before: dt.datetime,
    path_length: int | None = None,
) -> x509.Certificate:
    """A root (self-signed) or issuing CA: subject ``OU=07, CN=name``."""
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, OrgRole.ISSUING_CA.value),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    signer = issuer_key or private_key
    builder = (
        _builder(subject, private_key.public_key(), issuer, signer, not_before, NO_EXPIRY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_key_usage(Usage.DS, ca=True), critical=True)
        .add_extension(
            x509.CertificatePolicies([x509.PolicyInformation(GB_ORG_POLICY, None)]), critical=True
        )
    )
    return builder.sign(signer, hashes.SHA256())


def device_certificate(
    eui: Eui64,
    public_key: ec.EllipticCurvePublicKey,
    usage: Usage,
    issuer: x509.Certificate,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    not_before: dt.datetime,
) -> x509.Certificate:
    if usage not in (Usage.DS, Usage.KA):
        raise ProfileError(f"a device certificate is DS or KA, not {usage}")
    builder = (
        _builder(x509.Name([]), public_key, issuer, issuer_key, not_before, NO_EXPIRY)
        .add_extension(_key_usage(usage), critical=True)
        .add_extension(x509.SubjectAlternativeName([hardware_module_name(eui)]), critical=True)
        .add_extension(
            x509.CertificatePolicies([x509.PolicyInformation(GB_DEVICE_POLICY, None)]),
            critical=True,
        )
    )
    return builder.sign(issuer_key, hashes.SHA256())


def organisation_certificate(
    eui: Eui64,
    role: OrgRole,
    public_key: ec.EllipticCurvePublicKey,
    usage: Usage,
    issuer: x509.Certificate,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    not_before: dt.datetime,
    not_after: dt.datetime,
    common_name: str | None = None,
) -> x509.Certificate:
    """An organisation certificate (DS, KA, prepayment KA) or an XML-signing one."""
    attrs: list[x509.NameAttribute[str | bytes]] = []  # the unique identifier is a BIT STRING
    if common_name:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    attrs += [
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role.value),
        x509.NameAttribute(
            NameOID.X500_UNIQUE_IDENTIFIER, b"\x00" + eui.raw, _type=_ASN1Type.BitString
        ),
    ]
    builder = (
        _builder(x509.Name(attrs), public_key, issuer, issuer_key, not_before, not_after)
        .add_extension(_key_usage(usage), critical=True)
        .add_extension(
            x509.CertificatePolicies([x509.PolicyInformation(GB_ORG_POLICY, None)]), critical=True
        )
    )
    return builder.sign(issuer_key, hashes.SHA256())


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer`` signed ``cert`` (its name and key: a certification path's check)."""
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def eui_of(cert: x509.Certificate | x509.CertificateSigningRequest) -> Eui64:
    """The EUI-64 a certificate (or a request for one) is for: the device SAN, or the
    organisation's unique ID."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    if san is not None:
        for name in san:
            if isinstance(name, x509.OtherName) and name.type_id == HARDWARE_MODULE_NAME:
                return Eui64(name.value[-8:])
    for attr in cert.subject.get_attributes_for_oid(NameOID.X500_UNIQUE_IDENTIFIER):
        raw = attr.value if isinstance(attr.value, bytes) else attr.value.encode()
        return Eui64(raw[-8:])
    raise ProfileError("certificate names no EUI-64 (no hardwareModuleName, no uniqueIdentifier)")


def usage_of(cert: x509.Certificate | x509.CertificateSigningRequest) -> Usage:
    """DS or KA from keyUsage (of a certificate, or of a request for one); one allowing both
    breaks the GBCS profile."""
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        raise ProfileError("certificate has no keyUsage") from None
    if ku.digital_signature and ku.key_agreement:
        raise ProfileError("keyUsage allows both signing and key agreement")
    if ku.digital_signature:
        return Usage.DS
    if ku.key_agreement:
        return Usage.KA
    raise ProfileError("keyUsage allows neither signing nor key agreement")


def role_of(cert: x509.Certificate) -> OrgRole | None:
    """The remote party role of an organisation certificate; None for a device."""
    for attr in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME):
        try:
            return OrgRole(str(attr.value).upper())
        except ValueError:
            raise ProfileError(f"unknown remote party role code {attr.value!r}") from None
    return None
