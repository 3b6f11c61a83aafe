"""The DCC's key store: every certificate it publishes through SMKI, with its own private keys
(the access control broker's KA key, which MACs commands; its XML-signing key)."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.config import GatewayConfig
from rig.protocol.keystore import Credential, KeyStore, private_key_from_pem
from rig.protocol.smki import Usage


def load_keys(config: GatewayConfig) -> KeyStore:
    keys = KeyStore()
    for c in config.certificates:
        cert = x509.load_pem_x509_certificate(c.cert.read_bytes())
        key = None if c.key is None else private_key_from_pem(c.key.read_bytes(), str(c.key))
        keys.add(c.eui, c.usage, cert, key, name=c.cert.name)
    return keys


def dcc_credential(keys: KeyStore, config: GatewayConfig, usage: Usage) -> Credential:
    """The DCC's own credential for ``usage``, which must hold its private key."""
    cred = keys.private(config.acb_eui, usage)
    if cred is None or cred.private_key is None:
        raise ValueError(
            f"the gateway needs the ACB's {usage.value} private key ({config.acb_eui.duis}): "
            "`rig up` writes it into the gateway's config"
        )
    return cred


def dcc_key(keys: KeyStore, config: GatewayConfig, usage: Usage) -> ec.EllipticCurvePrivateKey:
    key = dcc_credential(keys, config, usage).private_key
    assert key is not None  # dcc_credential checked it
    return key
