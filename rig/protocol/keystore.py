"""The SMKI key store: certificates (and, where held, private keys) by EUI-64 and usage.

In memory and pure; :mod:`rig.pki.keystores` fills it from the rig's PKI folder, DCC's RTDS
keystore or the ZAZ1 keystore.json. Test certificates are pinned, not chain-validated,
and their dates are not checked (several ZAZ1 certificates have expired). A certificate
can be revoked, and replaced: the newest non-revoked credential for an (EUI, usage) is
the current one, and verification may try every non-revoked one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from rig.protocol.eui import Eui64
from rig.protocol.smki import Usage


class KeyStoreError(LookupError):
    """A key or certificate the store does not hold, or one it refuses to hold."""


def private_key_from_pem(data: bytes, name: str = "key") -> ec.EllipticCurvePrivateKey:
    """An unencrypted PEM private key, which must be EC P-256 (every GBCS key is)."""
    key = serialization.load_pem_private_key(data, None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise KeyStoreError(f"{name}: not a P-256 private key")
    return key


@dataclass(slots=True)
class Credential:
    eui: Eui64
    usage: Usage
    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey | None = None
    name: str = ""  # where it came from, e.g. "Z1-supplier-ds" or a file name
    revoked: bool = False

    @property
    def serial(self) -> int:
        return self.certificate.serial_number

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        key = self.certificate.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            raise KeyStoreError(f"{self.name or self.serial}: not a P-256 key")
        return key


@dataclass
class KeyStore:
    _by_id: dict[tuple[Eui64, Usage], list[Credential]] = field(default_factory=dict)
    _by_serial: dict[int, list[Credential]] = field(default_factory=dict)

    def add(
        self,
        eui: Eui64,
        usage: Usage,
        certificate: x509.Certificate,
        private_key: ec.EllipticCurvePrivateKey | None = None,
        name: str = "",
        *,
        current: bool = True,
    ) -> Credential:
        """Add (or replace with) a credential; it becomes the current one for its EUI and usage
        (``current``), or is held behind the others (published, not yet in use)."""
        if private_key is not None:
            cert_key = certificate.public_key()
            if not isinstance(cert_key, ec.EllipticCurvePublicKey):
                raise KeyStoreError(
                    f"{name or eui}: the certificate's public key is {type(cert_key).__name__}, "
                    "not an EC key, so it cannot match the EC private key"
                )
            if private_key.public_key().public_numbers() != cert_key.public_numbers():
                raise KeyStoreError(
                    f"{name or eui}: the private key does not match the certificate"
                )
        for existing in self._by_serial.get(certificate.serial_number, []):
            if existing.eui == eui and existing.usage == usage:
                if private_key is not None and existing.private_key is None:
                    existing.private_key = private_key
                return existing
        cred = Credential(eui, usage, certificate, private_key, name)
        held = self._by_id.setdefault((eui, usage), [])
        if current:
            held.append(cred)
        else:
            held.insert(0, cred)
        self._by_serial.setdefault(certificate.serial_number, []).append(cred)
        return cred

    def make_current(self, eui: Eui64, usage: Usage, serial: int) -> Credential:
        """Make the held credential with ``serial`` the current one for its EUI and usage."""
        held = self._by_id.get((eui, usage), [])
        found = next((c for c in held if c.serial == serial), None)
        if found is None:
            raise KeyStoreError(
                f"no {usage.value.upper()} certificate {serial:#x} for {eui.duis} in the key store"
            )
        held.remove(found)
        held.append(found)
        return found

    def credentials(self, eui: Eui64, usage: Usage) -> list[Credential]:
        """Non-revoked credentials, newest first."""
        return [c for c in reversed(self._by_id.get((eui, usage), [])) if not c.revoked]

    def find(self, eui: Eui64, usage: Usage) -> Credential | None:
        found = self.credentials(eui, usage)
        return found[0] if found else None

    def get(self, eui: Eui64, usage: Usage) -> Credential:
        cred = self.find(eui, usage)
        if cred is None:
            raise KeyStoreError(
                f"no {usage.value.upper()} certificate for {eui.duis} in the key store"
            )
        return cred

    def private(self, eui: Eui64, usage: Usage) -> Credential | None:
        """The newest non-revoked credential with a private key."""
        return next((c for c in self.credentials(eui, usage) if c.private_key), None)

    def by_serial(self, serial: int) -> list[Credential]:
        return list(self._by_serial.get(serial, []))

    def revoke(self, serial: int) -> list[Credential]:
        found = self.by_serial(serial)
        if not found:
            raise KeyStoreError(f"no certificate with serial {serial:#x} to revoke")
        for cred in found:
            cred.revoked = True
        return found

    def __iter__(self) -> Iterator[Credential]:
        for creds in self._by_id.values():
            yield from creds

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_id.values())

    def euis(self) -> set[Eui64]:
        return {eui for eui, _ in self._by_id}
