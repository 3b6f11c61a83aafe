"""The test DCC User: builds, signs and sends DUIS, then reads the answer like a supplier.

``send("4.1.1", target)`` signs the request with the user's XML key and POSTs it to the
gateway; a critical SRV goes through the transform (CV 4), the returned pre-command is
signed with the user's DS key (GBCS) and sent back as CV 5; a non-device SRV (8.2) is
answered in the HTTP reply. The asynchronous response is awaited in the user's inbox
(the Receive Response Service), its DCC signature verified, its GBCS authenticated with
the user's KA key against the device's certificate fetched from the gateway's SMKI
service, decrypted where GBCS encrypts, and decoded.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from rig.dccuser import readers
from rig.dccuser.config import DccUsersConfig
from rig.pki.keystores import load
from rig.protocol import smki, utrn
from rig.protocol.duis.bodies import read_inventory, request_body
from rig.protocol.duis.message import Request, RequestId, Response, parse_response
from rig.protocol.duis.signed import sign_document, verify_document
from rig.protocol.duis.xml import NS, SR, parse, text
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import security
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.reading import ReadError
from rig.protocol.keystore import Credential, KeyStore, private_key_from_pem
from rig.protocol.smki import Usage
from rig.reference import duis_schema, srv_table
from rig.runtime.files import write_atomic

CONFIG_FILE = "users.json"
_E = f"{{{SR}}}"


class DccUserError(RuntimeError):
    """The exchange could not be completed; the message says where and what to do."""


@dataclass
class Outcome:
    request_id: str
    srv: str
    acknowledgement: str  # the synchronous code: I0, I99 or an error
    reason: str = ""
    response_code: str | None = None  # of the asynchronous response
    values: dict[str, Any] = field(default_factory=dict)
    inventory: list[dict[str, str]] = field(default_factory=list)
    response_file: str | None = None
    utrn: str | None = None  # a top-up's UTRN

    @property
    def ok(self) -> bool:
        return self.acknowledgement in ("I0", "I99") and self.response_code in (None, "I0")

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, [], {}, "")}


def _pem(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def body_for(srv: str, params: dict[str, str]) -> etree._Element:
    device = Eui64.parse(params["DeviceID"]) if srv == "8.2" else None
    try:
        return request_body(srv, device, params.get("UTRN"), params)
    except KeyError as exc:
        raise DccUserError(f"the test DCC User cannot build it: {exc.args[0]}") from None


class DccUser:
    def __init__(self, config: DccUsersConfig, user: str) -> None:
        self.config = config
        entry = config.client(user)
        if entry is None:
            names = ", ".join(c.name for c in config.clients)
            raise DccUserError(f"no DCC User {user!r} in this rig: {names}")
        self.name, self.role, self.eui = entry.name, entry.role, entry.eui
        self.dcc = config.dcc.eui
        self.keys = KeyStore()
        pairs = [(Usage.XML, entry.xml), (Usage.DS, entry.ds), (Usage.KA, entry.ka)]
        if entry.pp_ka is not None:
            pairs.append((Usage.PP_KA, entry.pp_ka))
        for usage, pair in pairs:
            self.keys.add(
                self.eui,
                usage,
                _pem(pair.cert),
                private_key_from_pem(pair.key.read_bytes(), str(pair.key)),
                name=f"{self.name}-{usage.value}",
            )
        self.keys.add(self.dcc, Usage.XML, _pem(config.dcc.xml_cert), name="dcc-xml")
        # every XML-signing key of the DCC the rig trusts (DCC Boxed signs with any of three)
        held = {c.serial for c in self.keys.credentials(self.dcc, Usage.XML)}
        for cred in load(list(config.dcc_certs)).credentials(self.dcc, Usage.XML):
            if cred.serial not in held:
                self.keys.add(self.dcc, Usage.XML, cred.certificate, name=cred.name)
        self.state = config.state_dir / self.eui.hex
        self.gateway = config.gateway
        self.receiver = config.receiver

    @classmethod
    def from_state(cls, state_dir: Path, user: str) -> DccUser:
        path = Path(state_dir) / "components" / "dcc-users" / CONFIG_FILE
        if not path.exists():
            raise DccUserError(f"no DCC Users at {path}: is the rig up (`rig up`)?")
        return cls(DccUsersConfig.load(path), user)

    def _cred(self, usage: Usage) -> Credential:
        cred = self.keys.private(self.eui, usage)
        assert cred is not None
        return cred

    def cos_certificates(self) -> dict[str, str]:
        """6.23's certificates: this user's own DS, KA and top-up KA, and the certification
        path (the CA that issued them), base64 DER. No path when the rig's CA did not issue
        them (ZAZ1's certificates: DCC's Z1 CA issued them, which a template carries)."""

        def b64(cert: x509.Certificate) -> str:
            return base64.b64encode(cert.public_bytes(Encoding.DER)).decode()

        own = {
            element: cred.certificate
            for element, usage in (
                ("DigitalSigningCertificate", Usage.DS),
                ("KeyAgreementCertificate", Usage.KA),
                ("KeyAgreementTopUpCertificate", Usage.PP_KA),
            )
            if (cred := self.keys.find(self.eui, usage)) is not None
        }
        given = {element: b64(cert) for element, cert in own.items()}
        ca = None if self.config.issuing_ca is None else _pem(self.config.issuing_ca)
        if ca is not None and own and all(smki.issued_by(c, ca) for c in own.values()):
            given["CertificationPath"] = b64(ca)
        return given

    def next_counter(self) -> int:
        """Milliseconds since the epoch, strictly above the last counter this user sent (a
        DUIS RequestID counter, as DCC's own tools make them)."""
        path = self.state / "counter"
        last = int(path.read_text()) if path.exists() else 0
        counter = max(time.time_ns() // 1_000_000, last + 1)
        write_atomic(path, str(counter))
        return counter

    def next_utrn_counter(self) -> int:
        """A UTRN's counter (GBCS 14): a multiple of 2^32, above the last this supplier used
        and not below the millisecond clock. Kept apart from the RequestID counters, so a
        top-up does not push them ahead (by up to 2^32 ms, 49 days) of DCC's own tools."""
        path = self.state / "utrn-counter"
        last = int(path.read_text()) if path.exists() else 0
        block = 1 << 32
        now = ((time.time_ns() // 1_000_000 + block - 1) // block) * block
        counter = max(now, last + block)
        write_atomic(path, str(counter))
        return counter

    async def top_up(
        self,
        target: Eui64,
        *,
        pounds: float | None = None,
        utrn_code: str | None = None,
        wait: float = 90.0,
    ) -> Outcome:
        """2.2 Top Up Device: a UTRN made with this supplier's prepayment key for ``pounds``
        (whole pence), or the given one, sent through the DCC."""
        if utrn_code is None:
            if pounds is None:
                raise DccUserError("give the amount (--amount POUNDS) or a UTRN (--utrn)")
            pp = self.keys.private(self.eui, Usage.PP_KA)
            if pp is None or pp.private_key is None:
                raise DccUserError(f"{self.name} has no prepayment key: is it a supplier?")
            pence, counter = round(pounds * 100), self.next_utrn_counter()
            top = (
                utrn.TopUp(pence // 100, utrn.ValueClass.POUNDS, counter)
                if pence % 100 == 0
                else utrn.TopUp(pence, utrn.ValueClass.PENNIES, counter)
            )
            async with aiohttp.ClientSession() as session:
                meter = (await self.device_certificate(session, target, Usage.KA)).public_key()
            if not isinstance(meter, ec.EllipticCurvePublicKey):
                raise DccUserError(f"the KA certificate of {target.duis} is not elliptic-curve")
            try:
                utrn_code = utrn.make(top, self.eui.raw, target.raw, pp.private_key, meter)
            except utrn.UtrnError as exc:
                raise DccUserError(f"cannot make a UTRN for £{pounds:.2f}: {exc}") from None
        out = await self.send("2.2", target, {"UTRN": utrn_code}, wait=wait)
        out.utrn = utrn_code
        return out

    async def rekey(self, target: Eui64, usage: Usage, *, wait: float = 90.0) -> Outcome:
        """A new key pair for the device, certified: 6.17 Issue Security Credentials (the
        device generates it and answers a PKCS#10 request), SMKI issues the certificate, and
        6.15.2 Update Security Credentials (Device) puts it into the device, which uses the
        key pair from then on (as the DCC does its certificate). The 6.15.2 outcome, with the
        certificate issued (``values["certificate"]``, base64 DER)."""
        credential_type = "Digital Signature" if usage is Usage.DS else "Key Agreement"
        issued = await self.send("6.17", target, {"CredentialType": credential_type}, wait=wait)
        csr = issued.values.get("certification_request")
        if not issued.ok or not csr:
            return issued
        async with aiohttp.ClientSession() as session:
            der = await self.issue_certificate(session, base64.b64decode(csr))
        given = base64.b64encode(der).decode()
        out = await self.send("6.15.2", target, {"DeviceCertificate": given}, wait=wait)
        out.values["certificate"] = given
        return out

    def request(
        self,
        srv: str,
        target: Eui64,
        cv: int,
        counter: int,
        body: etree._Element,
        *,
        check_schema: bool = True,
    ) -> bytes:
        service = srv_table().lookup(srv)
        req = Request(
            RequestId(self.eui, target, counter), cv, service.service_reference, srv, body
        )
        return sign_document(
            req.to_element(), self._cred(Usage.XML), xsd=duis_schema() if check_schema else None
        )

    # --- talking to the gateway ---------------------------------------------------------------
    async def post(
        self, session: aiohttp.ClientSession, url: str, signed: bytes
    ) -> tuple[str, str, bytes]:
        try:
            async with session.post(
                f"{self.gateway.duis}/{url}",
                data=signed,
                headers={"Content-Type": "application/xml"},
            ) as resp:
                body = await resp.read()
                reason = resp.headers.get("X-Rig-Reason", "")
                code = resp.headers.get("X-DUIS-Response-Code", "")
        except aiohttp.ClientError as exc:
            raise DccUserError(
                f"the gateway's DUIS interface {self.gateway.duis} is unreachable "
                f"({exc}): is the rig up?"
            ) from None
        if body.startswith(b"<"):
            return parse_response(parse(body).getroot()).response_code, reason, body
        words = body.decode(errors="replace").split(maxsplit=1)
        return code or (words[0] if words else f"HTTP {resp.status}"), reason, body

    async def send(
        self,
        srv: str,
        target: Eui64 | None = None,
        params: dict[str, str] | None = None,
        *,
        wait: float = 90.0,
        counter: int | None = None,
        body: etree._Element | None = None,
    ) -> Outcome:
        params = dict(params or {})
        service = srv_table().lookup(srv)
        if service.non_device:
            params.setdefault("DeviceID", (target or Eui64.parse(params.get("DeviceID", ""))).duis)
            target = self.dcc
        if target is None:
            raise DccUserError(f"SRV {srv} needs a target device (--target EUI)")
        if params.pop("UnknownRemoteParty", "").lower() in ("1", "true", "yes"):
            # not the device's known remote party: the device encrypts for this certificate
            ka = self.keys.get(self.eui, Usage.KA).certificate.public_bytes(Encoding.DER)
            params["KAPublicSecurityCredentials"] = base64.b64encode(ka).decode()
        if srv in ("6.23", "6.21", "6.15.1"):  # the party sends its own certificates
            params = {**self.cos_certificates(), **params}
        body = body_for(srv, params) if body is None else body
        counter = counter or self.next_counter()
        rid = str(RequestId(self.eui, target, counter))
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            if service.non_device:
                code, reason, reply = await self.post(
                    session, "serviceD", self.request(srv, target, 8, counter, body)
                )
                out = Outcome(rid, srv, code, reason)
                if code == "I0":
                    root = parse(reply).getroot()
                    out.inventory = read_inventory(root)
                    schedule = root.findtext(".//sr:DSPScheduleID", namespaces=NS)
                    if schedule is not None:  # 5.1's answer
                        out.values["DSPScheduleID"] = int(schedule)
                return out
            if service.critical:
                code, reason, reply = await self.post(
                    session, "serviceT", self.request(srv, target, 4, counter, body)
                )
                if code != "I0":
                    return Outcome(rid, srv, code, reason)
                signed = self._sign_pre_command(reply)
                spc = etree.Element(f"{_E}SignedPreCommand", nsmap={"sr": SR})
                etree.SubElement(spc, f"{_E}GBCSPayload").text = base64.b64encode(signed).decode()
                code, reason, _ = await self.post(
                    session, "serviceS", self.request(srv, target, 5, counter, spc)
                )
            else:
                code, reason, _ = await self.post(
                    session, "serviceS", self.request(srv, target, 1, counter, body)
                )
            out = Outcome(rid, srv, code, reason)
            if code != "I99" or wait <= 0:
                return out
            await self._await_response(session, out, wait)
            return out

    def _sign_pre_command(self, reply: bytes) -> bytes:
        root = parse(reply).getroot()
        payload = text(root, "sr:Body/sr:ResponseMessage/sr:PreCommand/sr:GBCSPayload")
        if not payload:
            raise DccUserError("the transform answered without a PreCommand")
        pre = GbcsMessage.decode(base64.b64decode("".join(payload.split())))
        if not pre.is_pre_command:
            raise DccUserError("the transform returned something other than a pre-command")
        key = self._cred(Usage.DS).private_key
        assert key is not None  # _cred returns a credential with its private key
        return security.sign_message(pre, key).encode()

    async def _await_response(
        self, session: aiohttp.ClientSession, out: Outcome, wait: float
    ) -> None:
        entries = await self.inbox(session, request_id=out.request_id, wait=wait)
        if not entries:
            raise DccUserError(
                f"no response to {out.request_id} within {wait:.0f} s: "
                f"see `rig trace {out.request_id}`"
            )
        entry = entries[-1]
        out.response_file = entry["file"]
        response = self.verify(Path(entry["file"]).read_bytes())
        out.response_code = response.response_code
        if response.gbcs_payload:
            out.values = await self.read_gbcs(session, response.gbcs_payload)

    async def inbox(
        self,
        session: aiohttp.ClientSession,
        *,
        request_id: str | None = None,
        kind: str | None = None,
        wait: float = 0.0,
    ) -> list[dict]:
        query = (
            {"wait": str(wait)}
            | ({"request_id": request_id} if request_id else {})
            | ({"kind": kind} if kind else {})
        )
        async with session.get(
            f"{self.receiver}/inbox/{self.eui.hex}",
            params=query,
            timeout=aiohttp.ClientTimeout(total=wait + 10),
        ) as resp:
            resp.raise_for_status()
            return await resp.json()

    def verify(self, document: bytes) -> Response:
        """A response the DCC signed (with any of its XML-signing keys), read."""
        verified = verify_document(document, self.keys, xsd=duis_schema())
        if verified.signer.eui != self.dcc or verified.signer.usage is not Usage.XML:
            raise DccUserError(
                f"the document is signed by {verified.signer.eui.duis}, not by the DCC"
            )
        doc = verified.document
        if not isinstance(doc, Response):
            raise DccUserError("the inbox holds a request, not a response")
        return doc

    # --- reading GBCS as the recipient ------------------------------------------------------------
    async def device_certificate(
        self, session: aiohttp.ClientSession, device: Eui64, usage: Usage
    ) -> x509.Certificate:
        """The device's certificate of ``usage`` the DCC has it use: SMKI lists it first."""
        held = self.keys.find(device, usage)
        if held is not None:
            return held.certificate
        listed = await self._smki_certificates(session, device, usage)
        if not listed:
            raise DccUserError(f"SMKI lists no {usage.value.upper()} certificate for {device.duis}")
        self.keys.add(device, usage, listed[0], name=f"smki-{device.hex}-{usage.value}")
        return listed[0]

    async def _smki_certificates(
        self, session: aiohttp.ClientSession, device: Eui64, usage: Usage
    ) -> list[x509.Certificate]:
        """Every certificate of ``usage`` SMKI lists for the device, in its order."""
        search = (
            "<CertificateSearchRequest><CertificateSubjectAltName>"
            f"{device.duis}</CertificateSubjectAltName></CertificateSearchRequest>"
        )
        status, body = await self._smki(session, "certificatesearch", search)
        if status != 200:
            raise DccUserError(f"SMKI has no certificate for {device.duis} (HTTP {status})")
        results = parse(body).getroot().findall("Result")
        want = "DS" if usage is Usage.DS else "KA"
        found = []
        for serial in (
            r.findtext("CertificateSerial")
            for r in results
            if r.findtext("CertificateUsage") == want and r.findtext("CertificateStatus") != "R"
        ):
            request = (
                "<CertificateDataRequest><CertificateSerial>"
                f"{serial}</CertificateSerial></CertificateDataRequest>"
            )
            _status, body = await self._smki(session, "retrievecertificate", request)
            der = parse(body).getroot().findtext("CertificateResponse/CertificateBody")
            found.append(x509.load_der_x509_certificate(base64.b64decode(der or "")))
        return found

    async def _smki(
        self, session: aiohttp.ClientSession, route: str, request: str
    ) -> tuple[int, bytes]:
        """POST ``request`` (XML) to the SMKI repository's ``route``: status and body."""
        async with session.post(
            f"{self.gateway.smki}/{route}",
            data=request,
            headers={"Content-Type": "application/xml"},
        ) as resp:
            return resp.status, await resp.read()

    async def issue_certificate(self, session: aiohttp.ClientSession, csr: bytes) -> bytes:
        """The device certificate (DER) SMKI issues for a device's PKCS#10 request (6.17's)."""
        request = (
            "<CertificateSigningRequest><PKCS10>"
            f"{base64.b64encode(csr).decode()}</PKCS10></CertificateSigningRequest>"
        )
        status, body = await self._smki(session, "issuecertificate", request)
        if status != 200:
            raise DccUserError(
                f"SMKI issued no certificate (HTTP {status}): {body.decode().strip()}"
            )
        cert = parse(body).getroot().findtext("CertificateResponse/CertificateBody")
        return base64.b64decode(cert or "")

    async def read_gbcs(self, session: aiohttp.ClientSession, payload: bytes) -> dict[str, Any]:
        """The device's answer or alert, read: authenticated with the device's certificate
        SMKI lists first (the one the DCC has it use), else, when that one fails (an answer
        protected just before the device took a new one: 6.15.2's), any other it lists."""
        msg = GbcsMessage.decode(payload)
        device = Eui64(msg.header.originator)
        usage = Usage.KA if msg.mac is not None else Usage.DS
        first = await self.device_certificate(session, device, usage)
        try:
            return self._read_with(msg, usage, first)
        except ReadError as exc:
            failure = exc
        for cert in await self._smki_certificates(session, device, usage):
            if cert != first:
                with contextlib.suppress(ReadError):
                    return self._read_with(msg, usage, cert)
        raise failure

    def _read_with(self, msg: GbcsMessage, usage: Usage, cert: x509.Certificate) -> dict[str, Any]:
        key = cert.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise DccUserError(f"a {usage.value} certificate of the device is not EC P-256")
        ka, ds = (key, None) if usage is Usage.KA else (None, key)
        return readers.read(
            msg, user_ka=self._cred(Usage.KA).private_key, device_ka=ka, device_ds=ds
        )


def run(coro):
    return asyncio.run(coro)
