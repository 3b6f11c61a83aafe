"""11.1 Update Firmware end to end: the WAN's chunk records, the hub's reassembly, the DCC's
checks and its store, a distribution that resumes after a lost link (in process), then on
the running rig: a good image pending on the ESME with 8F72 to its supplier, a tampered one
refused with 8F1C, the GSME's over its wakes, and a WAN outage in the middle of a
distribution that resumes from what the hub holds."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any, cast

import pytest
from conftest import component_detail, dcc_alerts, device_alerts, rig_cli, wait_for
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree

from gateway.config import DeviceConfig
from gateway.dcc_services import DccState, ServiceRefused, service_for
from gateway.firmware import FIRMWARE_TRANSFER_DCC_ALERT, FirmwareDistributor
from gateway.inventory import DECOMMISSIONED, Inventory
from gateway.store import Store
from gateway.wan import WanRouter, WanUnavailable
from nodes.roles.firmware import HubImages
from rig.cli.dcc import firmware_body
from rig.cli.fault import node_request
from rig.dccuser.tasks import send_request
from rig.protocol import wan
from rig.protocol.duis import codes
from rig.protocol.duis.message import Request, RequestId
from rig.protocol.eui import Eui64
from rig.protocol.firmware import image_hash, make_image, tamper

SUPPLIER = Eui64.parse("90-B3-D5-1F-30-01-00-00")
OTHER_SUPPLIER = Eui64.parse("90-B3-D5-1F-30-03-00-00")
DCC = Eui64.parse("90-B3-D5-1F-30-00-00-02")
HUB = Eui64.parse("00-DB-12-34-56-78-90-A2")
ESME = Eui64.parse("00-DB-12-34-56-78-90-A0")
GSME = Eui64.parse("00-DB-12-34-56-78-90-A1")
IHD = Eui64.parse("00-DB-12-34-56-78-90-A5")
OLD_ESME = Eui64.parse("00-DB-12-34-56-78-90-B1")
UNKNOWN = Eui64.parse("00-DB-12-34-56-78-90-FF")
SIGNER = Eui64.parse("00-DB-12-00-00-00-00-01")
CHUNK = 256


@pytest.fixture(scope="module")
def maker() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def image(maker: ec.EllipticCurvePrivateKey, version: str = "00000002", pad: int = 0) -> bytes:
    return make_image(version, maker, SIGNER, {"padding": "x" * pad} if pad else {})


# --- the WAN's records ------------------------------------------------------------------------


def test_a_chunk_and_a_holding_travel_as_they_were_sent() -> None:
    name = "ab" * 32
    chunk = wan.FirmwareChunk(name, 10, 4, b"\x00\x01\xff", (ESME, GSME))
    assert wan.FirmwareChunk.decode(chunk.encode()) == chunk
    held = wan.FirmwareHeld(name, 7, 10)
    assert wan.FirmwareHeld.decode(held.encode()) == held and not held.complete
    assert wan.FirmwareHeld(name, 10, 10).complete


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        (b"not json", "not JSON"),
        (b"[1]", "a JSON object"),
        (b'{"image": "zz", "size": 1, "offset": 0, "data": ""}', "64 hex digits"),
        (b'{"image": "' + b"a" * 64 + b'", "size": 2, "offset": 1, "data": "AAAA"}', "fit"),
        (b'{"image": "' + b"a" * 64 + b'", "size": -1, "offset": 0, "data": ""}', "size"),
        (b'{"image": "' + b"a" * 64 + b'", "size": 1, "offset": 0, "data": "@@"}', "chunk"),
    ],
)
def test_a_chunk_that_is_not_one_is_refused_saying_why(payload: bytes, says: str) -> None:
    with pytest.raises(wan.WanRecordError, match=says):
        wan.FirmwareChunk.decode(payload)


def test_a_holding_beyond_the_image_is_refused() -> None:
    with pytest.raises(wan.WanRecordError, match="more than"):
        wan.FirmwareHeld.decode(json.dumps({"image": "a" * 64, "held": 9, "size": 8}).encode())


# --- the hub's reassembly ---------------------------------------------------------------------


def chunks(data: bytes, devices: tuple[Eui64, ...] = (ESME,)) -> list[wan.FirmwareChunk]:
    name = image_hash(data).hex()
    return [
        wan.FirmwareChunk(name, len(data), at, data[at : at + CHUNK], devices)
        for at in range(0, len(data), CHUNK)
    ]


def test_the_hub_keeps_what_continues_its_image_across_a_restart(
    tmp_path: Path, maker: ec.EllipticCurvePrivateKey
) -> None:
    data = image(maker, pad=900)
    parts = chunks(data)
    assert len(parts) >= 4
    hub = HubImages(tmp_path, HUB.duis)
    held, done = hub.take(parts[0], session=1)
    assert (held.held, done) == (CHUNK, False)
    assert hub.take(parts[2], session=1)[0].held == CHUNK  # past a gap: dropped
    assert hub.take(parts[0], session=1)[0].held == CHUNK  # again: counted, not kept twice
    hub = HubImages(tmp_path, HUB.duis)  # the hub restarts
    ask = wan.FirmwareChunk(parts[1].image, len(data), 0, b"", (ESME,))
    assert hub.take(ask, session=1)[0].held == CHUNK  # what it holds survived
    for part in parts[1:-1]:
        assert not hub.take(part, session=1)[1]
    held, done = hub.take(parts[-1], session=2)
    assert done and held.complete and held.held == len(data)
    assert hub.data(parts[0].image) == data
    record = hub.detail()[parts[0].image]
    assert record["duplicates"] == CHUNK and record["session_starts"] == [0, 0, parts[-1].offset]
    assert [r.image for r in HubImages(tmp_path).complete()] == [parts[0].image]


def test_an_image_whose_hash_is_not_its_name_is_dropped(
    tmp_path: Path, maker: ec.EllipticCurvePrivateKey
) -> None:
    data = image(maker)
    name = image_hash(tamper(data)).hex()  # what the DCC named is not what arrives
    held, done = HubImages(tmp_path).take(
        wan.FirmwareChunk(name, len(data), 0, data, (ESME,)), session=1
    )
    assert not done and held.held == 0


# --- the DCC's checks and its store -----------------------------------------------------------


class FakeWan:
    """The WAN to one hub as the distributor sees it: each chunk goes to a :class:`HubImages`
    whose answer comes back, unless the link is down (then it is lost)."""

    def __init__(self, hub: HubImages) -> None:
        self.hub, self.up, self.session = hub, True, 1
        self.distributor: FirmwareDistributor | None = None
        self.lose_after: int | None = None  # data chunks that get through before the link goes
        self.offsets: list[int] = []  # of the data chunks that reached the hub
        self.stale = False  # an answer to an earlier copy comes before the next one's

    def online(self, _hub: Eui64) -> bool:
        return self.up

    async def send_firmware(self, hub: Eui64, chunk: wan.FirmwareChunk) -> None:
        if not self.up:
            raise WanUnavailable("down")
        if chunk.data and self.lose_after is not None and len(self.offsets) >= self.lose_after:
            self.up, self.lose_after = False, None  # lost with the link
            return
        if chunk.data:
            self.offsets.append(chunk.offset)
        held, _ = self.hub.take(chunk, self.session)
        distributor = cast(FirmwareDistributor, self.distributor)
        loop = asyncio.get_running_loop()
        if chunk.data and self.stale:
            # the hub's answer to a copy of the chunk before this one overtakes this one's
            self.stale = False
            early = wan.FirmwareHeld(chunk.image, chunk.offset, chunk.size)
            loop.call_soon(lambda: asyncio.ensure_future(distributor.on_held(hub, early)))
            loop.call_later(0.05, lambda: asyncio.ensure_future(distributor.on_held(hub, held)))
            return
        loop.call_soon(lambda: asyncio.ensure_future(distributor.on_held(hub, held)))


def dcc_state(tmp_path: Path, hub: HubImages | None = None) -> tuple[DccState, Store, FakeWan]:
    store = Store(tmp_path / "gateway.sqlite")
    devices = [
        DeviceConfig(HUB, "CHF", HUB),
        DeviceConfig(ESME, "ESME", HUB, supplier=SUPPLIER),
        DeviceConfig(GSME, "GSME", HUB, supplier=OTHER_SUPPLIER),
        DeviceConfig(IHD, "IHD", HUB),
        DeviceConfig(OLD_ESME, "ESME", HUB, status=DECOMMISSIONED, supplier=SUPPLIER),
    ]
    fake = FakeWan(hub or HubImages(tmp_path / "hub"))
    distributor = FirmwareDistributor(store, cast(WanRouter, fake), chunk_size=CHUNK)
    fake.distributor = distributor
    return DccState(Inventory(store.db, devices), firmware=distributor), store, fake


def update(
    dcc: DccState, data: bytes, *targets: Eui64, version: str = "00000002", counter: int = 1
) -> etree._Element | None:
    body = firmware_body(data, version, list(targets))
    request = Request(RequestId(SUPPLIER, DCC, counter), 8, "11.1", "11.1", body)
    service = service_for("11.1")
    assert service is not None
    return service(request, dcc)


def test_the_dcc_keeps_a_good_request_in_its_store_across_a_restart(
    tmp_path: Path, maker: ec.EllipticCurvePrivateKey
) -> None:
    dcc, store, _ = dcc_state(tmp_path)
    data = image(maker)
    assert update(dcc, data, ESME) is None  # I0, no warning
    store.close()
    again = Store(tmp_path / "gateway.sqlite")  # the gateway restarts
    [d] = again.distributions(open_only=True)
    assert (d.hub, d.devices, d.held, d.size) == (HUB.hex, (ESME.duis,), 0, len(data))
    assert again.firmware(d.image) == data and d.image == image_hash(data).hex()


@pytest.mark.parametrize(
    ("targets", "code"),
    [
        ((UNKNOWN,), codes.DEVICE_UNKNOWN),
        ((GSME,), codes.NOT_AUTHORISED_FOR_DEVICE),  # supplier-b's meter
        ((IHD,), codes.WRONG_DEVICE_TYPE),
        ((HUB,), codes.WRONG_DEVICE_TYPE),
        ((OLD_ESME,), codes.DEVICE_STATUS),
    ],
)
def test_a_request_no_device_may_take_is_refused_with_its_code(
    tmp_path: Path, maker: ec.EllipticCurvePrivateKey, targets: tuple[Eui64, ...], code: str
) -> None:
    dcc, store, _ = dcc_state(tmp_path)
    with pytest.raises(ServiceRefused) as refused:
        update(dcc, image(maker), *targets)
    assert refused.value.code == code and targets[0].duis in refused.value.reason
    assert store.distributions() == []


def test_devices_left_out_are_listed_and_the_others_get_the_image(
    tmp_path: Path, maker: ec.EllipticCurvePrivateKey
) -> None:
    dcc, store, _ = dcc_state(tmp_path)
    warning = update(dcc, image(maker), ESME, UNKNOWN, GSME, OLD_ESME)
    assert warning is not None and etree.QName(warning).localname == "DSPUpdateFirmwareWarning"
    lists = {etree.QName(e).localname: e.text for e in warning}
    assert lists == {
        "InvalidDeviceIDList": f"{UNKNOWN.duis},{GSME.duis}",
        "NotCommissionedDeviceIDList": OLD_ESME.duis,
    }
    assert [d.devices for d in store.distributions()] == [(ESME.duis,)]


@pytest.mark.parametrize(
    ("mangle", "says"),
    [
        (lambda d: b"not an OTA file at all", "not a ZigBee OTA file"),
        (lambda d: d[:40], "not a ZigBee OTA file"),
    ],
)
def test_an_image_the_dcc_cannot_read_is_e100(
    tmp_path: Path, maker: ec.EllipticCurvePrivateKey, mangle: Any, says: str
) -> None:
    dcc, store, _ = dcc_state(tmp_path)
    with pytest.raises(ServiceRefused, match=says) as refused:
        update(dcc, mangle(image(maker)), ESME)
    assert refused.value.code == codes.NOT_DUIS and store.distributions() == []


def test_a_version_that_is_not_the_images_is_e100(
    tmp_path: Path, maker: ec.EllipticCurvePrivateKey
) -> None:
    dcc, _, _ = dcc_state(tmp_path)
    with pytest.raises(ServiceRefused, match="00000002") as refused:
        update(dcc, image(maker), ESME, version="00000003")
    assert refused.value.code == codes.NOT_DUIS


def test_the_image_is_not_base64_is_e100(tmp_path: Path) -> None:
    dcc, _, _ = dcc_state(tmp_path)
    body = firmware_body(b"", "00000002", [ESME])
    body[0].text = "!!not base64!!"
    request = Request(RequestId(SUPPLIER, DCC, 1), 8, "11.1", "11.1", body)
    with pytest.raises(ServiceRefused, match="base64") as refused:
        cast(Any, service_for("11.1"))(request, dcc)
    assert refused.value.code == codes.NOT_DUIS


def test_a_distribution_resumes_from_what_the_hub_holds_after_the_link_is_lost(
    tmp_path: Path, maker: ec.EllipticCurvePrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("gateway.firmware.ANSWER_TIMEOUT_S", 0.2)
    data = image(maker, pad=2000)
    parts = len(chunks(data))
    assert parts >= 8
    hub = HubImages(tmp_path / "hub", HUB.duis)
    dcc, store, fake = dcc_state(tmp_path, hub)
    fake.lose_after = 3  # three chunks arrive, the fourth is lost with the link

    async def run() -> None:
        distributor = cast(FirmwareDistributor, dcc.firmware)
        task = asyncio.create_task(distributor.run())
        try:
            update(dcc, data, ESME)

            async def until(predicate: Any) -> None:
                while not predicate():
                    await asyncio.sleep(0.01)

            await asyncio.wait_for(until(lambda: not fake.up), 10)
            fake.up, fake.session = True, 2  # back online: a new session
            fake.stale = True  # and the answer to a copy of a chunk it held comes late
            await distributor.back_online(HUB)
            await asyncio.wait_for(until(lambda: store.distributions()[0].finished), 20)
        finally:
            task.cancel()

    asyncio.run(run())
    name = image_hash(data).hex()
    assert hub.data(name) == data
    # the fourth chunk is sent again, from where the hub stood: nothing it held comes twice
    assert fake.offsets == [n * CHUNK for n in range(parts)]
    record = hub.detail()[name]
    assert record["duplicates"] == 0 and record["session_starts"] == [0, 3 * CHUNK]
    sent = cast(FirmwareDistributor, dcc.firmware).detail()[HUB.duis][name]
    assert sent["resumed_from"] == [0, 3 * CHUNK] and sent["held"] == len(data)


# --- on the running rig -----------------------------------------------------------------------


@pytest.fixture
def env(dcc_rig):
    """The end-to-end rig (tests/rigs/dcc.yaml), started once per session (conftest)."""
    return dcc_rig


def cli(env, *args: str, timeout: float = 90):
    return rig_cli(*args, "--rig", str(env["file"]), state=env["dir"], timeout=timeout)


def detail(env, name: str) -> dict:
    return component_detail(env["dir"], name)


def make(env, tmp_path: Path, name: str, *options: str) -> Path:
    out = tmp_path / name
    proc = cli(env, "firmware", "make", "--out", str(out), *options)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def send(env, target: str, path: Path, *options: str) -> dict:
    proc = cli(
        env, "supplier", "firmware", "--target", target, "--image", str(path), "--json", *options
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def alerts(env, user: str, device: Eui64, since: float) -> list[str]:
    """The alert codes ``device`` raised that reached ``user`` since ``since``."""
    return device_alerts(env["dir"], user, device, since)


def test_a_tampered_image_is_refused_and_a_good_one_held_pending(env, tmp_path: Path) -> None:
    before = detail(env, "esme")["firmware"]
    since = time.time() - 1
    bad = make(env, tmp_path, "bad.ota", "--version", "00000002", "--tamper")
    outcome = send(env, "esme", bad)
    assert outcome["acknowledgement"] == "I0", outcome
    assert outcome["values"]["image_hash"] == image_hash(bad.read_bytes()).hex()
    assert wait_for(lambda: "8F1C" in alerts(env, "supplier-a", ESME, since), 40), alerts(
        env, "supplier-a", ESME, since
    )
    after = detail(env, "esme")["firmware"]
    assert after["version"] == before["version"]  # still running what it ran
    assert after["pending"] == before["pending"]  # nothing of the tampered image is held
    assert "8F72" not in alerts(env, "supplier-a", ESME, since)

    since = time.time() - 1
    good = make(env, tmp_path, "good.ota", "--version", "00000002")
    outcome = send(env, "esme", good, "--activate-at", "2030-01-01T00:00:00Z")
    assert outcome["acknowledgement"] == "I0", outcome
    assert wait_for(lambda: "8F72" in alerts(env, "supplier-a", ESME, since), 40)
    firmware = detail(env, "esme")["firmware"]
    assert firmware["pending"]["version"] == "00000002"
    assert firmware["pending"]["hash"] == image_hash(good.read_bytes()).hex()
    assert firmware["version"] == before["version"]  # activation is 11.3's
    hub = detail(env, "chf")
    assert hub["ota"][ESME.duis]["outcome"] == "SUCCESS"
    assert hub["firmware_wan"][firmware["pending"]["hash"]]["delivered"] == [ESME.duis]

    # 11.3 (CS06) activates it: the running version changes, 8F43 reaches the supplier, and
    # 11.2 reads the new version
    since = time.time() - 1
    activation = send_request(
        env["rig"], env["state"], "11.3", "esme",
        {"FirmwareHash": firmware["pending"]["hash"].upper()}, user="supplier-a",
    )  # fmt: skip
    assert activation.response_code == "I0", activation
    assert activation.values["result"] == 0, activation.values
    assert activation.values["firmware_version"] == "00000002"
    assert wait_for(lambda: "8F43" in alerts(env, "supplier-a", ESME, since), 40)
    assert detail(env, "esme")["firmware"]["version"] == "00000002"
    read = send_request(env["rig"], env["state"], "11.2", "esme", {}, user="supplier-a")
    assert read.values["firmware_version"] == "00000002", read


def test_the_gas_meter_takes_its_image_on_its_wakes(env, tmp_path: Path) -> None:
    since = time.time() - 1
    good = make(env, tmp_path, "gas.ota", "--version", "00000002", "--profile", '{"gas": 1}')
    outcome = send(env, "gsme", good)  # as its supplier, supplier-b
    assert outcome["acknowledgement"] == "I0", outcome
    name = image_hash(good.read_bytes()).hex()
    assert wait_for(
        lambda: (detail(env, "gsme")["firmware"].get("pending") or {}).get("hash") == name, 60
    ), detail(env, "gsme")
    assert wait_for(lambda: "8F72" in alerts(env, "supplier-b", GSME, since), 30)


def test_a_distribution_cut_by_a_wan_outage_resumes_where_the_hub_stood(
    env, tmp_path: Path
) -> None:
    # an image of another image type: the hub gets it whole, the ESME asks for none of it
    big = make(
        env,
        tmp_path,
        "big.ota",
        "--version",
        "00000003",
        "--image-type",
        "0x0001",
        "--profile",
        json.dumps({"padding": "x" * 6000}),
    )
    data = big.read_bytes()
    name = image_hash(data).hex()
    chunk = 1024  # gateway.firmware.CHUNK_SIZE
    drops = detail(env, "chf")["wan_drops"]
    node_request(
        env["state"], env["rig"].node("chf"), "POST", "/wan/drop", seconds="5", after_chunks="3"
    )
    outcome = send(env, "esme", big)
    assert outcome["acknowledgement"] == "I0", outcome

    def held() -> dict:
        return detail(env, "chf")["firmware_wan"].get(name) or {}

    assert wait_for(lambda: held().get("complete"), 60), held()
    hub = detail(env, "chf")
    assert hub["wan_drops"] == drops + 1
    record = held()
    # after the link came back the hub got chunks from where it stood, not from 0: at most
    # the chunk in flight came twice, never the three it held before the drop
    assert len(record["session_starts"]) >= 2 and min(record["session_starts"][1:]) >= chunk
    assert record["duplicates"] < 3 * chunk
    assert record["received"] < len(data) + 3 * chunk
    gateway = detail(env, "gateway")["firmware"][HUB.duis][name]
    assert gateway["held"] == len(data) and gateway["finished"]
    assert max(gateway["resumed_from"]) >= 3 * chunk, gateway


def test_an_image_activates_at_its_future_time_and_not_before(env, tmp_path: Path) -> None:
    """`rig supplier firmware --activate-at`: 11.1 over a HAN that loses 10% of the ESME's
    frames, then, once the ESME holds the image (8F72), 11.3 future-dated (CS06 with its
    execution date-time): Command Accepted; 11.2 reads the old version until that time and
    the new one after it, and the meter's 0x00CA alert (8F66) reaches the supplier."""
    before = detail(env, "esme")["firmware"]["version"]
    image = make(env, tmp_path, "later.ota", "--version", "00000005")
    lead_s = 45  # the distribution over the HAN and the 11.3 fit well inside it
    at = int(time.time()) + lead_s  # to the second, as GBCS's GeneralizedTime carries it
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
    since = time.time() - 1
    lossy = cli(env, "han", "fault", "loss", "esme", "0.1")
    assert lossy.returncode == 0, lossy.stdout + lossy.stderr
    try:
        proc = cli(
            env, "supplier", "firmware", "--target", "esme", "--image", str(image),
            "--activate-at", when, "--json", timeout=lead_s + 60,
        )  # fmt: skip
    finally:
        cli(env, "han", "clear")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    outcome = json.loads(proc.stdout)
    activation = outcome["values"]["activation"]["esme"]
    assert activation["response_code"] == "I0" and activation["accepted"] is True, activation
    assert activation["execution_date_time"] == when
    assert time.time() < at, f"the 11.3 was answered after its time {when}: raise lead_s"
    held = detail(env, "esme")["firmware"]
    assert held["pending"]["version"] == "00000005" and held["scheduled"]["counter"] > 0
    read = send_request(env["rig"], env["state"], "11.2", "esme", {}, user="supplier-a")
    assert read.values["firmware_version"] == before, read  # not before its time
    assert time.time() < at, "11.2 was read after the activation time: raise lead_s"

    assert wait_for(lambda: "8F66" in alerts(env, "supplier-a", ESME, since), lead_s + 30)
    assert time.time() >= at
    read = send_request(env["rig"], env["state"], "11.2", "esme", {}, user="supplier-a")
    assert read.values["firmware_version"] == "00000005", read
    after = detail(env, "esme")["firmware"]
    assert after["version"] == "00000005" and after["scheduled"] is None
    # the hub's CCS08 for that transfer reached the supplier as a DCC Alert
    assert wait_for(lambda: transfer_alerts(env, "supplier-a", since), 30)


def transfer_alerts(env, user: str, since: float) -> list[str]:
    """The DCC Alerts (CCS08's) ``user`` received since ``since``: their DCCAlertCode."""
    return [c for c in dcc_alerts(env["dir"], user, since) if c == FIRMWARE_TRANSFER_DCC_ALERT]
