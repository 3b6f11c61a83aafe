"""GBCS use cases of the ESME's tariffs and prices (1.1.1, 1.1.2, 1.2.1, 1.2.2, 1.5, 1.6, 1.7,
4.11.1, 4.11.2): declared here, gathered by :mod:`rig.protocol.gbcs.catalogue` into CATALOGUE
(this module must not import the catalogue).

====== ===== ============================================ ==========================
SRV    code  use case                                     command
====== ===== ============================================ ==========================
1.1.1  0019  ECS01a set tariff and price                  21 SETs: each element's
                                                          passive value, then when
                                                          each is activated
1.2.1  00A2  ECS01b set price                             4 SETs: the standing charge
                                                          and prices, then when
1.5    001C  ECS04a adjust meter balance                  ACTION update_amount of the
                                                          meter balance (millipence)
4.11.1 003A  ECS24 read tariff data                       17 GETs of the active values
====== ===== ============================================ ==========================

A tariff is six *elements*, each with a passive value ECS01a writes, an active value ECS24
reads, and an activation date-time ECS01a writes last (:data:`ELEMENTS`): the switching
table (the activity calendar's seasons, weeks and day profiles), the special days, the
currency unit, the standing charge, the price matrix and the block threshold matrix. An
activation date-time all zero (``AT_ONCE``) activates the element at once (IMMEDIATE); a
date in the future holds it until then (FUTURE_DATED), when the meter sends the requester
a future-dated execution alert (0x00CC, 8F66) naming the element's activation attribute;
one not specified (``NEVER``, all 0xFF) cancels what is held (CANCELLATION).

A day profile's action is a script of the tariffication script table: selector n (1-48)
switches the energy to TOU rate n, 100 + n to block tariff n (1-8). The price matrix is a
COSEM charge (class 113) whose charge table holds 80 prices: the 48 TOU rates (indices
0x01-0x30), then the four blocks of each of the eight block tariffs (0xA1-0xA8 block 1 of
tariffs 1-8, ... 0xD1-0xD8 block 4); its price is ``charge x 10^price_scale`` currency
units per kWh (commodity scale 3 of the active import register, in Wh).
"""

from __future__ import annotations

from dataclasses import dataclass

from rig.protocol.gbcs import access, cosem
from rig.protocol.gbcs.cosem import Attribute, obis
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.usecase import Action, Form, Protection, UseCase

ESME = "ESME"
_D = DataType
CALENDAR_CLASS, REGISTER_CLASS = 20, 3
ACTIVITY_CALENDAR = obis("0-0:13.0.0")
# class 20: the active season, week and day profiles; the passive ones; their activation
SEASONS, WEEKS, DAYS = 3, 4, 5
PASSIVE_SEASONS, PASSIVE_WEEKS, PASSIVE_DAYS, ACTIVATE_PASSIVE_CALENDAR = 7, 8, 9, 10
SPECIAL_DAYS, SPECIAL_DAYS_TO_COME = obis("0-0:11.0.0"), obis("0-1:11.0.0")
SPECIAL_DAYS_ACTIVATION = obis("0-0:94.44.128.29")
CURRENCY = obis("0-0:94.44.2.0")  # class 9000: boolean, true: sterling (DUIS GBP)
STANDING_CHARGE, PRICE_MATRIX = obis("0-0:19.20.4"), obis("0-0:19.20.0")  # class 113
UNIT_CHARGE_ACTIVATION = 7  # class 113: unit_charge_activation_time
THRESHOLDS_ACTIVATION = obis("0-0:63.1.1")  # class 9000: the block thresholds' activation
BLOCK_TARIFFS, BLOCKS, TOU_RATES = 8, 4, 48
# the register monitors (class 21) of each block tariff's thresholds: active, to come
THRESHOLDS = tuple(obis(f"0-0:16.0.{10 + n}") for n in range(1, BLOCK_TARIFFS + 1))
THRESHOLDS_TO_COME = tuple(obis(f"0-0:16.1.{10 + n}") for n in range(1, BLOCK_TARIFFS + 1))
# ECS24's first read: a register (class 3) whose value the rig serves as the currency unit
# (1: sterling) and whose scaler-unit carries the price matrix's price scale (unit 254)
TARIFF_REGISTER = obis("0-0:94.44.1.7")
CURRENCY_UNIT = 254
# the tariffication script table the day profiles' actions name, and what a selector is
TARIFF_SCRIPTS = obis("0-0:10.0.100")
BLOCK_ACTION = 100  # 100 + n: block tariff n
# the price matrix's commodity: the active import register (class 3, 1-0:1.8.0, value),
# its prices per 10^3 of its unit (Wh): per kWh
COMMODITY = (REGISTER_CLASS, obis("1-0:1.8.0"), 2)
COMMODITY_SCALE = 3
# activation date-times: at once (IMMEDIATE), and never (CANCELLATION: nothing held)
AT_ONCE = bytes.fromhex("0000000000000000008000ff")
NEVER = cosem.UNSPECIFIED_DATE_TIME


def price_index(rate: int) -> int:
    """The charge table index of TOU rate ``rate`` (1-48)."""
    return rate


def block_price_index(tariff: int, block: int) -> int:
    """The charge table index of block ``block`` (1-4) of block tariff ``tariff`` (1-8)."""
    return (0xA0 + 0x10 * (block - 1)) + tariff


PRICE_INDICES = (
    *(price_index(r) for r in range(1, TOU_RATES + 1)),
    *(block_price_index(t, b) for b in range(1, BLOCKS + 1) for t in range(1, BLOCK_TARIFFS + 1)),
)


def price_matrix(
    charges: dict[int, int],
    scale: int,
    commodity: tuple[int, bytes, int] = COMMODITY,
    indices: tuple[int, ...] = PRICE_INDICES,
) -> Data:
    """A price matrix (class 113 unit charge): ``charges`` by charge table index (the
    others of ``indices`` 0), per kWh of ``commodity``, at ``scale``."""
    class_id, instance, attribute = commodity
    table = [
        Data(_D.STRUCTURE, [Data(_D.OCTET_STRING, bytes([i])), Data(_D.LONG, charges.get(i, 0))])
        for i in indices
    ]
    return Data(
        _D.STRUCTURE,
        [
            Data(_D.STRUCTURE, [Data(_D.INTEGER, COMMODITY_SCALE), Data(_D.INTEGER, scale)]),
            Data(
                _D.STRUCTURE,
                [
                    Data(_D.LONG_UNSIGNED, class_id),
                    Data(_D.OCTET_STRING, instance),
                    Data(_D.INTEGER, attribute),
                ],
            ),
            Data(_D.ARRAY, table),
        ],
    )


@dataclass(frozen=True, slots=True)
class Element:
    """One element of a tariff: what ECS01a writes (``passive``, given as ``names``), what
    ECS24 reads (``active``, in the same order), and the attribute whose date-time
    activates it (named ``<name>_at``; the 8F66 alert names it)."""

    name: str
    passive: tuple[Attribute, ...]
    active: tuple[Attribute, ...]
    activation: Attribute
    kinds: tuple[DataType, ...]

    @property
    def names(self) -> tuple[str, ...]:
        if len(self.passive) == 1:
            return (self.name,)
        return tuple(f"{self.name}_{n}" for n in range(1, len(self.passive) + 1))


def _calendar(attribute: int) -> Attribute:
    return Attribute(CALENDAR_CLASS, ACTIVITY_CALENDAR, attribute)


def _future(instance: bytes, attribute: int) -> Attribute:
    return Attribute(cosem.FUTURE_DATED, instance, attribute)


def _charge(instance: bytes, attribute: int) -> Attribute:
    return Attribute(cosem.CHARGE, instance, attribute)


def _monitor(instance: bytes) -> Attribute:
    return Attribute(cosem.REGISTER_MONITOR, instance, 2)  # thresholds


SWITCHING_TABLE = Element(
    "switching_table",
    tuple(_calendar(a) for a in (PASSIVE_SEASONS, PASSIVE_WEEKS, PASSIVE_DAYS)),
    tuple(_calendar(a) for a in (SEASONS, WEEKS, DAYS)),
    _calendar(ACTIVATE_PASSIVE_CALENDAR),
    (_D.ARRAY,) * 3,
)
SPECIAL_DAYS_ELEMENT = Element(
    "special_days",
    (Attribute(cosem.SPECIAL_DAYS, SPECIAL_DAYS_TO_COME, cosem.ENTRIES),),
    (Attribute(cosem.SPECIAL_DAYS, SPECIAL_DAYS, cosem.ENTRIES),),
    _future(SPECIAL_DAYS_ACTIVATION, cosem.ACTIVATION),
    (_D.ARRAY,),
)
THRESHOLD_MATRIX = Element(
    "thresholds",
    tuple(_monitor(i) for i in THRESHOLDS_TO_COME),
    tuple(_monitor(i) for i in THRESHOLDS),
    _future(THRESHOLDS_ACTIVATION, cosem.ACTIVATION),
    (_D.ARRAY,) * BLOCK_TARIFFS,
)
CURRENCY_ELEMENT = Element(
    "currency",
    (_future(CURRENCY, cosem.VALUE_TO_COME),),
    (_future(CURRENCY, cosem.VALUE),),
    _future(CURRENCY, cosem.ACTIVATION),
    (_D.BOOLEAN,),
)
STANDING_CHARGE_ELEMENT = Element(
    "standing_charge",
    (_charge(STANDING_CHARGE, cosem.UNIT_CHARGE_PASSIVE),),
    (_charge(STANDING_CHARGE, cosem.UNIT_CHARGE_ACTIVE),),
    _charge(STANDING_CHARGE, UNIT_CHARGE_ACTIVATION),
    (_D.STRUCTURE,),
)
PRICE_MATRIX_ELEMENT = Element(
    "prices",
    (_charge(PRICE_MATRIX, cosem.UNIT_CHARGE_PASSIVE),),
    (_charge(PRICE_MATRIX, cosem.UNIT_CHARGE_ACTIVE),),
    _charge(PRICE_MATRIX, UNIT_CHARGE_ACTIVATION),
    (_D.STRUCTURE,),
)
# in the order ECS01a writes their passive values
ELEMENTS = (
    SWITCHING_TABLE,
    SPECIAL_DAYS_ELEMENT,
    THRESHOLD_MATRIX,
    CURRENCY_ELEMENT,
    STANDING_CHARGE_ELEMENT,
    PRICE_MATRIX_ELEMENT,
)
# the order ECS01a then activates them (RTDS 1.1.1), and RTDS's names of their 8F66 alerts
ACTIVATED = (
    (SWITCHING_TABLE, "SWITCHING_TABLE"),
    (SPECIAL_DAYS_ELEMENT, "SPECIAL_DAYS"),
    (CURRENCY_ELEMENT, "CURRENCY_UNIT"),
    (STANDING_CHARGE_ELEMENT, "STANDING_CHARGE"),
    (PRICE_MATRIX_ELEMENT, "PRICE_MATRIX"),
    (THRESHOLD_MATRIX, "THRESHOLD_MATRIX"),
)


def _set(
    elements: tuple[Element, ...], activated: tuple[tuple[Element, str], ...] = ACTIVATED
) -> access.Access:
    """Each element's passive values, then each one's activation (in RTDS's order)."""
    writes = [
        access.Write(target, name, kind)
        for e in elements
        for target, name, kind in zip(e.passive, e.names, e.kinds, strict=True)
    ]
    dated = _D.OCTET_STRING
    activations = [
        access.Write(e.activation, f"{e.name}_at", dated) for e, _ in activated if e in elements
    ]
    return access.Access((*writes, *activations))


def _read_tariff() -> access.Access:
    register = (Attribute(REGISTER_CLASS, TARIFF_REGISTER, 2), Attribute(3, TARIFF_REGISTER, 3))
    active = (a for e in ELEMENTS for a in e.active)
    return access.Access(tuple(access.Read(a) for a in (*register, *active)))


ECS01A = UseCase(
    "ECS01a",
    0x0019,
    ESME,
    Form.DLMS,
    _set(ELEMENTS),
    srvs=("1.1.1",),
    critical=True,
    response=Protection.SIGNATURE,
    dated=True,
)
# 1.2.1 Update Price: the standing charge and the price matrix alone
PRICES = (STANDING_CHARGE_ELEMENT, PRICE_MATRIX_ELEMENT)
ECS01B = UseCase(
    "ECS01b",
    0x00A2,
    ESME,
    Form.DLMS,
    _set(PRICES),
    srvs=("1.2.1",),
    critical=True,
    response=Protection.SIGNATURE,
    dated=True,
)
ECS24 = UseCase("ECS24", 0x003A, ESME, Form.DLMS, _read_tariff(), srvs=("4.11.1",))
# 1.5 Update Meter Balance (prepayment mode): ECS04a adjusts the meter balance (the credit
# object's update_amount) by a given amount of the ESME's currency unit (millipence)
METER_BALANCE_UPDATE = cosem.Method(cosem.PREPAY_CREDIT, obis("0-0:19.10.0"), 1)
ECS04A = UseCase(
    "ECS04a",
    0x001C,
    ESME,
    Form.DLMS,
    Action(METER_BALANCE_UPDATE, given=_D.DOUBLE_LONG),
    srvs=("1.5",),
    critical=True,
    response=Protection.SIGNATURE,
)
# the future-dated execution alert of a DLMS command (0x00CC): 8F66 when it was carried out.
# Not in CATALOGUE (DCC's mapping table has no row for it, as for CS06's 0x00CA): the meter
# raises it with this declaration; the DCC passes it to the requester as any device alert
FUTURE_DATED_SUCCESS, FUTURE_DATED_FAILURE = 0x8F66, 0x8F67
DLMS_FDA = UseCase(
    "DLMS-FDA",
    0x00CC,
    ESME,
    Form.DLMS,
    alert_codes=(FUTURE_DATED_SUCCESS, FUTURE_DATED_FAILURE),
    response=Protection.SIGNATURE,
)


# --- the secondary element (a twin element ESME's): its own switching table (actions 200 + n:
# its TOU rate n, 1-4), special days and price matrix, on the commodity of 1-20:1.8.0
SECONDARY_CALENDAR = obis("0-0:13.0.1")
SECONDARY_TARIFF_REGISTER = obis("0-0:94.44.1.8")
SECONDARY_PRICES = obis("0-0:19.20.5")
SECONDARY_COMMODITY = (REGISTER_CLASS, obis("1-20:1.8.0"), 2)
SECONDARY_ACTION, SECONDARY_RATES = 200, 4


def _secondary_calendar(attribute: int) -> Attribute:
    return Attribute(CALENDAR_CLASS, SECONDARY_CALENDAR, attribute)


SECONDARY_SWITCHING_TABLE = Element(
    "switching_table",
    tuple(_secondary_calendar(a) for a in (PASSIVE_SEASONS, PASSIVE_WEEKS, PASSIVE_DAYS)),
    tuple(_secondary_calendar(a) for a in (SEASONS, WEEKS, DAYS)),
    _secondary_calendar(ACTIVATE_PASSIVE_CALENDAR),
    (_D.ARRAY,) * 3,
)
SECONDARY_SPECIAL_DAYS = Element(
    "special_days",
    (Attribute(cosem.SPECIAL_DAYS, obis("0-1:11.0.1"), cosem.ENTRIES),),
    (Attribute(cosem.SPECIAL_DAYS, obis("0-0:11.0.1"), cosem.ENTRIES),),
    _future(obis("0-0:94.44.128.30"), cosem.ACTIVATION),
    (_D.ARRAY,),
)
SECONDARY_PRICE_MATRIX = Element(
    "prices",
    (_charge(SECONDARY_PRICES, cosem.UNIT_CHARGE_PASSIVE),),
    (_charge(SECONDARY_PRICES, cosem.UNIT_CHARGE_ACTIVE),),
    _charge(SECONDARY_PRICES, UNIT_CHARGE_ACTIVATION),
    (_D.STRUCTURE,),
)
# ECS01c writes the prices first; both activate in RTDS 1.1.2's order (its 8F66 alerts')
SECONDARY_ELEMENTS = (SECONDARY_PRICE_MATRIX, SECONDARY_SWITCHING_TABLE, SECONDARY_SPECIAL_DAYS)
SECONDARY_ACTIVATED = (
    (SECONDARY_SWITCHING_TABLE, "SWITCHING_TABLE"),
    (SECONDARY_PRICE_MATRIX, "PRICE_MATRIX"),
    (SECONDARY_SPECIAL_DAYS, "SPECIAL_DAYS"),
)
_SECONDARY_READ = (
    SECONDARY_PRICE_MATRIX.active[0],
    Attribute(REGISTER_CLASS, SECONDARY_TARIFF_REGISTER, 2),
    Attribute(REGISTER_CLASS, SECONDARY_TARIFF_REGISTER, 3),
    *SECONDARY_SPECIAL_DAYS.active,
    *SECONDARY_SWITCHING_TABLE.active,
)


def _secondary(name: str, code: int, srv: str, elements: tuple[Element, ...]) -> UseCase:
    request = _set(elements, SECONDARY_ACTIVATED)
    return UseCase(
        name,
        code,
        ESME,
        Form.DLMS,
        request,
        srvs=(srv,),
        critical=True,
        response=Protection.SIGNATURE,
        dated=True,
    )


ECS01C = _secondary("ECS01c", 0x00B7, "1.1.2", SECONDARY_ELEMENTS)
ECS01D = _secondary("ECS01d", 0x00C7, "1.2.2", (SECONDARY_PRICE_MATRIX,))
ECS24B = UseCase(
    "ECS24b",
    0x00BD,
    ESME,
    Form.DLMS,
    access.Access(tuple(access.Read(a) for a in _SECONDARY_READ)),
    srvs=("4.11.2",),
)

# --- 1.6 Update Payment Mode: the account to come (0-1:19.0.0, class 111) its mode, its
# credit charge configuration, then its activation time; ECS03 also the disablement
# threshold to come (millipence) and its activation. Its account becomes the account in force
# (0-0:19.0.0: 6.2.9 reads its mode) at that time
ACCOUNT_TO_COME = obis("0-1:19.0.0")
MODE_AND_STATUS, CREDIT_CHARGE_CONFIGURATION, ACCOUNT_ACTIVATION = 2, 11, 13
DISABLEMENT_TO_COME = obis("0-0:94.44.128.22")


def _account(instance: bytes, attribute: int) -> Attribute:
    return Attribute(cosem.ACCOUNT, instance, attribute)


PAYMENT_MODE = Element(
    "payment_mode",
    tuple(_account(ACCOUNT_TO_COME, a) for a in (MODE_AND_STATUS, CREDIT_CHARGE_CONFIGURATION)),
    tuple(
        _account(cosem.ACCOUNT_OBJECT, a) for a in (MODE_AND_STATUS, CREDIT_CHARGE_CONFIGURATION)
    ),
    _account(ACCOUNT_TO_COME, ACCOUNT_ACTIVATION),
    (_D.STRUCTURE, _D.ARRAY),
)
DISABLEMENT_THRESHOLD = Element(
    "disablement_threshold",
    (_future(DISABLEMENT_TO_COME, cosem.VALUE_TO_COME),),
    (cosem.DISABLEMENT_MONITOR,),
    _future(DISABLEMENT_TO_COME, cosem.ACTIVATION),
    (_D.DOUBLE_LONG,),
)
# the order ECS03 activates them (RTDS 1.6's 8F66 alerts')
PAYMENT_ACTIVATED = (
    (DISABLEMENT_THRESHOLD, "DISABLEMENT_THRESHOLD"),
    (PAYMENT_MODE, "PAYMENT_MODE"),
)
CREDIT_MODE, PREPAYMENT_MODE, ACCOUNT_ACTIVE = 1, 2, 1  # account_mode_and_status as 1.6 sets it


def _mode(name: str, code: int, srvs: tuple[str, ...], elements: tuple[Element, ...]) -> UseCase:
    # ECS03 interleaves: the mode, the threshold, the configuration, then both activations
    writes = [
        access.Write(PAYMENT_MODE.passive[0], "payment_mode_1", _D.STRUCTURE),
        *(
            access.Write(t, "disablement_threshold", _D.DOUBLE_LONG)
            for t in (DISABLEMENT_THRESHOLD.passive[0],)
            if DISABLEMENT_THRESHOLD in elements
        ),
        access.Write(PAYMENT_MODE.passive[1], "payment_mode_2", _D.ARRAY),
        *(
            access.Write(e.activation, f"{e.name}_at", _D.OCTET_STRING)
            for e, _ in PAYMENT_ACTIVATED
            if e in elements
        ),
    ]
    return UseCase(
        name,
        code,
        ESME,
        Form.DLMS,
        access.Access(tuple(writes)),
        srvs=srvs,
        critical=True,
        response=Protection.SIGNATURE,
        dated=True,
    )


ECS02 = _mode("ECS02", 0x001A, ("1.6",), (PAYMENT_MODE,))  # to credit; the primary
ECS03 = _mode("ECS03", 0x001B, (), (DISABLEMENT_THRESHOLD, PAYMENT_MODE))  # to prepayment

# --- 1.5 in credit mode: ECS04b sets the meter balance, the emergency credit balance and the
# accumulated debt (class 112 credits 0-0:19.10.0, .1, .2) to zero (set_amount_to_value)
SET_AMOUNT_TO_VALUE = 2
CREDITS = tuple(obis(f"0-0:19.10.{n}") for n in range(3))
ECS04B = UseCase(
    "ECS04b",
    0x00B3,
    ESME,
    Form.DLMS,
    access.Access(
        tuple(
            access.Invoke(
                cosem.Method(cosem.PREPAY_CREDIT, c, SET_AMOUNT_TO_VALUE), Data(_D.DOUBLE_LONG, 0)
            )
            for c in CREDITS
        )
    ),
    critical=True,
    response=Protection.SIGNATURE,
)
# --- 1.7: ECS05 runs script 99 of the tariffication script table: the block counters reset
RESET_BLOCK_COUNTERS = 99
RUN_TARIFF_SCRIPT = cosem.Method(9, TARIFF_SCRIPTS, 1)  # class 9 script table: execute
ECS05 = UseCase(
    "ECS05",
    0x001D,
    ESME,
    Form.DLMS,
    Action(RUN_TARIFF_SCRIPT, Data(_D.LONG_UNSIGNED, RESET_BLOCK_COUNTERS)),
    srvs=("1.7",),
    critical=True,
    response=Protection.SIGNATURE,
)

USE_CASES: tuple[UseCase, ...] = (
    ECS01A,
    ECS01B,
    ECS04A,
    ECS24,
    ECS01C,
    ECS01D,
    ECS24B,
    ECS02,
    ECS03,
    ECS04B,
    ECS05,
    DLMS_FDA,  # the ESME's future-dated execution alert, for every dated DLMS command
)
