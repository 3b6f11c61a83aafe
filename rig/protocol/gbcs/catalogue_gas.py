"""The GSME's prepayment use cases (GBZ, Prepayment cluster 0x0705), declared as
:mod:`rig.protocol.gbcs.catalogue` declares the others, which gathers them into CATALOGUE.
(It must not import the catalogue.)

Laid out byte for byte as DCC's RTDS 4.5.0 has them (the folders 2.2_CS01b, 4.18_GCS60,
2.5_GCS06, 2.3_GCS04, 2.1_GCS05, 4.3_GCS14, 4.13_GCS21b, NA_PCS01 and NA_PCS02); names
and critical or not as DCC's mapping table says.

====== ===== ============================================ ============ =================
SRV    code  use case                                     command      response
====== ===== ============================================ ============ =================
2.2    0097  CS01b apply a prepayment top-up (UTRN)       ACB MAC      MAC, dated
4.18   008D  GCS60 read the meter balance                 ACB MAC      MAC
2.5    0070  GCS06 activate emergency credit              signed + MAC signed
2.3    006E  GCS04 update debt (three Change Debts)       signed + MAC signed
2.1    006F  GCS05 update prepayment configuration        signed + MAC signed
4.3    0075  GCS14 read prepayment registers (and GPF)    ACB MAC      MAC, dated, enc.
4.13   00B5  GCS21b read prepayment configuration         ACB MAC      MAC
--     009B  PCS01 top-up keyed in at the PPMID           PPMID MAC    MAC (to the PPMID)
--     0090  PCS02 emergency credit from the PPMID        PPMID MAC    MAC (to the PPMID)
====== ===== ============================================ ============ =================

The top-ups carry the originating device (the ESI for the DCC's CS01b, an IHD for the
PPMID's PCS01) and the UTRN's 20 ASCII digits as a ZCL octet string; the meter answers
with a Consumer Top Up Response. GCS60 reads the Metering cluster's BillToDateDelivered
(0x0A00, which RTDS writes as the bytes ``00 0A``: attribute ids are little-endian) and
the Prepayment cluster's CreditRemaining (0x0001), both in the meter's currency unit
(millipence, as RTDS's values show: CS01b's £12.50 UTRN answers a top-up value of
1250000). Emergency credit is ZCL's Select Available Emergency Credit (an issue
date-time of 0, as RTDS has it, and the originating device), answered by a Default
Response. Update Debt is three Change Debt commands (:class:`gbz.ChangeDebt`), one per
debt register (time debt 1 and 2 recovered at a rate per hour or day, payment debt a
share of each top-up), each answered by a Default Response. GCS14 reads the Price
cluster's Currency (826, GBP) and Price Trailing Digit (0x50: five digits after the
point, so amounts are in 10^-5 pounds, millipence) in clear, then the Prepayment
cluster's accumulated debt, emergency credit and credit remaining and the three debt
registers (type 3, 1, 2), encrypted for the requester. GCS21b reads the prepayment
configuration (thresholds, limits, each debt's recovery) and the trailing digit, then asks
the Calendar cluster for the non-disablement calendar (Get Calendar, Day Profiles, Week
Profiles, Special Days, with RTDS's fixed arguments). GCS05 (2.1) writes the prepayment
configuration: Emergency Credit Setup, Set Overall Debt Cap, Set Low Credit Warning Level
(its component dated 0: at once) and Set Maximum Credit Limit, then publishes the
non-disablement (friendly credit) calendar as a Calendar server would: Publish Calendar,
one Publish Day Profile per day, one Publish Week Profile per week, Publish Seasons and
Publish Special Days; each is answered by a Default Response.
"""

from __future__ import annotations

from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.usecase import (
    Form,
    Protection,
    UseCase,
    ZclBatch,
    ZclCommand,
    ZclCommands,
    ZclPart,
    ZclRead,
    ZclReads,
    ZclSequence,
)
from rig.protocol.zigbee.se import OriginatingDevice

GSME, PPMID = "GSME", "PPMID"
UTRN_DIGITS = 20
READ_ANSWER = gbz.ZCL_SERVER_TO_CLIENT  # GCS60's Read Attributes Responses (0x08)

BILL_TO_DATE = gbz.ZclAttribute(0x0A00, "bill_to_date_delivered", 0x23, 4)  # uint32
CREDIT_REMAINING = gbz.ZclAttribute(0x0001, "credit_remaining", 0x2B, 4)  # int32
PRICE = 0x0700
PRICE_TRAILING_DIGIT = gbz.ZclAttribute(0x0617, "price_trailing_digit", 0x18, 1)  # bitmap8
CURRENCY = gbz.ZclAttribute(0x0616, "currency", 0x21, 2)  # uint16, ISO 4217
EMERGENCY_CREDIT_REMAINING = gbz.ZclAttribute(0x0002, "emergency_credit_remaining", 0x2B, 4)
ACCUMULATED_DEBT = gbz.ZclAttribute(0x0005, "accumulated_debt", 0x2B, 4)  # int32
CALENDAR = 0x0707
# Prepayment commands (client to server) GCS05 sends
EMERGENCY_CREDIT_SETUP, SET_LOW_CREDIT_WARNING_LEVEL = 0x03, 0x09
SET_MAXIMUM_CREDIT_LIMIT, SET_OVERALL_DEBT_CAP = 0x0B, 0x0C
# the Calendar cluster's Publish commands (server to client); calendar type: friendly credit
PUBLISH_CALENDAR, PUBLISH_DAY_PROFILE, PUBLISH_WEEK_PROFILE = 0x00, 0x01, 0x02
PUBLISH_SEASONS, PUBLISH_SPECIAL_DAYS = 0x03, 0x04
FRIENDLY_CREDIT_CALENDAR = 0x03
# the Calendar cluster's client commands (ZigBee SE 1.4): Get Day Profiles, Week Profiles,
# Seasons, Special Days
GET_DAY_PROFILES, GET_WEEK_PROFILES, GET_SEASONS, GET_SPECIAL_DAYS = 0x01, 0x02, 0x03, 0x04
# the Get commands' arguments as RTDS has them: from time 0, issuer ids up to 0xFFFFFFFE
CALENDAR_GETS = (
    (GET_DAY_PROFILES, bytes.fromhex("00000000feffffff0100")),
    (GET_WEEK_PROFILES, bytes.fromhex("00000000feffffff0100")),
    (GET_SEASONS, bytes.fromhex("00000000feffffff")),
    (GET_SPECIAL_DAYS, bytes.fromhex("00000000000300000000feffffff")),
)
# the prepayment configuration GCS21b reads, in RTDS's order (amounts in millipence)
TOP_UP_PERCENTAGE_3 = gbz.ZclAttribute(0x0239, "debt_recovery_top_up_percentage_3", 0x21, 2)
OVERALL_DEBT_CAP = gbz.ZclAttribute(0x0006, "overall_debt_cap", 0x2B, 4)
RECOVERY_FREQUENCY_1 = gbz.ZclAttribute(0x0216, "debt_recovery_frequency_1", 0x30, 1)
RECOVERY_FREQUENCY_2 = gbz.ZclAttribute(0x0226, "debt_recovery_frequency_2", 0x30, 1)
CUT_OFF_VALUE = gbz.ZclAttribute(0x0040, "cut_off_value", 0x2B, 4)
EMERGENCY_CREDIT_LIMIT = gbz.ZclAttribute(0x0010, "emergency_credit_limit", 0x23, 4)
EMERGENCY_CREDIT_THRESHOLD = gbz.ZclAttribute(0x0011, "emergency_credit_threshold", 0x23, 4)
LOW_CREDIT_WARNING = gbz.ZclAttribute(0x0031, "low_credit_warning_level", 0x23, 4)
MAX_CREDIT_LIMIT = gbz.ZclAttribute(0x0021, "max_credit_limit", 0x23, 4)
MAX_CREDIT_PER_TOP_UP = gbz.ZclAttribute(0x0022, "max_credit_per_top_up", 0x23, 4)
RECOVERY_AMOUNT_1 = gbz.ZclAttribute(0x0217, "debt_recovery_amount_1", 0x23, 4)
RECOVERY_AMOUNT_2 = gbz.ZclAttribute(0x0227, "debt_recovery_amount_2", 0x23, 4)
PREPAY_CONFIGURATION = (
    TOP_UP_PERCENTAGE_3,
    OVERALL_DEBT_CAP,
    RECOVERY_FREQUENCY_1,
    RECOVERY_FREQUENCY_2,
    CUT_OFF_VALUE,
    EMERGENCY_CREDIT_LIMIT,
    EMERGENCY_CREDIT_THRESHOLD,
    LOW_CREDIT_WARNING,
    MAX_CREDIT_LIMIT,
    MAX_CREDIT_PER_TOP_UP,
    RECOVERY_AMOUNT_1,
    RECOVERY_AMOUNT_2,
)
DEBT_AMOUNTS = tuple(  # Debt Amount #1, #2, #3 (uint32): time debt 1, 2, payment debt
    gbz.ZclAttribute(0x0201 + 0x10 * n, f"debt_amount_{n}", 0x23, 4) for n in (1, 2, 3)
)


def _top_up(origin: OriginatingDevice) -> ZclCommand:
    return ZclCommand(
        gbz.PREPAYMENT, gbz.CONSUMER_TOP_UP, prefix=bytes([origin]), given=UTRN_DIGITS
    )


def _emergency_credit(origin: OriginatingDevice) -> ZclCommand:
    return ZclCommand(
        gbz.PREPAYMENT,
        gbz.SELECT_AVAILABLE_EMERGENCY_CREDIT,
        gbz.select_emergency_credit(origin),
    )


CS01B = UseCase(
    "CS01b",
    0x0097,
    GSME,
    Form.GBZ,
    _top_up(OriginatingDevice.ENERGY_SERVICE_INTERFACE),
    srvs=("2.2",),
    dated=True,
)
GCS60 = UseCase(
    "GCS60",
    0x008D,
    GSME,
    Form.GBZ,
    ZclReads(
        (
            ZclRead(gbz.METERING, (BILL_TO_DATE,), READ_ANSWER),
            ZclRead(gbz.PREPAYMENT, (CREDIT_REMAINING,), READ_ANSWER),
        )
    ),
    srvs=("4.18",),
)
GCS06 = UseCase(
    "GCS06",
    0x0070,
    GSME,
    Form.GBZ,
    _emergency_credit(OriginatingDevice.ENERGY_SERVICE_INTERFACE),
    srvs=("2.5",),
    critical=True,
    response=Protection.SIGNATURE,
)
PCS01 = UseCase(
    "PCS01",
    0x009B,
    GSME,
    Form.GBZ,
    _top_up(OriginatingDevice.IN_HOME_DISPLAY_DEVICE),
    sent_by=PPMID,
)
PCS02 = UseCase(
    "PCS02",
    0x0090,
    GSME,
    Form.GBZ,
    _emergency_credit(OriginatingDevice.IN_HOME_DISPLAY_DEVICE),
    sent_by=PPMID,
)

GCS04 = UseCase(
    "GCS04",
    0x006E,
    GSME,
    Form.GBZ,
    ZclCommands(gbz.PREPAYMENT, gbz.CHANGE_DEBT, 3),  # time debt 1, time debt 2, payment debt
    srvs=("2.3",),
    critical=True,
    response=Protection.SIGNATURE,
)
GCS14 = UseCase(
    "GCS14",
    0x0075,
    GSME,
    Form.GBZ,
    ZclReads(
        (
            ZclRead(PRICE, (PRICE_TRAILING_DIGIT, CURRENCY), READ_ANSWER),
            ZclRead(
                gbz.PREPAYMENT,
                (
                    ACCUMULATED_DEBT,
                    EMERGENCY_CREDIT_REMAINING,
                    CREDIT_REMAINING,
                    DEBT_AMOUNTS[2],
                    DEBT_AMOUNTS[0],
                    DEBT_AMOUNTS[1],
                ),
                READ_ANSWER,
            ),
        )
    ),
    srvs=("4.3",),
    encrypted=True,  # the prepayment registers (the last component)
    dated=True,
    also_for=("GPF",),  # answered from the GPF's mirror of the GSME
)
GCS21B = UseCase(
    "GCS21b",
    0x00B5,
    GSME,
    Form.GBZ,
    ZclSequence(
        (
            ZclRead(gbz.PREPAYMENT, PREPAY_CONFIGURATION, READ_ANSWER),
            ZclRead(PRICE, (PRICE_TRAILING_DIGIT,), READ_ANSWER),
            *(ZclCommand(CALENDAR, command, payload) for command, payload in CALENDAR_GETS),
        )
    ),
    srvs=("4.13",),
)


def _publish(command: int, *, repeated: bool = False) -> ZclPart:
    server_command = gbz.ZCL_SERVER_TO_CLIENT | gbz.ZCL_CLUSTER_SPECIFIC
    return ZclPart(CALENDAR, command, server_command, repeated=repeated)


GCS05 = UseCase(
    "GCS05",
    0x006F,
    GSME,
    Form.GBZ,
    ZclBatch(
        (
            ZclPart(gbz.PREPAYMENT, EMERGENCY_CREDIT_SETUP),
            ZclPart(gbz.PREPAYMENT, SET_OVERALL_DEBT_CAP),
            ZclPart(gbz.PREPAYMENT, SET_LOW_CREDIT_WARNING_LEVEL, from_date_time=True),
            ZclPart(gbz.PREPAYMENT, SET_MAXIMUM_CREDIT_LIMIT),
            _publish(PUBLISH_CALENDAR),
            _publish(PUBLISH_DAY_PROFILE, repeated=True),
            _publish(PUBLISH_WEEK_PROFILE, repeated=True),
            _publish(PUBLISH_SEASONS),
            _publish(PUBLISH_SPECIAL_DAYS),
        )
    ),
    srvs=("2.1",),
    critical=True,
    response=Protection.SIGNATURE,
    dated=True,
)

GAS_PREPAYMENT: tuple[UseCase, ...] = (
    CS01B,
    GCS60,
    GCS06,
    PCS01,
    PCS02,
    GCS04,
    GCS05,
    GCS14,
    GCS21B,
)
