"""What a meter serves of the customer-facing services (DUIS family 3), on the ESME's COSEM
server and the GSME's ZCL server, kept in ``customer.json`` in its state folder:

- the supplier's message to the consumer (3.1: ECS10's SET of 0-2:96.13.1, GCS07's Display
  Message), shown by the meter (its status detail: ``customer.message``) until another
  replaces it; the ESME also answers a HAN device's Get Last Message (the Messaging
  cluster) with it, as a Display Message, or NOT_FOUND while it has none;
- the change of tenancy date (3.2: ECS12's SET of 0-0:94.44.3.2): from then on the meter
  shows the consumer no historic data from before it (:meth:`Customer.consumer_may_see`;
  the detail's ``consumer_history_from``); the data itself is kept and the supplier's reads
  of it (4.x) are answered as before, as GBCS has it. The rig's meters show the consumer
  no historic data on the HAN (the IHD reads current values only), so nothing else changes;
- the event log cleared (3.3: ECS15a, ECS15c's resets; CS11's Clear Event Log Request for
  the general log), so 6.13 then reads it empty (:meth:`nodes.roles.event_logs.EventLogs.clear`);
  the security log is never cleared (CS11 for it answers that nothing was cleared);
- the supplier's name and telephone number (3.4: ECS16's SETs of class 9000 0-0:96.13.1 and
  .0; GCS44's Publish Change of Supplier), read back by a GET (the ESME) or as the Device
  Management cluster's ProviderName and ProviderContactDetails (the GSME): no GBCS use case
  reads them, so DCC Users cannot;
- privacy PIN protection (3.5: ECS14 empties the PIN 0-0:94.44.3.1, GCS11 the consumer PIN
  by a Request New Password Response), off once disabled; the PIN itself is never read.

A value the meter cannot take is refused (a DLMS result, a ZCL status) and logged, the
state as it was.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from functools import partial
from pathlib import Path
from typing import Any

from nodes.gbcs.cosem_server import CosemError, CosemServer, Invocation, Result
from nodes.gbcs.future import utc_now
from nodes.gbcs.zcl_server import ZclServer
from nodes.han.app import DEVICE_ENDPOINT, HanApp
from nodes.radio.api import ApsMessage
from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import catalogue_customer as cc
from rig.protocol.gbcs import dlms, gbz
from rig.protocol.gbcs.cosem import Attribute, Method
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.zigbee import se, zcl
from rig.protocol.zigbee.zcl import Status
from rig.runtime.files import read_json, write_json

__all__ = ["Customer", "CustomerState", "serve_customer"]

log = logging.getLogger("nodes.customer")
GET_LAST_MESSAGE = se.Messaging.ServerCommandDefs.get_last_message.id


@dataclass
class CustomerState:
    """What the supplier told the meter for its consumer, as it persists."""

    message: str = ""  # shown to the consumer (3.1)
    message_id: int = 0  # the Display Message's id (the DCC's issuer event id; ESME: 0)
    message_at: str = ""  # when it came (ISO, UTC)
    change_of_tenancy: str = ""  # the consumer sees no history before it (ISO, UTC; 3.2)
    privacy_pin_protection: bool = True  # 3.5 turns it off
    supplier_name: str = ""  # 3.4
    supplier_telephone: str = ""
    cleared: dict[str, str] = field(default_factory=dict)  # each log cleared, and when
    cin: str = ""  # the customer identification number the DCC sent (9.1), on the display

    @classmethod
    def load(cls, path: Path) -> CustomerState:
        saved = read_json(path, {}) or {}
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in saved.items() if k in known})


class Customer:
    """The customer-facing state of ``meter`` (an ESME or a GSME), persisted in ``path``."""

    def __init__(self, meter: Any, path: Path, now: Callable[[], dt.datetime] = utc_now) -> None:
        self.meter, self.path, self.now = meter, path, now
        self.state = CustomerState.load(path)
        self.device: str = meter.config.eui.duis

    def save(self) -> None:
        write_json(self.path, asdict(self.state))

    def _done(self, event: str, **values: Any) -> None:
        self.save()
        log.info(event, extra={"device": self.device, **values})

    def _refused(self, what: str, reason: str) -> None:
        log.warning(
            "customer.refused", extra={"device": self.device, "what": what, "reason": reason}
        )

    # --- what the meter shows -------------------------------------------------------------------
    def detail(self) -> dict[str, Any]:
        """The meter's display of family 3's state (its health report's detail)."""
        s = self.state
        return {
            "message": s.message or None,
            "message_at": s.message_at or None,
            "consumer_history_from": s.change_of_tenancy or None,
            "privacy_pin_protection": s.privacy_pin_protection,
            "supplier_name": s.supplier_name or None,
            "supplier_telephone": s.supplier_telephone or None,
            "event_log_cleared": dict(s.cleared),
            "cin": s.cin or None,
        }

    def consumer_may_see(self, at: dt.datetime) -> bool:
        """Whether the consumer may see data of ``at`` (not before the change of tenancy)."""
        if not self.state.change_of_tenancy:
            return True
        return at >= dt.datetime.fromisoformat(self.state.change_of_tenancy)

    def show(self, message: bytes, message_id: int = 0) -> None:
        self.state.message = message.decode("utf-8", "replace")
        self.state.message_id = message_id
        self.state.message_at = self.now().isoformat()
        self._done("customer.message_shown", text=self.state.message)

    def clear(self, name: str) -> int:
        """Empty the meter's ``name`` event log (Event, ALCSEvent); how many it held."""
        logs = getattr(getattr(self.meter, "alert_gate", None), "__self__", None)
        if logs is None:
            raise ValueError("the meter keeps no event log")
        held = int(logs.clear(name))
        self.state.cleared[name] = self.now().isoformat()
        self._done("customer.event_log_cleared", log=name, entries=held)
        return held

    # --- the ESME's COSEM objects ------------------------------------------------------------
    def serve_cosem(self, server: CosemServer) -> None:
        s = self.state
        server.attribute(
            cc.SUPPLIER_MESSAGE, lambda: _octets(s.message.encode()), self._set_message
        )
        server.attribute(cc.CHANGE_OF_TENANCY, self._tenancy, self._set_tenancy)
        server.attribute(cc.PRIVACY_PIN, self._pin_unread, self._set_pin)
        server.attribute(
            cc.SUPPLIER_TELEPHONE,
            lambda: _octets(s.supplier_telephone.encode()),
            partial(self._set_supplier, "supplier_telephone"),
        )
        server.attribute(
            cc.SUPPLIER_NAME,
            lambda: _octets(s.supplier_name.encode()),
            partial(self._set_supplier, "supplier_name"),
        )
        for method, name in cc.CLEARED.items():
            server.method(method, partial(self._reset_log, method, name))
        server.attribute(cc.CUSTOMER_ID_NUMBER, lambda: _octets(s.cin.encode()), self._set_cin)

    def _set_cin(self, value: Data) -> None:
        """9.1: the customer identification number the DCC sent, shown to the consumer."""
        self.state.cin = _bytes(value, cc.CUSTOMER_ID_NUMBER).decode(errors="replace")
        self._done("customer.cin", cin=self.state.cin)

    def _set_message(self, value: Data) -> None:
        self.show(_bytes(value, cc.SUPPLIER_MESSAGE))

    def _tenancy(self) -> Data:
        if not self.state.change_of_tenancy:
            return _octets(b"\xff" * 12)  # none set: a date-time not specified
        return _octets(dlms.date_time(dt.datetime.fromisoformat(self.state.change_of_tenancy)))

    def _set_tenancy(self, value: Data) -> None:
        when = dlms.parse_date_time(_bytes(value, cc.CHANGE_OF_TENANCY))
        if when is None:
            self._refused("change_of_tenancy", "not a date-time")
            raise CosemError(Result.TYPE_UNMATCHED, "the change of tenancy date is a date-time")
        self.state.change_of_tenancy = when.isoformat()
        self._done("customer.change_of_tenancy", consumer_history_from=when.isoformat())

    def _pin_unread(self) -> Data:
        raise CosemError(Result.READ_WRITE_DENIED, "the privacy PIN is not read")

    def _set_pin(self, value: Data) -> None:
        if _bytes(value, cc.PRIVACY_PIN):
            self._refused("privacy_pin", "ECS14 disables the PIN: it takes an empty octet-string")
            raise CosemError(Result.OTHER_REASON, "only an empty PIN (protection off) is taken")
        self.state.privacy_pin_protection = False
        self._done("customer.privacy_pin_disabled")

    def _set_supplier(self, name: str, value: Data) -> None:
        target = cc.SUPPLIER_NAME if name == "supplier_name" else cc.SUPPLIER_TELEPHONE
        setattr(self.state, name, _bytes(value, target).decode("utf-8", "replace"))
        self._done("customer.supplier_set", **{name: getattr(self.state, name)})

    def _reset_log(self, method: Method, name: str, argument: Data, _inv: Invocation) -> None:
        if argument.type is not DataType.INTEGER:
            raise CosemError(Result.TYPE_UNMATCHED, f"{method}'s argument is an integer (0)")
        try:
            self.clear(name)
        except ValueError as exc:
            raise CosemError(Result.HARDWARE_FAULT, str(exc)) from None

    # --- the ESME on the HAN: the message for the IHD ------------------------------------------
    def serve_han(self, app: HanApp) -> None:
        app.serve_command(DEVICE_ENDPOINT, cc.MESSAGING, GET_LAST_MESSAGE, self._last_message)

    async def _last_message(self, _msg: ApsMessage, frame: zcl.ZclFrame) -> bytes:
        """Get Last Message: the supplier's message as a Display Message, or NOT_FOUND."""
        s = self.state
        if not s.message:
            return zcl.default_response(frame.tsn, GET_LAST_MESSAGE, Status.NOT_FOUND)
        return zcl.command(
            cc.MESSAGING,
            "display_message",
            frame.tsn,
            to_server=False,
            message_id=s.message_id,
            message_control=0,
            start_time=0,
            duration_in_minutes=cc.UNTIL_CHANGED,
            message=s.message,
        )

    # --- the GSME's ZCL commands ----------------------------------------------------------------
    def serve_zcl(self, server: ZclServer) -> None:
        s = self.state
        for cluster, command, action in (
            (cc.MESSAGING, cc.DISPLAY_MESSAGE, self.display_message),
            (cc.DEVICE_MANAGEMENT, cc.PUBLISH_CHANGE_OF_SUPPLIER, self.change_of_supplier),
            (cc.DEVICE_MANAGEMENT, cc.REQUEST_NEW_PASSWORD_RESPONSE, self.new_password),
        ):
            server.command(cluster, command, action, server_to_client=True)
        server.command(cc.EVENTS, cc.CLEAR_EVENT_LOG_REQUEST, self.clear_event_log)
        server.attribute(cc.DEVICE_MANAGEMENT, cc.PROVIDER_NAME, lambda: s.supplier_name.encode())
        server.attribute(
            cc.DEVICE_MANAGEMENT, cc.PROVIDER_CONTACT, lambda: s.supplier_telephone.encode()
        )

    def display_message(self, payload: bytes, _cmd: GbcsMessage) -> gbz.Reply:
        """GCS07: the message shown until another replaces it."""
        try:
            message = cc.DisplayMessage.decode(payload)
        except DecodeError as exc:
            return self._zcl_refused(cc.DISPLAY_MESSAGE, gbz.ZCL_MALFORMED_COMMAND, str(exc))
        self.show(message.text, message.message_id)
        return gbz.default_response(cc.DISPLAY_MESSAGE, gbz.ZCL_SUCCESS)

    def change_of_supplier(self, payload: bytes, _cmd: GbcsMessage) -> gbz.Reply:
        """GCS44: the supplier's name and contact details, at once."""
        command = cc.PUBLISH_CHANGE_OF_SUPPLIER
        try:
            change = cc.SupplierChange.decode(payload)
        except DecodeError as exc:
            return self._zcl_refused(command, gbz.ZCL_MALFORMED_COMMAND, str(exc))
        if change.implementation_time:
            reason = "a change of supplier at a later time is not served: send 0 (at once)"
            return self._zcl_refused(command, gbz.ZCL_INVALID_FIELD, reason)
        self.state.supplier_name = change.name.decode("utf-8", "replace")
        self.state.supplier_telephone = change.contact.decode("utf-8", "replace")
        self._done("customer.supplier_set", supplier_name=self.state.supplier_name)
        return gbz.default_response(command, gbz.ZCL_SUCCESS)

    def new_password(self, payload: bytes, _cmd: GbcsMessage) -> gbz.Reply:
        """GCS11: the consumer PIN emptied, so privacy PIN protection is off."""
        command = cc.REQUEST_NEW_PASSWORD_RESPONSE
        try:
            password = cc.NewPassword.decode(payload)
        except DecodeError as exc:
            return self._zcl_refused(command, gbz.ZCL_MALFORMED_COMMAND, str(exc))
        if password.password_type != cc.CONSUMER_PIN or password.password:
            reason = "GCS11 empties the consumer PIN: password type 2, an empty password"
            return self._zcl_refused(command, gbz.ZCL_INVALID_FIELD, reason)
        self.state.privacy_pin_protection = False
        self._done("customer.privacy_pin_disabled")
        return gbz.default_response(command, gbz.ZCL_SUCCESS)

    def clear_event_log(self, payload: bytes, _cmd: GbcsMessage) -> gbz.Reply:
        """CS11: the general event log emptied (log 3, or 0: all the logs it may clear);
        the answer's bits say which were, none for the security log."""
        if len(payload) != 1:
            reason = "Clear Event Log Request is one byte: the log ID"
            return self._zcl_refused(cc.CLEAR_EVENT_LOG_REQUEST, gbz.ZCL_MALFORMED_COMMAND, reason)
        cleared = 0
        if payload[0] in (cc.GENERAL_LOG, cc.ALL_LOGS):
            try:
                self.clear("Event")
                cleared = cc.log_bit(cc.GENERAL_LOG)
            except ValueError as exc:
                self._refused("event_log", str(exc))
        else:
            self._refused("event_log", f"log {payload[0]} is not cleared remotely")
        return gbz.Reply(cc.CLEAR_EVENT_LOG_RESPONSE, bytes([cleared]), cluster_specific=True)

    def _zcl_refused(self, command: int, status: int, reason: str) -> gbz.Reply:
        self._refused(f"command 0x{command:02X}", reason)
        return gbz.default_response(command, status)


def _octets(raw: bytes) -> Data:
    return Data(DataType.OCTET_STRING, raw)


def _bytes(value: Data, target: Attribute) -> bytes:
    if value.type is not DataType.OCTET_STRING or not isinstance(value.value, bytes):
        raise CosemError(Result.TYPE_UNMATCHED, f"{target} is an octet-string")
    return value.value


def serve_customer(meter: Any) -> Customer:
    """Serve family 3 on ``meter``: the ESME's COSEM objects and its HAN Get Last Message,
    or the GSME's ZCL commands; the meter's ``customer`` (its status detail shows it)."""
    customer = Customer(meter, meter.config.state_dir / "customer.json")
    if getattr(meter, "cosem", None) is not None:
        customer.serve_cosem(meter.cosem)
        app = getattr(meter, "app", None)
        if app is not None:
            customer.serve_han(app)
    elif getattr(meter, "zcl", None) is not None:
        customer.serve_zcl(meter.zcl)
    meter.customer = customer
    return customer
