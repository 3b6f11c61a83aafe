"""Checking a GBCS message's MAC and signature against a key store, and saying why not.

Which keys a MAC needs (GBCS 4.3.3): a command from a remote party is MAC'd by the DCC
access control broker (ACB) KA key against the device's KA key; a HAN-only command by
the originating device's KA key against the recipient's; responses and alerts by the
device's KA key against the recipient's. ECDH is symmetric, so either private key works.
Each check answers True, False, or None with the key that is not held.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from rig.protocol.eui import Eui64
from rig.protocol.gbcs.frame import Cra, GbcsMessage
from rig.protocol.gbcs.security import SecurityError, verify_mac, verify_signature
from rig.protocol.keystore import KeyStore
from rig.protocol.smki import Usage


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool | None
    reason: str = ""


def _pairs(
    msg: GbcsMessage, store: KeyStore, acb: Eui64 | None
) -> tuple[list[tuple[ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey]], list[str]]:
    """Usable (private, peer public) pairs, and what is missing for the others."""
    h = msg.header
    orig, recip = Eui64(h.originator), Eui64(h.recipient)
    wanted: list[tuple[Eui64, Eui64]] = []
    if h.cra is Cra.COMMAND and acb is not None:
        wanted.append((acb, recip))
    wanted += [(orig, recip), (recip, orig)]
    pairs: list[tuple[ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey]] = []
    missing: list[str] = []
    for mine, theirs in wanted:
        cred = store.private(mine, Usage.KA)
        priv = None if cred is None else cred.private_key
        pubs = store.credentials(theirs, Usage.KA)
        if priv is None:
            missing.append(f"no KA private key for {mine.duis}")
        elif not pubs:
            missing.append(f"no KA certificate for {theirs.duis}")
        else:
            pairs += [(priv, c.public_key) for c in pubs]
    return pairs, missing


def check_mac(msg: GbcsMessage, store: KeyStore, acb: Eui64 | None = None) -> Check:
    if msg.mac is None:
        return Check(None, "not MAC'd")
    pairs, missing = _pairs(msg, store, acb)
    if not pairs:
        return Check(None, "; ".join(dict.fromkeys(missing)) + " (not public)")
    for private_key, public_key in pairs:
        try:
            verify_mac(msg, private_key, public_key)
            return Check(True)
        except SecurityError:
            continue
    return Check(False, f"MAC does not verify with any of {len(pairs)} key pairs")


def check_signature(msg: GbcsMessage, store: KeyStore) -> Check:
    if msg.signature is None:
        return Check(None, "pre-command (unsigned)" if msg.is_pre_command else "not signed")
    originator = Eui64(msg.header.originator)
    creds = store.credentials(originator, Usage.DS)
    if not creds:
        return Check(None, f"no DS certificate for {originator.duis}")
    for cred in creds:
        try:
            verify_signature(msg, cred.public_key)
            return Check(True)
        except SecurityError:
            continue
    return Check(False, f"signature does not verify with the DS key of {originator.duis}")
