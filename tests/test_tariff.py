"""The ESME's tariff, byte for byte as RTDS 4.5.0 has it: 1.1.1 Update Import Tariff (ECS01a)
from each of DCC's templates is RTDS's command; the ESME answers it as RTDS does and 4.11.1
(ECS24) reads it back; the rate the switching table puts in force at the meter's time takes
the energy the meter imports (its TOU register advances) and its price is what the meter
charges and what the IHD reads; a future-dated tariff is held (across a restart) until its
time, then activated with RTDS's 8F66 alerts, and a cancellation drops it; and 1.1.1, 4.11.1
and 4.1.2 through the running rig, the IHD showing the new price."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import component_detail, rig_cli, wait_for
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.transform import TransformInput, transform_for
from gateway.transform.registry import TransformRefused
from nodes.gbcs.cosem_server import CosemServer, Invocation
from nodes.gbcs.handlers import handler_for
from nodes.roles.credit import Credit
from nodes.roles.reads import EnergyReads, serve_reads
from nodes.roles.tariff import Tariff, carry_out, serve_tariff
from rig.dccuser.readers import read
from rig.protocol.duis import codes
from rig.protocol.duis.message import parse_document
from rig.protocol.duis.xml import NS
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import access, dlms, security
from rig.protocol.gbcs.catalogue import CATALOGUE
from rig.protocol.gbcs.catalogue_tariff import (
    ACTIVATED,
    AT_ONCE,
    ECS01A,
    ECS01B,
    ECS01D,
    ECS04A,
    ECS24,
    ECS24B,
    ELEMENTS,
    USE_CASES,
)
from rig.protocol.gbcs.dlms import AccessRequest, Data, DataType
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, check_command
from rig.protocol.smki import Usage
from tests.conftest import vectors
from tests.test_usecases import ACB, ESME, JAN_2015, SUPPLIER, _context, _rtds

SET = "1.1.1_ECS01a/ECS01a_1.1.1_{}_SUCCESS_{}"
PRICE = "1.2.1_ECS01b/ECS01b_1.2.1_{}_SUCCESS_{}"
RTDS_OF = {"ECS01a": SET, "ECS01b": PRICE}
READ = "4.11.1_ECS24/ECS24_4.11.1_SUCCESS_{}"
CASES = ("IMMEDIATE_TOU", "IMMEDIATE_BLOCK", "FUTURE_DATED_TOU_BLOCK", "CANCELLATION_TOU_BLOCK")
ESME_DS = ec.generate_private_key(ec.SECP256R1())
MONDAY = dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.UTC)  # in the templates' summer week


@pytest.fixture(scope="module")
def store():
    from rig.pki.keystores import load

    return load([vectors("gbcs", "rtds-keystore"), vectors("gbcs", "device-keys")])


def _template(case: str, uc: UseCase | None = None):
    folder = RTDS_OF[(uc or ECS01A).name].split("/")[0]
    srv, name = folder.split("_")
    file = f"{name}_{srv}_{case}_SUCCESS_REQUEST_DUIS.XML"
    return parse_document(vectors("duis", "templates", file).read_bytes())


def _transform(uc: UseCase, request, counter: int) -> GbcsMessage:
    fn = transform_for(uc)
    assert fn is not None, f"{uc.name} has no transform"
    return fn(uc, TransformInput(request, counter, SUPPLIER, ESME))


# --- the DCC's transforms -----------------------------------------------------------------------
@pytest.mark.parametrize("uc", [ECS01A, ECS01B], ids=lambda uc: uc.name)
@pytest.mark.parametrize("case", CASES)
def test_each_1_1_1_and_1_2_1_template_is_rtds_pre_command(uc, case) -> None:
    path = RTDS_OF[uc.name]
    rtds = GbcsMessage.decode(_rtds(path.format(case, "PRECOMMAND")))
    ours = _transform(uc, _template(case, uc), rtds.header.counter)
    assert ours.is_pre_command and ours.encode() == rtds.encode()
    assert check_command(GbcsMessage.decode(_rtds(path.format(case, "COMMAND"))), CATALOGUE) is uc


def test_4_11_1_is_rtds_ecs24_with_the_acb_mac(store) -> None:
    rtds = GbcsMessage.decode(_rtds(READ.format("COMMAND")))
    name = "ECS24_4.11.1_SUCCESS_REQUEST_DUIS.XML"
    request = parse_document(vectors("duis", "templates", name).read_bytes())
    ours = _transform(ECS24, request, rtds.header.counter)
    acb_ka = store.private(ACB, Usage.KA).private_key
    maced = security.apply_mac(ours, acb_ka, store.get(ESME, Usage.KA).public_key)
    assert maced.encode() == rtds.encode()
    assert CATALOGUE.for_srv("4.11.1", "ESME") is ECS24 and CATALOGUE.for_srv("1.1.1", "ESME")


def test_a_price_beyond_a_long_or_no_electricity_prices_is_refused() -> None:
    request = _template("IMMEDIATE_TOU")
    price = request.body.find(".//sr:TOUPrice", NS)
    price.text = "40000"
    with pytest.raises(TransformRefused, match="does not fit a DLMS long") as refused:
        _transform(ECS01A, request, 1)
    assert refused.value.code == codes.NOT_DUIS
    prices = request.body.find("sr:PriceElements", NS)
    request.body.remove(prices)
    with pytest.raises(TransformRefused, match="ElectricityPriceElements") as refused:
        _transform(ECS01A, request, 2)
    assert refused.value.code == codes.WRONG_DEVICE_TYPE


# --- the ESME -----------------------------------------------------------------------------------
class _Meter:
    """The ESME as its tariff and reads see it: a COSEM server, a state folder, a behaviour
    (its price), an import register the test advances, and what it sends up."""

    def __init__(self, state_dir: Path, price_p_kwh: float = 28.5, wh: int = 0) -> None:
        self.cosem = CosemServer()
        self.config = SimpleNamespace(state_dir=state_dir, eui=ESME)
        self.behaviour = SimpleNamespace(
            price_p_kwh=price_p_kwh, load_w=500.0, standing_charge_p_day=45.0
        )
        self.wh = wh
        self.sent: list[bytes] = []
        self.gbcs = None
        self._tasks: list = []

    def metering(self) -> dict:
        return {"current_summ_delivered": self.wh}

    async def send_up(self, message: bytes) -> None:
        self.sent.append(message)


def _esme(state_dir: Path, **kw) -> tuple[_Meter, Tariff, EnergyReads]:
    meter = _Meter(state_dir, **kw)
    reads = serve_reads(meter)
    tariff = serve_tariff(meter)
    assert reads is not None and tariff is not None
    return meter, tariff, reads


def _answer(store, meter: _Meter, uc: UseCase, cmd: GbcsMessage, when=JAN_2015) -> GbcsMessage:
    tables = SimpleNamespace(
        cosem=meter.cosem,
        zcl=None,
        tariff=getattr(meter, "tariff", None),
        tariff_stores=getattr(meter, "tariff_stores", ()),
    )
    # the ESME's DS key is not public: one of the test's own signs its answers
    ctx = replace(_context(store, ESME, tables, when), ds=ESME_DS)
    return asyncio.run(handler_for(uc)(uc, cmd, ctx))


def _read(store, msg: GbcsMessage) -> dict:
    return read(
        msg,
        user_ka=store.private(SUPPLIER, Usage.KA).private_key,
        device_ka=store.get(ESME, Usage.KA).public_key,
        device_ds=ESME_DS.public_key(),
    )


def _fits(ours: Data, theirs: Data) -> bool:
    """Whether ``ours`` has the structure of ``theirs``: the same types, an array's
    elements each of the structure of the other's first (whatever the lengths)."""
    if ours.type is not theirs.type:
        return False
    if ours.type is DataType.ARRAY:
        return not theirs.value or all(_fits(o, theirs.value[0]) for o in ours.value)
    if isinstance(ours.value, list):
        pairs = zip(ours.value, theirs.value, strict=False)
        return len(ours.value) == len(theirs.value) and all(_fits(o, t) for o, t in pairs)
    return True


def _set(
    store, meter: _Meter, case: str = "IMMEDIATE_TOU", when=JAN_2015, uc: UseCase = ECS01A
) -> GbcsMessage:
    cmd = GbcsMessage.decode(_rtds(RTDS_OF[uc.name].format(case, "COMMAND")))
    return _answer(store, meter, uc, cmd, when)


def _read_tariff(store, meter: _Meter) -> tuple[GbcsMessage, dict]:
    answer = _answer(store, meter, ECS24, GbcsMessage.decode(_rtds(READ.format("COMMAND"))))
    return answer, _read(store, answer)


@pytest.mark.parametrize("case", ["IMMEDIATE_TOU", "IMMEDIATE_BLOCK"])
def test_the_esme_sets_rtds_tariff_answers_as_rtds_and_ecs24_reads_it_back(
    store, tmp_path, case
) -> None:
    meter, _tariff, _reads = _esme(tmp_path)
    answer = _set(store, meter, case)
    rtds = GbcsMessage.decode(_rtds(SET.format(case, "RESPONSE")))
    assert answer.header == rtds.header  # the counter, the parties, the device's date-time
    assert answer.payload == rtds.payload  # 21 SETs, each a success
    out = _read(store, answer)  # its signature checked
    assert out["result"] == 0 and out["authenticated_by"] == "signature"

    back, out = _read_tariff(store, meter)
    theirs = dlms.decode(GbcsMessage.decode(_rtds(READ.format("RESPONSE"))).payload)
    ours = dlms.decode(back.payload)
    assert isinstance(ours, dlms.AccessResponse) and isinstance(theirs, dlms.AccessResponse)
    assert [r.result for r in ours.results] == [r.result for r in theirs.results]
    assert len(ours.data) == len(theirs.data)
    assert all(_fits(o, t) for o, t in zip(ours.data, theirs.data, strict=True))
    # what ECS01a wrote, activated at once
    written = dlms.decode(GbcsMessage.decode(_rtds(SET.format(case, "COMMAND"))).payload)
    assert isinstance(written, AccessRequest)
    assert ours.data[2:5] == written.data[0:3]  # the switching table
    assert ours.data[15:17] == written.data[13:15]  # the standing charge and the prices
    assert out["currency"] == "GBP" and out["standing_charge"] == 20_000
    if case == "IMMEDIATE_TOU":
        assert out["tou_prices"][:4] == [2121, 3127, 4744, 0] and out["price_scale"] == -5
        assert [s["name"] for s in out["seasons"]] == ["winter", "summer"]
        assert out["special_days"] == [
            {"date": "2015-05-01", "day": 2},
            {"date": "*-12-25", "day": 3},
        ]
    else:
        assert out["block_prices"][0] == [1361, 2289, 5566, 0]
        assert out["thresholds"][0] == [10_000, 20_000, 0xFFFF_FFFF]
        assert out["day_profiles"][0]["actions"] == [{"start": "00:00:00", "block_tariff": 1}]


def test_the_esme_answers_rtds_ecs24_byte_for_byte_once_set_to_rtds_tariff(store, tmp_path) -> None:
    rtds = GbcsMessage.decode(_rtds(READ.format("RESPONSE")))
    theirs = dlms.decode(rtds.payload)
    assert isinstance(theirs, dlms.AccessResponse)
    meter, _tariff, _reads = _esme(tmp_path)
    # RTDS's tariff, written as ECS01a writes it (the values ECS24 answers, in its order)
    active = theirs.data[2:]
    assert isinstance(ECS01A.request, access.Access)
    names = [n for e in ELEMENTS for n in e.names]
    given = dict(zip(names, active, strict=True))
    given.update({f"{e.name}_at": Data(DataType.OCTET_STRING, AT_ONCE) for e in ELEMENTS})
    payload = access.payload(ECS01A.request, 1, given)
    request = dlms.decode(payload)
    assert isinstance(request, AccessRequest)
    cmd = GbcsMessage.decode(_rtds(SET.format("IMMEDIATE_TOU", "COMMAND")))
    _data, results = meter.cosem.execute(request, Invocation(cmd, lambda b: b))
    assert [r.result for r in results] == [0] * 21

    answer, out = _read_tariff(store, meter)
    assert answer.encode() == rtds.encode()
    assert out["day_profiles"][0]["actions"][1] == {"start": "23:00:00", "block_tariff": 2}


def test_a_new_meter_reads_a_one_rate_tariff_at_its_price_and_a_wrong_type_is_refused(
    store, tmp_path
) -> None:
    meter, tariff, _reads = _esme(tmp_path, price_p_kwh=28.5)
    out = _read_tariff(store, meter)[1]
    assert out["tou_prices"][0] * 10 ** (out["price_scale"] + 2) == pytest.approx(28.5)
    assert out["day_profiles"] == [{"day": 1, "actions": [{"start": "00:00:00", "tou_rate": 1}]}]
    assert meter.behaviour.price_p_kwh == 28.5 and not tariff.in_force
    cmd = GbcsMessage.decode(_rtds(SET.format("IMMEDIATE_TOU", "COMMAND")))
    request = dlms.decode(cmd.payload)
    assert isinstance(request, AccessRequest)
    request.data[14] = Data(DataType.LONG, 5)  # the price matrix as a number
    _d, results = meter.cosem.execute(request, Invocation(cmd, lambda b: b))
    assert results[14].result == 12  # type unmatched
    assert _read_tariff(store, meter)[1]["tou_prices"][0] == out["tou_prices"][0]


def _expected_rate(when: dt.datetime) -> int:
    """The rate DCC's IMMEDIATE_TOU template puts in force (its summer week, from
    2015-03-29): weekdays 06:00-23:00 rate 3, else 2; weekends and 25 December rate 1."""
    if when.weekday() >= 5 or (when.month, when.day) == (12, 25):
        return 1
    return 3 if 6 <= when.hour < 23 else 2


@pytest.mark.parametrize(
    "when",
    [
        MONDAY,
        MONDAY.replace(hour=23, minute=30),
        MONDAY.replace(day=1, month=12, hour=3),  # Tuesday, before its first switch
        MONDAY.replace(day=5),  # Saturday
        dt.datetime(2026, 12, 25, 12, tzinfo=dt.UTC),  # a special day (a Friday)
    ],
)
def test_the_switching_table_puts_the_rate_in_force(tmp_path, store, when) -> None:
    meter, tariff, _reads = _esme(tmp_path)
    _set(store, meter)
    assert tariff.action_at(when) == _expected_rate(when)
    # in winter (week 1): weekdays 00:00 rate 2, from 07:00 rate 3
    assert tariff.action_at(dt.datetime(2014, 11, 3, 6, 59, tzinfo=dt.UTC)) == 2
    assert tariff.action_at(dt.datetime(2014, 11, 3, 7, 0, tzinfo=dt.UTC)) == 3


def test_the_energy_goes_to_the_rate_in_force_and_the_price_is_its_own(store, tmp_path) -> None:
    clock = {"now": MONDAY.replace(hour=21)}
    meter = _Meter(tmp_path, wh=1_000)
    reads = serve_reads(meter)
    assert reads is not None
    reads.tou.now = lambda: clock["now"]
    tariff = serve_tariff(meter)
    assert tariff is not None
    reads.tou.advance()  # the first look: the meter's 1 kWh so far is rate 1's (no tariff)
    assert reads.tou.registers[0] == 1_000 and meter.behaviour.price_p_kwh == 28.5
    assert meter.behaviour.standing_charge_p_day == 45.0  # the meter's own, until a tariff

    meter.wh += 500  # imported before the tariff comes: still rate 1's
    _set(store, meter, when=clock["now"])
    tariff.now = lambda: clock["now"]
    assert reads.tou.registers[:3] == [1_500, 0, 0]
    # 22:00 to 24:00: an hour in rate 3, then (23:00) an hour in rate 2
    clock["now"] = MONDAY.replace(hour=22)
    reads.tou.advance()
    meter.wh += 2_000
    clock["now"] = MONDAY.replace(day=1, month=12, hour=0)
    reads.tou.advance()
    assert reads.tou.registers[:3] == [1_500, 1_000, 1_000]
    assert sum(reads.tou.registers) == meter.wh
    # the price charged (and shown on the HAN) is the rate in force's: 3127 x 10^-5 GBP
    assert meter.behaviour.price_p_kwh == pytest.approx(3.127)
    clock["now"] = MONDAY.replace(day=1, month=12, hour=9)
    assert meter.behaviour.price_p_kwh == pytest.approx(4.744)
    # and the tariff's standing charge (20000 x 10^-5 GBP a day), which the HAN shows
    assert meter.behaviour.standing_charge_p_day == pytest.approx(20.0)
    # kept across a restart
    again = _Meter(tmp_path, wh=meter.wh)
    serve_reads(again)
    restarted = serve_tariff(again)
    assert restarted is not None and restarted.in_force
    assert restarted.price_p_kwh(MONDAY) == pytest.approx(4.744)
    assert restarted.standing_charge_p_day() == pytest.approx(20.0)


# --- 1.5: the meter balance ---------------------------------------------------------------------
def test_1_5_adjusts_the_meter_balance_as_rtds_ecs04a(store, tmp_path) -> None:
    rtds = GbcsMessage.decode(_rtds("1.5_ECS04a/ECS04a_1.5_SUCCESS_PRECOMMAND"))
    name = "ECS04a_1.5_SUCCESS_REQUEST_DUIS.XML"
    request = parse_document(vectors("duis", "templates", name).read_bytes())
    assert _transform(ECS04A, request, rtds.header.counter).encode() == rtds.encode()

    meter = _Meter(tmp_path)
    ka = store.private(ESME, Usage.KA).private_key
    meter.credit = Credit(tmp_path / "credit.json", ESME, ka, initial_pence=500)
    serve_tariff(meter)
    cmd = GbcsMessage.decode(_rtds("1.5_ECS04a/ECS04a_1.5_SUCCESS_COMMAND"))
    answer = _answer(store, meter, ECS04A, cmd)
    wanted = GbcsMessage.decode(_rtds("1.5_ECS04a/ECS04a_1.5_SUCCESS_RESPONSE"))
    assert answer.header == wanted.header and answer.payload == wanted.payload
    assert _read(store, answer)["result"] == 0
    # the template's 1,200,000 millipence added, and kept
    again = Credit(tmp_path / "credit.json", ESME, ka)
    assert again.millipence == 500_000 + 1_200_000
    empty = request.body.find("sr:PrepaymentMode", NS)
    request.body.remove(empty)
    with pytest.raises(TransformRefused, match="ResetMeterBalance") as refused:
        _transform(ECS04A, request, 1)
    assert refused.value.code == codes.NOT_DUIS


# --- future-dated and cancelled ------------------------------------------------------------------
def _alert_body(raw: bytes) -> Data:
    notification = dlms.decode(GbcsMessage.decode(raw).payload)
    assert isinstance(notification, dlms.DataNotification)
    return notification.body


def test_a_future_dated_tariff_is_held_across_a_restart_then_activated_with_rtds_alerts(
    store, tmp_path
) -> None:
    meter, tariff, _reads = _esme(tmp_path)
    answer = _set(store, meter, "FUTURE_DATED_TOU_BLOCK")
    rtds = GbcsMessage.decode(_rtds(SET.format("FUTURE_DATED_TOU_BLOCK", "RESPONSE")))
    assert answer.header == rtds.header and answer.payload == rtds.payload
    before = _read_tariff(store, meter)[1]
    assert before["tou_prices"][0] != 2121  # not in force yet
    due = dt.datetime(2030, 1, 15, 9, tzinfo=dt.UTC)
    assert tariff.next_due() == due.timestamp()

    # the meter restarts: what it holds comes back from its state folder
    again, held, _r = _esme(tmp_path)
    assert held.next_due() == due.timestamp()
    endpoint = _Endpoint(store)
    again.gbcs = endpoint
    clock = {"now": due - dt.timedelta(seconds=1)}

    async def run() -> None:
        task = asyncio.create_task(carry_out(again, held, lambda: clock["now"]))
        await asyncio.sleep(0.05)
        assert again.sent == [] and held.next_due() is not None  # not before its time
        clock["now"] = due
        await asyncio.wait_for(task, 5)

    asyncio.run(run())
    assert held.next_due() is None
    after = _read_tariff(store, again)[1]
    assert after["tou_prices"][0] == 2121 and after["block_prices"][0][:2] == [2289, 3546]
    # one 8F66 per element, as RTDS's: each body is RTDS's (the date-time it was due, the
    # ECS01a's counter, the element's activation attribute)
    assert len(again.sent) == len(ACTIVATED)
    for raw, (_element, name) in zip(again.sent, ACTIVATED, strict=True):
        alert = GbcsMessage.decode(raw)
        wanted = GbcsMessage.decode(
            _rtds(f"1.1.1_ECS01a/ECS01a_1.1.1_8F66_FUTURE_DATED_TOU_BLOCK_SUCCESS_ALERT_{name}")
        )
        assert alert.message_code == wanted.message_code == 0x00CC
        assert _alert_body(raw) == _alert_body(wanted.encode())
        assert alert.header == wanted.header  # its counter, parties; no date-time
        security.verify_signature(alert, ESME_DS.public_key())


def test_1_2_1_sets_the_prices_alone_at_once_or_at_its_time_with_rtds_alerts(
    store, tmp_path
) -> None:
    meter, tariff, _reads = _esme(tmp_path)
    _set(store, meter)  # ECS01a's TOU tariff, then ECS01b's prices
    answer = _set(store, meter, "IMMEDIATE_TOU", uc=ECS01B)
    rtds = GbcsMessage.decode(_rtds(PRICE.format("IMMEDIATE_TOU", "RESPONSE")))
    assert answer.header == rtds.header and answer.payload == rtds.payload
    out = _read_tariff(store, meter)[1]
    written = dlms.decode(
        GbcsMessage.decode(_rtds(PRICE.format("IMMEDIATE_TOU", "COMMAND"))).payload
    )
    assert isinstance(written, AccessRequest)
    assert out["tou_prices"][:3] == [
        int(e.value[1].value) for e in written.data[1].value[2].value[:3]
    ]
    assert [s["name"] for s in out["seasons"]] == ["winter", "summer"]  # ECS01a's, kept
    assert tariff.price_p_kwh(MONDAY) == out["tou_prices"][2] / 1000

    _set(store, meter, "FUTURE_DATED_TOU_BLOCK", uc=ECS01B)
    endpoint = _Endpoint(store, 2001)
    meter.gbcs = endpoint
    due = dt.datetime(2030, 1, 15, 9, tzinfo=dt.UTC)
    asyncio.run(carry_out(meter, tariff, lambda: due))
    assert _read_tariff(store, meter)[1]["tou_prices"][0] == 3121
    for raw, name in zip(meter.sent, ("STANDING_CHARGE", "PRICE_MATRIX"), strict=True):
        wanted = GbcsMessage.decode(
            _rtds(f"1.2.1_ECS01b/ECS01b_1.2.1_8F66_FUTURE_DATED_TOU_BLOCK_SUCCESS_ALERT_{name}")
        )
        assert GbcsMessage.decode(raw).header == wanted.header
        assert _alert_body(raw) == _alert_body(wanted.encode())


def test_a_cancellation_drops_the_held_tariff(store, tmp_path) -> None:
    meter, tariff, _reads = _esme(tmp_path)
    _set(store, meter, "FUTURE_DATED_TOU_BLOCK")
    assert tariff.next_due() is not None
    answer = _set(store, meter, "CANCELLATION_TOU_BLOCK")
    rtds = GbcsMessage.decode(_rtds(SET.format("CANCELLATION_TOU_BLOCK", "RESPONSE")))
    assert answer.payload == rtds.payload
    assert tariff.next_due() is None
    again, kept, _r = _esme(tmp_path)
    assert kept.next_due() is None and not kept.in_force
    assert kept.activate_due(dt.datetime(2031, 1, 1, tzinfo=dt.UTC)) == []
    assert _read_tariff(store, again)[1]["tou_prices"][0] != 2121


class _Endpoint:
    """The ESME's GBCS end as the held tariff's alerts need it: DS key, alert counter."""

    def __init__(self, store, counter: int = 2011) -> None:
        self.store, self.counter = store, counter

    def alert(self, uc: UseCase, fields: list[Data], *, code: int, recipient: Eui64) -> bytes:
        from rig.protocol.gbcs import alerts

        self.counter += 1
        return alerts.dlms_alert(
            uc,
            self.counter,
            ESME.raw,
            recipient.raw,
            fields,
            ESME_DS,
            self.store.private(ESME, Usage.KA).private_key,
            code=code,
        ).encode()


# --- on the running rig -------------------------------------------------------------------------
def _tou_body(prices: tuple[int, int, int]):
    body = _template("IMMEDIATE_TOU").body
    for price, value in zip(body.iterfind(".//sr:TOUPrice", NS), prices, strict=True):
        price.text = str(value)
    return body


def _one_rate_body(price_p_kwh: float):
    """A tariff of one rate all year at ``price_p_kwh`` (10^-5 pounds)."""
    body = _template("IMMEDIATE_BLOCK").body
    action = body.find(".//sr:BlockTariffAction", NS)
    action.tag = action.tag.replace("BlockTariffAction", "TOUTariffAction")
    prices = body.find(".//sr:BlockTariff", NS)
    prices.clear()
    prices.tag = prices.tag.replace("BlockTariff", "TOUTariff")
    price = prices.makeelement(prices.tag.replace("TOUTariff", "TOUPrice"), {"index": "1"})
    price.text = str(round(price_p_kwh * 1000))
    prices.append(price)
    return body


def _ihd_shows(env, display: str = "ihd") -> dict:
    """What the in-home display (or the PPMID, whose display reads the ESME alike) shows."""
    return component_detail(env["dir"], display).get("display") or {}


def test_1_1_1_sets_a_tou_tariff_4_11_1_reads_it_the_rate_in_force_advances_and_the_ihd_shows_it(
    dcc_rig,
) -> None:
    from rig.dccuser.client import DccUser
    from rig.dccuser.tasks import default_user, device_of, send_request
    from tests.test_reads import request_body_of

    env = dcc_rig
    esme = device_of(env["rig"], "esme")
    client = DccUser.from_state(env["dir"], default_user(env["rig"], esme, env["state"]))
    prices = (1230, 4560, 7890)  # 10^-5 pounds a kWh: 1.23, 4.56 and 7.89 pence
    # the supply on, and credit for the test's few minutes (earlier tests may have spent it)
    assert rig_cli("supplier", "topup", "--target", "esme", "--amount", "10", "--rig",
                   str(env["file"]), state=env["dir"]).returncode == 0  # fmt: skip
    assert send_request(env["rig"], env["state"], "7.1", "esme", {}).response_code == "I0"
    try:
        out = asyncio.run(client.send("1.1.1", esme, body=_tou_body(prices)))
        assert out.response_code == "I0" and out.values["result"] == 0, out
        assert out.values["authenticated_by"] == "signature"  # critical: the ESME signs
        read_body = parse_document(
            vectors("duis", "templates", "ECS24_4.11.1_SUCCESS_REQUEST_DUIS.XML").read_bytes()
        ).body
        back = asyncio.run(client.send("4.11.1", esme, body=read_body))
        assert back.response_code == "I0" and back.values["result"] == 0, back
        assert back.values["tou_prices"][:4] == [*prices, 0]
        assert [s["name"] for s in back.values["seasons"]] == ["winter", "summer"]

        rate = _expected_rate(dt.datetime.now(dt.UTC))
        price = prices[rate - 1] / 1000
        tou_body = request_body_of("ECS17d_4.1.2_SINGLE")

        def registers() -> list[int]:
            tou = asyncio.run(client.send("4.1.2", esme, body=tou_body))
            assert tou.response_code == "I0" and tou.values["result"] == 0, tou
            return tou.values["tou_registers"]

        first = registers()
        second = wait_for(lambda: (r := registers())[rate - 1] > first[rate - 1] and r, 60)
        assert second, f"rate {rate}'s register did not advance"
        others = [n for n in range(48) if n != rate - 1]
        assert [second[n] for n in others] == [first[n] for n in others]
        # the IHD reads the ESME's Price cluster (the PPMID's display alike): the rate's
        # price, and the tariff's standing charge (DCC's template: 20000 x 10^-5 pounds a day)
        wanted = {"price_pence_per_kwh": price, "standing_charge_pence_per_day": 20.0}

        def shown() -> bool:
            on = _ihd_shows(env)
            return {k: on.get(k) for k in wanted} == wanted

        assert wait_for(shown, 60), (_ihd_shows(env), _ihd_shows(env, "ppmid"))
    finally:  # the ESME back on one rate at its price, for the other tests
        restore = asyncio.run(client.send("1.1.1", esme, body=_one_rate_body(28.5)))
        assert restore.response_code == "I0", restore


# --- 1.1.2, 1.2.2, 4.11.2, 1.5 (reset), 1.6, 1.7 ----------------------------------------------
RTDS_FOLDER = {
    "ECS01c": "1.1.2_ECS01c",
    "ECS01d": "1.2.2_ECS01d",
    "ECS02": "1.6_ECS02",
    "ECS03": "1.6_ECS03",
    "ECS04b": "1.5_ECS04b",
    "ECS05": "1.7_ECS05",
}
ONE_SIX_TWIN = ("FUTURE_DATED_TWIN", "CANCELLATION_TWIN")
DATED = ("FUTURE_DATED", "CANCELLATION")
BY_NAME = {uc.name: uc for uc in USE_CASES}


def _rtds_of(name: str, case: str, kind: str) -> GbcsMessage:
    folder = RTDS_FOLDER[name]
    srv = folder.split("_")[0]
    infix = f"_{case}" if case else ""
    return GbcsMessage.decode(_rtds(f"{folder}/{name}_{srv}{infix}_SUCCESS_{kind}"))


def _request_of(name: str, case: str):
    srv = RTDS_FOLDER[name].split("_")[0]
    infix = f"_{case}" if case else ""
    file = f"{name}_{srv}{infix}_SUCCESS_REQUEST_DUIS.XML"
    return parse_document(vectors("duis", "templates", file).read_bytes())


def _primary(name: str) -> UseCase:
    srv = RTDS_FOLDER[name].split("_")[0]
    uc = CATALOGUE.for_srv(srv, "ESME")
    assert uc is not None
    return uc


@pytest.mark.parametrize(
    ("name", "case"),
    [
        *((n, c) for n in ("ECS01c", "ECS01d") for c in ("IMMEDIATE", *DATED)),
        ("ECS02", "IMMEDIATE_SINGLE"),
        ("ECS03", "IMMEDIATE_SINGLE"),
        ("ECS04b", ""),
        ("ECS05", ""),
    ],
)
def test_each_template_of_the_family_is_rtds_pre_command(name, case) -> None:
    rtds = _rtds_of(name, case, "PRECOMMAND")
    ours = _transform(_primary(name), _request_of(name, case), rtds.header.counter)
    assert ours.is_pre_command and ours.encode() == rtds.encode()
    assert check_command(_rtds_of(name, case, "COMMAND"), CATALOGUE) is BY_NAME[name]


@pytest.mark.parametrize("name", ["ECS02", "ECS03"])
@pytest.mark.parametrize("case", ONE_SIX_TWIN)
def test_a_dated_1_6_is_rtds_twin_command_but_for_the_secondary_elements_charges(
    name, case
) -> None:
    """RTDS's dated 1.6 commands are for a twin element ESME: its credit charge
    configuration also takes the secondary element's price (0-0:19.20.5) from the meter
    balance (and in prepayment mode the emergency credit). The rig's ESME is single element:
    the DCC's command is RTDS's without those entries."""
    rtds = _rtds_of(name, case, "PRECOMMAND")
    ours = _transform(_primary(name), _request_of(name, case), rtds.header.counter)
    theirs, mine = dlms.decode(rtds.payload), dlms.decode(ours.payload)
    assert isinstance(theirs, AccessRequest) and isinstance(mine, AccessRequest)
    assert mine.specs == theirs.specs
    config = next(i for i, d in enumerate(theirs.data) if d.type is DataType.ARRAY)
    secondary = bytes.fromhex("0000131405ff")
    twin = [e for e in theirs.data[config].value if bytes(e.value[1].value) == secondary]
    assert len(twin) == (1 if name == "ECS02" else 2)  # from the balance (and emergency credit)
    single = [e for e in theirs.data[config].value if e not in twin]
    assert mine.data[config].value == single
    assert [d for i, d in enumerate(mine.data) if i != config] == [
        d for i, d in enumerate(theirs.data) if i != config
    ]


def test_4_11_2_is_rtds_ecs24b_with_the_acb_mac(store) -> None:
    rtds = GbcsMessage.decode(_rtds("4.11.2_ECS24b/ECS24b_4.11.2_SUCCESS_COMMAND"))
    name = "ECS24b_4.11.2_SUCCESS_REQUEST_DUIS.XML"
    request = parse_document(vectors("duis", "templates", name).read_bytes())
    ours = _transform(ECS24B, request, rtds.header.counter)
    acb_ka = store.private(ACB, Usage.KA).private_key
    maced = security.apply_mac(ours, acb_ka, store.get(ESME, Usage.KA).public_key)
    assert maced.encode() == rtds.encode()


def test_a_secondary_price_outside_1_to_4_is_refused() -> None:
    request = _request_of("ECS01d", "IMMEDIATE")
    request.body.find(".//sr:ElectricityPriceElement", NS).set("index", "5")
    with pytest.raises(TransformRefused, match="not 1-4") as refused:
        _transform(ECS01D, request, 1)
    assert refused.value.code == codes.NOT_DUIS


def _run(store, meter: _Meter, name: str, case: str = "IMMEDIATE") -> GbcsMessage:
    """RTDS's command of ``name`` answered by the meter, checked against RTDS's answer."""
    answer = _answer(store, meter, BY_NAME[name], _rtds_of(name, case, "COMMAND"))
    rtds = _rtds_of(name, case, "RESPONSE")
    assert answer.header == rtds.header and answer.payload == rtds.payload
    return answer


def _read_secondary(store, meter: _Meter) -> tuple[list[Data], list[Data]]:
    """ECS24b's answer (its structure RTDS's) and RTDS's."""
    cmd = GbcsMessage.decode(_rtds("4.11.2_ECS24b/ECS24b_4.11.2_SUCCESS_COMMAND"))
    ours = dlms.decode(_answer(store, meter, ECS24B, cmd).payload)
    rtds = GbcsMessage.decode(_rtds("4.11.2_ECS24b/ECS24b_4.11.2_SUCCESS_RESPONSE"))
    theirs = dlms.decode(rtds.payload)
    assert isinstance(ours, dlms.AccessResponse) and isinstance(theirs, dlms.AccessResponse)
    assert [r.result for r in ours.results] == [r.result for r in theirs.results] == [0] * 7
    assert all(_fits(o, t) for o, t in zip(ours.data, theirs.data, strict=True))
    return ours.data, theirs.data


def test_the_secondary_element_is_set_read_back_and_repriced_as_rtds(store, tmp_path) -> None:
    """The rig's ESME is single element: it holds the secondary element's tariff objects
    (ECS01c, ECS01d write them, ECS24b reads them) and charges nothing by them."""
    meter, tariff, _reads = _esme(tmp_path)
    _run(store, meter, "ECS01c")
    written = dlms.decode(_rtds_of("ECS01c", "IMMEDIATE", "COMMAND").payload)
    assert isinstance(written, AccessRequest)
    back, _theirs = _read_secondary(store, meter)
    assert back[0] == written.data[0]  # the price matrix
    assert back[3] == written.data[4]  # the special days
    assert back[4:7] == written.data[1:4]  # seasons, weeks, day profiles (actions 201-204)
    assert back[2].value[0].value == -5  # the register's scaler: the prices' scale
    assert not tariff.in_force and meter.behaviour.price_p_kwh == 28.5  # nothing charged

    _run(store, meter, "ECS01d")
    prices = dlms.decode(_rtds_of("ECS01d", "IMMEDIATE", "COMMAND").payload)
    assert isinstance(prices, AccessRequest)
    again, _r, _e = _esme(tmp_path)  # kept across a restart
    back, _theirs = _read_secondary(store, again)
    assert back[0] == prices.data[0] and back[4:7] == written.data[1:4]


def _prepayment_meter(store, state_dir: Path, pence: int = 500) -> tuple[_Meter, Credit]:
    from nodes.roles.device_config import serve_device_config
    from nodes.roles.prepay_objects import serve_prepay_config

    meter = _Meter(state_dir)
    credit = Credit(state_dir / "credit.json", ESME, store.private(ESME, Usage.KA).private_key,
                    initial_pence=pence)  # fmt: skip
    meter.credit = credit
    serve_prepay_config(meter.cosem, credit)
    serve_reads(meter)
    serve_tariff(meter)
    serve_device_config(meter)  # 6.2.9's payment mode: the engine's
    return meter, credit


def test_1_6_switches_the_engine_to_credit_and_back_to_prepayment_as_rtds(store, tmp_path) -> None:
    from rig.protocol.gbcs.catalogue_device_config import PAYMENT_MODE as MODE_IN_FORCE
    from rig.protocol.gbcs.cosem import DISABLEMENT_MONITOR

    meter, credit = _prepayment_meter(store, tmp_path)
    assert credit.prepayment
    _run(store, meter, "ECS02", "IMMEDIATE_SINGLE")
    assert credit.settings.payment_mode == "credit"
    assert meter.cosem.get(MODE_IN_FORCE).value[0].value == 1  # what 6.2.9 reads

    _run(store, meter, "ECS03", "IMMEDIATE_SINGLE")
    written = dlms.decode(_rtds_of("ECS03", "IMMEDIATE_SINGLE", "COMMAND").payload)
    assert isinstance(written, AccessRequest)
    kept = Credit(tmp_path / "credit.json", ESME, store.private(ESME, Usage.KA).private_key)
    assert kept.prepayment and kept.settings.disablement_threshold_pence == 556  # whole pence
    assert meter.cosem.get(MODE_IN_FORCE).value[0].value == 2
    config = cosem_attribute(11)
    assert meter.cosem.get(config) == written.data[2]  # the credit charge configuration
    assert meter.cosem.get(DISABLEMENT_MONITOR).value[0].value == 556_000


def cosem_attribute(attribute: int):
    from rig.protocol.gbcs import cosem

    return cosem.Attribute(cosem.ACCOUNT, cosem.ACCOUNT_OBJECT, attribute)


def test_1_5_resets_the_meter_balance_as_rtds_ecs04b(store, tmp_path) -> None:
    meter, credit = _prepayment_meter(store, tmp_path, pence=700)
    credit.flags.active = True
    _run(store, meter, "ECS04b", "")
    kept = Credit(tmp_path / "credit.json", ESME, store.private(ESME, Usage.KA).private_key)
    assert kept.millipence == 0 and not kept.flags.active
    cmd = _rtds_of("ECS04b", "", "COMMAND")
    request = dlms.decode(cmd.payload)
    assert isinstance(request, AccessRequest)
    request.data[1] = Data(DataType.DOUBLE_LONG, 5)  # emergency credit to 5: refused
    _d, results = meter.cosem.execute(request, Invocation(cmd, lambda b: b))
    assert [r.result for r in results] == [0, 250, 0]


def test_block_counters_take_the_energy_to_the_next_block_and_1_7_resets_them(
    store, tmp_path
) -> None:
    meter, credit = _prepayment_meter(store, tmp_path)
    tariff = meter.tariff
    _set(store, meter, "IMMEDIATE_BLOCK")  # block tariff 1: 1361, 2289, 5566 above 10, 20 kWh
    tariff.now = lambda: MONDAY
    assert tariff.price_p_kwh() == pytest.approx(1.361)
    credit.spend(10_000, tariff.price_p_kwh())  # 10 kWh charged: the counter at threshold 1
    assert tariff.block(1) == 2 and tariff.price_p_kwh() == pytest.approx(2.289)
    again, _t, _r = _esme(tmp_path)  # the counters are kept
    assert again.tariff.block_wh[0] == 10_000
    _run(store, meter, "ECS05", "")
    assert tariff.block(1) == 1 and tariff.price_p_kwh() == pytest.approx(1.361)
    cmd = _rtds_of("ECS05", "", "COMMAND")
    request = dlms.decode(cmd.payload)
    assert isinstance(request, AccessRequest)
    request.data[0] = Data(DataType.LONG_UNSIGNED, 98)
    _d, results = meter.cosem.execute(request, Invocation(cmd, lambda b: b))
    assert [r.result for r in results] == [250]


# --- dated: held, carried out with RTDS's alerts -------------------------------------------------
DUE = dt.datetime(2030, 1, 15, 9, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("name", "case", "alerts"),
    [
        ("ECS01c", "FUTURE_DATED", ("SWITCHING_TABLE", "PRICE_MATRIX", "SPECIAL_DAYS")),
        ("ECS01d", "FUTURE_DATED", ("PRICE_MATRIX",)),
        ("ECS02", "FUTURE_DATED_TWIN", ("PAYMENT_MODE",)),
        ("ECS03", "FUTURE_DATED_TWIN", ("DISABLEMENT_THRESHOLD", "PAYMENT_MODE")),
    ],
)
def test_a_future_dated_command_is_held_across_a_restart_then_carried_out_with_rtds_alerts(
    store, tmp_path, name, case, alerts
) -> None:
    meter, credit = _prepayment_meter(store, tmp_path)
    if name == "ECS03":
        _run(store, meter, "ECS02", "IMMEDIATE_SINGLE")
    mode = credit.settings.payment_mode
    _run(store, meter, name, case)
    assert credit.settings.payment_mode == mode  # not yet
    again, credit = _prepayment_meter(store, tmp_path)  # restarted: it still holds it
    stores = [s for s in again.tariff_stores if s.next_due() is not None]
    assert [s.next_due() for s in stores] == [DUE.timestamp()]
    again.gbcs = _Endpoint(store, _alert_counter(name, case, alerts[0]) - 1)
    clock = {"now": DUE - dt.timedelta(seconds=1)}

    async def run() -> None:
        task = asyncio.create_task(carry_out(again, stores[0], lambda: clock["now"]))
        await asyncio.sleep(0.05)
        assert again.sent == []  # not before its time
        clock["now"] = DUE
        await asyncio.wait_for(task, 5)

    asyncio.run(run())
    assert len(again.sent) == len(alerts)
    for raw, alert in zip(again.sent, alerts, strict=True):
        folder = RTDS_FOLDER[name]
        srv = folder.split("_")[0]
        wanted = GbcsMessage.decode(
            _rtds(f"{folder}/{name}_{srv}_8F66_{case}_SUCCESS_ALERT_{alert}")
        )
        assert GbcsMessage.decode(raw).header == wanted.header
        assert _alert_body(raw) == _alert_body(wanted.encode())
    if name == "ECS02":
        assert credit.settings.payment_mode == "credit"
    if name == "ECS03":
        assert credit.prepayment and credit.settings.disablement_threshold_pence == 556
    if name == "ECS01d":
        back, _theirs = _read_secondary(store, again)
        assert [int(e.value[1].value) for e in back[0].value[2].value] == [1010, 1120, 1230, 1340]


def _alert_counter(name: str, case: str, alert: str) -> int:
    folder = RTDS_FOLDER[name]
    srv = folder.split("_")[0]
    raw = _rtds(f"{folder}/{name}_{srv}_8F66_{case}_SUCCESS_ALERT_{alert}")
    return GbcsMessage.decode(raw).header.counter


@pytest.mark.parametrize(
    ("name", "held", "cancel"),
    [
        ("ECS01c", "FUTURE_DATED", "CANCELLATION"),
        ("ECS01d", "FUTURE_DATED", "CANCELLATION"),
        ("ECS02", "FUTURE_DATED_TWIN", "CANCELLATION_TWIN"),
        ("ECS03", "FUTURE_DATED_TWIN", "CANCELLATION_TWIN"),
    ],
)
def test_a_cancellation_drops_what_is_held_as_rtds(store, tmp_path, name, held, cancel) -> None:
    meter, _credit = _prepayment_meter(store, tmp_path)
    _run(store, meter, name, held)
    assert any(s.next_due() for s in meter.tariff_stores)
    _run(store, meter, name, cancel)
    again, kept = _prepayment_meter(store, tmp_path)
    assert all(s.next_due() is None for s in again.tariff_stores)
    assert [s for s in again.tariff_stores if s.activate_due(DUE) != []] == []
    assert kept.prepayment


def test_1_1_2_sets_the_secondary_element_4_11_2_reads_it_and_1_7_resets_the_blocks(
    dcc_rig,
) -> None:
    from rig.dccuser.client import DccUser
    from rig.dccuser.tasks import default_user, device_of

    env = dcc_rig
    esme = device_of(env["rig"], "esme")
    client = DccUser.from_state(env["dir"], default_user(env["rig"], esme, env["state"]))
    prices = ("2100", "0", "2300", "2400")
    body = _request_of("ECS01c", "IMMEDIATE").body
    for price, value in zip(
        body.iterfind(".//sr:ElectricityPriceElement", NS), prices, strict=True
    ):
        price.text = value
    out = asyncio.run(client.send("1.1.2", esme, body=body))
    assert out.response_code == "I0" and out.values["result"] == 0, out
    assert out.values["authenticated_by"] == "signature"
    back = asyncio.run(client.send("4.11.2", esme, body=_request_of_read()))
    assert back.response_code == "I0" and back.values["result"] == 0, back
    assert back.values["prices"] == [int(p) for p in prices] and back.values["price_scale"] == -5
    assert [s["name"] for s in back.values["seasons"]] == ["winter", "summer"]
    assert back.values["day_profiles"][0]["actions"][0] == {"start": "00:00:00", "tou_rate": 1}
    reset = asyncio.run(client.send("1.7", esme, body=_request_of("ECS05", "").body))
    assert reset.response_code == "I0" and reset.values["result"] == 0, reset


def _request_of_read():
    name = "ECS24b_4.11.2_SUCCESS_REQUEST_DUIS.XML"
    return parse_document(vectors("duis", "templates", name).read_bytes()).body
