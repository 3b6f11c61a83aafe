"""The rig description: the built-in rig, the bench example, errors naming file:line: field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rig.description import DescriptionError, default_rig, load_rig, parse_rig
from rig.description.model import Role
from tests.conftest import ROOT

GOOD = """\
name: t
nodes:
  - {name: chf, role: chf, eui: 00-DB-12-34-56-78-90-A2, gpf_eui: 00-DB-12-34-56-78-90-A3}
  - name: gsme
    role: gsme
    eui: 00-DB-12-34-56-78-90-A1
    install_code: ADE8 6D7E BD87 B75E D761 D33A 2E51 7EC3 E3A1
users:
  - {name: s, eui: 90-B3-D5-1F-30-01-00-00, role: IS}
  - {name: g, eui: 90-B3-D5-1F-30-03-00-00, role: GS}
  - {name: n, eui: 90-B3-D5-1F-30-02-00-00, role: ED}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(DescriptionError) as exc:
        parse_rig(text, file="bench.yaml")
    return [str(p) for p in exc.value.problems]


def test_default_rig_is_one_home_with_three_users() -> None:
    rig = default_rig()
    assert sorted(n.role.value for n in rig.nodes) == ["chf", "esme", "gsme", "ihd", "ppmid"]
    hub = rig.hubs[0]
    assert hub.extended_pan_id == hub.eui  # GBCS: extended PAN ID = CHF EUI
    assert all(n.hub == hub.name for n in rig.nodes if n.role is not Role.CHF)
    assert {u.role.value for u in rig.users} >= {"IS", "GS", "ED"}
    assert rig.node("esme").supplier == "supplier-a" and rig.node("gsme").supplier == "supplier-b"
    assert rig.node("esme").gpio.relay == "GPIO17" and rig.node("gsme").gpio.valve == "GPIO17"


def test_physical_example_rig_validates() -> None:
    rig = load_rig(ROOT / "hardware" / "rigs" / "bench-a.yaml")
    assert all(not n.placement.virtual for n in rig.nodes)
    assert {n.radio.type.value for n in rig.nodes} - {"sim"}  # real radios on Pis


def test_good_description_parses() -> None:
    rig = parse_rig(GOOD)
    assert rig.node("gsme").hub == "chf"  # the only hub is implied


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        # bad EUI format
        (
            lambda t: t.replace("00-DB-12-34-56-78-90-A1", "00-DB-12-34"),
            r"bench.yaml:6: nodes\[1\].eui: '00-DB-12-34' is not an EUI-64",
        ),
        # duplicate EUI
        (
            lambda t: t.replace("00-DB-12-34-56-78-90-A1", "00-DB-12-34-56-78-90-A2"),
            r"bench.yaml:\d+: nodes\[1\].eui: "
            r"EUI 00-DB-12-34-56-78-90-A2 is already used by node chf",
        ),
        # unknown role
        (
            lambda t: t.replace("role: gsme", "role: gasmeter"),
            r"bench.yaml:5: nodes\[1\].role: unknown role 'gasmeter'; one of: chf, esme, gsme",
        ),
        # a GSME without a CHF
        (
            lambda t: t.replace(
                "  - {name: chf, role: chf, eui: 00-DB-12-34-56-78-90-A2, "
                "gpf_eui: 00-DB-12-34-56-78-90-A3}\n",
                "",
            ),
            r"bench.yaml:\d+: nodes\[0\].role: a gsme needs a chf on the rig",
        ),
        # install code typo (CRC)
        (
            lambda t: t.replace("E3A1", "E3A2"),
            r"bench.yaml:7: nodes\[1\].install_code: install code CRC is A2E3 but should be A1E3",
        ),
        # port clash
        (
            lambda t: t + "wan: {broker_port: 8079}\ngateway: {duis_port: 8079}\n",
            r"bench.yaml:13: gateway.duis_port: port 8079 is also wan.broker_port",
        ),
        # duplicate key
        (
            lambda t: t.replace("    role: gsme\n", "    role: gsme\n    role: esme\n"),
            r"bench.yaml:6: not valid YAML: key 'role' appears twice \(first on line 5\)",
        ),
        # unknown field, with a suggestion
        (
            lambda t: t.replace("install_code:", "instal_code:"),
            r"bench.yaml:7: nodes\[1\].instal_code: unknown field; did you mean 'install_code'\?",
        ),
        # control case: the same node as an esme (no gpio) is valid and must parse
        (lambda t: t.replace("role: gsme", "role: esme") + "", None),
        # missing network operator
        (
            lambda t: t.replace("  - {name: n, eui: 90-B3-D5-1F-30-02-00-00, role: ED}\n", ""),
            r"bench.yaml:\d+: users: the rig needs a network operator DCC User",
        ),
        # bad channel
        (
            lambda t: t + "han: {channel: 30}\n",
            r"bench.yaml:12: han.channel: 30 is out of range for a 2.4 GHz Zigbee channel",
        ),
        # a virtual node with a real radio stick
        (
            lambda t: t.replace("    role: gsme\n", "    role: gsme\n    radio: {type: ezsp}\n"),
            r"bench.yaml:6: nodes\[1\].radio.type: a virtual node has no radio stick",
        ),
    ],
)
def test_errors_name_file_line_and_field(edit, expected: str | None) -> None:
    text = edit(GOOD)
    if expected is None:  # a valid variant (esme with no gpio): must parse
        parse_rig(text)
        return
    found = problems(text)
    assert any(re.search(expected, p) for p in found), found


def test_gpio_pins_are_checked() -> None:
    text = GOOD.replace(
        "    role: gsme\n",
        "    role: gsme\n    gpio: {relay: GPIO4, leds: {valve: GPIO4, bad: PIN99}}\n",
    )
    found = problems(text)
    assert any("nodes[1].gpio.relay: only an esme has a relay" in p for p in found), found
    assert any("pin GPIO4 is wired to both" in p for p in found), found
    assert any("nodes[1].gpio.leds.bad: 'PIN99' is not a gpiozero pin name" in p for p in found), (
        found
    )


def test_every_problem_is_reported_at_once() -> None:
    text = GOOD.replace("00-DB-12-34-56-78-90-A1", "zz").replace("role: IS", "role: XX")
    assert len(problems(text)) >= 2


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DescriptionError, match=r"missing.yaml: cannot read"):
        load_rig(tmp_path / "missing.yaml")
