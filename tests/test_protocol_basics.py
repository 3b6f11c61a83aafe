"""Small protocol pieces: EUI-64, install codes, ZEP v2, health reports, WAN topics."""

from __future__ import annotations

import pytest

from rig.protocol import wan, zep
from rig.protocol.eui import Eui64, EuiError
from rig.protocol.install_code import InstallCodeError, crc16_x25, parse_install_code
from rig.runtime.health import HealthReport


@pytest.mark.parametrize(
    "text", ["00-DB-12-34-56-78-90-A0", "00db1234567890a0", "00:DB:12:34:56:78:90:A0"]
)
def test_eui_forms(text: str) -> None:
    eui = Eui64.parse(text)
    assert eui.duis == "00-DB-12-34-56-78-90-A0" and eui.hex == "00DB1234567890A0"


@pytest.mark.parametrize(
    "text", ["00-DB-12", "00DB1234567890A", "00-DB-12-34-56-78-90-AG", "0-0DB-12-34-56-78-90-A0"]
)
def test_bad_eui(text: str) -> None:
    with pytest.raises(EuiError):
        Eui64.parse(text)


def test_install_code_crc_matches_the_zigbee_se_example() -> None:
    # the install code printed in the ZigBee Smart Energy specification's test vector
    code = parse_install_code("83FE D340 7A93 9723 A5C6 39B2 6916 D505 C3B5")
    assert crc16_x25(code[:-2]) == 0xB5C3
    with pytest.raises(InstallCodeError, match="CRC"):
        parse_install_code("83FE D340 7A93 9723 A5C6 39B2 6916 D505 C3B6")


def test_zep_round_trip_and_errors() -> None:
    frame = bytes.fromhex("4188013412ffff000009") + b"\x00\x00"
    pkt = zep.ZepData(
        channel=15, device_id=7, lqi=255, timestamp=1_700_000_000.5, sequence=42, frame=frame
    )
    raw = pkt.encode()
    assert raw[:4] == b"EX\x02\x01" and len(raw) == 32 + len(frame)
    back = zep.decode(raw)
    assert isinstance(back, zep.ZepData)
    assert (back.channel, back.sequence, back.frame) == (15, 42, frame)
    assert abs(back.timestamp - pkt.timestamp) < 1e-6
    for bad in (b"XX\x02\x01", raw[:20], raw[:-1], b"EX\x03\x01" + raw[4:]):
        with pytest.raises(zep.ZepError):
            zep.decode(bad)


def test_wan_topics_belong_to_one_hub() -> None:
    hub = Eui64.parse("00-DB-12-34-56-78-90-A2")
    assert wan.down_topic(hub) == "dcc/00DB1234567890A2/down"
    assert wan.hub_of_topic(wan.up_topic(hub)) == hub
    assert wan.hub_of_topic("dcc/not-an-eui/up") is None
    assert wan.HubBeat.decode(wan.HubBeat(3, 1.5).encode()) == wan.HubBeat(3, 1.5)


def test_health_report_judges_staleness_and_checks() -> None:
    r = HealthReport("esme", "node", 1, 10.0, 10, 0.2, checks={"gpio": "ok"})
    assert r.healthy and HealthReport.decode(r.encode()) == r
    assert not HealthReport("esme", "node", 1, 10.0, 10, 9.0).healthy
    assert HealthReport("chf", "node", 1, 1, 1, 0.1, checks={"wan": "down"}).failing == {
        "wan": "down"
    }
