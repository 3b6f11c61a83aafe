"""The join service (8.7.1/8.7.2), unjoin (8.8.1/8.8.2) and CS07 read device join details
(8.9) against RTDS 4.5.0: the commands rebuilt from DCC's DUIS templates (a critical one as
RTDS's pre-command, byte for byte; a non-critical one with the ACB's MAC, byte for byte; the
ACB-originated CS03A2 but for the ACB's signature, which the rig's ACB does not add); the
devices' answers to RTDS's commands equal to RTDS's answers but for the signature or MAC (the
devices' keys are not public: the PPMID's stand in, and sign the PPMID's own answers); the
join log kept across a restart; the result codes; and, on the running rig, 8.7.1 then CS07."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization

from gateway.transform import TransformInput, served, transform_for
from gateway.transform.registry import Peer, TransformRefused
from nodes.config import TrustedCert
from nodes.gbcs.handlers import Context, handler_for
from nodes.roles.join_log import CAPACITY, JoinEntry, JoinLog, seed_of
from rig.dccuser.readers import read
from rig.pki.keystores import load
from rig.protocol.duis.message import Request, parse_document
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import asn1, security
from rig.protocol.gbcs import catalogue as cat
from rig.protocol.gbcs.catalogue_join import (
    CS03A1,
    CS03A2,
    CS03B,
    CS03C,
    CS04AC,
    CS04B,
    CS07,
    READ_JOIN_DETAILS,
    JoinDeviceType,
    Method,
    join_payload,
    unjoin_payload,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import check_command, command, for_unknown_remote_party
from rig.protocol.smki import Usage
from tests.conftest import rig_cli, vectors
from tests.test_usecases import ACB, ESME, GSME, JAN_2015, PPMID, SUPPLIER, _rtds

T = JoinDeviceType
EUI = Eui64.parse
# what RTDS's DCC holds of the other devices its templates name (its inventory's types)
INVENTORY = {
    "00-DB-12-34-56-78-90-9A": "HCALCS",  # CS03A1's (its error: the same EUI as a PPMID)
    "00-DB-12-34-56-78-90-98": "PPMID",  # CS03C's
    "00-DB-12-34-56-78-90-9C": "GPF",  # CS03B's
    "00-DB-12-34-56-78-90-93": "ESME",  # CS03A2's
}


@pytest.fixture(scope="module")
def store():
    return load([vectors("gbcs", "rtds-keystore"), vectors("gbcs", "device-keys")])


def _der(store, eui: Eui64) -> bytes:
    return store.get(eui, Usage.KA).certificate.public_bytes(serialization.Encoding.DER)


def _rtds_smki_certificate() -> bytes:
    """The KA certificate of 00-DB-12-34-56-78-90-98 that DCC's SMKI held when RTDS's
    CS03CCritical was made: not in RTDS's key store (whose is another issue of it), so read
    from RTDS's own command, its fourth field."""
    payload = _msg("8.7.1_CS03CCritical/CS03CCritical_8.7.1_SUCCESS_PRECOMMAND").payload
    return asn1.decode(payload).elements[0].children[3].encode()


def _peers(store, certificates: dict[str, bytes] | None = None):
    def peer(eui: Eui64) -> Peer:
        if eui.duis in (certificates or {}):
            return Peer(INVENTORY.get(eui.duis), (certificates or {})[eui.duis])
        ka = store.find(eui, Usage.KA)
        der = None if ka is None else ka.certificate.public_bytes(serialization.Encoding.DER)
        return Peer(INVENTORY.get(eui.duis), der)

    return peer


def _template(name: str) -> Request:
    request = parse_document(vectors("duis", "templates", f"{name}_REQUEST_DUIS.XML").read_bytes())
    assert isinstance(request, Request)
    return request


def _transform(uc, template: str, store, counter: int | None = None) -> GbcsMessage:
    request = _template(template)
    rid = request.request_id
    fn = transform_for(uc)
    assert fn is not None
    smki = {"00-DB-12-34-56-78-90-98": _rtds_smki_certificate()}
    given = TransformInput(
        request, counter or rid.counter, rid.originator, rid.target, _peers(store, smki)
    )
    return fn(uc, given)


def _msg(name: str) -> GbcsMessage:
    return GbcsMessage.decode(_rtds(name))


# --- the DCC's transform: RTDS's commands from DCC's templates ---------------------------------
@pytest.mark.parametrize(
    ("uc", "name", "device_type"),
    [
        (CS03A1, "8.7.1_CS03A1/CS03A1_8.7.1_SUCCESS", "ESME"),
        (CS03C, "8.7.1_CS03CCritical/CS03CCritical_8.7.1_SUCCESS", "GSME"),
        (CS04AC, "8.8.1_CS04ACCritical/CS04ACCritical_8.8.1_SUCCESS", "ESME"),
    ],
)
def test_critical_joins_are_rtds_pre_commands_from_dccs_templates(
    store, uc, name, device_type
) -> None:
    # excluded: nothing (a pre-command has no signature or MAC yet); CS03C's certificate is
    # the one DCC's SMKI held for RTDS (see _rtds_smki_certificate)
    ours = _transform(uc, name.split("/")[1], store)
    assert ours.is_pre_command and ours.encode() == _rtds(f"{name}_PRECOMMAND")
    assert check_command(_msg(f"{name}_COMMAND"), cat.CATALOGUE) is uc
    assert served(cat.CATALOGUE, uc.srvs[0], device_type) is uc


@pytest.mark.parametrize(
    ("uc", "name", "device"),
    [
        (CS03B, "8.7.2_CS03B/CS03B_8.7.2_SUCCESS", GSME),
        (CS04B, "8.8.2_CS04B/CS04B_8.8.2_SUCCESS", GSME),
        (CS07, "8.9_CS07/CS07_8.9_SUCCESS", GSME),
    ],
)
def test_non_critical_joins_are_rtds_commands_with_the_acb_mac(store, uc, name, device) -> None:
    # excluded: nothing (the ACB's KA key is RTDS's, so the MAC is RTDS's too)
    ours = _transform(uc, name.split("/")[1], store)
    maced = security.apply_mac(
        ours, store.private(ACB, Usage.KA).private_key, store.get(device, Usage.KA).public_key
    )
    assert maced.encode() == _rtds(f"{name}_COMMAND")
    assert check_command(_msg(f"{name}_COMMAND"), cat.CATALOGUE) is uc


def test_cs03a2_to_the_ppmid_is_the_acbs_rtds_command_but_its_signature(store) -> None:
    rtds = _msg("8.7.2_CS03A2NonCritical/CS03A2NonCritical_8.7.2_SUCCESS_COMMAND")
    built = _transform(CS03A2, "CS03A2NonCritical_8.7.2_SUCCESS", store, rtds.header.counter)
    ours = for_unknown_remote_party(built, ACB.raw, rtds.header.counter, 1000, None)
    # excluded: the ACB's signature (RTDS's ACB signs it; the rig's does not) and the MAC
    assert ours.signed_part() == rtds.signed_part() and rtds.signature is not None
    assert check_command(rtds, cat.CATALOGUE) is CS03A2
    assert served(cat.CATALOGUE, "8.7.2", "PPMID") is CS03A2


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("8.7.1_CS03A1/CS03A1_8.7.1_ERROR", (Method.A_INITIATOR, "9A", T.PPMID, None)),
        ("8.7.1_CS03A2Critical/CS03A2Critical_8.7.1_SUCCESS", (1, "93", T.ESME, None)),
        ("8.7.2_CS03B/CS03B_8.7.2_ERROR", (Method.B, bytes(range(1, 9)), T.PPMID, None)),
        ("8.7.2_CS03CNonCritical/CS03CNonCritical_8.7.2_ERROR", (Method.C, "93", T.GSME, None)),
        # RTDS's own quirk: the certificate is the GSME's (A1), the entity 94
        ("8.7.2_CS03CNonCritical/CS03CNonCritical_8.7.2_SUCCESS", (Method.C, "94", T.GSME, "A1")),
        ("8.8.1_CS04ACCritical/CS04ACCritical_8.8.1_ERROR", bytes([3] * 8)),
        ("8.8.2_CS04ACNonCritical/CS04ACNonCritical_8.8.2_SUCCESS", bytes(range(1, 9))),
        ("8.8.2_CS04B/CS04B_8.8.2_ERROR", bytes([3] * 8)),
        ("8.9_CS07/CS07_8.9_ERROR", None),
    ],
)
def test_every_other_rtds_command_carries_our_payload(store, name, payload) -> None:
    """The variants the DCC's templates do not give (errors), or the DCC does not serve
    (CS03A2 to an HCALCS, CS03C and CS04AC to a PPMID): their payloads, as the codecs build
    them (a certificate from RTDS's SMKI key store)."""

    def eui(tail: str | bytes) -> bytes:
        return tail if isinstance(tail, bytes) else EUI(f"00-DB-12-34-56-78-90-{tail}").raw

    if payload is None:
        ours = READ_JOIN_DETAILS
    elif isinstance(payload, bytes):
        ours = unjoin_payload(payload)
    else:
        method, other, kind, cert = payload
        certificate = None if cert is None else _der(store, Eui64(eui(cert)))
        ours = join_payload(method, eui(other), kind, certificate)
    assert ours == _msg(f"{name}_COMMAND").payload


def test_the_dcc_refuses_a_join_it_cannot_build(store) -> None:
    request = _template("CS03CCritical_8.7.1_SUCCESS")
    rid = request.request_id
    fn = transform_for(CS03C)
    assert fn is not None
    cases = [
        (Peer(None), "E19", "not in the inventory"),
        (Peer("CAD"), "E11", "not joined"),
        (Peer("PPMID"), "E5", "KA certificate"),
    ]
    for peer, code, reason in cases:
        given = TransformInput(request, 1, rid.originator, rid.target, lambda _e, p=peer: p)
        with pytest.raises(TransformRefused, match=reason) as refused:
            fn(CS03C, given)
        assert refused.value.code == code


# --- the devices answer ---------------------------------------------------------------------------
class Device:
    """A device as the join handlers see one: its type and its join log."""

    cosem = None
    zcl = None

    def __init__(self, device_type: str, join_log: JoinLog | None) -> None:
        self.device_type = device_type
        self.join_log = join_log


def _context(
    store, device: Device, keys: Eui64 = PPMID, alerts: list[int] | None = None
) -> Context:
    # the ESME's and the GSME's keys are not public: the PPMID's stand in
    return Context(
        device,
        store.private(keys, Usage.DS).private_key,
        store.private(keys, Usage.KA).private_key,
        lambda eui: store.get(eui, Usage.KA).public_key,
        lambda: JAN_2015,
        raise_alert=None if alerts is None else alerts.append,
    )


async def test_joins_and_unjoins_raise_their_alerts(store, tmp_path) -> None:
    """8F49 joining succeeded, 8F48 failed; 8F4B unjoining succeeded, 8F4A failed."""
    esme = Device("ESME", _log(tmp_path))
    raised: list[int] = []

    async def run(uc, name: str) -> None:
        await handler_for(uc)(uc, _msg(f"{name}_COMMAND"), _context(store, esme, alerts=raised))

    await run(CS03A1, "8.7.1_CS03A1/CS03A1_8.7.1_SUCCESS")
    await run(CS03A1, "8.7.1_CS03A1/CS03A1_8.7.1_ERROR")  # the same entity as a PPMID
    folder = "8.8.1_CS04ACCritical/CS04ACCritical_8.8.1"
    await run(CS04AC, f"{folder}_ERROR")  # not in the log
    assert raised == [0x8F49, 0x8F48, 0x8F4A]


async def _answer(store, uc, device: Device, name: str) -> tuple[GbcsMessage, dict]:
    """The device's answer to RTDS's command ``name``, equal to RTDS's answer but for its
    signature (or MAC), and what the DCC User reads of it."""
    cmd = _msg(f"{name}_COMMAND")
    answer = await handler_for(uc)(uc, cmd, _context(store, device))
    rtds = _msg(f"{name}_RESPONSE")
    if rtds.mac is not None and rtds.signature is None:  # MAC'd: all but the MAC
        assert answer.without_mac().encode() == rtds.without_mac().encode()
        out = read(
            answer,
            user_ka=store.private(SUPPLIER, Usage.KA).private_key,
            device_ka=store.get(PPMID, Usage.KA).public_key,
        )
        # RTDS's errors of CS03B and CS07 are the ACB's commands for the supplier: answered
        # to the ACB, MAC'd for it
        acb = rtds.header.other.remote_party_id is not None
        assert out["authenticated_by"] == ("acb" if acb else "mac")
    else:  # signed: all but the signature
        assert answer.signed_part() == rtds.signed_part()
        out = read(answer, device_ds=store.get(PPMID, Usage.DS).public_key)
        assert out["authenticated_by"] == "signature"
    return answer, out


def _log(tmp_path, *entries: JoinEntry) -> JoinLog:
    return JoinLog(tmp_path / "join-log.json", entries)


async def test_the_esme_joins_as_rtds_answers_and_refuses_another_type(store, tmp_path) -> None:
    joins = _log(tmp_path)
    esme = Device("ESME", joins)
    _, ok = await _answer(store, CS03A1, esme, "8.7.1_CS03A1/CS03A1_8.7.1_SUCCESS")
    assert ok["result"] == 0
    hcalcs = EUI("00-DB-12-34-56-78-90-9A")
    assert joins.get(hcalcs) == JoinEntry(hcalcs, T.HCALCS, Method.A_INITIATOR)
    # RTDS's error: the same entity again, as a PPMID: incompatible with the entry (3)
    _, refused = await _answer(store, CS03A1, esme, "8.7.1_CS03A1/CS03A1_8.7.1_ERROR")
    assert refused["result"] == 3
    assert [e.device_type for e in joins.entries()] == [T.HCALCS]


async def test_the_ppmid_answers_the_acbs_cs03a2_with_its_own_signature(store, tmp_path) -> None:
    joins = _log(tmp_path)
    ppmid = Device("PPMID", joins)
    answer, out = await _answer(
        store, CS03A2, ppmid, "8.7.2_CS03A2NonCritical/CS03A2NonCritical_8.7.2_SUCCESS"
    )
    assert out["result"] == 0 and answer.header.recipient == ACB.raw
    assert answer.header.other.remote_party_id == SUPPLIER.raw  # it names the supplier
    esme = EUI("00-DB-12-34-56-78-90-93")
    assert joins.entries() == [JoinEntry(esme, T.ESME, Method.A_RESPONDER)]


async def test_method_c_joins_carry_a_ka_certificate(store, tmp_path) -> None:
    gsme_log = _log(tmp_path / "gsme")
    gsme = Device("GSME", gsme_log)
    name = "8.7.1_CS03CCritical/CS03CCritical_8.7.1_SUCCESS"
    _, out = await _answer(store, CS03C, gsme, name)
    assert out["result"] == 0
    [entry] = gsme_log.entries()
    assert (entry.device_type, entry.method) == (T.PPMID, Method.C)
    assert entry.certificate == _rtds_smki_certificate()
    # the PPMID's side (8.7.2, which the rig's DCC does not send): joined, or (RTDS's
    # error, no certificate) refused with 11
    ppmid_log = _log(tmp_path / "ppmid")
    ppmid = Device("PPMID", ppmid_log)
    folder = "8.7.2_CS03CNonCritical/CS03CNonCritical_8.7.2"
    assert (await _answer(store, CS03C, ppmid, f"{folder}_SUCCESS"))[1]["result"] == 0
    assert (await _answer(store, CS03C, ppmid, f"{folder}_ERROR"))[1]["result"] == 11
    assert [e.eui.duis for e in ppmid_log.entries()] == ["00-DB-12-34-56-78-90-94"]


async def test_the_gsme_joins_its_gpf_by_method_b_and_no_ppmid(store, tmp_path) -> None:
    joins = _log(tmp_path)
    gsme = Device("GSME", joins)
    for _ in range(2):  # joined, then joined again: the same entry, renewed
        _, out = await _answer(store, CS03B, gsme, "8.7.2_CS03B/CS03B_8.7.2_SUCCESS")
        assert out["result"] == 0
    # RTDS's error: a PPMID by Method B (invalid method and role, 2)
    _, out = await _answer(store, CS03B, gsme, "8.7.2_CS03B/CS03B_8.7.2_ERROR")
    assert out["result"] == 2
    assert [(e.eui.duis, e.device_type) for e in joins.entries()] == [
        ("00-DB-12-34-56-78-90-9C", T.GPF)
    ]


async def test_unjoins_answer_as_rtds_does(store, tmp_path) -> None:
    other = EUI("00-DB-12-34-56-78-90-99")
    esme_log = _log(tmp_path / "esme", JoinEntry(other, T.PPMID, Method.A_INITIATOR))
    esme = Device("ESME", esme_log)
    folder = "8.8.1_CS04ACCritical/CS04ACCritical_8.8.1"
    assert (await _answer(store, CS04AC, esme, f"{folder}_SUCCESS"))[1]["result"] == 0
    assert esme_log.entries() == []
    assert (await _answer(store, CS04AC, esme, f"{folder}_ERROR"))[1]["result"] == 1
    # the PPMID's (8.8.2, which the rig's DCC does not send) and the GSME's
    eight = EUI("01-02-03-04-05-06-07-08")
    ppmid = Device("PPMID", _log(tmp_path / "ppmid", JoinEntry(eight, T.ESME, Method.A_RESPONDER)))
    name = "8.8.2_CS04ACNonCritical/CS04ACNonCritical_8.8.2_SUCCESS"
    assert (await _answer(store, CS04AC, ppmid, name))[1]["result"] == 0
    gsme_log = _log(tmp_path / "gsme", JoinEntry(eight, T.GPF, Method.B))
    gsme = Device("GSME", gsme_log)
    assert (await _answer(store, CS04B, gsme, "8.8.2_CS04B/CS04B_8.8.2_SUCCESS"))[1]["result"] == 0
    # RTDS's error is a CS04AC to the GSME, for an entity it does not hold
    assert (await _answer(store, CS04AC, gsme, "8.8.2_CS04B/CS04B_8.8.2_ERROR"))[1]["result"] == 1
    assert gsme_log.entries() == []


async def _send(store, uc, device: Device, payload: bytes, counter: int = 5) -> dict:
    cmd = command(uc, counter, SUPPLIER.raw, GSME.raw, payload)
    answer = await handler_for(uc)(uc, cmd, _context(store, device))
    return read(
        answer,
        user_ka=store.private(SUPPLIER, Usage.KA).private_key,
        device_ka=store.get(PPMID, Usage.KA).public_key,
        device_ds=store.get(PPMID, Usage.DS).public_key,
    )


async def test_cs07_lists_the_joins_as_rtds_does_and_survives_a_restart(store, tmp_path) -> None:
    path = tmp_path / "join-log.json"
    gsme = Device("GSME", JoinLog(path))
    ppmid = EUI("00-DB-12-34-56-78-90-97")
    joins = [
        (CS03B, join_payload(Method.B, bytes(range(1, 9)), T.GPF)),
        (CS03B, join_payload(Method.B, EUI("00-DB-12-34-56-78-90-99").raw, T.GPF)),
        (CS03C, join_payload(Method.C, ppmid.raw, T.PPMID, _der(store, ppmid))),
    ]
    for uc, payload in joins:
        assert (await _send(store, uc, gsme, payload))["result"] == 0
    # a restart: the GSME's log is read back from its state folder
    gsme = Device("GSME", JoinLog(path))
    _, out = await _answer(store, CS07, gsme, "8.9_CS07/CS07_8.9_SUCCESS")
    assert out["result"] == 0
    assert out["devices"] == [
        {"eui": "01-02-03-04-05-06-07-08", "device_type": "GPF"},
        {"eui": "00-DB-12-34-56-78-90-99", "device_type": "GPF"},
        {"eui": "00-DB-12-34-56-78-90-97", "device_type": "PPMID"},
    ]
    # unjoined, and still unjoined after another restart; unjoined twice: not in the log (1)
    assert (await _send(store, CS04AC, gsme, unjoin_payload(ppmid.raw)))["result"] == 0
    gsme = Device("GSME", JoinLog(path))
    assert (await _send(store, CS04AC, gsme, unjoin_payload(ppmid.raw)))["result"] == 1
    listed = await _send(store, CS07, gsme, READ_JOIN_DETAILS)
    assert [d["eui"] for d in listed["devices"]] == [
        "01-02-03-04-05-06-07-08",
        "00-DB-12-34-56-78-90-99",
    ]
    # a Method B entry is not unjoined by CS04AC (2), but by CS04B
    eight = unjoin_payload(bytes(range(1, 9)))
    assert (await _send(store, CS04AC, gsme, eight))["result"] == 2
    assert (await _send(store, CS04B, gsme, eight))["result"] == 0


async def test_a_log_that_cannot_be_read_is_a_read_failure_as_rtds_answers(store, tmp_path) -> None:
    path = tmp_path / "join-log.json"
    path.write_text("not a join log")
    gsme = Device("GSME", JoinLog(path))
    _, out = await _answer(store, CS07, gsme, "8.9_CS07/CS07_8.9_ERROR")
    assert out == {**out, "result": 1, "devices": []}
    assert (await _send(store, CS03B, gsme, join_payload(Method.B, ESME.raw, T.GPF)))["result"] == 5


async def test_a_join_by_another_method_or_past_a_full_log_is_refused(store, tmp_path) -> None:
    gsme = Device("GSME", _log(tmp_path))
    # Method C's joinMethodAndRole under CS03B's message code: 1
    wrong = join_payload(Method.C, ESME.raw, T.PPMID)
    assert (await _send(store, CS03B, gsme, wrong))["result"] == 1
    # Method C with a certificate that is not a KA one: 11
    ds = store.get(PPMID, Usage.DS).certificate.public_bytes(serialization.Encoding.DER)
    bad = join_payload(Method.C, PPMID.raw, T.PPMID, ds)
    assert (await _send(store, CS03C, gsme, bad))["result"] == 11
    for n in range(CAPACITY):
        other = bytes([0xAA, 0, 0, 0, 0, 0, 0, n])
        assert (await _send(store, CS03B, gsme, join_payload(Method.B, other, T.TYPE_2)))[
            "result"
        ] == 0
    full = join_payload(Method.B, bytes([0xAB] * 8), T.TYPE_2)
    assert (await _send(store, CS03B, gsme, full))["result"] == 4
    assert gsme.join_log is not None and len(gsme.join_log.entries()) == CAPACITY


def test_a_commissioned_device_starts_joined_with_its_neighbours(tmp_path) -> None:
    from types import SimpleNamespace

    keys = vectors("gbcs", "rtds-keystore")

    def trusted(eui: Eui64, usage: Usage) -> TrustedCert:
        return TrustedCert(eui, usage, keys / f"{eui.hex.lower()}-{usage.value}.pem")

    ppmid = SimpleNamespace(
        role="ppmid",
        han=SimpleNamespace(esme=ESME, gsme=GSME),
        gbcs=SimpleNamespace(acb=ACB, trusted=(trusted(GSME, Usage.KA),)),
    )
    seeded = seed_of(ppmid)  # type: ignore[arg-type]
    assert [(e.eui, e.device_type, e.method) for e in seeded] == [
        (ESME, T.ESME, Method.A_RESPONDER),
        (GSME, T.GSME, Method.C),
    ]
    assert seeded[1].certificate is not None
    # a GSME: the PPMIDs whose KA certificates it trusts, not the DCC Users'
    gsme = SimpleNamespace(
        role="gsme",
        han=SimpleNamespace(esme=None, gsme=None),
        gbcs=SimpleNamespace(
            acb=ACB,
            trusted=(
                trusted(ACB, Usage.KA),
                trusted(SUPPLIER, Usage.KA),
                trusted(SUPPLIER, Usage.DS),
                trusted(PPMID, Usage.KA),
            ),
        ),
    )
    assert [(e.eui, e.method) for e in seed_of(gsme)] == [(PPMID, Method.C)]  # type: ignore[arg-type]
    # seeded once: what the device did since is kept over the seed
    path = tmp_path / "join-log.json"
    JoinLog(path, seeded).unjoin(ESME.raw, "CS04AC")
    assert [e.eui for e in JoinLog(path, seeded).entries()] == [GSME]


# --- on the running rig -----------------------------------------------------------------------
def test_the_esme_joins_the_ppmid_and_cs07_shows_it(dcc_rig) -> None:
    env = dcc_rig
    ppmid = next(n for n in env["rig"].nodes if n.name == "ppmid").eui

    def send(*args: str) -> dict:
        proc = rig_cli(
            "supplier", "send", *args, "--target", "esme", "--json",
            "--rig", str(env["file"]), state=env["dir"],
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return json.loads(proc.stdout)

    joined = send("8.7.1", "--param", f"OtherDeviceID={ppmid.duis}")
    assert joined["response_code"] == "I0", joined
    assert joined["values"]["use_case"] == "CS03A1" and joined["values"]["result"] == 0
    listed = send("8.9")
    assert listed["values"]["use_case"] == "CS07" and listed["values"]["result"] == 0
    assert {"eui": ppmid.duis, "device_type": "PPMID"} in listed["values"]["devices"]
