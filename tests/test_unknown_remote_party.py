"""4.14 from a supplier that is not the device's known remote party (the URP variant), as
RTDS 4.5.0 has it: the DCC checks the KAPublicSecurityCredentials the sender offers against
SMKI; the ACB originates the command with its own counter, carrying the sender, its
RequestID counter and that certificate as the supplementary remote party; the device
answers to the ACB (MAC'd for it), naming the party and adding its own originator counter,
with the log encrypted for the party's key: the KDF takes the device, the party and that
counter (RTDS's ECS21b URP response decrypts so, with the published keys).

In-process: the ACB's commands equal RTDS's ECS21b and GCS16b URP commands whole, MAC
included; the ESME's answer equals RTDS's ECS21b URP response whole; the party reads it.
The device refuses a certificate that is not the named party's, and a remote party on a
use case that does not allow one. On the running rig (tests/rigs/dcc.yaml): the gas
supplier reads the ESME's daily log as an unknown remote party, the electricity supplier
the GSME's; without its certificate the request is E4, with another's E1.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import replace
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from gateway.transform import TransformInput, transform_for
from nodes.gbcs.handlers import handler_for, unknown_party_ka
from rig.dccuser.readers import read
from rig.dccuser.tasks import send_request
from rig.protocol.codec import DecodeError
from rig.protocol.duis.xml import NS
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import reading, security
from rig.protocol.gbcs.catalogue import CATALOGUE
from rig.protocol.gbcs.catalogue_gas_logs import GCS16B
from rig.protocol.gbcs.catalogue_prepay_logs import ECS19, ECS21B
from rig.protocol.gbcs.frame import GbcsMessage, OtherInformation
from rig.protocol.gbcs.usecase import check_command, for_unknown_remote_party
from rig.protocol.smki import Usage
from tests.test_gas_prepayment import store  # noqa: F401 (a fixture)
from tests.test_prepay_reads import _credit, _Meter, _template
from tests.test_usecases import ACB, ESME, SUPPLIER, _context, _rtds

GAS_SUPPLIER = Eui64.parse("90-B3-D5-1F-30-03-00-00")  # RTDS's GCS16b URP sender
GSME_A3 = Eui64.parse("00-DB-12-34-56-78-90-A3")  # RTDS's GCS16b URP target
ECS21B_URP = "4.14_ECS21b/ECS21b_4.14_URP_SUCCESS"
GCS16B_URP = "4.14_GCS16b/GCS16b_4.14_URP_SUCCESS"


def _message(name: str) -> GbcsMessage:
    return GbcsMessage.decode(_rtds(name))


@pytest.mark.parametrize(
    ("uc", "template", "rtds", "sender", "device"),
    [
        (ECS21B, "ECS21b_4.14_URP_SUCCESS", ECS21B_URP, SUPPLIER, ESME),
        (GCS16B, "GCS16b_4.14_URP_SUCCESS", GCS16B_URP, GAS_SUPPLIER, GSME_A3),
    ],
)
def test_the_acbs_command_for_an_unknown_party_is_rtdss(
    store, uc, template, rtds, sender, device
) -> None:
    expected = _message(f"{rtds}_COMMAND")
    other = expected.header.other
    request = _template(template)
    assert other.remote_party_id == sender.raw
    assert other.remote_party_counter == request.request_id.counter
    assert other.certificate is not None
    fn = transform_for(uc)
    assert fn is not None
    if uc is GCS16B:  # RTDS's GCS16b URP command reads the KRP template's period
        start = request.body.find(".//sr:StartDateTime", NS)
        assert start is not None and start.text == "2014-12-30T23:00:00.00Z"
        start.text = "2014-12-29T23:00:00.00Z"
    acb_counter = expected.header.counter
    ours = fn(uc, TransformInput(request, acb_counter, sender, device))
    ours = for_unknown_remote_party(
        ours, ACB.raw, acb_counter, request.request_id.counter, other.certificate
    )
    acb = store.private(ACB, Usage.KA).private_key
    maced = security.apply_mac(ours, acb, store.get(device, Usage.KA).public_key)
    assert maced.encode() == expected.encode()
    assert check_command(expected, CATALOGUE) is uc


def test_the_esme_answers_rtdss_urp_command_byte_for_byte(store, tmp_path) -> None:
    rtds = _message(f"{ECS21B_URP}_RESPONSE")
    party_ka = store.private(SUPPLIER, Usage.KA).private_key
    days = reading.protected_values(rtds, party_ka, store.get(ESME, Usage.KA).public_key)
    meter = _Meter(_credit(store, tmp_path))
    from nodes.roles.prepay_logs import serve_prepay_logs

    daily = serve_prepay_logs(meter)
    assert daily is not None
    daily.entries = [
        (int(d.value[0].value), tuple(int(v.value) for v in d.value[1:]))
        for d in days[0].value.elements()
    ]
    tables = SimpleNamespace(cosem=meter.cosem, zcl=None)
    counter = rtds.header.other.originator_counter
    assert counter == 2002
    ctx = replace(_context(store, ESME, tables), originator_counter=lambda: counter)
    command = _message(f"{ECS21B_URP}_COMMAND")
    answer = asyncio.run(handler_for(ECS21B)(ECS21B, command, ctx))
    assert answer.encode() == rtds.encode()

    out = read(answer, user_ka=party_ka, device_ka=store.get(ESME, Usage.KA).public_key)
    assert out["authenticated_by"] == "encryption" and out["result"] == 0
    assert len(out["days"]) == 7
    # the responsible supplier's key against the device's does not open what is the party's
    other = store.private(GAS_SUPPLIER, Usage.KA).private_key
    with pytest.raises(reading.ReadError, match="tag"):
        read(answer, user_ka=other, device_ka=store.get(ESME, Usage.KA).public_key)


def test_the_device_refuses_a_certificate_that_is_not_the_named_partys(store) -> None:
    command = _message(f"{ECS21B_URP}_COMMAND")
    other = command.header.other
    assert unknown_party_ka(command) is not None
    theirs = store.get(GAS_SUPPLIER, Usage.KA).certificate.public_bytes(Encoding.DER)
    forged = GbcsMessage(
        replace(command.header, other=replace(other, certificate=theirs)), command.payload, None
    )
    with pytest.raises(security.SecurityError, match="not 90-B3-D5-1F-30-01-00-00's KA"):
        unknown_party_ka(forged)
    ds = store.get(SUPPLIER, Usage.DS).certificate.public_bytes(Encoding.DER)
    as_ds = GbcsMessage(
        replace(command.header, other=replace(other, certificate=ds)), command.payload, None
    )
    with pytest.raises(security.SecurityError, match="DS"):
        unknown_party_ka(as_ds)


def test_a_remote_party_on_a_use_case_that_takes_none_is_not_a_command() -> None:
    krp = _message("4.3_ECS19/ECS19_4.3_SUCCESS_COMMAND")
    assert check_command(krp, CATALOGUE) is ECS19
    other = OtherInformation(krp.header.message_code, SUPPLIER.raw, 5)
    urp = GbcsMessage(replace(krp.header, other=other), krp.payload, None)
    with pytest.raises(DecodeError, match="not sent for an unknown remote party"):
        check_command(urp, CATALOGUE)


# --- on the running rig ---------------------------------------------------------------------
PERIOD = {"StartDateTime": "2014-12-29T23:00:00Z", "EndDateTime": "2015-01-01T00:00:00Z"}


@pytest.mark.parametrize(
    ("target", "user", "use_case"),
    [("esme", "supplier-b", "ECS21b"), ("gsme", "supplier-a", "GCS16b")],
)
def test_a_supplier_that_is_not_responsible_reads_4_14_as_an_unknown_party(
    dcc_rig, target, user, use_case
) -> None:
    env = dcc_rig
    refused = send_request(env["rig"], env["state"], "4.14", target, PERIOD, user=user)
    assert refused.acknowledgement == "E4", refused
    assert "KAPublicSecurityCredentials" in (refused.reason or ""), refused
    urp = {**PERIOD, "UnknownRemoteParty": "true"}
    log = send_request(env["rig"], env["state"], "4.14", target, urp, user=user)
    assert log.response_code == "I0", log
    assert log.values["use_case"] == use_case, log.values
    assert log.values["authenticated_by"] == "encryption", log.values
    assert log.values["result"] == 0 and log.values["days"] == [], log.values


def test_an_unknown_party_offering_anothers_certificate_is_refused(dcc_rig) -> None:
    env = dcc_rig
    from rig.pki.authority import Pki

    pki = Pki(env["state"].root / "pki")
    supplier_a = next(u.eui for u in env["rig"].users if u.name == "supplier-a")
    theirs = pki.org(supplier_a, Usage.KA).load_cert().public_bytes(Encoding.DER)
    params = {**PERIOD, "KAPublicSecurityCredentials": base64.b64encode(theirs).decode()}
    log = send_request(env["rig"], env["state"], "4.14", "esme", params, user="supplier-b")
    assert log.acknowledgement == "E1", log
    assert "not a KA certificate SMKI holds" in (log.reason or ""), log
