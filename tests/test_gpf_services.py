"""The GPF's own supplier services (issue 17): 3.2 Restrict Access for Change of Tenancy
(GCS09) and 6.21 Request Handover of DCC Controlled Device (CS02b SupplierBySupplier /
NOByNO, the ACB originating and signing), served by the GPF on the CHF node.

The DCC's transforms of DCC's templates are RTDS 4.5.0's commands (the counters as RTDS's;
the MAC and signature left out): GCS09's Publish Change of Tenancy with the template's
RestrictionDateTime set to RTDS's implementation time (DCC's template says 2015-02-01,
RTDS's command 2016-11-22T02:46:56Z) and the DCC's issuer event id (its time) as RTDS's;
6.21's with RTDS's certificates put into DCC's template (tests/test_credential_updates.py),
the NOByNO one sent by a supplier (DUIS: 6.21 is IS's and GS's) with the network operator's
certificates. In process, a CHF hosting a GPF (RTDS's ESME's public KA key as the GPF's:
RTDS's GPF's is not public, so RTDS's commands are re-addressed to it, MAC'd by the ACB and,
6.21's, re-signed by it) answers RTDS's GCS09 with RTDS's Default Response and keeps the
date across a restart; a DCC controlled GPF (the ACB's certificates in its supplier and
network operator cells, as RTDS's response names them) answers RTDS's handovers with RTDS's
outcomes, trusts the supplier from then on (across a restart), and refuses what it must.
On the running rig (tests/rigs/dcc.yaml) the gas supplier's 3.2 to the GPF answers I0 and
the CHF shows the date; its GPF is not DCC controlled, so 6.21 is checked in process.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from conftest import RIGS, component_detail, vectors, wait_for
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree

from gateway.config import DCC_CELLS
from gateway.transform import TransformInput, served, transform_for
from gateway.transform import customer as customer_transform
from gateway.transform.registry import Peer, TransformRefused
from nodes.config import GbcsConfig, TrustedCert
from nodes.roles.chf import GbcsEndpoint  # the node's import order
from nodes.roles.gpf_security import GpfTenancy
from rig.dccuser.readers import read
from rig.dccuser.tasks import send_request
from rig.description import load_rig
from rig.pki.authority import Pki
from rig.plan.node_config import gpf_gbcs_config
from rig.protocol.duis import codes
from rig.protocol.duis.message import Request
from rig.protocol.duis.xml import NS
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import catalogue_customer as cc
from rig.protocol.gbcs import gbz, security
from rig.protocol.gbcs.catalogue import CATALOGUE
from rig.protocol.gbcs.catalogue_credentials import (
    CS02B_SUPPLIER_BY_SUPPLIER,
    RemotePartyRole,
    StatusCode,
    outcome_of,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import check_command
from rig.protocol.smki import Usage
from rig.runtime.records import KeyPair
from tests.test_change_of_supplier import _pem
from tests.test_chf_device_log import Hub
from tests.test_credential_updates import HANDOVER, NETWORK_OPERATOR, NO_HANDOVER
from tests.test_credential_updates import _template as _credentials_template
from tests.test_gas_prepayment import _rtds, _template, store  # noqa: F401 (store: a fixture)

ACB = Eui64.parse("90-B3-D5-1F-30-00-00-02")
SUPPLIER = Eui64.parse("90-B3-D5-1F-30-01-00-00")  # RTDS's supplier 1
RTDS_GPF = Eui64.parse("00-DB-12-34-56-78-90-A3")
GPF = Eui64.parse("00-DB-12-34-56-78-90-A0")  # RTDS's ESME: its KA key is public
TENANCY = "3.2_GCS09/GCS09_3.2_SUCCESS"
RTDS_ISSUED = dt.datetime(2015, 1, 1, tzinfo=dt.UTC)  # RTDS's issuer event id (its time)
RTDS_RESTRICTION = "2016-11-22T02:46:56Z"  # RTDS's implementation time
SUPPLIER_ROLE, NO_ROLE = RemotePartyRole.SUPPLIER, RemotePartyRole.NETWORK_OPERATOR


def _gpf_peer(_eui: Eui64) -> Peer:
    return Peer("GPF", dcc_cells=frozenset(DCC_CELLS))  # the DCC controls it (6.21 hands it over)


def _tenancy_request(restriction: str | None = RTDS_RESTRICTION) -> Request:
    request = _template("GCS09_3.2_SUCCESS")
    if restriction is not None:
        found = request.body.find(".//sr:RestrictionDateTime", NS)
        assert found is not None
        found.text = restriction
    return request


def _transform(uc, request: Request, counter: int, originator: Eui64) -> GbcsMessage:
    fn = transform_for(uc)
    assert fn is not None
    return fn(uc, TransformInput(request, counter, originator, RTDS_GPF, _gpf_peer))


# --- the catalogue and the DCC's transforms ---------------------------------------------------
def test_the_gpf_is_served_3_2_and_6_21() -> None:
    assert served(CATALOGUE, "3.2", "GPF") is cc.GCS09
    assert served(CATALOGUE, "3.2", "ESME") is cc.ECS12  # the ESME's stays
    assert served(CATALOGUE, "6.21", "GPF") is CS02B_SUPPLIER_BY_SUPPLIER
    assert check_command(_rtds(f"{TENANCY}_COMMAND"), CATALOGUE) is cc.GCS09


def test_gcs09_is_rtdss_command_from_dccs_template(store, monkeypatch) -> None:
    monkeypatch.setattr(customer_transform, "now", lambda: RTDS_ISSUED)
    rtds = _rtds(f"{TENANCY}_COMMAND")
    h = rtds.header
    ours = _transform(cc.GCS09, _tenancy_request(), h.counter, Eui64(h.originator))
    acb = store.private(ACB, Usage.KA).private_key
    assert security.apply_mac(ours, acb, store.get(RTDS_GPF, Usage.KA).public_key) == rtds
    # the template's own date: only the implementation time differs from RTDS's
    own = _transform(cc.GCS09, _tenancy_request(None), h.counter, Eui64(h.originator))
    (component,) = gbz.decode(own.payload).components
    change = cc.TenancyChange.decode(component.payload)
    assert gbz.from_zigbee_time(change.implementation_time) == dt.datetime(
        2015, 2, 1, tzinfo=dt.UTC
    )
    assert (change.issuer_event_id, change.control) == (gbz.zigbee_time(RTDS_ISSUED), 0x200)


def test_gcs09_refuses_what_it_cannot_send() -> None:
    for bad, code in (("not a date", codes.NOT_DUIS), ("1999-12-31T23:00:00Z", codes.NOT_DUIS)):
        with pytest.raises(TransformRefused) as refused:
            _transform(cc.GCS09, _tenancy_request(bad), 1, SUPPLIER)
        assert refused.value.code == code, bad
    future = _tenancy_request()
    etree.SubElement(
        future.body.getparent(), f"{{{NS['sr']}}}ExecutionDateTime"
    ).text = "2030-01-01T00:00:00Z"
    dated = dataclasses.replace(future, body=future.body.getparent())
    with pytest.raises(TransformRefused) as refused:
        _transform(cc.GCS09, dated, 1, SUPPLIER)
    assert refused.value.code == codes.NOT_SERVED


@pytest.mark.parametrize(("folder", "sender"), [(HANDOVER, SUPPLIER), (NO_HANDOVER, SUPPLIER)])
def test_a_gpfs_handover_is_rtdss_command_from_a_supplier(folder: str, sender: Eui64) -> None:
    rtds = GbcsMessage.decode(_rtds_bytes(f"{folder}_SUCCESS_COMMAND"))
    name = folder.split("/")[1] + "_SUCCESS"
    request = _credentials_template(name, rtds, sender)
    h = rtds.header
    ours = _transform(CS02B_SUPPLIER_BY_SUPPLIER, request, h.counter, Eui64(h.originator))
    assert (ours.message_code, ours.header, ours.payload) == (
        rtds.message_code,
        rtds.header,
        rtds.payload,
    )


def _rtds_bytes(name: str) -> bytes:
    return _rtds(name).encode()


def test_a_gpfs_handover_refuses_another_partys_or_a_later_one() -> None:
    rtds = _rtds(f"{HANDOVER}_SUCCESS_COMMAND")
    h = rtds.header
    # the supplier's certificates sent by another supplier: a party hands over to itself
    request = _credentials_template(HANDOVER.split("/")[1] + "_SUCCESS", rtds, NETWORK_OPERATOR)
    with pytest.raises(TransformRefused) as refused:
        _transform(CS02B_SUPPLIER_BY_SUPPLIER, request, h.counter, Eui64(h.originator))
    assert refused.value.code == codes.INVALID_USER
    # the network operator's cells: its DS and KA certificates must be one party's
    no = _rtds(f"{NO_HANDOVER}_SUCCESS_COMMAND")
    mixed = _credentials_template(NO_HANDOVER.split("/")[1] + "_SUCCESS", no, SUPPLIER)
    ka = mixed.body.find(".//sr:KeyAgreementCertificate", NS)
    supplier_ka = _credentials_template(HANDOVER.split("/")[1] + "_SUCCESS", rtds, SUPPLIER)
    found = supplier_ka.body.find(".//sr:KeyAgreementCertificate", NS)
    assert ka is not None and found is not None
    ka.text = found.text
    with pytest.raises(TransformRefused) as refused:
        _transform(CS02B_SUPPLIER_BY_SUPPLIER, mixed, no.header.counter, ACB)
    assert refused.value.code == codes.INVALID_USER
    # the GPF holds no future-dated CS02b
    later = _credentials_template(HANDOVER.split("/")[1] + "_SUCCESS", rtds, SUPPLIER)
    etree.SubElement(later.body, f"{{{NS['sr']}}}ExecutionDateTime").text = "2030-01-01T00:00:00Z"
    with pytest.raises(TransformRefused) as refused:
        _transform(CS02B_SUPPLIER_BY_SUPPLIER, later, h.counter, Eui64(h.originator))
    assert refused.value.code == codes.NOT_SERVED
    # a GPF the DCC does not control: its supplier holds its cells, so nothing to hand over
    # (the ACB would sign a command the GPF cannot check): E5, saying what to send instead
    request = _credentials_template(HANDOVER.split("/")[1] + "_SUCCESS", rtds, SUPPLIER)
    fn = transform_for(CS02B_SUPPLIER_BY_SUPPLIER)
    assert fn is not None
    ours = TransformInput(request, h.counter, Eui64(h.originator), RTDS_GPF, lambda _e: Peer("GPF"))
    with pytest.raises(TransformRefused, match=r"send 6\.15\.1") as refused:
        fn(CS02B_SUPPLIER_BY_SUPPLIER, ours)
    assert refused.value.code == codes.DEVICE_STATUS
    # a 6.21 has handed its supplier cells over already: E5 again, saying so; the network
    # operator's cells the DCC still controls
    handed = lambda _e: Peer("GPF", dcc_cells=frozenset({"NetworkOperator"}))  # noqa: E731
    again = TransformInput(request, h.counter, Eui64(h.originator), RTDS_GPF, handed)
    with pytest.raises(TransformRefused, match=r"handed over its Supplier cells already"):
        fn(CS02B_SUPPLIER_BY_SUPPLIER, again)


# --- the GPF on the CHF -----------------------------------------------------------------------
class HubWithGpf:
    """A CHF in process hosting a GPF (RTDS's ESME's keys), with the cells ``cells`` gives
    it at its first start; ``restart`` builds the CHF again from the same state."""

    def __init__(self, tmp: Path, store, dcc_controlled: bool) -> None:
        self.tmp, self.store, self.dcc_controlled = tmp, store, dcc_controlled
        self.gpf_ds = _pem(tmp, "gpf-ds.key", ec.generate_private_key(ec.SECP256R1()))
        self.restart()

    def _config(self) -> GbcsConfig:
        keystore = vectors("gbcs", "rtds-keystore")

        def cert(eui: Eui64, usage: str) -> Path:
            return keystore / f"{eui.raw.hex()}-{usage}.pem"

        cells = [TrustedCert(ACB, Usage.KA, cert(ACB, "ka"), 4)]
        if self.dcc_controlled:  # the ACB's, as RTDS's GPF holds them
            for usage, role in (
                (Usage.DS, 2), (Usage.KA, 2), (Usage.PP_KA, 2), (Usage.DS, 3), (Usage.KA, 3),
            ):  # fmt: skip
                pem = cert(ACB, "ds" if usage is Usage.DS else "ka")
                cells.append(TrustedCert(ACB, usage, pem, role))
        else:  # the gas supplier's
            cells += [
                TrustedCert(SUPPLIER, Usage.DS, cert(SUPPLIER, "ds"), 2),
                TrustedCert(SUPPLIER, Usage.KA, cert(SUPPLIER, "ka"), 2),
            ]
        ka = vectors("gbcs", "device-keys", "00db1234567890a0-ka.key")
        return GbcsConfig(
            KeyPair(keystore / "00db1234567890a0-ds.pem", self.gpf_ds),
            KeyPair(keystore / "00db1234567890a0-ka.pem", ka),
            ACB,
            tuple(cells),
            ACB,
        )

    def restart(self) -> None:
        hub = Hub(self.tmp, self.store, ())
        hub.node.config = dataclasses.replace(hub.node.config, gpf_eui=GPF)
        (self.tmp / "gpf").mkdir(exist_ok=True)
        hub.node.gpf_gbcs = GbcsEndpoint(GPF, "GPF", self._config(), self.tmp / "gpf")
        self.hub = hub

    @property
    def gpf(self) -> GbcsEndpoint:
        assert self.hub.node.gpf_gbcs is not None
        return self.hub.node.gpf_gbcs

    def ask(self, rtds: GbcsMessage, signer: Eui64 | None = None, **header: Any) -> list:
        """RTDS's command re-addressed to the GPF (``header``: more changes), signed by
        ``signer`` (its DS key) and MAC'd by the ACB, from the WAN; what the CHF sends up."""
        h = dataclasses.replace(rtds.header, recipient=GPF.raw, **header)
        cmd = dataclasses.replace(rtds, header=h, signature=None, mac=None)
        if signer is not None:
            cmd = security.sign_message(cmd, self.store.private(signer, Usage.DS).private_key)
        acb = self.store.private(ACB, Usage.KA).private_key
        gpf_ka = self.store.get(GPF, Usage.KA).public_key
        self.hub.wan.up.clear()
        asyncio.run(self.hub.node._from_wan(security.apply_mac(cmd, acb, gpf_ka).encode()))
        return list(self.hub.wan.up)


def test_the_gpf_answers_gcs09_as_rtds_and_keeps_the_date(store, tmp_path) -> None:
    home = HubWithGpf(tmp_path, store, dcc_controlled=False)
    rtds = _rtds(f"{TENANCY}_COMMAND")
    (answer,) = home.ask(rtds)
    assert answer.payload == _rtds(f"{TENANCY}_RESPONSE").payload
    assert (answer.header.recipient, answer.message_code) == (SUPPLIER.raw, 0x0072)
    keys = {
        "user_ka": store.private(SUPPLIER, Usage.KA).private_key,
        "device_ka": store.get(GPF, Usage.KA).public_key,
    }
    assert read(answer, **keys)["result"] == 0
    tenancy = home.hub.node.gpf_tenancy  # what the CHF's detail shows (gpf_tenancy)
    assert tenancy.detail() == {"consumer_history_from": "2016-11-22T02:46:56+00:00"}
    assert not tenancy.consumer_may_see(dt.datetime(2016, 11, 1, tzinfo=dt.UTC))
    assert tenancy.consumer_may_see(dt.datetime(2016, 12, 1, tzinfo=dt.UTC))
    home.restart()  # kept in the CHF's state
    assert home.hub.node.gpf_tenancy.change_of_tenancy == "2016-11-22T02:46:56+00:00"
    # a payload it cannot read: MALFORMED_COMMAND, the date as it was
    refused = GpfTenancy.load(tmp_path / "gpf-tenancy.json").publish_change_of_tenancy(
        b"\x00" * 5, rtds
    )
    assert refused == gbz.default_response(cc.PUBLISH_CHANGE_OF_TENANCY, gbz.ZCL_MALFORMED_COMMAND)
    assert GpfTenancy.load(tmp_path / "gpf-tenancy.json").change_of_tenancy.startswith("2016")


def test_a_dcc_controlled_gpf_is_handed_over_as_rtds_and_keeps_its_new_cells(
    store, tmp_path
) -> None:
    home = HubWithGpf(tmp_path, store, dcc_controlled=True)
    tenancy = _rtds(f"{TENANCY}_COMMAND")
    assert home.ask(tenancy) == []  # the supplier holds no cell yet: not a remote party
    for folder, role in ((HANDOVER, SUPPLIER_ROLE), (NO_HANDOVER, NO_ROLE)):
        rtds = _rtds(f"{folder}_SUCCESS_COMMAND")
        (answer,) = home.ask(rtds, ACB)
        assert answer.payload == _rtds(f"{folder}_SUCCESS_RESPONSE").payload, folder
        assert answer.header.recipient == ACB.raw
        security.verify_signature(answer, home.gpf.ds.public_key())
        outcome = outcome_of(answer.payload)
        assert outcome is not None and all(o.status is StatusCode.SUCCESS for o in outcome.outcomes)
        assert home.gpf.trust.holder(role) == (
            SUPPLIER if role is SUPPLIER_ROLE else NETWORK_OPERATOR
        )
    # the same handover again: the ACB no longer holds the cells (and its counter is spent)
    again = _rtds(f"{HANDOVER}_SUCCESS_COMMAND")
    assert home.ask(again, ACB, counter=again.header.counter + 10) == []
    home.restart()  # the new cells are kept in the GPF's state
    assert home.gpf.trust.holder(SUPPLIER_ROLE) == SUPPLIER
    (answer,) = home.ask(tenancy)  # the supplier is the GPF's now: GCS09 is taken
    assert answer.payload == _rtds(f"{TENANCY}_RESPONSE").payload


def test_the_gpf_of_a_dcc_controlled_gas_meter_is_dcc_controlled(tmp_path) -> None:
    """`rig up`'s GPF cells: the ACB's in its supplier and network operator cells when its
    hub's gas meter is DCC controlled (tests/rigs/cos.yaml), else the gas supplier's."""
    for name, dcc_controlled in (("cos.yaml", True), ("dcc.yaml", False)):
        rig = load_rig(RIGS / name)
        pki = Pki(tmp_path / name / "pki")
        pki.ensure(rig, [])
        chf = next(n for n in rig.nodes if n.role.value == "chf")
        config = gpf_gbcs_config(rig, pki, chf)
        assert config is not None
        cells = {(c.role, c.usage): c.eui for c in config.trusted}
        gsme = next(n for n in rig.nodes if n.role.value == "gsme")
        assert gsme.dcc_controlled is dcc_controlled
        if dcc_controlled:
            wanted = {(2, Usage.DS), (2, Usage.KA), (2, Usage.PP_KA), (3, Usage.DS), (3, Usage.KA)}
            assert {k for k in cells if k[0] in (2, 3)} == wanted, cells
            assert {cells[k] for k in wanted} == {rig.acb_eui}
        else:
            supplier = next(u.eui for u in rig.users if u.name == "supplier-b")
            assert {cells[(2, Usage.DS)], cells[(2, Usage.KA)]} == {supplier}
            assert not any(role == 3 for role, _ in cells)


# --- on the running rig -----------------------------------------------------------------------
def test_the_gas_supplier_restricts_the_gpf_for_a_change_of_tenancy(dcc_rig) -> None:
    rig, state = dcc_rig["rig"], dcc_rig["state"]
    when = "2026-03-01T00:00:00Z"
    outcome = send_request(
        rig, state, "3.2", "chf-gpf", {"RestrictionDateTime": when}, user="supplier-b"
    )
    assert outcome.response_code == "I0", outcome
    assert outcome.values["use_case"] == "GCS09" and outcome.values["result"] == 0, outcome.values

    def shown() -> Any:  # the CHF's health detail
        detail = component_detail(dcc_rig["dir"], "chf")
        return detail.get("han", {}).get("gpf_tenancy")

    assert wait_for(
        lambda: shown() == {"consumer_history_from": "2026-03-01T00:00:00+00:00"}, 30
    ), shown()
