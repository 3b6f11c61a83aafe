"""The rig's test PKI, created on first use in the state folder.

Two trust domains, as in the real system, and the device manufacturer's key:

* SMKI (``pki/smki``): a root and an issuing CA; for every DCC User DS, KA and
  XML-signing certificates (suppliers also a prepayment KA); for the DCC's
  access control broker DS, KA and the XML-signing certificate of DCC responses; for its
  transitional change of supplier party (TransCoS) a DS certificate (it signs 6.23's CS02b);
  for the load controller (role 08, :data:`LOAD_CONTROLLER_EUI`) DS and KA certificates,
  which an ESME holds in its load controller cells (6.15.1's CS02g replaces them);
  DS and KA certificates for every Type 1 device (CHF, GPF, ESME, GSME, PPMID).
  An IHD is a Type 2 device: it has no SMKI certificates, only an install code.
* WAN TLS (``pki/wan``): a CA, the broker's server certificate and one client
  certificate per hub, for the gateway and for each of the controller's read-only
  observers (``rig-observer-1`` .. ``rig-observer-8``: ``rig status``, ``rig wan watch``).
* The device manufacturer (``pki/smki/manufacturer``): a DS credential that signs firmware
  images (``rig firmware make``), issued by the rig's SMKI CA as an organisation
  certificate (role 7F: GB has no SMKI role for manufacturers; the rig's choice).
  A state folder made by an older version gets the ones it lacks on the next ``ensure``.

Import mode takes the DCC Users' and the ACB's credentials from DCC Boxed's ZAZ1
keystore.json instead, so DCC's own tools accept what the rig signs. Private
keys are written 0600.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.config import DCC_TRANSCOS
from rig.description.model import Rig, Role, User, UserRole
from rig.pki.keystores import read_zaz1, zaz1_usage
from rig.protocol import smki
from rig.protocol.eui import Eui64
from rig.protocol.keystore import KeyStoreError, private_key_from_pem
from rig.protocol.smki import OrgRole, Usage
from rig.protocol.wan import GATEWAY_IDENTITY, OBSERVER_IDENTITIES, hub_identity
from rig.runtime.files import read_json, write_atomic, write_json

EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
ORG_VALIDITY = dt.datetime(2120, 1, 1, tzinfo=dt.UTC)
DEVICE_ROLES_WITH_CERTS = (Role.CHF, Role.ESME, Role.GSME, Role.PPMID)
MANUFACTURER_EUI = Eui64.parse("00-DB-12-00-00-00-00-01")  # the rig's device manufacturer
# the rig's load controller (an organisation, role 08: ZAZ1's and RTDS's load controller EUI)
LOAD_CONTROLLER_EUI = Eui64.parse("90-B3-D5-1F-30-01-00-08")

_USER_ORG_ROLE = {
    UserRole.IS: OrgRole.SUPPLIER,
    UserRole.GS: OrgRole.SUPPLIER,
    UserRole.ES: OrgRole.SUPPLIER,
    UserRole.ED: OrgRole.NETWORK_OPERATOR,
    UserRole.GT: OrgRole.NETWORK_OPERATOR,
    UserRole.RSA: OrgRole.OTHER_USER,
    UserRole.OU: OrgRole.OTHER_USER,
}


_PARTY_NAMES = {  # the organisations of the rig that are no DCC User of it
    OrgRole.ACCESS_CONTROL_BROKER: "access control broker",
    OrgRole.TRANSITIONAL_COS: "transitional CoS party",
    OrgRole.LOAD_CONTROLLER: "load controller",
}


class PkiError(RuntimeError):
    """The PKI cannot be built or does not match the rig; the message says what to do."""


@dataclass(frozen=True)
class Credential:
    cert: Path
    key: Path

    def load_cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert.read_bytes())

    def load_key(self) -> ec.EllipticCurvePrivateKey:
        return private_key_from_pem(self.key.read_bytes(), str(self.key))


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _save(cred: Credential, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    write_atomic(
        cred.key,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        mode=0o600,
    )
    write_atomic(cred.cert, cert.public_bytes(serialization.Encoding.PEM))


def _save_pem(cred: Credential, cert_pem: str, key_pem: str) -> None:
    write_atomic(cred.key, key_pem.encode(), mode=0o600)
    write_atomic(cred.cert, cert_pem.encode())


class Pki:
    """Paths of every credential; ``ensure`` creates whatever is missing."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.smki = root / "smki"
        self.wan = root / "wan"
        self.manifest_path = root / "manifest.json"

    # --- lookup ---------------------------------------------------------------
    def org(self, eui: Eui64, usage: Usage) -> Credential:
        return self._cred(self.smki / "orgs", f"{eui.hex}-{usage.value}")

    def device(self, eui: Eui64, usage: Usage) -> Credential:
        return self._cred(self.smki / "devices", f"{eui.hex}-{usage.value}")

    def manufacturer(self) -> Credential:
        """The device manufacturer's DS credential (signs firmware images); not an SMKI
        certificate the DCC publishes, so not in :meth:`inventory`."""
        return self._cred(self.smki / "manufacturer", f"{MANUFACTURER_EUI.hex}-{Usage.DS.value}")

    @property
    def smki_root(self) -> Credential:
        return self._cred(self.smki, "root-ca")

    @property
    def smki_issuing(self) -> Credential:
        return self._cred(self.smki, "issuing-ca")

    @property
    def wan_ca(self) -> Credential:
        return self._cred(self.wan, "ca")

    @property
    def wan_server(self) -> Credential:
        return self._cred(self.wan, "broker")

    def wan_client(self, identity: str) -> Credential:
        return self._cred(self.wan / "clients", identity)

    @staticmethod
    def _cred(folder: Path, stem: str) -> Credential:
        return Credential(folder / f"{stem}.pem", folder / f"{stem}.key")

    @property
    def manifest(self) -> dict:
        return read_json(self.manifest_path, {}) or {}

    # --- creation ---------------------------------------------------------------
    def ensure(self, rig: Rig, wan_hosts: Iterable[str]) -> list[str]:
        """Create what is missing for ``rig``; returns what was created (for progress)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        manifest = self.manifest
        source = rig.pki.source
        if manifest.get("source") and manifest["source"] != source:
            raise PkiError(
                f"the state folder holds a {manifest['source']} PKI but the rig asks for "
                f"{source}; run `rig pki clear` (it deletes {self.root}) or use another --state-dir"
            )
        created: list[str] = []
        keystore = _load_keystore(rig.pki.keystore) if source == "zaz1" else None
        if keystore is None:
            created += self._ensure_smki_cas(rig.name)
        for user in rig.users:
            created += self._ensure_org(
                user.eui,
                _USER_ORG_ROLE[user.role],
                user,
                keystore,
                with_pp=user.has(UserRole.IS) or user.has(UserRole.GS),
            )
        created += self._ensure_org(
            rig.acb_eui, OrgRole.ACCESS_CONTROL_BROKER, None, keystore, with_pp=False
        )
        created += self._ensure_org(
            DCC_TRANSCOS, OrgRole.TRANSITIONAL_COS, None, keystore, with_pp=False, only=Usage.DS
        )
        created += self._ensure_load_controller(keystore)
        created += self._ensure_devices(rig)
        created += self._ensure_manufacturer(rig.name if keystore is None else "zaz1")
        created += self._ensure_wan(rig, sorted(set(wan_hosts)))
        write_json(
            self.manifest_path,
            {
                "source": source,
                "keystore": str(rig.pki.keystore) if keystore is not None else None,
                "wan_hosts": sorted(set(wan_hosts)),
            },
        )
        return created

    def _ensure_smki_cas(self, rig_name: str) -> list[str]:
        created = []
        if not self.smki_root.cert.exists():
            key = _new_key()
            cert = smki.ca_certificate(
                f"{rig_name.upper()}-ROOT", key, not_before=EPOCH, path_length=1
            )
            _save(self.smki_root, cert, key)
            created.append("SMKI root CA")
        if not self.smki_issuing.cert.exists():
            root_cert, root_key = self.smki_root.load_cert(), self.smki_root.load_key()
            key = _new_key()
            cert = smki.ca_certificate(
                "RZ1", key, issuer=root_cert, issuer_key=root_key, not_before=EPOCH, path_length=0
            )
            _save(self.smki_issuing, cert, key)
            created.append("SMKI issuing CA")
        return created

    def _issue_org(
        self, eui: Eui64, role: OrgRole, usage: Usage, cn: str | None, to: Credential | None = None
    ) -> None:
        ca_cert, ca_key = self.smki_issuing.load_cert(), self.smki_issuing.load_key()
        key = _new_key()
        cert = smki.organisation_certificate(
            eui,
            role,
            key.public_key(),
            usage,
            ca_cert,
            ca_key,
            not_before=EPOCH,
            not_after=ORG_VALIDITY,
            common_name=cn,
        )
        _save(to or self.org(eui, usage), cert, key)

    def _ensure_org(
        self,
        eui: Eui64,
        role: OrgRole,
        user: User | None,
        keystore: dict | None,
        *,
        with_pp: bool,
        only: Usage | None = None,
    ) -> list[str]:
        usages = [Usage.DS, Usage.KA, Usage.XML] + ([Usage.PP_KA] if with_pp else [])
        usages = usages if only is None else [only]
        who = user.name if user else _PARTY_NAMES.get(role, "transitional CoS party")
        created = []
        for usage in usages:
            cred = self.org(eui, usage)
            if cred.cert.exists():
                continue
            if keystore is None:
                if usage is Usage.XML:
                    xml_role = OrgRole.XML_SIGN_DSP if user is None else OrgRole.XML_SIGN_USER
                    self._issue_org(eui, xml_role, usage, None)
                else:
                    self._issue_org(
                        eui, role, usage, user.name.upper() if user and usage is Usage.DS else None
                    )
            else:
                entry = _pick_zaz1(keystore, eui, usage)
                if entry is None:
                    if usage is Usage.XML:
                        # not every ZAZ1 party has one: the rig's own SMKI CA issues it
                        self._ensure_smki_cas("zaz1")
                        xml_role = OrgRole.XML_SIGN_DSP if user is None else OrgRole.XML_SIGN_USER
                        self._issue_org(eui, xml_role, usage, None)
                        created.append(f"{who} XML (rig CA: not in ZAZ1)")
                        continue
                    raise PkiError(
                        f"the ZAZ1 keystore has no {usage.value.upper()} credential for {who} "
                        f"({eui}); use one of its EUIs or pki.source: generate"
                    )
                _save_pem(cred, entry["certificate"], entry["privateKey"])
            created.append(f"{who} {usage.value.upper()}")
        return created

    def _ensure_load_controller(self, keystore: dict | None) -> list[str]:
        """The load controller's DS and KA credentials (no XML-signing one: it is no DCC
        User of the rig), issued as the other organisations' are, or ZAZ1's."""
        created = []
        for usage in (Usage.DS, Usage.KA):
            created += self._ensure_org(
                LOAD_CONTROLLER_EUI, OrgRole.LOAD_CONTROLLER, None, keystore, with_pp=False,
                only=usage,
            )  # fmt: skip
        return created

    def _ensure_devices(self, rig: Rig) -> list[str]:
        created = []
        wanted: list[tuple[str, Eui64]] = []
        for node in rig.nodes:
            if node.role in DEVICE_ROLES_WITH_CERTS:
                wanted.append((f"{node.role.value.upper()} {node.name}", node.eui))
            if node.gpf_eui is not None:
                wanted.append((f"GPF on {node.name}", node.gpf_eui))
        ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None
        for label, eui in wanted:
            for usage in (Usage.DS, Usage.KA):
                cred = self.device(eui, usage)
                if cred.cert.exists():
                    continue
                if ca is None:
                    self._ensure_smki_cas(rig.name)
                    ca = (self.smki_issuing.load_cert(), self.smki_issuing.load_key())
                key = _new_key()
                cert = smki.device_certificate(eui, key.public_key(), usage, *ca, not_before=EPOCH)
                _save(cred, cert, key)
                created.append(f"{label} {usage.value.upper()}")
        return created

    def _ensure_manufacturer(self, ca_name: str) -> list[str]:
        cred = self.manufacturer()
        if cred.cert.exists():
            return []
        self._ensure_smki_cas(ca_name)
        self._issue_org(MANUFACTURER_EUI, OrgRole.OTHER_USER, Usage.DS, "MANUFACTURER", cred)
        return ["device manufacturer DS"]

    def _ensure_wan(self, rig: Rig, hosts: list[str]) -> list[str]:
        created = []
        if not self.wan_ca.cert.exists():
            key = _new_key()
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{rig.name} WAN CA")])
            cert = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(EPOCH)
                .not_valid_after(ORG_VALIDITY)
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(
                    x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                    critical=True,
                )
                .add_extension(
                    x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
                )
                .sign(key, hashes.SHA256())
            )
            _save(self.wan_ca, cert, key)
            created.append("WAN TLS CA")
        if self.manifest.get("wan_hosts") != hosts or not self.wan_server.cert.exists():
            self._issue_tls("broker", hosts, server=True)
            created.append(f"broker TLS certificate for {', '.join(hosts)}")
        identities = [GATEWAY_IDENTITY, *OBSERVER_IDENTITIES] + [
            hub_identity(h.eui) for h in rig.hubs
        ]
        for identity in identities:
            if not self.wan_client(identity).cert.exists():
                self._issue_tls(identity, [], server=False)
                created.append(f"WAN client certificate {identity}")
        return created

    def _issue_tls(self, cn: str, hosts: list[str], *, server: bool) -> None:
        ca_cert, ca_key = self.wan_ca.load_cert(), self.wan_ca.load_key()
        key = _new_key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(EPOCH)
            .not_valid_after(ORG_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
        )
        if server:
            names: list[x509.GeneralName] = []
            for host in hosts:
                try:
                    names.append(x509.IPAddress(ipaddress.ip_address(host)))
                except ValueError:
                    names.append(x509.DNSName(host))
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cred = self.wan_server if server else self.wan_client(cn)
        _save(cred, builder.sign(ca_key, hashes.SHA256()), key)

    # --- listing ---------------------------------------------------------------
    def inventory(self) -> list[dict]:
        """Every SMKI certificate held: what it is for, serial, subject, expiry."""
        rows = []
        for folder, kind in (
            (self.smki / "orgs", "organisation"),
            (self.smki / "devices", "device"),
        ):
            for pem in sorted(folder.glob("*.pem")):
                cert = x509.load_pem_x509_certificate(pem.read_bytes())
                eui, usage = (
                    pem.stem.rsplit("-", 1)
                    if not pem.stem.endswith("pp-ka")
                    else (pem.stem[: -len("-pp-ka")], "pp-ka")
                )
                rows.append(
                    {
                        "kind": kind,
                        "eui": Eui64.parse(eui).duis,
                        "usage": usage,
                        "serial": cert.serial_number,
                        "subject": cert.subject.rfc4514_string(),
                        "not_after": cert.not_valid_after_utc.isoformat(),
                        "key": str(pem.with_suffix(".key")),
                        "cert": str(pem),
                    }
                )
        return rows


def _load_keystore(path: Path | None) -> dict:
    if path is None:
        raise PkiError("pki.source is zaz1 but no keystore path is given")
    try:
        return read_zaz1(path)
    except KeyStoreError as exc:
        raise PkiError(str(exc)) from None


def _pick_zaz1(keystore: dict, eui: Eui64, usage: Usage) -> dict | None:
    """The keystore's credential for ``eui`` and ``usage``: the latest-expiring one with a key."""
    by_usage = keystore.get(eui.hex.lower(), {})
    section = by_usage.get(
        "keyAgreement" if usage in (Usage.KA, Usage.PP_KA) else "digitalSignature", {}
    )
    candidates = []
    for entry in section.values():
        if not entry.get("privateKey"):
            continue
        cert = x509.load_pem_x509_certificate(entry["certificate"].encode())
        if zaz1_usage(entry, cert) is not usage:
            continue
        candidates.append((cert.not_valid_after_utc, entry))
    if not candidates:
        return None
    return max(candidates, key=lambda c: c[0])[1]
