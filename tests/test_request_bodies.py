"""`rig supplier send` builds a DUIS body for every SRV the rig serves (issue 17). In process:
for each SRV of the catalogue and of the DCC's own services, the body built from its defaults
(and the few parameters that have none) is valid against DCC's DUIS XSD and has at its top
the element DCC's templates have for it; each ``--param`` reaches the body; an unknown one
is refused naming the SRV's parameters; log reads default to the last day. On the running rig
(tests/rigs/dcc.yaml): 4.6.1 and 4.11.1 sent with their defaults answer I0."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict

import pytest
from conftest import rig_cli
from lxml import etree

from gateway.dcc_services import service_for
from rig.dccuser.client import DccUserError, body_for
from rig.protocol.duis import schema
from rig.protocol.duis.bodies import (
    REQUEST_BODIES,
    SRV_BODIES,
    gas_parameters,
    request_body,
    request_parameters,
)
from rig.protocol.duis.body_tables import (
    BODY_TABLES,
    GAS_BODY_TABLES,
    REQUIRED,
    build,
    parameters,
)
from rig.protocol.duis.message import Request, RequestId
from rig.protocol.eui import Eui64
from rig.protocol.gbcs.catalogue import CATALOGUE
from rig.reference import srv_table
from rig.runtime.reference import read_schema
from tests.conftest import vectors

SUPPLIER = Eui64.parse("90-B3-D5-1F-30-01-00-00")
ESME = Eui64.parse("00-DB-12-34-56-78-90-A0")
OTHER = Eui64.parse("00-DB-12-34-56-78-90-A4")
CERT = "MIIBkzCCATigAwIBAgIQSj97"  # base64: the schema checks the type, not the certificate
# the parameters a body cannot do without (the target, what the user alone knows), by name
NEEDED = {
    "DeviceID": ESME.duis,
    "UTRN": "73080000000000000000",
    "OtherDeviceID": OTHER.duis,
    "OldCHFID": OTHER.duis,
    "OldGPFID": OTHER.duis,
    "InstallCode": "0123456789ABCDEF",
    "FirmwareHash": "AB" * 32,
    "FirmwareImage": "HvHuCwABPAAE",
    "DSPScheduleID": "123",
    "OriginalRequestID": f"{SUPPLIER.duis}:{ESME.duis}:1",
    "DeviceGBCSResponse": "3wkCAAAAAAAAA+gI",
    "DigitalSigningCertificate": CERT,
    "CertificationPath": CERT,
    "DeviceCertificate": CERT,
}


def _key(srv: str) -> tuple[int, ...]:
    return tuple(int(part) for part in srv.split("."))


def served() -> list[str]:
    """Every SRV the rig serves: the catalogue's (device SRVs) and the DCC's own services."""
    dcc = {srv for srv in SRV_BODIES if service_for(srv) is not None}
    return sorted(CATALOGUE.srvs() | dcc, key=_key)


def _needed(srv: str) -> dict[str, str]:
    """The values a body needs, of those it takes (and the target's DeviceID)."""
    takes = {*request_parameters(srv), "DeviceID", "UTRN"}
    return {p: value for p, value in NEEDED.items() if p in takes}


def _document(srv: str, body: etree._Element) -> etree._Element:
    service = srv_table().lookup(srv)
    request = Request(RequestId(SUPPLIER, ESME, 1), 1, service.service_reference, srv, body)
    return request.to_element()


def _templates() -> dict[str, list[tuple[str, etree._Element]]]:
    """DCC's request templates' bodies (with their file names), by the SRV in their names."""
    by_srv: dict[str, list[tuple[str, etree._Element]]] = defaultdict(list)
    for path in sorted(vectors("duis", "templates").glob("*_REQUEST_DUIS.XML")):
        found = re.search(r"(?:^|_)(\d+(?:\.\d+)+)\.?_", path.name)
        body = etree.parse(str(path)).getroot().find("{*}Body")
        if found and body is not None and len(body):
            by_srv[found.group(1)].append((path.name, body[0]))
    return by_srv


@pytest.fixture(scope="module")
def xsd() -> etree.XMLSchema:
    return read_schema(vectors("duis", "xsd") / schema.SCHEMA_FILE)


@pytest.fixture(scope="module")
def templates() -> dict[str, list[tuple[str, etree._Element]]]:
    return _templates()


def test_every_served_srv_has_a_body() -> None:
    srvs = served()
    assert len(srvs) >= 120, srvs  # issue 17: most of DUIS's 129
    assert [srv for srv in srvs if srv not in REQUEST_BODIES] == []


@pytest.mark.parametrize("srv", served())
def test_default_body_is_valid_and_has_the_templates_element(
    srv: str, xsd: etree.XMLSchema, templates: dict[str, list[tuple[str, etree._Element]]]
) -> None:
    body = body_for(srv, _needed(srv))  # as `rig supplier send` builds it
    schema.validate(_document(srv, body), xsd)
    assert etree.QName(body).localname == SRV_BODIES[srv]
    theirs = [t for _, t in templates.get(srv, [])]
    if not theirs:
        pytest.skip(f"DCC has no request template for SRV {srv}")
    assert etree.QName(body).localname in {etree.QName(t).localname for t in theirs}
    # every element we put at the body's first level is one a template of DCC's has there
    their_children = {etree.QName(c).localname for t in theirs for c in t}
    ours = {etree.QName(c).localname for c in body} - {"ExecutionDateTime"}
    assert ours <= their_children, (srv, ours - their_children)


@pytest.mark.parametrize("srv", sorted(GAS_BODY_TABLES, key=_key))
def test_a_gsmes_body_is_valid_and_is_the_gas_one(
    srv: str, xsd: etree.XMLSchema, templates: dict[str, list[tuple[str, etree._Element]]]
) -> None:
    given = {**_needed(srv), **gas_parameters(srv)}  # as `rig supplier send` does to a GSME
    body = body_for(srv, given)
    schema.validate(_document(srv, body), xsd)
    names = {etree.QName(e).localname for e in body.iter()}
    assert not [n for n in names if n.startswith(("Elec", "ESME"))], names
    # its first-level elements are those DCC's templates for a GSME (not ECS) have there
    theirs = [t for name, t in templates.get(srv, []) if not name.startswith("ECS")]
    if not theirs:
        pytest.skip(f"DCC has no GSME template for SRV {srv}")
    their_children = {etree.QName(c).localname for t in theirs for c in t}
    assert {etree.QName(c).localname for c in body} <= their_children
    assert body.tag == request_body(srv, params=_needed(srv)).tag


@pytest.mark.parametrize("srv", sorted(BODY_TABLES, key=_key))
def test_each_param_reaches_the_body(srv: str) -> None:
    for param in request_parameters(srv):
        value = f"given-{param}"
        if param == "Fuel":  # it chooses the table (Gas: the GSME's), tested above
            continue
        gas = {} if param in parameters(BODY_TABLES[srv]) else gas_parameters(srv)
        body = request_body(srv, params={**_needed(srv), **gas, param: value})
        found = [e for e in body.iter() if e.text == value or value in e.attrib.values()]
        assert found, (srv, param, etree.tostring(body).decode())


def test_a_required_param_is_asked_for_by_name() -> None:
    required = {f.param for table in BODY_TABLES.values() for f in table if f.default is REQUIRED}
    assert required <= set(NEEDED)  # each has a sample value above, so the defaults test runs
    with pytest.raises(KeyError, match=r"SRV 5.2 needs DSPScheduleID"):
        request_body("5.2", params={})


def test_an_unknown_param_is_refused_naming_the_srvs_parameters() -> None:
    with pytest.raises(
        KeyError, match=r"4.6.1 takes no parameter Colour.*StartDateTime, EndDateTime"
    ):
        request_body("4.6.1", params={"Colour": "blue"})
    with pytest.raises(DccUserError, match=r"6.13 takes no parameter Log:.*LogToRead"):
        body_for("6.13", {"Log": "Security"})
    with pytest.raises(KeyError, match=r"4.11.1 takes no parameter X: its parameters are none"):
        request_body("4.11.1", params={"X": "1"})
    # the functions' bodies are checked too
    with pytest.raises(KeyError, match=r"2.3 takes no parameter DebtRecovery.*TimeDebtRegister1"):
        request_body("2.3", params={"DebtRecovery": "1"})


def test_log_reads_default_to_the_last_day() -> None:
    at = dt.datetime(2026, 3, 1, 12, 30, tzinfo=dt.UTC)
    body = etree.Element("Body")
    build("4.6.1", body, BODY_TABLES["4.6.1"], {}, at)
    start, end = (e.text for e in body.iter("{*}StartDateTime", "{*}EndDateTime"))
    assert (start, end) == ("2026-02-28T12:30:00.00Z", "2026-03-01T12:30:00.00Z")
    # and the prepayment logs built before the tables (4.4.5, 4.14) alike, given or not
    given = request_body("4.4.5", params={"StartDateTime": "2015-01-01T00:00:00.00Z"})
    assert given.findtext("{*}ReadLogPeriod/{*}StartDateTime") == "2015-01-01T00:00:00.00Z"
    assert request_body("4.14").find("{*}ReadLogPeriod/{*}EndDateTime") is not None


def test_rig_sends_log_and_tariff_reads_with_their_defaults(dcc_rig) -> None:
    env = dcc_rig
    for srv in ("4.6.1", "4.11.1"):
        proc = rig_cli(
            "supplier", "send", srv, "--target", "esme", "--json",
            "--rig", str(env["file"]), state=env["dir"], timeout=150,
        )  # fmt: skip
        out = json.loads(proc.stdout or "{}")
        assert out.get("response_code") == "I0", (srv, proc.stdout, proc.stderr)
    proc = rig_cli(
        "supplier", "send", "4.6.1", "--target", "esme", "--param", "Colour=blue",
        "--rig", str(env["file"]), state=env["dir"],
    )  # fmt: skip
    assert proc.returncode == 1
    assert "StartDateTime, EndDateTime" in proc.stdout + proc.stderr
