"""11.2 Read Firmware Version (issue 16): ECS52 (ESME) and GCS38 (GSME) as the DCC transforms
DCC's templates, byte for byte as RTDS 4.5.0 has them (the ACB's MAC included); the ESME's
answer equal to RTDS's whole once RTDS's version is the one it runs, the GSME's in RTDS's
structure; the DCC User's reading of them; the version a meter keeps in its state folder
(from its description's ``behaviour.firmware_version`` at first power-on) is what 11.2
reads; and on the running rig (tests/rigs/dcc.yaml), 11.2 to the ESME and to the GSME
reads the version their health detail shows.

What cannot be byte for byte: the GSME's answer (its KA key is not public, so its MAC
differs): compared by structure.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from conftest import component_detail, rig_cli, vectors

from gateway.transform import TransformInput, transform_for
from nodes.config import Behaviour, GbcsConfig
from nodes.gbcs.cosem_server import CosemServer
from nodes.gbcs.handlers import handler_for
from nodes.gpio import Wiring
from nodes.roles.esme import ElectricityMeter
from nodes.roles.firmware import FIRMWARE_FILE, Firmware, PendingImage, serve_firmware
from rig.dccuser.readers import read
from rig.description import DescriptionError, parse_rig
from rig.plan.node_config import gbcs_config
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import security
from rig.protocol.gbcs.catalogue import CATALOGUE
from rig.protocol.gbcs.catalogue_firmware import (
    DEFAULT_VERSION,
    ECS52,
    GCS38,
    octet_string_of,
    octet_string_value,
    version_octets,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, check_command, command
from rig.protocol.smki import Usage
from rig.runtime.files import write_json
from tests.test_gas_prepayment import (  # noqa: F401 (pki: a fixture)
    ACB,
    GSME,
    RTDS_SUPPLIER,
    Gas,
    _node,
    _rtds,
    _shape,
    _template,
    pki,
)
from tests.test_usecases import ESME, JAN_2015, _context

ECS52_RTDS = "11.2_ECS52/ECS52_11.2"
GCS38_RTDS = "11.2_GCS38/GCS38_11.2"
RTDS_VERSION = "0123ABCD"  # what RTDS's devices answer: 01 23 AB CD


@pytest.fixture(scope="module")
def store():
    from rig.pki.keystores import load

    return load([vectors("gbcs", "rtds-keystore"), vectors("gbcs", "device-keys")])


# --- the DCC's transforms, byte for byte --------------------------------------------------------
@pytest.mark.parametrize(
    ("uc", "device", "rtds"),
    [
        (ECS52, ESME, f"{ECS52_RTDS}_SUCCESS_COMMAND"),
        (ECS52, ESME, f"{ECS52_RTDS}_ERROR_COMMAND"),  # counter 1002
        (GCS38, GSME, f"{GCS38_RTDS}_SUCCESS_COMMAND"),
        (GCS38, GSME, f"{GCS38_RTDS}_ERROR_COMMAND"),
    ],
)
def test_the_transform_of_dccs_template_is_rtds_command(
    store, uc: UseCase, device: Eui64, rtds: str
) -> None:
    expected = _rtds(rtds)
    fn = transform_for(uc)
    assert fn is not None, f"{uc.name} has no transform"
    template = _template(f"{uc.name}_11.2_SUCCESS")
    ours = fn(uc, TransformInput(template, expected.header.counter, RTDS_SUPPLIER, device))
    maced = security.apply_mac(
        ours, store.private(ACB, Usage.KA).private_key, store.get(device, Usage.KA).public_key
    )
    assert maced.encode() == expected.encode()
    assert check_command(expected, CATALOGUE) is uc
    assert CATALOGUE.for_srv("11.2", uc.device_type) is uc


def test_the_version_travels_as_four_octets() -> None:
    assert version_octets(RTDS_VERSION) == bytes.fromhex("0123abcd")
    assert version_octets("1.2.3") == bytes.fromhex("01020300")  # an image's dotted version
    with pytest.raises(ValueError, match="8 hex digits"):
        version_octets("not a version")
    # the GSME's CurrentMeterID: a ZCL octet string, length octet first
    value = octet_string_value(bytes.fromhex("0123abcd"))
    assert value.to_bytes(5, "little") == bytes.fromhex("040123abcd")
    assert octet_string_of(value) == bytes.fromhex("0123abcd")
    with pytest.raises(ValueError, match="4 octets"):
        octet_string_value(b"\x01\x02")


# --- the DCC User reads RTDS's answers ------------------------------------------------------
@pytest.mark.parametrize(
    ("device", "name", "result"),
    [
        (ESME, f"{ECS52_RTDS}_SUCCESS_RESPONSE", 0),
        (ESME, f"{ECS52_RTDS}_ERROR_RESPONSE", 1),  # hardware fault
        (GSME, f"{GCS38_RTDS}_SUCCESS_RESPONSE", 0),
        (GSME, f"{GCS38_RTDS}_ERROR_RESPONSE", 0xC0),  # ZCL HARDWARE_FAILURE
    ],
)
def test_the_dcc_user_reads_rtds_responses(store, device: Eui64, name: str, result: int) -> None:
    out = read(
        _rtds(name),
        user_ka=store.private(RTDS_SUPPLIER, Usage.KA).private_key,
        device_ka=store.get(device, Usage.KA).public_key,
    )
    assert out["authenticated_by"] == "mac" and out["result"] == result
    if result:
        assert "firmware_version" not in out
    else:
        assert out["firmware_version"] == RTDS_VERSION


# --- the meters answer from their firmware state ----------------------------------------------
def _esme_tables(state: Path, version: str) -> SimpleNamespace:
    """The ESME as serve_firmware sees it: its COSEM server, state folder and behaviour."""
    return SimpleNamespace(
        cosem=CosemServer(),
        zcl=None,
        config=SimpleNamespace(state_dir=state, eui=ESME),
        behaviour=Behaviour(firmware_version=version),
    )


def _answer(store, meter: SimpleNamespace, uc: UseCase, cmd: GbcsMessage) -> GbcsMessage:
    return asyncio.run(handler_for(uc)(uc, cmd, _context(store, ESME, meter, JAN_2015)))


def test_the_esme_answers_rtds_ecs52_whole_from_its_firmware(store, tmp_path: Path) -> None:
    rtds = _rtds(f"{ECS52_RTDS}_SUCCESS_RESPONSE")
    cmd = _rtds(f"{ECS52_RTDS}_SUCCESS_COMMAND")
    meter = _esme_tables(tmp_path, RTDS_VERSION)
    firmware = serve_firmware(meter)
    assert firmware.version == RTDS_VERSION
    assert _answer(store, meter, ECS52, cmd).encode() == rtds.encode()

    firmware.run("00000002")  # another version: RTDS's answer but for its value
    other = _answer(store, meter, ECS52, cmd)
    assert other.encode() != rtds.encode() and len(other.encode()) == len(rtds.encode())
    out = read(
        other,
        user_ka=store.private(RTDS_SUPPLIER, Usage.KA).private_key,
        device_ka=store.get(ESME, Usage.KA).public_key,
    )
    assert out["result"] == 0 and out["firmware_version"] == "00000002"


def test_the_firmware_state_is_kept_and_its_first_version_is_the_descriptions(
    tmp_path: Path,
) -> None:
    path = tmp_path / FIRMWARE_FILE
    first = Firmware(path, "0a0b0c0d")
    assert first.version == "0A0B0C0D" and path.exists()  # written as DUIS writes it
    # from then on the state folder says, whatever the description says
    assert Firmware(path, DEFAULT_VERSION).version == "0A0B0C0D"
    image = PendingImage("1.2.3", "ab" * 32, {"load_w": 100}, activate_at=1_800_000_000.0)
    first.hold(image)
    again = Firmware(path, DEFAULT_VERSION)
    assert again.pending is not None and again.pending.version == "01020300"
    assert again.pending.activate_at == 1_800_000_000.0 and again.version == "0A0B0C0D"
    again.activate()
    kept = Firmware(path, DEFAULT_VERSION)
    assert (kept.version, kept.profile, kept.pending) == ("01020300", {"load_w": 100}, None)
    with pytest.raises(ValueError, match="no firmware image is pending"):
        kept.activate()
    assert Firmware(tmp_path / "new" / FIRMWARE_FILE, DEFAULT_VERSION).octets == bytes(3) + b"\1"
    assert Behaviour().firmware_version == DEFAULT_VERSION  # a node's, unless described
    path.write_text('{"version": "v2"}')  # a state no device writes: it says what to do
    with pytest.raises(ValueError, match="delete it"):
        Firmware(path, DEFAULT_VERSION)


async def test_a_version_in_the_esmes_state_is_what_11_2_reads(pki, tmp_path: Path) -> None:
    """The real ESME role, its keys from the test rig's PKI: the version its state folder
    holds (not its description's) is ECS52's answer, and its health detail's."""
    rig, authority = pki
    node = next(n for n in rig.nodes if n.name == "esme")
    supplier = next(u.eui for u in rig.users if u.name == node.supplier)
    device = node.eui
    state = tmp_path / "esme"
    write_json(state / FIRMWARE_FILE, {"version": "00C0FFEE"})
    config = _node(
        state,
        "esme",
        device,
        cast(GbcsConfig, gbcs_config(rig, authority, node)),
        firmware_version="11111111",
    )
    esme = ElectricityMeter(config, Wiring({}))
    try:
        msg = command(ECS52, 1 << 48, supplier.raw, device.raw)
        device_ka = authority.device(device, Usage.KA).load_cert().public_key()
        maced = security.apply_mac(msg, authority.org(ACB, Usage.KA).load_key(), device_ka)
        answer = await esme.handle_gbcs(maced.encode())
        assert answer is not None, "the ESME discarded ECS52"
        out = read(
            GbcsMessage.decode(answer),
            user_ka=authority.org(supplier, Usage.KA).load_key(),
            device_ka=device_ka,
        )
        assert out["authenticated_by"] == "mac" and out["result"] == 0
        assert out["firmware_version"] == "00C0FFEE"
        assert esme.detail()["firmware"]["version"] == "00C0FFEE"
    finally:
        await esme.stop()


async def test_the_gsme_answers_gcs38_in_rtdss_structure_from_its_firmware(
    pki,
    tmp_path: Path,
) -> None:
    """A GSME described with a version runs it from first power-on; one set in its state
    (as 11.3 will) is what the next GCS38 reads; both in RTDS's structure."""
    setup = Gas(pki, tmp_path, firmware_version="0123abcd")
    try:
        answer = await setup.ask(GCS38)
        assert _shape(answer) == _shape(_rtds(f"{GCS38_RTDS}_SUCCESS_RESPONSE"))
        out = setup.read(answer)
        assert out["authenticated_by"] == "mac" and out["result"] == 0
        assert out["firmware_version"] == RTDS_VERSION
        assert setup.gsme.firmware.state()["version"] == RTDS_VERSION  # its health detail

        setup.gsme.firmware.run("2.0")
        out = setup.read(await setup.ask(GCS38))
        assert out["firmware_version"] == "02000000"
        assert json.loads((tmp_path / "gsme" / FIRMWARE_FILE).read_text())["version"] == (
            "02000000"
        )
    finally:
        await setup.close()


# --- the description ------------------------------------------------------------------------
RIG = """\
name: t
nodes:
  - {name: chf, role: chf, eui: 00-DB-12-34-56-78-90-A2, gpf_eui: 00-DB-12-34-56-78-90-A3}
  - name: esme
    role: esme
    eui: 00-DB-12-34-56-78-90-A0
    install_code: 18B2 0E60 1ABA BD5C 2FE3 85CD 9E5B 7B97 8EE7
    behaviour: {firmware_version: VERSION}
users:
  - {name: s, eui: 90-B3-D5-1F-30-01-00-00, role: IS}
  - {name: g, eui: 90-B3-D5-1F-30-03-00-00, role: GS}
  - {name: n, eui: 90-B3-D5-1F-30-02-00-00, role: ED}
"""


@pytest.mark.parametrize(
    ("written", "version"),
    [("'0123abcd'", "0123ABCD"), ("'1.2'", "01020000"), ("00000001", None), ("'x'", None)],
)
def test_the_description_names_a_meters_first_version(written: str, version: str | None) -> None:
    text = RIG.replace("VERSION", written)
    if version is None:  # unquoted, YAML reads 00000001 as the number 1
        with pytest.raises(DescriptionError, match="firmware_version"):
            parse_rig(text)
        return
    assert parse_rig(text).node("esme").behaviour["firmware_version"] == version


# --- on the running rig -----------------------------------------------------------------------
def _cli(env, *args: str):
    return rig_cli(*args, "--rig", str(env["file"]), state=env["dir"], timeout=120)


def _firmware_detail(env, name: str) -> dict[str, Any]:
    return component_detail(env["dir"], name)["firmware"]


@pytest.mark.parametrize(("target", "use_case"), [("esme", "ECS52"), ("gsme", "GCS38")])
def test_11_2_reads_the_version_the_meter_runs(dcc_rig, target: str, use_case: str) -> None:
    proc = _cli(dcc_rig, "supplier", "send", "11.2", "--target", target, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout)
    assert out["response_code"] == "I0", out
    values = out["values"]
    assert values["use_case"] == use_case and values["result"] == 0
    assert values["authenticated_by"] == "mac"
    # what the meter runs: the default (tests/rigs/dcc.yaml names none), unless the session's
    # firmware tests (tests/test_firmware_update.py) activated another image on it first
    assert values["firmware_version"] == _firmware_detail(dcc_rig, target)["version"]
