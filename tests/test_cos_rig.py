"""A change of supplier on its own virtual rig (tests/rigs/cos.yaml), locked at both layers.

supplier-a is the ESME's supplier; `rig supplier change-supplier --target esme --to
supplier-b` sends 6.23 as supplier-b; the DCC's transitional CoS party signs the CS02b that
puts supplier-b's certificates into the meter's supplier cells, and once the meter answers
success the DCC's inventory names supplier-b. Then:

- supplier-a's 7.2 through the DCC is refused E4;
- supplier-a's 7.2 forced past the DCC (signed with supplier-a's key, MAC'd with the ACB's,
  published straight to the hub) is refused by the ESME, which raises 8F3D to supplier-b;
- supplier-b reads (4.1.1), tops up (2.2) and disables the supply (7.2: the relay opens);
- all of it holds after the ESME, the hub and the gateway restart.

A future-dated 6.23 back to supplier-a is held by the meter and carried out at its time (the
8F66 alert reaches supplier-a, and the DCC names it responsible); one cancelled never is.

The GSME starts DCC controlled: the ACB's certificates are in its supplier cells. The gas
supplier's 6.21 (Request Handover of DCC Controlled Device) makes the ACB originate and sign
the CS02b that puts the gas supplier's certificates there; then the gas supplier reads it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import component_detail, device_alerts, rig_cli, running_rig, wait_for

from rig.pki.authority import Pki
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import security
from rig.protocol.gbcs.catalogue import ECS43
from rig.protocol.gbcs.usecase import command
from rig.protocol.smki import Usage

RIG = Path(__file__).parent / "rigs" / "cos.yaml"
ESME = Eui64.parse("00-DB-12-34-56-78-92-A0")
GSME = Eui64.parse("00-DB-12-34-56-78-92-A1")
SUPPLIER_A = Eui64.parse("90-B3-D5-1F-30-01-00-00")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = tmp_path_factory.mktemp("cos")
    rig_file = base / "cos.yaml"
    rig_file.write_text(RIG.read_text())
    yield from running_rig(rig_file, base / "state", ("esme", "gsme"))


def cli(env, *args: str):
    return rig_cli(*args, "--rig", str(env["file"]), state=env["dir"])


def send(env, srv: str, user: str | None = None, *more: str, target: str = "esme") -> dict:
    args = ["supplier", "send", srv, "--target", target, "--json", *more]
    if user:
        args += ["--as", user]
    proc = cli(env, *args)
    assert proc.stdout, proc.stderr
    return json.loads(proc.stdout)


def alerts(env, user: str) -> list[str]:
    """The alert codes the ESME raised that reached ``user``, authenticated, in order."""
    return device_alerts(env["dir"], user, ESME)


def esme_detail(env) -> dict:
    return component_detail(env["dir"], "esme")


def force_disable_supply(env, as_user: Eui64) -> None:
    """7.2 (ECS43) as ``as_user`` would have it sent, signed with its DS key and MAC'd with
    the ACB's key, pushed straight to the hub (`rig han send`): past every DCC check. The
    ESME does not answer a command it refuses."""
    pki = Pki(env["state"].pki)
    key = pki.org(as_user, Usage.DS).load_key()
    acb = pki.org(env["rig"].acb_eui, Usage.KA).load_key()
    esme_ka = pki.device(ESME, Usage.KA).load_cert().public_key()
    counter = int(time.time() * 1000)
    signed = security.sign_message(command(ECS43, counter, as_user.raw, ESME.raw), key)
    forged = security.apply_mac(signed, acb, esme_ka)  # type: ignore[arg-type]
    proc = cli(env, "han", "send", forged.encode().hex(), "--device", ESME.duis, "--timeout", "5")
    assert proc.returncode != 0, "the ESME answered a command it should have refused"


def test_a_change_of_supplier_locks_out_the_losing_supplier_at_both_layers(env) -> None:
    # before: supplier-a is the ESME's supplier
    assert send(env, "4.1.1")["response_code"] == "I0"
    assert send(env, "4.1.1", "supplier-b")["acknowledgement"] == "E4"

    proc = cli(
        env, "supplier", "change-supplier", "--target", "esme", "--to", "supplier-b", "--json"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    changed = json.loads(proc.stdout)
    assert changed["response_code"] == "I0" and changed["values"]["result"] == 0
    cells = {
        r["cell"]: (r["from"], r["to"], r["status"]) for r in changed["values"]["replacements"]
    }
    a, b = "90-B3-D5-1F-30-01-00-00", "90-B3-D5-1F-30-03-00-00"
    assert cells == {
        "supplier DS": (a, b, "SUCCESS"),
        "supplier KA": (a, b, "SUCCESS"),
        "supplier KA (top-up)": (a, b, "SUCCESS"),
    }

    # the meter's trust anchors (6.24.1, CS02a) name supplier-b in the supplier cells
    anchors = send(env, "6.24.1", "supplier-b")
    assert anchors["response_code"] == "I0", anchors
    supplier = next(c for c in anchors["values"]["credentials"] if c["role"] == "supplier")
    assert {c["subject"] for c in supplier["cells"]} == {b}, supplier

    # the DCC: supplier-a is no longer responsible
    refused = send(env, "7.2", "supplier-a")
    assert refused["acknowledgement"] == "E4", refused
    # the meter: supplier-a forced past the DCC is refused, and supplier-b hears of it
    discarded = esme_detail(env)["gbcs"]["discarded"]
    force_disable_supply(env, SUPPLIER_A)
    assert wait_for(lambda: "8F3D" in alerts(env, "supplier-b"), 30), alerts(env, "supplier-b")
    assert esme_detail(env)["gbcs"]["discarded"] == discarded + 1
    assert esme_detail(env)["supply"] == "enabled"
    # supplier-b reads (as the default user now: the DCC's inventory names it), tops up,
    # disables the supply
    read = send(env, "4.1.1")
    assert read["response_code"] == "I0" and read["values"]["active_import_wh"] > 0, read
    top_up = cli(env, "supplier", "topup", "--target", "esme", "--amount", "1", "--json")
    assert top_up.returncode == 0, top_up.stdout + top_up.stderr
    assert json.loads(top_up.stdout)["values"]["result"] == 0
    assert send(env, "7.2")["response_code"] == "I0"
    assert wait_for(lambda: esme_detail(env)["supply"] == "disabled", 10)
    assert esme_detail(env)["relay"] == 0


def test_the_change_survives_a_restart_of_the_meter_the_hub_and_the_dcc(env) -> None:
    for name in ("esme", "chf", "gateway"):
        proc = cli(env, "service", "restart", name)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert wait_for(lambda: (esme_detail(env).get("han") or {}).get("tunnel"), 60)
    assert send(env, "4.1.1", "supplier-a")["acknowledgement"] == "E4"
    assert send(env, "4.1.1", "supplier-b")["response_code"] == "I0"
    before = alerts(env, "supplier-b").count("8F3D")
    force_disable_supply(env, SUPPLIER_A)
    assert wait_for(lambda: alerts(env, "supplier-b").count("8F3D") > before, 30)


def change_supplier(env, to: str, *more: str) -> dict:
    proc = cli(env, "supplier", "change-supplier", "--target", "esme", "--to", to, "--json", *more)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


AHEAD_S = 20  # a future-dated change's time, seconds ahead


def test_a_future_dated_change_waits_for_its_time_and_a_cancelled_one_never_comes(env) -> None:
    # supplier-b is responsible (the tests above); supplier-a asks for the meter back, dated
    # dated AHEAD_S ahead: room for the CLI's round trips before its time on a loaded machine
    due = time.time() + AHEAD_S
    held = change_supplier(env, "supplier-a", "--at", f"+{AHEAD_S}")
    assert held["response_code"] == "I0" and held["values"]["accepted"], held
    assert "replacements" not in held["values"], held  # Command Accepted alone: held
    cancelled = change_supplier(env, "supplier-a", "--cancel")
    assert cancelled["values"]["accepted"] and "replacements" not in cancelled["values"]
    time.sleep(max(0.0, due - time.time()) + 3)  # past its time: nothing was held, nothing comes
    assert "8F66" not in alerts(env, "supplier-a")
    assert send(env, "4.1.1", "supplier-a")["acknowledgement"] == "E4"

    change_supplier(env, "supplier-a", "--at", f"+{AHEAD_S}")
    assert send(env, "4.1.1", "supplier-a")["acknowledgement"] == "E4"  # not before its time
    assert send(env, "4.1.1", "supplier-b")["response_code"] == "I0"
    # at its time the meter moves its cells and alerts TransCoS; the DCC passes the alert
    # to supplier-a and names it the responsible supplier
    assert wait_for(lambda: "8F66" in alerts(env, "supplier-a"), 60), alerts(env, "supplier-a")
    assert wait_for(lambda: send(env, "4.1.1")["response_code"] == "I0", 10)
    assert send(env, "4.1.1", "supplier-b")["acknowledgement"] == "E4"
    assert supplier_cells(env, "supplier-a", "esme") == {SUPPLIER_A.duis}


def supplier_cells(env, user: str, target: str) -> set[str]:
    """The subjects of the target's supplier cells, as 6.24.1 (CS02a) reads them."""
    anchors = send(env, "6.24.1", user, target=target)
    assert anchors["response_code"] == "I0", anchors
    supplier = next(c for c in anchors["values"]["credentials"] if c["role"] == "supplier")
    return {c["subject"] for c in supplier["cells"]}


def test_the_gas_supplier_takes_over_a_dcc_controlled_gsme_with_6_21(env) -> None:
    acb, gas = env["rig"].acb_eui.duis, env["rig"].user("gas-supplier").eui.duis
    assert supplier_cells(env, "gas-supplier", "gsme") == {acb}

    handed = send(env, "6.21", "gas-supplier", target="gsme")
    assert handed.get("response_code") == "I0", handed
    assert handed["values"]["result"] == 0, handed
    cells = {r["cell"]: (r["from"], r["to"], r["status"]) for r in handed["values"]["replacements"]}
    assert cells["supplier DS"] == (acb, gas, "SUCCESS"), cells
    assert cells["supplier KA"] == (acb, gas, "SUCCESS"), cells
    assert cells["supplier KA (top-up)"][1:] == (gas, "SUCCESS"), cells

    assert supplier_cells(env, "gas-supplier", "gsme") == {gas}
    read = send(env, "4.1.1", "gas-supplier", target="gsme")
    assert read["response_code"] == "I0", read
    # the DCC handed those cells over: a second 6.21 of them is refused at once (E5), not
    # sent for the ACB to sign a command the GSME would discard
    again = send(env, "6.21", "gas-supplier", target="gsme")
    assert again["acknowledgement"] == "E5" and "handed over its Supplier" in again["reason"]
