"""GBCS use cases of the ESME's identity, security and operational configuration, as RTDS 4.5.0
has them: declared here, gathered by :mod:`rig.protocol.gbcs.catalogue` into CATALOGUE (this
module must not import the catalogue).

====== ===== ============================================ =====================================
SRV    code  use case                                     the command
====== ===== ============================================ =====================================
6.5    0045  ECS29a set voltage configuration, reset      SETs of the average RMS period, the
             counters (single phase)                      RMS limiters (0-0:17.0.1-4: threshold,
                                                          period), the average RMS thresholds;
                                                          ACTION reset of the two counters
(6.5)  00AE  ECS29b the same, poly-phase                  and phases 2 and 3's
(6.5)  00D1  ECS29c without the counters' reset           the SETs (another order)
(6.5)  00D2  ECS29d the same, poly-phase
6.27   00D3  ECS29e reset the RMS voltage counters        ACTION reset of the two counters
(6.27) 00D4  ECS29f the same, poly-phase                  of each phase
6.8    00D7  ECS30a set billing calendar (critical)       SET 0-0:15.0.0's execution_time
6.12   0047  ECS34 set power thresholds                   SET 0-0:16.0.0's thresholds (W)
6.18.1 004A  ECS37 set the maximum demand time period     SET 0-0:12.0.0's entries (start, end)
6.18.2 005A  ECS57 reset maximum demand registers         ACTION reset of those DUIS names
6.20.1 004C  ECS39a set import MPAN                       SET 0-0:94.44.34.11 (twin: both)
6.20.2 004D  ECS39b set export MPAN (the ACB's)           SET 1-0:0.0.2
6.25   0068  ECS81 set supply tamper state (critical)     SET 0-0:94.44.0.4 (true: Locked)
6.26   00DB  ECS48 daily block counter reset (critical)   SET 0-0:15.1.0's execution_time
6.11   0062  ECS70 set clock (critical)                   declared by catalogue_commission
====== ===== ============================================ =====================================

One use case per (SRV, device type) is in the catalogue with its SRV; the others declare none
and the primary's transform picks them: 6.5 by the body (poly-phase settings, counters not
reset), 6.27 by the meter (the rig's ESME is single phase: ECS29e). ECS39b is sent for an
export supplier the ESME does not know: the ACB originates it, the supplier rides as the
supplementary remote party (RTDS). RTDS's older ECS30 (monthly only) is declared, but DCC's
mapping table maps 6.8 to ECS30a only, so it is left out of the catalogue (:data:`OLDER`).
"""

from __future__ import annotations

from rig.protocol.gbcs import access
from rig.protocol.gbcs.catalogue_device_config import (
    AVERAGE_RMS,
    BILLING_CALENDAR,
    EXPORT_MPAN,
    IMPORT_MPAN,
    LIMITER,
    MIN_OVER,
    POWER_THRESHOLDS,
    RMS_LIMITERS,
    SUPPLY_TAMPER_STATE,
    THRESHOLD,
)
from rig.protocol.gbcs.cosem import Attribute, Method, obis
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.usecase import Form, Protection, UseCase

ESME = "ESME"
_D = DataType
PHASES = (32, 52, 72)  # OBIS group C of phase 1, 2, 3's voltage objects
# the average RMS voltage measurement period (s) of each phase: the profile's capture_period
AVERAGE_PERIOD = {p: Attribute(7, obis(f"1-0:{p}.24.0"), 4) for p in PHASES}
# the average RMS voltage counters (class 3 registers) of each phase: under (D=32), over (D=36)
COUNTERS = {p: (obis(f"1-0:{p}.32.0.4"), obis(f"1-0:{p}.36.0.4")) for p in PHASES}
COUNTER_VALUE, COUNTER_UNIT, RESET = 2, 3, 1  # class 3: value, scaler_unit; method reset
MD_PERIOD = Attribute(10, obis("0-0:12.0.0"), 2)  # the maximum demand period: schedule entries
# the maximum demand registers (class 4), by DUIS's names in ECS57's order
MAX_DEMAND = {
    "MaxDemandActivePowerImportValue": obis("1-0:1.6.0"),
    "MaxDemandConfigTimeActivePowerImportValue": obis("1-0:1.6.1"),
    "MaxDemandActivePowerExportValue": obis("1-0:2.6.0"),
}
MD_VALUE, MD_UNIT, MD_CAPTURED = 2, 3, 5  # class 4: value (W), scaler_unit, capture_time
BLOCK_COUNTER_RESET = Attribute(22, obis("0-0:15.1.0"), 4)  # single action schedule's times
RESET_ARGUMENT = Data(_D.INTEGER, 0)
_U32 = _D.DOUBLE_LONG_UNSIGNED


def _average_rms(phase: int, over: bool) -> str:
    name = "average_rms_over_voltage" if over else "average_rms_under_voltage"
    return name if phase == 32 else f"{name}_{PHASES.index(phase) + 1}"


def _limiters() -> tuple[access.Write, ...]:
    """The RMS limiters' threshold (V) and period (s), in RTDS's order."""
    return tuple(
        access.Write(Attribute(LIMITER, instance, a), f"{name}_{what}", _U32)
        for name, instance in RMS_LIMITERS.items()
        for a, what in ((THRESHOLD, "threshold"), (MIN_OVER, "period"))
    )


def _period(phase: int) -> access.Write:
    return access.Write(
        AVERAGE_PERIOD[phase], f"average_rms_period_{PHASES.index(phase) + 1}", _U32
    )


def _threshold(phase: int, over: bool) -> access.Write:
    name = _average_rms(phase, over)
    return access.Write(AVERAGE_RMS[name], name, _U32)


def _resets(phases: tuple[int, ...]) -> tuple[access.Invoke, ...]:
    return tuple(
        access.Invoke(Method(3, counter, RESET), RESET_ARGUMENT)
        for p in phases
        for counter in COUNTERS[p]
    )


ONE, THREE = PHASES[:1], PHASES
# each use case's parts, in RTDS's order (the average thresholds' order varies by phase)
ECS29A_PARTS = (_period(32), *_limiters(), _threshold(32, True), _threshold(32, False))
ECS29B_PARTS = (
    *(_period(p) for p in THREE),
    *_limiters(),
    _threshold(32, True),
    _threshold(32, False),
    *(t for p in THREE[1:] for t in (_threshold(p, False), _threshold(p, True))),
)
ECS29C_PARTS = (_threshold(32, False), _threshold(32, True), _period(32), *_limiters())
ECS29D_PARTS = (
    *(t for p in THREE for t in (_threshold(p, False), _threshold(p, True))),
    *(_period(p) for p in THREE),
    *_limiters(),
)


def _set(
    name: str,
    code: int,
    parts: tuple[access.Part, ...],
    srv: str | None,
    *,
    critical: bool = False,
    acb_originated: bool = False,
) -> UseCase:
    """A DLMS command of ``parts``; a critical one is answered signed."""
    return UseCase(
        name,
        code,
        ESME,
        Form.DLMS,
        access.Access(parts),
        srvs=(srv,) if srv else (),
        critical=critical,
        response=Protection.SIGNATURE if critical else Protection.MAC,
        acb_originated=acb_originated,
    )


ECS29A = _set("ECS29a", 0x0045, ECS29A_PARTS + _resets(ONE), "6.5")
ECS29B = _set("ECS29b", 0x00AE, ECS29B_PARTS + _resets(THREE), None)
ECS29C = _set("ECS29c", 0x00D1, ECS29C_PARTS, None)
ECS29D = _set("ECS29d", 0x00D2, ECS29D_PARTS, None)
ECS29E = _set("ECS29e", 0x00D3, _resets(ONE), "6.27")
ECS29F = _set("ECS29f", 0x00D4, _resets(THREE), None)
# 6.5's use cases by (poly-phase, counters reset); 6.27's by poly-phase
VOLTAGE = {
    (False, True): ECS29A,
    (True, True): ECS29B,
    (False, False): ECS29C,
    (True, False): ECS29D,
}
COUNTER_RESET = {False: ECS29E, True: ECS29F}

CALENDAR, THRESHOLDS, SCHEDULE, MPAN, TAMPER = (
    "calendar",
    "thresholds",
    "schedule",
    "mpan",
    "tamper",
)
_BILLING = (access.Write(BILLING_CALENDAR, CALENDAR, _D.ARRAY),)
ECS30A = _set("ECS30a", 0x00D7, _BILLING, "6.8", critical=True)
ECS30 = _set("ECS30", 0x0046, _BILLING, None, critical=True)
ECS34 = _set("ECS34", 0x0047, (access.Write(POWER_THRESHOLDS, THRESHOLDS, _D.ARRAY),), "6.12")
ECS37 = _set("ECS37", 0x004A, (access.Write(MD_PERIOD, SCHEDULE, _D.ARRAY),), "6.18.1")
ECS57 = _set(
    "ECS57",
    0x005A,
    tuple(
        access.Invoke(Method(4, instance, RESET), name=name, kind=_D.INTEGER, optional=True)
        for name, instance in MAX_DEMAND.items()
    ),
    "6.18.2",
)
ECS39A = _set("ECS39a", 0x004C, (access.Write(IMPORT_MPAN, MPAN, _D.OCTET_STRING),), "6.20.1")
ECS39B = _set(
    "ECS39b",
    0x004D,
    (access.Write(EXPORT_MPAN, MPAN, _D.OCTET_STRING),),
    "6.20.2",
    acb_originated=True,  # the export supplier rides as the supplementary remote party
)
ECS81 = _set(
    "ECS81", 0x0068, (access.Write(SUPPLY_TAMPER_STATE, TAMPER, _D.BOOLEAN),), "6.25", critical=True
)
ECS48 = _set(
    "ECS48", 0x00DB, (access.Write(BLOCK_COUNTER_RESET, CALENDAR, _D.ARRAY),), "6.26", critical=True
)

USE_CASES: tuple[UseCase, ...] = (
    ECS29A,
    ECS29B,
    ECS29C,
    ECS29D,
    ECS29E,
    ECS29F,
    ECS30A,
    ECS34,
    ECS37,
    ECS57,
    ECS39A,
    ECS39B,
    ECS81,
    ECS48,
)
OLDER: tuple[UseCase, ...] = (ECS30,)  # RTDS's, not in DCC's mapping table: not served
