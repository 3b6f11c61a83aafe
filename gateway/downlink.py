"""The DCC's downlink: a DUIS request in, and on its way.

Admission (:mod:`gateway.admission`) first. A non-device request is answered by the DCC's
own service (:mod:`gateway.dcc_services`) in the HTTP reply. A device request is
transformed into the GBCS command of its use case (:mod:`gateway.transform`): a critical
one comes back as the pre-command for the user to sign (CV 4) and goes out when it
returns signed (CV 5). The command is MAC'd as the access control broker, recorded as
pending with its deadline, and published to the device's hub over the WAN; the
acknowledgement (I99) goes back at once.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import time
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from lxml import etree

from gateway import inventory
from gateway.admission import Admitted, Refused, admit
from gateway.config import GatewayConfig
from gateway.crashpoints import crashpoint
from gateway.credentials import dcc_key
from gateway.dcc_services import DccState, ServiceRefused, service_for
from gateway.deadlines import Deadlines
from gateway.eligibility import responsible
from gateway.inventory import Inventory, effect_of
from gateway.outbox import Outbox
from gateway.publisher import Publisher
from gateway.schedules import Schedule
from gateway.store import Pending, Store
from gateway.transform import TransformInput, served, transform_for
from gateway.transform.registry import Peer, Transform, TransformRefused
from gateway.wan import WanRouter
from rig.protocol.codec import DecodeError
from rig.protocol.duis import codes
from rig.protocol.duis.bodies import pre_command
from rig.protocol.duis.message import Response, now
from rig.protocol.duis.srv import SrvTable
from rig.protocol.duis.xml import text
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import security
from rig.protocol.gbcs.catalogue import CATALOGUE
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, for_unknown_remote_party
from rig.protocol.keystore import KeyStore
from rig.protocol.smki import Usage
from rig.runtime.http import header_text

log = logging.getLogger("gateway.downlink")


# SRVs whose command a DCC party originates and signs although its use case is the DCC
# User's own (6.21: CS02b SupplierBySupplier / NOByNO, critical when a party rolls its own
# keys with 6.15.1; on a handover the ACB, which holds the cells, signs it)
SRV_SIGNED_BY = {"6.21": "ACB"}


def signing_party(a: Admitted) -> str | None:
    """The DCC party that originates and signs the admitted request's command in its own
    name, with its own counter ("TransCoS", "ACB"), or None: the User's own, or the ACB's
    MAC alone."""
    uc = a.use_case
    return SRV_SIGNED_BY.get(a.srv.variant) or (None if uc is None else uc.signed_by)


@dataclass
class Reply:
    """The synchronous HTTP reply to a DUIS request."""

    status: int
    body: bytes
    code: str
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)


class Downlink:
    def __init__(
        self,
        config: GatewayConfig,
        store: Store,
        wan: WanRouter,
        keys: KeyStore,
        srvs: SrvTable,
        outbox: Outbox,
        deadlines: Deadlines,
    ) -> None:
        self.config = config
        self.store = store
        self.wan = wan
        self.keys = keys
        self.srvs = srvs
        self.outbox = outbox
        self.deadlines = deadlines
        self.users = {u.eui: u for u in config.users}
        inventory = Inventory(store.db, config.devices)
        self.dcc = DccState(inventory, {d.eui: d for d in config.boxed})
        self.acb_ka = dcc_key(keys, config, Usage.KA)
        self.publisher = Publisher(store, wan)

    async def submit(self, url: str, body: bytes) -> Reply:
        received = time.time()
        try:
            admitted = admit(
                url,
                body,
                max_body=self.config.max_body,
                keys=self.keys,
                users=self.users,
                devices=self.dcc.devices,
                dcc=self.config.acb_eui,
                last_counter=self.store.last_counter,
                xsd=self.outbox.xsd,
                srvs=self.srvs,
                catalogue=CATALOGUE,
            )
            return self._accept(url, admitted, received)
        except Refused as refusal:
            return self._refuse(url, refusal)

    # --- refusals and acknowledgements -------------------------------------------------------
    def _refuse(self, url: str, refusal: Refused) -> Reply:
        """The refusal: a DUIS acknowledgement with its code wherever the request names
        its RequestID (even one that is not valid DUIS), else a plain body."""
        header = refusal.header
        rid = str(header.request_id) if header else None
        sender = header.request_id.originator.duis if header else None
        self.store.audit(sender, rid, url, refusal.code, refusal.reason)
        log.warning(
            "duis.refused",
            extra={"request_id": rid, "code": refusal.code, "reason": refusal.reason, "url": url},
        )
        headers = {"X-Rig-Reason": header_text(refusal.reason)}
        if header is None:  # not even a RequestID to answer to: the documented plain body
            plain = f"{refusal.code} {codes.MEANING[refusal.code]}\n{refusal.reason}\n"
            return Reply(400, plain.encode(), refusal.code, refusal.reason, headers)
        ack = Response(
            refusal.code,
            now(),
            "ResponseMessage",
            header.request_id,
            service_reference=header.service_reference,
            srv=header.srv,
        )
        body = etree.tostring(ack.to_element(), xml_declaration=True, encoding="UTF-8")
        return Reply(400, body, refusal.code, refusal.reason, headers)

    def _ack(self, a: Admitted, code: str, content: etree._Element | None = None) -> Reply:
        req = a.request
        resp = Response(
            code,
            now(),
            "ResponseMessage",
            req.request_id,
            service_reference=req.service_reference,
            srv=req.srv,
            content=content,
        )
        return Reply(200, self.outbox.sign(resp), code)

    def _take_counter(self, a: Admitted) -> None:
        rid = a.request.request_id
        if not self.store.take_counter(rid.originator.duis, rid.counter):
            raise Refused(
                codes.INVALID_USER, f"RequestID counter {rid.counter} was already used", a.request
            )

    def _envelope(
        self,
        url: str,
        a: Admitted,
        received: float,
        outcome: str,
        code: str,
        hub: Eui64 | None = None,
    ) -> None:
        """The request's envelope, first hops and audit row (inside the caller's transaction)."""
        rid = str(a.request.request_id)
        self.store.audit(a.user.eui.duis, rid, url, code, outcome)
        uc = a.use_case
        self.store.new_request(
            rid,
            srv=a.srv.variant,
            cv=a.request.command_variant,
            message_code=None if uc is None else f"{uc.message_code:04X}",
            sender=a.user.eui.duis,
            target=a.request.request_id.target.duis,
            hub=None if hub is None else hub.duis,
            received=received,
            outcome=outcome,
            response_code=code,
        )
        self.store.hop(rid, "duis.received", at=received)
        self.store.hop(rid, "duis.validated")

    # --- what an admitted request becomes ------------------------------------------------------
    def _accept(self, url: str, a: Admitted, received: float) -> Reply:
        """Carry out an admitted request. Its counter, envelope, audit row and effect are one
        transaction, committed before the reply is built: a crash before the commit leaves no
        trace, a crash after it leaves a request that is carried to its end."""
        if a.device is None or a.use_case is None:
            return self._dcc_service(url, a, received)
        req = a.request
        uc, device = a.use_case, a.device
        sender, counter = req.request_id.originator, req.request_id.counter
        transform = transform_for(uc)
        assert transform is not None  # admission checked the rig serves it
        if req.command_variant == 4:  # the pre-command, for the user to sign
            given = TransformInput(req, counter, sender, device.eui, self._peer)
            pre = _transformed(transform, uc, given)
            crashpoint("before-commit", str(req.request_id))
            with self.store.transaction():
                self._take_counter(a)
                self.store.put_precommand(
                    str(req.request_id),
                    sender.hex,
                    device.eui.hex,
                    counter,
                    a.srv.variant,
                    pre.encode(),
                )
                self._envelope(url, a, received, "pre-command issued", codes.SUCCESS)
            crashpoint("after-commit", str(req.request_id))
            return self._ack(a, codes.SUCCESS, pre_command(pre.encode()))
        if req.command_variant == 5:
            command = self._signed_pre_command(a)
        elif a.remote_party_cert is not None or uc.acb_originated:
            command = self._for_unknown_remote_party(a, transform)
        elif (party := signing_party(a)) is not None:
            command = self._by_dcc_party(a, transform, party)
        elif uc.acb_own:
            command = self._by_acb(a, transform)
        else:
            given = TransformInput(req, counter, sender, device.eui, self._peer)
            command = _transformed(transform, uc, given)
        self._send(url, a, uc, command, received)
        return self._ack(a, codes.ACKNOWLEDGED)

    def _for_unknown_remote_party(self, a: Admitted, transform: Transform) -> GbcsMessage:
        """The command the ACB originates, with its own counter, for a sender that is not
        the device's known remote party: the sender, its RequestID counter and its KA
        certificate ride as the supplementary remote party (the response comes back to the
        ACB, encrypted for the sender)."""
        req, uc, device, cert = a.request, a.use_case, a.device, a.remote_party_cert
        assert uc is not None and device is not None  # no cert: for a DCC User (the CHF's)
        acb = self.config.acb_eui
        counter = self.store.next_counter(f"{acb.duis} (ACB)", int(time.time() * 1000))
        rid = req.request_id
        given = TransformInput(req, counter, rid.originator, device.eui, self._peer)
        command = _transformed(transform, uc, given)
        return for_unknown_remote_party(command, acb.raw, counter, rid.counter, cert)

    def _by_dcc_party(self, a: Admitted, transform: Transform, party_name: str) -> GbcsMessage:
        """The command a DCC party originates and signs for the DCC User, with its own
        counter (6.23's CS02b: the transitional CoS party; 6.21's: the ACB, which holds the
        cells of a DCC controlled device); the device answers that party, and the DCC hands
        the answer to the User."""
        req, uc, device = a.request, a.use_case, a.device
        assert uc is not None and device is not None
        party = self.config.acb_eui if party_name == "ACB" else self.config.transcos_eui
        try:
            key = dcc_key(self.keys, self.config, Usage.DS, party)
        except ValueError as exc:
            raise Refused(codes.NOT_SERVED, str(exc), req) from None
        counter = self.store.next_counter(f"{party.duis} ({party_name})", int(time.time() * 1000))
        given = TransformInput(req, counter, party, device.eui, self._peer)
        command = _transformed(transform, uc, given)
        return security.sign_message(command, key)

    def _by_acb(self, a: Admitted, transform: Transform) -> GbcsMessage:
        """The command the ACB originates in its own name, with its own counter, for the
        DCC User (6.24.1's CS02a, CS02f); the device answers the ACB, and the DCC hands the
        answer to the User."""
        req, uc, device = a.request, a.use_case, a.device
        assert uc is not None and device is not None
        acb = self.config.acb_eui
        counter = self.store.next_counter(f"{acb.duis} (ACB)", int(time.time() * 1000))
        given = TransformInput(req, counter, acb, device.eui, self._peer)
        return _transformed(transform, uc, given)

    def _peer(self, eui: Eui64) -> Peer:
        """What the DCC holds of another device a request names: its inventory type and
        its KA certificate from SMKI."""
        device = self.dcc.devices.get(eui)
        ka = self.keys.find(eui, Usage.KA)
        return Peer(
            None if device is None else device.type,
            None if ka is None else ka.certificate.public_bytes(serialization.Encoding.DER),
            frozenset() if device is None else device.dcc_cells,
        )

    def _dcc_service(self, url: str, a: Admitted, received: float) -> Reply:
        service = service_for(a.srv.variant)
        assert service is not None  # admission checked the DCC provides it
        with self.store.transaction():
            self._take_counter(a)
            try:
                content = service(a.request, self.dcc)
            except ServiceRefused as exc:  # the transaction rolls back: nothing changed
                raise Refused(exc.code, exc.reason, a.request) from None
            self._envelope(url, a, received, "answered", codes.SUCCESS)
        return self._ack(a, codes.SUCCESS, content)

    def _signed_pre_command(self, a: Admitted) -> GbcsMessage:
        req = a.request
        payload = text(req.body, "sr:GBCSPayload") if req.body_name == "SignedPreCommand" else None
        if not payload:
            raise Refused(codes.WRONG_COMMAND_VARIANT, "CV 5 carries a SignedPreCommand", req)
        try:
            signed = GbcsMessage.decode(base64.b64decode("".join(payload.split()), validate=True))
        except (ValueError, DecodeError) as exc:
            raise Refused(
                codes.NOT_DUIS, f"SignedPreCommand is not a GBCS message: {exc}", req
            ) from None
        rid = req.request_id
        issued = self.store.find_precommand(rid.originator.hex, rid.target.hex, rid.counter)
        if issued is None or signed.signature is None:
            raise Refused(
                codes.INVALID_USER,
                f"no unused pre-command was issued to {rid.originator.duis} for "
                f"{rid.target.duis} with counter {rid.counter}",
                req,
            )
        if (
            signed.without_mac().general_signing()[: len(issued[2])] != issued[2]
            or issued[1] != a.srv.variant
        ):
            raise Refused(
                codes.INVALID_USER, "the signed pre-command differs from the one issued", req
            )
        ds = self.keys.find(rid.originator, Usage.DS)
        try:
            if ds is None:
                raise security.SecurityError(f"no DS certificate for {rid.originator.duis}")
            security.verify_signature(signed, ds.public_key)
        except security.SecurityError as exc:
            raise Refused(codes.INVALID_USER, f"pre-command signature: {exc}", req) from None
        return signed

    def _use_pre_command(self, a: Admitted) -> None:
        """The pre-command a CV 5 request returns signed is used up (once)."""
        rid = a.request.request_id
        if self.store.take_precommand(rid.originator.hex, rid.target.hex, rid.counter) is None:
            raise Refused(
                codes.INVALID_USER, "the pre-command was used by another request", a.request
            )

    def _send(
        self, url: str, a: Admitted, uc: UseCase, command: GbcsMessage, received: float
    ) -> None:
        """MAC the command as the ACB and store it, pending, with its request (one
        transaction); the publisher then hands it to the WAN."""
        req, device = a.request, a.device
        assert device is not None
        device_ka = self.keys.find(device.eui, Usage.KA)
        if device_ka is None:
            raise Refused(
                codes.DEVICE_STATUS, f"no KA certificate for {device.eui.duis} in SMKI", req
            )
        maced = security.apply_mac(command, self.acb_ka, device_ka.public_key).encode()
        hub = device.hub or device.eui
        rid = str(req.request_id)
        # the answer names whoever originated the command: the User (its RequestID counter),
        # or the DCC party that did for it (its own counter)
        by_party = signing_party(a) is not None or uc.acb_own
        effect = effect_of(a.srv.variant, req.body, device.eui, a.user.eui, command.payload)
        pending = Pending(
            device.eui.hex,
            command.header.counter if by_party else req.request_id.counter,
            Eui64(command.header.originator).hex if by_party else req.request_id.originator.hex,
            rid,
            a.srv.variant,
            req.service_reference,
            hub.hex,
            received + self.config.response_time(device.type),
            None if effect is None else effect.to_json(),
        )
        crashpoint("before-commit", rid)
        with self.store.transaction():
            if req.command_variant != 5:  # CV 5 used the pre-command's counter
                self._take_counter(a)
            else:
                self._use_pre_command(a)
            self._envelope(url, a, received, "accepted", codes.ACKNOWLEDGED, hub=hub)
            self.store.hop(
                rid, "gbcs.maced", message_code=f"{uc.message_code:04X}", bytes=len(maced)
            )
            self.store.put_pending(pending, maced)
            self.store.sent(rid, maced)
        crashpoint("after-commit", rid)
        self.deadlines.arm(pending)
        self.publisher.wake()
        log.info(
            "duis.accepted",
            extra={
                "request_id": rid,
                "srv": a.srv.variant,
                "device": device.eui.duis,
                "message_code": f"{uc.message_code:04X}",
            },
        )

    def run_scheduled(self, schedule: Schedule, at: dt.datetime) -> str:
        """Send the request a DCC schedule stands for at ``at`` (the caller's transaction):
        the User's request as it could send it on demand, under a RequestID counter the DCC
        takes from the User's series. The checks are admission's for that device again (it
        may have changed hands or status since the schedule was made); a failing one raises
        :class:`Refused`. Returns the RequestID."""
        user = self.users.get(schedule.owner)
        device = self.dcc.devices.get(schedule.device)
        service = self.srvs.lookup(schedule.srv)
        if user is None or device is None:
            raise Refused(codes.DEVICE_UNKNOWN, "the schedule's user or device is gone")
        if not inventory.allows(device.status, schedule.srv):
            raise Refused(codes.DEVICE_STATUS, f"device {device.eui.duis} is {device.status}")
        uc = served(CATALOGUE, schedule.srv, device.type)
        transform = None if uc is None else transform_for(uc)
        if uc is None or transform is None:
            raise Refused(codes.NOT_SERVED, f"SRV {schedule.srv} is not served for {device.type}")
        roles = [r for r in user.all_roles if service.allows(r)]
        if not responsible(user.eui, roles, device, self.dcc.devices, users_own=uc.users_own):
            raise Refused(
                codes.NOT_AUTHORISED_FOR_DEVICE,
                f"{user.name} is no longer responsible for {device.eui.duis}",
            )
        counter = max((self.store.last_counter(user.eui.duis) or 0) + 1, time.time_ns() // 10**6)
        request = schedule.request(at, counter, service.service_reference)
        a = Admitted(request, service, user, device, uc)
        given = TransformInput(request, counter, user.eui, device.eui, self._peer)
        self._send("schedule", a, uc, _transformed(transform, uc, given), time.time())
        return str(request.request_id)


def _transformed(transform: Transform, uc: UseCase, given: TransformInput) -> GbcsMessage:
    """The command, or the request refused with the transform's code and reason."""
    try:
        return transform(uc, given)
    except TransformRefused as exc:
        raise Refused(exc.code, str(exc), given.request) from None
