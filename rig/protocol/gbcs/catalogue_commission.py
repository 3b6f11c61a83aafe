"""GBCS use cases of commissioning and firmware activation (issue 16): 8.1.1 Commission
Device (ECS70, GCS28) and 11.3 Activate Firmware (CS06). Declared as
:mod:`rig.protocol.gbcs.catalogue` declares the others, which gathers them into CATALOGUE
(this module must not import the catalogue).

====== ===== ============================================ ============ =================
SRV    code  use case                                     command      response
====== ===== ============================================ ============ =================
8.1.1  0062  ECS70 set clock (ESME; 5 parts on the clock) signed + MAC signed
8.1.1  007F  GCS28 set clock (GSME; ASN.1)                signed + MAC signed
11.3   0012  CS06 activate firmware (ESME; ASN.1)         signed + MAC signed, dated
====== ===== ============================================ ============ =================

Laid out byte for byte as RTDS 4.5.0 has them (folders 8.1.1_ECS70Commission,
8.1.1_GCS28Commission, 11.3_CS06). ECS70: SET the clock's clock_base (radio controlled),
ACTION preset_adjusting_time with an unspecified preset time and the validity interval
DUIS's CurrentDateTime gives, ACTION adjust_to_preset_time, then GET the clock's time and
status; the interval runs from CurrentDateTime to CurrentDateTime + TolerancePeriod
(:func:`adjusting_time`). GCS28 carries the same interval as two GeneralizedTimes
(:func:`set_clock_payload`) and is answered with the GSME's time and a result
(:func:`clock_answer`: 0, or 2 when its time is outside the interval, as RTDS's error).

CS06 names the image by its SHA-256 and repeats the originator counter
(:func:`activate_firmware_payload`); it is answered, dated, with a result and the version
running after it (:func:`activation_answer`; RTDS's error: 1 and the version unchanged).
Future-dated, a GeneralizedTime follows the counter (:func:`execution_of`); the meter
answers NULL, "Command Accepted" (:data:`ACCEPTED`), holds it, and at that time raises the
Future Dated Firmware Activation Alert (message code 0x00CA, :func:`future_activation_alert`):
8F66 and 0 with the new version, or 8F67 and 2 with the version unchanged (RTDS's error:
the image named was not the one held). The date-time 9999-12-31T23:59:59Z cancels what it
holds (:data:`CANCEL`), answered NULL too. DCC's mapping table names one CS06; the rig
declares it for the ESME, RTDS's target.
"""

from __future__ import annotations

import datetime as dt

from cryptography.hazmat.primitives.asymmetric import ec

from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import access, asn1, cosem, dlms, security
from rig.protocol.gbcs.asn1 import Tlv
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.frame import Cra, GbcsMessage
from rig.protocol.gbcs.usecase import Der, Form, Protection, UseCase

ESME, GSME = "ESME", "GSME"
_D = DataType
CLOCK_BASE, ADJUSTING_TIME = "clock_base", "adjusting_time"  # ECS70's given values

ECS70 = UseCase(
    "ECS70",
    0x0062,
    ESME,
    Form.DLMS,
    access.Access(
        (
            access.Write(cosem.CLOCK_BASE, CLOCK_BASE, _D.ENUM),
            access.Invoke(cosem.PRESET_ADJUSTING_TIME, name=ADJUSTING_TIME, kind=_D.STRUCTURE),
            access.Invoke(cosem.ADJUST_TO_PRESET_TIME, Data(_D.INTEGER, 0)),
            access.Read(cosem.CLOCK_TIME),
            access.Read(cosem.CLOCK_STATUS),
        )
    ),
    srvs=("8.1.1", "6.11"),  # 6.11 Synchronise Clock: the same command (RTDS 6.11_ECS70)
    critical=True,
    response=Protection.SIGNATURE,
)

GCS28 = UseCase(
    "GCS28",
    0x007F,
    GSME,
    Form.ASN1,
    Der((24, 24)),  # the validity interval: from, to
    srvs=("8.1.1", "6.11"),  # commissioning, and Synchronise Clock (the same command)
    critical=True,
    response=Protection.SIGNATURE,
)
CS06 = UseCase(
    "CS06",
    0x0012,
    ESME,
    Form.ASN1,
    Der((4, 2), optional=(24,)),  # the image's hash, the originator counter, future-dated: when
    srvs=("11.3",),
    critical=True,
    response=Protection.SIGNATURE,
    dated=True,
)

USE_CASES: tuple[UseCase, ...] = (ECS70, GCS28, CS06)


def adjusting_time(current: dt.datetime, tolerance_s: int) -> Data:
    """preset_adjusting_time's argument: the preset time unspecified (the device keeps its
    own), valid from ``current`` to ``current`` + ``tolerance_s`` (RTDS: 23:59:10, 60 s)."""
    return Data(
        _D.STRUCTURE,
        [
            Data(_D.OCTET_STRING, cosem.UNSPECIFIED_DATE_TIME),
            Data(_D.OCTET_STRING, dlms.date_time(current)),
            Data(_D.OCTET_STRING, dlms.date_time(current + dt.timedelta(seconds=tolerance_s))),
        ],
    )


def ecs70_values(current: dt.datetime, tolerance_s: int) -> dict[str, Data]:
    """ECS70's given values for a DUIS CurrentDateTime and TolerancePeriod."""
    return {
        CLOCK_BASE: Data(_D.ENUM, cosem.RADIO_CONTROLLED),
        ADJUSTING_TIME: adjusting_time(current, tolerance_s),
    }


def validity_interval(argument: Data) -> tuple[dt.datetime, dt.datetime]:
    """The validity interval of a preset_adjusting_time argument (ValueError when it is not
    a structure of three date-times whose last two are specified)."""
    if argument.type is not _D.STRUCTURE or len(argument.value) != 3:
        raise ValueError("preset_adjusting_time takes a structure of three date-times")
    ends = [
        dlms.parse_date_time(bytes(v.value)) if v.type is _D.OCTET_STRING else None
        for v in argument.value[1:]
    ]
    start, end = ends
    if start is None or end is None or end < start:
        raise ValueError("preset_adjusting_time's validity interval is not two date-times")
    return start, end


# --- the ASN.1 payloads (GCS28, CS06) ----------------------------------------------------------
ACTIVATED, NOT_ACTIVATED = 0, 1  # CS06's answer: the image is running; it is not (RTDS: 1)
NOT_ACTIVATED_AT_TIME = 2  # future-dated, the image named was not held then (RTDS's 8F67: 2)
FUTURE_DATED_ACTIVATION = 0x00CA  # message code of the Future Dated Firmware Activation Alert
FUTURE_DATED_SUCCESS, FUTURE_DATED_FAILURE = 0x8F66, 0x8F67  # its alert codes
CANCEL = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)  # a future-dated CS06 cancelled
ACCEPTED = b"\x05\x00"  # NULL: "Command Accepted", the answer to a future-dated CS06
CLOCK_SET, OUTSIDE_INTERVAL = 0, 2  # GCS28's answer: in the interval; not (RTDS's error: 2)
_SEQUENCE, _INTEGER, _OCTETS, _TIME = 16, 2, 4, 24


def generalized_time(when: dt.datetime) -> Tlv:
    """A GeneralizedTime, UTC, to the second (RTDS: ``20141231233000Z``)."""
    text = when.astimezone(dt.UTC).strftime("%Y%m%d%H%M%SZ")
    return Tlv(0, False, _TIME, text.encode("ascii"))


def _integer(n: int) -> Tlv:
    return Tlv(0, False, _INTEGER, n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big"))


def _sequence(*children: Tlv) -> bytes:
    return Tlv(0, True, _SEQUENCE, children=children).encode()


def set_clock_payload(current: dt.datetime, tolerance_s: int) -> bytes:
    """GCS28's payload: the validity interval, from ``current`` for ``tolerance_s``."""
    end = current + dt.timedelta(seconds=tolerance_s)
    return _sequence(generalized_time(current), generalized_time(end))


def activate_firmware_payload(
    image_hash: bytes, counter: int, execute_at: dt.datetime | None = None
) -> bytes:
    """CS06's payload: the image's SHA-256, the originator counter, and (future-dated) when."""
    if len(image_hash) != 32:
        raise ValueError(f"CS06 names the image by its SHA-256 (32 bytes), not {len(image_hash)}")
    parts = [Tlv(0, False, _OCTETS, image_hash), _integer(counter)]
    if execute_at is not None:
        parts.append(generalized_time(execute_at))
    return _sequence(*parts)


def execution_of(payload: bytes) -> dt.datetime | None:
    """When a future-dated CS06 payload says to activate (:data:`CANCEL`: cancel); None for
    an immediate one."""
    fields = _fields(payload)
    return time_of(fields[2]) if len(fields) > 2 else None


def future_activation_payload(
    executed_at: dt.datetime, counter: int, result: int, version: bytes
) -> bytes:
    """The 0x00CA alert's payload: the alert code (8F66 for :data:`ACTIVATED`, else 8F67),
    the execution date-time, the counter of the CS06 it executes, and the outcome (the
    result and the version running after it)."""
    code = FUTURE_DATED_SUCCESS if result == ACTIVATED else FUTURE_DATED_FAILURE
    outcome = Tlv(0, True, _SEQUENCE, children=(_integer(result), Tlv(0, False, _OCTETS, version)))
    return _sequence(_integer(code), generalized_time(executed_at), _integer(counter), outcome)


def future_activation_alert(
    counter: int,
    device: bytes,
    recipient: bytes,
    payload: bytes,
    device_ds: ec.EllipticCurvePrivateKey,
) -> GbcsMessage:
    """The Future Dated Firmware Activation Alert (0x00CA) to the CS06's requester, with the
    device's alert ``counter``, signed with its DS key as RTDS's is (general signing, no
    date-time)."""
    msg = GbcsMessage.build(Cra.ALERT, counter, device, recipient, FUTURE_DATED_ACTIVATION, payload)
    return security.sign_message(msg, device_ds)


def asn1_alert_code(payload: bytes) -> int | None:
    """The alert code an ASN.1 alert (0x00CA, CCS08's 0x0128) opens its SEQUENCE with, or
    None when the payload is not one."""
    try:
        first = _fields(payload)[0]
    except (DecodeError, IndexError, ValueError):
        return None
    return integer_of(first) if (first.cls, first.number) == (0, _INTEGER) else None


def activation_answer(result: int, version: bytes) -> bytes:
    """CS06's immediate answer: the result and the version running after it."""
    return _sequence(_integer(result), Tlv(0, False, _OCTETS, version))


def clock_answer(device_time: dt.datetime, result: int) -> bytes:
    """GCS28's answer: the GSME's time and the result."""
    return _sequence(generalized_time(device_time), _integer(result))


def _fields(payload: bytes) -> tuple[Tlv, ...]:
    return asn1.decode(payload).elements[0].children


def time_of(field: Tlv) -> dt.datetime:
    """The instant of a GeneralizedTime as GBCS writes one (ValueError when it is not)."""
    when = dt.datetime.strptime(field.value.decode("ascii"), "%Y%m%d%H%M%SZ")
    return when.replace(tzinfo=dt.UTC)


def integer_of(field: Tlv) -> int:
    return int.from_bytes(field.value, "big", signed=True)


def interval_of(payload: bytes) -> tuple[dt.datetime, dt.datetime]:
    """The validity interval a GCS28 payload (declared: two GeneralizedTimes) carries."""
    start, end = (time_of(t) for t in _fields(payload))
    return start, end


def activation_of(payload: bytes) -> tuple[bytes, int]:
    """The image hash and the originator counter a CS06 payload (declared) carries."""
    image_hash, counter = _fields(payload)[:2]
    return image_hash.value, integer_of(counter)


def answer_fields(payload: bytes) -> tuple[Tlv, ...]:
    """The fields of a GCS28 or CS06 answer's SEQUENCE (a future-dated CS06's NULL: none)."""
    element = asn1.decode(payload).elements[0]
    return element.children if element.constructed else ()
