"""GBCS use cases of the customer-facing services (DUIS family 3) on the ESME and the GSME,
byte for byte as DCC's RTDS 4.5.0 has them: declared here, gathered by
:mod:`rig.protocol.gbcs.catalogue` into CATALOGUE (this module must not import the
catalogue).

====== ===== ====== ============================================= ===========================
SRV    code  name   the command                                   the answer
====== ===== ====== ============================================= ===========================
3.1    0021  ECS10  SET 0-2:96.13.1 (class 1): the message         set result
3.1    0071  GCS07  Messaging Display Message                      Default Response
3.2    0022  ECS12  SET 0-0:94.44.3.2 (class 1): the change of     set result
                    tenancy date (a COSEM date-time)
3.3    0024  ECS15a ACTION reset of the event log 0-0:99.98.0      action result
(3.3)  00C1  ECS15c ACTION reset of the ALCS event log 0-17:99.98.2 action result
3.3    0015  CS11   Events Clear Event Log Request (log 3, general) Clear Event Log Response
3.4    0025  ECS16  SETs of 0-0:96.13.0 and 0-0:96.13.1 (class     two set results
                    9000): the supplier's telephone number, name
3.4    0088  GCS44  Device Management Publish Change of Supplier   Default Response
                    (its proposed name and contact details)
3.5    0023  ECS14  SET 0-0:94.44.3.1 (class 1): the privacy PIN,  set result
                    empty (protection off)
3.5    0073  GCS11  Device Management Request New Password         Default Response
                    Response: the consumer PIN (type 2), empty
9.1    0058  ECS50  SET 0-3:96.13.1 (class 1): the customer        set result
                    identification number the DCC makes up (the
                    ACB's command, the Other User riding along)
3.2    0072  GCS09  the GPF's: Device Management Publish Change of  Default Response
                    Tenancy (the restriction date-time)
====== ===== ====== ============================================= ===========================

3.3 has two use cases for the ESME: ECS15a is in the catalogue with its SRV, ECS15c declares
none and 3.3's transform picks it by the body's ESMEEventLogType (ALCS). The GSME's commands
carry the DCC's issuer event id (the ZigBee time of the transform; GCS07's message id is
it too). 3.2 for gas (GCS09) is the GPF's, not the GSME's: the GPF (on the CHF) keeps the
date, from which it shows the householder none of the logs GBCS lists
(:mod:`nodes.roles.gpf_security`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import access, gbz
from rig.protocol.gbcs.catalogue_event_logs import AUX_EVENT_LOG, DEVICE_MANAGEMENT, EVENT_LOG
from rig.protocol.gbcs.catalogue_event_logs import EVENTS as EVENTS_CLUSTER
from rig.protocol.gbcs.cosem import Attribute, Method, obis
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.usecase import Action, Form, UseCase, ZclBatch, ZclCommand, ZclPart

ESME, GSME = "ESME", "GSME"
_D = DataType
EXTENDED_DATA = 9000  # GBCS's class of ECS16's objects

# --- the ESME's COSEM objects -----------------------------------------------------------------
SUPPLIER_MESSAGE = Attribute(1, obis("0-2:96.13.1"), 2)  # octet-string: the consumer's message
CHANGE_OF_TENANCY = Attribute(1, obis("0-0:94.44.3.2"), 2)  # octet-string: a date-time
PRIVACY_PIN = Attribute(1, obis("0-0:94.44.3.1"), 2)  # octet-string: empty, protection off
SUPPLIER_TELEPHONE = Attribute(EXTENDED_DATA, obis("0-0:96.13.0"), 2)
SUPPLIER_NAME = Attribute(EXTENDED_DATA, obis("0-0:96.13.1"), 2)
CUSTOMER_ID_NUMBER = Attribute(1, obis("0-3:96.13.1"), 2)  # octet-string: the CIN (9.1)
RESET = 1  # class 7's method: empty the buffer
CLEAR_EVENT_LOG = Method(7, EVENT_LOG.instance, RESET)
CLEAR_ALCS_EVENT_LOG = Method(7, AUX_EVENT_LOG.instance, RESET)
CLEARED = {CLEAR_EVENT_LOG: "Event", CLEAR_ALCS_EVENT_LOG: "ALCSEvent"}  # the logs they empty

# --- the GSME's ZCL commands ------------------------------------------------------------------
MESSAGING = 0x0703
DISPLAY_MESSAGE = 0x00  # Messaging, server to client
PUBLISH_CHANGE_OF_SUPPLIER, REQUEST_NEW_PASSWORD_RESPONSE = 0x01, 0x02  # Device Management
PUBLISH_CHANGE_OF_TENANCY = 0x00  # Device Management, server to client (GCS09, the GPF's)
EVENTS = EVENTS_CLUSTER
CLEAR_EVENT_LOG_REQUEST, CLEAR_EVENT_LOG_RESPONSE = 0x01, 0x02  # Events: request, answer
GENERAL_LOG, SECURITY_LOG = 0x03, 0x04  # ZigBee log IDs (the security log is never cleared)
ALL_LOGS = 0x00
TO_CLIENT = gbz.ZCL_SERVER_TO_CLIENT | gbz.ZCL_CLUSTER_SPECIFIC  # a server's command (0x09)
# the Device Management cluster's Supplier Control attributes (read back what GCS44 sets)
PROVIDER_NAME = gbz.ZclAttribute(0x0101, "provider_name", gbz.ZCL_OCTET_STRING, 0)
PROVIDER_CONTACT = gbz.ZclAttribute(0x0102, "provider_contact_details", gbz.ZCL_OCTET_STRING, 0)
CONSUMER_PIN = 0x02  # Request New Password Response's password type: the consumer's menu
UNTIL_CHANGED = 0xFFFF  # Display Message's duration
SUPPLIER_CHANGE_CONTROL = 0x00001800  # Publish Change of Supplier's control, as RTDS has it
TENANCY_CHANGE_CONTROL = 0x00000200  # Publish Change of Tenancy's control, as RTDS has it
GPF = "GPF"


def _esme(name: str, code: int, request: object, srvs: tuple[str, ...] = ()) -> UseCase:
    return UseCase(name, code, ESME, Form.DLMS, request, srvs=srvs)  # type: ignore[arg-type]


def _gsme(name: str, code: int, request: object, srvs: tuple[str, ...]) -> UseCase:
    return UseCase(name, code, GSME, Form.GBZ, request, srvs=srvs)  # type: ignore[arg-type]


def _write(*parts: tuple[Attribute, str]) -> access.Access:
    return access.Access(tuple(access.Write(t, name, _D.OCTET_STRING) for t, name in parts))


def _server_command(cluster: int, command: int) -> ZclBatch:
    return ZclBatch((ZclPart(cluster, command, TO_CLIENT),))


_RESET = Data(_D.INTEGER, 0)
ECS10 = _esme("ECS10", 0x0021, _write((SUPPLIER_MESSAGE, "message")), ("3.1",))
ECS12 = _esme("ECS12", 0x0022, _write((CHANGE_OF_TENANCY, "date")), ("3.2",))
ECS14 = _esme("ECS14", 0x0023, _write((PRIVACY_PIN, "pin")), ("3.5",))
ECS15A = _esme("ECS15a", 0x0024, Action(CLEAR_EVENT_LOG, _RESET), ("3.3",))
ECS15C = _esme("ECS15c", 0x00C1, Action(CLEAR_ALCS_EVENT_LOG, _RESET))
ECS16 = _esme(
    "ECS16", 0x0025, _write((SUPPLIER_TELEPHONE, "telephone"), (SUPPLIER_NAME, "name")), ("3.4",)
)
ECS50 = UseCase(
    "ECS50", 0x0058, ESME, Form.DLMS, _write((CUSTOMER_ID_NUMBER, "cin")), srvs=("9.1",),
    acb_originated=True,  # the ACB sends the CIN it made up; the Other User rides along
)  # fmt: skip
GCS07 = _gsme("GCS07", 0x0071, _server_command(MESSAGING, DISPLAY_MESSAGE), ("3.1",))
GCS11 = _gsme(
    "GCS11", 0x0073, _server_command(DEVICE_MANAGEMENT, REQUEST_NEW_PASSWORD_RESPONSE), ("3.5",)
)
GCS44 = _gsme(
    "GCS44", 0x0088, _server_command(DEVICE_MANAGEMENT, PUBLISH_CHANGE_OF_SUPPLIER), ("3.4",)
)
CS11 = _gsme(
    "CS11", 0x0015, ZclCommand(EVENTS, CLEAR_EVENT_LOG_REQUEST, bytes([GENERAL_LOG])), ("3.3",)
)
GCS09 = UseCase(
    "GCS09", 0x0072, GPF, Form.GBZ,
    _server_command(DEVICE_MANAGEMENT, PUBLISH_CHANGE_OF_TENANCY), srvs=("3.2",),
)  # fmt: skip
# 3.3's ESME use cases by DUIS's ESMEEventLogType
CLEAR_BY_LOG_TYPE = {"ESME": ECS15A, "ALCS": ECS15C}

USE_CASES: tuple[UseCase, ...] = (
    ECS10, ECS12, ECS14, ECS15A, ECS15C, ECS16, GCS07, GCS11, GCS44, CS11, ECS50, GCS09,
)  # fmt: skip


# --- payloads ---------------------------------------------------------------------------------
def _string(payload: bytes, at: int, what: str) -> tuple[bytes, int]:
    """A ZCL string at ``at``: its bytes and where the next field starts."""
    if at >= len(payload) or at + 1 + payload[at] > len(payload):
        raise DecodeError(f"{what} is cut short", at)
    end = at + 1 + payload[at]
    return payload[at + 1 : end], end


@dataclass(frozen=True, slots=True)
class DisplayMessage:
    """Messaging's Display Message (GCS07; and what the ESME answers a HAN device's Get Last
    Message with): the message id (the DCC's issuer event id), its control (0: normal, low
    importance, no confirmation), from ``start`` (ZigBee time, 0: now) for ``duration``
    minutes (0xFFFF: until changed), the text."""

    message_id: int
    text: bytes
    control: int = 0
    start: int = 0
    duration: int = UNTIL_CHANGED

    def encode(self) -> bytes:
        head = struct.pack("<IBIH", self.message_id, self.control, self.start, self.duration)
        return head + gbz.zcl_string(self.text)

    @classmethod
    def decode(cls, payload: bytes) -> DisplayMessage:
        if len(payload) < 12:
            raise DecodeError(f"Display Message takes 12 bytes and a string, not {len(payload)}", 0)
        message_id, control, start, duration = struct.unpack_from("<IBIH", payload)
        text, end = _string(payload, 11, "the message")
        if len(payload) not in (end, end + 1):  # SE 1.2's Extended Message Control: one byte
            raise DecodeError("Display Message has bytes after its message", end)
        return cls(message_id, text, control, start, duration)


@dataclass(frozen=True, slots=True)
class SupplierChange:
    """Device Management's Publish Change of Supplier as GCS44 sends it: at once (time 0),
    the same provider (0), the supplier's name and contact details (its telephone)."""

    issuer_event_id: int
    name: bytes
    contact: bytes
    control: int = SUPPLIER_CHANGE_CONTROL
    implementation_time: int = 0

    def encode(self) -> bytes:
        head = struct.pack(
            "<IIBIII", 0, self.issuer_event_id, 0, 0, self.implementation_time, self.control
        )
        return head + gbz.zcl_string(self.name) + gbz.zcl_string(self.contact)

    @classmethod
    def decode(cls, payload: bytes) -> SupplierChange:
        if len(payload) < 23:
            raise DecodeError("Publish Change of Supplier is 21 bytes and two strings", 0)
        _provider, issuer, _tariff, _proposed, when, control = struct.unpack_from(
            "<IIBIII", payload
        )
        name, at = _string(payload, 21, "the supplier's name")
        contact, end = _string(payload, at, "the supplier's contact details")
        if end != len(payload):
            raise DecodeError("Publish Change of Supplier has bytes after its strings", end)
        return cls(issuer, name, contact, control, when)


_TENANCY = struct.Struct("<IIBII")  # provider, issuer event, tariff type, time, control


@dataclass(frozen=True, slots=True)
class TenancyChange:
    """Device Management's Publish Change of Tenancy as GCS09 sends the GPF: the same
    provider (0), the DCC's issuer event id, the restriction date-time (ZigBee time) as its
    implementation time, and the control RTDS sends."""

    issuer_event_id: int
    implementation_time: int
    control: int = TENANCY_CHANGE_CONTROL
    provider: int = 0
    tariff_type: int = 0

    def encode(self) -> bytes:
        return _TENANCY.pack(
            self.provider, self.issuer_event_id, self.tariff_type, self.implementation_time,
            self.control,
        )  # fmt: skip

    @classmethod
    def decode(cls, payload: bytes) -> TenancyChange:
        if len(payload) != _TENANCY.size:
            raise DecodeError(
                f"Publish Change of Tenancy is {_TENANCY.size} bytes, not {len(payload)}", 0
            )
        provider, issuer, tariff, when, control = _TENANCY.unpack(payload)
        return cls(issuer, when, control, provider, tariff)


@dataclass(frozen=True, slots=True)
class NewPassword:
    """Device Management's Request New Password Response as GCS11 sends it: at once, for
    no set duration, the consumer PIN (type 2) replaced with an empty one (protection off)."""

    issuer_event_id: int
    password: bytes = b""
    password_type: int = CONSUMER_PIN
    implementation_time: int = 0
    duration: int = 0

    def encode(self) -> bytes:
        head = struct.pack(
            "<IIHB", self.issuer_event_id, self.implementation_time, self.duration,
            self.password_type,
        )  # fmt: skip
        return head + gbz.zcl_string(self.password)

    @classmethod
    def decode(cls, payload: bytes) -> NewPassword:
        if len(payload) < 12:
            raise DecodeError("Request New Password Response is 11 bytes and a string", 0)
        issuer, when, duration, kind = struct.unpack_from("<IIHB", payload)
        password, end = _string(payload, 11, "the password")
        if end != len(payload):
            raise DecodeError("Request New Password Response has bytes after its password", end)
        return cls(issuer, password, kind, when, duration)


def log_bit(log_id: int) -> int:
    """Clear Event Log Response's bit for a ZigBee log ID (bit 3: the general event log)."""
    return 1 << log_id
