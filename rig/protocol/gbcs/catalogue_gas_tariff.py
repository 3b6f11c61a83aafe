"""GBCS use cases of the GSME's tariffs and prices (1.1.1, 1.2.1, 1.5, 1.6, 4.11.1), byte for
byte as DCC's RTDS 4.5.0 has them: declared here, gathered by :mod:`rig.protocol.gbcs.catalogue`
into CATALOGUE (this module must not import the catalogue).

====== ===== ============================================ ================================
SRV    code  use case                                     the command
====== ===== ============================================ ================================
1.1.1  006B  GCS01a set tariff and price                  the Calendar cluster's Publish
                                                          commands (calendar, day profiles,
                                                          week profiles, seasons, special
                                                          days), then the Price cluster's
                                                          Publish Tariff Information,
                                                          [Block Thresholds,] Price Matrix
1.2.1  00A3  GCS01b set price                             the Price cluster's commands only
1.5    0086  GCS40a adjust the prepayment meter balance   Prepayment Credit Adjustment:
       00B4  GCS40b  ... reset                            credit incremental, absolute 0;
       00C0  GCS40c adjust the credit mode meter balance  debt absolute, incremental 0
       00C2  GCS40d  ... reset                            (RTDS's types)
1.6    006C  GCS02 set payment mode to credit             Change Payment Mode
       006D  GCS03 set payment mode to prepayment
4.11.1 009F  GCS21f read tariff data                      Price attributes, Calendar Gets,
                                                          Get Current Price
====== ===== ============================================ ================================

All but GCS21f are critical (signed by the DCC User; the GSME signs its answer). The
Publish commands are server-to-client commands (frame control 0x09) the GSME answers with
a Default Response each; their start times are 0 (IMMEDIATE), a date (FUTURE_DATED) or
0xFFFFFFFE (0xFFFFFFFF in Publish Tariff Information: CANCELLATION). A GSME's day profile
holds one entry, at midnight, naming the day's price tier (1-4, 0 for a block tariff). The
price matrix holds a TOU tariff's price per tier (sub-payload control 1, tier ids 1-4) or a
block tariff's price per block (control 0, block ids 0-3); amounts are in 10^-5 pounds per
kWh (millipence; the trailing digit 0x50), the standing charge in millipence per day.

GCS21f reads the Price cluster's threshold divisor and multiplier, block thresholds, unit
of measure, block and tier prices, currency, trailing digit and standing charge; asks the
Calendar cluster for the tariff calendar (Get Day Profiles, Week Profiles, Seasons, Special
Days, calendar type 0: delivered) and the Price cluster for the current price (Publish
Price). GCS40x is one Prepayment Credit Adjustment; GCS02/GCS03 one Change Payment Mode,
answered with Change Payment Mode Response.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue_gas import (
    CALENDAR,
    CURRENCY,
    PRICE,
    PRICE_TRAILING_DIGIT,
    PUBLISH_CALENDAR,
    PUBLISH_DAY_PROFILE,
    PUBLISH_SEASONS,
    PUBLISH_SPECIAL_DAYS,
    PUBLISH_WEEK_PROFILE,
)
from rig.protocol.gbcs.usecase import (
    Form,
    Protection,
    UseCase,
    ZclBatch,
    ZclCommand,
    ZclCommands,
    ZclPart,
    ZclRead,
    ZclSequence,
)

GSME = "GSME"
SERVER_COMMAND = gbz.ZCL_SERVER_TO_CLIENT | gbz.ZCL_CLUSTER_SPECIFIC  # 0x09
# the Price cluster's commands (server to client), and Get Current Price (client to server)
PUBLISH_PRICE, PUBLISH_TARIFF_INFORMATION, PUBLISH_PRICE_MATRIX = 0x00, 0x04, 0x05
PUBLISH_BLOCK_THRESHOLDS = 0x06
GET_CURRENT_PRICE = 0x00
# the Prepayment cluster's (client to server)
CREDIT_ADJUSTMENT, CHANGE_PAYMENT_MODE = 0x05, 0x06
CHANGE_PAYMENT_MODE_RESPONSE = 0x02  # server to client
TARIFF_CALENDAR = 0x00  # calendar type: delivered (the tariff's)
TIERS, BLOCKS, THRESHOLDS = 4, 4, 3  # a GSME's price tiers, blocks and block thresholds
TOU, BLOCK = 0x00, 0x10  # Tariff Type / Charging Scheme: delivered TOU, delivered block
AT_ONCE = 0  # a start time of 0: at once
CANCEL = 0xFFFFFFFE  # the start time of a cancellation (ZCL's "latest")
CANCEL_TARIFF_INFORMATION = 0xFFFFFFFF  # Publish Tariff Information's, as RTDS has it

_UINT24, _UINT32, _UINT48, _ENUM8 = 0x22, 0x23, 0x25, 0x30
THRESHOLD_DIVISOR = gbz.ZclAttribute(0x0203, "threshold_divisor", _UINT24, 3)
THRESHOLD_MULTIPLIER = gbz.ZclAttribute(0x0202, "threshold_multiplier", _UINT24, 3)
BLOCK_THRESHOLDS = tuple(  # Block1Threshold..Block3Threshold
    gbz.ZclAttribute(0x0100 + n, f"block_{n + 1}_threshold", _UINT48, 6) for n in range(THRESHOLDS)
)
UNIT_OF_MEASURE = gbz.ZclAttribute(0x0615, "unit_of_measure", _ENUM8, 1)
BLOCK_PRICES = tuple(  # NoTierBlock1Price..NoTierBlock4Price
    gbz.ZclAttribute(0x0400 + n, f"block_{n + 1}_price", _UINT32, 4) for n in range(BLOCKS)
)
TIER_PRICES = tuple(  # Tier1Block1Price..Tier4Block1Price
    gbz.ZclAttribute(0x0400 + 0x10 * n, f"tier_{n}_price", _UINT32, 4) for n in range(1, TIERS + 1)
)
STANDING_CHARGE = gbz.ZclAttribute(0x0301, "standing_charge", _UINT32, 4)
TARIFF_ATTRIBUTES = (  # GCS21f's read, in RTDS's order
    THRESHOLD_DIVISOR,
    THRESHOLD_MULTIPLIER,
    *BLOCK_THRESHOLDS,
    UNIT_OF_MEASURE,
    *BLOCK_PRICES,
    *TIER_PRICES,
    CURRENCY,
    PRICE_TRAILING_DIGIT,
    STANDING_CHARGE,
)
# GCS21f's Calendar Gets (Get Day Profiles ... Get Special Days) as RTDS has them: any
# issuer calendar id (0xFFFFFFFF), all days from day 1, the delivered calendar's special days
TARIFF_CALENDAR_GETS = (
    (0x01, bytes.fromhex("00000000ffffffff0100")),
    (0x02, bytes.fromhex("00000000ffffffff0100")),
    (0x03, bytes.fromhex("00000000ffffffff")),
    (0x04, bytes.fromhex("00000000000000000000ffffffff")),
)


def _publish(
    cluster: int, command: int, *, repeated: bool = False, optional: bool = False
) -> ZclPart:
    return ZclPart(cluster, command, SERVER_COMMAND, repeated=repeated, optional=optional)


PRICE_PARTS = (
    _publish(PRICE, PUBLISH_TARIFF_INFORMATION),
    _publish(PRICE, PUBLISH_BLOCK_THRESHOLDS, optional=True),
    _publish(PRICE, PUBLISH_PRICE_MATRIX),
)
CALENDAR_PARTS = (
    _publish(CALENDAR, PUBLISH_CALENDAR),
    _publish(CALENDAR, PUBLISH_DAY_PROFILE, repeated=True),
    _publish(CALENDAR, PUBLISH_WEEK_PROFILE, repeated=True),
    _publish(CALENDAR, PUBLISH_SEASONS),
    _publish(CALENDAR, PUBLISH_SPECIAL_DAYS),
)
# the parts' indices in GCS01a's ZclBatch (GCS01b's are the last three, from 0)
CAL, DAYS, WEEKS, SEASONS, SPECIAL_DAYS, TARIFF_INFORMATION, BLOCK_THRESHOLD, PRICE_MATRIX = range(
    8
)

GCS01A = UseCase(
    "GCS01a",
    0x006B,
    GSME,
    Form.GBZ,
    ZclBatch((*CALENDAR_PARTS, *PRICE_PARTS)),
    srvs=("1.1.1",),
    critical=True,
    response=Protection.SIGNATURE,
    dated=True,
)
GCS01B = UseCase(
    "GCS01b",
    0x00A3,
    GSME,
    Form.GBZ,
    ZclBatch(PRICE_PARTS),
    srvs=("1.2.1",),
    critical=True,
    response=Protection.SIGNATURE,
    dated=True,
)
GCS21F = UseCase(
    "GCS21f",
    0x009F,
    GSME,
    Form.GBZ,
    ZclSequence(
        (
            ZclRead(PRICE, TARIFF_ATTRIBUTES),
            *(ZclCommand(CALENDAR, command, payload) for command, payload in TARIFF_CALENDAR_GETS),
            ZclCommand(PRICE, GET_CURRENT_PRICE, b"\x00"),  # command options: none
        )
    ),
    srvs=("4.11.1",),
)


def _balance(name: str, code: int, srvs: tuple[str, ...] = ()) -> UseCase:
    return UseCase(
        name,
        code,
        GSME,
        Form.GBZ,
        ZclCommands(gbz.PREPAYMENT, CREDIT_ADJUSTMENT, 1),
        srvs=srvs,
        critical=True,
        response=Protection.SIGNATURE,
    )


GCS40A = _balance("GCS40a", 0x0086, ("1.5",))  # the primary: its transform picks the others
GCS40B = _balance("GCS40b", 0x00B4)
GCS40C = _balance("GCS40c", 0x00C0)
GCS40D = _balance("GCS40d", 0x00C2)


def _payment_mode(name: str, code: int, srvs: tuple[str, ...] = ()) -> UseCase:
    return UseCase(
        name,
        code,
        GSME,
        Form.GBZ,
        ZclCommands(gbz.PREPAYMENT, CHANGE_PAYMENT_MODE, 1),
        srvs=srvs,
        critical=True,
        response=Protection.SIGNATURE,
        dated=True,
    )


GCS02 = _payment_mode("GCS02", 0x006C, ("1.6",))  # to credit; the primary
GCS03 = _payment_mode("GCS03", 0x006D)  # to prepayment

# the GSME's future-dated execution alert (RTDS's 8F66 alerts of GCS01a, GCS01b, GCS02,
# GCS03): not in DCC's use-case table; declared here, not in the catalogue, until the
# catalogue takes alerts without a row there
GBZ_FDA = UseCase(
    "GBZ-FDA",
    0x00CD,
    GSME,
    Form.GBZ,
    alert_codes=(0x8F66, 0x8F67),
    response=Protection.SIGNATURE,
)

USE_CASES: tuple[UseCase, ...] = (
    GCS01A,
    GCS01B,
    GCS21F,
    GCS40A,
    GCS40B,
    GCS40C,
    GCS40D,
    GCS02,
    GCS03,
    GBZ_FDA,  # the GSME's future-dated execution alert, for every dated GBZ command
)

# --- the Price cluster's payloads (ZigBee SE 1.4 D.4.2.4) ---------------------------------------
_TARIFF = struct.Struct("<IIIIB")  # provider, issuer event, issuer tariff, start time, type
_TARIFF_TAIL = struct.Struct("<BBBHBIB")  # tiers, thresholds, unit, currency, digit, standing, mode


@dataclass(frozen=True, slots=True)
class TariffInformation:
    """Publish Tariff Information: the tariff's id and type (TOU or block), its start time
    (ZigBee time; 0 at once), tiers and block thresholds in use, unit, currency, trailing
    digit, standing charge (millipence a day) and the thresholds' multiplier and divisor."""

    issuer_event: int
    tariff_type: int
    tiers: int
    thresholds: int
    standing_charge: int
    start: int = AT_ONCE
    issuer_tariff: int = 1
    unit: int = 0x00
    currency: int = 826
    trailing_digit: int = 0x50
    tier_block_mode: int = 0xFF
    multiplier: int = 1
    divisor: int = 1000
    provider: int = 0

    def encode(self) -> bytes:
        head = _TARIFF.pack(
            self.provider, self.issuer_event, self.issuer_tariff, self.start, self.tariff_type
        )
        tail = _TARIFF_TAIL.pack(
            self.tiers, self.thresholds, self.unit, self.currency, self.trailing_digit,
            self.standing_charge, self.tier_block_mode,
        )  # fmt: skip
        return (
            head
            + b"\x00"  # no tariff label
            + tail
            + self.multiplier.to_bytes(3, "little")
            + self.divisor.to_bytes(3, "little")
        )

    @classmethod
    def decode(cls, payload: bytes) -> TariffInformation:
        size = _TARIFF.size + 1 + _TARIFF_TAIL.size + 6
        if len(payload) < size or payload[_TARIFF.size] + size != len(payload):
            raise DecodeError(f"Publish Tariff Information takes {size} bytes and its label", 0)
        provider, event, tariff, start, kind = _TARIFF.unpack_from(payload)
        at = _TARIFF.size + 1 + payload[_TARIFF.size]
        tiers, thresholds, unit, currency, digit, standing, mode = _TARIFF_TAIL.unpack_from(
            payload, at
        )
        at += _TARIFF_TAIL.size
        return cls(
            event, kind, tiers, thresholds, standing, start, tariff, unit, currency, digit,
            mode, int.from_bytes(payload[at : at + 3], "little"),
            int.from_bytes(payload[at + 3 : at + 6], "little"), provider,
        )  # fmt: skip


_MATRIX = struct.Struct("<IIIIBBB")  # provider, issuer event, start, tariff, index, total, control


@dataclass(frozen=True, slots=True)
class PriceMatrix:
    """Publish Price Matrix: a TOU tariff's price of each tier (``tou``, ids 1-4) or a block
    tariff's of each block (ids 0-3), in millipence per kWh."""

    issuer_event: int
    prices: tuple[tuple[int, int], ...]  # (tier or block id, price)
    tou: bool = True
    start: int = AT_ONCE
    issuer_tariff: int = 1
    provider: int = 0

    def encode(self) -> bytes:
        head = _MATRIX.pack(
            self.provider, self.issuer_event, self.start, self.issuer_tariff, 0, 1, int(self.tou)
        )
        return head + b"".join(struct.pack("<BI", i, p) for i, p in self.prices)

    @classmethod
    def decode(cls, payload: bytes) -> PriceMatrix:
        if len(payload) < _MATRIX.size or (len(payload) - _MATRIX.size) % 5:
            raise DecodeError("Publish Price Matrix is its header and 5 bytes per price", 0)
        provider, event, start, tariff, _index, _total, control = _MATRIX.unpack_from(payload)
        prices = tuple(struct.iter_unpack("<BI", payload[_MATRIX.size :]))
        return cls(event, prices, bool(control & 1), start, tariff, provider)

    def price_of(self, tier: int) -> int | None:
        """The price of a TOU tier (1-4), or of block 1 of a block tariff."""
        wanted = tier if self.tou else 0
        return next((p for i, p in self.prices if i == wanted), None)


@dataclass(frozen=True, slots=True)
class BlockThresholds:
    """Publish Block Thresholds (one sub-payload, every tier): the thresholds, uint48 each,
    in the register's unit divided by the tariff's divisor."""

    issuer_event: int
    thresholds: tuple[int, ...]
    start: int = AT_ONCE
    issuer_tariff: int = 1
    provider: int = 0

    def encode(self) -> bytes:
        head = _MATRIX.pack(
            self.provider, self.issuer_event, self.start, self.issuer_tariff, 0, 1, 1
        )
        values = b"".join(t.to_bytes(6, "little") for t in self.thresholds)
        return head + bytes([len(self.thresholds)]) + values

    @classmethod
    def decode(cls, payload: bytes) -> BlockThresholds:
        if len(payload) < _MATRIX.size + 1:
            raise DecodeError("Publish Block Thresholds is shorter than its header", 0)
        provider, event, start, tariff, *_ = _MATRIX.unpack_from(payload)
        count = payload[_MATRIX.size] & 0x0F
        body = payload[_MATRIX.size + 1 :]
        if len(body) != 6 * count:
            raise DecodeError(f"{count} block thresholds take {6 * count} bytes", _MATRIX.size)
        values = tuple(int.from_bytes(body[n : n + 6], "little") for n in range(0, len(body), 6))
        return cls(event, values, start, tariff, provider)


@dataclass(frozen=True, slots=True)
class CurrentPrice:
    """Publish Price, as a GSME answers Get Current Price: the tier in force (of ``tiers``)
    and its price (millipence per kWh) from ``now`` (ZigBee time) for the day."""

    issuer_event: int
    now: int
    tier: int
    tiers: int
    price: int
    unit: int = 0x01  # RTDS's
    currency: int = 826
    trailing_digit: int = 5
    duration_min: int = 1440
    provider: int = 0

    def encode(self) -> bytes:
        return struct.pack(
            "<IBIIBHBBIHI",
            self.provider, 0, self.issuer_event, self.now, self.unit, self.currency,
            (self.trailing_digit << 4) | self.tier, (self.tiers << 4) | self.tier, AT_ONCE,
            self.duration_min, self.price,
        )  # fmt: skip

    @classmethod
    def decode(cls, payload: bytes) -> CurrentPrice:
        if len(payload) != 28:
            raise DecodeError(f"a GSME's Publish Price is 28 bytes, not {len(payload)}", 0)
        provider, _label, event, now, unit, currency, digit_tier, tiers, _start, minutes, price = (
            struct.unpack("<IBIIBHBBIHI", payload)
        )
        return cls(
            event, now, digit_tier & 0x0F, tiers >> 4, price, unit, currency, digit_tier >> 4,
            minutes, provider,
        )  # fmt: skip


# --- the Prepayment cluster's (GCS40x, GCS02, GCS03) -------------------------------------------
CREDIT_INCREMENTAL, CREDIT_ABSOLUTE, DEBT_INCREMENTAL, DEBT_ABSOLUTE = 0x00, 0x01, 0x02, 0x03
ADJUSTMENT_TYPE = {"GCS40a": CREDIT_INCREMENTAL, "GCS40b": CREDIT_ABSOLUTE}
ADJUSTMENT_TYPE |= {"GCS40c": DEBT_ABSOLUTE, "GCS40d": DEBT_INCREMENTAL}  # RTDS's types
_ADJUST = struct.Struct("<IIBi")


def credit_adjustment(issuer_event: int, kind: int, value: int, start: int = AT_ONCE) -> bytes:
    """Credit Adjustment's payload: issuer event id, start time, type and value (millipence)."""
    return _ADJUST.pack(issuer_event, start, kind, value)


def parse_credit_adjustment(payload: bytes) -> tuple[int, int, int]:
    """(start time, type, value) of a Credit Adjustment."""
    if len(payload) != _ADJUST.size:
        raise DecodeError(f"Credit Adjustment takes {_ADJUST.size} bytes, found {len(payload)}", 0)
    _event, start, kind, value = _ADJUST.unpack(payload)
    return start, kind, value


# Proposed Payment Control Configuration, as RTDS's GCS02 and GCS03 have it: GCS03's with
# bit 10 set when debt is suspended while disabled, bit 11 clear when it is suspended in
# emergency credit (RTDS's three GCS03 commands: 0x0897, 0x0097, 0x0C97)
CREDIT_MODE_CONFIGURATION, PREPAYMENT_CONFIGURATION = 0x0C94, 0x0897
DEBT_WHEN_DISABLED, DEBT_IN_EMERGENCY = 0x0400, 0x0800
PREPAYMENT_MODE_BITS = 0x0003  # bits 0 and 1: disconnection and prepayment enabled
_MODE = struct.Struct("<IIIHi")


def change_payment_mode(
    issuer_event: int, configuration: int, cut_off: int, at: int = AT_ONCE
) -> bytes:
    """Change Payment Mode's payload: provider 0, issuer event id, implementation time, the
    proposed payment control configuration and the cut-off value (millipence)."""
    return _MODE.pack(0, issuer_event, at, configuration, cut_off)


def parse_change_payment_mode(payload: bytes) -> tuple[int, int, int]:
    """(implementation time, configuration, cut-off value) of a Change Payment Mode."""
    if len(payload) != _MODE.size:
        raise DecodeError(f"Change Payment Mode takes {_MODE.size} bytes, found {len(payload)}", 0)
    _provider, _event, at, configuration, cut_off = _MODE.unpack(payload)
    return at, configuration, cut_off


_MODE_ANSWER = struct.Struct("<BIII")


@dataclass(frozen=True, slots=True)
class PaymentModeResponse:
    """Change Payment Mode Response: friendly credit (on), its calendar id, and the
    emergency credit limit and threshold (millipence)."""

    friendly_credit: int
    calendar_id: int
    emergency_credit_limit: int
    emergency_credit_threshold: int

    def encode(self) -> bytes:
        return _MODE_ANSWER.pack(
            self.friendly_credit,
            self.calendar_id,
            self.emergency_credit_limit,
            self.emergency_credit_threshold,
        )

    @classmethod
    def decode(cls, payload: bytes) -> PaymentModeResponse:
        if len(payload) != _MODE_ANSWER.size:
            raise DecodeError(f"Change Payment Mode Response is 13 bytes, not {len(payload)}", 0)
        return cls(*_MODE_ANSWER.unpack(payload))
