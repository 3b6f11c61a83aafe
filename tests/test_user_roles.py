"""DCC Users with several roles (issue 17), as DCC Boxed has them: its supplier
90-B3-D5-1F-30-01-00-00 is both import (IS) and gas (GS) supplier.

The rig description takes ``role: [IS, GS]`` (one organisation role's roles only); such a
user may be the named supplier of both meters; and the DCC checks eligibility per role: the
roles the SRV matrix names for the SRV, and among them one that supplies the target (IS an
ESME, GS a GSME; either meter's for the hub's devices). DUIS requests are signed and
admitted for real (schema, XML signature, SRV matrix), in process.
"""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree

from gateway.admission import Admitted, Refused, admit
from gateway.config import DeviceConfig, UserConfig
from rig.dccuser.client import body_for
from rig.description import DescriptionError, parse_rig
from rig.description.model import UserRole
from rig.protocol import smki
from rig.protocol.duis import codes
from rig.protocol.duis.message import Request, RequestId, parse_document
from rig.protocol.duis.signed import sign_document
from rig.protocol.eui import Eui64
from rig.protocol.gbcs.catalogue import CATALOGUE
from rig.protocol.keystore import KeyStore
from rig.protocol.smki import Usage
from rig.reference import duis_schema, srv_table
from tests.conftest import vectors
from tests.test_description import GOOD

DCC = Eui64.parse("90-B3-D5-1F-30-00-00-02")
SUPPLIER = Eui64.parse("90-B3-D5-1F-30-01-00-00")
OTHER = Eui64.parse("90-B3-D5-1F-30-03-00-00")
ESME = Eui64.parse("00-DB-12-34-56-78-90-A0")
GSME = Eui64.parse("00-DB-12-34-56-78-90-A1")
CHF = Eui64.parse("00-DB-12-34-56-78-90-A2")


# --- the description ----------------------------------------------------------------------
def _with_users(users: str) -> str:
    head = GOOD.split("users:")[0]
    return head + "users:\n" + users


def test_a_user_may_hold_a_suppliers_roles_and_supply_both_meters() -> None:
    rig = parse_rig(
        _with_users(
            "  - {name: s, eui: 90-B3-D5-1F-30-01-00-00, role: [IS, GS]}\n"
            "  - {name: n, eui: 90-B3-D5-1F-30-02-00-00, role: ED}\n"
        )
    )
    s = rig.user("s")
    assert s.roles == (UserRole.IS, UserRole.GS) and s.role is UserRole.IS
    assert s.has(UserRole.GS) and s.roles_text == "IS+GS"
    assert rig.node("gsme").supplier == "s"  # the one gas supplier, filled in


@pytest.mark.parametrize(
    ("role", "why"),
    [
        ("[IS, ED]", "a supplier's (IS, GS, ES) or a network operator's (ED, GT)"),
        ("[GS, GS]", "a role is given twice"),
        ("[]", "at least one"),
        ("[IS, XX]", "unknown DUIS user role 'XX'"),
    ],
)
def test_roles_one_user_may_not_hold_together_are_refused_saying_why(role: str, why: str) -> None:
    text = _with_users(
        f"  - {{name: s, eui: 90-B3-D5-1F-30-01-00-00, role: {role}}}\n"
        "  - {name: g, eui: 90-B3-D5-1F-30-03-00-00, role: GS}\n"
        "  - {name: n, eui: 90-B3-D5-1F-30-02-00-00, role: ED}\n"
    )
    with pytest.raises(DescriptionError) as exc:
        parse_rig(text, file="bench.yaml")
    assert any(why in str(p) for p in exc.value.problems), exc.value.problems


def test_a_meters_named_supplier_must_hold_its_supplier_role() -> None:
    text = _with_users(
        "  - {name: s, eui: 90-B3-D5-1F-30-01-00-00, role: [IS, ES]}\n"
        "  - {name: g, eui: 90-B3-D5-1F-30-03-00-00, role: GS}\n"
        "  - {name: n, eui: 90-B3-D5-1F-30-02-00-00, role: ED}\n"
    ).replace("    role: gsme\n", "    role: gsme\n    supplier: s\n")
    with pytest.raises(DescriptionError) as exc:
        parse_rig(text, file="bench.yaml")
    assert any("'s' is IS+ES, not GS" in str(p) for p in exc.value.problems)


# --- the DCC's checks, per role -----------------------------------------------------------
@pytest.fixture(scope="module")
def keys() -> KeyStore:
    store = KeyStore()
    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = smki.ca_certificate("rig-test", ca_key, not_before=now)
    for user in (SUPPLIER, OTHER):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = smki.organisation_certificate(
            user, smki.OrgRole.XML_SIGN_USER, key.public_key(), Usage.DS, ca, ca_key,
            not_before=now, not_after=smki.NO_EXPIRY,
        )  # fmt: skip
        store.add(user, Usage.XML, cert, key)
    return store


DEVICES = {
    ESME: DeviceConfig(ESME, "ESME", CHF, supplier=SUPPLIER),
    GSME: DeviceConfig(GSME, "GSME", CHF, supplier=SUPPLIER),
    CHF: DeviceConfig(CHF, "CHF", CHF),
}


def _admit(
    keys: KeyStore,
    roles: tuple[str, ...],
    srv: str,
    target: Eui64,
    template: str | None = None,
    devices: dict[Eui64, DeviceConfig] = DEVICES,
    sender: Eui64 = SUPPLIER,
) -> Admitted:
    """``srv`` to ``target`` from ``sender`` (SUPPLIER holding ``roles``, or OTHER as GS):
    its body the rig's (or that of DCC's ``template``)."""
    users = {
        SUPPLIER: UserConfig(SUPPLIER, "supplier", roles[0], "http://127.0.0.1:1/", roles),
        OTHER: UserConfig(OTHER, "other", "GS", "http://127.0.0.1:1/"),
    }
    counter = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    service = srv_table().lookup(srv)
    to = DCC if service.non_device else target
    url, cv = (
        ("serviceD", 8)
        if service.non_device
        else ("serviceT", 4)
        if service.critical
        else ("serviceS", 1)
    )
    body = body_for(srv, {}) if template is None else _template_body(template)
    request = Request(RequestId(sender, to, counter), cv, service.service_reference, srv, body)
    signed = sign_document(request.to_element(), keys.private(sender, Usage.XML))
    return admit(
        url,
        signed,
        max_body=1_000_000,
        keys=keys,
        users=users,
        devices=devices,
        dcc=DCC,
        last_counter=lambda _sender: None,
        xsd=duis_schema(),
        srvs=srv_table(),
        catalogue=CATALOGUE,
    )


def _template_body(name: str) -> etree._Element:
    request = parse_document(vectors("duis", "templates", name).read_bytes())
    assert isinstance(request, Request)
    return request.body


GAS_ONLY = "GCS13b_4.1.4_SUCCESS_RELIABLE_GSME_REQUEST_DUIS.XML"  # 4.1.4: GS alone


def test_an_is_and_gs_supplier_reads_both_of_its_meters(keys: KeyStore) -> None:
    for target in (ESME, GSME, CHF):  # 4.1.1 (IS, GS); 8.9 of the hub (IS, GS, OU)
        srv = "8.9" if target == CHF else "4.1.1"
        assert _admit(keys, ("IS", "GS"), srv, target).device == DEVICES[target]


def test_eligibility_is_per_role_and_per_meter(keys: KeyStore) -> None:
    # the same user as IS only does not supply the GSME: it may not read it (E4)
    with pytest.raises(Refused) as refused:
        _admit(keys, ("IS",), "4.1.1", GSME)
    assert refused.value.code == codes.NOT_AUTHORISED_FOR_DEVICE
    # 4.1.4 is the gas supplier's alone (GS): refused E2 to an IS user, taken from IS+GS
    with pytest.raises(Refused) as refused:
        _admit(keys, ("IS",), "4.1.4", GSME, GAS_ONLY)
    assert refused.value.code == codes.ROLE_NOT_ELIGIBLE
    assert "role IS may not" in refused.value.reason
    assert _admit(keys, ("IS", "GS"), "4.1.4", GSME, GAS_ONLY).device == DEVICES[GSME]
    # 1.1.2 is the import supplier's alone: a GS user may not send it
    with pytest.raises(Refused) as refused:
        _admit(keys, ("GS",), "1.1.2", ESME, "ECS01c_1.1.2_IMMEDIATE_SUCCESS_REQUEST_DUIS.XML")
    assert refused.value.code == codes.ROLE_NOT_ELIGIBLE


def test_an_other_user_asks_any_meter_for_a_cin_and_nothing_its_supplier_alone_may(
    keys: KeyStore,
) -> None:
    # 9.1's command is the ACB's, the Other User riding along: no responsibility needed
    for target in (ESME, GSME):
        assert _admit(keys, ("OU",), "9.1", target).device == DEVICES[target]
    assert _admit(keys, ("OU",), "8.9", CHF).device == DEVICES[CHF]  # CCS06: the ACB's too
    # 4.1.1 is no Other User's (E2); 4.8.2 (IS, ED, OU) is the User's own command to the
    # meter, which trusts only its parties: an Other User is not one (E4)
    with pytest.raises(Refused) as refused:
        _admit(keys, ("OU",), "4.1.1", ESME)
    assert refused.value.code == codes.ROLE_NOT_ELIGIBLE
    with pytest.raises(Refused) as refused:
        _admit(keys, ("OU",), "4.8.2", ESME, "ECS22c_4.8.2_SUCCESS_REQUEST_DUIS.XML")
    assert refused.value.code == codes.NOT_AUTHORISED_FOR_DEVICE


def test_a_gpf_takes_its_gas_suppliers_own_commands_and_the_import_supplier_through_the_acb(
    keys: KeyStore,
) -> None:
    """A dual-fuel home with two suppliers: the GPF's cells hold the gas supplier's
    certificates, so the import supplier on the same hub may not send it a command of its
    own (it would be discarded by the GPF, and the request time out): E4 at once. The ACB's
    own command for it (8.12.2's restore, GCS59) any supplier on the hub may ask for."""
    gpf = Eui64.parse("00-DB-12-34-56-78-90-A3")
    devices = {
        ESME: DeviceConfig(ESME, "ESME", CHF, supplier=SUPPLIER),
        GSME: DeviceConfig(GSME, "GSME", CHF, supplier=OTHER),
        gpf: DeviceConfig(gpf, "GPF", CHF, supplier=OTHER),
        CHF: DeviceConfig(CHF, "CHF", CHF),
    }
    with pytest.raises(Refused) as refused:
        _admit(keys, ("IS",), "4.1.1", gpf, devices=devices)  # GCS13a: the User's own
    assert refused.value.code == codes.NOT_AUTHORISED_FOR_DEVICE
    assert _admit(keys, ("GS",), "4.1.1", gpf, devices=devices, sender=OTHER).device == devices[gpf]
    restore = "GCS59_8.12.2_SUCCESS_REQUEST_DUIS.XML"
    admitted = _admit(keys, ("IS",), "8.12.2", gpf, restore, devices=devices)
    assert admitted.device == devices[gpf] and admitted.use_case.acb_own
    # the hub's other devices stay any hub supplier's (8.9 of the CHF)
    assert _admit(keys, ("IS",), "8.9", CHF, devices=devices).device == devices[CHF]
