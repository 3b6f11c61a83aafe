"""The DCC's SMKI issuing device certificates for 6.17's requests, and using them after 6.15.2.

In process, over a real store and key store and the SMKI HTTP routes (aiohttp's test server):
a device's PKCS#10 request (as the ESME's CS02c handler makes it) gets a certificate from the
rig's issuing CA, published behind the one in use; requests SMKI must refuse are refused with
the reason (not a request, a forged signature, an unknown device, two key usages, no CA);
6.15.2's success makes the new one the one in use, listed first; and a gateway started again
restores both from its store.
"""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.device_certificates import DeviceCertificates, IssuanceRefused
from gateway.smki_service import SmkiService
from gateway.store import Store
from nodes.gbcs.credentials import certification_request
from rig.protocol import smki
from rig.protocol.duis.xml import parse
from rig.protocol.eui import Eui64
from rig.protocol.keystore import KeyStore
from rig.protocol.smki import Usage

ESME = Eui64.parse("00-DB-12-34-56-78-90-A0")
STRANGER = Eui64.parse("00-DB-12-34-56-78-90-FF")
START = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


def _pem(value: x509.Certificate | ec.EllipticCurvePrivateKey) -> bytes:
    if isinstance(value, x509.Certificate):
        return value.public_bytes(serialization.Encoding.PEM)
    return value.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class Dcc:
    """A gateway's store and key store, the ESME's first DS certificate in use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ca = smki.ca_certificate("RZ1", self.ca_key, not_before=START)
        first = ec.generate_private_key(ec.SECP256R1())
        self.first = smki.device_certificate(
            ESME, first.public_key(), Usage.DS, self.ca, self.ca_key, not_before=START
        )
        self.store, self.keys, self.issuer = self.start()

    def start(self) -> tuple[Store, KeyStore, DeviceCertificates]:
        """The gateway (started again): its configured certificates, then its store's."""
        store = Store(self.path)
        keys = KeyStore()
        keys.add(ESME, Usage.DS, self.first)
        issuer = DeviceCertificates.load(store, keys, _pem(self.ca), _pem(self.ca_key))
        return store, keys, issuer


@pytest.fixture
def dcc(tmp_path: Path) -> Dcc:
    return Dcc(tmp_path / "gateway.sqlite")


def _request(
    eui: Eui64 = ESME, usage: Usage = Usage.DS
) -> tuple[bytes, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    return certification_request(eui, usage, key), key


def test_smki_certifies_a_devices_request_and_the_dcc_uses_it_once_the_device_took_it(
    dcc: Dcc,
) -> None:
    csr, key = _request()
    issued = dcc.issuer.issue(csr, {ESME})
    cert = issued.certificate
    assert smki.eui_of(cert) == ESME and smki.usage_of(cert) is Usage.DS
    assert cert.issuer == dcc.ca.subject
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    cert.verify_directly_issued_by(dcc.ca)
    # published, not in use: the device still holds its first key pair
    assert dcc.keys.find(ESME, Usage.DS).certificate == dcc.first
    assert [c.certificate for c in dcc.keys.credentials(ESME, Usage.DS)] == [dcc.first, cert]

    der = cert.public_bytes(serialization.Encoding.DER)
    with dcc.store.transaction():
        dcc.issuer.in_use(der)  # 6.15.2 answered success
    assert dcc.keys.find(ESME, Usage.DS).certificate == cert

    # the gateway started again: both restored, the one in use first
    dcc.store.close()
    store, keys, _ = dcc.start()
    assert [c.certificate for c in keys.credentials(ESME, Usage.DS)] == [cert, dcc.first]
    store.close()


def test_a_certificate_published_but_never_taken_stays_behind_after_a_restart(dcc: Dcc) -> None:
    issued = dcc.issuer.issue(_request()[0], {ESME}).certificate
    dcc.store.close()
    store, keys, _ = dcc.start()
    assert [c.certificate for c in keys.credentials(ESME, Usage.DS)] == [dcc.first, issued]
    store.close()


def _forged(csr: bytes) -> bytes:
    """``csr`` with its signature's last byte changed."""
    der = bytearray(csr)
    der[-1] ^= 0x01
    return bytes(der)


def _both_usages() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    usage = x509.KeyUsage(True, False, False, False, True, False, False, False, False)
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(usage, critical=True)
        .add_extension(
            x509.SubjectAlternativeName([smki.hardware_module_name(ESME)]), critical=True
        )
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )


@pytest.mark.parametrize(
    ("csr", "why"),
    [
        (b"\x30\x03\x02\x01\x00", "not a PKCS#10"),
        (_forged(_request()[0]), "does not verify"),
        (_request(STRANGER)[0], "not a device in the DCC's inventory"),
        (_both_usages(), "allows both signing and key agreement"),
    ],
    ids=["garbage", "forged", "unknown-device", "two-usages"],
)
def test_smki_refuses_a_request_it_cannot_certify_and_keeps_nothing(
    dcc: Dcc, csr: bytes, why: str
) -> None:
    with pytest.raises(IssuanceRefused, match=why):
        dcc.issuer.issue(csr, {ESME})
    assert dcc.store.device_certificates() == []
    assert len(dcc.keys.credentials(ESME, Usage.DS)) == 1


def test_without_its_ca_key_smki_says_what_to_do(dcc: Dcc) -> None:
    bare = DeviceCertificates(dcc.store, dcc.keys)
    with pytest.raises(IssuanceRefused, match="no SMKI issuing CA key: `rig up`"):
        bare.issue(_request()[0], {ESME})


async def test_the_smki_route_issues_and_refuses_saying_why(dcc: Dcc) -> None:
    app = web.Application()
    SmkiService(dcc.keys, {ESME}, dcc.issuer).routes(app)
    async with TestClient(TestServer(app)) as client:
        csr, _ = _request(usage=Usage.KA)
        body = (
            f"<CertificateSigningRequest><PKCS10>{base64.b64encode(csr).decode()}"
            "</PKCS10></CertificateSigningRequest>"
        )
        resp = await client.post("/services/issuecertificate", data=body)
        assert resp.status == 200
        root = parse(await resp.read()).getroot()
        der = base64.b64decode(root.findtext("CertificateResponse/CertificateBody") or "")
        cert = x509.load_der_x509_certificate(der)
        assert smki.usage_of(cert) is Usage.KA and smki.eui_of(cert) == ESME
        assert root.findtext("CertificateResponse/CertificateSubjectAltName") == ESME.duis

        # a search lists it (for the device, not yet in use)
        search = (
            f"<CertificateSearchRequest><CertificateSubjectAltName>{ESME.duis}"
            "</CertificateSubjectAltName></CertificateSearchRequest>"
        )
        resp = await client.post("/services/certificatesearch", data=search)
        listed = [r.findtext("CertificateSerial") for r in parse(await resp.read()).getroot()]
        assert str(cert.serial_number) in listed

        forged = base64.b64encode(_forged(_request()[0])).decode()
        resp = await client.post(
            "/services/issuecertificate",
            data=f"<CertificateSigningRequest><PKCS10>{forged}</PKCS10></CertificateSigningRequest>",
        )
        assert resp.status == 400 and "does not verify" in await resp.text()
        resp = await client.post("/services/issuecertificate", data="<CertificateSigningRequest/>")
        assert resp.status == 401 and "give PKCS10" in await resp.text()
