"""The CHF device log over GBCS (issue 16), byte for byte as RTDS 4.5.0 has it: 8.11 Update HAN
Device Log (CCS01 add, CCS02 remove) and 8.9 Read Device Log (CCS06 the log, CCS07 both logs
with their TC link key hashes) from DCC's templates to RTDS's commands, MAC included: the
ACB originates them with its own counter for the DCC User, who rides as the supplementary
remote party. RTDS's answers and its CS14 alert decode into their records and encode back
byte for byte, and the DCC User reads them.

The CHF in-process answers RTDS's commands: its answers to CCS01 and CCS02 (success, and
CCS02 for a device not in the log) equal RTDS's whole but for the MAC, which the CHF's
private key (not public: device-keys has no 00-DB-12-34-56-78-90-A2) makes its own, so the
commands are MAC'd for the test CHF's key and its answers checked with the ACB's; its
CCS06 and CCS07 answers have RTDS's structure. On the running rig (tests/rigs/dcc.yaml) the
electricity supplier adds a device that is not on the rig, 8.9 lists it, 8.11 removes it,
and 8.9 no longer lists it; the rig's own devices stay.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import rig_cli, vectors
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.transform import TransformInput, served, transform_for
from nodes.config import DeviceLogEntry, GbcsConfig, HanConfig, NodeConfig, TrustedCert
from nodes.gpio import Wiring
from nodes.roles.chf import CommsHub
from rig.dccuser.readers import read
from rig.dccuser.tasks import send_request
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import dlms, security
from rig.protocol.gbcs.catalogue import CATALOGUE
from rig.protocol.gbcs.catalogue_chf import (
    CCS01,
    CCS02,
    CCS06,
    CCS07,
    ActiveDevice,
    LogBackup,
    RegisterDevice,
)
from rig.protocol.gbcs.catalogue_credentials import RemotePartyRole
from rig.protocol.gbcs.dlms import Data
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import check_command, for_unknown_remote_party, given_argument
from rig.protocol.smki import Usage
from rig.runtime.mqtt import MqttTls
from rig.runtime.records import KeyPair
from tests.test_gas_prepayment import _rtds, _template, store  # noqa: F401 (store: a fixture)

SUPPLIER = Eui64.parse("90-B3-D5-1F-30-01-00-00")  # RTDS's DCC User
ACB = Eui64.parse("90-B3-D5-1F-30-00-00-02")
CHF = Eui64.parse("00-DB-12-34-56-78-90-A2")
A0, A1, A3, A4 = (Eui64.parse(f"00-DB-12-34-56-78-90-{x}") for x in ("A0", "A1", "A3", "A4"))
INSTALL_CODE = bytes.fromhex("ADE86D7EBD87B75ED761D33A2E517EC3E3A1")  # any, with its CRC

# (use case, DCC's template, RTDS's folder/name)
COMMANDS = [
    (CCS01, "CCS01_8.11_SUCCESS", "8.11_CCS01/CCS01_8.11_SUCCESS"),
    (CCS02, "CCS02_8.11_SUCCESS", "8.11_CCS02/CCS02_8.11_SUCCESS"),
    (CCS06, "CCS06_8.9_SUCCESS", "8.9_CCS06/CCS06_8.9_SUCCESS"),
    (CCS07, "CCS07_8.9_SUCCESS", "8.9_CCS07/CCS07_8.9_SUCCESS"),
]


def _acb_command(uc, template: str, acb_counter: int) -> GbcsMessage:
    """What the DCC sends for DCC's template: the transform's command, originated by the
    ACB with its counter for the DCC User (the downlink's path for an ACB-originated use
    case), not yet MAC'd."""
    request = _template(template)
    fn = transform_for(uc)
    assert fn is not None
    ours = fn(uc, TransformInput(request, acb_counter, SUPPLIER, CHF))
    return for_unknown_remote_party(
        ours, ACB.raw, acb_counter, request.request_id.counter, certificate=None
    )


# --- the DCC's transforms, byte for byte ----------------------------------------------------
@pytest.mark.parametrize(("uc", "template", "rtds"), COMMANDS)
def test_the_transforms_are_rtdss_commands_mac_included(store, uc, template, rtds) -> None:
    expected = _rtds(f"{rtds}_COMMAND")
    ours = _acb_command(uc, template, expected.header.counter)  # stated: the ACB's counter
    assert ours.message_code == uc.message_code
    acb = store.private(ACB, Usage.KA).private_key
    maced = security.apply_mac(ours, acb, store.get(CHF, Usage.KA).public_key)
    assert maced.encode() == expected.encode()
    error = _rtds(f"{rtds.replace('SUCCESS', 'ERROR')}_COMMAND")
    for msg in (expected, error):
        assert check_command(msg, CATALOGUE) is uc


def test_one_srv_is_two_use_cases_and_the_catalogue_serves_the_chf() -> None:
    assert served(CATALOGUE, "8.11", "CHF") is CCS01  # Remove: its transform builds CCS02
    assert served(CATALOGUE, "8.9", "CHF") is CCS06  # ReadSecurityDetails: CCS07
    assert all(uc.acb_originated for uc in (CCS01, CCS02, CCS06, CCS07))
    # without the supplementary remote party (the User) the command is not the CHF's
    rtds = _rtds("8.9_CCS06/CCS06_8.9_SUCCESS_COMMAND")
    h = rtds.header
    direct = GbcsMessage.build(
        h.cra, h.counter, SUPPLIER.raw, h.recipient, h.message_code, rtds.payload
    )
    with pytest.raises(Exception, match="the ACB's, for a DCC User"):
        check_command(direct, CATALOGUE)


def test_ccs01_carries_the_device_its_install_code_and_the_join_period() -> None:
    command = _acb_command(CCS01, "CCS01_8.11_SUCCESS", 1302)
    argument = given_argument(CCS01, command.payload)
    assert isinstance(argument, dict)
    device = RegisterDevice.from_data(argument["device"])
    assert (Eui64(device.eui), device.install_code) == (A0, b"0123456789ABCDEF")
    assert device.to_data() == argument["device"]  # typed, and back
    assert argument["join_timeout"].value == 90 and argument["joining"].value == 0xFF


# --- RTDS's answers, decoded and encoded back -------------------------------------------------
def _data(name: str) -> list[Data]:
    apdu = dlms.decode(_rtds(name).payload)
    assert isinstance(apdu, dlms.AccessResponse)
    return apdu.data


def test_rtdss_answers_and_alert_round_trip_through_their_records() -> None:
    (active,) = _data("8.9_CCS06/CCS06_8.9_SUCCESS_RESPONSE")
    devices = [ActiveDevice.from_data(d) for d in active.value]
    assert [Eui64(d.eui) for d in devices] == [A0, A1]
    assert [d.to_data().encode() for d in devices] == [d.encode() for d in active.value]
    logs = _data("8.9_CCS07/CCS07_8.9_SUCCESS_RESPONSE")
    backups = [LogBackup.from_data(d) for d in logs]
    assert [[Eui64(e) for e, _ in b.devices] for b in backups] == [[A0, A1], [A3, A4]]
    assert [b.to_data().encode() for b in backups] == [d.encode() for d in logs]
    alert = dlms.decode(_rtds("NA_CS14/CS14_NA_8F12_ALERT").payload)
    assert isinstance(alert, dlms.DataNotification) and alert.alert_code == 0x8F12
    carried = alert.body.value[2]
    assert LogBackup.from_data(carried).to_data().encode() == carried.encode()


def test_the_dcc_user_reads_rtdss_answers() -> None:
    log = read(_rtds("8.9_CCS06/CCS06_8.9_SUCCESS_RESPONSE"))
    assert (log["use_case"], log["authenticated_by"], log["result"]) == ("CCS06", "acb", 0)
    assert [(d["eui"], d["registered"], d["joined"]) for d in log["devices"]] == [
        (A0.duis, True, True),
        (A1.duis, True, True),
    ]
    both = read(_rtds("8.9_CCS07/CCS07_8.9_SUCCESS_RESPONSE"))
    assert [d["eui"] for d in both["historic_device_log"]["devices"]] == [A3.duis, A4.duis]
    assert both["device_log"]["devices"][0]["hashed_tc_link_key"] == (
        "83FED3407A939723A5C639B26916D506"
    )
    assert read(_rtds("8.11_CCS01/CCS01_8.11_SUCCESS_RESPONSE"))["result"] == 0
    refused = read(_rtds("8.11_CCS02/CCS02_8.11_ERROR_RESPONSE"))
    assert (refused["result"], refused["results"]) == (1, [1])
    assert read(_rtds("8.9_CCS07/CCS07_8.9_ERROR_RESPONSE"))["results"] == [1, 250]


# --- the CHF in-process ---------------------------------------------------------------------
class Wan:
    """The CHF's WAN link, as its GBCS end sees it: what goes up."""

    def __init__(self) -> None:
        self.up: list[GbcsMessage] = []

    def trace(self, *_: Any) -> None:
        pass

    def send_up(self, gbcs: bytes) -> None:
        self.up.append(GbcsMessage.decode(gbcs))

    def command_forwarded(self) -> None:
        pass


def _pem_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return key


class Hub:
    """A CHF in-process with its own keys, whose device log holds ``devices``."""

    def __init__(self, tmp: Path, store, devices: tuple[Eui64, ...]) -> None:
        self.ka = _pem_key(tmp / "ka.key")
        _pem_key(tmp / "ds.key")
        keystore = vectors("gbcs", "rtds-keystore")
        gbcs = GbcsConfig(
            KeyPair(tmp / "ds.key", tmp / "ds.key"),
            KeyPair(tmp / "ka.key", tmp / "ka.key"),
            ACB,
            (
                TrustedCert(
                    ACB,
                    Usage.KA,
                    keystore / "90b3d51f30000002-ka.pem",
                    RemotePartyRole.ACCESS_CONTROL_BROKER,
                ),
            ),
            ACB,
        )
        han = HanConfig(
            11,
            0x1234,
            CHF,
            network_key=bytes(16),
            device_log=tuple(DeviceLogEntry(d, "ESME", INSTALL_CODE) for d in devices),
        )
        config = NodeConfig(
            name="chf", role="chf", eui=CHF, state_dir=tmp, health_bind="127.0.0.1",
            health_port=0, han=han, wan=MqttTls("127.0.0.1", 1, tmp, tmp, tmp), gbcs=gbcs,
        )  # fmt: skip
        self.node = CommsHub(config, Wiring({}))
        self.wan = Wan()
        self.node.wan = self.wan  # type: ignore[assignment]
        self.acb = store.private(ACB, Usage.KA).private_key

    def ask(self, command: GbcsMessage) -> list[GbcsMessage]:
        """The command MAC'd by the ACB for this CHF, from the WAN; what the CHF sends up
        (its answer, MAC'd for the ACB, then any alert)."""
        self.wan.up.clear()
        maced = security.apply_mac(command.without_mac(), self.acb, self.ka.public_key())
        asyncio.run(self.node._from_wan(maced.encode()))
        for msg in self.wan.up:
            security.verify_mac(msg, self.acb, self.ka.public_key())
        return list(self.wan.up)

    def read(self, msg: GbcsMessage) -> dict[str, Any]:
        return read(msg, user_ka=self.acb, device_ka=self.ka.public_key())


def _shape(value: Data) -> Any:
    """A value's types and lengths, not its contents."""
    if isinstance(value.value, list):
        return (value.type, [_shape(v) for v in value.value])
    return (value.type, len(value.value) if isinstance(value.value, bytes | tuple) else None)


def test_the_chf_adds_a_device_as_rtds_answers_and_raises_cs14(tmp_path, store) -> None:
    hub = Hub(tmp_path, store, (A1,))
    answer, alert = hub.ask(_rtds("8.11_CCS01/CCS01_8.11_SUCCESS_COMMAND"))
    rtds = _rtds("8.11_CCS01/CCS01_8.11_SUCCESS_RESPONSE")
    assert answer.without_mac().encode() == rtds.without_mac().encode()
    entry = hub.node.device_log.entries[A0]
    assert bytes.fromhex(entry.install_code)[:-2] == b"0123456789ABCDEF"  # the CRC added
    assert entry.join_until is not None  # joining opened for JoinTimePeriod
    out = hub.read(alert)
    assert (out["use_case"], out["alert_code"], out["authenticated_by"]) == ("CS14", "8F12", "mac")
    assert [d["eui"] for d in out["device_log"]["devices"]] == [A1.duis, A0.duis]
    assert all(d["hashed_tc_link_key"] == "" for d in out["device_log"]["devices"])
    rtds_alert = dlms.decode(_rtds("NA_CS14/CS14_NA_8F12_ALERT").payload)
    ours = dlms.decode(alert.payload)
    assert isinstance(rtds_alert, dlms.DataNotification)
    assert isinstance(ours, dlms.DataNotification)
    assert [v.type for v in ours.body.value] == [v.type for v in rtds_alert.body.value]
    # the device joins with the install code: the trust centre admits it
    assert hub.node.device_log.authorize(A0, 0) is not None


def test_adding_a_device_already_in_the_log_keeps_its_key(tmp_path, store) -> None:
    """GBCS (CCS01): the key of a device already in the log is discarded, the answer is
    success; the log did not change, so no CS14."""
    hub = Hub(tmp_path, store, (A0,))
    before = hub.node.device_log.entries[A0].install_code
    (answer,) = hub.ask(_rtds("8.11_CCS01/CCS01_8.11_SUCCESS_COMMAND"))
    assert answer.without_mac().encode() == (
        _rtds("8.11_CCS01/CCS01_8.11_SUCCESS_RESPONSE").without_mac().encode()
    )
    assert hub.node.device_log.entries[A0].install_code == before


def test_the_chf_removes_a_device_and_refuses_one_not_in_its_log(tmp_path, store) -> None:
    hub = Hub(tmp_path, store, (A0, A1))
    hub.node.device_log.joined(A0, 0x1234)  # it has a TC link key: the historic log keeps it
    answer, alert = hub.ask(_rtds("8.11_CCS02/CCS02_8.11_SUCCESS_COMMAND"))
    rtds = _rtds("8.11_CCS02/CCS02_8.11_SUCCESS_RESPONSE")
    assert answer.without_mac().encode() == rtds.without_mac().encode()
    assert A0 not in hub.node.device_log.entries
    assert hub.node.device_log.authorize(A0, 0) is None  # it cannot join again
    assert [d["eui"] for d in hub.read(alert)["device_log"]["devices"]] == [A1.duis]
    (historic,) = hub.node.device_log.historic
    assert historic.eui == A0.duis and len(bytes.fromhex(historic.hashed_link_key)) == 16
    # removed again (RTDS's ERROR command, the next counter): not in the log, as RTDS answers
    (refused,) = hub.ask(_rtds("8.11_CCS02/CCS02_8.11_ERROR_COMMAND"))
    rtds_error = _rtds("8.11_CCS02/CCS02_8.11_ERROR_RESPONSE")
    assert refused.without_mac().encode() == rtds_error.without_mac().encode()
    assert hub.read(refused)["result"] == 1
    # what the removed device sends is refused, not carried up
    hub.wan.up.clear()
    asyncio.run(hub.node._from_device(A0, rtds.encode()))
    assert hub.wan.up == []


def test_the_seed_does_not_bring_back_a_device_the_dcc_removed(tmp_path, store) -> None:
    hub = Hub(tmp_path, store, (A0, A1))
    hub.ask(_rtds("8.11_CCS02/CCS02_8.11_SUCCESS_COMMAND"))
    again = Hub(tmp_path, store, (A0, A1))  # restarted, the rig description unchanged
    assert list(again.node.device_log.entries) == [A1]


def test_a_device_added_joins_only_within_its_join_timeout(tmp_path, store) -> None:
    hub = Hub(tmp_path, store, ())
    log = hub.node.device_log
    assert log.add(A0, b"0123456789ABCDEF") and not log.add(A0, b"FEDCBA9876543210")
    log.open_joining(A0, 0)  # the join timeout has passed at once
    assert log.authorize(A0, 0) is None
    assert log.refused[-1]["reason"] == "its join timeout has passed"
    log.open_joining(A0, 60)
    assert log.authorize(A0, 0) is not None


def test_the_suppliers_of_the_meters_on_a_hub_are_responsible_for_it() -> None:
    from gateway.admission import hub_suppliers
    from gateway.config import DeviceConfig

    gas = Eui64.parse("90-B3-D5-1F-30-03-00-00")
    devices = {
        CHF: DeviceConfig(CHF, "CHF", CHF),
        A0: DeviceConfig(A0, "ESME", CHF, supplier=SUPPLIER),
        A1: DeviceConfig(A1, "GSME", CHF, supplier=gas),
        A3: DeviceConfig(A3, "ESME", A3, supplier=ACB),  # on another hub
    }
    assert hub_suppliers(devices[CHF], devices) == {SUPPLIER, gas}
    assert hub_suppliers(devices[A0], devices) == set()  # a meter names its own


def test_the_chf_lists_its_log_in_rtdss_structure(tmp_path, store) -> None:
    hub = Hub(tmp_path, store, (A0, A1))
    hub.node.device_log.joined(A1, 0x2222)
    (answer,) = hub.ask(_rtds("8.9_CCS06/CCS06_8.9_SUCCESS_COMMAND"))
    rtds = _rtds("8.9_CCS06/CCS06_8.9_SUCCESS_RESPONSE")
    assert answer.header.encode() == rtds.header.encode()
    ours, theirs = _data_of(answer), _data_of(rtds)
    assert _shape(ours[0]) == _shape(theirs[0])
    out = hub.read(answer)
    assert [(d["eui"], d["joined"]) for d in out["devices"]] == [(A0.duis, False), (A1.duis, True)]
    assert out["devices"][1]["last_heard"] is not None


def test_the_chf_backs_up_both_logs_in_rtdss_structure(tmp_path, store) -> None:
    hub = Hub(tmp_path, store, (A0, A1, A3, A4))
    for n, device in enumerate((A0, A1, A3, A4)):
        hub.node.device_log.joined(device, 0x1000 + n)
    for device in (A3, A4):  # removed after joining: into the historic log
        assert hub.node.device_log.remove(device)
    (answer,) = hub.ask(_rtds("8.9_CCS07/CCS07_8.9_SUCCESS_COMMAND"))
    rtds = _rtds("8.9_CCS07/CCS07_8.9_SUCCESS_RESPONSE")
    assert answer.header.encode() == rtds.header.encode()
    assert [_shape(d) for d in _data_of(answer)] == [_shape(d) for d in _data_of(rtds)]
    out = hub.read(answer)
    assert [d["eui"] for d in out["device_log"]["devices"]] == [A0.duis, A1.duis]
    assert [d["eui"] for d in out["historic_device_log"]["devices"]] == [A3.duis, A4.duis]
    assert out["device_log"]["extended_pan_id"] == CHF.duis


def _data_of(msg: GbcsMessage) -> list[Data]:
    apdu = dlms.decode(msg.payload)
    assert isinstance(apdu, dlms.AccessResponse)
    return apdu.data


# --- on the running rig ---------------------------------------------------------------------
NOT_ON_THE_RIG = "00-DB-12-34-56-78-9F-01"  # no node of tests/rigs/dcc.yaml


def _send(env, srv: str, *params: str) -> dict[str, Any]:
    args = [a for p in params for a in ("--param", p)]
    proc = rig_cli(
        "supplier", "send", srv, "--target", "chf", *args, "--json",
        "--rig", str(env["file"]), state=env["dir"], timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout)
    assert out.get("response_code") == "I0", out
    return out["values"]


def test_a_supplier_adds_and_removes_a_device_of_the_chf_log(dcc_rig) -> None:
    env = dcc_rig
    add = (f"DeviceID={NOT_ON_THE_RIG}", "InstallCode=0011223344556677", "JoinTimePeriod=60")
    added = _send(env, "8.11", *add)
    assert (added["use_case"], added["result"]) == ("CCS01", 0), added
    listed = _send(env, "8.9")
    assert listed["use_case"] == "CCS06" and listed["authenticated_by"] == "acb"
    euis = [d["eui"] for d in listed["devices"]]
    assert NOT_ON_THE_RIG in euis
    assert {"00-DB-12-34-56-78-90-A0", "00-DB-12-34-56-78-90-A1"} <= set(euis)  # the rig's
    removed = _send(env, "8.11", f"DeviceID={NOT_ON_THE_RIG}", "RequestType=Remove")
    assert (removed["use_case"], removed["result"]) == ("CCS02", 0), removed
    both = _send(env, "8.9", "ReadSecurityDetails=true")
    assert both["use_case"] == "CCS07"
    assert NOT_ON_THE_RIG not in [d["eui"] for d in both["device_log"]["devices"]]
    assert "00-DB-12-34-56-78-90-A0" in [d["eui"] for d in both["device_log"]["devices"]]
    again = _send(env, "8.11", f"DeviceID={NOT_ON_THE_RIG}", "RequestType=Remove")
    assert (again["use_case"], again["result"]) == ("CCS02", 1), again  # not in the log


def test_only_the_roles_the_matrix_names_read_the_chf_log(dcc_rig) -> None:
    env = dcc_rig
    gas = send_request(env["rig"], env["state"], "8.9", "chf", {}, user="supplier-b")
    assert (gas.acknowledgement, gas.response_code) == ("I99", "I0"), gas  # GS: its GSME's hub
    operator = send_request(env["rig"], env["state"], "8.9", "chf", {}, user="network-operator")
    assert operator.acknowledgement == "E2", operator  # ED may not send 8.9 (IS, GS, OU)
