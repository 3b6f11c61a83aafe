"""The ESME's prepayment configuration use cases, declared as :mod:`rig.protocol.gbcs.catalogue`
declares the others, which gathers them into CATALOGUE (this module must not import the
catalogue):

====== ===== ============================================ ============ =================
SRV    code  use case                                     command      response
====== ===== ============================================ ============ =================
4.13   003B  ECS26a read prepayment configuration (18 GET) MAC'd        MAC'd
2.1    00DE  ECS08a update prepay configuration (18 SET)  signed + MAC signed, dated
====== ===== ============================================ ============ =================

Both lay their parts out as RTDS 4.5.0 does (folders 4.13_ECS26a and 2.1_ECS08a, IMMEDIATE;
ECS08, of the folder 2.1_ECS08, is declared too, but not served: see below).
"""

from __future__ import annotations

from rig.protocol.gbcs import access, cosem
from rig.protocol.gbcs.cosem import Attribute
from rig.protocol.gbcs.dlms import DataType
from rig.protocol.gbcs.usecase import Form, Protection, UseCase

ESME = "ESME"  # as the catalogue names the device types
_D = DataType


def _charge(instance: bytes, attribute: int) -> Attribute:
    return Attribute(cosem.CHARGE, instance, attribute)


def _account(attribute: int) -> Attribute:
    return Attribute(cosem.ACCOUNT, cosem.ACCOUNT_OBJECT, attribute)


def _emergency_credit(attribute: int) -> Attribute:
    return Attribute(cosem.PREPAY_CREDIT, cosem.EMERGENCY_CREDIT_OBJECT, attribute)


def _future(instance: bytes, attribute: int) -> Attribute:
    return Attribute(cosem.FUTURE_DATED, instance, attribute)


def _read_parts() -> access.Access:
    """ECS26a's eighteen GETs, in RTDS's order (it reads each time debt's active unit charge
    twice: for DUIS's DebtRecoveryRate and its DebtRecoveryRatePriceScale)."""
    td1, td2 = cosem.TIME_DEBT_1, cosem.TIME_DEBT_2
    active, period = cosem.UNIT_CHARGE_ACTIVE, cosem.CHARGE_PERIOD
    targets = (
        _charge(td1, active),
        Attribute(cosem.SPECIAL_DAYS, cosem.SPECIAL_DAYS_TABLE, cosem.ENTRIES),
        _charge(td1, period),
        _charge(td1, active),
        _charge(td2, active),
        _charge(td2, period),
        _charge(td2, active),
        _charge(cosem.PAYMENT_DEBT, cosem.PROPORTION),  # DebtRecoveryPerPayment
        _future(cosem.MAX_CREDIT_THRESHOLD, cosem.VALUE),
        cosem.DISABLEMENT_MONITOR,
        _future(cosem.MAX_METER_BALANCE, cosem.VALUE),
        _account(cosem.LOW_CREDIT_THRESHOLD),
        _account(cosem.MAX_PROVISION),  # DebtRecoveryRateCap: the amount
        _account(cosem.MAX_PROVISION_PERIOD),  # and its period
        _emergency_credit(cosem.PRESET_CREDIT_AMOUNT),  # EmergencyCreditLimit
        _emergency_credit(cosem.CREDIT_AVAILABLE_THRESHOLD),  # EmergencyCreditThreshold
        Attribute(cosem.SCHEDULE, cosem.NON_DISABLEMENT_SCHEDULE, cosem.ENTRIES),
        _account(cosem.CREDIT_CHARGE_CONFIGURATION),  # SuspendDebtDisabled, ...Emergency
    )
    return access.Access(tuple(access.Read(t) for t in targets))


# ECS08's values that take effect together, by name: what each 9000 object's value to come is
UPDATE_VALUES = (
    (cosem.DEBT_CAP_AMOUNT, "debt_cap", _D.LONG_UNSIGNED),
    (cosem.DEBT_CAP_PERIOD, "debt_cap_period", _D.DOUBLE_LONG),
    (cosem.LOW_CREDIT_TO_COME, "low_credit", _D.DOUBLE_LONG),
    (cosem.EMERGENCY_CREDIT_LIMIT, "emergency_credit_limit", _D.DOUBLE_LONG),
)


def _update_parts(max_meter_balance: int) -> access.Access:
    """ECS08a's (and ECS08's) eighteen SETs, in RTDS's order: the special days and the
    non-disablement schedule to come, the maximum meter balance (ECS08a: to come; ECS08: its
    ``max_meter_balance`` attribute is the value in force), the other values to come, then
    the activation date-time of each (the calendar's too)."""
    w = access.Write
    future = _future
    dated = _D.OCTET_STRING
    days_to_come = Attribute(cosem.SPECIAL_DAYS, cosem.SPECIAL_DAYS_TO_COME, cosem.ENTRIES)
    schedule_to_come = Attribute(cosem.SCHEDULE, cosem.NON_DISABLEMENT_TO_COME, cosem.ENTRIES)
    return access.Access(
        (
            w(days_to_come, "special_days", _D.ARRAY),
            w(
                future(cosem.MAX_METER_BALANCE, max_meter_balance),
                "max_meter_balance",
                _D.DOUBLE_LONG,
            ),
            w(
                future(cosem.MAX_CREDIT_THRESHOLD, cosem.VALUE_TO_COME),
                "max_credit_threshold",
                _D.DOUBLE_LONG,
            ),
            w(schedule_to_come, "schedule", _D.ARRAY),
            *(w(future(i, cosem.VALUE_TO_COME), name, kind) for i, name, kind in UPDATE_VALUES),
            w(future(cosem.SPECIAL_DAYS_ACTIVATION, cosem.ACTIVATION), "special_days_at", dated),
            w(
                future(cosem.EMERGENCY_CREDIT_THRESHOLD, cosem.VALUE_TO_COME),
                "emergency_credit_threshold",
                _D.DOUBLE_LONG,
            ),
            *(
                w(future(i, cosem.ACTIVATION), f"{name}_at", dated)
                for i, name in (
                    (cosem.MAX_METER_BALANCE, "max_meter_balance"),
                    (cosem.MAX_CREDIT_THRESHOLD, "max_credit_threshold"),
                    (cosem.DEBT_CAP_AMOUNT, "debt_cap"),
                    (cosem.DEBT_CAP_PERIOD, "debt_cap_period"),
                    (cosem.LOW_CREDIT_TO_COME, "low_credit"),
                    (cosem.EMERGENCY_CREDIT_LIMIT, "emergency_credit_limit"),
                    (cosem.EMERGENCY_CREDIT_THRESHOLD, "emergency_credit_threshold"),
                    (cosem.CALENDAR_ACTIVATION, "calendar"),
                )
            ),
        )
    )


ECS26A = UseCase("ECS26a", 0x003B, ESME, Form.DLMS, _read_parts(), srvs=("4.13",))


def _update(name: str, message_code: int, srvs: tuple[str, ...], balance: int) -> UseCase:
    return UseCase(
        name,
        message_code,
        ESME,
        Form.DLMS,
        _update_parts(balance),
        srvs=srvs,
        critical=True,
        response=Protection.SIGNATURE,
        dated=True,
    )


# 2.1 for an ESME is ECS08a in DCC's mapping table. ECS08 (RTDS's 2.1_ECS08 folder) writes
# the maximum meter balance in force at once rather than to come; DCC's table no longer lists
# it, so the rig does not send it, and its ESME does not take it (not in the catalogue); the
# same transform builds it, and the ESME's objects apply it (tests, RTDS's bytes).
ECS08A = _update("ECS08a", 0x00DE, ("2.1",), cosem.VALUE_TO_COME)
ECS08 = _update("ECS08", 0x001F, (), cosem.VALUE)

USE_CASES: tuple[UseCase, ...] = (ECS26A, ECS08A)

# ECS08 IMMEDIATE's activation date-time: nothing specified (RTDS 2.1_ECS08), i.e. at once
AT_ONCE = bytes.fromhex("0000000000000000008000ff")
# DUIS 2.1 has no period for the debt recovery rate cap: RTDS's ECS08 carries one week
DEBT_CAP_PERIOD_S = 604_800
# the non-disablement schedule's scripts (class 10 script_selector), as RTDS's ECS08 has them
# for DUIS's NonDisablementScript; the script table is the disconnect one
NON_DISABLEMENT_SCRIPTS = {"START": 32, "STOP": 33}
