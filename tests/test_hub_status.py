"""8.14 Communications Hub Status Update (8.14.1-8.14.4, issue 16): non-device SRVs the DCC
answers itself, from DCC's own templates. In-process over a real gateway store: each
variant moves the hub's CHF, and the GPF it hosts, as gateway.hub_status reads DUIS
(installed with its SM WAN: Commissioned; without: InstalledNotCommissioned; returned:
Withdrawn, or Decommissioned when it was commissioned), and refuses, changing nothing: an
unknown device E19, a device that is not a hub E11, a supplier of no meter on the hub E4,
a status the variant does not take E5. On the running rig (tests/rigs/dcc.yaml) the DCC
answers over DUIS: E2 for a role the SRV matrix does not name, the refusals, then a hub
set back to InstalledNotCommissioned by 8.4 is commissioned by 8.14.1, which 8.2 shows."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import rig_cli
from lxml import etree

from gateway.config import DeviceConfig
from gateway.dcc_services import DccState, ServiceRefused, service_for
from gateway.inventory import (
    COMMISSIONED,
    DECOMMISSIONED,
    INSTALLED,
    PENDING,
    WITHDRAWN,
    Inventory,
)
from gateway.store import Store
from rig.protocol.duis.bodies import request_body
from rig.protocol.duis.message import Request, RequestId, parse_document
from rig.protocol.duis.xml import NS
from rig.protocol.eui import Eui64
from rig.reference import srv_table
from tests.conftest import vectors
from tests.test_inventory import _body, _inventory_status, _serviced, _template_for

DCC = Eui64.parse("90-B3-D5-1F-30-00-00-02")
SUPPLIER_A = Eui64.parse("90-B3-D5-1F-30-01-00-00")  # the templates' sender
SUPPLIER_B = Eui64.parse("90-B3-D5-1F-30-03-00-00")
CHF = Eui64.parse("00-DB-12-34-56-78-90-A2")  # the templates' hub
GPF = Eui64.parse("00-DB-12-34-56-78-90-A3")
ESME = Eui64.parse("00-DB-12-34-56-78-90-A0")
BARE = Eui64.parse("00-DB-12-34-56-78-90-C2")  # a hub with no meter on it yet
UNKNOWN = Eui64.parse("00-DB-12-34-56-78-9F-C3")
TEMPLATES = {
    "8.14.1": "8.14.1_COMMUNICATIONS_HUB_STATUS_UPDATE_INSTALL_SUCCESS",
    "8.14.2": "8.14.2_COMMUNICATIONS_HUB_STATUS_UPDATE_INSTALL_NO_SM_WAN",
    "8.14.3": "8.14.3_COMMUNICATIONS_HUB_STATUS_UPDATE_FAULT_RETURN",
    "8.14.4": "8.14.4_COMMUNICATIONS_HUB_STATUS_UPDATE_NO_FAULT_RETURN",
}


def _request(srv: str, device: Eui64 = CHF, sender: Eui64 = SUPPLIER_A) -> Request:
    """DCC's template for ``srv``, for ``device``, from ``sender``."""
    path = vectors("duis", "templates", f"{TEMPLATES[srv]}_REQUEST_DUIS.XML")
    request = parse_document(path.read_bytes())
    assert isinstance(request, Request)
    found = request.body.find("sr:DeviceID", NS)
    assert found is not None
    found.text = device.duis
    return replace(request, request_id=RequestId(sender, DCC, 1))


def _update(dcc: DccState, srv: str, device: Eui64 = CHF, sender: Eui64 = SUPPLIER_A) -> None:
    service = service_for(srv)
    assert service is not None, srv
    assert service(_request(srv, device, sender), dcc) is None  # I0, no content


def _refused(dcc: DccState, srv: str, device: Eui64 = CHF, sender: Eui64 = SUPPLIER_A) -> str:
    before = dcc.devices.values()
    with pytest.raises(ServiceRefused) as refused:
        _update(dcc, srv, device, sender)
    assert dcc.devices.values() == before  # nothing changed
    return refused.value.code


def _statuses(dcc: DccState) -> tuple[str, str]:
    return dcc.devices[CHF].status, dcc.devices[GPF].status


@pytest.fixture
def dcc(tmp_path: Path) -> DccState:
    store = Store(tmp_path / "gateway.sqlite")
    seed = (
        DeviceConfig(CHF, "CHF", CHF, PENDING),
        DeviceConfig(GPF, "GPF", CHF, PENDING),
        DeviceConfig(ESME, "ESME", CHF, COMMISSIONED, SUPPLIER_A),
        DeviceConfig(BARE, "CHF", BARE, PENDING),
    )
    return DccState(Inventory(store.db, seed))


def test_the_matrix_makes_them_non_device_srvs_of_the_suppliers() -> None:
    matrix = srv_table()
    for srv in TEMPLATES:
        row = matrix[srv]
        assert row.non_device and service_for(srv) is not None, srv
        assert row.allows("IS") and row.allows("GS") and not row.allows("ED"), srv


def test_installed_with_its_sm_wan_the_hub_and_its_gpf_are_commissioned(dcc) -> None:
    _update(dcc, "8.14.1")
    assert _statuses(dcc) == (COMMISSIONED, COMMISSIONED)
    assert _refused(dcc, "8.14.1") == "E5"  # installed already


def test_installed_without_its_sm_wan_it_waits_then_8_14_1_commissions_it(dcc) -> None:
    _update(dcc, "8.14.2")
    assert _statuses(dcc) == (INSTALLED, INSTALLED)
    assert _refused(dcc, "8.14.2") == "E5"
    _update(dcc, "8.14.1")
    assert _statuses(dcc) == (COMMISSIONED, COMMISSIONED)


@pytest.mark.parametrize("srv", ["8.14.3", "8.14.4"])
def test_a_returned_hub_is_withdrawn_or_decommissioned(dcc, srv: str) -> None:
    _update(dcc, srv, BARE, SUPPLIER_B)  # never commissioned; no meter on it: any supplier
    assert dcc.devices[BARE].status == WITHDRAWN
    assert _refused(dcc, srv, BARE) == "E5"  # returned already
    _update(dcc, "8.14.1")
    _update(dcc, srv)
    assert _statuses(dcc) == (DECOMMISSIONED, DECOMMISSIONED)
    assert dcc.devices[ESME].status == COMMISSIONED  # its meters are not the hub


def test_refusals_change_nothing(dcc) -> None:
    assert _refused(dcc, "8.14.1", UNKNOWN) == "E19"
    assert _refused(dcc, "8.14.1", ESME) == "E11"
    assert _refused(dcc, "8.14.1", GPF) == "E11"  # the hub's CHF names it
    assert _refused(dcc, "8.14.4", CHF, SUPPLIER_B) == "E4"  # no meter of its on the hub
    wrong = replace(_request("8.14.1"), srv="8.14.2")  # the body of another variant
    service = service_for("8.14.2")
    assert service is not None
    with pytest.raises(ServiceRefused, match="takes CHFInstallSuccessNoSMWAN") as refused:
        service(wrong, dcc)
    assert refused.value.code == "E100" and _statuses(dcc) == (PENDING, PENDING)


# --- on the running rig (tests/rigs/dcc.yaml) -------------------------------------------------
def test_the_dcc_answers_hub_status_updates_over_duis(dcc_rig) -> None:
    env = dcc_rig
    chf, esme = (env["rig"].node(name).eui for name in ("chf", "esme"))
    install = f"{TEMPLATES['8.14.1']}_REQUEST_DUIS.XML"
    assert _serviced(env, "network-operator", "8.14.1", _template_for(install, chf))[1] == "E2"
    assert _serviced(env, "supplier-a", "8.14.1", _template_for(install, esme))[1] == "E11"
    assert _serviced(env, "supplier-a", "8.14.1", _template_for(install, UNKNOWN))[1] == "E19"
    assert _inventory_status(env, chf) == COMMISSIONED
    refused = _serviced(env, "supplier-a", "8.14.1", _template_for(install, chf))
    assert refused[1] == "E5" and COMMISSIONED in refused[2], refused
    back = _body("UpdateInventory", ("DeviceID", chf.duis), ("UpdateDeviceStatusCH", INSTALLED))
    assert _serviced(env, "supplier-a", "8.4", back)[1] == "I0"
    assert _inventory_status(env, chf) == INSTALLED
    status, code, reason = _serviced(env, "supplier-a", "8.14.1", _template_for(install, chf))
    assert (status, code) == (200, "I0"), reason
    assert _inventory_status(env, chf) == COMMISSIONED


@pytest.mark.parametrize("srv", list(TEMPLATES))
def test_the_dcc_user_builds_dccs_bodies(srv: str) -> None:
    theirs = _request(srv).body
    given = {etree.QName(e).localname: e.text or "" for e in theirs}
    ours = request_body(srv, None, None, given)
    assert _elements(ours) == _elements(theirs)
    defaults = request_body(srv, None, None, {"DeviceID": CHF.duis, "OtherDeviceID": ESME.duis})
    assert [name for name, _ in _elements(defaults)] == list(given)  # the required ones
    with pytest.raises(KeyError, match="needs DeviceID"):
        request_body(srv, None, None, {})


def _elements(body: etree._Element) -> list[tuple[str, str]]:
    return [(etree.QName(e).localname, e.text or "") for e in body]


def test_rig_supplier_send_builds_valid_hub_status_updates(dcc_rig) -> None:
    """From the CLI, each variant's body from its defaults passes the DUIS schema and reaches
    the DCC's service (the rig's hub is commissioned: 8.14.1 and 8.14.2 refuse it, E5; 8.14.3
    and 8.14.4 from a role the matrix does not name, E2, change nothing)."""
    env = dcc_rig
    for srv, user, code in (
        ("8.14.1", "supplier-a", "E5"),
        ("8.14.2", "supplier-a", "E5"),
        ("8.14.3", "network-operator", "E2"),
        ("8.14.4", "network-operator", "E2"),
    ):
        args = ["--param", f"OtherDeviceID={ESME.duis}"] if srv == "8.14.3" else []
        proc = rig_cli(
            "supplier", "send", srv, "--target", "chf", "--as", user, *args, "--json",
            "--rig", str(env["file"]), state=env["dir"], timeout=120,
        )  # fmt: skip
        out = json.loads(proc.stdout or "{}")
        assert out.get("acknowledgement") == code, (srv, proc.stdout, proc.stderr)
    assert _inventory_status(env, env["rig"].node("chf").eui) == COMMISSIONED
