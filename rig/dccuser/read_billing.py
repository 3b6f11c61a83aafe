"""The DCC User's readers of the ESME's remaining reads of family 4 (registered with
:func:`rig.dccuser.readers.reads`): 4.2's export registers (ECS17a), 4.16's active power
import (ECS17c), 4.1.3's TOU with blocks matrix (ECS17e), 4.4.3's billing data log (ECS20c),
4.6.1's daily read log (ECS21a), 4.4.2's billing data log on mode and tariff changes
(ECS20b), these four decrypted as the requester; 4.4.4's debt payments log (ECS20a),
4.12.1's and 4.12.2's maximum demand registers (ECS18b, ECS18a); 4.6.2's export
daily read log (ECS21c), 4.8.2's and 4.8.3's profiles (ECS22c, ECS22a), 4.10's network data
(ECS23) and 4.15's load limit data (ECS27)."""

from __future__ import annotations

from typing import Any

from rig.dccuser.read_prepay_logs import access_result, log_rows, pence_registers, utc_text
from rig.dccuser.readers import ReadKeys, reads
from rig.protocol.gbcs.catalogue_billing import (
    BLOCK_RATES,
    BLOCKS,
    ECS17A,
    ECS17C,
    ECS17E,
    ECS18A,
    ECS18B,
    ECS20A,
    ECS20B,
    ECS20C,
    ECS21A,
    ECS21C,
    ECS22A,
    ECS22C,
    ECS23,
    ECS27,
    flat_values,
)
from rig.protocol.gbcs.catalogue_reads import TOU_RATES
from rig.protocol.gbcs.dlms import Data, DataType, parse_date_time
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.reading import access_response, protected_values
from rig.protocol.gbcs.usecase import UseCase

PREPAYMENT_REGISTERS = 6  # a billing data log's (meter balance, emergency credit, debts)
# the columns of each log read by range, after its time
COLUMNS = {
    ECS21C.name: ("days", ("export_wh",)),
    ECS22A.name: ("periods", ("export_wh", "reactive_export_varh")),
    ECS22C.name: ("periods", ("reactive_import_varh",)),
    ECS20A.name: ("payments", ("millipence",)),
}
# the maximum demand registers each read reads, by DUIS's names
MAXIMUM_DEMANDS = {
    ECS18A.name: ("MaxDemandActivePowerExportValue",),
    ECS18B.name: ("MaxDemandActivePowerImportValue", "MaxDemandConfigTimeActivePowerImportValue"),
}


def date_time_text(raw: bytes) -> str | None:
    """A COSEM date-time as ISO 8601 (UTC), None when it is not specified."""
    when = parse_date_time(raw)
    return None if when is None else when.isoformat()


@reads(ECS17A)
def export_registers(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    answer = access_response(msg)
    results = [r.result for r in answer.results]
    if any(results):
        return {"result": next(r for r in results if r)}
    active, _unit, reactive, _reactive_unit = answer.data
    return {
        "result": 0,
        "active_export_wh": int(active.value),
        "reactive_export_varh": int(reactive.value),
    }


@reads(ECS17C)
def active_power_import(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    result = access_result(msg)
    if result != 0:
        return {"result": result}
    power, _unit, primary = access_response(msg).data[0].value
    return {
        "result": result,
        "active_power_import_w": int(power.value),
        "primary_active_power_import_w": int(primary.value),
    }


@reads(ECS17E)
def tou_block_registers(_uc: UseCase, msg: GbcsMessage, keys: ReadKeys) -> dict[str, Any]:
    result = access_result(msg)
    if result != 0:
        return {"result": result}
    value = protected_values(msg, keys.user_ka, keys.device_ka)[0]
    return {"result": result, "tou_block_registers": [int(v.value) for v in value.value[0].value]}


def register_rows(log: Data, what: str) -> list[dict[str, Any]]:
    """A log of the registers (the daily read log's, the billing data log's rows): the
    time, the import register, the 48 TOU registers and the 4 x 8 block registers."""
    if log.type is not DataType.COMPACT_ARRAY:
        raise ValueError(f"the {what} is a {log.type.name}, not a compact array")
    rows = []
    for at, import_wh, *registers in (flat_values(e) for e in log.value.elements()):
        tou, blocks = registers[:TOU_RATES], registers[TOU_RATES:]
        if len(blocks) != BLOCKS * BLOCK_RATES:  # a twin-element meter's rows differ
            raise ValueError(f"a {what} row of {len(registers) + 2} values")
        rows.append(
            {
                "at": utc_text(at),
                "import_wh": import_wh,
                "tou_registers": tou,
                "block_registers": [
                    blocks[n * BLOCK_RATES : (n + 1) * BLOCK_RATES] for n in range(BLOCKS)
                ],
            }
        )
    return rows


@reads(ECS21A)
def daily_read_log(_uc: UseCase, msg: GbcsMessage, keys: ReadKeys) -> dict[str, Any]:
    result = access_result(msg)
    if result != 0:
        return {"result": result}
    log = protected_values(msg, keys.user_ka, keys.device_ka)[0]
    return {"result": result, "days": register_rows(log, "daily read log")}


@reads(ECS20C)
def billing_data_log(_uc: UseCase, msg: GbcsMessage, keys: ReadKeys) -> dict[str, Any]:
    result = access_result(msg)
    if result != 0:
        return {"result": result}
    registers, prepayment = protected_values(msg, keys.user_ka, keys.device_ka)
    return {
        "result": result,
        "bills": register_rows(registers, "billing data log"),
        "prepayment": [
            {"at": utc_text(at), **pence_registers(values)}
            for at, *values in log_rows(prepayment, "billing data log (prepayment)")
        ],
    }


@reads(ECS20B)
def billing_event_log(_uc: UseCase, msg: GbcsMessage, keys: ReadKeys) -> dict[str, Any]:
    result = access_result(msg)
    if result != 0:
        return {"result": result}
    log = protected_values(msg, keys.user_ka, keys.device_ka)[0]
    if log.type is not DataType.COMPACT_ARRAY:
        raise ValueError(f"the billing data log is a {log.type.name}, not a compact array")
    bills = []
    for row in (flat_values(e) for e in log.value.elements()):  # then six prepayment ones
        at, registers, prepayment = (
            row[0],
            row[1:-PREPAYMENT_REGISTERS],
            row[-PREPAYMENT_REGISTERS:],
        )
        tou, blocks = registers[1 : 1 + TOU_RATES], registers[1 + TOU_RATES :]
        bills.append(
            {
                "at": utc_text(at),
                "import_wh": registers[0],
                "tou_registers": tou,
                "block_registers": [
                    blocks[n * BLOCK_RATES : (n + 1) * BLOCK_RATES] for n in range(BLOCKS)
                ],
                **pence_registers(prepayment),
            }
        )
    return {"result": result, "bills": bills}


@reads(ECS18A, ECS18B)
def maximum_demand(uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    """Each register: its value (W), when it was captured and when it was last reset."""
    answer = access_response(msg)
    results = [r.result for r in answer.results]
    result = next((r for r in results if r), 0)
    if result != 0:
        return {"result": result, "results": results}
    names = MAXIMUM_DEMANDS[uc.name]
    data = answer.data
    registers = {}
    for n, name in enumerate(names):
        value, _unit, captured = data[len(names) + 3 * n : len(names) + 3 * n + 3]
        registers[name] = {
            "watts": int(value.value),
            "captured": date_time_text(bytes(captured.value)),
            "reset": date_time_text(bytes(data[n].value)),
        }
    return {"result": result, "registers": registers}


@reads(ECS21C, ECS22A, ECS22C, ECS20A)
def log_by_range(uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    result = access_result(msg)
    if result != 0:
        return {"result": result}
    name, columns = COLUMNS[uc.name]
    rows = log_rows(access_response(msg).data[0], f"{uc.name} log")
    entries = [
        {"at": utc_text(at), **dict(zip(columns, values, strict=True))} for at, *values in rows
    ]
    return {"result": result, name: entries}


@reads(ECS27)
def load_limit_data(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    answer = access_response(msg)
    results = [r.result for r in answer.results]
    if any(results):
        return {"result": next(r for r in results if r)}
    supply_state, counter, _unit, threshold, period, restoration = answer.data
    return {
        "result": 0,
        "load_limit_supply_state": bool(supply_state.value),  # true: the supply is disabled
        "load_limit_counter": int(counter.value),
        "load_limit_power_threshold_w": int(threshold.value),
        "load_limit_period_s": int(period.value),
        "load_limit_restoration_period_s": int(restoration.value),
    }


@reads(ECS23)
def network_data(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    answer = access_response(msg)
    results = [r.result for r in answer.results]
    if any(results):
        return {"result": next(r for r in results if r)}
    under, _unit, over, _over_unit, profile, period = answer.data
    return {
        "result": 0,
        "average_rms_under_voltage_counter": int(under.value),
        "average_rms_over_voltage_counter": int(over.value),
        "average_rms_voltage_period_s": int(period.value),
        "average_rms_voltages": [
            {"at": utc_text(at), "volts": volts}
            for at, volts in log_rows(profile, "average RMS voltage profile")
        ],
    }
