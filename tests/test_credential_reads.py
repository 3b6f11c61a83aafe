"""A device's security credentials read back (6.24.1 CS02a / CS02f, 6.24.2 CS02e), against
RTDS 4.5.0: the DCC's transforms of DCC's templates are RTDS's commands; the ESME answers
RTDS's commands as RTDS's ESME does (its cells seeded with RTDS's keystore certificates);
after a change of supplier CS02a shows the gaining supplier; CS02e gives the device's own
certificate or an error.

The ACB asks 6.24.1 in its own name: the downlink gives the transform the ACB and the ACB's
counter, so the templates' RequestIDs (supplier 1:1000 for CS02a, and for CS02f the ACB
itself, which no DCC User can be) do not enter the command. Excluded from the byte
comparisons: nothing but the signature of a signed message (the counters are given as
RTDS's; the MACs are compared, being deterministic). Where RTDS and the rig differ: RTDS's
CS02fMAC ERROR asks CS02f for the transitional CoS party alone, where the rig sends CS02f
only when the load controller is asked for (that payload is checked as a record); RTDS's
CS02e ERROR answers 3 to a request for the KA certificate of an ESME that holds one, where
the rig's ESME gives it (its errors: 1, a key usage neither DS nor KA; 2, none held)."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gateway.transform import TransformInput, served, transform_for
from gateway.transform.registry import Peer, TransformRefused
from nodes.gbcs.credentials import provide_device_certificate
from nodes.gbcs.handlers import Context
from nodes.gbcs.trust import key_id
from rig.dccuser.readers import read
from rig.pki.authority import Pki
from rig.pki.keystores import load
from rig.protocol import smki
from rig.protocol.duis import codes
from rig.protocol.duis.message import Request, parse_document
from rig.protocol.duis.xml import NS
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import asn1, security
from rig.protocol.gbcs import catalogue as cat
from rig.protocol.gbcs.catalogue_credentials import (
    CS02A,
    CS02E,
    CS02F,
    Cell,
    CertificateError,
    CredentialsQuery,
    RemotePartyRole,
    StatusCode,
    certificate_of,
    credentials_details,
    details_of,
    outcome_of,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import check_command, command
from rig.protocol.smki import Usage
from tests.conftest import rig_cli, vectors
from tests.test_change_of_supplier import (
    GAINING,
    LOSING,
    _accepted,
    _answer,
    _Device,
    _disable_supply,
    _esme,
    _rtds_command,
)
from tests.test_usecases import ACB, ESME, _rtds

CS02A_RTDS = "6.24.1_CS02aMAC/CS02aMAC_6.24.1"
CS02F_RTDS = "6.24.1_CS02fMAC/CS02fMAC_6.24.1"
CS02E_RTDS = "6.24.2_CS02e/CS02e_6.24.2"
NETWORK_OPERATOR = Eui64.parse("90-B3-D5-1F-30-02-00-00")
LOAD_CONTROLLER = Eui64.parse("90-B3-D5-1F-30-01-00-08")
ROLE = RemotePartyRole


@pytest.fixture(scope="module")
def store():
    return load([vectors("gbcs", "rtds-keystore"), vectors("gbcs", "device-keys")])


def _template(name: str, credential_type: str | None = None) -> Request:
    request = parse_document(vectors("duis", "templates", name).read_bytes())
    assert isinstance(request, Request)
    if credential_type is not None:
        element = request.body.find("sr:CredentialType", NS)
        assert element is not None
        element.text = credential_type
    return request


def _transform(uc, request: Request, counter: int, originator: Eui64, peer=None) -> GbcsMessage:
    fn = transform_for(uc)
    assert fn is not None
    given = TransformInput(request, counter, originator, ESME)
    if peer is not None:
        given = dataclasses.replace(given, peer=peer)
    return fn(uc, given)


def _maced(store, cmd: GbcsMessage) -> bytes:
    """``cmd`` as it reaches the ESME: MAC'd by the ACB for the ESME's KA key."""
    acb_ka, esme_ka = store.private(ACB, Usage.KA), store.get(ESME, Usage.KA)
    return security.apply_mac(cmd, acb_ka.private_key, esme_ka.public_key).encode()


def _ask(store, counter: int, *roles: RemotePartyRole, uc=CS02A) -> bytes:
    """6.24.1 as the DCC sends it: the ACB asks in its own name, its KA cell authorising."""
    query = CredentialsQuery(Cell(ROLE.ACCESS_CONTROL_BROKER, Usage.KA), roles).encode()
    return _maced(store, command(uc, counter, ACB.raw, ESME.raw, query))


def _hold(esme, party: Eui64, role: RemotePartyRole) -> None:
    """The ESME holds ``party``'s DS and KA certificates (RTDS's keystore) in ``role``'s
    cells, as its installation seeds them."""
    keystore = vectors("gbcs", "rtds-keystore")
    for usage in (Usage.DS, Usage.KA):
        pem = (keystore / f"{party.raw.hex()}-{usage.value}.pem").read_bytes()
        esme.trust.cells[Cell(role, usage)] = x509.load_pem_x509_certificate(pem)


async def _known(esme, store, party: Eui64, counter: int) -> None:
    """``party`` has sent the ESME a command with ``counter`` (a read, MAC'd by the ACB)."""
    assert await _accepted(esme, _maced(store, command(cat.ECS17B, counter, party.raw, ESME.raw)))


# --- the DCC's transforms ----------------------------------------------------------------------
def test_6_24_commands_are_rtds_from_dccs_templates(store) -> None:
    for folder, template, uc in (
        (CS02A_RTDS, "CS02aMAC_6.24.1_SUCCESS_REQUEST_DUIS.XML", CS02A),
        (CS02F_RTDS, "CS02fMAC_6.24.1_SUCCESS_REQUEST_DUIS.XML", CS02F),
    ):
        rtds = _rtds(f"{folder}_SUCCESS_COMMAND")
        decoded = GbcsMessage.decode(rtds)
        ours = _transform(CS02A, _template(template), decoded.header.counter, ACB)
        assert (ours.message_code, ours.header, ours.payload) == (
            uc.message_code,
            decoded.header,
            decoded.payload,
        )
        assert _maced(store, ours) == rtds  # the ACB's MAC for RTDS's ESME, byte for byte
        assert check_command(decoded, cat.CATALOGUE) is uc
    # RTDS's CS02f ERROR command (the transitional CoS party alone) as a record
    error = GbcsMessage.decode(_rtds(f"{CS02F_RTDS}_ERROR_COMMAND"))
    query = CredentialsQuery.decode(error.payload)
    assert query == CredentialsQuery(
        Cell(ROLE.ACCESS_CONTROL_BROKER, Usage.KA), (ROLE.TRANSITIONAL_COS,)
    )
    assert query.encode() == error.payload
    # 6.24.2: the pre-command the supplier signs, whole (DS; KA is RTDS's ERROR case)
    supplier = Eui64.parse("90-B3-D5-1F-30-01-00-00")
    for case, credential_type, counter in (
        ("SUCCESS", None, 1000),
        ("ERROR", "Key Agreement", 1002),
    ):
        request = _template("CS02e_6.24.2_SUCCESS_REQUEST_DUIS.XML", credential_type)
        pre = _transform(CS02E, request, counter, supplier)
        assert pre.encode() == _rtds(f"{CS02E_RTDS}_{case}_PRECOMMAND")
    assert served(cat.CATALOGUE, "6.24.1", "ESME") is CS02A
    assert served(cat.CATALOGUE, "6.24.1", "GSME") is CS02A
    assert served(cat.CATALOGUE, "6.24.2", "GSME") is CS02E
    assert served(cat.CATALOGUE, "6.24.1", "CHF") is None


def test_the_load_controller_is_asked_of_an_esme_only() -> None:
    request = _template("CS02fMAC_6.24.1_SUCCESS_REQUEST_DUIS.XML")
    esme = _transform(CS02A, request, 7, ACB, peer=lambda _eui: Peer("ESME"))
    assert esme.message_code == CS02F.message_code
    with pytest.raises(TransformRefused) as refused:
        _transform(CS02A, request, 7, ACB, peer=lambda _eui: Peer("GSME"))
    assert refused.value.code == codes.WRONG_DEVICE_TYPE
    assert "GSME has no load controller" in str(refused.value)


# --- the ESME -----------------------------------------------------------------------------------
@pytest.mark.parametrize("folder", [CS02A_RTDS, CS02F_RTDS])
async def test_the_esme_answers_rtds_cs02a_and_cs02f_as_rtds(store, tmp_path, folder) -> None:
    """RTDS's ESME: supplier 1, the network operator (at sequence number 1) and the load
    controller (at 1) in its cells; its answers, MAC included, are RTDS's."""
    esme = _esme(tmp_path, tmp_path / "state")
    _hold(esme, NETWORK_OPERATOR, ROLE.NETWORK_OPERATOR)
    _hold(esme, LOAD_CONTROLLER, ROLE.LOAD_CONTROLLER)
    await _known(esme, store, NETWORK_OPERATOR, 1)
    await _known(esme, store, LOAD_CONTROLLER, 1)
    answer = await _answer(esme, _rtds(f"{folder}_SUCCESS_COMMAND"))
    assert answer is not None
    assert answer.encode() == _rtds(f"{folder}_SUCCESS_RESPONSE")
    out = read(answer)
    assert out["authenticated_by"] == "acb"
    supplier, other = out["credentials"]
    assert (supplier["role"], supplier["status"], supplier["seq_number"]) == (
        "supplier",
        "SUCCESS",
        0,
    )
    assert [c["cell"] for c in supplier["cells"]] == [
        "supplier DS",
        "supplier KA",
        "supplier KA (top-up)",
    ]
    assert {c["subject"] for c in supplier["cells"]} == {LOSING.duis}
    assert other["seq_number"] == 1
    if folder == CS02F_RTDS:
        assert other["role"] == "load_controller"
        # RTDS's ERROR: CS02f does not answer for the transitional CoS party
        error = await _answer(esme, _rtds(f"{folder}_ERROR_COMMAND"))
        assert error is not None and error.encode() == _rtds(f"{folder}_ERROR_RESPONSE")
        assert details_of(error.payload)[0].status is StatusCode.OTHER


async def test_a_role_without_cells_is_not_found_and_the_acb_has_no_seq_number(
    store, tmp_path
) -> None:
    """RTDS's CS02a ERROR (the ACB and the network operator asked of a device holding no
    network operator cell): the ACB at 0 though it is asking, the network operator 25."""
    esme = _esme(tmp_path, tmp_path / "state")
    rtds_cmd = GbcsMessage.decode(_rtds(f"{CS02A_RTDS}_ERROR_COMMAND"))
    rtds_answer = GbcsMessage.decode(_rtds(f"{CS02A_RTDS}_ERROR_RESPONSE"))
    cmd = command(CS02A, rtds_cmd.header.counter, ACB.raw, ESME.raw, rtds_cmd.payload)
    answer = await _answer(esme, _maced(store, cmd))
    assert answer is not None and answer.payload == rtds_answer.payload
    acb, operator = details_of(answer.payload)
    assert (acb.status, acb.seq_number, operator.status) == (
        StatusCode.SUCCESS,
        0,
        StatusCode.TRUST_ANCHOR_NOT_FOUND,
    )
    # CS02a knows no load controller; an authorising cell that is not the sender's: no answer
    (lc,) = details_of((await _answer(esme, _ask(store, 1400, ROLE.LOAD_CONTROLLER))).payload)
    assert lc.status is StatusCode.OTHER
    query = CredentialsQuery(Cell(ROLE.SUPPLIER, Usage.KA), (ROLE.SUPPLIER,)).encode()
    assert (
        await _answer(esme, _maced(store, command(CS02A, 1401, ACB.raw, ESME.raw, query))) is None
    )


async def test_after_a_change_of_supplier_cs02a_shows_the_gaining_supplier(store, tmp_path) -> None:
    esme = _esme(tmp_path, tmp_path / "state")
    cos = await _answer(esme, _rtds_command().encode())
    assert cos is not None
    outcome = outcome_of(cos.payload)
    assert outcome is not None and outcome.succeeded
    answer = await _answer(esme, _ask(store, 7000, ROLE.SUPPLIER))
    assert answer is not None
    (supplier,) = details_of(answer.payload)
    # each cell's subject and key id: what RTDS's CS02b answer says replaced it
    assert [(c.cell, c.subject, c.key_id) for c in supplier.cells] == [
        (o.cell, o.replacing_subject, o.replacing_key_id) for o in outcome.outcomes
    ]
    assert {c.subject for c in supplier.cells} == {GAINING.raw}
    ds = store.get(GAINING, Usage.DS).certificate
    assert supplier.cells[0].key_id == key_id(ds) and supplier.seq_number == 0
    # the gaining supplier's 7.2: its sequence number is that command's counter
    assert await _accepted(esme, _disable_supply(store, GAINING, 0x300, GAINING))
    again = await _answer(esme, _ask(store, 7001, ROLE.SUPPLIER))
    assert again is not None and details_of(again.payload)[0].seq_number == 0x300


async def test_cs02e_gives_the_esmes_own_certificates(store, tmp_path) -> None:
    esme = _esme(tmp_path, tmp_path / "state")
    answer = await _answer(esme, _rtds(f"{CS02E_RTDS}_SUCCESS_COMMAND"))
    assert answer is not None
    rtds = GbcsMessage.decode(_rtds(f"{CS02E_RTDS}_SUCCESS_RESPONSE"))
    assert (answer.header, answer.payload) == (rtds.header, rtds.payload)  # RTDS's DS certificate
    security.verify_signature(answer, esme.ds.public_key())
    out = read(answer, device_ds=esme.ds.public_key())
    assert (out["authenticated_by"], out["subject"], out["usage"]) == ("signature", ESME.duis, "ds")
    # the KA certificate (RTDS's ERROR command): the rig's ESME holds it and gives it
    ka = await _answer(esme, _rtds(f"{CS02E_RTDS}_ERROR_COMMAND"))
    assert ka is not None
    held = store.get(ESME, Usage.KA).certificate.public_bytes(serialization.Encoding.DER)
    assert certificate_of(ka.payload) == held
    # RTDS's error answer reads, signed by RTDS's ESME
    rtds_error = GbcsMessage.decode(_rtds(f"{CS02E_RTDS}_ERROR_RESPONSE"))
    out = read(rtds_error, device_ds=store.get(ESME, Usage.DS).public_key)
    assert (out["error"], out["error_name"]) == (3, "OTHER")


async def test_cs02e_errors(store, tmp_path) -> None:
    esme = _esme(tmp_path, tmp_path / "state")
    supplier = store.private(LOSING, Usage.DS).private_key
    # a key usage neither DS nor KA (keyCertSign), signed by the supplier
    usage = asn1.sequence(asn1.Tlv(0, False, asn1.BIT_STRING, bytes.fromhex("0204"))).encode()
    cmd = security.sign_message(command(CS02E, 1003, LOSING.raw, ESME.raw, usage), supplier)
    answer = await _answer(esme, _maced(store, cmd))
    assert answer is not None
    assert certificate_of(answer.payload) == CertificateError.INVALID_KEY_USAGE
    # a device that holds no certificate of that usage
    ka = store.private(ESME, Usage.KA).private_key
    ctx = Context(
        _Device(),
        esme.ds,
        ka,
        esme.peer_ka,
        now=lambda: dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        own_certificate=lambda _usage: None,
    )
    rtds = GbcsMessage.decode(_rtds(f"{CS02E_RTDS}_SUCCESS_COMMAND"))
    none = await provide_device_certificate(CS02E, rtds, ctx)
    assert certificate_of(none.payload) == CertificateError.NO_CERTIFICATE
    assert none.payload == bytes.fromhex("020102")


# --- the records, on every RTDS message of these use cases -------------------------------------
_FOLDERS = ("6.24.1_CS02aMAC", "6.24.1_CS02fMAC", "NA_CS02aSignature", "NA_CS02fSignature")


def _rtds_files(kind: str) -> list[str]:
    root = vectors("gbcs", "rtds-4.5.0")
    return sorted(
        f"{folder}/{path.name.removesuffix('_GBCS.HEX')}"
        for folder in _FOLDERS
        for path in (root / folder).glob(f"*_{kind}_GBCS.HEX")
    )


def test_rtds_cs02a_and_cs02f_messages_decode_and_encode_back() -> None:
    commands, responses = _rtds_files("COMMAND"), _rtds_files("RESPONSE")
    assert len(commands) == len(responses) == 8
    for name in commands:
        payload = GbcsMessage.decode(_rtds(name)).payload
        assert CredentialsQuery.decode(payload).encode() == payload, name
    roles = set()
    for name in responses:
        payload = GbcsMessage.decode(_rtds(name)).payload
        details = details_of(payload)
        assert credentials_details(details) == payload, name
        roles |= {(d.role, d.status) for d in details}
    assert (ROLE.LOAD_CONTROLLER, StatusCode.SUCCESS) in roles
    assert (ROLE.WAN_PROVIDER, StatusCode.TRUST_ANCHOR_NOT_FOUND) in roles


# --- on the running rig -------------------------------------------------------------------------
def test_6_24_on_the_rig_give_the_esmes_cells_and_certificate(dcc_rig) -> None:
    """supplier-a asks the rig's ESME through the DCC: the ACB's CS02a names supplier-a in
    the supplier cells (its certificates' key ids, from the rig's PKI); CS02e (signed by
    supplier-a, pre-command and all) gives the ESME's own DS certificate."""
    esme, supplier = Eui64.parse("00-DB-12-34-56-78-90-A0"), Eui64.parse("90-B3-D5-1F-30-01-00-00")

    def send(srv: str, *params: str) -> dict:
        args = ["supplier", "send", srv, "--target", "esme", "--json", "--as", "supplier-a"]
        proc = rig_cli(
            *args, *params, "--rig", str(dcc_rig["file"]), state=dcc_rig["dir"], timeout=120
        )
        assert proc.returncode == 0 and proc.stdout, proc.stderr
        return json.loads(proc.stdout)

    pki = Pki(dcc_rig["state"].pki)
    out = send("6.24.1", "--param", "RemotePartyRole=Supplier,ACB")
    values = out["values"]
    assert (values["use_case"], values["authenticated_by"]) == ("CS02a", "acb"), out
    cells, acb = values["credentials"]
    assert (cells["role"], cells["status"], acb["role"]) == (
        "supplier",
        "SUCCESS",
        "access_control_broker",
    )
    assert {c["subject"] for c in cells["cells"]} == {supplier.duis}
    ds = next(c for c in cells["cells"] if c["cell"] == "supplier DS")
    assert ds["key_id"] == key_id(pki.org(supplier, Usage.DS).load_cert()).hex().upper()
    out = send("6.24.2")
    assert (out["values"]["subject"], out["values"]["usage"]) == (esme.duis, "ds"), out
    # the ESME's DS certificate: the one the rig's PKI issued it, or (when 6.17 and 6.15.2
    # ran first on this rig: tests/test_credential_updates.py) the one SMKI issued since
    issued = pki.device(esme, Usage.DS).load_cert()
    answered = certificate_of(base64.b64decode(out["values"]["certificate"]))
    cert = x509.load_der_x509_certificate(answered)
    assert (smki.eui_of(cert), smki.usage_of(cert)) == (esme, Usage.DS)
    assert answered == issued.public_bytes(serialization.Encoding.DER) or (
        cert.issuer == issued.issuer and cert.not_valid_before_utc >= issued.not_valid_before_utc
    )
