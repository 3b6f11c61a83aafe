"""Prepayment on the gas meter (issue 15): CS01b, GCS60 and GCS06 as the DCC transforms them
and PCS01 and PCS02 as the PPMID builds them, byte for byte as RTDS 4.5.0 has them; the
GSME's answers in RTDS's structure; its balance, its refusals (and their alerts) and its
emergency credit; the PPMID's gas keypad against a GSME in-process; and on the running rig
(tests/rigs/dcc.yaml) a top-up through the DCC and one at the PPMID, applied on the GSME's
next wake.

What cannot be byte for byte: the GSME's own MACs and signatures (its private keys are not
public, so its answers are compared by structure), and an ECDSA signature (random).
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest
from conftest import RIGS, rig_cli, vectors, wait_for

from gateway.transform import TransformInput, transform_for
from nodes.config import Behaviour, GbcsConfig, HanConfig, NodeConfig, TrustedCert
from nodes.gpio import Wiring
from nodes.han.relay import HanRelay
from nodes.roles.gsme import KWH_PER_M3, GasMeter
from nodes.roles.ppmid_gas import GasKeypad, GasKeypadError
from rig.dccuser.client import DccUser
from rig.dccuser.readers import read
from rig.description import load_rig
from rig.pki.authority import Pki
from rig.plan.model import Plan
from rig.plan.node_config import gbcs_config
from rig.protocol import utrn
from rig.protocol.codec import unhex
from rig.protocol.duis.message import parse_document
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import alerts, gbz, security
from rig.protocol.gbcs import catalogue as cat
from rig.protocol.gbcs.catalogue_gas import CS01B, GCS06, GCS60, PCS01, PCS02
from rig.protocol.gbcs.cosem import MILLIPENCE
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import check_command, command
from rig.protocol.smki import Usage
from rig.runtime.records import KeyPair

RTDS_SUPPLIER = Eui64.parse("90-B3-D5-1F-30-01-00-00")  # RTDS's originator
ACB = Eui64.parse("90-B3-D5-1F-30-00-00-02")
GSME = Eui64.parse("00-DB-12-34-56-78-90-A1")
PPMID = Eui64.parse("00-DB-12-34-56-78-90-A4")
CHF = Eui64.parse("00-DB-12-34-56-78-90-A2")
RTDS_CS01B_UTRN = "73950067887105178605"  # CS01b_2.2 SUCCESS: £12.50, counter 6 << 32
RTDS_PCS01_UTRN = "73941656880950804485"  # PCS01: £20.25


def _rtds(name: str) -> GbcsMessage:
    folder, file = name.split("/")
    path = vectors("gbcs", "rtds-4.5.0", folder) / f"{file}_GBCS.HEX"
    return GbcsMessage.decode(unhex(path.read_text()))


def _template(name: str):
    return parse_document(vectors("duis", "templates", f"{name}_REQUEST_DUIS.XML").read_bytes())


@pytest.fixture(scope="module")
def store():
    from rig.pki.keystores import load

    return load([vectors("gbcs", "rtds-keystore"), vectors("gbcs", "device-keys")])


def _mac_for_gsme(store, msg: GbcsMessage) -> bytes:
    acb = store.private(ACB, Usage.KA).private_key
    return security.apply_mac(msg, acb, store.get(GSME, Usage.KA).public_key).encode()


# --- the DCC's transforms, byte for byte --------------------------------------------------------
def test_top_up_is_the_rtds_cs01b_command_from_dccs_template(store) -> None:
    fn = transform_for(CS01B)
    assert fn is not None
    counter = 6 << 32  # the UTRN's counter: the command carries the same
    msg = fn(CS01B, TransformInput(_template("CS01b_2.2_SUCCESS"), counter, RTDS_SUPPLIER, GSME))
    rtds = _rtds("2.2_CS01b/CS01b_2.2_SUCCESS_COMMAND")
    assert _mac_for_gsme(store, msg) == rtds.encode()  # stated: the counter, the ACB's MAC
    assert check_command(rtds, cat.CATALOGUE) is CS01B
    # the ERROR command carries a mistyped UTRN in the same frame
    assert check_command(_rtds("2.2_CS01b/CS01b_2.2_ERROR_COMMAND"), cat.CATALOGUE) is CS01B


@pytest.mark.parametrize(("counter", "name"), [(1000, "SUCCESS"), (1001, "ERROR")])
def test_read_meter_balance_is_the_rtds_gcs60_command(store, counter: int, name: str) -> None:
    fn = transform_for(GCS60)
    assert fn is not None
    msg = fn(GCS60, TransformInput(_template("GCS60_4.18_SUCCESS"), counter, RTDS_SUPPLIER, GSME))
    assert _mac_for_gsme(store, msg) == _rtds(f"4.18_GCS60/GCS60_4.18_{name}_COMMAND").encode()


def test_emergency_credit_is_the_rtds_gcs06_pre_command() -> None:
    fn = transform_for(GCS06)
    assert fn is not None
    pre = fn(GCS06, TransformInput(_template("GCS06_2.5_SUCCESS"), 1000, RTDS_SUPPLIER, GSME))
    assert pre.is_pre_command  # critical: the DCC User signs it (CV 5)
    assert pre.encode() == _rtds("2.5_GCS06/GCS06_2.5_SUCCESS_PRECOMMAND").encode()
    signed = _rtds("2.5_GCS06/GCS06_2.5_SUCCESS_COMMAND")
    assert check_command(signed, cat.CATALOGUE) is GCS06


def test_a_top_up_whose_code_is_not_twenty_digits_is_not_cs01b() -> None:
    with pytest.raises(ValueError, match="takes 20 bytes"):
        command(CS01B, 1 << 32, RTDS_SUPPLIER.raw, GSME.raw, b"1234")
    good = command(CS01B, 1 << 32, RTDS_SUPPLIER.raw, GSME.raw, b"1" * 20)
    short = good.payload.replace(b"\x14" + b"1" * 20, b"\x13" + b"1" * 19)
    forged = GbcsMessage.build(good.cra, 1 << 32, RTDS_SUPPLIER.raw, GSME.raw, 0x0097, short)
    with pytest.raises(Exception, match="not the one GBCS defines"):
        check_command(forged, cat.CATALOGUE)


# --- devices in-process ---------------------------------------------------------------------
def _node(state: Path, name: str, eui: Eui64, gbcs: GbcsConfig, **behaviour: Any) -> NodeConfig:
    state.mkdir(parents=True, exist_ok=True)
    return NodeConfig(
        name=name,
        role=cast(Any, name),
        eui=eui,
        state_dir=state,
        health_bind="127.0.0.1",
        health_port=0,
        han=HanConfig(11, 0x1234, CHF, install_code=bytes(18), gsme=GSME),
        hub_eui=CHF,
        behaviour=Behaviour(**behaviour),
        gbcs=gbcs,
    )


class Keypad(GasKeypad):
    """The PPMID's gas keypad alone (the PPMID role mixes it in)."""

    device_type = "PPMID"


def test_the_ppmids_pcs01_and_pcs02_are_rtdss_bytes_mac_included(tmp_path: Path) -> None:
    """With the PPMID's published keys, PCS01 and PCS02 match RTDS whole: the MAC is
    deterministic for a given counter (stated: RTDS's counter 10000)."""
    keystore, keys = vectors("gbcs", "rtds-keystore"), vectors("gbcs", "device-keys")
    gbcs = GbcsConfig(
        KeyPair(keystore / "00db1234567890a4-ds.pem", keys / "00db1234567890a4-ds.key"),
        KeyPair(keystore / "00db1234567890a4-ka.pem", keys / "00db1234567890a4-ka.key"),
        ACB,
        (TrustedCert(GSME, Usage.KA, keystore / "00db1234567890a1-ka.pem"),),
    )
    keypad = Keypad(_node(tmp_path / "ppmid", "ppmid", PPMID, gbcs), Wiring({}))
    top_up = keypad.gas_command(PCS01, 10000, RTDS_PCS01_UTRN.encode())
    assert top_up.encode() == _rtds("NA_PCS01/PCS01_NA_SUCCESS_COMMAND").encode()
    emergency = keypad.gas_command(PCS02, 10000, None)
    assert emergency.encode() == _rtds("NA_PCS02/PCS02_NA_SUCCESS_COMMAND").encode()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory):
    """A PKI of the test rig (tests/rigs/dcc.yaml): the GSME's and PPMID's keys and
    certificates, the suppliers' and the ACB's, as `rig up` makes them."""
    rig = load_rig(RIGS / "dcc.yaml")
    pki = Pki(tmp_path_factory.mktemp("gas-pki") / "pki")
    pki.ensure(rig, [])
    return rig, pki


class Hub:
    """The CHF's side of the two tunnels in-process: what goes to the sleepy GSME is queued
    until it wakes, the rest relayed as :class:`nodes.han.relay.HanRelay` decides; what is
    not for a device on the HAN goes up the WAN (``up``)."""

    def __init__(self) -> None:
        self.devices: dict[Eui64, Any] = {}
        self.queued: list[bytes] = []
        self.up: list[GbcsMessage] = []
        self.to_ppmid: list[GbcsMessage] = []  # the GSME's answers, relayed
        self.relay = HanRelay(cast(Any, self))

    @property
    def peers(self) -> dict[Eui64, Any]:
        return self.devices

    def attach(self, device: Any) -> None:
        self.devices[device.config.eui] = device
        hub = self

        class Tunnel:
            async def put(self, gbcs: bytes) -> None:
                await hub.from_device(device.config.eui, gbcs)

        device.tunnel = Tunnel()
        device.tunnel_ready.set()

    async def send(self, eui: Eui64, gbcs: bytes) -> str:
        if eui == GSME:
            self.queued.append(gbcs)
            return "queued"
        self.to_ppmid.append(GbcsMessage.decode(gbcs))
        assert await self.devices[eui].handle_gbcs(gbcs) is None
        return "sent"

    async def from_device(self, eui: Eui64, gbcs: bytes) -> None:
        if not await self.relay.route(eui, gbcs):
            self.up.append(GbcsMessage.decode(gbcs))

    async def wake(self) -> int:
        """The GSME's next wake: it takes what waits for it and answers each."""
        count = 0
        while self.queued:
            answer = await self.devices[GSME].handle_gbcs(self.queued.pop(0))
            count += 1
            if answer is not None:
                await self.from_device(GSME, answer)
        await self.devices[GSME].send_alerts()  # before it sleeps again
        return count

    async def alert(self, code: int) -> GbcsMessage | None:
        """The alert ``code`` up the WAN, once the meter's alert task has run (within 1 s)."""
        for _ in range(100):
            found = [m for m in self.up if alerts.alert_code(m) == code]
            if found:
                return found[-1]
            await asyncio.sleep(0.01)
        return None


class Gas:
    """A GSME (no gas flowing, so its balance moves only with what a test does), a PPMID,
    their hub, and the keys a supplier and the DCC hold."""

    def __init__(self, pki_fixture, tmp_path: Path, **behaviour: Any) -> None:
        rig, self.pki = pki_fixture
        nodes = {n.name: n for n in rig.nodes}
        self.supplier = next(u.eui for u in rig.users if u.name == "supplier-b")
        self.hub = Hub()
        self.counter = 1 << 48  # the supplier's request counter
        self.gsme = GasMeter(
            _node(
                tmp_path / "gsme",
                "gsme",
                GSME,
                cast(GbcsConfig, gbcs_config(rig, self.pki, nodes["gsme"])),
                **{"flow_m3h": 0.0, **behaviour},
            ),
            Wiring({}),
        )
        self.ppmid = Keypad(
            _node(
                tmp_path / "ppmid",
                "ppmid",
                PPMID,
                cast(GbcsConfig, gbcs_config(rig, self.pki, nodes["ppmid"])),
            ),
            Wiring({}),
        )
        self.hub.attach(self.gsme)
        self.hub.attach(self.ppmid)

    def key(self, eui: Eui64, usage: Usage, device: bool = False):
        cred = self.pki.device(eui, usage) if device else self.pki.org(eui, usage)
        return cred.load_key()

    def public(self, eui: Eui64, usage: Usage, device: bool = False):
        cred = self.pki.device(eui, usage) if device else self.pki.org(eui, usage)
        return cred.load_cert().public_key()

    def utrn(self, pounds: int, counter_block: int, key=None) -> str:
        top_up = utrn.TopUp(pounds, utrn.ValueClass.POUNDS, counter_block << 32)
        pp = key or self.key(self.supplier, Usage.PP_KA)
        return utrn.make(
            top_up, self.supplier.raw, GSME.raw, pp, self.public(GSME, Usage.KA, device=True)
        )

    def command(self, uc, argument: Any = None) -> bytes:
        """A command from the supplier to the GSME as the DCC delivers it, with the
        supplier's next counter."""
        self.counter += 1
        msg = command(uc, self.counter, self.supplier.raw, GSME.raw, argument)
        if uc.critical:
            msg = security.sign_message(msg, self.key(self.supplier, Usage.DS))
        acb = self.key(ACB, Usage.KA)
        return security.apply_mac(msg, acb, self.public(GSME, Usage.KA, device=True)).encode()

    async def ask(self, uc, argument: Any = None) -> GbcsMessage:
        answer = await self.gsme.handle_gbcs(self.command(uc, argument))
        await self.gsme.send_alerts()  # as on the wake that brought the command
        assert answer is not None, f"the GSME discarded {uc.name}"
        return GbcsMessage.decode(answer)

    def read(self, msg: GbcsMessage) -> dict[str, Any]:
        return read(
            msg,
            user_ka=self.key(self.supplier, Usage.KA),
            device_ka=self.public(GSME, Usage.KA, device=True),
            device_ds=self.public(GSME, Usage.DS, device=True),
        )

    async def balance(self) -> dict[str, Any]:
        return self.read(await self.ask(GCS60))

    async def close(self) -> None:
        for role in (self.gsme, self.ppmid):
            await role.stop()


@pytest.fixture
async def gas(pki, tmp_path: Path):
    setup = Gas(pki, tmp_path)
    yield setup
    await setup.close()


def _shape(msg: GbcsMessage) -> tuple:
    """A message's structure: what RTDS's and ours must share, values and parties aside."""
    h = msg.header
    components = tuple(
        (c.control, c.cluster, c.zcl.frame_control, c.zcl.sequence, c.zcl.command, len(c.payload))
        for c in gbz.decode(msg.payload).components
    )
    protection = "mac" if msg.mac is not None else "signature" if msg.signature else None
    return (h.cra, h.message_code, h.date_time is not None, protection, components)


async def test_the_gsme_answers_in_rtdss_structure_and_reads_back(gas: Gas) -> None:
    start = gas.gsme.credit.pence if gas.gsme.credit else 0
    ok = await gas.ask(CS01B, gas.utrn(12, 6).encode())
    assert _shape(ok) == _shape(_rtds("2.2_CS01b/CS01b_2.2_SUCCESS_RESPONSE"))
    top_up = gas.read(ok)
    assert top_up["authenticated_by"] == "mac" and top_up["result"] == 0
    assert top_up["top_up_pence"] == 1200 and top_up["meter_balance_pence"] == start + 1200

    balance = await gas.ask(GCS60)
    assert _shape(balance) == _shape(_rtds("4.18_GCS60/GCS60_4.18_SUCCESS_RESPONSE"))
    out = gas.read(balance)
    assert out["result"] == 0 and out["meter_balance_pence"] == start + 1200
    assert isinstance(out["meter_balance_pence"], int) and out["bill_to_date_millipence"] == 0

    refused = await gas.ask(GCS06)  # £32 is far above the emergency credit threshold
    assert _shape(refused) == _shape(_rtds("2.5_GCS06/GCS06_2.5_ERROR_RESPONSE"))
    assert gas.read(refused)["result"] == gbz.ZCL_FAILURE  # GBCS: FAILURE, not on offer

    again = await gas.ask(CS01B, gas.utrn(12, 6).encode())  # the same UTRN
    assert _shape(again) == _shape(_rtds("2.2_CS01b/CS01b_2.2_ERROR_RESPONSE"))
    assert gas.read(again)["result"] == gbz.TopUpResult.REJECTED_DUPLICATE_TOP_UP


async def test_emergency_credit_on_offer_is_activated_in_rtdss_structure(gas: Gas) -> None:
    credit = gas.gsme.credit
    assert credit is not None
    threshold = credit.settings.emergency_credit_threshold_pence
    credit.millipence = (threshold - 10) * MILLIPENCE + 1
    credit.spend(1.0, 1.0)  # one millipence of gas: the meter sees the credit is low
    answer = await gas.ask(GCS06)
    assert _shape(answer) == _shape(_rtds("2.5_GCS06/GCS06_2.5_SUCCESS_RESPONSE"))
    out = gas.read(answer)
    assert out["authenticated_by"] == "signature" and out["result"] == 0
    assert await gas.hub.alert(cat.EMERGENCY_CREDIT_ACTIVATED) is not None


@pytest.mark.parametrize(
    ("case", "code", "result"),
    [
        ("the same UTRN again", cat.UTRN_DUPLICATE, gbz.TopUpResult.REJECTED_DUPLICATE_TOP_UP),
        ("signed with another key", cat.UTRN_NOT_AUTHENTIC, 1),
        ("over the maximum credit", cat.UTRN_EXCEEDS_MAX_CREDIT, 4),
    ],
)
async def test_a_refused_top_up_leaves_the_balance_and_raises_its_alert(
    gas: Gas, case: str, code: int, result: int
) -> None:
    first = gas.utrn(10, 20)
    assert gas.read(await gas.ask(CS01B, first.encode()))["result"] == 0
    before = (await gas.balance())["meter_balance_millipence"]
    text = {
        "the same UTRN again": first,
        "signed with another key": gas.utrn(10, 21, key=gas.key(gas.supplier, Usage.KA)),
        "over the maximum credit": gas.utrn(5000, 22),
    }[case]
    answer = await gas.ask(CS01B, text.encode())
    assert gas.read(answer)["result"] == result, case
    assert (await gas.balance())["meter_balance_millipence"] == before, case
    alert = await gas.hub.alert(code)
    assert alert is not None, case
    out = gas.read(alert)  # a GBZ generic critical alert, signed with the GSME's DS key
    assert out["use_case"] == "GCA" and out["authenticated_by"] == "signature"
    assert out["alert_code"] == f"{code:04X}" and alert.header.recipient == gas.supplier.raw


def test_the_gsmes_generic_alerts_are_rtdss_gbz_alerts(store) -> None:
    """GNCA (MAC'd): all but the MAC, which needs the GSME's key; GCA: all but the
    signature."""
    device_ka = store.private(PPMID, Usage.KA).private_key  # any key: the MAC is left out
    for folder, uc, signed in (
        ("NA_GNCA-ZigBee/GNCA-ZigBee_NA_810E_ALERT", cat.GNCA, False),
        ("NA_GCA-ZigBee/GCA-ZigBee_NA_8F30_ALERT", cat.GCA, True),
    ):
        rtds = _rtds(folder)
        h = rtds.header
        code = alerts.alert_code(rtds)
        when = gbz.from_zigbee_time(gbz.decode(rtds.payload, alert=True).alert_time or 0)
        ours = alerts.gbz_alert(
            uc,
            h.counter,
            h.originator,
            h.recipient,
            when,
            device_ka,
            device_ka,
            store.get(RTDS_SUPPLIER, Usage.KA).public_key,
            code=code,
        )
        if signed:
            assert ours.signed_part() == rtds.signed_part()
        else:
            assert ours.encode()[:-12] == rtds.encode()[:-12]


async def test_the_gas_balance_falls_with_the_flow_at_the_price(
    pki, tmp_path: Path, monkeypatch
) -> None:
    """0.5 m3 at 10 p/kWh and 11.2 kWh/m3 is 56 p; what the balance loses is on the bill."""
    setup = Gas(pki, tmp_path, flow_m3h=1800.0, price_p_kwh=10.0)  # half a m3 a second
    meter, credit = setup.gsme, setup.gsme.credit
    assert credit is not None
    start = credit.millipence
    clock = meter._at  # the meter's clock stands still but for the second the test moves it
    meter._at -= 1.0  # a second of gas, as if it had flowed
    with monkeypatch.context() as frozen:  # (only around the read: asyncio keeps its clock)
        frozen.setattr("nodes.roles.gsme.time.monotonic", lambda: clock)
        meter.register()
    used = start - credit.millipence
    assert used == pytest.approx(0.5 * KWH_PER_M3 * 10.0 * 1000, abs=1)  # 56p
    assert meter.bill_millipence == used
    meter.valve_open = False
    meter._at -= 5.0
    meter.register()
    assert credit.millipence == start - used  # the valve is closed: no gas, nothing spent
    await setup.close()


# --- the PPMID's gas keypad against the GSME, in-process -----------------------------------------
async def test_a_ppmid_top_up_reaches_the_gsme_on_its_next_wake(gas: Gas) -> None:
    assert gas.gsme.credit is not None
    before = gas.gsme.credit.pence
    code = gas.utrn(7, 50)
    keyed = asyncio.create_task(gas.ppmid.gas_top_up(code, timeout=10))
    assert await asyncio.to_thread(wait_for, lambda: gas.hub.queued, 5)  # held for the GSME
    await asyncio.sleep(0.05)
    assert not keyed.done()  # the GSME sleeps: nothing is applied yet
    assert gas.gsme.credit.pence == before
    assert await gas.hub.wake() == 1
    record = await keyed
    assert record["target"] == "gsme" and record["result"] == "accepted"
    assert record["top_up_pence"] == 700 and record["balance_pence"] == before + 700
    assert record["waited_s"] > 0 and gas.gsme.credit.pence == before + 700
    (answer,) = gas.hub.to_ppmid  # MAC'd for the PPMID, as RTDS's
    assert _shape(answer) == _shape(_rtds("NA_PCS01/PCS01_NA_SUCCESS_RESPONSE"))
    added = await gas.hub.alert(cat.CREDIT_ADDED_LOCALLY)  # to the supplier, as GNCA
    assert added is not None and added.mac is not None
    assert gas.read(added)["use_case"] == "GNCA"

    again = asyncio.create_task(gas.ppmid.gas_top_up(code, timeout=10))
    await asyncio.to_thread(wait_for, lambda: gas.hub.queued, 5)
    await gas.hub.wake()
    refused = await again
    assert refused["result"] == "refused" and refused["status"] == 2  # duplicate
    assert gas.gsme.credit.pence == before + 700
    assert await gas.hub.alert(cat.UTRN_DUPLICATE) is not None


async def test_ppmid_emergency_credit_and_a_sleeping_gsme(gas: Gas) -> None:
    keyed = asyncio.create_task(gas.ppmid.gas_emergency_credit(timeout=10))
    await asyncio.to_thread(wait_for, lambda: gas.hub.queued, 5)
    await gas.hub.wake()
    record = await keyed
    assert record["result"] == "refused" and record["status"] == gbz.ZCL_FAILURE  # not offered
    (answer,) = gas.hub.to_ppmid
    assert _shape(answer) == _shape(_rtds("NA_PCS02/PCS02_NA_SUCCESS_RESPONSE"))
    with pytest.raises(GasKeypadError, match="next wake"):
        await gas.ppmid.gas_top_up(gas.utrn(1, 60), timeout=0.2)  # the GSME never wakes


async def test_a_pcs01_that_is_not_from_a_trusted_ppmid_is_discarded(gas: Gas) -> None:
    assert gas.ppmid.gbcs is not None
    msg = command(PCS01, 5, PPMID.raw, GSME.raw, gas.utrn(1, 70).encode())
    stranger = gas.key(gas.supplier, Usage.KA)  # not the PPMID's key
    forged = security.apply_mac(msg, stranger, gas.public(GSME, Usage.KA, device=True))
    assert await gas.gsme.handle_gbcs(forged.encode()) is None
    assert gas.gsme.gbcs is not None and gas.gsme.gbcs.discarded == 1


# --- on the running rig ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def env(dcc_rig):
    return dcc_rig


def _cli_json(env, *args: str) -> tuple[int, dict]:
    proc = rig_cli(*args, "--json", "--rig", str(env["file"]), state=env["dir"], timeout=120)
    assert proc.stdout.strip(), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def _gas_balance(env) -> dict[str, int]:
    code, out = _cli_json(env, "supplier", "send", "4.18", "--target", "gsme")
    assert code == 0 and out["values"]["use_case"] == "GCS60", out
    return out["values"]


def _money(values: dict[str, int]) -> int:
    """Balance plus bill to date: what moves with top-ups only (gas moves one to the other)."""
    return values["meter_balance_millipence"] + values["bill_to_date_millipence"]


def test_a_5_pound_top_up_through_the_dcc_adds_exactly_500_pence(env) -> None:
    """The gas flows meanwhile (7.2 is no GSME service here): what it cost is on the bill, so
    balance plus bill rises by exactly the top-up, and the balance by that less the gas."""
    before = _gas_balance(env)
    assert isinstance(before["meter_balance_pence"], int)
    code, out = _cli_json(env, "supplier", "topup", "--target", "gsme", "--amount", "5")
    assert code == 0 and out["values"]["result"] == 0, out
    assert out["values"]["use_case"] == "CS01b" and out["values"]["top_up_pence"] == 500
    after = _gas_balance(env)
    assert _money(after) - _money(before) == 500 * MILLIPENCE
    gas = after["bill_to_date_millipence"] - before["bill_to_date_millipence"]
    assert 0 <= gas < 10 * MILLIPENCE  # under 10p of gas between the reads (about 1.6p/min)
    assert after["meter_balance_millipence"] - before["meter_balance_millipence"] == (
        500 * MILLIPENCE - gas
    )
    # the same UTRN again: refused as a duplicate, balance plus bill unchanged, 8F51 raised
    code, dup = _cli_json(env, "supplier", "topup", "--target", "gsme", "--utrn", out["utrn"])
    assert code == 1 and dup["values"]["result"] == 2, dup
    assert _money(_gas_balance(env)) == _money(after)
    assert _gsme_alert(env, "8F51", since=time.time() - 120)


def test_emergency_credit_not_on_offer_is_refused_by_the_gsme_through_the_dcc(env) -> None:
    """2.5 for the GSME is GCS06: critical (signed by the supplier, CV 5), answered with the
    GSME's signature; with £20 on the meter no emergency credit is on offer: FAILURE."""
    before = _money(_gas_balance(env))
    code, out = _cli_json(env, "supplier", "send", "2.5", "--target", "gsme")
    assert code == 0 and out["values"]["use_case"] == "GCS06", out  # delivered, and answered
    assert out["values"]["authenticated_by"] == "signature"
    assert out["values"]["result"] == gbz.ZCL_FAILURE
    assert _money(_gas_balance(env)) == before


def _gsme_alert(env, code: str, since: float) -> dict | None:
    """The GSME's alert ``code`` in the gas supplier's inbox (waiting up to 30 s), read."""
    client = DccUser.from_state(env["dir"], "supplier-b")

    async def poll() -> dict | None:
        async with aiohttp.ClientSession() as session:
            for _ in range(30):
                for e in await client.inbox(session, kind="DeviceAlertMessage"):
                    doc = client.verify(Path(e["file"]).read_bytes())
                    sender = doc.response_id.originator if doc.response_id else None
                    if e["at"] >= since and sender == GSME and doc.alert_code == code:
                        return await client.read_gbcs(session, doc.gbcs_payload)
                await asyncio.sleep(1)
        return None

    return asyncio.run(poll())


def _gas_utrn(env, pence: int) -> str:
    client = DccUser.from_state(env["dir"], "supplier-b")
    pp = client.keys.private(client.eui, Usage.PP_KA)
    assert pp is not None and pp.private_key is not None

    async def meter_key():
        async with aiohttp.ClientSession() as session:
            return (await client.device_certificate(session, GSME, Usage.KA)).public_key()

    top = utrn.TopUp(pence, utrn.ValueClass.PENNIES, client.next_utrn_counter())
    return utrn.make(top, client.eui.raw, GSME.raw, pp.private_key, asyncio.run(meter_key()))


def test_a_ppmid_top_up_of_the_gsme_is_applied_on_its_next_wake(env) -> None:
    before = _gas_balance(env)
    code = _gas_utrn(env, 321)
    address = Plan.load(env["state"]).component("ppmid").address
    req = urllib.request.Request(
        f"http://{address}/ppmid/topup?target=gsme&code={code}", method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=90) as rsp:
            record = json.loads(rsp.read())
    except urllib.error.HTTPError as err:
        raise AssertionError(f"the PPMID said {err.code}: {err.read()!r}") from None
    assert record["target"] == "gsme" and record["result"] == "accepted", record
    assert record["top_up_pence"] == 321 and record["waited_s"] > 0
    after = _gas_balance(env)
    assert _money(after) - _money(before) == 321 * MILLIPENCE
    assert _gsme_alert(env, "810E", since=time.time() - 120)  # credit added locally


async def test_the_valve_closes_when_the_credit_is_exhausted_and_the_consumer_reopens_it(
    pki, tmp_path: Path
) -> None:
    """Half a cubic metre a second at 10 p/kWh is 56p a second: 30p and 10p of emergency
    credit (not taken) run out in a second; the valve closes (8F0F, 8F57 to the supplier);
    a top-up arms it (8F32); the restore button opens it."""
    setup = Gas(
        pki, tmp_path, flow_m3h=1800.0, price_p_kwh=10.0, credit_pence=30,
        low_credit_pence=20, emergency_credit_pence=10, emergency_credit_threshold_pence=15,
    )  # fmt: skip
    meter = setup.gsme
    meter.wiring = Wiring({"valve": "GPIO17", "button.restore": "GPIO23"})
    await meter.start()
    try:
        assert meter.wiring.output("valve").value == 1  # type: ignore[union-attr]
        meter._at -= 1.0  # a second of gas, as if it had flowed
        meter.register()
        assert not meter.valve_open and meter.wiring.output("valve").value == 0  # type: ignore[union-attr]
        await meter.send_alerts()
        for code in (0x810D, 0x8119, 0x8F0F, 0x8F57):
            assert await setup.hub.alert(code) is not None, f"no {code:04X}"
        meter._at -= 5.0
        meter.register()  # closed: nothing flows, nothing is spent
        assert meter.supply == "disabled"
        meter.wiring.press("button.restore")  # not armed: the button does nothing
        await asyncio.sleep(0.05)
        assert not meter.valve_open
        top_up = await setup.ask(CS01B, setup.utrn(1, 40).encode("ascii"))
        assert setup.read(top_up)["result"] == 0
        assert meter.armed and not meter.valve_open
        assert await setup.hub.alert(0x8F32) is not None
        meter.wiring.press("button.restore")
        await asyncio.sleep(0.05)
        assert meter.valve_open and meter.wiring.output("valve").value == 1  # type: ignore[union-attr]
        assert meter.supply == "enabled"
    finally:
        await setup.close()
