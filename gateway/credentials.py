"""The DCC's key store: every certificate it publishes through SMKI, with its own private keys
(the access control broker's KA key, which MACs commands; its XML-signing key; the
transitional change of supplier party's DS key, which signs 6.23's CS02b)."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.config import GatewayConfig
from rig.protocol.eui import Eui64
from rig.protocol.keystore import Credential, KeyStore, private_key_from_pem
from rig.protocol.smki import Usage


def load_keys(config: GatewayConfig) -> KeyStore:
    keys = KeyStore()
    for c in config.certificates:
        cert = x509.load_pem_x509_certificate(c.cert.read_bytes())
        key = None if c.key is None else private_key_from_pem(c.key.read_bytes(), str(c.key))
        keys.add(c.eui, c.usage, cert, key, name=c.cert.name)
    return keys


def dcc_credential(
    keys: KeyStore, config: GatewayConfig, usage: Usage, party: Eui64 | None = None
) -> Credential:
    """The DCC's own credential for ``usage``, which must hold its private key: the ACB's,
    or another DCC party's (the transitional CoS party's DS key)."""
    party = party or config.acb_eui
    cred = keys.private(party, usage)
    if cred is None or cred.private_key is None:
        who = "ACB" if party == config.acb_eui else "DCC party"
        raise ValueError(
            f"the gateway needs the {who}'s {usage.value} private key ({party.duis}): "
            "`rig up` writes it into the gateway's config"
        )
    return cred


def dcc_key(
    keys: KeyStore, config: GatewayConfig, usage: Usage, party: Eui64 | None = None
) -> ec.EllipticCurvePrivateKey:
    key = dcc_credential(keys, config, usage, party).private_key
    assert key is not None  # dcc_credential checked it
    return key
