"""The rig's test PKI: SMKI profiles as in DCC's reference certificates, 0600 keys, ZAZ1 import."""

from __future__ import annotations

import stat
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from rig.description import default_rig
from rig.description.model import PkiSettings
from rig.pki.authority import Pki, PkiError
from rig.protocol import smki
from rig.protocol.eui import Eui64
from rig.protocol.smki import OrgRole, Usage
from tests.conftest import vectors


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    p = Pki(tmp_path_factory.mktemp("state") / "pki")
    p.ensure(default_rig(), ["127.0.0.1"])
    return p


def _shape(cert: x509.Certificate) -> dict:
    """What the SMKI profile fixes about a certificate (not keys, serials or dates)."""
    exts = {e.oid.dotted_string: e.critical for e in cert.extensions}
    return {
        "critical": exts,
        "subject_oids": [a.oid.dotted_string for a in cert.subject],
        "usage": smki.usage_of(cert),
        "ski_len": len(
            cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        ),
    }


def test_device_certificate_matches_dccs_reference_profile(pki: Pki) -> None:
    esme = default_rig().node("esme").eui
    ours = pki.device(esme, Usage.KA).load_cert()
    ref = x509.load_pem_x509_certificate(
        vectors("gbcs", "rtds-keystore", "00db1234567890a0-ka.pem").read_bytes()
    )
    assert _shape(ours) == _shape(ref)
    assert (
        ours.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        == ref.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    )  # same EUI
    assert smki.eui_of(ours) == esme
    assert isinstance(ours.public_key(), ec.EllipticCurvePublicKey)
    assert ours.public_key().curve.name == "secp256r1"


def test_organisation_certificate_matches_zaz1_profile(pki: Pki) -> None:
    supplier = Eui64.parse("90-B3-D5-1F-30-01-00-00")
    ours = pki.org(supplier, Usage.KA).load_cert()
    ref = x509.load_pem_x509_certificate(
        vectors("gbcs", "rtds-keystore", "90b3d51f30010000-ka.pem").read_bytes()
    )
    assert _shape(ours) == _shape(ref)
    assert ours.subject == ref.subject  # OU=02 and the EUI as uniqueIdentifier, byte for byte
    assert smki.role_of(ours) is OrgRole.SUPPLIER


def test_every_key_has_one_usage_and_is_private(pki: Pki) -> None:
    rows = pki.inventory()
    rig = default_rig()
    devices = {r["eui"] for r in rows if r["kind"] == "device"}
    type1 = {n.eui.duis for n in rig.nodes if n.role.value != "ihd"} | {rig.hubs[0].gpf_eui.duis}
    assert devices == type1  # CHF, GPF, ESME, GSME, PPMID; an IHD (Type 2) has none
    for row in rows:
        cert = x509.load_pem_x509_certificate(Path(row["key"]).with_suffix(".pem").read_bytes())
        usage = smki.usage_of(cert)  # raises if both DS and KA
        assert usage is (Usage.DS if row["usage"] in ("ds", "xml") else Usage.KA)
        assert stat.S_IMODE(Path(row["key"]).stat().st_mode) == 0o600
    acb = rig.acb_eui.duis
    assert {r["usage"] for r in rows if r["eui"] == acb} == {"ds", "ka", "xml"}
    assert any(r["usage"] == "pp-ka" for r in rows if r["eui"] == "90-B3-D5-1F-30-01-00-00")


def test_ensure_is_idempotent_and_reissues_the_broker_cert_for_new_hosts(pki: Pki) -> None:
    rig = default_rig()
    assert pki.ensure(rig, ["127.0.0.1"]) == []
    created = pki.ensure(rig, ["127.0.0.1", "10.213.0.1"])
    assert created == ["broker TLS certificate for 10.213.0.1, 127.0.0.1"]


def test_zaz1_import_uses_dcc_boxed_credentials(tmp_path: Path) -> None:
    keystore = vectors("smki", "zaz1-keystore.json")
    rig = default_rig()  # its users but the other user (ZAZ1 has none)
    users = tuple(u for u in rig.users if u.name != "other-user")
    rig = replace(rig, users=users, pki=PkiSettings(source="zaz1", keystore=keystore))
    p = Pki(tmp_path / "pki")
    p.ensure(rig, ["127.0.0.1"])
    xml = p.org(Eui64.parse("90-B3-D5-1F-30-01-00-00"), Usage.XML).load_cert()
    ref = x509.load_pem_x509_certificate(
        vectors("smki", "xml-sign", "xml-sign-90B3D51F30010000-ds.pem").read_bytes()
    )
    assert xml == ref
    acb_xml = p.org(rig.acb_eui, Usage.XML).load_cert()
    assert smki.role_of(acb_xml) is OrgRole.XML_SIGN_DSP
    # devices still get certificates, from the rig's own CA
    assert p.device(rig.node("esme").eui, Usage.DS).cert.exists()
    with pytest.raises(PkiError, match="holds a zaz1 PKI but the rig asks for generate"):
        p.ensure(default_rig(), ["127.0.0.1"])


def test_zaz1_import_names_a_missing_user(tmp_path: Path) -> None:
    keystore = vectors("smki", "zaz1-keystore.json")
    rig = default_rig()
    users = (replace(rig.users[0], eui=Eui64.parse("90-B3-D5-1F-30-0F-0F-0F")), *rig.users[1:])
    rig = replace(rig, users=users, pki=PkiSettings(source="zaz1", keystore=keystore))
    with pytest.raises(PkiError, match=r"no DS credential for supplier-a \(90-B3-D5-1F-30-0F"):
        Pki(tmp_path / "pki").ensure(rig, ["127.0.0.1"])


def test_a_zaz1_entry_this_cryptography_refuses_is_named_once_a_load(
    tmp_path: Path, caplog
) -> None:
    """A keystore entry whose certificate cannot be parsed is left out, and the load says so
    in one line naming each such entry, not one warning an entry from every rig process."""
    import json
    import logging

    from rig.pki.keystores import KeyStore, load_zaz1

    data = json.loads(vectors("smki", "zaz1-keystore.json").read_text())
    eui, sections = next(iter(data.items()))
    section, entries = next(iter(sections.items()))
    name, entry = next(iter(entries.items()))
    broken = {
        **entry,
        "certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    }
    path = tmp_path / "keystore.json"
    path.write_text(json.dumps({eui: {section: {name: broken, "good": entry}}}))
    store = KeyStore()
    with caplog.at_level(logging.INFO, logger="rig.pki"):
        assert load_zaz1(store, path) == 1  # the good copy only
    lines = [r for r in caplog.records if r.getMessage() == "pki.zaz1_entries_skipped"]
    assert len(lines) == 1 and lines[0].count == 1
    assert list(lines[0].entries) == [f"{Eui64.parse(eui).duis} {broken.get('name', '')}"]
