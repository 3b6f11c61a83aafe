"""The SMKI repository interface DCC Boxed offers on its port 8083, for certificate lookups.

``POST /services/certificatesearch`` takes ``<CertificateSearchRequest>`` with a
``CertificateSubjectAltName`` (a device EUI) or ``CertificateSubjectName`` (an
organisation EUI) and lists the matching certificates; ``POST
/services/retrievecertificate`` takes ``<CertificateDataRequest><CertificateSerial>``
and returns the certificate body (base64 DER). 402 when nothing matches, 401 for a
request that cannot be read, as DCC Boxed answers.
"""

from __future__ import annotations

import base64

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from lxml import etree

from rig.protocol.duis.xml import XmlError, parse
from rig.protocol.eui import Eui64
from rig.protocol.keystore import Credential, KeyStore
from rig.protocol.smki import Usage

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


class SmkiService:
    def __init__(self, keys: KeyStore, devices: set[Eui64]) -> None:
        self.keys = keys
        self.devices = devices

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/services/certificatesearch", self.search)
        app.router.add_post("/services/retrievecertificate", self.retrieve)

    async def _read(self, request: web.Request) -> etree._Element:
        try:
            return parse(await request.read()).getroot()
        except XmlError as exc:
            raise web.HTTPUnauthorized(text=f"invalid search parameters: {exc}") from None

    def _is_device(self, cred: Credential) -> bool:
        return cred.eui in self.devices

    def _role(self, cred: Credential) -> str:
        ou = [a.value for a in cred.certificate.subject if a.oid.dotted_string == "2.5.4.11"]
        return _ROLE.get(str(ou[0]).upper(), "127") if ou else "127"

    async def search(self, request: web.Request) -> web.Response:
        root = await self._read(request)
        alt, name = (
            root.findtext("CertificateSubjectAltName"),
            root.findtext("CertificateSubjectName"),
        )
        try:
            eui = Eui64.parse((alt or name or "").strip())
        except ValueError:
            raise web.HTTPUnauthorized(
                text="give CertificateSubjectAltName or CertificateSubjectName"
            ) from None
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
        root = await self._read(request)
        serial = (root.findtext("CertificateSerial") or "").strip()
        if not serial.isdigit():
            raise web.HTTPUnauthorized(text="CertificateSerial is a decimal number")
        creds = self.keys.by_serial(int(serial))
        if not creds:
            raise web.HTTPPaymentRequired(text="no certificate with that serial")
        c = creds[0]
        resp = etree.Element("CertificateResponse")
        der = c.certificate.public_bytes(serialization.Encoding.DER)
        _field(resp, "CertificateBody", base64.b64encode(der).decode())
        _field(resp, "CertificateSerial", serial)
        _field(resp, "CertificateUsage", _USAGE[c.usage])
        _field(resp, "CertificateStatus", "R" if c.revoked else "I")
        if self._is_device(c):
            _field(resp, "CertificateSubjectAltName", c.eui.duis)
        else:
            _field(resp, "CertificateSubjectName", c.eui.duis)
            _field(resp, "CertificateRole", self._role(c))
        return _xml("CertificateDataResponse", [resp])
