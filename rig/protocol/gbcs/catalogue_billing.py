"""The ESME's remaining reads of family 4 (DLMS/COSEM), as RTDS 4.5.0 has them. Declared as
:mod:`rig.protocol.gbcs.catalogue` declares the others, which gathers them into CATALOGUE
(this module must not import the catalogue).

====== ===== ================================================= ===============================
SRV    code  use case                                          the command
====== ===== ================================================= ===============================
4.2    0026  ECS17a read export energy registers               GET 1-0:2.8.0, 1-0:4.8.0 (class
                                                               3: value, scaler-unit)
4.16   0028  ECS17c read active power import                   GET 0-0:94.44.34.20
4.1.3  002A  ECS17e read TOU with blocks registers             protected read (0-0:43.2.10) of
                                                               0-0:94.44.34.2
4.6.1  0033  ECS21a read daily read log (exc export)           protected read (0-0:43.2.5) of
                                                               0-0:98.1.9 between two dates
4.4.4  002E  ECS20a read payment-based debt payments log      GET 0-0:98.1.4 by UTC range
4.4.2  002F  ECS20b read billing data log (payment mode and    protected read (0-0:43.2.3) of
              tariff changes)                                   0-0:98.1.2 between two dates
4.12.1 002C  ECS18b read maximum demand import registers       GET the reset date-times
                                                               0-0:94.44.5.0/.1, 1-0:1.6.0 and
                                                               1-0:1.6.1 (class 4: value, unit,
                                                               capture time), the period
4.12.2 002B  ECS18a read maximum demand export register        GET 0-0:94.44.5.2, 1-0:2.6.0
4.4.3  0030  ECS20c read billing data log (billing calendar)   protected read (0-0:43.2.2) of
                                                               0-0:98.1.0 and 0-0:98.1.1
                                                               between two dates
4.6.2  0035  ECS21c read export daily read log                 GET 0-0:98.1.10 by UTC range
4.8.2  0038  ECS22c read reactive import profile               GET 0-0:99.1.2 by UTC range
4.8.3  0036  ECS22a read export profile                        GET 0-0:99.1.1 by UTC range
4.10   0039  ECS23 read network data (single phase)             GET the average RMS voltage
                                                               counters, 1-0:32.24.0 by UTC
                                                               range and its capture period
4.15   0042  ECS27 read load limit data                        GET of the load limit's objects
                                                               (device configuration's, 6.4.1)
====== ===== ================================================= ===============================

ECS17a's and ECS17c's answers are dated, in clear (ECS27's in clear, not dated); ECS17e's,
ECS20c's and ECS21a's are encrypted for the requester (ECS17e's dated); the logs read by a
range of UTC seconds (ECS21c, ECS22a, ECS22c) answer a compact array in clear. ECS21c is sent for an
export supplier, which is not the meter's known remote party: the ACB originates it with its
own counter, the supplier riding as the supplementary remote party (no certificate), and the
meter answers the ACB, as RTDS has it. The layout of each log's rows is declared here
(:data:`ROWS`), once, for the meter that writes them and the DCC User who reads them."""

from __future__ import annotations

from rig.protocol.gbcs import access, cosem
from rig.protocol.gbcs.catalogue_device_config import (
    LOAD_LIMIT,
    LOAD_LIMIT_COUNTER,
    LOAD_LIMIT_COUNTER_UNIT,
)
from rig.protocol.gbcs.catalogue_esme_config import (
    AVERAGE_PERIOD,
    COUNTER_UNIT,
    COUNTER_VALUE,
    COUNTERS,
    MAX_DEMAND,
    MD_CAPTURED,
    MD_PERIOD,
    MD_UNIT,
    MD_VALUE,
)
from rig.protocol.gbcs.catalogue_reads import TOU_RATES
from rig.protocol.gbcs.dlms import Data, DataType, TypeDescription
from rig.protocol.gbcs.usecase import Form, UseCase

ESME = "ESME"
PROTECTED_READ = "protected_read"  # the given argument of a protected read
START, END = "start", "end"  # the given range of a log read, UTC seconds since 2000
_D = DataType
_U32 = TypeDescription(_D.DOUBLE_LONG_UNSIGNED)

# --- the objects (GBCS's GB companion specification, as RTDS's commands address them) ---
EXPORT_ACTIVE = cosem.obis("1-0:2.8.0")  # class 3 register: active export, Wh
EXPORT_REACTIVE = cosem.obis("1-0:4.8.0")  # class 3 register: reactive export, varh
VALUE, SCALER_UNIT = 2, 3  # a class 3 register's attributes
ACTIVE_POWER_IMPORT = cosem.Attribute(1, cosem.obis("0-0:94.44.34.20"), 2)  # W, and its unit
WATT = 27  # COSEM unit W
# the TOU with blocks register matrix (class 1), read protected through 0-0:43.2.10
TOU_BLOCK_REGISTERS = cosem.Attribute(1, cosem.obis("0-0:94.44.34.2"), 2)
TOU_BLOCK_PROTECTION = cosem.Method(30, cosem.obis("0-0:43.2.10"), 1)
TOU_BLOCK_CELLS = 64  # the matrix's registers, as RTDS's ECS17e answer has them
BLOCKS, BLOCK_RATES = 4, 8  # the block registers a log row carries: 4 arrays of 8
# the daily read log (exc export, class 7), read protected through 0-0:43.2.5
DAILY_READ_LOG = cosem.Attribute(7, cosem.obis("0-0:98.1.9"), 2)
DAILY_READ_PROTECTION = cosem.Method(30, cosem.obis("0-0:43.2.5"), 1)
# the billing data log taken on each billing date (class 7): the registers, and the
# prepayment registers, read protected together through 0-0:43.2.2
BILLING_LOG = cosem.Attribute(7, cosem.obis("0-0:98.1.0"), 2)
BILLING_PREPAY_LOG = cosem.Attribute(7, cosem.obis("0-0:98.1.1"), 2)
BILLING_PROTECTION = cosem.Method(30, cosem.obis("0-0:43.2.2"), 1)
# the billing data log on payment mode and tariff changes (ECS20b), as the billing calendar's
BILLING_EVENT_LOG = cosem.Attribute(7, cosem.obis("0-0:98.1.2"), 2)
BILLING_EVENT_PROTECTION = cosem.Method(30, cosem.obis("0-0:43.2.3"), 1)
DEBT_PAYMENTS_LOG = cosem.Attribute(7, cosem.obis("0-0:98.1.4"), 2)  # (when, millipence)
# the date-time each maximum demand register was last reset (class 1), by DUIS's names
MD_RESET = {
    name: cosem.Attribute(1, cosem.obis(f"0-0:94.44.5.{n}"), 2) for n, name in enumerate(MAX_DEMAND)
}
EXPORT_DAILY_LOG = cosem.Attribute(7, cosem.obis("0-0:98.1.10"), 2)  # (midnight, export Wh)
EXPORT_PROFILE = cosem.Attribute(7, cosem.obis("0-0:99.1.1"), 2)  # (half hour, Wh, varh)
REACTIVE_IMPORT_PROFILE = cosem.Attribute(7, cosem.obis("0-0:99.1.2"), 2)  # (half hour, varh)
# the average RMS voltage profile (class 7): (UTC seconds of a period's end, its average V)
RMS_VOLTAGE_PROFILE = cosem.Attribute(7, cosem.obis("1-0:32.24.0"), 2)


def registers_array(count: int) -> TypeDescription:
    """An array of ``count`` registers (double-long-unsigned)."""
    return TypeDescription(_D.ARRAY, count, (_U32,))


def _row(*members: TypeDescription) -> TypeDescription:
    return TypeDescription(_D.STRUCTURE, 0, members)


# the rows of each log (a compact array's element description), as RTDS's answers have them
DAILY_READ_ROW = _row(
    _U32, _U32, registers_array(TOU_RATES), *(registers_array(BLOCK_RATES),) * BLOCKS
)  # midnight, import register (Wh), the 48 TOU registers, the 4 x 8 block registers
BILLING_ROW = DAILY_READ_ROW  # the billing date, then as the daily read log's
# the billing date, the six prepayment registers (meter balance, emergency credit, debts)
DEBT_PAYMENT_ROW = _row(_U32, _U32)  # when, what the top-up paid to the payment debt
BILLING_PREPAY_ROW = _row(_U32, *(TypeDescription(_D.DOUBLE_LONG),) * 6)
# the change's date-time, the daily read log's registers, then the six prepayment registers
BILLING_EVENT_ROW = _row(*BILLING_ROW.members, *BILLING_PREPAY_ROW.members[1:])
EXPORT_DAILY_ROW = _row(_U32, _U32)  # midnight, export register (Wh)
EXPORT_PROFILE_ROW = _row(_U32, _U32, _U32)  # half hour's end, export Wh, reactive export varh
REACTIVE_PROFILE_ROW = _row(_U32, _U32)  # half hour's end, reactive import varh
RMS_VOLTAGE_ROW = _row(_U32, _U32)  # the measurement period's end, the average RMS voltage
ROWS = {
    DAILY_READ_LOG: DAILY_READ_ROW,
    BILLING_LOG: BILLING_ROW,
    BILLING_PREPAY_LOG: BILLING_PREPAY_ROW,
    BILLING_EVENT_LOG: BILLING_EVENT_ROW,
    DEBT_PAYMENTS_LOG: DEBT_PAYMENT_ROW,
    EXPORT_DAILY_LOG: EXPORT_DAILY_ROW,
    EXPORT_PROFILE: EXPORT_PROFILE_ROW,
    REACTIVE_IMPORT_PROFILE: REACTIVE_PROFILE_ROW,
    RMS_VOLTAGE_PROFILE: RMS_VOLTAGE_ROW,
}


def flat_values(value: Data) -> list[int]:
    """A register's value or a log's row (structures and arrays of integers) as flat
    integers, in order."""
    if isinstance(value.value, list):
        return [v for member in value.value for v in flat_values(member)]
    return [int(value.value)]


def _protected(method: cosem.Method) -> access.Access:
    return access.Access((access.Invoke(method, name=PROTECTED_READ, kind=_D.STRUCTURE),))


def _by_range(log: cosem.Attribute) -> access.Access:
    return access.Access((access.ReadRange(log, cosem.UTC_SECONDS, START, END),))


def _dlms(
    name: str,
    code: int,
    request: access.Access,
    srv: str,
    *,
    encrypted: bool = False,
    dated: bool = False,
    acb_originated: bool = False,
) -> UseCase:
    return UseCase(
        name,
        code,
        ESME,
        Form.DLMS,
        request,
        srvs=(srv,),
        encrypted=encrypted,
        dated=dated,
        acb_originated=acb_originated,
    )


_EXPORT = (
    cosem.Attribute(3, EXPORT_ACTIVE, VALUE),
    cosem.Attribute(3, EXPORT_ACTIVE, SCALER_UNIT),
    cosem.Attribute(3, EXPORT_REACTIVE, VALUE),
    cosem.Attribute(3, EXPORT_REACTIVE, SCALER_UNIT),
)
ECS17A = _dlms(
    "ECS17a", 0x0026, access.Access(tuple(access.Read(a) for a in _EXPORT)), "4.2", dated=True
)
ECS17C = _dlms(
    "ECS17c", 0x0028, access.Access((access.Read(ACTIVE_POWER_IMPORT),)), "4.16", dated=True
)
ECS17E = _dlms(
    "ECS17e", 0x002A, _protected(TOU_BLOCK_PROTECTION), "4.1.3", encrypted=True, dated=True
)
ECS20C = _dlms("ECS20c", 0x0030, _protected(BILLING_PROTECTION), "4.4.3", encrypted=True)
ECS21A = _dlms("ECS21a", 0x0033, _protected(DAILY_READ_PROTECTION), "4.6.1", encrypted=True)
ECS21C = _dlms("ECS21c", 0x0035, _by_range(EXPORT_DAILY_LOG), "4.6.2", acb_originated=True)
ECS22A = _dlms("ECS22a", 0x0036, _by_range(EXPORT_PROFILE), "4.8.3")
ECS22C = _dlms("ECS22c", 0x0038, _by_range(REACTIVE_IMPORT_PROFILE), "4.8.2")
_UNDER, _OVER = COUNTERS[32]  # phase 1's average RMS under- and over-voltage counters
ECS23 = _dlms(
    "ECS23",
    0x0039,
    access.Access(
        (
            *(
                access.Read(cosem.Attribute(3, c, a))
                for c in (_UNDER, _OVER)
                for a in (COUNTER_VALUE, COUNTER_UNIT)
            ),
            access.ReadRange(RMS_VOLTAGE_PROFILE, cosem.UTC_SECONDS, START, END),
            access.Read(AVERAGE_PERIOD[32]),
        )
    ),
    "4.10",
    dated=True,
)
# the load limit's supply state, counter (and unit), power threshold, period, restoration
LOAD_LIMIT_DATA = (
    LOAD_LIMIT["supply_state"][1],
    LOAD_LIMIT_COUNTER,
    LOAD_LIMIT_COUNTER_UNIT,
    *(LOAD_LIMIT[name][1] for name in ("power_threshold", "period", "restoration_period")),
)
ECS27 = _dlms("ECS27", 0x0042, access.Access(tuple(map(access.Read, LOAD_LIMIT_DATA))), "4.15")
ECS20A = _dlms("ECS20a", 0x002E, _by_range(DEBT_PAYMENTS_LOG), "4.4.4")
ECS20B = _dlms("ECS20b", 0x002F, _protected(BILLING_EVENT_PROTECTION), "4.4.2", encrypted=True)


def _maximum_demand(*names: str) -> access.Access:
    """Each register's reset date-time, then each register's value, unit and capture time."""
    registers = (
        cosem.Attribute(4, MAX_DEMAND[n], a)
        for n in names
        for a in (MD_VALUE, MD_UNIT, MD_CAPTURED)
    )
    return access.Access(tuple(access.Read(a) for a in (*(MD_RESET[n] for n in names), *registers)))


_IMPORT_MD = ("MaxDemandActivePowerImportValue", "MaxDemandConfigTimeActivePowerImportValue")
ECS18A = _dlms(
    "ECS18a", 0x002B, _maximum_demand("MaxDemandActivePowerExportValue"), "4.12.2", dated=True
)
ECS18B = _dlms(
    "ECS18b",
    0x002C,
    access.Access((*_maximum_demand(*_IMPORT_MD).parts, access.Read(MD_PERIOD))),
    "4.12.1",
    dated=True,
)

USE_CASES: tuple[UseCase, ...] = (
    ECS17A,
    ECS17C,
    ECS17E,
    ECS20C,
    ECS21A,
    ECS21C,
    ECS22A,
    ECS22C,
    ECS23,
    ECS27,
    ECS20A,
    ECS20B,
    ECS18A,
    ECS18B,
)
# the logs each protected log read reads, and the log each range read reads
PROTECTED_LOGS = {
    ECS20C.name: (BILLING_LOG, BILLING_PREPAY_LOG),
    ECS21A.name: (DAILY_READ_LOG,),
    ECS20B.name: (BILLING_EVENT_LOG,),
}
RANGE_LOGS = {
    ECS21C.name: EXPORT_DAILY_LOG,
    ECS22A.name: EXPORT_PROFILE,
    ECS22C.name: REACTIVE_IMPORT_PROFILE,
    ECS23.name: RMS_VOLTAGE_PROFILE,
    ECS20A.name: DEBT_PAYMENTS_LOG,
}


def tou_block_argument(counter: int, originator: bytes, recipient: bytes) -> Data:
    """ECS17e's protected read of the TOU with blocks registers, for this counter and
    parties."""
    return cosem.protected_read_argument((TOU_BLOCK_REGISTERS,), counter, originator, recipient)


def log_argument(
    uc: UseCase, start: bytes, end: bytes, counter: int, originator: bytes, recipient: bytes
) -> Data:
    """A protected read of ``uc``'s logs (ECS21a's daily read log, ECS20c's two billing data
    logs) from ``start`` to ``end`` (DLMS date-times), for this counter and parties."""
    each = [
        cosem.protected_range_argument(log, start, end, counter, originator, recipient)
        for log in PROTECTED_LOGS[uc.name]
    ]
    listed = Data(_D.ARRAY, [a.value[0].value[0] for a in each])  # every log, one protection
    return Data(_D.STRUCTURE, [listed, each[0].value[1]])
