"""The SMKI repository interface DCC Boxed offers on its port 8083, for certificate lookups.

``POST /services/certificatesearch`` takes ``<CertificateSearchRequest>`` with a
``CertificateSubjectAltName`` (a device EUI) or ``CertificateSubjectName`` (an
organisation EUI) and lists the matching certificates; ``POST
/services/retrievecertificate`` takes ``<CertificateDataRequest><CertificateSerial>``
and returns the certificate body (base64 DER); ``POST /services/issuecertificate`` takes
``<CertificateSigningRequest><PKCS10>`` (a device's 6.17 request, base64 DER) and answers
the device certificate SMKI issues for it, as a retrieval does (the rig's own route: DCC
Boxed's SMKI portal is a web form). 402 when nothing matches, 401 for a
request that cannot be read, as DCC Boxed answers; every refusal says why in one line
and never echoes a value it refuses (which may be huge or hostile). A body larger than
any search needs is refused 413 before it is parsed.
"""

from __future__ import annotations

import base64
from collections.abc import Container

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from lxml import etree

from gateway.device_certificates import DeviceCertificates, IssuanceRefused
from rig.protocol.duis.xml import XmlError, parse
from rig.protocol.eui import Eui64, EuiError
from rig.protocol.keystore import Credential, KeyStore
from rig.protocol.smki import SerialError, Usage, parse_serial

MAX_REQUEST = 64 * 1024  # a search or retrieval is a few hundred bytes

_USAGE = {Usage.DS: "DS", Usage.KA: "KA", Usage.PP_KA: "KA", Usage.XML: "DS"}
_ROLE = {
    "02": "2",
    "03": "3",
    "04": "4",
    "01": "1",
    "06": "6",
    "08": "8",
    "7F": "127",
    "87": "135",
    "89": "135",
}


def _xml(name: str, children: list[etree._Element]) -> web.Response:
    root = etree.Element(name)
    root.extend(children)
    body = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return web.Response(body=body, content_type="application/xml")


def _field(parent: etree._Element, tag: str, value: str) -> None:
    etree.SubElement(parent, tag).text = value


def _unreadable(reason: str) -> web.HTTPUnauthorized:
    """DCC Boxed's refusal of a request it cannot read (401), with the reason on one line."""
    return web.HTTPUnauthorized(text=f"invalid search parameters: {' '.join(reason.split())}\n")


def _tag(element: etree._Element) -> str:
    """An element's name (``{namespace}name`` if it has one) for a message, cut short."""
    name = str(element.tag)
    return name if len(name) <= 64 else f"{name[:64]}..."


class SmkiService:
    def __init__(
        self,
        keys: KeyStore,
        devices: Container[Eui64],
        issuer: DeviceCertificates | None = None,
    ) -> None:
        """``devices``: the inventory (a device's certificates are published once the DCC
        holds the device: a boxed one's after its 12.2 pre-notification). ``issuer``: what
        issues device certificates for PKCS#10 requests (None: the route refuses them)."""
        self.keys = keys
        self.devices = devices
        self.issuer = issuer

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/services/certificatesearch", self.search)
        app.router.add_post("/services/retrievecertificate", self.retrieve)
        app.router.add_post("/services/issuecertificate", self.issue)

    async def _read(self, request: web.Request, expected: str) -> etree._Element:
        """The request's root element, which must be ``expected``; 401 otherwise."""
        body = await request.read()
        if len(body) > MAX_REQUEST:
            raise web.HTTPRequestEntityTooLarge(
                MAX_REQUEST,
                len(body),
                text=f"a SMKI request is at most {MAX_REQUEST} bytes, not {len(body)}\n",
            )
        try:
            root = parse(body).getroot()
        except XmlError as exc:
            raise _unreadable(f"the request is not XML: {exc}") from None
        if root.tag != expected:
            raise _unreadable(f"expected a <{expected}> request, not <{_tag(root)}>")
        return root

    @staticmethod
    def _one(root: etree._Element, tag: str) -> str | None:
        """The text of the one ``tag`` child of ``root`` ("" when empty), None if absent."""
        found = root.findall(tag)
        if len(found) > 1:
            raise _unreadable(f"give one {tag}, not {len(found)}")
        if not found:
            return None
        if len(found[0]):
            raise _unreadable(f"{tag} holds text only, not elements or comments")
        return found[0].text or ""

    def _is_device(self, cred: Credential) -> bool:
        return cred.eui in self.devices

    def _role(self, cred: Credential) -> str:
        ou = [a.value for a in cred.certificate.subject if a.oid.dotted_string == "2.5.4.11"]
        return _ROLE.get(str(ou[0]).upper(), "127") if ou else "127"

    async def search(self, request: web.Request) -> web.Response:
        root = await self._read(request, "CertificateSearchRequest")
        alt = self._one(root, "CertificateSubjectAltName")
        name = self._one(root, "CertificateSubjectName")
        if (alt is None) == (name is None):
            raise _unreadable(
                "give either CertificateSubjectAltName (a device EUI) or "
                "CertificateSubjectName (an organisation EUI)"
                + (", not both" if alt is not None else "")
            )
        tag = "CertificateSubjectAltName" if alt is not None else "CertificateSubjectName"
        try:
            eui = Eui64.parse(alt if alt is not None else name or "")
        except EuiError:
            raise _unreadable(f"{tag} must be an EUI-64, e.g. 00-DB-12-34-56-78-90-A0") from None
        found = [
            c
            for usage in Usage
            for c in self.keys.credentials(eui, usage)
            if self._is_device(c) == (alt is not None)
        ]
        if not found:
            raise web.HTTPPaymentRequired(text="no certificate matches")
        results = []
        for c in found:
            r = etree.Element("Result")
            _field(r, "CertificateSerial", str(c.serial))
            _field(r, "CertificateUsage", _USAGE[c.usage])
            _field(r, "CertificateStatus", "R" if c.revoked else "I")
            if not self._is_device(c):
                _field(r, "CertificateRole", self._role(c))
            results.append(r)
        return _xml("CertificateSearchResponse", results)

    async def retrieve(self, request: web.Request) -> web.Response:
        root = await self._read(request, "CertificateDataRequest")
        try:
            serial = parse_serial(self._one(root, "CertificateSerial") or "", "CertificateSerial")
        except SerialError as exc:
            raise _unreadable(str(exc)) from None
        creds = self.keys.by_serial(serial)
        if not creds:
            raise web.HTTPPaymentRequired(text="no certificate with that serial")
        return self._certificate(creds[0])

    async def issue(self, request: web.Request) -> web.Response:
        """A device certificate for the PKCS#10 request (base64 DER) a device gave 6.17,
        published (:mod:`gateway.device_certificates`); 400 saying why when it is refused."""
        root = await self._read(request, "CertificateSigningRequest")
        given = self._one(root, "PKCS10")
        if given is None:
            raise _unreadable("give PKCS10: the device's certification request, base64 DER")
        try:
            csr = base64.b64decode("".join(given.split()), validate=True)
        except ValueError:
            raise _unreadable("PKCS10 is not base64") from None
        if self.issuer is None:
            raise web.HTTPServiceUnavailable(text="this SMKI issues no certificates\n")
        try:
            issued = self.issuer.issue(csr, self.devices)
        except IssuanceRefused as exc:
            raise web.HTTPBadRequest(text=f"{exc}\n") from None
        return self._certificate(issued)

    def _certificate(self, c: Credential) -> web.Response:
        serial = c.serial
        resp = etree.Element("CertificateResponse")
        der = c.certificate.public_bytes(serialization.Encoding.DER)
        _field(resp, "CertificateBody", base64.b64encode(der).decode())
        _field(resp, "CertificateSerial", str(serial))
        _field(resp, "CertificateUsage", _USAGE[c.usage])
        _field(resp, "CertificateStatus", "R" if c.revoked else "I")
        if self._is_device(c):
            _field(resp, "CertificateSubjectAltName", c.eui.duis)
        else:
            _field(resp, "CertificateSubjectName", c.eui.duis)
            _field(resp, "CertificateRole", self._role(c))
        return _xml("CertificateDataResponse", [resp])
