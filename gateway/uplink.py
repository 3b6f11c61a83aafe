"""What the hubs send up: device responses, matched to the command they answer and queued
for its DCC User, device alerts queued for their recipient, and hop traces for the
timeline. The gateway reads only the grouping header (who, which message code, which
counter), never a payload's content, except the results of an answer to a command the ACB
itself originated (the CHF's device log): a success there changes the inventory (8.11
adding a Pending device makes it Whitelisted); and the device logs the hubs report, which
the DCC archives for 8.12's restores (:class:`gateway.transform.restore.LogArchive`): a
CHF's CS14 (to the ACB: recorded, delivered to no DCC User) and CCS07 answer, a GPF's
GCS59 answer."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from gateway import cos
from gateway.config import UserConfig
from gateway.crashpoints import crashpoint
from gateway.deadlines import Deadlines
from gateway.device_certificates import DeviceCertificates
from gateway.firmware import ppmid_activation_dcc_alert, transfer_dcc_alert
from gateway.inventory import NOW, Effect, Inventory
from gateway.outbox import Outbox
from gateway.schedules import scheduled_message
from gateway.store import Store
from gateway.transform.restore import LogArchive
from rig.protocol.codec import DecodeError
from rig.protocol.duis import codes
from rig.protocol.duis.message import RequestId, Response, now
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import dlms, gbz
from rig.protocol.gbcs.alerts import alert_code
from rig.protocol.gbcs.catalogue_chf import CS14
from rig.protocol.gbcs.catalogue_commission import answer_fields, asn1_alert_code, integer_of
from rig.protocol.gbcs.catalogue_credentials import (
    CREDENTIAL_UPDATES,
    CS02D,
    FUTURE_DATED_CREDENTIALS,
    certificate_update_of,
    outcome_of,
)
from rig.protocol.gbcs.catalogue_firmware import CS09, FIRMWARE_TRANSFER_ALERT
from rig.protocol.gbcs.frame import Cra, GbcsMessage

log = logging.getLogger("gateway.uplink")
# the device alerts the DCC turns into alerts of its own (CCS08 the hub's, CS09 the PPMID's)
DCC_ALERTS = {
    FIRMWARE_TRANSFER_ALERT: transfer_dcc_alert,
    CS09.message_code: ppmid_activation_dcc_alert,
}


class Uplink:
    def __init__(
        self,
        store: Store,
        users: Mapping[Eui64, UserConfig],
        deadlines: Deadlines,
        outbox: Outbox,
        inventory: Inventory,
        archive: LogArchive | None = None,
        certificates: DeviceCertificates | None = None,
    ) -> None:
        self.store = store
        self.users = users
        self.deadlines = deadlines
        self.outbox = outbox
        self.inventory = inventory  # the DCC's, which a successful answer may change
        self.archive = archive  # the DCC's copy of the device logs the hubs report
        self.certificates = certificates  # SMKI's device certificates: which one is in use
        # the DCC schedule a request ran for (its answer is a DSPScheduledMessage), or None
        self.schedule_of: Callable[[str], int | None] = lambda _request_id: None

    def _archive(self, hub: Eui64, msg: GbcsMessage) -> None:
        """Keep the device log ``msg`` reports, if it is from ``hub`` or a device the
        inventory has on it (a hub reports no other hub's log)."""
        device = Eui64(msg.header.originator)
        known = self.inventory.get(device)
        if self.archive is None or (device != hub and (known is None or known.hub != hub)):
            return
        kept = self.archive.keep_reported(hub, msg)
        if kept is not None:
            log.info(
                "archive.device_log",
                extra={"device": device.duis, "hub": hub.duis, "kind": kept,
                       "message_code": f"{msg.message_code:04X}"},
            )  # fmt: skip

    async def on_uplink(self, hub: Eui64, payload: bytes) -> None:
        try:
            msg = GbcsMessage.decode(payload)
        except DecodeError as exc:
            log.warning("wan.bad_uplink", extra={"device": hub.duis, "error": str(exc)})
            return
        if msg.cra is Cra.RESPONSE:
            self._response(hub, msg, payload)
        elif msg.cra is Cra.ALERT:
            self._alert(hub, msg, payload)
        else:
            log.warning(
                "wan.unexpected_command", extra={"device": Eui64(msg.header.originator).duis}
            )

    def _response(self, hub: Eui64, msg: GbcsMessage, payload: bytes) -> None:
        """Settle the command it answers, finish its request and queue the response for
        its user: one transaction, so a crash leaves the command pending (E21 at its
        deadline) or answered, never settled without an answer."""
        h = msg.header
        device, user, counter = Eui64(h.originator), Eui64(h.recipient), h.counter
        party = h.other
        if party.remote_party_id is not None and party.remote_party_counter is not None:
            # the answer to the ACB's command for an unknown remote party: the party's request
            user, counter = Eui64(party.remote_party_id), party.remote_party_counter
        crashpoint("before-settle")
        with self.store.transaction():
            p = self.deadlines.settle(device, counter, user)
            if p is None:
                log.warning(
                    "wan.unmatched_response",
                    extra={
                        "device": device.duis,
                        "counter": counter,
                        "message_code": f"{h.message_code:04X}",
                    },
                )
                return
            requester = RequestId.parse(p.request_id).originator  # a DCC party answered for it
            self.store.hop(p.request_id, "wan.response", hub=hub.duis)
            self.store.finish(p.request_id, "responded", codes.SUCCESS)
            self._archive(hub, msg)  # a CCS07 or GCS59 answer: the log it reports
            effect = None if p.effect is None else Effect.from_json(p.effect)
            if effect is not None and effect.timing != NOW and cos.accepted(msg):
                cos.on_accepted(self.store, effect, p)  # a future-dated 6.23: held
            elif effect is not None and effect.timing == NOW and _succeeded(msg):
                if effect.certificate is not None and self.certificates is not None:
                    self.certificates.in_use(effect.certificate)  # 6.15.2: the device took it
                changed = effect.apply(self.inventory)
                if changed is not None:
                    self.store.hop(p.request_id, "inventory", device=changed.eui.duis,
                                   status=changed.status)  # fmt: skip
            schedule = self.schedule_of(p.request_id)
            response = Response(
                codes.SUCCESS,
                now(),
                "ResponseMessage",
                RequestId.parse(p.request_id),
                RequestId(device, requester, counter),
                p.service_reference,
                p.srv,
                gbcs_payload=payload if schedule is None else None,
                content=None if schedule is None else scheduled_message(payload, schedule),
            )
            self.outbox.queue(requester, p.request_id, "response", response)
        log.info("duis.response", extra={"request_id": p.request_id, "device": device.duis})

    def _alert(self, hub: Eui64, msg: GbcsMessage, payload: bytes) -> None:
        h = msg.header
        device, user = Eui64(h.originator), Eui64(h.recipient)
        dcc_alert = DCC_ALERTS.get(h.message_code)
        if dcc_alert is not None:  # to the ACB: the DCC's own alert for the 11.1/11.4 sender
            found = dcc_alert(self.store, hub, msg)
            if found is not None:
                self._queue_alert(hub, msg, *found)
            return
        if h.message_code == CS14.message_code:  # to the ACB: the DCC keeps the log
            with self.store.transaction():
                self._archive(hub, msg)
            return
        if h.message_code == FUTURE_DATED_CREDENTIALS and user not in self.users:
            with self.store.transaction():  # to TransCoS: the gaining supplier's, recorded
                gaining = cos.carried_out(self.store, self.inventory, msg)
                if gaining is not None:
                    alert = _device_alert(msg, payload, gaining)
                    self._queue_alert(hub, msg, gaining, alert)
            return
        if user not in self.users:
            log.warning(
                "wan.alert_for_unknown_user", extra={"device": device.duis, "user": user.duis}
            )
            return
        self._queue_alert(hub, msg, user, _device_alert(msg, payload, user))

    def _queue_alert(self, hub: Eui64, msg: GbcsMessage, user: Eui64, response: Response) -> None:
        """Record an alert and queue it for ``user``: together, and only once."""
        h = msg.header
        code = response.alert_code or ""
        device = Eui64(h.originator)
        # recorded by its raiser's counter: a DCC alert's own ID names the DCC, so two devices'
        # alerts with the same counter (a hub's CCS08, a PPMID's CS09) would collide in it
        alert_id = RequestId(device, user, h.counter)
        with self.store.transaction():  # recorded and queued together, and only once
            if self.store.request(str(alert_id)) is not None:
                log.info("wan.duplicate_alert", extra={"device": device.duis, "alert_code": code})
                return
            self.store.new_request(
                str(alert_id),
                srv=None,
                cv=None,
                message_code=f"{h.message_code:04X}",
                sender=device.duis,
                target=user.duis,
                hub=hub.duis,
                received=time.time(),
                outcome="alert",
                response_code=codes.SUCCESS,
            )
            self.store.hop(str(alert_id), "wan.alert", hub=hub.duis, alert_code=code)
            self.outbox.queue(user, None, "alert", response)
        log.info(
            "duis.device_alert" if response.kind == "DeviceAlertMessage" else "duis.dcc_alert",
            extra={"device": device.duis, "alert_code": code},
        )

    async def on_trace(self, hub: Eui64, data: dict[str, Any]) -> None:
        try:
            user, device = Eui64.parse(data["user"]), Eui64.parse(data["device"])
            rid = f"{user.duis}:{device.duis}:{int(data['counter'])}"
            self.store.hop(rid, str(data["hop"]), at=float(data["at"]), hub=hub.duis)
        except (KeyError, ValueError, TypeError):
            log.warning("wan.bad_trace", extra={"device": hub.duis})


def _device_alert(msg: GbcsMessage, payload: bytes, user: Eui64) -> Response:
    """The DUIS device alert for ``user`` carrying the device's alert ``msg`` (``payload``,
    its bytes as they came) whole."""
    code = f"{alert_code(msg) or asn1_alert_code(msg.payload) or 0:04X}"  # 0x00CA: ASN.1
    return Response(
        codes.SUCCESS,
        now(),
        "DeviceAlertMessage",
        None,
        RequestId(Eui64(msg.header.originator), user, msg.header.counter),
        gbcs_payload=payload,
        alert_code=code,
    )


def _succeeded(msg: GbcsMessage) -> bool:
    """Whether an answer reports every part done: a DLMS access-response's results all 0, a
    GBZ answer without a failing Default Response, or an ASN.1 answer whose last field, its
    result, is 0 (GCS28) (the DCC reads the results of the answers that change its
    inventory, never their values)."""
    try:
        if msg.message_code in CREDENTIAL_UPDATES:  # CS02b: every replacement's status 0
            outcome = outcome_of(msg.payload)
            return outcome is not None and outcome.succeeded
        if msg.message_code == CS02D.message_code:  # the device took its certificate
            return certificate_update_of(msg.payload) == 0
        if msg.payload[:1] == b"\x30":  # a DER SEQUENCE: the GSME's GCS28 answer
            fields = answer_fields(msg.payload)
            last = fields[-1] if fields else None
            return last is not None and (last.cls, last.number) == (0, 2) and integer_of(last) == 0
        if msg.payload[:2] == gbz.PROFILE_ID.to_bytes(2, "big"):
            return all(
                gbz.parse_default_response(c.payload)[1] == gbz.ZCL_SUCCESS
                for c in gbz.decode(msg.payload).components
                if c.encrypted is None and c.zcl.command == gbz.DEFAULT_RESPONSE
            )
        apdu = dlms.decode(msg.payload)
    except DecodeError:
        return False
    return isinstance(apdu, dlms.AccessResponse) and all(r.result == 0 for r in apdu.results)
