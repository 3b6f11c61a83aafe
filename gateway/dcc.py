"""The DCC's work on a request: admit, transform to GBCS, MAC as access control broker,
send to the hub, time it, match the device's answer and queue it for the DCC User.

Synchronous answers (acknowledgements, pre-commands, the inventory) go back in the
HTTP reply; device responses, device alerts and failures are signed with the DCC's
XML key and put in the outbox, from which :mod:`gateway.delivery` POSTs them. The
GBCS between DCC User and device stays opaque: the gateway reads only its grouping
header (who, which message code, which counter), never a payload.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from dataclasses import dataclass, field

from cryptography import x509
from lxml import etree

from gateway.admission import Admitted, Refused, admit
from gateway.config import GatewayConfig
from gateway.store import Pending, Store
from gateway.wan import WanRouter, WanUnavailable
from rig.protocol.codec import DecodeError
from rig.protocol.duis import codes
from rig.protocol.duis.message import RequestId, Response, now
from rig.protocol.duis.signed import sign_document
from rig.protocol.duis.xml import SR, text
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import security, usecases
from rig.protocol.gbcs.frame import Cra, GbcsMessage
from rig.protocol.keystore import KeyStore, private_key_from_pem
from rig.protocol.smki import Usage
from rig.runtime.reference import read_schema, read_srv_table

log = logging.getLogger("gateway.dcc")
_E = f"{{{SR}}}"


@dataclass
class Reply:
    status: int
    body: bytes
    code: str
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def load_keys(config: GatewayConfig) -> KeyStore:
    keys = KeyStore()
    for c in config.certificates:
        cert = x509.load_pem_x509_certificate(c.cert.read_bytes())
        key = None if c.key is None else private_key_from_pem(c.key.read_bytes(), str(c.key))
        keys.add(c.eui, c.usage, cert, key, name=c.cert.name)
    return keys


class Dcc:
    def __init__(self, config: GatewayConfig, store: Store, wan: WanRouter) -> None:
        self.config = config
        self.store = store
        self.wan = wan
        self.keys = load_keys(config)
        self.xsd = read_schema(config.duis_schema)
        self.srvs = read_srv_table(config.srv_matrix)
        self.users = {u.eui: u for u in config.users}
        self.devices = {d.eui: d for d in config.devices}
        acb = config.acb_eui
        ka, xml = self.keys.private(acb, Usage.KA), self.keys.private(acb, Usage.XML)
        if ka is None or xml is None:
            raise ValueError(f"the gateway needs the ACB's KA and XML private keys ({acb.duis})")
        self.acb_ka, self.xml_signer = ka, xml
        self.delivery_wakeup = asyncio.Event()
        self._timers: dict[tuple[str, int, str], asyncio.TimerHandle] = {}
        self.wan.on_uplink = self.on_uplink
        self.wan.on_trace = self.on_trace

    # --- the DUIS interface ------------------------------------------------------------
    async def submit(self, url: str, body: bytes) -> Reply:
        received = time.time()
        try:
            admitted = admit(
                url,
                body,
                max_body=self.config.max_body,
                keys=self.keys,
                users=self.users,
                devices=self.devices,
                dcc=self.config.acb_eui,
                last_counter=self.store.last_counter,
                xsd=self.xsd,
                srvs=self.srvs,
            )
            reply = self._accept(url, admitted, received)
        except Refused as refusal:
            return self._refuse(url, refusal, received)
        rid = admitted.request.request_id
        self.store.audit(rid.originator.duis, str(rid), url, reply.code, reply.reason)
        return reply

    def _refuse(self, url: str, refusal: Refused, received: float) -> Reply:
        req = refusal.request
        rid = str(req.request_id) if req else None
        sender = req.request_id.originator.duis if req else None
        self.store.audit(sender, rid, url, refusal.code, refusal.reason)
        log.warning(
            "duis.refused",
            extra={"request_id": rid, "code": refusal.code, "reason": refusal.reason, "url": url},
        )
        headers = {"X-Rig-Reason": refusal.reason.replace("\n", " ")[:300]}
        if req is None:
            return Reply(400, f"{refusal.code}\n".encode(), refusal.code, refusal.reason, headers)
        ack = Response(
            refusal.code,
            now(),
            "ResponseMessage",
            req.request_id,
            service_reference=req.service_reference,
            srv=req.srv,
        )
        body = etree.tostring(ack.to_element(), xml_declaration=True, encoding="UTF-8")
        return Reply(400, body, refusal.code, refusal.reason, headers)

    def _accept(self, url: str, a: Admitted, received: float) -> Reply:
        req = a.request
        rid = str(req.request_id)
        sender = req.request_id.originator
        cv = req.command_variant
        if a.device is None:  # 8.2 read inventory, answered by the DCC itself
            self._take_counter(a)
            return self._sync(a, self._inventory(req.body))
        device = a.device
        uc = usecases.BY_SRV[(a.srv.variant, device.type)]
        counter = req.request_id.counter
        if cv == 4:  # transform: the pre-command for the user to sign
            self._take_counter(a)
            pre = usecases.command(uc, counter, sender.raw, device.eui.raw)
            self.store.put_precommand(
                rid, sender.hex, device.eui.hex, counter, a.srv.variant, pre.encode()
            )
            self._envelope(a, uc, received, "pre-command issued", codes.SUCCESS)
            return self._sync(a, _pre_command(pre.encode()))
        if cv == 5:
            command = self._signed_pre_command(a, uc)
        else:
            self._take_counter(a)
            command = usecases.command(uc, counter, sender.raw, device.eui.raw)
        device_ka = self.keys.find(device.eui, Usage.KA)
        if device_ka is None:
            raise Refused(
                codes.DEVICE_STATUS, f"no KA certificate for {device.eui.duis} in SMKI", req
            )
        maced = security.apply_mac(command, self.acb_ka.private_key, device_ka.public_key)  # type: ignore[arg-type]
        hub = device.hub or device.eui
        deadline = received + self.config.response_time(device.type)
        self._envelope(a, uc, received, "accepted", codes.ACKNOWLEDGED, hub=hub)
        self.store.hop(
            rid, "gbcs.maced", message_code=f"{uc.message_code:04X}", bytes=len(maced.encode())
        )
        pending = Pending(
            device.eui.hex,
            counter,
            sender.hex,
            rid,
            a.srv.variant,
            req.service_reference,
            hub.hex,
            deadline,
        )
        self.store.put_pending(pending)
        self._arm(pending)
        asyncio.get_running_loop().create_task(self._dispatch(pending, maced.encode()))
        log.info(
            "duis.accepted",
            extra={
                "request_id": rid,
                "srv": a.srv.variant,
                "device": device.eui.duis,
                "message_code": f"{uc.message_code:04X}",
            },
        )
        return self._ack(a, codes.ACKNOWLEDGED)

    def _take_counter(self, a: Admitted) -> None:
        rid = a.request.request_id
        if not self.store.take_counter(rid.originator.duis, rid.counter):
            raise Refused(
                codes.INVALID_USER, f"RequestID counter {rid.counter} was already used", a.request
            )

    def _signed_pre_command(self, a: Admitted, uc: usecases.UseCase) -> GbcsMessage:
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
        issued = self.store.take_precommand(rid.originator.hex, rid.target.hex, rid.counter)
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

    def _envelope(
        self, a: Admitted, uc, received: float, outcome: str, code: str, hub: Eui64 | None = None
    ):
        rid = str(a.request.request_id)
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
        return Reply(200, sign_document(resp.to_element(), self.xml_signer, xsd=self.xsd), code)

    def _sync(self, a: Admitted, content: etree._Element) -> Reply:
        if a.device is None:
            self._envelope(a, None, time.time(), "answered", codes.SUCCESS)
        return self._ack(a, codes.SUCCESS, content)

    def _inventory(self, body: etree._Element) -> etree._Element:
        wanted = text(body, "sr:DeviceID")
        devices = list(self.devices.values())
        if wanted:
            try:
                eui = Eui64.parse(wanted)
            except ValueError:
                eui = None
            found = self.devices.get(eui) if eui else None
            devices = (
                []
                if found is None
                else [found]
                + (
                    [d for d in devices if d.hub == found.eui and d is not found]
                    if found.type == "CHF"
                    else []
                )
            )
        inv = etree.Element(f"{_E}DSPInventory")
        for d in devices[:17]:
            dev = etree.SubElement(inv, f"{_E}Device")
            for tag, value in (
                ("DeviceID", d.eui.duis),
                ("DeviceType", d.type),
                ("DeviceStatus", d.status),
                ("DeviceManufacturer", "1234"),
                ("DeviceModel", "RIG0001"),
                ("DeviceFirmwareVersion", "00000001"),
                ("DeviceFirmwareVersionStatus", "Active"),
                ("CPLStatus", "Active"),
            ):
                etree.SubElement(dev, f"{_E}{tag}").text = value
        return inv

    # --- the WAN -------------------------------------------------------------------------------
    async def _dispatch(self, p: Pending, gbcs: bytes) -> None:
        hub = Eui64.parse(p.hub)
        while time.time() < p.deadline:
            try:
                await self.wan.send(hub, gbcs, p.deadline)
                self.store.hop(
                    p.request_id, "wan.published", hub=hub.duis, hub_online=self.wan.online(hub)
                )
                return
            except WanUnavailable as exc:
                log.warning("wan.send_retry", extra={"request_id": p.request_id, "error": str(exc)})
                await asyncio.sleep(0.5)

    def _arm(self, p: Pending) -> None:
        loop = asyncio.get_running_loop()
        key = (p.device, p.counter, p.user)
        self._timers[key] = loop.call_at(
            loop.time() + max(0.0, p.deadline - time.time()), self._expire, p
        )

    def rearm(self) -> int:
        """After a restart: every command still awaiting its device gets its timer back."""
        pending = self.store.all_pending()
        for p in pending:
            self._arm(p)
        return len(pending)

    def _expire(self, p: Pending) -> None:
        self._timers.pop((p.device, p.counter, p.user), None)
        if self.store.take_pending(p.device, p.counter, p.user) is None:
            return
        hub = Eui64.parse(p.hub)
        code = codes.NO_RESPONSE if self.wan.online(hub) else codes.NO_COMMUNICATION
        reason = codes.MEANING[code]
        self.store.hop(p.request_id, "deadline", code=code)
        self.store.finish(p.request_id, "failed", code, reason)
        log.warning(
            "duis.failed", extra={"request_id": p.request_id, "code": code, "device": p.device}
        )
        rid = RequestId.parse(p.request_id)
        response = Response(
            code, now(), "ResponseMessage", rid, service_reference=p.service_reference, srv=p.srv
        )
        self._queue(Eui64.parse(p.user), p.request_id, "failure", response)

    async def on_uplink(self, hub: Eui64, payload: bytes) -> None:
        try:
            msg = GbcsMessage.decode(payload)
        except DecodeError as exc:
            log.warning("wan.bad_uplink", extra={"device": hub.duis, "error": str(exc)})
            return
        h = msg.header
        device, user = Eui64(h.originator), Eui64(h.recipient)
        if h.cra is Cra.RESPONSE:
            p = self.store.take_pending(device.hex, h.counter, user.hex)
            if p is None:
                log.warning(
                    "wan.unmatched_response",
                    extra={
                        "device": device.duis,
                        "counter": h.counter,
                        "message_code": f"{h.message_code:04X}",
                    },
                )
                return
            timer = self._timers.pop((p.device, p.counter, p.user), None)
            if timer is not None:
                timer.cancel()
            self.store.hop(p.request_id, "wan.response", hub=hub.duis)
            self.store.finish(p.request_id, "responded", codes.SUCCESS)
            response = Response(
                codes.SUCCESS,
                now(),
                "ResponseMessage",
                RequestId.parse(p.request_id),
                RequestId(device, user, h.counter),
                p.service_reference,
                p.srv,
                gbcs_payload=payload,
            )
            log.info("duis.response", extra={"request_id": p.request_id, "device": device.duis})
            self._queue(user, p.request_id, "response", response)
        elif h.cra is Cra.ALERT:
            if user not in self.users:
                log.warning(
                    "wan.alert_for_unknown_user", extra={"device": device.duis, "user": user.duis}
                )
                return
            code = usecases.alert_code(msg)
            alert_id = RequestId(device, user, h.counter)
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
            self.store.hop(str(alert_id), "wan.alert", hub=hub.duis, alert_code=f"{code or 0:04X}")
            response = Response(
                codes.SUCCESS,
                now(),
                "DeviceAlertMessage",
                None,
                alert_id,
                gbcs_payload=payload,
                alert_code=f"{code or 0:04X}",
            )
            log.info(
                "duis.device_alert", extra={"device": device.duis, "alert_code": f"{code or 0:04X}"}
            )
            self._queue(user, None, "alert", response)
        else:
            log.warning("wan.unexpected_command", extra={"device": device.duis})

    async def on_trace(self, hub: Eui64, data: dict) -> None:
        try:
            user, device = Eui64.parse(data["user"]), Eui64.parse(data["device"])
            rid = f"{user.duis}:{device.duis}:{int(data['counter'])}"
            self.store.hop(rid, str(data["hop"]), at=float(data["at"]), hub=hub.duis)
        except (KeyError, ValueError, TypeError):
            log.warning("wan.bad_trace", extra={"device": hub.duis})

    # --- the outbox ------------------------------------------------------------------------------
    def _queue(self, user: Eui64, request_id: str | None, kind: str, response: Response) -> None:
        cfg = self.users.get(user)
        if cfg is None:
            log.warning("duis.no_user", extra={"user": user.duis, "request_id": request_id})
            return
        signed = sign_document(response.to_element(), self.xml_signer, xsd=self.xsd)
        self.store.enqueue(user.duis, cfg.receive_url, request_id, kind, signed)
        if request_id:
            self.store.hop(request_id, "duis.queued", kind=kind)
        self.delivery_wakeup.set()


def _pre_command(gbcs: bytes) -> etree._Element:
    pre = etree.Element(f"{_E}PreCommand")
    etree.SubElement(pre, f"{_E}GBCSVersion").text = "4.3"
    etree.SubElement(pre, f"{_E}GBCSPayload").text = base64.b64encode(gbcs).decode()
    return pre


__all__ = ["Dcc", "Reply", "load_keys"]
