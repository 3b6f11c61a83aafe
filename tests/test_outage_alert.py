"""ECS80 "supply outage restored": 0x8F35 after an outage under 3 minutes, 0x8F36 from 3
minutes on, built as RTDS 4.5.0 has it, refused with a code ECS80 does not declare, and
raised so by the ESME itself when power comes back."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
from pathlib import Path
from typing import Any, cast

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from nodes.config import GbcsConfig, HanConfig, NodeConfig
from nodes.gbcs.endpoint import GbcsEndpoint
from nodes.gpio import Wiring
from nodes.roles.esme import ElectricityMeter
from rig.dccuser.readers import read
from rig.pki.keystores import load
from rig.protocol.codec import unhex
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import alerts, dlms
from rig.protocol.gbcs import catalogue as cat
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.frame import Cra, GbcsMessage
from rig.protocol.gbcs.reading import alert_fields
from rig.protocol.gbcs.usecase import Form, UseCase
from rig.protocol.smki import Usage
from rig.runtime.records import KeyPair
from tests.conftest import vectors

ESME = Eui64.parse("00-DB-12-34-56-78-90-A0")
CHF = Eui64.parse("00-DB-12-34-56-78-90-C0")
NETWORK_OPERATOR = Eui64.parse("90-B3-D5-1F-30-02-00-00")
ACB = Eui64.parse("90-B3-D5-1F-30-00-00-02")
SHORT, LONG = cat.SUPPLY_OUTAGE_RESTORED, cat.SUPPLY_OUTAGE_RESTORED_LONG


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _start_end(minutes: float) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    return start, start + dt.timedelta(minutes=minutes)


# --- the choice of code ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("seconds", "code"),
    [(0.0, SHORT), (3.6, SHORT), (179.9, SHORT), (180.0, LONG), (180.1, LONG), (3600.0, LONG)],
)
def test_the_outage_length_names_the_code(seconds: float, code: int) -> None:
    assert alerts.outage_restored_code(dt.timedelta(seconds=seconds)) == code


def test_the_threshold_is_three_minutes_and_the_codes_are_gbcs() -> None:
    assert dt.timedelta(minutes=3) == alerts.LONG_OUTAGE
    assert (SHORT, LONG) == (0x8F35, 0x8F36)
    assert cat.ECS80.alert_codes == (0x8F35, 0x8F36)
    assert cat.ECS80.alert_code == 0x8F36  # the default a caller gets when it names none


def test_a_clock_that_went_back_counts_as_a_short_outage() -> None:
    assert alerts.outage_restored_code(dt.timedelta(seconds=-5)) == SHORT


# --- the declaration ---------------------------------------------------------------------------
def test_ecs80_declares_what_dccs_mapping_table_lists() -> None:
    table = json.loads(vectors("metadata", "gbcs-mapping-table.json").read_text())
    row = next(r for r in table if r["Code"] == "ECS80")
    listed = {int(c, 16) for c in re.findall(r"0x([0-9A-F]{4})", row["Use Case Description"])}
    assert {0x8F35, 0x8F36} <= listed
    assert set(cat.ECS80.alert_codes) <= listed


def test_a_use_case_with_one_alert_code_declares_it() -> None:
    uc = UseCase("X", 0x1000, "ESME", Form.DLMS, alert_code=0x8F30)
    assert uc.alert_codes == (0x8F30,) and uc.declared_code() == 0x8F30


def test_a_declaration_that_contradicts_itself_is_refused() -> None:
    with pytest.raises(ValueError, match="0x8F37 is not among those it declares"):
        UseCase("X", 0x1000, "ESME", Form.DLMS, alert_code=0x8F37, alert_codes=(SHORT, LONG))
    with pytest.raises(ValueError, match="is a command"):
        UseCase("X", 0x1000, "ESME", Form.DLMS, request=cat.ECS45.request, alert_codes=(SHORT,))
    several = UseCase("X", 0x1000, "ESME", Form.DLMS, alert_codes=(SHORT, LONG))
    with pytest.raises(ValueError, match="name the one to raise"):
        several.declared_code()


def test_an_undeclared_code_is_refused() -> None:
    start, end = _start_end(7)
    with pytest.raises(ValueError, match=r"ECS80 \(0x0067\) does not carry alert code 0x8F37"):
        alerts.dlms_alert(
            cat.ECS80,
            1,
            ESME.raw,
            NETWORK_OPERATOR.raw,
            alerts.outage_fields(start, end),
            _key(),
            _key(),
            code=0x8F37,  # "Supply Outage Restored on Phase 1": declared by GBCS, not here
        )
    with pytest.raises(ValueError, match="not a DLMS COSEM alert"):
        alerts.dlms_alert(cat.ECS45, 1, ESME.raw, NETWORK_OPERATOR.raw, [], _key(), _key())


# --- the alert as built, against RTDS --------------------------------------------------------
@pytest.mark.parametrize("code", [SHORT, LONG])
def test_a_built_alert_carries_its_code_and_reads_back(code: int) -> None:
    ds = _key()
    start, end = _start_end(2 if code == SHORT else 7)
    alert = alerts.dlms_alert(
        cat.ECS80,
        9,
        ESME.raw,
        NETWORK_OPERATOR.raw,
        alerts.outage_fields(start, end),
        ds,
        _key(),
        code=code,
    )
    back = GbcsMessage.decode(alert.encode())
    assert back.cra is Cra.ALERT and back.message_code == cat.ECS80.message_code
    assert alerts.alert_code(back) == code
    assert alert_fields(back)["alert_code"] == f"{code:04X}"
    out = read(back, device_ds=ds.public_key())
    assert out["use_case"] == "ECS80" and out["authenticated_by"] == "signature"
    assert out["alert_code"] == f"{code:04X}"
    assert (out["outage_start"], out["outage_end"]) == (start.isoformat(), end.isoformat())


@pytest.mark.parametrize("code", [SHORT, LONG])
def test_a_built_alert_is_rtds_ecs80_but_for_its_code(code: int) -> None:
    folder = vectors("gbcs", "rtds-4.5.0", "NA_ECS80")
    reference = GbcsMessage.decode(unhex((folder / "ECS80_NA_8F36_ALERT_GBCS.HEX").read_text()))
    h = reference.header
    apdu = dlms.decode(reference.payload)
    assert isinstance(apdu, dlms.DataNotification)
    times = [dlms.parse_date_time(f.value) for f in apdu.body.value[1:]]
    alert_time, start, end = (t for t in times if t is not None)
    assert alerts.outage_restored_code(end - start) == LONG == apdu.alert_code  # 9 minutes
    fields = [Data(DataType.OCTET_STRING, dlms.date_time(t)) for t in (alert_time, start, end)]
    assert fields[1:] == alerts.outage_fields(start, end)[1:]  # the outage, as the ESME says it
    ours = alerts.dlms_alert(
        cat.ECS80, h.counter, h.originator, h.recipient, fields, _key(), _key(), code=code
    )
    assert (ours.cra, ours.message_code) == (reference.cra, reference.message_code)
    assert ours.header == reference.header
    expected = reference.signed_part()
    if code != LONG:  # the alert code is the one long-unsigned after the structure's tag
        at = expected.index(bytes([DataType.LONG_UNSIGNED]) + LONG.to_bytes(2, "big"))
        expected = expected[: at + 1] + code.to_bytes(2, "big") + expected[at + 3 :]
    assert ours.signed_part() == expected  # byte for byte, all but the (random) signature
    store = load([vectors("gbcs", "rtds-keystore"), vectors("gbcs", "device-keys")])
    esme_ds = store.get(ESME, Usage.DS)
    assert esme_ds is not None
    rtds = read(reference, device_ds=esme_ds.public_key)
    assert rtds["alert_code"] == "8F36" and rtds["counter"] == h.counter


# --- the ESME, in-process with a stand-in tunnel ------------------------------------------------
class Tunnel:
    """What the ESME's tunnel to the CHF carries up: the alerts it puts."""

    def __init__(self) -> None:
        self.put_messages: list[bytes] = []

    async def put(self, gbcs: bytes) -> None:
        self.put_messages.append(gbcs)


def _pem(key: ec.EllipticCurvePrivateKey, path: Path) -> KeyPair:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return KeyPair(path.with_suffix(".pem"), path)  # the certificate is not read here


def _esme(tmp_path: Path, ds: ec.EllipticCurvePrivateKey, alive_ago_s: float) -> ElectricityMeter:
    state = tmp_path / "esme"
    state.mkdir()
    (state / "meter.json").write_text(
        f'{{"import_wh": 1000.0, "supply": 1, "alive": {time.time() - alive_ago_s}}}'
    )
    config = NodeConfig(
        name="esme",
        role="esme",
        eui=ESME,
        state_dir=state,
        health_bind="127.0.0.1",
        health_port=0,
        han=HanConfig(11, 0x1234, CHF, install_code=bytes(18)),
        hub_eui=CHF,
        gbcs=GbcsConfig(
            _pem(ds, tmp_path / "ds.key"),
            _pem(_key(), tmp_path / "ka.key"),
            ACB,
            (),
            NETWORK_OPERATOR,
        ),
    )
    esme = ElectricityMeter(config, Wiring({}))
    cast(Any, esme).tunnel = Tunnel()
    esme.tunnel_ready.set()  # as if it had joined and opened its tunnel
    return esme


@pytest.mark.parametrize(("alive_ago_s", "code"), [(200.0, LONG), (5.0, SHORT)])
async def test_the_esme_raises_the_code_its_outage_calls_for(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, alive_ago_s: float, code: int
) -> None:
    ds = _key()
    esme = _esme(tmp_path, ds, alive_ago_s)
    tunnel = cast(Tunnel, cast(Any, esme).tunnel)
    with caplog.at_level(logging.INFO, logger="nodes.han"):
        await esme.run()
        await esme.run()  # one power cut, one alert
    assert len(tunnel.put_messages) == 1
    out = read(GbcsMessage.decode(tunnel.put_messages[0]), device_ds=ds.public_key())
    assert out["use_case"] == "ECS80" and out["alert_code"] == f"{code:04X}"
    outage = dt.datetime.fromisoformat(out["outage_end"]) - dt.datetime.fromisoformat(
        out["outage_start"]
    )
    assert abs(outage.total_seconds() - alive_ago_s) < 5
    assert out["counter"] == 1 and esme.last_alive is None
    sent = [r for r in caplog.records if r.getMessage() == "gbcs.alert_sent"]
    assert len(sent) == 1
    logged = vars(sent[0])
    assert logged["alert_code"] == f"{code:04X}" and logged["use_case"] == "ECS80"
    assert abs(logged["outage_s"] - alive_ago_s) < 5
    await esme.radio.close()


async def test_an_esme_that_was_never_alive_raises_nothing(tmp_path: Path) -> None:
    esme = _esme(tmp_path, _key(), 0)
    esme.last_alive = None  # first power-on: nothing was saved
    await esme.run()
    assert cast(Tunnel, cast(Any, esme).tunnel).put_messages == []
    await esme.radio.close()


def test_the_endpoint_spends_no_counter_on_a_refused_code(tmp_path: Path) -> None:
    keys = GbcsConfig(
        _pem(_key(), tmp_path / "ds.key"), _pem(_key(), tmp_path / "ka.key"), ACB, (), ESME
    )
    endpoint = GbcsEndpoint(ESME, "ESME", keys, tmp_path)
    start, end = _start_end(1)
    with pytest.raises(ValueError, match="does not carry alert code 0x8F37"):
        endpoint.alert(cat.ECS80, alerts.outage_fields(start, end), code=0x8F37)
    assert endpoint.alert_counter == 0
    raw = endpoint.alert(cat.ECS80, alerts.outage_fields(start, end), code=SHORT)
    assert alerts.alert_code(GbcsMessage.decode(raw)) == SHORT and endpoint.alert_counter == 1
