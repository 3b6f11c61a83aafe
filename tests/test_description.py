"""The rig description: the built-in rig, the bench example, errors naming file:line: field."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from rig.description import DescriptionError, default_rig, load_rig, parse_rig
from rig.description.defaults import complete
from rig.description.model import (
    Gpio,
    HanSettings,
    Node,
    Placement,
    Radio,
    RadioType,
    Rig,
    Role,
    User,
    UserRole,
)
from rig.description.rules import RULES
from rig.protocol.eui import Eui64
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


@pytest.mark.parametrize("group", ["leds", "buttons"])
def test_a_pin_group_that_is_not_a_mapping_is_a_problem_not_a_crash(group: str) -> None:
    found = problems(
        GOOD.replace("    role: gsme\n", f"    role: gsme\n    gpio: {{{group}: 5}}\n")
    )
    assert any(f"nodes[1].gpio.{group}: expected a mapping, got a number (5)" in p for p in found)


def test_every_problem_is_reported_at_once() -> None:
    text = GOOD.replace("00-DB-12-34-56-78-90-A1", "zz").replace("role: IS", "role: XX")
    assert len(problems(text)) >= 2


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DescriptionError, match=r"missing.yaml: cannot read"):
        load_rig(tmp_path / "missing.yaml")


# --- cross-section rules: one small description per rule ------------------------------

GSME_ROLE_LINE = "    role: gsme\n"
IC = "ADE8 6D7E BD87 B75E D761 D33A 2E51 7EC3 E3A1"


def add_node(text: str, node: str) -> str:
    """``text`` with one more node at the end of ``nodes``; the other lines keep their numbers."""
    return text.replace("users:\n", f"  - {node}\nusers:\n")


@dataclass(frozen=True)
class RuleCase:
    rule: str  # the function in rig.description.rules that must report it
    text: str
    line: int | None
    field: str
    phrase: str


RULE_CASES = [
    RuleCase(
        "node_names_unique",
        GOOD.replace("  - name: gsme\n", "  - name: chf\n"),
        4,
        "nodes[1].name",
        "node name 'chf' is already used on line 3",
    ),
    RuleCase(
        "euis_unique",
        GOOD + "dcc: {acb_eui: 90-B3-D5-1F-30-01-00-00}\n",
        9,
        "users[0].eui",
        "EUI 90-B3-D5-1F-30-01-00-00 is already used by the DCC access control broker",
    ),
    RuleCase(
        "devices_have_a_hub",
        add_node(
            GOOD,
            "{name: chf2, role: chf, eui: 00-DB-12-34-56-78-90-B2, "
            "gpf_eui: 00-DB-12-34-56-78-90-B3, han: {channel: 20}}",
        ),
        4,
        "nodes[1].hub",
        "the rig has 2 hubs; name the one this gsme joins: hub: chf | chf2",
    ),
    RuleCase(
        "devices_have_a_hub",
        GOOD.replace(GSME_ROLE_LINE, GSME_ROLE_LINE + "    hub: nope\n"),
        4,
        "nodes[1].hub",
        "'nope' is not a chf node on this rig",
    ),
    RuleCase(
        "one_meter_of_each_kind_per_hub",
        add_node(
            GOOD, f"{{name: gsme2, role: gsme, eui: 00-DB-12-34-56-78-90-B1, install_code: {IC}}}"
        ),
        3,
        "nodes",
        "hub chf has 2 gsmes (gsme, gsme2); a GB home has at most one",
    ),
    RuleCase(
        "hubs_form_distinct_hans",
        add_node(
            GOOD.replace(GSME_ROLE_LINE, GSME_ROLE_LINE + "    hub: chf\n"),
            "{name: chf2, role: chf, eui: 00-DB-12-34-56-78-90-B2, "
            "gpf_eui: 00-DB-12-34-56-78-90-B3}",
        ),
        9,
        "han",
        "hubs chf and chf2 would form two networks with PAN ID 1A62 on channel 15",
    ),
    RuleCase(
        "user_names_unique",
        GOOD + "  - {name: s, eui: 90-B3-D5-1F-30-04-00-00, role: OU}\n",
        12,
        "users[3].name",
        "DCC User 's' is listed twice",
    ),
    RuleCase(
        "required_users_present",
        GOOD.replace("  - {name: s, eui: 90-B3-D5-1F-30-01-00-00, role: IS}\n", ""),
        8,
        "users",
        "the rig needs a import supplier (IS) DCC User",
    ),
    RuleCase(
        "required_users_present",
        GOOD.replace("  - {name: g, eui: 90-B3-D5-1F-30-03-00-00, role: GS}\n", ""),
        8,
        "users",
        "the rig needs a gas supplier (GS) DCC User",
    ),
    RuleCase(
        "meter_suppliers_valid",
        GOOD + "  - {name: g2, eui: 90-B3-D5-1F-30-04-00-00, role: GS}\n",
        4,
        "nodes[1].supplier",
        "several GS users; name this meter's supplier",
    ),
    RuleCase(
        "meter_suppliers_valid",
        GOOD.replace(GSME_ROLE_LINE, GSME_ROLE_LINE + "    supplier: nobody\n"),
        4,
        "nodes[1].supplier",
        "no DCC User named 'nobody'",
    ),
    RuleCase(
        "meter_suppliers_valid",
        GOOD.replace(GSME_ROLE_LINE, GSME_ROLE_LINE + "    supplier: s\n"),
        4,
        "nodes[1].supplier",
        "'s' is IS, not GS",
    ),
    RuleCase(
        "controller_ports_distinct",
        GOOD + "air: {control_port: 8079}\n",
        12,
        "air.control_port",
        "port 8079 is also gateway.duis_port; the controller cannot listen twice",
    ),
]


@pytest.mark.parametrize("case", RULE_CASES, ids=lambda c: c.rule)
def test_each_cross_section_rule_reports_its_problem(case: RuleCase) -> None:
    with pytest.raises(DescriptionError) as exc:
        parse_rig(case.text, file="bench.yaml")
    found = [(p.file, p.line, p.field, p.message) for p in exc.value.problems]
    assert any(
        (file, line, field) == ("bench.yaml", case.line, case.field) and case.phrase in message
        for file, line, field, message in found
    ), found


def test_every_rule_has_a_case() -> None:
    assert {c.rule for c in RULE_CASES} == {rule.__name__ for rule in RULES}


def _node(
    name: str, role: Role, last: int, hub: str | None = None, supplier: str | None = None
) -> Node:
    return Node(
        name=name,
        role=role,
        eui=Eui64.parse(f"00-DB-12-34-56-78-90-{last:02X}"),
        placement=Placement(virtual=True),
        radio=Radio(type=RadioType.SIM),
        gpio=Gpio(),
        hub=hub,
        supplier=supplier,
    )


def _user(name: str, role: UserRole, last: int) -> User:
    return User(name=name, eui=Eui64.parse(f"90-B3-D5-1F-30-{last:02X}-00-00"), roles=(role,))


def _rig(nodes: list[Node], users: list[User]) -> Rig:
    return Rig(
        name="t",
        source="t.yaml",
        han=HanSettings(15, 0x1A62),
        nodes=tuple(nodes),
        users=tuple(users),
        acb_eui=Eui64.parse("90-B3-D5-1F-30-00-00-02"),
    )


def test_defaults_fill_the_only_hub_and_the_only_supplier() -> None:
    rig = complete(
        _rig(
            [
                _node("chf", Role.CHF, 0xA2),
                _node("esme", Role.ESME, 0xA0),
                _node("gsme", Role.GSME, 0xA1),
                _node("ihd", Role.IHD, 0xA5),
            ],
            [_user("s", UserRole.IS, 1), _user("g", UserRole.GS, 3), _user("n", UserRole.ED, 2)],
        )
    )
    assert [(n.name, n.hub, n.supplier) for n in rig.nodes] == [
        ("chf", None, None),  # a hub joins no hub and has no supplier
        ("esme", "chf", "s"),
        ("gsme", "chf", "g"),
        ("ihd", "chf", None),  # only a meter has a supplier
    ]


def test_defaults_leave_a_choice_to_the_description() -> None:
    rig = complete(
        _rig(
            [
                _node("chf", Role.CHF, 0xA2),
                _node("chf2", Role.CHF, 0xB2),
                _node("esme", Role.ESME, 0xA0),  # two hubs, two IS users: no default
                _node("gsme", Role.GSME, 0xA1, hub="chf2", supplier="x"),  # named: kept
            ],
            [_user("s", UserRole.IS, 1), _user("s2", UserRole.IS, 4), _user("g", UserRole.GS, 3)],
        )
    )
    assert rig.node("esme").hub is None and rig.node("esme").supplier is None
    assert rig.node("gsme").hub == "chf2" and rig.node("gsme").supplier == "x"


def test_parsed_rig_has_its_defaults_filled() -> None:
    rig = parse_rig(GOOD)
    assert rig.node("gsme").hub == "chf" and rig.node("gsme").supplier == "g"


def test_a_dcc_controlled_meter_is_declared_with_a_boolean_on_a_meter_only() -> None:
    rig = parse_rig(GOOD.replace("    role: gsme\n", "    role: gsme\n    dcc_controlled: true\n"))
    assert rig.node("gsme").dcc_controlled and not rig.node("chf").dcc_controlled
    said = problems(GOOD.replace("    role: gsme\n", "    role: gsme\n    dcc_controlled: 1\n"))
    assert any("dcc_controlled" in p and "expected true or false" in p for p in said), said
    said = problems(GOOD.replace("role: chf,", "role: chf, dcc_controlled: true,", 1))
    assert any("only a meter (esme, gsme) is handed over" in p for p in said), said
