"""The change of supplier at the GBCS layer (6.23, CS02b SupplierByTransCoS), against RTDS
4.5.0: the DCC's transform of DCC's 6.23 templates (immediate, future-dated, cancelling) is
RTDS's command; the ESME answers RTDS's commands (TransCoS's signature, the ACB's MAC) as
RTDS's ESME does, moving its supplier cells to the gaining supplier, at once or, held across
a power cut, at its time with RTDS's 8F66 alert to TransCoS, which the DCC passes to the
gaining supplier as it records the change; from then on the ESME refuses the losing supplier
at its own layer and raises 8F3D (a signed command) or 8F53 (a MAC'd one), and takes the
gaining supplier's.

The certificates: DCC's template carries re-issued supplier 2 certificates (2025-2035)
where RTDS's command has the 2015 ones, and its RequestID names supplier 1 although the
certificates are supplier 2's; the test puts RTDS's certificates and supplier 2 (the gaining
supplier, who sends its own) into the template. Excluded from the byte comparison: nothing
but the signature and the MAC (the counter is TransCoS's, given as RTDS's 6001)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gateway import cos
from gateway.config import DeviceConfig
from gateway.inventory import CANCEL, HELD, Effect, Inventory, effect_of
from gateway.store import Pending, Store
from gateway.transform import TransformInput, served, transform_for
from gateway.transform.registry import TransformRefused
from gateway.uplink import Uplink
from nodes.config import GbcsConfig, KeyPair, TrustedCert
from nodes.gbcs.activation import AlertSigner
from nodes.gbcs.credentials import execute_if_due
from nodes.gbcs.endpoint import (
    AUTHENTICATION_FAILURE,
    TRUSTED_SOURCE_AUTHENTICATION_FAILURE,
    GbcsEndpoint,
)
from rig.pki.keystores import load
from rig.protocol.duis import codes
from rig.protocol.duis.message import Request, RequestId, Response, parse_document
from rig.protocol.duis.xml import NS
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import catalogue as cat
from rig.protocol.gbcs import security
from rig.protocol.gbcs.catalogue import ECS43
from rig.protocol.gbcs.catalogue_credentials import (
    CS02B_SUPPLIER_BY_TRANSCOS,
    RemotePartyRole,
    StatusCode,
    UpdateSecurityCredentials,
    outcome_of,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import check_command, command
from rig.protocol.smki import Usage
from tests.conftest import vectors
from tests.test_usecases import ACB, ESME, JAN_2015, _rtds

FOLDER = "6.23_CS02bSupplierByTransCoS/CS02bSupplierByTransCoS_6.23"
TEMPLATE = "CS02bSupplierByTransCoS_6.23_IMMEDIATE_SUCCESS_REQUEST_DUIS.XML"
TRANSCOS = Eui64.parse("90-B3-D5-1F-30-00-00-04")
LOSING = Eui64.parse("90-B3-D5-1F-30-01-00-00")  # RTDS's supplier 1
GAINING = Eui64.parse("90-B3-D5-1F-30-03-00-00")  # RTDS's supplier 2
CHF = Eui64.parse("00-DB-12-34-56-78-90-A2")  # RTDS's hub


@pytest.fixture(scope="module")
def store():
    return load([vectors("gbcs", "rtds-keystore"), vectors("gbcs", "device-keys")])


def _rtds_command() -> GbcsMessage:
    return GbcsMessage.decode(_rtds(f"{FOLDER}_IMMEDIATE_SUCCESS_COMMAND"))


def _rtds_response() -> GbcsMessage:
    return GbcsMessage.decode(_rtds(f"{FOLDER}_IMMEDIATE_SUCCESS_RESPONSE"))


def _gaining_request(certs: dict[str, bytes] | None = None, template: str = "IMMEDIATE") -> Request:
    """DCC's 6.23 template (immediate, future-dated or cancelling) from the gaining
    supplier, with RTDS's certificates."""
    name = TEMPLATE.replace("IMMEDIATE", template)
    request = parse_document(vectors("duis", "templates", name).read_bytes())
    assert isinstance(request, Request)
    rtds = UpdateSecurityCredentials.decode(_rtds_command().payload)
    names = ("DigitalSigningCertificate", "KeyAgreementCertificate", "KeyAgreementTopUpCertificate")
    given = certs or {n: r.certificate for n, r in zip(names, rtds.replacements, strict=True)}
    for name, der in given.items():
        element = request.body.find(f"sr:SupplierReplacementCertificates/sr:{name}", NS)
        assert element is not None
        element.text = base64.b64encode(der).decode()
    path = request.body.find("sr:CertificationPathCertificates/sr:Certificate", NS)
    assert path is not None
    path.text = base64.b64encode(rtds.path[0]).decode()
    rid = request.request_id
    return dataclasses.replace(request, request_id=RequestId(GAINING, rid.target, rid.counter))


def _transform(request: Request, counter: int = 6001) -> GbcsMessage:
    fn = transform_for(CS02B_SUPPLIER_BY_TRANSCOS)
    assert fn is not None
    return fn(CS02B_SUPPLIER_BY_TRANSCOS, TransformInput(request, counter, TRANSCOS, ESME))


# --- the DCC's transform --------------------------------------------------------------------------
def test_the_cos_request_is_rtds_cs02b_from_dccs_template(store) -> None:
    rtds = _rtds_command()
    ours = _transform(_gaining_request())
    assert ours.payload == rtds.payload
    assert ours.header == rtds.header
    assert check_command(rtds, cat.CATALOGUE) is CS02B_SUPPLIER_BY_TRANSCOS
    assert served(cat.CATALOGUE, "6.23", "ESME") is CS02B_SUPPLIER_BY_TRANSCOS
    assert served(cat.CATALOGUE, "6.23", "GSME") is CS02B_SUPPLIER_BY_TRANSCOS
    assert served(cat.CATALOGUE, "6.23", "CHF") is None
    # RTDS's command: signed by TransCoS, MAC'd by the ACB for the ESME
    security.verify_signature(rtds, store.get(TRANSCOS, Usage.DS).public_key)
    security.verify_mac(
        rtds, store.private(ESME, Usage.KA).private_key, store.get(ACB, Usage.KA).public_key
    )
    # the whole command, once TransCoS signs what the transform built
    signed = security.sign_message(ours, store.private(TRANSCOS, Usage.DS).private_key)
    security.verify_signature(signed, store.get(TRANSCOS, Usage.DS).public_key)


def test_the_dcc_refuses_certificates_that_are_not_the_senders(store) -> None:
    losing_ds = store.get(LOSING, Usage.DS).certificate.public_bytes(serialization.Encoding.DER)
    with pytest.raises(TransformRefused) as refused:
        _transform(_gaining_request({"DigitalSigningCertificate": losing_ds}))
    assert refused.value.code == codes.INVALID_USER
    assert "90-B3-D5-1F-30-01-00-00's DS certificate" in str(refused.value)
    ka = store.get(GAINING, Usage.KA).certificate.public_bytes(serialization.Encoding.DER)
    with pytest.raises(TransformRefused, match="not 90-B3-D5-1F-30-03-00-00's supplier DS"):
        _transform(_gaining_request({"DigitalSigningCertificate": ka}))


def test_a_change_moves_the_inventorys_supplier_once_carried_out() -> None:
    request = _gaining_request()
    effect = effect_of("6.23", request.body, ESME, GAINING)
    assert effect == Effect(ESME, None, (), supplier=GAINING)  # on the answer's success
    assert Effect.from_json(effect.to_json()) == effect
    for template, timing in (("FUTURE_DATED", HELD), ("CANCELLATION", CANCEL)):
        dated = _gaining_request(template=template)
        effect = effect_of("6.23", dated.body, ESME, GAINING)
        assert effect == Effect(ESME, None, (), supplier=GAINING, timing=timing)
        assert Effect.from_json(effect.to_json()) == effect


@pytest.mark.parametrize("template", ["FUTURE_DATED", "CANCELLATION"])
def test_a_future_dated_or_cancelling_cos_request_is_rtds_cs02b(store, template: str) -> None:
    rtds = GbcsMessage.decode(_rtds(f"{FOLDER}_{template}_SUCCESS_COMMAND"))
    ours = _transform(_gaining_request(template=template), rtds.header.counter)
    assert ours.payload == rtds.payload
    assert ours.header == rtds.header


def _dcc_uplink(path: Path) -> tuple[Uplink, Store, Inventory, list[tuple[Eui64, Response]]]:
    """The gateway's uplink over a real store and inventory (the ESME, supplier 1's), with
    the gaining supplier a DCC User whose queued alerts the list collects."""
    kept = Store(path)
    inventory = Inventory(kept.db, (DeviceConfig(ESME, "ESME", CHF, supplier=LOSING),))
    queued: list[tuple[Eui64, Response]] = []

    class _Outbox:
        def queue(self, user: Eui64, _rid: str | None, _kind: str, response: Response) -> None:
            queued.append((user, response))

    users = {GAINING: None}
    uplink = Uplink(kept, users, None, _Outbox(), inventory)  # type: ignore[arg-type]
    return uplink, kept, inventory, queued


def test_the_dcc_moves_the_supplier_when_the_meter_alerts_it_carried_out_a_held_change(
    tmp_path: Path,
) -> None:
    uplink, kept, inventory, queued = _dcc_uplink(tmp_path / "g.sqlite")
    command = GbcsMessage.decode(_rtds(f"{FOLDER}_FUTURE_DATED_SUCCESS_COMMAND"))
    counter, rid = command.header.counter, f"{GAINING.duis}:{ESME.duis}:1007"
    pending = Pending(ESME.hex, counter, TRANSCOS.hex, rid, "6.23", "6.23", CHF.hex, 0.0,
                      Effect(ESME, None, (), supplier=GAINING, timing=HELD).to_json())  # fmt: skip
    accepted = GbcsMessage.decode(_rtds(f"{FOLDER}_FUTURE_DATED_SUCCESS_RESPONSE"))
    assert cos.accepted(accepted) and not cos.accepted(_rtds_response())
    with kept.transaction():
        cos.on_accepted(kept, Effect.from_json(pending.effect or ""), pending)
    assert inventory.get(ESME).supplier == LOSING  # held: nothing changes yet

    raw = _rtds(f"{FOLDER}_8F66_FUTURE_DATED_SUCCESS_ALERT")
    assert Eui64(GbcsMessage.decode(raw).header.recipient) == TRANSCOS
    asyncio.run(uplink.on_uplink(CHF, raw))
    assert inventory.get(ESME).supplier == GAINING
    ((user, response),) = queued
    assert user == GAINING and response.alert_code == "8F66"
    assert response.kind == "DeviceAlertMessage" and response.gbcs_payload == raw
    asyncio.run(uplink.on_uplink(CHF, raw))  # again: carried out once
    assert len(queued) == 1

    # a cancellation the meter accepted: it holds nothing, the DCC forgets it
    with kept.transaction():
        cos.on_accepted(kept, Effect.from_json(pending.effect or ""), pending)
        cos.on_accepted(kept, Effect(ESME, None, (), GAINING, timing=CANCEL), pending)
    assert kept.take_held_change(ESME.hex, counter) is None
    kept.close()


async def test_the_esme_holds_a_future_dated_cos_and_alerts_transcos_at_its_time(
    store, tmp_path
) -> None:
    state = tmp_path / "state"
    esme = _esme(tmp_path, state)
    before = dict(esme.trust.cells)
    answer = await _answer(esme, _rtds(f"{FOLDER}_FUTURE_DATED_SUCCESS_COMMAND"))
    assert answer is not None
    assert (
        answer.payload
        == GbcsMessage.decode(_rtds(f"{FOLDER}_FUTURE_DATED_SUCCESS_RESPONSE")).payload
    )
    assert esme.trust.held is not None and esme.supplier == LOSING
    for task in asyncio.all_tasks() - {asyncio.current_task()}:  # the node's own timer
        task.cancel()

    again = _esme(tmp_path, state)  # a power cut: still held, cells unchanged
    assert again.trust.held is not None and again.trust.cells == before
    signer = AlertSigner(ESME, again.ds, again.next_counter)
    command = GbcsMessage.decode(_rtds(f"{FOLDER}_FUTURE_DATED_SUCCESS_COMMAND"))
    held = UpdateSecurityCredentials.decode(command.payload)
    assert held.execute_at is not None
    assert execute_if_due(again.trust, signer, held.execute_at - dt.timedelta(seconds=1)) is None
    raw = execute_if_due(again.trust, signer, held.execute_at)
    assert raw is not None
    alert = GbcsMessage.decode(raw)
    assert (
        alert.payload
        == GbcsMessage.decode(_rtds(f"{FOLDER}_8F66_FUTURE_DATED_SUCCESS_ALERT")).payload
    )
    assert (alert.header.originator, alert.header.recipient) == (ESME.raw, TRANSCOS.raw)
    assert again.supplier == GAINING and again.trust.role_of(LOSING) is None


async def test_the_esme_drops_a_held_cos_when_it_is_cancelled(store, tmp_path) -> None:
    esme = _esme(tmp_path, tmp_path / "state")
    before = dict(esme.trust.cells)
    assert await _answer(esme, _rtds(f"{FOLDER}_FUTURE_DATED_SUCCESS_COMMAND"))
    answer = await _answer(esme, _rtds(f"{FOLDER}_CANCELLATION_SUCCESS_COMMAND"))
    assert answer is not None
    assert (
        answer.payload
        == GbcsMessage.decode(_rtds(f"{FOLDER}_CANCELLATION_SUCCESS_RESPONSE")).payload
    )
    for task in asyncio.all_tasks() - {asyncio.current_task()}:
        task.cancel()
    assert esme.trust.held is None and esme.trust.cells == before


# --- the ESME -------------------------------------------------------------------------------------
class _Device:
    cosem = None
    zcl = None


def _pem(tmp: Path, name: str, key: ec.EllipticCurvePrivateKey) -> Path:
    path = tmp / name
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _esme(tmp: Path, state: Path) -> GbcsEndpoint:
    """RTDS's ESME (its public KA key; a DS key of its own: RTDS's is not public), with
    supplier 1 in its supplier cells, the network operator, the ACB and TransCoS."""
    keystore = vectors("gbcs", "rtds-keystore")
    ka = vectors("gbcs", "device-keys", "00db1234567890a0-ka.key")
    ds = _pem(tmp, "esme-ds.key", ec.generate_private_key(ec.SECP256R1()))
    cells = [
        TrustedCert(LOSING, Usage.DS, keystore / "90b3d51f30010000-ds.pem", 2),
        TrustedCert(LOSING, Usage.KA, keystore / "90b3d51f30010000-ka.pem", 2),
        TrustedCert(LOSING, Usage.PP_KA, keystore / "90b3d51f30010000-pp-ka.pem", 2),
        TrustedCert(ACB, Usage.KA, keystore / "90b3d51f30000002-ka.pem", 4),
        TrustedCert(TRANSCOS, Usage.DS, keystore / "90b3d51f30000004-ds.pem", 5),
    ]
    config = GbcsConfig(
        KeyPair(keystore / "00db1234567890a0-ds.pem", ds),
        KeyPair(keystore / "00db1234567890a0-ka.pem", ka),
        ACB,
        tuple(cells),
    )
    return GbcsEndpoint(ESME, "ESME", config, state)


async def _answer(endpoint: GbcsEndpoint, raw: bytes) -> GbcsMessage | None:
    answer = await endpoint.handle(raw, _Device())
    return None if answer is None else GbcsMessage.decode(answer)


async def _accepted(endpoint: GbcsEndpoint, raw: bytes) -> bool:
    """Whether the meter's GBCS end let the command through (to a device model without
    a load switch here: what it does with it is another test's)."""
    before = endpoint.accepted
    await endpoint.handle(raw, _Device())
    return endpoint.accepted == before + 1


def _disable_supply(store, originator: Eui64, counter: int, signer: Eui64) -> bytes:
    """7.2 (ECS43, critical) from ``originator``, signed with ``signer``'s DS key and
    MAC'd with the ACB's key: what reaches the meter if it is forced past the DCC."""
    cmd = command(ECS43, counter, originator.raw, ESME.raw)
    signed = security.sign_message(cmd, store.private(signer, Usage.DS).private_key)
    return security.apply_mac(
        signed, store.private(ACB, Usage.KA).private_key, store.get(ESME, Usage.KA).public_key
    ).encode()


async def test_the_esme_answers_rtds_cs02b_as_rtds_and_trusts_the_gaining_supplier(
    store, tmp_path
) -> None:
    esme = _esme(tmp_path, tmp_path / "state")
    refused: list[int] = []
    esme.on_refused = refused.append
    assert esme.supplier == LOSING
    # the losing supplier's 7.2 is taken before the change
    assert await _accepted(esme, _disable_supply(store, LOSING, 0x100, LOSING))

    answer = await _answer(esme, _rtds_command().encode())
    assert answer is not None
    rtds = GbcsMessage.decode(_rtds(f"{FOLDER}_IMMEDIATE_SUCCESS_RESPONSE"))
    assert answer.payload == rtds.payload  # subjects and key ids, before and after
    assert (answer.header.originator, answer.header.recipient) == (ESME.raw, TRANSCOS.raw)
    assert (answer.header.counter, answer.message_code) == (6001, 0x0107)
    security.verify_signature(answer, esme.ds.public_key())
    outcome = outcome_of(answer.payload)
    assert outcome is not None and outcome.succeeded
    assert esme.supplier == GAINING
    assert esme.trust.find(GAINING, Usage.PP_KA) is not None
    assert esme.trust.role_of(LOSING) is None

    # a power cut: the cells are the meter's, not its configuration's
    again = _esme(tmp_path, tmp_path / "state")
    again.on_refused = refused.append
    assert again.supplier == GAINING and again.trust.role_of(LOSING) is None
    # the losing supplier, forced past the DCC: signed with its own key -> 8F3D
    assert not await _accepted(again, _disable_supply(store, LOSING, 0x200, LOSING))
    assert refused == [TRUSTED_SOURCE_AUTHENTICATION_FAILURE]
    # a non-critical command in its name, MAC'd by the ACB -> 8F53
    read = command(cat.ECS17B, 0x201, LOSING.raw, ESME.raw)
    maced = security.apply_mac(
        read, store.private(ACB, Usage.KA).private_key, store.get(ESME, Usage.KA).public_key
    )
    assert not await _accepted(again, maced.encode())
    assert refused[-1] == AUTHENTICATION_FAILURE
    # the gaining supplier's 7.2 is taken
    assert await _accepted(again, _disable_supply(store, GAINING, 0x300, GAINING))
    assert again.discarded == 2 and again.accepted == 1


async def test_the_esme_refuses_a_cs02b_not_from_transcos_and_bad_certificates(
    store, tmp_path
) -> None:
    esme = _esme(tmp_path, tmp_path / "state")
    refused: list[int] = []
    esme.on_refused = refused.append
    rtds = _rtds_command()
    # the same command signed by the supplier, not TransCoS
    as_supplier = dataclasses.replace(
        rtds, header=dataclasses.replace(rtds.header, originator=LOSING.raw), mac=None
    )
    signed = security.sign_message(as_supplier, store.private(LOSING, Usage.DS).private_key)
    maced = security.apply_mac(
        signed, store.private(ACB, Usage.KA).private_key, store.get(ESME, Usage.KA).public_key
    )
    assert await _answer(esme, maced.encode()) is None
    assert refused == [AUTHENTICATION_FAILURE] and esme.supplier == LOSING
    # TransCoS's, but a path that did not issue the certificates: BAD_CERTIFICATE each
    update = UpdateSecurityCredentials.decode(rtds.payload)
    other_ca = store.get(LOSING, Usage.DS).certificate.public_bytes(serialization.Encoding.DER)
    bad = dataclasses.replace(update, seq_number=6010, path=(other_ca,))
    cmd = command(CS02B_SUPPLIER_BY_TRANSCOS, 6010, TRANSCOS.raw, ESME.raw, bad.encode())
    cmd = security.sign_message(cmd, store.private(TRANSCOS, Usage.DS).private_key)
    cmd = security.apply_mac(
        cmd, store.private(ACB, Usage.KA).private_key, store.get(ESME, Usage.KA).public_key
    )
    answer = await _answer(esme, cmd.encode())
    assert answer is not None
    outcome = outcome_of(answer.payload)
    assert outcome is not None and not outcome.succeeded
    assert {o.status for o in outcome.outcomes} == {StatusCode.BAD_CERTIFICATE}
    assert esme.supplier == LOSING and esme.trust.holder(RemotePartyRole.SUPPLIER) == LOSING


def test_rtds_future_dated_and_cancelled_cs02b_decode(store) -> None:
    future = GbcsMessage.decode(_rtds(f"{FOLDER}_FUTURE_DATED_SUCCESS_COMMAND"))
    held = UpdateSecurityCredentials.decode(future.payload)
    assert held.execute_at == dt.datetime(2030, 1, 2, tzinfo=dt.UTC)
    assert held.encode() == future.payload
    assert (
        outcome_of(GbcsMessage.decode(_rtds(f"{FOLDER}_FUTURE_DATED_SUCCESS_RESPONSE")).payload)
        is None
    )
    assert held.execute_at > JAN_2015
