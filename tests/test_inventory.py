"""The DCC's inventory and its device status machine (issue 16), in-process over a real
gateway store: it is seeded once from the description and then persists what the DCC's
services change; 12.2 pre-notifies a device (Pending; a supplier pre-notifying a meter is
its responsible supplier; what the description says of a boxed device is kept); 8.3
decommissions (only the responsible supplier); 8.4 sets the statuses DUIS lets a user set,
and deletes only a Pending device; which device SRVs each status takes (the rest E5)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree

from gateway.config import DeviceConfig
from gateway.dcc_services import DccState, ServiceRefused, service_for
from gateway.inventory import (
    COMMISSIONED,
    DECOMMISSIONED,
    INSTALLED,
    PENDING,
    STATUSES,
    WHITELISTED,
    Effect,
    Inventory,
    allows,
    effect_of,
)
from gateway.store import Store
from rig.dccuser.client import DccUser
from rig.dccuser.tasks import send_request
from rig.protocol.duis.message import Request, RequestId, parse_document
from rig.protocol.duis.xml import SR
from rig.protocol.eui import Eui64
from tests.conftest import RIGS, vectors
from tests.test_e2e_dcc import _post

DCC = Eui64.parse("90-B3-D5-1F-30-00-00-02")
SUPPLIER_A = Eui64.parse("90-B3-D5-1F-30-01-00-00")
SUPPLIER_B = Eui64.parse("90-B3-D5-1F-30-03-00-00")
OPERATOR = Eui64.parse("90-B3-D5-1F-30-02-00-00")
CHF = Eui64.parse("00-DB-12-34-56-78-90-A2")
ESME = Eui64.parse("00-DB-12-34-56-78-90-A0")
BOXED = Eui64.parse("00-DB-12-34-56-78-90-B0")  # a second ESME, on the bench in its box
NEW = Eui64.parse("00-DB-12-34-56-78-90-C0")  # a device the description does not know
SEED = (
    DeviceConfig(CHF, "CHF", CHF),
    DeviceConfig(ESME, "ESME", CHF, COMMISSIONED, SUPPLIER_A, OPERATOR),
)
BENCH = (DeviceConfig(BOXED, "ESME", CHF, COMMISSIONED, None, OPERATOR),)


def _body(name: str, *children: tuple[str, str]) -> etree._Element:
    body = etree.Element(f"{{{SR}}}{name}", nsmap={"sr": SR})
    for path, value in children:
        parent = body
        *outer, leaf = path.split("/")
        for tag in outer:
            parent = etree.SubElement(parent, f"{{{SR}}}{tag}")
        etree.SubElement(parent, f"{{{SR}}}{leaf}").text = value
    return body


def _ask(dcc: DccState, srv: str, sender: Eui64, body: etree._Element) -> None:
    service = service_for(srv)
    assert service is not None, srv
    request = Request(RequestId(sender, DCC, 1), 8, srv, srv, body)
    assert service(request, dcc) is None


def _pre_notify(dcc: DccState, eui: Eui64, kind: str, sender: Eui64 = SUPPLIER_A) -> None:
    body = _body(
        "DevicePrenotification",
        ("DeviceID", eui.duis),
        ("DeviceManufacturer", "RIG"),
        ("DeviceModel", "RIG0001"),
        ("DeviceType", kind),
    )
    _ask(dcc, "12.2", sender, body)


@pytest.fixture
def dcc(tmp_path: Path) -> DccState:
    store = Store(tmp_path / "gateway.sqlite")
    return DccState(Inventory(store.db, SEED), {d.eui: d for d in BENCH})


def test_the_inventory_is_seeded_once_and_keeps_what_changed(tmp_path: Path) -> None:
    store = Store(tmp_path / "gateway.sqlite")
    inventory = Inventory(store.db, SEED)
    assert list(inventory) == [CHF, ESME] and inventory[ESME] == SEED[1]
    inventory.set_status(ESME, DECOMMISSIONED)
    store.close()
    again = Inventory(Store(tmp_path / "gateway.sqlite").db, SEED)  # a gateway restart
    assert again[ESME].status == DECOMMISSIONED and again[ESME].supplier == SUPPLIER_A
    assert BOXED not in again
    with pytest.raises(ValueError, match="not a DUIS device status"):
        again.set_status(ESME, "Broken")


def _store_from_before(tmp_path: Path, controlled: int | None) -> Path:
    """A gateway store as an older gateway left it, the rig's ESME in its inventory: without
    the ``controlled`` column (``controlled`` None), or with it (and that value), and
    without those added since."""
    import sqlite3

    path = tmp_path / "gateway.sqlite"
    extra = "" if controlled is None else ", controlled INTEGER NOT NULL DEFAULT 0"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE inventory (eui TEXT PRIMARY KEY, type TEXT, hub TEXT, status TEXT,"
        f" supplier TEXT, operator TEXT{extra})"
    )
    values = "" if controlled is None else f", {controlled}"
    old.execute(f"INSERT INTO inventory VALUES (?, 'ESME', ?, 'Commissioned', NULL, NULL{values})",
                (ESME.hex, CHF.hex))  # fmt: skip
    old.commit()
    old.close()
    return path


def test_the_inventory_keeps_which_devices_the_dcc_controls(tmp_path: Path) -> None:
    """A store from before the column (a gateway upgraded in place) gains it, each device
    not DCC controlled; a seeded DCC controlled device keeps the flag across a restart.
    The description seeds it: the cos rig's gas meter is DCC controlled, and so its GPF."""

    from rig.description import load_rig
    from rig.plan.dcc_config import inventory as seeded

    path = _store_from_before(tmp_path, controlled=None)
    store = Store(path)
    controlled = replace(SEED[0], eui=BOXED, dcc_controlled=True)
    inventory = Inventory(store.db, (controlled,))
    assert inventory[ESME].dcc_controlled is False and inventory[BOXED].dcc_controlled
    store.close()
    assert Inventory(Store(path).db, ())[BOXED].dcc_controlled
    rig = load_rig(RIGS / "cos.yaml")
    by_type = {d.type: d.dcc_controlled for d in seeded(rig)}
    gsme = next(n for n in rig.nodes if n.role.value == "gsme")
    assert by_type["GSME"] is gsme.dcc_controlled is by_type["GPF"] is True


def test_which_srvs_each_status_takes() -> None:
    assert allows(COMMISSIONED, "4.1.1") and allows(COMMISSIONED, "8.1.1")
    for status in (WHITELISTED, INSTALLED):
        assert allows(status, "8.1.1") and allows(status, "8.7.1") and allows(status, "11.2")
        assert not allows(status, "4.1.1") and not allows(status, "2.2")
    for status in set(STATUSES) - {COMMISSIONED, WHITELISTED, INSTALLED}:
        assert not any(allows(status, srv) for srv in ("4.1.1", "8.1.1", "8.7.1", "11.2"))


def test_pre_notification_adds_a_pending_device_once(dcc: DccState) -> None:
    _pre_notify(dcc, NEW, "ESME")
    assert dcc.devices[NEW] == DeviceConfig(NEW, "ESME", None, PENDING, SUPPLIER_A)
    with pytest.raises(ServiceRefused, match="already in the inventory") as again:
        _pre_notify(dcc, NEW, "ESME")
    assert again.value.code == "E5"
    # the boxed ESME keeps its hub and network operator; its supplier is the sender
    _pre_notify(dcc, BOXED, "ESME", SUPPLIER_B)
    assert dcc.devices[BOXED] == DeviceConfig(BOXED, "ESME", CHF, PENDING, SUPPLIER_B, OPERATOR)


def test_pre_notification_of_the_wrong_type_is_refused(dcc: DccState) -> None:
    with pytest.raises(ServiceRefused, match="is a ESME, not a GSME") as refused:
        _pre_notify(dcc, BOXED, "GSME")
    assert refused.value.code == "E11" and BOXED not in dcc.devices


def test_only_the_responsible_supplier_decommissions(dcc: DccState) -> None:
    body = _body("DecommissionDevice", ("DeviceID", ESME.duis))
    with pytest.raises(ServiceRefused, match="not the responsible supplier") as refused:
        _ask(dcc, "8.3", SUPPLIER_B, body)
    assert refused.value.code == "E4" and dcc.devices[ESME].status == COMMISSIONED
    _ask(dcc, "8.3", SUPPLIER_A, body)
    assert dcc.devices[ESME].status == DECOMMISSIONED
    with pytest.raises(ServiceRefused, match="is decommissioned"):
        _ask(dcc, "8.3", SUPPLIER_A, body)
    unknown = _body("DecommissionDevice", ("DeviceID", NEW.duis))
    with pytest.raises(ServiceRefused, match="not in the inventory") as missing:
        _ask(dcc, "8.3", SUPPLIER_A, unknown)
    assert missing.value.code == "E19"


def test_update_inventory_sets_what_duis_allows_and_deletes_pending_devices(
    dcc: DccState,
) -> None:
    _pre_notify(dcc, NEW, "ESME")

    def status(eui: Eui64, element: str, value: str) -> None:
        _ask(
            dcc,
            "8.4",
            SUPPLIER_A,
            _body("UpdateInventory", ("DeviceID", eui.duis), (element, value)),
        )

    status(NEW, "UpdateDeviceStatusExceptCH", INSTALLED)
    assert dcc.devices[NEW].status == INSTALLED
    with pytest.raises(ServiceRefused, match="does not apply to a ESME"):
        status(NEW, "UpdateDeviceStatusCH", COMMISSIONED)
    with pytest.raises(ServiceRefused, match="cannot make it Pending") as refused:
        status(ESME, "UpdateDeviceStatusExceptCH", PENDING)  # commissioned: not by 8.4
    assert refused.value.code == "E5" and dcc.devices[ESME].status == COMMISSIONED
    status(CHF, "UpdateDeviceStatusCH", INSTALLED)
    assert dcc.devices[CHF].status == INSTALLED

    delete = _body("UpdateInventory", ("DeviceID", NEW.duis), ("DeleteDevice", ""))
    with pytest.raises(ServiceRefused, match="only a Pending device is deleted"):
        _ask(dcc, "8.4", SUPPLIER_A, delete)
    status(NEW, "UpdateDeviceStatusExceptCH", PENDING)
    _ask(dcc, "8.4", SUPPLIER_A, delete)
    assert NEW not in dcc.devices


# --- on the running rig (tests/rigs/dcc.yaml), with DCC's own templates ----------------------
def _template_for(name: str, device: Eui64) -> etree._Element:
    body = parse_document(vectors("duis", "templates", name).read_bytes()).body
    found = body.find("sr:DeviceID", {"sr": SR})
    assert found is not None
    found.text = device.duis
    return body


def _serviced(env, user: str, srv: str, body: etree._Element) -> tuple[int, str, str]:
    client = DccUser.from_state(env["dir"], user)
    dcc = Eui64.parse(env["rig"].acb_eui.duis)
    return _post(env, "serviceD", client.request(srv, dcc, 8, client.next_counter(), body))


def _inventory_status(env, eui: Eui64) -> str | None:
    inv = send_request(env["rig"], env["state"], "8.2", None, {"DeviceID": eui.duis})
    if inv.acknowledgement == "E19":
        return None
    assert inv.acknowledgement == "I0", inv
    return next((d["DeviceStatus"] for d in inv.inventory if d["DeviceID"] == eui.duis), None)


def test_pre_notify_then_decommission_a_device_through_the_dcc(dcc_rig) -> None:
    """12.2 (DCC's template, for a device the rig does not have) puts it in the inventory
    Pending, which 8.2 shows; a read of it is refused E5; 8.3 from another supplier is E4,
    from the one that pre-notified it I0, and 8.2 then shows it Decommissioned."""
    env = dcc_rig
    eui = Eui64.parse("00-DB-12-34-56-78-9F-C1")
    assert _inventory_status(env, eui) is None
    body = _template_for("12.2_DEVICE_PRE_NOTIFICATION_REQUEST_DUIS.XML", eui)
    assert _serviced(env, "supplier-a", "12.2", body)[1] == "I0"
    assert _inventory_status(env, eui) == PENDING
    again = _serviced(env, "supplier-a", "12.2", body)
    assert again[1] == "E5" and "already in the inventory" in again[2], again

    client = DccUser.from_state(env["dir"], "supplier-a")
    refused = asyncio.run(client.send("4.1.1", eui, {}))
    assert refused.acknowledgement == "E5", refused
    assert "Pending" in refused.reason, refused

    decommission = _template_for("8.3_DECOMMISSION_DEVICE_REQUEST_DUIS.XML", eui)
    other = _serviced(env, "supplier-b", "8.3", decommission)
    assert other[1] == "E4", other
    assert _serviced(env, "supplier-a", "8.3", decommission)[1] == "I0"
    assert _inventory_status(env, eui) == DECOMMISSIONED


@pytest.mark.parametrize(
    "name", ["8.1.1_ECS70Commission/ECS70Commission", "8.1.1_GCS28Commission/GCS28Commission"]
)
def test_the_dcc_reads_success_from_rtdss_answers(name: str) -> None:
    """What moves a device on in the inventory: RTDS's success answer (DLMS, ASN.1) is a
    success, its error answer is not."""
    from gateway.uplink import _succeeded
    from rig.protocol.gbcs.frame import GbcsMessage
    from tests.test_usecases import _rtds

    assert _succeeded(GbcsMessage.decode(_rtds(f"{name}_8.1.1_SUCCESS_RESPONSE")))
    assert not _succeeded(GbcsMessage.decode(_rtds(f"{name}_8.1.1_ERROR_RESPONSE")))


def test_a_6_21_carried_out_hands_over_the_cells_it_names_and_the_dcc_remembers(
    tmp_path: Path,
) -> None:
    """6.21 answered with success: the ACB holds the device's Supplier cells no more (a
    second 6.21 of them is refused E5, tests/test_gpf_services.py), its NetworkOperator ones
    still; across a restart of the gateway. A future-dated 6.21 changes nothing yet; a store
    from before gains the column, nothing handed over."""

    from lxml import etree

    from rig.protocol.duis.xml import NS

    path = _store_from_before(tmp_path, controlled=1)
    inventory = Inventory(Store(path).db, ())
    assert inventory[ESME].handed_over == () and "Supplier" in inventory[ESME].dcc_cells

    def body(role: str, when: str | None = None) -> etree._Element:
        element = etree.Element(f"{{{NS['sr']}}}RequestHandoverDCCControlledDevice")
        etree.SubElement(element, f"{{{NS['sr']}}}RemotePartyRole").text = role
        if when is not None:
            etree.SubElement(element, f"{{{NS['sr']}}}ExecutionDateTime").text = when
        return element

    assert effect_of("6.21", body("Supplier", "2030-01-01T00:00:00Z"), ESME, SUPPLIER_A) is None
    effect = effect_of("6.21", body("Supplier"), ESME, SUPPLIER_A)
    assert effect is not None and Effect.from_json(effect.to_json()) == effect
    changed = effect.apply(inventory)
    assert changed is not None and changed.handed_over == ("Supplier",)
    again = Inventory(Store(path).db, ())[ESME]  # the gateway restarted
    assert "Supplier" not in again.dcc_cells and "NetworkOperator" in again.dcc_cells
