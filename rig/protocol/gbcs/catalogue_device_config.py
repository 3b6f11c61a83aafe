"""GBCS use cases of the ESME's device configuration (6.2.x, 6.4.x): declared here, gathered by
:mod:`rig.protocol.gbcs.catalogue` into CATALOGUE (this module must not import the catalogue).

Laid out as RTDS 4.5.0 has them (folders 6.2.x_ECS26b ... 6.4.2_ECS28b):

======== ===== ========================================== ======================================
SRV      code  use case                                   the command
======== ===== ========================================== ======================================
6.2.1    003C  ECS26b read voltage configuration          GETs of the RMS voltage limiters
                                                          0-0:17.0.1-4 (threshold, period) and
                                                          the average RMS over/under thresholds
(6.2.1)  00C6  ECS26k the same, poly-phase                and those of phases 2 and 3
6.2.2    003D  ECS26c read randomisation                  GETs of 0-0:94.44.0.0, .0.2, .0.1
6.2.3    00D9  ECS26l read billing calendar               GET of 0-0:15.0.0's execution_time
6.2.4    00F9  ECS26m read identity (ESME)                GETs of 0-0:96.1.2, .4, .6, the tamper
                                                          state 0-0:94.44.0.4
6.2.4    00FA  ECS26n read identity (CHF)                 GETs of the hub's 0-0:96.1.4, .6
6.2.5    0040  ECS26f read power thresholds               GET of 0-0:16.0.0's thresholds
6.2.7    004E  ECS40 read MPANs                           GETs of 0-0:94.44.34.11, 1-0:0.0.2
6.2.9    00BE  ECS26j read payment mode                   GET of 0-0:19.0.0 account_mode_and_status
6.2.10   00EE  ECS25r1 read alert behaviours (supplier)   GETs of 0-30:97.98.15-18
(6.2.10) 00EF  ECS25r2 the same (network operator)        GETs of 0-33:97.98.15, .18
6.4.1    0043  ECS28a set load limit general settings     SETs of four future-dated values (to
                                                          come), then their activation
6.4.2    0044  ECS28b reset the load limit counter        ACTION reset of 0-0:94.44.42
======== ===== ========================================== ======================================

The catalogue holds one use case per (SRV, device type): 6.2.1's ECS26k (a poly-phase ESME's;
the DUIS body is the same) and 6.2.10's ECS25r2 (the network operator's; the transform picks
it by the requester's role) declare no SRV. RTDS's older ECS26d (6.2.3), ECS26e (6.2.4, ESME)
and ECS26i (6.2.4, CHF) are not in DCC's mapping table, which maps those SRVs to ECS26l, ECS26m
and ECS26n: they are declared here (their commands and answers are tested against RTDS) but
left out of the catalogue, so the rig never sends them.
"""

from __future__ import annotations

from rig.protocol.gbcs import access, cosem
from rig.protocol.gbcs.cosem import Attribute, obis
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.usecase import Form, Protection, UseCase

ESME, CHF = "ESME", "CHF"
_D = DataType
LIMITER, FUTURE_DATED = 71, cosem.FUTURE_DATED
THRESHOLD, MIN_OVER, MIN_UNDER = 4, 6, 7  # class 71: threshold_normal, min over/under durations


def data(text: str) -> Attribute:
    """A class 1 data object's value."""
    return Attribute(1, obis(text), 2)


# --- the objects, by the names the readers give their values -----------------------------------
# the RMS voltage limiters (class 71): threshold (V) and measurement period (s) of each
RMS_LIMITERS = {
    "extreme_over_voltage": obis("0-0:17.0.1"),
    "extreme_under_voltage": obis("0-0:17.0.2"),
    "voltage_sag": obis("0-0:17.0.3"),
    "voltage_swell": obis("0-0:17.0.4"),
}
# the average RMS voltage thresholds (V), by phase
AVERAGE_RMS = {
    "average_rms_over_voltage": data("1-0:32.35.0.4"),
    "average_rms_under_voltage": data("1-0:32.31.0.4"),
    "average_rms_under_voltage_2": data("1-0:52.31.0.4"),
    "average_rms_over_voltage_2": data("1-0:52.35.0.4"),
    "average_rms_under_voltage_3": data("1-0:72.31.0.4"),
    "average_rms_over_voltage_3": data("1-0:72.35.0.4"),
}
RANDOMISATION = {  # DUIS 6.2.2's names, in the order ECS26c reads them
    "randomised_offset": data("0-0:94.44.0.0"),
    "randomised_offset_number": data("0-0:94.44.0.2"),
    "randomised_offset_limit": data("0-0:94.44.0.1"),  # 7.12's ECS38 writes it
}
BILLING_CALENDAR = Attribute(22, obis("0-0:15.0.0"), 4)  # single action schedule: execution_time
DEVICE_ID = data("0-0:96.1.1")
METER_VARIANT = data("0-0:96.1.2")
MODEL_TYPE = data("0-0:96.1.4")
MANUFACTURER = data("0-0:96.1.6")
SUPPLY_TAMPER_STATE = data("0-0:94.44.0.4")  # 6.25's ECS81 writes it (true: locked)
POWER_THRESHOLDS = Attribute(cosem.REGISTER_MONITOR, obis("0-0:16.0.0"), 2)  # W, low-med, med-high
IMPORT_MPAN = data("0-0:94.44.34.11")  # 6.20.1 writes it (twin: the two MPANs, concatenated)
EXPORT_MPAN = data("1-0:0.0.2")  # 6.20.2 writes it
PAYMENT_MODE = Attribute(cosem.ACCOUNT, cosem.ACCOUNT_OBJECT, 2)  # account_mode_and_status
# the alert and event behaviours in force (256-bit strings: WAN, HAN, audible alarm, logging),
# of the supplier (B=30) and the network operator (B=33), and the filters 6.22 writes to them
_PARTIES = (("supplier", 30), ("network_operator", 33))
_KINDS = (("wan", 15), ("han", 16), ("alarm", 17), ("log", 18))
BEHAVIOURS = {f"{p}_{w}": data(f"0-{b}:97.98.{n}") for p, b in _PARTIES for w, n in _KINDS}
# the 6.22 filter (mask, then values: 512 bits) that changes each: 0-B:97.98.11-14
FILTER_OF = {f"{p}_{w}": data(f"0-{b}:97.98.{n - 4}") for p, b in _PARTIES for w, n in _KINDS}
# the load limit (6.4.1 writes, 4.15's ECS27 reads): the limiter 0-0:17.0.0 holds the power
# threshold (W), the period (s) over it that triggers, the restoration period (s) under it;
# GBCS's future-dated objects (class 9000) through which ECS28a writes each, and the supply
# state on a trigger (9000 0-0:94.44.0.3, in force at attribute 2: true, disable the supply)
LOAD_LIMITER = obis("0-0:17.0.0")
LOAD_LIMIT = {  # name: (its class 9000 object, where its value is in force)
    "supply_state": (obis("0-0:94.44.0.3"), Attribute(FUTURE_DATED, obis("0-0:94.44.0.3"), 2)),
    "power_threshold": (obis("0-0:94.44.128.7"), Attribute(LIMITER, LOAD_LIMITER, THRESHOLD)),
    "period": (obis("0-0:94.44.128.6"), Attribute(LIMITER, LOAD_LIMITER, MIN_OVER)),
    "restoration_period": (obis("0-0:94.44.128.8"), Attribute(LIMITER, LOAD_LIMITER, MIN_UNDER)),
}
LOAD_LIMIT_KINDS = {
    "supply_state": _D.BOOLEAN,
    "power_threshold": _D.DOUBLE_LONG_UNSIGNED,
    "period": _D.DOUBLE_LONG_UNSIGNED,
    "restoration_period": _D.DOUBLE_LONG_UNSIGNED,
}
LOAD_LIMIT_COUNTER = Attribute(3, obis("0-0:94.44.42"), 2)  # class 3 register: how many times
LOAD_LIMIT_COUNTER_UNIT = Attribute(3, obis("0-0:94.44.42"), 3)
RESET_LOAD_LIMIT_COUNTER = cosem.Method(3, obis("0-0:94.44.42"), 1)
AT_ONCE = bytes.fromhex("0000000000000000008000ff")  # an activation date-time: now
NEVER = b"\xff" * 9 + bytes.fromhex("8000ff")  # none: the change held is cancelled


def _limiter(name: str) -> tuple[Attribute, Attribute]:
    return Attribute(LIMITER, RMS_LIMITERS[name], THRESHOLD), Attribute(
        LIMITER, RMS_LIMITERS[name], MIN_OVER
    )


# --- the use cases: each a list of GETs (their values named for the readers) -------------------
VOLTAGE = (
    *(t for name in RMS_LIMITERS for t in _limiter(name)),
    AVERAGE_RMS["average_rms_over_voltage"],
    AVERAGE_RMS["average_rms_under_voltage"],
)
VOLTAGE_POLY = VOLTAGE + tuple(AVERAGE_RMS[n] for n in list(AVERAGE_RMS)[2:])


def _reads(
    name: str, code: int, targets: tuple[Attribute, ...], srv: str | None, device: str = ESME
) -> UseCase:
    """GETs of ``targets``; the CHF's are originated by the ACB for the DCC User (as RTDS's)."""
    parts = access.Access(tuple(access.Read(t) for t in targets))
    srvs = (srv,) if srv else ()
    return UseCase(name, code, device, Form.DLMS, parts, srvs=srvs, acb_originated=device == CHF)


IDENTITY = (METER_VARIANT, MODEL_TYPE, MANUFACTURER, SUPPLY_TAMPER_STATE)
ECS26B = _reads("ECS26b", 0x003C, VOLTAGE, "6.2.1")
ECS26K = _reads("ECS26k", 0x00C6, VOLTAGE_POLY, None)
ECS26C = _reads("ECS26c", 0x003D, tuple(RANDOMISATION.values()), "6.2.2")
ECS26L = _reads("ECS26l", 0x00D9, (BILLING_CALENDAR,), "6.2.3")
ECS26D = _reads("ECS26d", 0x003E, (BILLING_CALENDAR,), None)
ECS26M = _reads("ECS26m", 0x00F9, IDENTITY, "6.2.4")
ECS26E = _reads("ECS26e", 0x003F, (DEVICE_ID, *IDENTITY), None)
ECS26N = _reads("ECS26n", 0x00FA, (MODEL_TYPE, MANUFACTURER), "6.2.4", CHF)
ECS26I = _reads("ECS26i", 0x0092, (DEVICE_ID, MODEL_TYPE, MANUFACTURER), None, CHF)
ECS26F = _reads("ECS26f", 0x0040, (POWER_THRESHOLDS,), "6.2.5")
ECS40 = _reads("ECS40", 0x004E, (IMPORT_MPAN, EXPORT_MPAN), "6.2.7")
ECS26J = _reads("ECS26j", 0x00BE, (PAYMENT_MODE,), "6.2.9")
SUPPLIER_BEHAVIOURS = tuple(v for k, v in BEHAVIOURS.items() if k.startswith("supplier"))
NETWORK_BEHAVIOURS = (BEHAVIOURS["network_operator_wan"], BEHAVIOURS["network_operator_log"])
ECS25R1 = _reads("ECS25r1", 0x00EE, SUPPLIER_BEHAVIOURS, "6.2.10")
ECS25R2 = _reads("ECS25r2", 0x00EF, NETWORK_BEHAVIOURS, None)


def _load_limit_parts() -> access.Access:
    """ECS28a's eight SETs, in RTDS's order: each value to come, then each activation."""
    to_come = tuple(
        access.Write(Attribute(FUTURE_DATED, obj, cosem.VALUE_TO_COME), n, LOAD_LIMIT_KINDS[n])
        for n, (obj, _) in LOAD_LIMIT.items()
    )
    activations = tuple(
        access.Write(Attribute(FUTURE_DATED, obj, cosem.ACTIVATION), f"{n}_at", _D.OCTET_STRING)
        for n, (obj, _) in LOAD_LIMIT.items()
    )
    return access.Access(to_come + activations)


ECS28A = UseCase(
    "ECS28a",
    0x0043,
    ESME,
    Form.DLMS,
    _load_limit_parts(),
    srvs=("6.4.1",),
    critical=True,
    response=Protection.SIGNATURE,
    dated=True,
)
ECS28B = UseCase(
    "ECS28b",
    0x0044,
    ESME,
    Form.DLMS,
    access.Access((access.Invoke(RESET_LOAD_LIMIT_COUNTER, Data(_D.INTEGER, 0)),)),
    srvs=("6.4.2",),
)

USE_CASES: tuple[UseCase, ...] = (
    ECS26B,
    ECS26K,
    ECS26C,
    ECS26L,
    ECS26M,
    ECS26N,
    ECS26F,
    ECS40,
    ECS26J,
    ECS25R1,
    ECS25R2,
    ECS28A,
    ECS28B,
)
# RTDS's use cases DCC's mapping table no longer lists (see above): not in the catalogue
OLDER: tuple[UseCase, ...] = (ECS26D, ECS26E, ECS26I)
