"""The COSEM side of GBCS: the objects DLMS use cases address, and GBCS's protected reads.

An object is addressed as (class, OBIS instance, attribute) for a GET or SET and
(class, OBIS instance, method) for an ACTION. A *protected read* is GBCS's way of reading
sensitive attributes: an ACTION on the data-protection object (class 30, method 1
"get protected attributes") listing the objects, with protection parameters naming the
counter and the two parties; the device answers with the values encrypted for the
requester (see :func:`rig.protocol.gbcs.security.protect`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from rig.protocol.gbcs.dlms import Data, DataType

_D = DataType


def obis(text: str) -> bytes:
    """An OBIS code as its 6 bytes: ``0-0:94.44.34.10`` (value group F defaults to 255)."""
    ab, _, cdef = text.partition(":")
    a, b = (int(x) for x in ab.split("-"))
    groups = [int(x) for x in cdef.split(".")]
    if len(groups) == 3:
        groups.append(255)
    if len(groups) != 4 or not all(0 <= g <= 255 for g in (a, b, *groups)):
        raise ValueError(f"{text!r} is not an OBIS code like 0-0:96.3.10.255")
    return bytes([a, b, *groups])


def obis_text(raw: bytes) -> str:
    a, b, c, d, e, f = raw
    return f"{a}-{b}:{c}.{d}.{e}.{f}"


@dataclass(frozen=True, slots=True)
class Attribute:
    """A COSEM attribute: what a GET reads and a SET writes."""

    class_id: int
    instance: bytes  # OBIS, 6 bytes
    attribute: int

    def __str__(self) -> str:
        return f"class {self.class_id} {obis_text(self.instance)} attribute {self.attribute}"


@dataclass(frozen=True, slots=True)
class Method:
    """A COSEM method: what an ACTION invokes."""

    class_id: int
    instance: bytes
    method: int

    def __str__(self) -> str:
        return f"class {self.class_id} {obis_text(self.instance)} method {self.method}"


# --- the objects the rig's use cases address (GBCS 4.3, the GB companion specification) ---
IMPORT_REGISTERS = Attribute(1, obis("0-0:94.44.34.10"), 2)  # import energy and reactive
DATA_PROTECTION = Method(30, obis("0-0:43.2.8"), 1)  # get protected attributes
DISCONNECT_SCRIPTS = Method(9, obis("0-0:10.0.106"), 1)  # disconnect script table: execute
DISCONNECT_CONTROL_STATE = Attribute(70, obis("0-0:96.3.10"), 3)  # control_state
TOKEN_GATEWAY = Method(115, obis("0-0:19.40.0"), 1)  # token gateway: enter a token (a UTRN)
METER_BALANCE = Attribute(112, obis("0-0:19.10.0"), 2)  # credit: current amount, millipence
FIRMWARE_VERSION = Attribute(1, obis("0-0:0.2.1"), 2)  # the running firmware version (ECS52)
EMERGENCY_CREDIT = Method(112, obis("0-0:19.10.1"), 3)  # emergency credit: invoke_credit
# the debt registers: COSEM charges (class 113) whose total amount remaining is the debt
CHARGE = 113
TIME_DEBT_1, TIME_DEBT_2, PAYMENT_DEBT = (obis(f"0-0:19.20.{n}") for n in (1, 2, 3))
UNIT_CHARGE_ACTIVE, UNIT_CHARGE_PASSIVE, CHARGE_PERIOD, PROPORTION = 5, 6, 8, 13
ACTIVATE_PASSIVE_UNIT_CHARGE, UPDATE_TOTAL_AMOUNT_REMAINING = 2, 4
MILLIPENCE = 1000  # the ESME's currency unit is the millipenny (DUIS MMC: "Millipence")
# the prepayment configuration (ECS08 writes it, ECS26a reads it). Which object is which
# DUIS value: ECS08's values against DCC's 2.1 template, RTDS's 2.1 8F66 alerts (each names
# the object whose future-dated change it reports), and the Blue Book's class semantics.
ACCOUNT, PREPAY_CREDIT, REGISTER_MONITOR, SPECIAL_DAYS, SCHEDULE = 111, 112, 21, 11, 10
ACCOUNT_OBJECT = obis("0-0:19.0.0")
CREDIT_CHARGE_CONFIGURATION, LOW_CREDIT_THRESHOLD = 11, 16  # class 111 attributes
MAX_PROVISION, MAX_PROVISION_PERIOD = 18, 19  # class 111: the debt recovery rate cap
EMERGENCY_CREDIT_OBJECT = obis("0-0:19.10.1")  # class 112 (the object ECS09 invokes)
PRESET_CREDIT_AMOUNT, CREDIT_AVAILABLE_THRESHOLD = 9, 10  # the EC limit and threshold
DISABLEMENT_MONITOR = Attribute(21, obis("0-0:16.0.1"), 2)  # thresholds: the disablement one
ENTRIES = 2  # class 11 special days' entries; class 10 schedule's entries
# the non-disablement calendar: in force (A=0, B=0), and as ECS08 writes it (B=1) until its
# activation date-time passes
SPECIAL_DAYS_TABLE, SPECIAL_DAYS_TO_COME = obis("0-0:11.0.2"), obis("0-1:11.0.2")
NON_DISABLEMENT_SCHEDULE, NON_DISABLEMENT_TO_COME = obis("0-0:12.0.1"), obis("0-1:12.0.1")
# GBCS's future-dated values (class 9000): attribute 2 the value in force, 4 the value to
# come, 6 when it comes (ECS08 IMMEDIATE: an unspecified date-time, at once)
FUTURE_DATED, VALUE, VALUE_TO_COME, ACTIVATION = 9000, 2, 4, 6
MAX_CREDIT_THRESHOLD = obis("0-0:94.44.2.10")  # RTDS 8F66 ..._MAX_CREDIT_THRESHOLD
MAX_METER_BALANCE = obis("0-0:94.44.2.20")  # RTDS 8F66 ..._MAX_METER_BALANCE
EMERGENCY_CREDIT_LIMIT = obis("0-0:94.44.128.2")  # 8F66 ..._EMERGENCY_CREDIT_LIMIT
EMERGENCY_CREDIT_THRESHOLD = obis("0-0:94.44.128.3")  # 8F66 ..._EMERGENCY_CREDIT_THRESHOLD
LOW_CREDIT_TO_COME = obis("0-0:94.44.128.9")  # 8F66 ..._LOW_CREDIT_THRESHOLD
DEBT_CAP_AMOUNT = obis("0-0:94.44.128.12")  # 8F66 ..._DEBT_RECOVERY_RATE_CAP_AMOUNT
DEBT_CAP_PERIOD = obis("0-0:94.44.128.13")  # 8F66 ..._DEBT_RECOVERY_RATE_CAP_PERIOD
CALENDAR_ACTIVATION = obis("0-0:94.44.128.28")  # 8F66 ..._CALENDAR
SPECIAL_DAYS_ACTIVATION = obis("0-0:94.44.128.31")  # 8F66 ..._SPECIAL_DAYS

WH, VARH = 30, 32  # COSEM units


class SupplyState(IntEnum):
    """COSEM disconnect control ``control_state`` (class 70, attribute 3)."""

    DISABLED = 0  # disconnected: load switch open
    ENABLED = 1  # connected
    ARMED = 2  # ready for reconnection: the consumer may close it locally


class DisconnectScript(IntEnum):
    """Scripts of the disconnect script table, as the load switch use cases run them."""

    ENABLE = 51  # ECS42 remotely close the load switch
    DISABLE = 52  # ECS43 remotely open the load switch
    ARM = 54  # ECS44 arm the load switch


SCRIPT_OUTCOME = {
    DisconnectScript.ENABLE: SupplyState.ENABLED,
    DisconnectScript.DISABLE: SupplyState.DISABLED,
    DisconnectScript.ARM: SupplyState.ARMED,
}


def value_with_unit(value: int, unit: int, scaler: int = 0) -> list[Data]:
    """A register value followed by its scaler-unit, as GB reads list them."""
    return [
        Data(_D.DOUBLE_LONG_UNSIGNED, value & 0xFFFF_FFFF),
        Data(_D.STRUCTURE, [Data(_D.INTEGER, scaler), Data(_D.ENUM, unit)]),
    ]


# --- protected reads -------------------------------------------------------------------------
def protection_parameters(counter: int, originator: bytes, recipient: bytes) -> Data:
    """The protection parameters of a protected read: authenticated and encrypted, with the
    key agreed between ``originator`` and ``recipient`` (GBCS 7.2.7)."""
    return Data(
        _D.STRUCTURE,
        [
            Data(_D.ENUM, 2),
            Data(
                _D.STRUCTURE,
                [
                    Data(_D.OCTET_STRING, b"\x04" + counter.to_bytes(8, "big")),
                    Data(_D.OCTET_STRING, originator),
                    Data(_D.OCTET_STRING, recipient),
                    Data(_D.OCTET_STRING, b""),
                    Data(
                        _D.STRUCTURE,
                        [
                            Data(_D.ENUM, 2),
                            Data(
                                _D.STRUCTURE,
                                [Data(_D.OCTET_STRING, b"\x02"), Data(_D.OCTET_STRING, b"")],
                            ),
                        ],
                    ),
                ],
            ),
        ],
    )


def protected_read_argument(
    objects: tuple[Attribute, ...], counter: int, originator: bytes, recipient: bytes
) -> Data:
    """The parameter of ``get protected attributes``: the objects, then the protection."""
    listed = [
        Data(
            _D.STRUCTURE,
            [
                Data(_D.LONG_UNSIGNED, o.class_id),
                Data(_D.OCTET_STRING, o.instance),
                Data(_D.INTEGER, o.attribute),
                Data(_D.LONG_UNSIGNED, 0),  # data index: the whole attribute
                Data(_D.STRUCTURE, [Data(_D.ENUM, 0), Data(_D.NULL_DATA)]),  # no restriction
            ],
        )
        for o in objects
    ]
    return Data(
        _D.STRUCTURE,
        [
            Data(_D.ARRAY, listed),
            Data(_D.ARRAY, [protection_parameters(counter, originator, recipient)]),
        ],
    )


def protected_objects(argument: Data) -> tuple[Attribute, ...]:
    """The objects a ``get protected attributes`` parameter lists."""
    listed = argument.value[0].value
    return tuple(
        Attribute(int(o.value[0].value), bytes(o.value[1].value), int(o.value[2].value))
        for o in listed
    )


def protected_values(values: list[Data]) -> bytes:
    """The plaintext of a protected read's answer: one Data per object read, in order."""
    return Data(_D.STRUCTURE, values).encode()


def protected_answer(counter: int, device: bytes, requester: bytes, blob: bytes) -> Data:
    """A protected read's return value: the device's protection parameters, then the
    encrypted values (``31 || IC || ciphertext || tag``)."""
    return Data(
        _D.STRUCTURE,
        [
            Data(_D.ARRAY, [protection_parameters(counter, device, requester)]),
            Data(_D.OCTET_STRING, blob),
        ],
    )


def protected_blob(answer: Data) -> bytes:
    """The encrypted values of a protected read's return value."""
    return bytes(answer.value[1].value)


def unit_charge(charge: int, price_scale: int) -> Data:
    """A COSEM charge's unit charge (class 113): ``charge x 10^price_scale`` currency units,
    no commodity, one charge-table entry (as GBCS's ECS07 writes a debt recovery rate)."""
    return Data(
        _D.STRUCTURE,
        [
            Data(_D.STRUCTURE, [Data(_D.INTEGER, 0), Data(_D.INTEGER, price_scale)]),
            Data(
                _D.STRUCTURE,
                [Data(_D.LONG_UNSIGNED, 0), Data(_D.OCTET_STRING, bytes(6)), Data(_D.INTEGER, 0)],
            ),
            Data(
                _D.ARRAY,
                [Data(_D.STRUCTURE, [Data(_D.OCTET_STRING, b""), Data(_D.LONG, charge)])],
            ),
        ],
    )


def charge_of(value: Data) -> tuple[int, int]:
    """(charge, price scale) of a unit charge's first charge-table entry; ValueError if it
    is not one."""
    try:
        scaling, _commodity, table = value.value
        return int(table.value[0].value[1].value), int(scaling.value[1].value)
    except (AttributeError, IndexError, TypeError, ValueError):
        raise ValueError("not a unit charge") from None


# --- the ESME's prepayment reads and logs (ECS19, ECS20d, ECS21b) -----------------------------
# the prepayment registers (class 1 data): meter balance, emergency credit balance,
# accumulated debt, payment debt, time debt 1 and 2, in the ESME's currency unit
PREPAYMENT_REGISTERS = Attribute(1, obis("0-0:94.44.34.30"), 2)
PREPAYMENT_PROTECTION = Method(30, obis("0-0:43.2.1"), 1)  # ECS19's data-protection object
# the billing data log of prepayment credits (class 7 profile): (UTC time, credit) a top-up
PREPAYMENT_CREDITS_LOG = Attribute(7, obis("0-0:98.1.5"), 2)
UTC_SECONDS = Attribute(1, obis("0-0:94.44.100"), 2)  # the column a range selects by
# the prepayment daily read log (class 7 profile), read protected through its own object
PREPAYMENT_DAILY_LOG = Attribute(7, obis("0-0:98.1.8"), 2)
DAILY_LOG_PROTECTION = Method(30, obis("0-0:43.2.6"), 1)
GBCS_EPOCH_UNIX = 946_684_800  # 2000-01-01T00:00:00Z: GBCS counts UTC seconds from it
BY_RANGE = 1  # the access selector of a range in a profile's buffer


def is_protection_method(address: Method) -> bool:
    """Whether ``address`` is a data-protection object's ``get protected attributes`` (class
    30, method 1): 0-0:43.2.8 for the import registers, 0-0:43.2.1 and 0-0:43.2.6 for the
    prepayment registers and daily read log."""
    return address.class_id == DATA_PROTECTION.class_id and address.method == 1


def range_parameters(restricting: Attribute, start: Data, end: Data) -> Data:
    """A range selection (selector 1) of a profile's buffer: the restricting column, from,
    to (both included), and every column (an empty array)."""
    return Data(
        _D.STRUCTURE,
        [
            Data(
                _D.STRUCTURE,
                [
                    Data(_D.LONG_UNSIGNED, restricting.class_id),
                    Data(_D.OCTET_STRING, restricting.instance),
                    Data(_D.INTEGER, restricting.attribute),
                    Data(_D.LONG_UNSIGNED, 0),
                ],
            ),
            start,
            end,
            Data(_D.ARRAY, []),
        ],
    )


def range_of(parameters: Data) -> tuple[Data, Data]:
    """(from, to) of a range selection; ValueError if it is not one."""
    try:
        _restricting, start, end, _columns = parameters.value
    except (TypeError, ValueError):
        raise ValueError("not a range selection") from None
    return start, end


def protected_range_argument(
    target: Attribute, start: bytes, end: bytes, counter: int, originator: bytes, recipient: bytes
) -> Data:
    """The parameter of ``get protected attributes`` reading a profile's entries from
    ``start`` to ``end`` (DLMS date-times; restriction 1, by date): ECS21b's daily log."""
    restriction = Data(
        _D.STRUCTURE,
        [
            Data(_D.ENUM, RESTRICTED_BY_DATE),
            Data(_D.STRUCTURE, [Data(_D.OCTET_STRING, start), Data(_D.OCTET_STRING, end)]),
        ],
    )
    listed = Data(
        _D.STRUCTURE,
        [
            Data(_D.LONG_UNSIGNED, target.class_id),
            Data(_D.OCTET_STRING, target.instance),
            Data(_D.INTEGER, target.attribute),
            Data(_D.LONG_UNSIGNED, 0),
            restriction,
        ],
    )
    return Data(
        _D.STRUCTURE,
        [
            Data(_D.ARRAY, [listed]),
            Data(_D.ARRAY, [protection_parameters(counter, originator, recipient)]),
        ],
    )


RESTRICTED_BY_DATE = 1  # a protected read's restriction: entries between two date-times


def protected_restrictions(argument: Data) -> tuple[tuple[int, Data], ...]:
    """(restriction kind, its value) of each object a ``get protected attributes``
    parameter lists: (0, null-data) for the whole attribute."""
    listed = argument.value[0].value
    return tuple((int(o.value[4].value[0].value), o.value[4].value[1]) for o in listed)


# --- the clock (class 8, 0-0:1.0.0.255): ECS70 Set Clock (8.1.1 Commission Device) ---------
CLOCK_CLASS = 8
CLOCK = obis("0-0:1.0.0")
CLOCK_TIME = Attribute(CLOCK_CLASS, CLOCK, 2)  # time: a COSEM date-time
CLOCK_STATUS = Attribute(CLOCK_CLASS, CLOCK, 4)  # status: unsigned, bits (0: the time is good)
CLOCK_BASE = Attribute(CLOCK_CLASS, CLOCK, 9)  # clock_base: enum
ADJUST_TO_PRESET_TIME = Method(CLOCK_CLASS, CLOCK, 4)  # integer 0
PRESET_ADJUSTING_TIME = Method(CLOCK_CLASS, CLOCK, 5)  # (preset_time, validity start, end)
RADIO_CONTROLLED = 5  # clock_base: what ECS70 sets (RTDS 8.1.1_ECS70Commission)
# the clock status bits (Blue Book class 8): its value is invalid, doubtful
CLOCK_INVALID, CLOCK_DOUBTFUL = 0x01, 0x02
# a COSEM date-time none of whose fields is specified (ECS70's preset_time: the device keeps
# its own time, which must lie in the validity interval)
UNSPECIFIED_DATE_TIME = bytes.fromhex("ffffffffffffffffff8000ff")
