"""Fill a :class:`~rig.protocol.keystore.KeyStore` from files.

Understands three layouts, so one ``--keys`` option takes any of them:

* folders of ``<eui>-<ds|ka|pp-ka|xml>.pem`` with an optional ``.key`` beside each
  (the rig's own PKI under ``smki/``, DCC's RTDS keystore, the public device keys);
* DCC's signing-tool credentials (``xml-sign-<EUI>-ds.pem``, ``Z1-supplier-ds.pem``,
  keys in DER or PEM PKCS#8);
* the ZAZ1 ``keystore.json`` of DCC Boxed.

Certificates without an EUI-64 (CAs, WAN TLS) are skipped.
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.utils import CryptographyDeprecationWarning

from rig.protocol.eui import Eui64
from rig.protocol.keystore import KeyStore, KeyStoreError, private_key_from_pem
from rig.protocol.smki import OrgRole, ProfileError, Usage, eui_of, role_of, usage_of

log = logging.getLogger("rig.pki")
_STEM = re.compile(r"^(?P<eui>[0-9A-Fa-f]{16})-(?P<usage>ds|ka|pp-ka|xml)$")
_XML_ROLES = {OrgRole.XML_SIGN_USER, OrgRole.XML_SIGN_DSP}


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey | None:
    if not path.exists():
        return None
    data = path.read_bytes()
    try:
        key = (
            serialization.load_pem_private_key(data, None)
            if data.lstrip().startswith(b"-----")
            else serialization.load_der_private_key(data, None)
        )
    except ValueError as exc:
        raise KeyStoreError(f"{path}: not a PKCS#8 private key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise KeyStoreError(f"{path}: not an elliptic-curve key")
    return key


def _usage_by_name(stem: str, cert: x509.Certificate) -> Usage:
    """Usage of a signing-tool credential (``xml-sign-…-ds``, ``Z1-supplierPP-ka``)."""
    lowered = stem.lower()
    if "xml" in lowered or role_of(cert) in _XML_ROLES:
        return Usage.XML
    if "pp-ka" in lowered or re.search(r"PP-ka$", stem):
        return Usage.PP_KA
    return usage_of(cert)


def load_folder(store: KeyStore, folder: Path) -> int:
    """Every certificate under ``folder`` (recursively), with its key where one lies beside it."""
    if not folder.is_dir():
        raise KeyStoreError(f"{folder} is not a folder of certificates")
    count = 0
    for pem in sorted(folder.rglob("*.pem")):
        if pem.name.endswith(".key.pem") or b"BEGIN CERTIFICATE" not in pem.read_bytes():
            continue
        count += load_file(store, pem)
    # Private keys kept apart from their certificates (DCC's public device keys).
    for key_path in sorted(folder.rglob("*.key")):
        m = _STEM.match(key_path.stem)
        if not m or key_path.with_suffix(".pem").exists():
            continue
        key = _load_key(key_path)
        eui, usage = Eui64(bytes.fromhex(m["eui"])), Usage(m["usage"])
        for cred in store.credentials(eui, usage):
            if key and cred.public_key.public_numbers() == key.public_key().public_numbers():
                cred.private_key = key
    return count


ZAZ1_XML_ROLES = {0x87, 0x89}  # XML signing: DCC User (87), DCC service provider (89)


def read_zaz1(path: Path) -> dict:
    """DCC Boxed's ZAZ1 keystore.json (or the npm package folder holding it), as a dict."""
    if path.is_dir():
        path = path / "keystore.json"
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise KeyStoreError(
            f"cannot read the ZAZ1 keystore {path}: {exc.strerror}; give the path of "
            "keystore.json (e.g. ../shared/vectors/smki/zaz1-keystore.json or "
            "node_modules/@smartdcc/dccboxed-keystore)"
        ) from None
    except ValueError as exc:
        raise KeyStoreError(f"{path} is not a keystore.json: {exc}") from None
    if not isinstance(data, dict):
        raise KeyStoreError(f"{path} is not a DCC Boxed keystore (expected an object keyed by EUI)")
    return data


def zaz1_usage(entry: dict, cert: x509.Certificate) -> Usage:
    """What a ZAZ1 entry is for: XML signing by role, prepayment KA by name, else keyUsage."""
    if int(entry.get("role", 0)) in ZAZ1_XML_ROLES:
        return Usage.XML
    if "PP" in str(entry.get("name", "")):
        return Usage.PP_KA
    return usage_of(cert)


def load_zaz1(store: KeyStore, path: Path) -> int:
    """Every credential of a ZAZ1 keystore.json into ``store``."""
    data = read_zaz1(path)
    count = 0
    skipped: dict[str, str] = {}
    with warnings.catch_warnings():
        # ZAZ1 certificates were made by Java with a NULL parameter; they are DCC's as-is.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        for eui_text, sections in data.items():
            count += _zaz1_entries(store, Eui64.parse(eui_text), sections, skipped)
    if skipped:  # one line a load (every rig process loads it), not one an entry
        log.info(
            "pki.zaz1_entries_skipped",
            extra={"keystore": str(path), "count": len(skipped), "entries": skipped},
        )
    return count


def _zaz1_entries(store: KeyStore, eui: Eui64, sections: dict, skipped: dict[str, str]) -> int:
    """The usable credentials of one EUI's ZAZ1 entries into ``store``; the others into
    ``skipped`` ("<EUI> <name>" -> why)."""
    count = 0
    for section in sections.values():
        for entry in section.values():
            name = str(entry.get("name", ""))
            try:
                cert = x509.load_pem_x509_certificate(entry["certificate"].encode())
            except ValueError as exc:  # a newer cryptography refuses a few odd ZAZ1 entries
                skipped[f"{eui.duis} {name}"] = str(exc)
                continue
            key = None
            if entry.get("privateKey"):
                key = private_key_from_pem(entry["privateKey"].encode(), f"ZAZ1 {name}")
            store.add(eui, zaz1_usage(entry, cert), cert, key, name=name)
            count += 1
    return count


def load_file(store: KeyStore, pem: Path) -> int:
    """One certificate file (``<eui>-<usage>.pem`` or a signing-tool credential), with its
    key when one lies beside it; 0 for a certificate without an EUI-64 (a CA, TLS)."""
    cert = x509.load_pem_x509_certificate(pem.read_bytes())
    m = _STEM.match(pem.stem)
    try:
        if m:
            eui, usage = Eui64(bytes.fromhex(m["eui"])), Usage(m["usage"])
        else:
            eui, usage = eui_of(cert), _usage_by_name(pem.stem, cert)
    except ProfileError:
        return 0
    key = _load_key(pem.with_suffix(".key")) or _load_key(pem.with_name(pem.stem + ".key.pem"))
    store.add(eui, usage, cert, key, name=pem.stem)
    return 1


def load(paths: list[Path]) -> KeyStore:
    """A key store from any mix of folders, certificate files and keystore.json files."""
    store = KeyStore()
    for path in paths:
        if path.is_file() and path.suffix == ".json":
            load_zaz1(store, path)
        elif path.is_file():
            load_file(store, path)
        elif (path / "keystore.json").is_file():
            load_zaz1(store, path / "keystore.json")
        elif path.is_dir():
            load_folder(store, path)
        else:
            raise KeyStoreError(f"{path}: no such certificate, folder or keystore.json")
    return store
