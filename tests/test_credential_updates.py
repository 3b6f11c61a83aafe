"""A party replacing its own security credentials on a meter (6.15.1 CS02b SupplierBySupplier
and NOByNO, immediate, future-dated and cancelled; 6.21's handover of a DCC controlled
device), and the device's own credentials (6.15.2 CS02d, 6.17 CS02c), against RTDS 4.5.0:
the DCC's transforms of DCC's templates are RTDS's commands; the ESME (RTDS's keystore in its
cells, as tests/test_change_of_supplier.py builds it) answers RTDS's commands with RTDS's
payloads; a future-dated one is held across a power cut, carried out at its time (a driven
clock) with RTDS's 0x00CB alert, or cancelled; a key roll leaves the device trusting the new
key only.

Template values adapted: DCC's templates carry re-issued certificates (2025) where RTDS's
commands have the 2016 ones, so the test puts RTDS's certificates into them; the 6.21
NOByNO template's RequestID names supplier 1 although its certificates are the network
operator's (the NO sends its own). Excluded from the byte comparisons: the signatures and
MACs (the counters are given as RTDS's). 6.21: the ACB originates the command (the
downlink's originator and counter); RTDS's target 00-DB-12-34-56-78-90-A3's KA key is not
public, so the ESME answers RTDS's handover command re-addressed to it (re-signed by the ACB),
its supplier cells holding the ACB's certificates as RTDS's device's do. Where the rig and
RTDS differ: RTDS's CS02c ERROR answers 3 to a request for a KA key pair, where the rig's
ESME issues one (checked as a KA request)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.config import DCC_CELLS
from gateway.transform import TransformInput, served, transform_for
from gateway.transform.registry import Peer
from nodes.gbcs.activation import AlertSigner
from nodes.gbcs.credentials import execute_if_due, resume_credentials
from nodes.gbcs.endpoint import TRUSTED_SOURCE_AUTHENTICATION_FAILURE, GbcsEndpoint
from rig.dccuser.read_credentials import future_credentials
from rig.dccuser.readers import read
from rig.pki.authority import Pki
from rig.pki.keystores import load
from rig.protocol import smki
from rig.protocol.duis.message import Request, RequestId, parse_document
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import catalogue as cat
from rig.protocol.gbcs import security
from rig.protocol.gbcs.catalogue import ECS43
from rig.protocol.gbcs.catalogue_credentials import (
    CANCEL,
    CS02B_NO_BY_NO,
    CS02B_SUPPLIER_BY_SUPPLIER,
    CS02C,
    CS02D,
    FUTURE_DATED_CREDENTIALS,
    Cell,
    CertificateUpdate,
    RemotePartyRole,
    Replacement,
    ReplacementMode,
    StatusCode,
    UpdateSecurityCredentials,
    certificate_of,
    certificate_update_of,
    issued_of,
    outcome_of,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import check_command, command
from rig.protocol.smki import OrgRole, Usage
from tests.conftest import rig_json, vectors
from tests.test_change_of_supplier import _answer, _Device, _esme
from tests.test_credential_reads import _hold
from tests.test_usecases import ACB, ESME, _rtds

SUPPLIER = Eui64.parse("90-B3-D5-1F-30-01-00-00")  # RTDS's supplier 1
NETWORK_OPERATOR = Eui64.parse("90-B3-D5-1F-30-02-00-00")
KRP = "6.15.1_CS02bSupplierBySupplier/CS02bSupplierBySupplier_6.15.1"
NO = "6.15.1_CS02bNOByNO/CS02bNOByNO_6.15.1"
HANDOVER = "6.21_CS02bSupplierBySupplierHandover/CS02bSupplierBySupplierHandover_6.21"
NO_HANDOVER = "6.21_CS02bNOByNOHandover/CS02bNOByNOHandover_6.21"
CS02D_RTDS = "6.15.2_CS02d/CS02d_6.15.2"
CS02C_RTDS = "6.17_CS02c/CS02c_6.17"
EXECUTE_AT = dt.datetime(2030, 1, 15, tzinfo=dt.UTC)  # RTDS's future-dated commands'


@pytest.fixture(scope="module")
def store():
    return load([vectors("gbcs", "rtds-keystore"), vectors("gbcs", "device-keys")])


def _msg(name: str) -> GbcsMessage:
    return GbcsMessage.decode(_rtds(name))


def _template(name: str, rtds: GbcsMessage | None = None, sender: Eui64 | None = None) -> Request:
    """DCC's template; with ``rtds``, RTDS's certificates put into it (DS, KA, top-up KA,
    then the certification path, in document order), and ``sender`` as its originator."""
    request = parse_document(vectors("duis", "templates", f"{name}_REQUEST_DUIS.XML").read_bytes())
    assert isinstance(request, Request)
    if rtds is not None:
        update = UpdateSecurityCredentials.decode(rtds.payload)
        ders = [r.certificate for r in update.replacements] + list(update.path)
        elements = [
            e
            for e in request.body.iter()
            if isinstance(e.tag, str) and e.tag.endswith("Certificate") and len(e.text or "") > 64
        ]
        assert len(elements) == len(ders)
        for element, der in zip(elements, ders, strict=True):
            element.text = base64.b64encode(der).decode()
    if sender is not None:
        rid = request.request_id
        request = dataclasses.replace(
            request, request_id=RequestId(sender, rid.target, rid.counter)
        )
    return request


def _transform(uc, request: Request, rtds: GbcsMessage) -> GbcsMessage:
    fn = transform_for(uc)
    assert fn is not None
    h = rtds.header
    given = TransformInput(  # a device the DCC controls (6.21 hands such a one over)
        request, h.counter, Eui64(h.originator), Eui64(h.recipient), _controlled
    )
    return fn(uc, given)


def _controlled(_eui: Eui64) -> Peer:
    return Peer(None, dcc_cells=frozenset(DCC_CELLS))


def _protected(store, cmd: GbcsMessage, signer: Eui64 | None, key=None) -> bytes:
    """``cmd`` as it reaches the ESME: signed (by ``signer``'s DS key, or ``key``) and
    MAC'd by the ACB for the ESME."""
    cmd = dataclasses.replace(cmd, signature=None, mac=None)
    if key is None and signer is not None:
        key = store.private(signer, Usage.DS).private_key
    if key is not None:
        cmd = security.sign_message(cmd, key)
    acb_ka, esme_ka = store.private(ACB, Usage.KA), store.get(ESME, Usage.KA)
    return security.apply_mac(cmd, acb_ka.private_key, esme_ka.public_key).encode()


# --- the DCC's transforms -----------------------------------------------------------------------
def test_own_credential_commands_are_rtds_from_dccs_templates(store) -> None:
    cases = (
        ("CS02bSupplierBySupplier_6.15.1_IMMEDIATE_SUCCESS", KRP + "_IMMEDIATE_SUCCESS", None),
        (
            "CS02bSupplierBySupplier_6.15.1_FUTURE_DATED_SUCCESS",
            KRP + "_FUTURE_DATED_SUCCESS",
            None,
        ),
        (
            "CS02bSupplierBySupplier_6.15.1_CANCELLATION_SUCCESS",
            KRP + "_CANCELLATION_SUCCESS",
            None,
        ),
        ("CS02bNOByNO_6.15.1_SUCCESS", NO + "_SUCCESS", None),
        ("CS02bSupplierBySupplierHandover_6.21_SUCCESS", HANDOVER + "_SUCCESS", None),
        ("CS02bNOByNOHandover_6.21_SUCCESS", NO_HANDOVER + "_SUCCESS", NETWORK_OPERATOR),
    )
    for template, folder, sender in cases:
        rtds = _msg(f"{folder}_COMMAND")
        ours = _transform(CS02B_SUPPLIER_BY_SUPPLIER, _template(template, rtds, sender), rtds)
        assert (ours.message_code, ours.header, ours.payload) == (
            rtds.message_code,
            rtds.header,
            rtds.payload,
        ), template
        assert check_command(rtds, cat.CATALOGUE).message_code == rtds.message_code
        # RTDS's: signed by the party whose DS cell authorises it (the ACB on a handover)
        security.verify_signature(
            rtds, store.get(Eui64(rtds.header.originator), Usage.DS).public_key
        )
    cancel = UpdateSecurityCredentials.decode(_msg(f"{KRP}_CANCELLATION_SUCCESS_COMMAND").payload)
    assert cancel.execute_at == CANCEL
    for template, folder in (
        ("CS02d_6.15.2_SUCCESS", CS02D_RTDS + "_SUCCESS"),
        ("CS02c_6.17_SUCCESS", CS02C_RTDS + "_SUCCESS"),
    ):
        rtds = _msg(f"{folder}_COMMAND")
        uc = CS02D if "CS02d" in template else CS02C
        ours = _transform(uc, _template(template), rtds)
        assert (ours.message_code, ours.header, ours.payload) == (
            rtds.message_code,
            rtds.header,
            rtds.payload,
        )
        assert check_command(rtds, cat.CATALOGUE) is uc
    for srv, uc in (("6.15.1", CS02B_SUPPLIER_BY_SUPPLIER), ("6.15.2", CS02D), ("6.17", CS02C)):
        assert served(cat.CATALOGUE, srv, "ESME") is uc and served(cat.CATALOGUE, srv, "GSME") is uc
    assert check_command(_msg(f"{NO}_SUCCESS_COMMAND"), cat.CATALOGUE) is CS02B_NO_BY_NO


# --- the ESME ---------------------------------------------------------------------------------
async def test_the_esme_answers_rtds_krp_commands_as_rtds(store, tmp_path) -> None:
    for case in ("IMMEDIATE_SUCCESS", "IMMEDIATE_ERROR"):
        esme = _esme(tmp_path, tmp_path / case)
        answer = await _answer(esme, _msg(f"{KRP}_{case}_COMMAND").encode())
        assert answer is not None
        assert answer.payload == _msg(f"{KRP}_{case}_RESPONSE").payload, case
        assert (answer.header.recipient, answer.message_code) == (SUPPLIER.raw, 0x0102)
        security.verify_signature(answer, esme.ds.public_key())
        assert read(answer, device_ds=esme.ds.public_key())["accepted"] is True  # the User's reader
    # the network operator rolls its own (its cells as its installation seeds them)
    esme = _esme(tmp_path, tmp_path / "no")
    _hold(esme, NETWORK_OPERATOR, RemotePartyRole.NETWORK_OPERATOR)
    answer = await _answer(esme, _msg(f"{NO}_SUCCESS_COMMAND").encode())
    assert answer is not None and answer.payload == _msg(f"{NO}_SUCCESS_RESPONSE").payload


async def test_the_esme_answers_rtds_handover_as_rtds(store, tmp_path) -> None:
    keystore = vectors("gbcs", "rtds-keystore")
    for folder, role in (
        (HANDOVER, RemotePartyRole.SUPPLIER),
        (NO_HANDOVER, RemotePartyRole.NETWORK_OPERATOR),
    ):
        esme = _esme(tmp_path, tmp_path / role.name)
        # a DCC controlled device: the ACB holds the role's cells
        for cell in [c for c in esme.trust.cells if c.role is role]:
            del esme.trust.cells[cell]
        acb = {
            u: x509.load_pem_x509_certificate(
                (keystore / f"{ACB.raw.hex()}-{u.value}.pem").read_bytes()
            )
            for u in (Usage.DS, Usage.KA)
        }
        esme.trust.cells[Cell(role, Usage.DS)] = acb[Usage.DS]
        esme.trust.cells[Cell(role, Usage.KA)] = acb[Usage.KA]
        if role is RemotePartyRole.SUPPLIER:
            esme.trust.cells[Cell(role, Usage.KA, top_up=True)] = acb[Usage.KA]
        rtds = _msg(f"{folder}_SUCCESS_COMMAND")
        to_esme = dataclasses.replace(
            rtds, header=dataclasses.replace(rtds.header, recipient=ESME.raw)
        )
        answer = await _answer(esme, _protected(store, to_esme, ACB))
        assert answer is not None
        assert answer.payload == _msg(f"{folder}_SUCCESS_RESPONSE").payload, folder
        assert esme.trust.holder(role) != ACB


class _Meter(_Device):
    """A meter as the scheduler sees one: its GBCS end, what it sends up, its tasks."""

    def __init__(self, gbcs: GbcsEndpoint) -> None:
        self.gbcs = gbcs
        self.sent: list[bytes] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def send_up(self, raw: bytes) -> None:
        self.sent.append(raw)


async def test_a_future_dated_krp_is_held_across_a_power_cut_and_run_at_its_time(
    store, tmp_path
) -> None:
    state = tmp_path / "state"
    esme = _esme(tmp_path, state)
    now = [dt.datetime(2029, 12, 31, tzinfo=dt.UTC)]
    answer = await _answer(esme, _msg(f"{KRP}_FUTURE_DATED_SUCCESS_COMMAND").encode())
    assert answer is not None
    assert answer.payload == _msg(f"{KRP}_FUTURE_DATED_SUCCESS_RESPONSE").payload  # accepted
    assert outcome_of(answer.payload) is None and esme.trust.held is not None
    before = dict(esme.trust.cells)
    for task in asyncio.all_tasks() - {asyncio.current_task()}:  # the node's own timer
        task.cancel()

    # a power cut: the re-created device holds it, and waits for its time
    again = _esme(tmp_path, state)
    assert again.trust.held is not None and again.trust.cells == before
    meter = _Meter(again)
    resume_credentials(meter, lambda: now[0])
    (timer,) = meter._tasks
    await asyncio.sleep(0)
    assert not meter.sent and not timer.done()
    now[0] = EXECUTE_AT
    await asyncio.wait_for(timer, 5)
    (raw,) = meter.sent
    alert = GbcsMessage.decode(raw)
    expected = _msg(f"{KRP}_8F66_FUTURE_DATED_SUCCESS_ALERT")
    assert alert.payload == expected.payload
    assert (alert.message_code, alert.header.originator, alert.header.recipient) == (
        FUTURE_DATED_CREDENTIALS,
        ESME.raw,
        SUPPLIER.raw,
    )
    security.verify_signature(alert, again.ds.public_key())
    assert future_credentials(alert.payload)["alert_code"] == "8F66"
    assert again.trust.held is None and again.trust.cells != before
    assert _esme(tmp_path, state).trust.held is None  # it runs once


async def test_a_future_dated_error_raises_rtds_8f67(store, tmp_path) -> None:
    esme = _esme(tmp_path, tmp_path / "state")
    answer = await _answer(esme, _msg(f"{KRP}_FUTURE_DATED_ERROR_COMMAND").encode())
    assert answer is not None
    assert answer.payload == _msg(f"{KRP}_FUTURE_DATED_ERROR_RESPONSE").payload
    for task in asyncio.all_tasks() - {asyncio.current_task()}:
        task.cancel()
    signer = AlertSigner(ESME, esme.ds, esme.next_counter)
    assert execute_if_due(esme.trust, signer, EXECUTE_AT - dt.timedelta(seconds=1)) is None
    raw = execute_if_due(esme.trust, signer, EXECUTE_AT)
    assert raw is not None
    alert = GbcsMessage.decode(raw)
    assert alert.payload == _msg(f"{KRP}_8F67_FUTURE_DATED_ERROR_ALERT").payload
    assert future_credentials(alert.payload)["result"] == StatusCode.NO_TRUST_ANCHOR


async def test_a_cancelled_krp_is_dropped(store, tmp_path) -> None:
    state = tmp_path / "state"
    esme = _esme(tmp_path, state)
    before = dict(esme.trust.cells)
    assert await _answer(esme, _msg(f"{KRP}_FUTURE_DATED_SUCCESS_COMMAND").encode()) is not None
    assert esme.trust.held is not None
    answer = await _answer(esme, _msg(f"{KRP}_CANCELLATION_SUCCESS_COMMAND").encode())
    assert answer is not None
    assert answer.payload == _msg(f"{KRP}_CANCELLATION_SUCCESS_RESPONSE").payload
    for task in asyncio.all_tasks() - {asyncio.current_task()}:
        task.cancel()
    again = _esme(tmp_path, state)
    assert again.trust.held is None
    signer = AlertSigner(ESME, again.ds, again.next_counter)
    assert execute_if_due(again.trust, signer, EXECUTE_AT) is None
    assert again.trust.cells == before


def _new_supplier_credentials(tmp: Path):
    """Supplier 1's new DS, KA and top-up KA certificates, for fresh keys, from a CA of
    the test's (the certification path)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    start = dt.datetime(2015, 1, 1, tzinfo=dt.UTC)
    ca = smki.ca_certificate("Z9", ca_key, not_before=start)
    keys, replacements = {}, []
    for usage, top_up in ((Usage.DS, False), (Usage.KA, False), (Usage.KA, True)):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = smki.organisation_certificate(
            SUPPLIER, OrgRole.SUPPLIER, key.public_key(), usage, ca, ca_key,
            not_before=start, not_after=start + dt.timedelta(days=3650),
        )  # fmt: skip
        keys[(usage, top_up)] = key
        der = cert.public_bytes(serialization.Encoding.DER)
        replacements.append(Replacement(der, Cell(RemotePartyRole.SUPPLIER, usage, top_up)))
    return keys, tuple(replacements), ca.public_bytes(serialization.Encoding.DER)


def _disable_supply(store, counter: int, key) -> bytes:
    return _protected(store, command(ECS43, counter, SUPPLIER.raw, ESME.raw), None, key)


async def test_a_key_roll_leaves_the_device_trusting_the_new_key_only(store, tmp_path) -> None:
    esme = _esme(tmp_path, tmp_path / "state")
    refused: list[int] = []
    esme.on_refused = refused.append
    old = store.private(SUPPLIER, Usage.DS).private_key
    keys, replacements, ca = _new_supplier_credentials(tmp_path)
    update = UpdateSecurityCredentials(
        ReplacementMode.SUPPLIER_BY_SUPPLIER,
        Cell(RemotePartyRole.SUPPLIER, Usage.DS),
        0x500,
        replacements,
        (ca,),
        floor=0,
        top_up_floor=0,
    )
    cmd = command(CS02B_SUPPLIER_BY_SUPPLIER, 0x500, SUPPLIER.raw, ESME.raw, update.encode())
    answer = await _answer(esme, _protected(store, cmd, None, old))
    assert answer is not None
    outcome = outcome_of(answer.payload)
    assert outcome is not None and outcome.succeeded
    assert read(answer, device_ds=esme.ds.public_key())["replacements"][0]["to"] == SUPPLIER.duis

    before = esme.accepted
    await esme.handle(_disable_supply(store, 0x501, old), _Device())  # the old key: 8F3D
    assert esme.accepted == before and refused == [TRUSTED_SOURCE_AUTHENTICATION_FAILURE]
    await esme.handle(_disable_supply(store, 0x502, keys[(Usage.DS, False)]), _Device())
    assert esme.accepted == before + 1  # the new key
    # a roll signed with the old key is refused too: the cell holds the new one only
    again = dataclasses.replace(update, seq_number=0x503)
    cmd = command(CS02B_SUPPLIER_BY_SUPPLIER, 0x503, SUPPLIER.raw, ESME.raw, again.encode())
    assert await _answer(esme, _protected(store, cmd, None, old)) is None


# --- CS02d, CS02c -------------------------------------------------------------------------------
async def test_the_esme_answers_rtds_cs02d_and_takes_a_certificate_for_its_new_key(
    store, tmp_path
) -> None:
    esme = _esme(tmp_path, tmp_path / "state")
    for case in ("SUCCESS", "ERROR"):
        answer = await _answer(esme, _msg(f"{CS02D_RTDS}_{case}_COMMAND").encode())
        assert answer is not None
        assert answer.payload == _msg(f"{CS02D_RTDS}_{case}_RESPONSE").payload, case
        security.verify_signature(answer, esme.ds.public_key())
    assert answer is not None
    assert (
        read(answer, device_ds=esme.ds.public_key())["result_name"]
        == CertificateUpdate.INVALID_KEY_USAGE.name
    )

    # 6.17: the ESME issues a DS key pair; its request is RTDS's but for the key (a fresh
    # ESME: RTDS's counters would be replays after CS02d's)
    esme = _esme(tmp_path, tmp_path / "issued")
    rtds_csr = x509.load_der_x509_csr(_msg(f"{CS02C_RTDS}_SUCCESS_RESPONSE").payload)
    answer = await _answer(esme, _msg(f"{CS02C_RTDS}_SUCCESS_COMMAND").encode())
    assert answer is not None
    found = issued_of(answer.payload)
    assert isinstance(found, bytes)
    csr = x509.load_der_x509_csr(found)
    assert csr.is_signature_valid
    point = serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    rtds_tbs = rtds_csr.tbs_certrequest_bytes.replace(
        rtds_csr.public_key().public_bytes(*point), csr.public_key().public_bytes(*point)
    )
    assert csr.tbs_certrequest_bytes == rtds_tbs
    assert read(answer, device_ds=esme.ds.public_key())["usage"] == "ds"
    # RTDS's ERROR asks for a KA key pair (RTDS: 3); the rig's ESME issues one
    answer = await _answer(esme, _msg(f"{CS02C_RTDS}_ERROR_COMMAND").encode())
    assert answer is not None and read(answer, device_ds=esme.ds.public_key())["usage"] == "ka"

    # 6.15.2 with a certificate for the DS key CS02c made: taken, and kept across a power cut
    ca_key = ec.generate_private_key(ec.SECP256R1())
    start = dt.datetime(2015, 1, 1, tzinfo=dt.UTC)
    ca = smki.ca_certificate("Z9", ca_key, not_before=start)
    public = csr.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    cert = smki.device_certificate(ESME, public, Usage.DS, ca, ca_key, not_before=start)
    stranger = smki.device_certificate(
        ESME, ec.generate_private_key(ec.SECP256R1()).public_key(), Usage.DS, ca, ca_key,
        not_before=start,
    )  # fmt: skip
    supplier_ds = store.private(SUPPLIER, Usage.DS).private_key
    for counter, given, result in (
        (0x600, stranger, CertificateUpdate.KEY_PAIR_MISMATCH),
        (0x601, cert, CertificateUpdate.SUCCESS),
    ):
        der = given.public_bytes(serialization.Encoding.DER)
        cmd = command(CS02D, counter, SUPPLIER.raw, ESME.raw, der)
        answer = await _answer(esme, _protected(store, cmd, None, supplier_ds))
        assert answer is not None and certificate_update_of(answer.payload) == result
    again = _esme(tmp_path, tmp_path / "issued")  # a power cut: it signs with the new key
    kept = again.trust.own_certificates[Usage.DS.value]
    assert x509.load_pem_x509_certificate(kept.encode()) == cert
    assert again.ds.public_key().public_numbers() == public.public_numbers()
    assert again.own_certificate(Usage.DS) == cert.public_bytes(serialization.Encoding.DER)
    assert again.trust.pending_keys.get(Usage.DS.value) is None


# --- on the running rig -------------------------------------------------------------------------
def test_6_17_then_6_15_2_on_the_rig(dcc_rig) -> None:
    """supplier-a gives the rig's ESME a new DS key pair in one command (`rig supplier
    rekey`: 6.17 through the DCC, critical: pre-command and all; the DCC's SMKI certifies
    the request; 6.15.2 installs the certificate). The ESME signs with the new key from
    then on: 6.24.2 returns the new certificate, signed with it, and SMKI lists it first.
    A certificate for a key the ESME does not hold is refused (KEY_PAIR_MISMATCH)."""

    def cli(*args: str) -> dict:
        return rig_json(dcc_rig, *args)

    issuing = Pki(dcc_rig["state"].pki).smki_issuing
    ca, ca_key = issuing.load_cert(), issuing.load_key()
    start = dt.datetime(2015, 1, 1, tzinfo=dt.UTC)
    stranger = smki.device_certificate(
        ESME, ec.generate_private_key(ec.SECP256R1()).public_key(), Usage.DS, ca, ca_key,
        not_before=start,
    )  # fmt: skip
    der = base64.b64encode(stranger.public_bytes(serialization.Encoding.DER)).decode()
    given = f"DeviceCertificate={der}"
    out = cli("supplier", "send", "6.15.2", "--target", "esme", "--param", given)
    assert (out["values"]["use_case"], out["values"]["result_name"]) == (
        "CS02d",
        "KEY_PAIR_MISMATCH",
    ), out

    out = cli("supplier", "rekey", "--target", "esme", "--usage", "ds")
    assert (out["values"]["use_case"], out["values"]["result_name"]) == ("CS02d", "SUCCESS"), out
    issued = x509.load_der_x509_certificate(base64.b64decode(out["values"]["certificate"]))
    assert smki.eui_of(issued) == ESME and smki.usage_of(issued) is Usage.DS
    assert issued.issuer == ca.subject
    # the ESME now signs with the new key: 6.24.2 (CS02e, signed) returns the new certificate
    out = cli("supplier", "send", "6.24.2", "--target", "esme")
    assert out["response_code"] == "I0", out
    own = certificate_of(base64.b64decode(out["values"]["certificate"]))
    assert own == issued.public_bytes(serialization.Encoding.DER)
