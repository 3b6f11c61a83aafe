"""The DCC's reads of the GSME's data addressed to the GPF (issue 17), which the GPF answers
from its mirror of what the sleepy GSME last reported: 4.1.1 (GCS13a), 4.1.2 (GCS13c),
4.1.4 (GCS13b), 4.3 (GCS14) and 4.18 (GCS60a, the GPF's variant of GCS60).

DCC's RELIABLE_GPF and RELIABLE_GSME templates (both to RTDS's GPF) become RTDS's commands,
the ACB's MAC included. In process, a GSME wakes (its real wake cycle, its HAN frames
handed to a real CHF) and reports what the GPF mirrors; the GPF then answers each command
in RTDS's structure with the GSME's values, MAC'd and encrypted for the gas supplier, and
after a restart of the CHF from the same state. What the GPF has not heard of answers
UNSUPPORTED_ATTRIBUTE; a report of the wrong type is not mirrored; a supplier the GPF does
not trust is not answered. On the running rig (tests/rigs/dcc.yaml) the gas supplier's
4.1.1 and 4.18 to the GPF answer I0 with the GSME's values as last reported.

The GPF's copies of the GSME's logs: 4.14 (GCS16b, RTDS's URP variant goes to the GPF) and
4.17 (GCS61): the GSME reports its newest daily snapshots and days of consumption at each
wake, the GPF keeps them (across a restart) and answers the daily read log and the daily
consumption log in RTDS's structure; RTDS's GCS61 NOT_FOUND command is the transform of
DCC's template with RTDS's period (its SUCCESS command, a URP one, asks 731 days from 22
December 2014, which no DCC template gives).

Not byte for byte: the GPF's MAC and encryption (its keys are the rig's) and the values
(RTDS's meter is not the rig's).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest
from conftest import component_detail, wait_for

from gateway.transform import TransformInput, served, transform_for
from nodes.config import GbcsConfig
from nodes.radio import ApsMessage
from nodes.roles.chf import GbcsEndpoint  # the node's import order
from nodes.roles.gpf_mirror import GpfMirror, mirrored
from rig.dccuser.readers import read
from rig.dccuser.tasks import send_request
from rig.plan.node_config import gpf_gbcs_config
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import gbz, security
from rig.protocol.gbcs.catalogue import CATALOGUE, GCS13A
from rig.protocol.gbcs.catalogue_gas import GCS14, GCS60
from rig.protocol.gbcs.catalogue_gas_billing import GCS61, daily_consumption_request
from rig.protocol.gbcs.catalogue_gas_logs import GCS16B, get_prepay_snapshots
from rig.protocol.gbcs.catalogue_gas_reads import GCS13B, GCS13C, GCS60A
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import check_command, command
from rig.protocol.smki import Usage
from rig.protocol.zigbee import se, zcl
from tests.test_chf_device_log import Hub
from tests.test_gas_prepayment import (  # noqa: F401 (pki, store: fixtures)
    ACB,
    RTDS_SUPPLIER,
    Gas,
    _rtds,
    _shape,
    _template,
    pki,
    store,
)

GPF = Eui64.parse("00-DB-12-34-56-78-90-A3")  # RTDS's GPF, and the dcc rig's
RTDS = {
    GCS13A: "4.1.1_GCS13a/GCS13a_4.1.1",
    GCS13C: "4.1.2_GCS13c/GCS13c_4.1.2",
    GCS13B: "4.1.4_GCS13b/GCS13b_4.1.4",
    GCS14: "4.3_GCS14/GCS14_4.3",
    GCS60A: "4.18_GCS60a/GCS60a_4.18",
}
SRVS = {GCS13A: "4.1.1", GCS13C: "4.1.2", GCS13B: "4.1.4", GCS14: "4.3", GCS60A: "4.18"}


def _encrypted(msg: GbcsMessage) -> list[tuple[int, int, int]]:
    return [
        (c.encrypted.additional_control, c.encrypted.frame_counter, len(c.encrypted.blob))
        for c in gbz.decode(msg.payload).components
        if c.encrypted is not None
    ]


# --- the catalogue and the DCC's transforms, byte for byte ----------------------------------
def test_the_gpf_is_served_the_reads_rtds_sends_it() -> None:
    for uc, srv in SRVS.items():
        assert served(CATALOGUE, srv, "GPF") is uc, srv
    assert served(CATALOGUE, "4.18", "GSME") is GCS60  # the mapping table's, for the GSME
    assert served(CATALOGUE, "4.18", "ESME") is not GCS60A


@pytest.mark.parametrize("uc", list(RTDS))
@pytest.mark.parametrize("variant", ["SUCCESS_RELIABLE_GPF", "SUCCESS_RELIABLE_GSME"])
def test_the_transform_is_rtdss_command_mac_included(store, uc, variant: str) -> None:
    rtds = _rtds(f"{RTDS[uc]}_{variant}_COMMAND")
    assert Eui64(rtds.header.recipient) == GPF and check_command(rtds, CATALOGUE) is uc
    request = _template(f"{RTDS[uc].split('/')[1]}_{variant}")
    assert request.request_id.target == GPF
    fn = transform_for(uc)
    assert fn is not None
    msg = fn(uc, TransformInput(request, rtds.header.counter, RTDS_SUPPLIER, GPF))
    acb = store.private(ACB, Usage.KA).private_key
    assert security.apply_mac(msg, acb, store.get(GPF, Usage.KA).public_key) == rtds


# --- the GSME reports, the GPF answers ---------------------------------------------------------
class Home:
    """A GSME (no gas flowing) and the CHF hosting the GPF, in process; the GSME's HAN
    frames to the GPF's endpoint go to the CHF's HAN application, its answers back."""

    def __init__(self, pki_fixture, tmp: Path, store) -> None:
        rig, pki = pki_fixture
        self.gas = Gas(pki_fixture, tmp / "gas")
        self.supplier = self.gas.supplier  # the GSME's: supplier-b
        chf = next(n for n in rig.nodes if n.name == "chf")
        self.gpf_keys = cast(GbcsConfig, gpf_gbcs_config(rig, pki, chf))
        self.store, self.pki, self.tmp = store, pki, tmp / "chf"
        self.tmp.mkdir(exist_ok=True)
        self.hub = self._hub()
        gsme = self.gas.gsme
        gsme.app.request = self._to_gpf  # type: ignore[method-assign]

        async def idle() -> None:
            return None

        gsme.radio.wake = idle  # type: ignore[method-assign]
        gsme.update_firmware = idle  # type: ignore[method-assign]

    def _hub(self) -> Hub:
        """The CHF, hosting the GPF with the keys `rig up` gives it (a restart: again)."""
        hub = Hub(self.tmp, self.store, ())
        hub.node.config = replace(hub.node.config, gpf_eui=GPF)
        (self.tmp / "gpf").mkdir(exist_ok=True)
        hub.node.gpf_gbcs = GbcsEndpoint(GPF, "GPF", self.gpf_keys, self.tmp / "gpf")
        return hub

    def restart_chf(self) -> None:
        self.hub = self._hub()

    async def _to_gpf(
        self, peer: Eui64, cluster: int, body: bytes, tsn: int, *, dst_ep: int = 1,
        src_ep: int = 1, wait: bool = True,
    ) -> zcl.ZclFrame | None:  # fmt: skip
        replies: list[bytes] = []

        async def reply(_to: ApsMessage, answer: bytes) -> None:
            replies.append(answer)

        app = self.hub.node.app
        app.reply = reply  # type: ignore[method-assign]
        await app._on_message(
            ApsMessage(self.gas.gsme.config.eui, cluster, body, 0x0109, src_ep, dst_ep)
        )
        if not wait:
            return None
        assert replies, "the CHF did not answer the GSME's report"
        return zcl.decode(cluster, replies[0])

    def ask(
        self, uc, counter: int, supplier: Eui64 | None = None, argument: Any = None
    ) -> GbcsMessage | None:
        """``uc`` to the GPF from ``supplier`` (the GSME's), MAC'd by the ACB, as the DCC
        sends it; the GPF's answer up the WAN, or None."""
        who = supplier or self.supplier
        msg = command(uc, counter, who.raw, GPF.raw, argument)
        acb = self.gas.key(ACB, Usage.KA)
        gpf_ka = self.pki.device(GPF, Usage.KA).load_cert().public_key()
        self.hub.wan.up.clear()
        asyncio.run(self.hub.node._from_wan(security.apply_mac(msg, acb, gpf_ka).encode()))
        return self.hub.wan.up[-1] if self.hub.wan.up else None

    def read(self, msg: GbcsMessage) -> dict[str, Any]:
        gpf_ka = self.pki.device(GPF, Usage.KA).load_cert().public_key()
        security.verify_mac(msg, self.gas.key(self.supplier, Usage.KA), gpf_ka)
        return read(msg, user_ka=self.gas.key(self.supplier, Usage.KA), device_ka=gpf_ka)


@pytest.fixture
def home(pki, store, tmp_path: Path):
    setup = Home(pki, tmp_path, store)
    yield setup
    asyncio.run(setup.gas.close())


def test_the_gpf_answers_in_rtdss_structure_with_what_the_gsme_reported(home: Home) -> None:
    gsme = home.gas.gsme
    asyncio.run(home.gas.ask(GCS14))  # its credit engine started (a command, as on the rig)
    gsme._dm3 = 123_456.0  # what it has counted
    gsme.bill_millipence = 4_321_000
    asyncio.run(gsme.wake_cycle())
    wanted = {
        GCS13A: {"current_summation_delivered": 123_456, "multiplier": 1, "divisor": 1000},
        GCS13C: {"tier_1_summation_delivered": gsme.gas_reads.tiers[0]},
        GCS13B: {"block_1_summation_delivered": gsme.gas_reads.blocks[0]},
        GCS60A: {"bill_to_date_millipence": 4_321_000},
    }
    for counter, uc in enumerate(RTDS, start=100):
        answer = home.ask(uc, counter)
        assert answer is not None, f"the GPF did not answer {uc.name}"
        rtds = _rtds(f"{RTDS[uc]}_SUCCESS_RELIABLE_GPF_RESPONSE")
        assert _shape(answer) == _shape(rtds), uc.name
        assert _encrypted(answer) == _encrypted(rtds), uc.name
        out = home.read(answer)
        assert out.get("result", 0) == 0, out
        assert wanted.get(uc, {}).items() <= out.items(), (uc.name, out)
        if uc is GCS14:
            credit = home.gas.gsme.credit
            assert credit is not None and out["credit_remaining"] == credit.millipence, out
        if uc is GCS60A:
            assert out["meter_balance_millipence"] == gsme.credit.millipence  # type: ignore[union-attr]


def test_the_gpf_answers_as_last_reported_and_after_a_restart(home: Home) -> None:
    gsme = home.gas.gsme
    gsme._dm3 = 5_000.0
    asyncio.run(gsme.wake_cycle())
    gsme._dm3 = 7_000.0  # counted since, not reported yet
    first = home.read(cast(GbcsMessage, home.ask(GCS13A, 200)))
    assert first["current_summation_delivered"] == 5_000
    asyncio.run(gsme.wake_cycle())
    home.restart_chf()  # the mirror is kept in the CHF's state
    kept = GpfMirror.load(home.tmp / "gpf-mirror.json")
    assert kept.values[(gbz.METERING, 0x0000)] == 7_000
    again = home.read(cast(GbcsMessage, home.ask(GCS13A, 201)))
    assert again["current_summation_delivered"] == 7_000
    asyncio.run(gsme.wake_cycle())
    # the IHD's mirror keeps only what zigpy's Metering names (the IHD reads it by name)
    ihd = home.hub.node.mirror
    assert ihd["current_summ_delivered"] == 7_000 and ihd["multiplier"] == 1
    assert set(ihd) <= set(se.Metering.attributes_by_name), set(ihd)


def test_what_the_gsme_has_not_reported_is_unsupported(home: Home) -> None:
    balance = home.read(cast(GbcsMessage, home.ask(GCS60A, 300)))  # nothing heard yet
    assert balance["result"] == gbz.ZCL_UNSUPPORTED_ATTRIBUTE


def test_a_report_of_the_wrong_type_is_not_mirrored(home: Home) -> None:
    mirror = home.hub.node.gpf_mirror
    declared = {a.ident: a for a in mirrored()[gbz.METERING]}
    assert declared[0x0000].zcl_type == 0x25  # uint48
    wrong = bytes([0x00, 0x00, 0x23]) + (99).to_bytes(4, "little")  # as a uint32
    frame = zcl.decode(gbz.METERING, bytes([0x18, 1, 0x0A]) + wrong)
    mirror.update(gbz.METERING, frame.args.attribute_reports, "test")
    assert (gbz.METERING, 0x0000) not in mirror.values


def test_a_supplier_the_gpf_does_not_trust_is_not_answered(home: Home) -> None:
    asyncio.run(home.gas.gsme.wake_cycle())
    stranger = Eui64.parse("90-B3-D5-1F-30-01-00-00")  # supplier-a, the ESME's
    assert stranger != home.supplier
    assert home.ask(GCS13A, 400, stranger) is None
    assert home.hub.node.gpf_gbcs is not None and home.hub.node.gpf_gbcs.discarded == 1


# --- the GPF's copies of the GSME's logs (4.14, 4.17) ------------------------------------------
DAILY = "4.17_GCS61/GCS61_4.17"


def test_4_14_and_4_17_are_served_for_the_gpf_and_gcs61_is_rtdss(store) -> None:
    assert served(CATALOGUE, "4.14", "GPF") is GCS16B
    assert served(CATALOGUE, "4.17", "GPF") is GCS61
    for case in ("SUCCESS", "NOT_FOUND"):
        assert check_command(_rtds(f"{DAILY}_{case}_COMMAND"), CATALOGUE) is GCS61
    rtds = _rtds(f"{DAILY}_NOT_FOUND_COMMAND")
    request = _template("GCS61_4.17_SUCCESS")
    period = {"StartDateTime": "2030-12-22T00:00:00Z", "EndDateTime": "2031-01-01T00:00:00Z"}
    for name, value in period.items():
        request.body.find(
            f".//{{http://www.dccinterface.co.uk/ServiceUserGateway}}{name}"
        ).text = value
    fn = transform_for(GCS61)
    assert fn is not None
    msg = fn(GCS61, TransformInput(request, rtds.header.counter, RTDS_SUPPLIER, GPF))
    acb = store.private(ACB, Usage.KA).private_key
    assert security.apply_mac(msg, acb, store.get(GPF, Usage.KA).public_key) == rtds


DAY = 86_400


def test_the_gpf_answers_the_gsmes_daily_logs_from_its_copies(home: Home) -> None:
    gsme = home.gas.gsme
    asyncio.run(home.gas.ask(GCS14))  # its credit engine started (a command, as on the rig)
    daily, reads = gsme.prepay_daily, gsme.gas_reads
    assert daily is not None and reads is not None
    midnight = (int(time.time()) // DAY - 3) * DAY - gbz.ZIGBEE_EPOCH  # 3 days ago
    daily.entries = [(midnight + n * DAY, (1_000 * n, 50, 300 + n, 100, 0, 0)) for n in range(3)]
    unix = midnight + gbz.ZIGBEE_EPOCH
    reads.daily = [(unix + n * DAY, 100 * n * n, (0,) * 4, (0,) * 4) for n in range(4)]
    asyncio.run(gsme.wake_cycle())
    home.restart_chf()  # the copies are kept in the CHF's state
    period = (midnight + DAY, midnight + 3 * DAY)  # two of the days, as RTDS's answer has
    snapshots = home.ask(GCS16B, 500, argument=get_prepay_snapshots(*period))
    assert snapshots is not None
    rtds = _rtds("4.14_GCS16b/GCS16b_4.14_URP_SUCCESS_RESPONSE")
    assert _shape(snapshots) == _shape(rtds)
    assert _encrypted(snapshots) == _encrypted(rtds)
    out = home.read(snapshots)
    assert [d["meter_balance_millipence"] for d in out["days"]] == [2_000, 1_000]
    assert out["days"][0]["accumulated_debt_millipence"] == 302
    consumption = home.ask(GCS61, 501, argument=(daily_consumption_request(*period),))
    assert consumption is not None
    assert _shape(consumption) == _shape(_rtds(f"{DAILY}_SUCCESS_RESPONSE"))
    days = home.read(consumption)
    assert (days["result"], days["sample_id"], days["interval_s"]) == (0, 1, DAY)
    assert [s["value"] for s in days["samples"]] == [300, 500]  # the register's steps
    later = (midnight + 10 * DAY, midnight + 20 * DAY)
    none = home.ask(GCS61, 502, argument=(daily_consumption_request(*later),))
    assert none is not None
    assert _shape(none) == _shape(_rtds(f"{DAILY}_NOT_FOUND_RESPONSE"))


# --- on the running rig ---------------------------------------------------------------------
def _mirror(env: dict) -> dict[str, int]:
    """What the GPF answers from now (the CHF's health detail)."""
    detail = component_detail(env["dir"], "chf")
    return detail.get("han", {}).get("gpf_mirror", {}).get("gbcs", {}).get("values", {})


REGISTER, BILL, CREDIT = "0702:0000", "0702:0A00", "0705:0001"


def test_the_gsmes_reads_through_the_dcc_to_the_gpf(dcc_rig) -> None:
    env = dcc_rig
    rig, state = env["rig"], env["state"]

    def ask(srv: str, target: str) -> dict[str, Any]:
        outcome = send_request(rig, state, srv, target, {}, user="supplier-b")  # gas supplier
        assert outcome.response_code == "I0", outcome
        return outcome.values

    assert wait_for(lambda: CREDIT in _mirror(env), 60), "the GSME has reported nothing"
    before = _mirror(env)
    registers = ask("4.1.1", "chf-gpf")
    balance = ask("4.18", "chf-gpf")
    after = _mirror(env)
    assert registers["use_case"] == "GCS13a" and registers["divisor"] == 1000, registers
    assert balance["use_case"] == "GCS60a" and balance["result"] == 0, balance
    # the GSME's values as it reported them at a wake between the two looks: the register
    # and the bill only grow, the credit only falls (no top-up meanwhile)
    assert before[REGISTER] <= registers["current_summation_delivered"] <= after[REGISTER]
    assert before[BILL] <= balance["bill_to_date_millipence"] <= after[BILL]
    assert before[CREDIT] >= balance["meter_balance_millipence"] >= after[CREDIT]
    direct = ask("4.1.1", "gsme")  # the GSME itself, at a later wake
    assert registers["current_summation_delivered"] <= direct["current_summation_delivered"]
    # the daily logs' copies: the rig's GSME has taken no daily snapshot yet (it takes the
    # first at the first midnight it wakes past), so the GPF's copies are empty
    period = {"StartDateTime": "2026-01-01T00:00:00Z", "EndDateTime": "2026-01-10T00:00:00Z"}
    for srv, use_case in (("4.14", "GCS16b"), ("4.17", "GCS61")):
        outcome = send_request(rig, state, srv, "chf-gpf", period, user="supplier-b")
        assert outcome.response_code == "I0", outcome
        assert outcome.values["use_case"] == use_case, outcome.values
    assert outcome.values["result"] == gbz.ZCL_NOT_FOUND, outcome.values
