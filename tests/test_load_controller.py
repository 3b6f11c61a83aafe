"""6.15.1 Update Security Credentials with RemotePartyRole LoadController: CS02g
LoadControllerBySupplier, the supplier replacing an ESME's load controller cells (DS, KA),
immediate, future-dated and cancelled, against RTDS 4.5.0: the DCC's transform of DCC's
templates is RTDS's command; the ESME (RTDS's keystore in its cells, the load controller's
too) answers RTDS's commands with RTDS's payloads, keeps what it took across a power cut,
holds a future-dated one apart from a CS02b and carries it out at its time (a driven clock)
with RTDS's 0x0124 alert, or drops it when cancelled.

Template values adapted: RTDS's commands put the supplier's own certificates (role 02) into
the load controller cells, DCC's templates a load controller's (role 08, re-issued 2025), so
the byte comparison puts RTDS's certificates into the template; the template's own are
checked to become the same command but for the certificates. Excluded from the byte
comparisons: the signatures and MACs (the counters are given as RTDS's). Where the rig and
RTDS differ: RTDS's IMMEDIATE_ERROR and FUTURE_DATED_ERROR commands are its SUCCESS ones but
for the counter (its device's state made them fail: status 10), so the rig's ESME, given
them, takes them; the 8F67 alert's layout is checked as a record."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gateway.transform import TransformInput, transform_for
from gateway.transform.registry import Peer, TransformRefused
from nodes.gbcs.activation import AlertSigner
from nodes.gbcs.credentials import execute_if_due, resume_credentials
from rig.dccuser.read_credentials import future_credentials
from rig.dccuser.readers import read
from rig.description import load_rig
from rig.pki.authority import LOAD_CONTROLLER_EUI, Pki
from rig.pki.keystores import load
from rig.plan.node_config import gbcs_config
from rig.protocol import smki
from rig.protocol.duis import codes
from rig.protocol.duis.message import Request
from rig.protocol.duis.xml import NS
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import catalogue as cat
from rig.protocol.gbcs import security
from rig.protocol.gbcs.catalogue_credentials import (
    CANCEL,
    CS02B_SUPPLIER_BY_SUPPLIER,
    CS02G_LOAD_CONTROLLER_BY_SUPPLIER,
    FUTURE_DATED_LOAD_CONTROLLER_CREDENTIALS,
    LOAD_CONTROLLER_CELLS,
    Cell,
    RemotePartyRole,
    Replacement,
    ReplacementMode,
    StatusCode,
    UpdateSecurityCredentials,
    credentials_answer,
    future_credentials_of,
    future_credentials_payload,
    outcome_of,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import check_command, command
from rig.protocol.smki import OrgRole, Usage
from rig.state import StateDir
from tests.conftest import RIGS, rig_json, vectors, wait_for
from tests.test_change_of_supplier import _answer, _esme
from tests.test_credential_reads import _hold
from tests.test_credential_updates import (
    EXECUTE_AT,
    KRP,
    SUPPLIER,
    _Meter,
    _msg,
    _protected,
    _template,
)
from tests.test_usecases import ESME

CS02G = "6.15.1_CS02gLoadControllerBySupplier/CS02gLoadControllerBySupplier_6.15.1"
TEMPLATE = "CS02gLoadControllerBySupplier_6.15.1"
LOAD_CONTROLLER = Eui64.parse("90-B3-D5-1F-30-01-00-08")  # RTDS's (and ZAZ1's)
ROLE = RemotePartyRole
SUPPLIER_DS = Cell(ROLE.SUPPLIER, Usage.DS)


@pytest.fixture(scope="module")
def store():
    return load([vectors("gbcs", "rtds-keystore"), vectors("gbcs", "device-keys")])


def _transform(request: Request, rtds: GbcsMessage, device_type: str | None = None):
    """6.15.1 as the DCC transforms it (the SRV's primary use case's transform)."""
    fn = transform_for(CS02B_SUPPLIER_BY_SUPPLIER)
    assert fn is not None
    h = rtds.header
    given = TransformInput(
        request, h.counter, Eui64(h.originator), Eui64(h.recipient), lambda _e: Peer(device_type)
    )
    return fn(CS02B_SUPPLIER_BY_SUPPLIER, given)


def _lc_esme(tmp_path, state):
    """RTDS's ESME with RTDS's load controller in its load controller cells."""
    esme = _esme(tmp_path, state)
    _hold(esme, LOAD_CONTROLLER, ROLE.LOAD_CONTROLLER)
    return esme


def _lc_cells(esme) -> dict[Cell, x509.Certificate]:
    return {c: cert for c, cert in esme.trust.cells.items() if c in LOAD_CONTROLLER_CELLS}


def _future_cs02b(store, counter: int) -> bytes:
    """RTDS's future-dated CS02b SupplierBySupplier, sent with ``counter`` (below the
    CS02g commands' own: RTDS's share theirs)."""
    rtds = UpdateSecurityCredentials.decode(_msg(f"{KRP}_FUTURE_DATED_SUCCESS_COMMAND").payload)
    payload = dataclasses.replace(rtds, seq_number=counter).encode()
    cmd = command(CS02B_SUPPLIER_BY_SUPPLIER, counter, SUPPLIER.raw, ESME.raw, payload)
    return _protected(store, cmd, SUPPLIER)


def _cancel_tasks() -> None:
    for task in asyncio.all_tasks() - {asyncio.current_task()}:  # the node's own timers
        task.cancel()


# --- the DCC's transform ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "case", ["IMMEDIATE_SUCCESS", "FUTURE_DATED_SUCCESS", "CANCELLATION_SUCCESS"]
)
def test_cs02g_commands_are_rtds_from_dccs_templates(store, case) -> None:
    rtds = _msg(f"{CS02G}_{case}_COMMAND")
    ours = _transform(_template(f"{TEMPLATE}_{case}", rtds), rtds)
    assert (ours.message_code, ours.header, ours.payload) == (
        0x0126,
        rtds.header,
        rtds.payload,
    )
    assert check_command(rtds, cat.CATALOGUE) is CS02G_LOAD_CONTROLLER_BY_SUPPLIER
    security.verify_signature(rtds, store.get(SUPPLIER, Usage.DS).public_key)
    # DCC's template as it is: a load controller's certificates (role 08); the same command
    # but for the certificates
    plain = UpdateSecurityCredentials.decode(
        _transform(_template(f"{TEMPLATE}_{case}"), rtds).payload
    )
    theirs = UpdateSecurityCredentials.decode(rtds.payload)
    for r in plain.replacements:
        cert = x509.load_der_x509_certificate(r.certificate)
        assert smki.role_of(cert) is OrgRole.LOAD_CONTROLLER and smki.usage_of(cert) is r.cell.usage
    swapped = dataclasses.replace(plain, replacements=theirs.replacements, path=theirs.path)
    assert swapped.encode() == rtds.payload
    assert theirs.mode is ReplacementMode.LOAD_CONTROLLER_BY_SUPPLIER
    assert (theirs.execute_at == CANCEL) == (case == "CANCELLATION_SUCCESS")


def test_the_dcc_refuses_what_is_no_load_controller_update(store) -> None:
    rtds = _msg(f"{CS02G}_IMMEDIATE_SUCCESS_COMMAND")
    with pytest.raises(TransformRefused) as refused:  # a GSME has no load controller cells
        _transform(_template(f"{TEMPLATE}_IMMEDIATE_SUCCESS", rtds), rtds, "GSME")
    assert refused.value.code == codes.WRONG_DEVICE_TYPE and "ESME" in str(refused.value)

    def body_with(**certs: bytes) -> Request:
        request = _template(f"{TEMPLATE}_IMMEDIATE_SUCCESS", rtds)
        holder = request.body.find(".//sr:SupplierOrNetworkOperatorCertificates", NS)
        assert holder is not None
        for name, der in certs.items():
            element = holder.find(f"sr:{name}", NS)
            if element is None:
                element = holder.makeelement(f"{{{NS['sr']}}}{name}")
                holder.append(element)
            element.text = base64.b64encode(der).decode()
        return request

    def der(eui: Eui64, usage: Usage) -> bytes:
        return store.get(eui, usage).certificate.public_bytes(serialization.Encoding.DER)

    for certs, why in (
        ({"DigitalSigningCertificate": der(SUPPLIER, Usage.KA)}, "KA certificate"),  # usage
        (
            {"DigitalSigningCertificate": der(Eui64.parse("90-B3-D5-1F-30-03-00-00"), Usage.DS)},
            "own",
        ),
        ({"KeyAgreementCertificate": der(LOAD_CONTROLLER, Usage.DS)}, "not a KA one"),
        ({"KeyAgreementTopUpCertificate": der(SUPPLIER, Usage.KA)}, "top-up"),
    ):
        with pytest.raises(TransformRefused) as refused:
            _transform(body_with(**certs), rtds)
        assert refused.value.code == codes.INVALID_USER and why in str(refused.value), why


# --- the ESME -----------------------------------------------------------------------------------
async def test_the_esme_answers_rtds_cs02g_as_rtds_and_keeps_it(store, tmp_path) -> None:
    state = tmp_path / "state"
    esme = _lc_esme(tmp_path, state)
    answer = await _answer(esme, _msg(f"{CS02G}_IMMEDIATE_SUCCESS_COMMAND").encode())
    assert answer is not None
    assert answer.payload == _msg(f"{CS02G}_IMMEDIATE_SUCCESS_RESPONSE").payload
    assert (answer.header.recipient, answer.message_code) == (SUPPLIER.raw, 0x0126)
    security.verify_signature(answer, esme.ds.public_key())
    values = read(answer, device_ds=esme.ds.public_key())  # the User's reader
    assert (
        values["result"] == 0 and [r["to"] for r in values["replacements"]] == [SUPPLIER.duis] * 2
    )
    # kept across a power cut; the supplier is still known by its own cells first
    again = _esme(tmp_path, state)
    assert {smki.eui_of(c) for c in _lc_cells(again).values()} == {SUPPLIER}
    assert again.trust.role_of(SUPPLIER) is ROLE.SUPPLIER
    assert again.trust.holder(ROLE.LOAD_CONTROLLER) == SUPPLIER


async def test_the_rigs_pki_issues_the_load_controller_whose_cells_an_esme_holds(
    store, tmp_path
) -> None:
    """The rig's PKI issues the load controller's DS and KA certificates (role 08) as it
    issues the other organisations'; an ESME's configuration seeds its load controller cells
    with them (a GSME has none). An ESME takes them in a CS02g (DCC's template's kind of
    certificate); a command replacing the supplier's own cells, or authorised by a cell not
    its originator's, is not carried out (no answer)."""
    rig = load_rig(RIGS / "dcc.yaml")
    pki = Pki(StateDir.open(tmp_path / "rig").pki)
    created = pki.ensure(rig, ["127.0.0.1"])
    assert {"load controller DS", "load controller KA"} <= set(created)
    certs = {u: pki.org(LOAD_CONTROLLER_EUI, u).load_cert() for u in (Usage.DS, Usage.KA)}
    for usage, cert in certs.items():
        assert smki.role_of(cert) is OrgRole.LOAD_CONTROLLER and smki.usage_of(cert) is usage
        assert smki.eui_of(cert) == LOAD_CONTROLLER_EUI
    assert not pki.org(LOAD_CONTROLLER_EUI, Usage.XML).cert.exists()
    assert pki.ensure(rig, ["127.0.0.1"]) == []  # issued once
    seeded = {
        node.role.value: [
            (t.eui, t.usage)
            for t in gbcs_config(rig, pki, node).trusted  # type: ignore[union-attr]
            if t.role is ROLE.LOAD_CONTROLLER
        ]
        for node in rig.nodes
        if node.role.value in ("esme", "gsme")
    }
    assert seeded == {
        "esme": [(LOAD_CONTROLLER_EUI, Usage.DS), (LOAD_CONTROLLER_EUI, Usage.KA)],
        "gsme": [],
    }

    def der(cert: x509.Certificate) -> bytes:
        return cert.public_bytes(serialization.Encoding.DER)

    replacements = tuple(Replacement(der(certs[c.usage]), c) for c in LOAD_CONTROLLER_CELLS)
    path = (der(pki.smki_issuing.load_cert()),)
    esme = _lc_esme(tmp_path, tmp_path / "state")
    key = store.private(SUPPLIER, Usage.DS).private_key

    def cs02g(counter: int, replacing=replacements, by=SUPPLIER_DS, through=path) -> bytes:
        mode = ReplacementMode.LOAD_CONTROLLER_BY_SUPPLIER
        update = UpdateSecurityCredentials(mode, by, counter, replacing, through)
        uc = CS02G_LOAD_CONTROLLER_BY_SUPPLIER
        cmd = command(uc, counter, SUPPLIER.raw, ESME.raw, update.encode())
        return _protected(store, cmd, None, key)

    stolen = (Replacement(replacements[0].certificate, Cell(ROLE.SUPPLIER, Usage.DS)),)
    assert await _answer(esme, cs02g(0x700, replacing=stolen)) is None
    assert await _answer(esme, cs02g(0x701, by=Cell(ROLE.NETWORK_OPERATOR, Usage.DS))) is None
    answer = await _answer(esme, cs02g(0x702))
    assert answer is not None
    outcome = outcome_of(answer.payload)
    assert outcome is not None and outcome.succeeded
    assert [o.replacing_subject for o in outcome.outcomes] == [LOAD_CONTROLLER_EUI.raw] * 2
    assert {smki.eui_of(c) for c in _lc_cells(esme).values()} == {LOAD_CONTROLLER_EUI}
    # a path that did not issue them (RTDS's Z1): status 10, the cells kept
    rtds = UpdateSecurityCredentials.decode(_msg(f"{CS02G}_IMMEDIATE_SUCCESS_COMMAND").payload)
    answer = await _answer(esme, cs02g(0x703, through=rtds.path))
    assert answer is not None
    outcome = outcome_of(answer.payload)
    assert outcome is not None
    assert {o.status for o in outcome.outcomes} == {StatusCode.NO_TRUST_ANCHOR}
    assert {smki.eui_of(c) for c in _lc_cells(esme).values()} == {LOAD_CONTROLLER_EUI}


async def test_a_future_dated_cs02g_is_held_apart_and_run_at_its_time(store, tmp_path) -> None:
    state = tmp_path / "state"
    esme = _lc_esme(tmp_path, state)
    esme.trust._save()  # the load controller cells as its installation saved them
    now = [dt.datetime(2029, 12, 31, tzinfo=dt.UTC)]
    # a CS02b of the supplier's own, future-dated too, held in its own place
    assert await _answer(esme, _future_cs02b(store, 900)) is not None
    cs02b = esme.trust.held
    answer = await _answer(esme, _msg(f"{CS02G}_FUTURE_DATED_SUCCESS_COMMAND").encode())
    assert answer is not None
    assert answer.payload == _msg(f"{CS02G}_FUTURE_DATED_SUCCESS_RESPONSE").payload  # accepted
    assert esme.trust.held == cs02b and esme.trust.held_load_controller is not None
    before = _lc_cells(esme)
    _cancel_tasks()

    # a power cut: the re-created device holds both, and waits for their time
    again = _esme(tmp_path, state)
    assert again.trust.held_load_controller is not None and _lc_cells(again) == before
    meter = _Meter(again)
    resume_credentials(meter, lambda: now[0])
    assert len(meter._tasks) == 2
    await asyncio.sleep(0)
    assert not meter.sent
    now[0] = EXECUTE_AT
    await asyncio.wait_for(asyncio.gather(*meter._tasks), 5)
    alerts = {GbcsMessage.decode(raw).message_code: GbcsMessage.decode(raw) for raw in meter.sent}
    alert = alerts[FUTURE_DATED_LOAD_CONTROLLER_CREDENTIALS]
    assert alert.payload == _msg(f"{CS02G}_8F66_FUTURE_DATED_SUCCESS_ALERT").payload
    assert (alert.header.originator, alert.header.recipient) == (ESME.raw, SUPPLIER.raw)
    security.verify_signature(alert, again.ds.public_key())
    assert future_credentials(alert.payload)["alert_code"] == "8F66"
    assert 0x00CB in alerts  # the CS02b's, its own alert
    assert again.trust.held_load_controller is None and _lc_cells(again) != before
    assert {smki.eui_of(c) for c in _lc_cells(_esme(tmp_path, state)).values()} == {SUPPLIER}


async def test_a_cancelled_cs02g_is_dropped_and_leaves_a_cs02b_held(store, tmp_path) -> None:
    state = tmp_path / "state"
    esme = _lc_esme(tmp_path, state)
    before = _lc_cells(esme)
    assert await _answer(esme, _future_cs02b(store, 900)) is not None
    assert await _answer(esme, _msg(f"{CS02G}_FUTURE_DATED_SUCCESS_COMMAND").encode()) is not None
    answer = await _answer(esme, _msg(f"{CS02G}_CANCELLATION_SUCCESS_COMMAND").encode())
    assert answer is not None
    assert answer.payload == _msg(f"{CS02G}_CANCELLATION_SUCCESS_RESPONSE").payload
    _cancel_tasks()
    again = _esme(tmp_path, state)
    assert again.trust.held_load_controller is None and again.trust.held is not None
    signer = AlertSigner(ESME, again.ds, again.next_counter)
    raw = execute_if_due(again.trust, signer, EXECUTE_AT)  # the CS02b runs: 0x00CB
    assert raw is not None and GbcsMessage.decode(raw).message_code == 0x00CB
    assert _lc_cells(again) == before


def test_rtds_cs02g_messages_decode_and_encode_back() -> None:
    root = vectors("gbcs", "rtds-4.5.0")
    files = sorted((root / CS02G.split("/")[0]).glob("*_GBCS.HEX"))
    assert len(files) == 17
    for path in files:
        name = f"{CS02G.split('/')[0]}/{path.name.removesuffix('_GBCS.HEX')}"
        msg = _msg(name)
        if "PRECOMMAND" in name:
            continue
        if "ALERT" in name:
            code, when, outcome = future_credentials_of(msg.payload)
            assert msg.message_code == FUTURE_DATED_LOAD_CONTROLLER_CREDENTIALS
            assert future_credentials_payload(when, outcome) == msg.payload, name
            assert code == (0x8F66 if outcome.succeeded else 0x8F67)
            assert outcome.mode is ReplacementMode.LOAD_CONTROLLER_BY_SUPPLIER
        elif "RESPONSE" in name:
            assert credentials_answer(outcome_of(msg.payload)) == msg.payload, name
        else:
            assert UpdateSecurityCredentials.decode(msg.payload).encode() == msg.payload, name
    error = future_credentials_of(_msg(f"{CS02G}_8F67_FUTURE_DATED_ERROR_ALERT").payload)[2]
    assert {o.status for o in error.outcomes} == {StatusCode.NO_TRUST_ANCHOR}


# --- on the running rig -------------------------------------------------------------------------
def test_6_15_1_load_controller_on_the_rig(dcc_rig) -> None:
    """supplier-a replaces the rig's ESME's load controller cells through the DCC (6.15.1
    LoadController, critical: pre-command and all) with its own certificates, as RTDS's
    command does: I0, each cell SUCCESS from the load controller to supplier-a, and 6.24.1
    then names supplier-a; a future-dated one giving the load controller's certificates back
    is accepted, and carried out at its time (6.24.1 names the load controller again)."""
    pki = Pki(dcc_rig["state"].pki)
    supplier = Eui64.parse("90-B3-D5-1F-30-01-00-00")  # supplier-a

    def cli(*args: str) -> dict:
        return rig_json(dcc_rig, *args)

    def load_controller() -> set[str]:
        out = cli("supplier", "send", "6.24.1", "--target", "esme",
                  "--param", "RemotePartyRole=LoadController")  # fmt: skip
        (lc,) = out["values"]["credentials"]
        assert (lc["role"], lc["status"]) == ("load_controller", "SUCCESS"), out
        return {c["subject"] for c in lc["cells"]}

    def b64(usage: Usage) -> str:
        der = (
            pki.org(LOAD_CONTROLLER_EUI, usage).load_cert().public_bytes(serialization.Encoding.DER)
        )
        return base64.b64encode(der).decode()

    # the CA that issued supplier-a's certificates: the rig's own, or on a ZAZ1 rig Z1,
    # whose certificate DCC's template carries (the rig holds none of ZAZ1's CAs)
    own = pki.org(supplier, Usage.DS).load_cert()
    template = _template(f"{TEMPLATE}_IMMEDIATE_SUCCESS")
    candidates = [
        x509.load_der_x509_certificate(base64.b64decode(e.text or ""))
        for e in template.body.iterfind(".//sr:CertificationPathCertificates/sr:Certificate", NS)
    ]
    if pki.smki_issuing.cert.exists():
        candidates.append(pki.smki_issuing.load_cert())
    issuer = next(ca for ca in candidates if smki.issued_by(own, ca))
    path = base64.b64encode(issuer.public_bytes(serialization.Encoding.DER)).decode()

    assert load_controller() == {LOAD_CONTROLLER_EUI.duis}  # as the rig seeds it
    # supplier-a's own certificates: the client's defaults
    out = cli("supplier", "send", "6.15.1", "--target", "esme",
              "--param", "RemotePartyRole=LoadController",
              "--param", f"CertificationPath={path}")  # fmt: skip
    assert out["response_code"] == "I0", out
    values = out["values"]
    assert values["use_case"] == "CS02gLoadControllerBySupplier", values
    assert [(r["cell"], r["status"], r["from"], r["to"]) for r in values["replacements"]] == [
        ("load_controller DS", "SUCCESS", LOAD_CONTROLLER_EUI.duis, supplier.duis),
        ("load_controller KA", "SUCCESS", LOAD_CONTROLLER_EUI.duis, supplier.duis),
    ]
    assert load_controller() == {supplier.duis}
    at = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=5)
    out = cli(
        "supplier", "send", "6.15.1", "--target", "esme",
        "--param", "RemotePartyRole=LoadController",
        "--param", f"DigitalSigningCertificate={b64(Usage.DS)}",
        "--param", f"KeyAgreementCertificate={b64(Usage.KA)}",
        "--param", f"CertificationPath={path}",
        "--param", f"ExecutionDateTime={at.isoformat().replace('+00:00', 'Z')}",
    )  # fmt: skip
    assert out["response_code"] == "I0", out
    assert out["values"]["accepted"] is True and "replacements" not in out["values"], out
    assert wait_for(lambda: load_controller() == {LOAD_CONTROLLER_EUI.duis}, timeout=60)
