"""Debt on the running rig (the session's dcc_rig): 2.3 Update Debt (ECS07) through the DCC
gives the ESME a payment debt that takes 10% of each top-up; the PPMID shows the debt over
the HAN; the balance rises by exactly what the debt leaves of a top-up, read by 4.18."""

from __future__ import annotations

import json

from conftest import component_detail, rig_cli, wait_for

from rig.dccuser.tasks import send_request


def _cli(env, *args: str):
    return rig_cli(*args, "--rig", str(env["file"]), state=env["dir"])


def _detail(env, name: str) -> dict:
    return component_detail(env["dir"], name)


def _balance(env) -> int:
    proc = _cli(env, "supplier", "send", "4.18", "--target", "esme", "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["values"]["meter_balance_millipence"]


def _update_debt(env, **params: int) -> None:
    out = send_request(
        env["rig"], env["state"], "2.3", "esme", {k: str(v) for k, v in params.items()}
    )
    assert out.response_code == "I0" and out.values["result"] == 0, out
    assert out.values["authenticated_by"] == "signature"  # critical: the ESME signs its answer


def test_a_payment_debt_takes_its_share_of_a_top_up(dcc_rig) -> None:
    env = dcc_rig
    assert send_request(env["rig"], env["state"], "7.2", "esme", {}).response_code == "I0"
    try:  # the supply off: nothing is spent while the balance is measured
        debt = _detail(env, "esme")["prepayment"]["debt_pence"]
        _update_debt(env, PaymentDebtRegister=50_000, DebtRecoveryPerPayment=1_000)
        assert _detail(env, "esme")["prepayment"]["debt_pence"] == debt + 50
        shown = lambda: (_detail(env, "ppmid").get("display") or {}).get("debt_pence")  # noqa: E731
        assert wait_for(lambda: shown() == debt + 50, 30), shown()
        before = _balance(env)
        proc = _cli(env, "supplier", "topup", "--target", "esme", "--amount", "1", "--json")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert _balance(env) == before + 90_000  # £1 less 10p to the debt
        assert _detail(env, "esme")["prepayment"]["debt_pence"] == debt + 40
    finally:
        _update_debt(env, PaymentDebtRegister=-40_000)  # what is left of it, written off
        assert send_request(env["rig"], env["state"], "7.1", "esme", {}).response_code == "I0"
    assert _detail(env, "esme")["prepayment"]["debt_pence"] == debt
