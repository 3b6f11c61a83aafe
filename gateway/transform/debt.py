"""The transform of 2.3 Update Debt into ECS07 (ESME): the DUIS body's debt registers and
recovery settings as the values of the command's parts, laid out as RTDS 4.5.0 has them."""

from __future__ import annotations

from gateway.transform import registry
from gateway.transform.registry import TransformInput, for_device_type, transforms
from rig.protocol.duis.xml import text
from rig.protocol.gbcs import cosem
from rig.protocol.gbcs.catalogue import ECS07
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, command

PERIOD_S = {"HOURLY": 3_600, "DAILY": 86_400}  # DUIS DebtRecoveryRatePeriod


@transforms(ECS07)
def update_debt(uc: UseCase, given: TransformInput) -> GbcsMessage:
    body = given.request.body
    for_device_type(
        body,
        "sr:ElecDebtRecovery1",
        "2.3 for an ESME takes ElecDebtRecovery1 and 2 (GasDebtRecovery is for a GSME)",
    )

    def number(path: str) -> int:
        return registry.number(body, path)

    values: dict[str, Data] = {
        "payment_debt": Data(DataType.DOUBLE_LONG, number("sr:PaymentDebtRegister")),
        "per_payment": Data(DataType.LONG_UNSIGNED, number("sr:DebtRecoveryPerPayment")),
    }
    for n in (1, 2):
        recovery = f"sr:ElecDebtRecovery{n}"
        rate = number(f"{recovery}/sr:DebtRecoveryRate")
        scale = number(f"{recovery}/sr:DebtRecoveryRatePriceScale")
        period = text(body, f"{recovery}/sr:DebtRecoveryRatePeriod") or "DAILY"
        values[f"td{n}_charge"] = cosem.unit_charge(rate, scale)
        values[f"td{n}_period"] = Data(DataType.DOUBLE_LONG_UNSIGNED, PERIOD_S[period])
        values[f"td{n}"] = Data(DataType.DOUBLE_LONG, number(f"sr:TimeDebtRegister{n}"))
    return command(uc, given.counter, given.originator.raw, given.device.raw, values)
