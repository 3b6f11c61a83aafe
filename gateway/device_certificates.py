"""Device certificates the DCC's SMKI issues after the rig starts (6.17 then 6.15.2).

A device generates a key pair and answers 6.17 (CS02c) with a PKCS#10 request; its supplier
submits the request to SMKI (``POST /services/issuecertificate`` on the SMKI port:
:mod:`gateway.smki_service`), which checks it (its signature, the device's EUI in its
hardwareModuleName, one key usage: DS or KA, a device the inventory holds), issues the
device certificate from the rig's SMKI issuing CA and publishes it: a certificate search
lists it after the one in use. The supplier then sends it to the device with 6.15.2
(CS02d); once the device answers success the DCC uses it (its KA for the commands it MACs
for the device) and lists it first. Both steps are kept in the gateway's store, and
restored into the key store when the gateway starts again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Container
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.store import Store
from rig.protocol import smki
from rig.protocol.eui import Eui64
from rig.protocol.keystore import Credential, KeyStore, private_key_from_pem
from rig.protocol.smki import Usage

log = logging.getLogger("gateway.smki")


class IssuanceRefused(ValueError):
    """A certification request SMKI does not issue a certificate for (the reason says why)."""


@dataclass
class DeviceCertificates:
    store: Store
    keys: KeyStore
    ca_cert: x509.Certificate | None = None
    ca_key: ec.EllipticCurvePrivateKey | None = None

    @classmethod
    def load(
        cls, store: Store, keys: KeyStore, ca_cert: bytes | None, ca_key: bytes | None
    ) -> DeviceCertificates:
        """The issuer over ``store`` (its certificates restored into ``keys``), issuing with
        the CA of the PEM ``ca_cert`` and ``ca_key`` (none given: it issues nothing)."""
        issuer = cls(
            store,
            keys,
            None if ca_cert is None else x509.load_pem_x509_certificate(ca_cert),
            None if ca_key is None else private_key_from_pem(ca_key, "SMKI issuing CA key"),
        )
        issuer.restore()
        return issuer

    def restore(self) -> None:
        """Put every certificate SMKI issued into the key store; the in-use ones current."""
        rows = self.store.device_certificates()
        for eui, usage, der, _ in rows:
            self.keys.add(Eui64.parse(eui), Usage(usage), _cert(der), current=False)
        for eui, usage, der, in_use in rows:
            if in_use:
                self.keys.make_current(Eui64.parse(eui), Usage(usage), _cert(der).serial_number)

    def issue(self, csr_der: bytes, devices: Container[Eui64]) -> Credential:
        """The device certificate for a PKCS#10 request, published (not yet in use)."""
        if self.ca_cert is None or self.ca_key is None:
            raise IssuanceRefused(
                "this gateway holds no SMKI issuing CA key: `rig up` gives it the rig's own"
            )
        try:
            csr = x509.load_der_x509_csr(csr_der)
        except ValueError as exc:
            raise IssuanceRefused(f"not a PKCS#10 certification request (DER): {exc}") from None
        if not csr.is_signature_valid:
            raise IssuanceRefused("the request's signature does not verify with its key")
        key = csr.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            raise IssuanceRefused("the request's key is not EC P-256")
        try:
            eui, usage = smki.eui_of(csr), smki.usage_of(csr)
        except smki.ProfileError as exc:
            raise IssuanceRefused(f"the request breaks the GBCS profile: {exc}") from None
        if eui not in devices:
            raise IssuanceRefused(f"{eui.duis} is not a device in the DCC's inventory")
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        cert = smki.device_certificate(eui, key, usage, self.ca_cert, self.ca_key, not_before=now)
        der = cert.public_bytes(serialization.Encoding.DER)
        with self.store.transaction():
            self.store.publish_certificate(eui.hex, usage.value, der)
        cred = self.keys.add(eui, usage, cert, current=False, name=f"smki-{eui.hex}-{usage}")
        log.info(
            "smki.issued",
            extra={"device": eui.duis, "usage": usage.value, "serial": f"{cert.serial_number:x}"},
        )
        return cred

    def in_use(self, der: bytes) -> Credential | None:
        """A device took certificate ``der`` (6.15.2 answered success): the DCC uses it now.
        Inside the caller's transaction. None (logged) when it is not a device certificate."""
        try:
            cert = _cert(der)
            eui, usage = smki.eui_of(cert), smki.usage_of(cert)
        except (ValueError, smki.ProfileError) as exc:
            log.warning("smki.not_a_device_certificate", extra={"error": str(exc)})
            return None
        self.store.certificate_in_use(eui.hex, usage.value, der)
        self.keys.add(eui, usage, cert, current=False, name=f"smki-{eui.hex}-{usage}")
        cred = self.keys.make_current(eui, usage, cert.serial_number)
        log.info(
            "smki.in_use",
            extra={"device": eui.duis, "usage": usage.value, "serial": f"{cert.serial_number:x}"},
        )
        return cred


def _cert(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)
