"""The contracts between processes: typed records written by the controller and read by the
node, the gateway and the air, with versions and errors that name the field."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import RIGS

from gateway.config import DCC_TRANSCOS, GatewayConfig
from nodes.config import NodeConfig
from rig.dccuser.config import DccUsersConfig
from rig.description import load_rig
from rig.description.model import Isolation
from rig.pki.authority import Pki
from rig.plan import han_keys
from rig.plan.make import make_plan
from rig.plan.model import PlanError, wan_hosts
from rig.plan.render import render
from rig.protocol.eui import Eui64
from rig.protocol.gbcs.catalogue_credentials import RemotePartyRole
from rig.runtime import records
from rig.runtime.records import RecordError
from rig.state import StateDir
from rig.virtual.air.config import AirConfig


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> StateDir:
    rig = load_rig(RIGS / "dcc.yaml")
    state = StateDir.open(tmp_path_factory.mktemp("contracts") / "state")
    plan = make_plan(rig, state, Isolation.PROCESS)
    Pki(state.pki).ensure(rig, wan_hosts(plan))
    han_keys.ensure(rig, state)
    render(plan, rig, state)
    return state


def test_every_rendered_config_reads_back_as_its_record(rendered: StateDir) -> None:
    chf = NodeConfig.load(rendered.component("chf") / "node.json")
    assert chf.role == "chf" and chf.wan is not None and chf.han.network_key is not None
    assert [e.device_type for e in chf.han.device_log] == ["ESME", "GSME", "IHD", "PPMID"]
    gsme = NodeConfig.load(rendered.component("gsme") / "node.json")
    assert gsme.behaviour.wake_interval_s == 2.0 and gsme.gbcs is not None
    assert gsme.han.extended_pan_id == chf.eui and gsme.han.install_code is not None
    ihd = NodeConfig.load(rendered.component("ihd") / "node.json")
    assert ihd.han.esme == Eui64.parse("00-DB-12-34-56-78-90-A0") and ihd.gbcs is None
    ppmid = NodeConfig.load(rendered.component("ppmid") / "node.json")  # PCS01 to the GSME
    assert ppmid.han.gsme == gsme.eui and ppmid.gbcs is not None
    # its trust anchor cells (the ACB, the TransCoS party, its ESME's supplier: no ED or GT
    # for a PPMID on this rig), then the GSME's KA key, a HAN peer's and no cell
    rig = load_rig(RIGS / "dcc.yaml")
    acb, supplier = rig.acb_eui, rig.user("supplier-a").eui
    assert [(t.eui, t.usage.value, t.role) for t in ppmid.gbcs.trusted] == [
        (acb, "ka", RemotePartyRole.ACCESS_CONTROL_BROKER),
        (DCC_TRANSCOS, "ds", RemotePartyRole.TRANSITIONAL_COS),
        (supplier, "ds", RemotePartyRole.SUPPLIER),
        (supplier, "ka", RemotePartyRole.SUPPLIER),
        (supplier, "pp-ka", RemotePartyRole.SUPPLIER),
        (gsme.eui, "ka", None),
    ]
    assert all(t.cert.is_file() for t in ppmid.gbcs.trusted)
    # the GPF the CHF hosts: its own keys, issued for its EUI, the ACB's KA cell and the gas
    # supplier's cells (its reads of the GSME's data, answered from the GPF's mirror)
    gpf = chf.gpf_gbcs
    assert chf.gpf_eui is not None and gpf is not None and gpf.acb == acb
    assert chf.gpf_eui.hex in gpf.ds.key.name and chf.gpf_eui.hex in gpf.ka.cert.name
    assert gpf.ds.key.is_file() and gpf.ka.key.is_file()
    gas_supplier = rig.user("supplier-b").eui
    assert [(t.eui, t.usage.value, t.role) for t in gpf.trusted] == [
        (acb, "ka", RemotePartyRole.ACCESS_CONTROL_BROKER),
        (gas_supplier, "ds", RemotePartyRole.SUPPLIER),
        (gas_supplier, "ka", RemotePartyRole.SUPPLIER),
    ]
    assert gpf.supplier == gas_supplier
    assert gsme.gpf_gbcs is None
    assert (ppmid.eui, "ka") in [(t.eui, t.usage.value) for t in gsme.gbcs.trusted]
    gateway = GatewayConfig.load(rendered.component("gateway") / "gateway.json")
    assert gateway.duis_schema.is_file() and gateway.srv_matrix.is_file()
    assert gateway.response_time("GSME") == 36.0 and gateway.response_time("ESME") == 30.0
    types = {d.type for d in gateway.devices}
    assert types == {"CHF", "GPF", "ESME", "GSME", "IHD", "PPMID"}
    users = DccUsersConfig.load(rendered.component("dcc-users") / "users.json")
    assert [c.name for c in users.clients] == ["supplier-a", "supplier-b", "network-operator"]
    assert users.gateway.duis.endswith("/api/v1") and users.dcc.eui == gateway.acb_eui
    air = AirConfig.load(rendered.component("air") / "air.json")
    assert air.pcap is not None and air.pcap.name == "han.pcap"
    # the files are the records' own JSON: EUIs in DUIS form, keys in hex
    raw = json.loads((rendered.component("chf") / "node.json").read_text())
    assert raw["eui"] == "00-DB-12-34-56-78-90-A2" and raw["version"] == NodeConfig.VERSION
    assert len(raw["han"]["network_key"]) == 32


def test_a_config_of_another_version_is_refused_with_what_to_do(
    rendered: StateDir, tmp_path: Path
) -> None:
    data = json.loads((rendered.component("esme") / "node.json").read_text())
    path = tmp_path / "node.json"
    path.write_text(json.dumps({**data, "version": 2}))
    with pytest.raises(RecordError, match=r"version 2.*NodeConfig version 1.*rig deploy"):
        NodeConfig.load(path)
    del data["version"]
    path.write_text(json.dumps(data))
    with pytest.raises(RecordError, match="no version"):
        NodeConfig.load(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["han"].update(channel="fifteen"), r"han\.channel: expected an integer"),
        (lambda d: d["han"].update(channel=40), r"not a 2\.4 GHz channel"),
        (lambda d: d.update(eui="00-DB"), r"eui: '00-DB' is not an EUI-64"),
        (lambda d: d.update(role="toaster"), r"role: 'toaster' is not one of"),
        (lambda d: d["gbcs"].update(ds=None), r"gbcs\.ds: expected a mapping, got null"),
        (lambda d: d["gbcs"]["trusted"][0].update(usage="xx"), r"trusted\[0\]\.usage"),
        (lambda d: d.update(colour="red"), r"colour: unknown field"),
        (lambda d: d.pop("health_port"), r"health_port: missing"),
        (lambda d: d["han"].pop("install_code"), r"needs han\.install_code"),
    ],
)
def test_a_wrong_field_is_named(rendered: StateDir, tmp_path: Path, change, message) -> None:
    data = json.loads((rendered.component("esme") / "node.json").read_text())
    change(data)
    path = tmp_path / "node.json"
    path.write_text(json.dumps(data))
    with pytest.raises(RecordError, match=message):
        NodeConfig.load(path)


def test_unreadable_or_not_json_says_so(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="cannot read node config"):
        NodeConfig.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(RecordError, match="is not JSON"):
        GatewayConfig.load(tmp_path / "bad.json")


def test_the_node_process_refuses_a_bad_config_before_it_starts(tmp_path: Path) -> None:
    from nodes.main import main

    (tmp_path / "node.json").write_text(json.dumps({"version": 1, "name": "x"}))
    assert main(["--config", str(tmp_path / "node.json")]) == 2


@dataclass(frozen=True)
class Inner:
    key: bytes
    where: Path | None = None


@dataclass(frozen=True)
class Outer:
    eui: Eui64
    items: tuple[Inner, ...]
    pair: tuple[str, int]
    table: dict[str, float]
    flag: bool = False


def test_records_round_trip_every_supported_type() -> None:
    value = Outer(
        Eui64.parse("00-DB-12-34-56-78-90-A0"),
        (Inner(b"\x01\xff", Path("/x")), Inner(b"")),
        ("host", 5),
        {"a": 1.5},
        True,
    )
    data = json.loads(json.dumps(records.dump(value)))
    assert data["eui"] == "00-DB-12-34-56-78-90-A0" and data["items"][0]["key"] == "01FF"
    assert records.load(Outer, data) == value
    with pytest.raises(RecordError, match=r"flag: expected true or false"):
        records.load(Outer, {**data, "flag": "yes"})
    with pytest.raises(RecordError, match=r"pair: expected 2 items"):
        records.load(Outer, {**data, "pair": ["host"]})


def test_rendering_needs_the_han_keys_made_first(tmp_path: Path) -> None:
    rig = load_rig(RIGS / "dcc.yaml")
    state = StateDir.open(tmp_path / "state")
    plan = make_plan(rig, state, Isolation.PROCESS)
    Pki(state.pki).ensure(rig, wan_hosts(plan))
    with pytest.raises(PlanError, match=r"no HAN network key.*rig up"):
        render(plan, rig, state)
    assert not (state.root / "han").exists() or not list((state.root / "han").iterdir())
    assert han_keys.ensure(rig, state) == ["HAN network key of chf"]
    assert han_keys.ensure(rig, state) == []
    render(plan, rig, state)


def test_a_users_certification_path_is_the_ca_that_issued_its_certificates(
    rendered: StateDir, tmp_path: Path
) -> None:
    """6.15.1/6.21/6.23 carry the sender's certificates and the CA that issued them: the
    rig's issuing CA for the rig's own users; none offered when that CA did not issue them
    (a ZAZ1 rig: DCC's Z1 CA did, which DCC's templates carry), rather than a wrong one."""
    import base64
    import dataclasses
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding

    from rig.dccuser.client import DccUser
    from rig.protocol import smki

    users = DccUsersConfig.load(rendered.component("dcc-users") / "users.json")
    own = DccUser(users, "supplier-a").cos_certificates()
    path = x509.load_der_x509_certificate(base64.b64decode(own["CertificationPath"]))
    ds = x509.load_der_x509_certificate(base64.b64decode(own["DigitalSigningCertificate"]))
    assert smki.issued_by(ds, path)
    other = tmp_path / "other-ca.pem"
    key = ec.generate_private_key(ec.SECP256R1())
    ca = smki.ca_certificate("another CA", key, not_before=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    other.write_bytes(ca.public_bytes(Encoding.PEM))
    elsewhere = DccUser(dataclasses.replace(users, issuing_ca=other), "supplier-a")
    given = elsewhere.cos_certificates()
    assert "CertificationPath" not in given
    assert given["DigitalSigningCertificate"] == own["DigitalSigningCertificate"]
