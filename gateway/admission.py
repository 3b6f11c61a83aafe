"""Admitting a DUIS request: the DCC's checks, in order, each failing with its DUIS code.

Size, UTF-8, XML safety and the DUIS schema; the XML signature against the sender's
registered XML-signing certificate; the sender is a registered DCC User; the body is the
one the header's SRV defines (a SignedPreCommand for command variant 5); the URL takes the
command variant and the variant suits the SRV (critical only as 4 then 5); the rig serves
the variant (not yet 2, 3, 6, 7: local delivery); the role may send the SRV; the rig serves
the SRV (a non-device SRV has a DCC service, a device SRV a use case with a transform for
the target's type); the target exists, suits the SRV and is in a state that allows it;
the sender is responsible for it, or is a supplier of its kind gaining it (6.23, the change
of supplier), or (for a use case an unknown remote party may send, 4.14) offers a KA
certificate SMKI holds for it, which the ACB then carries to the device.
The RequestID counter is checked here and taken by the caller in the transaction that
records the request, so a refused request does not burn a counter. A refusal names what
the request named (:class:`Named`), even one that is not valid DUIS, so the sender gets a
DUIS acknowledgement with the code wherever possible.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from gateway import inventory
from gateway.config import DeviceConfig, UserConfig
from gateway.dcc_services import service_for
from gateway.eligibility import hub_suppliers as hub_suppliers  # re-exported
from gateway.eligibility import responsible
from gateway.transform import served
from rig.protocol.duis import bodies, codes, schema, srv, xmldsig
from rig.protocol.duis.message import DuisError, Request, RequestId, parse_request
from rig.protocol.duis.xml import NS, SR, XmlError, parse, text
from rig.protocol.eui import Eui64
from rig.protocol.gbcs.usecase import Catalogue, UseCase
from rig.protocol.keystore import KeyStore
from rig.protocol.smki import Usage

# SRVs of a dual-band comms hub's Sub GHz HAN (DBCH01-05), which a 2.4 GHz rig never serves
SUB_GHZ_SRVS = frozenset({"6.28", "6.29", "6.30", "6.31", "6.32"})
# SRVs the gaining supplier sends before it is responsible (6.23: the change of supplier),
# and the role a gaining supplier of each device type has
GAINING_SUPPLIER_SRVS = {"6.23"}
GAINING_ROLE = {"ESME": "IS", "GSME": "GS"}


_SRV = re.compile(r"^[0-9]{1,2}(\.[0-9]{1,2}){0,2}$")
LOCAL_DELIVERY = {2: "returned for local delivery", 3: "sent and returned for local delivery"}
LOCAL_DELIVERY |= {6: LOCAL_DELIVERY[2], 7: LOCAL_DELIVERY[3]}


@dataclass(frozen=True, slots=True)
class Named:
    """What a refusal answers to: the RequestID and service the sender named."""

    request_id: RequestId
    service_reference: str
    srv: str


class Refused(Exception):
    def __init__(
        self,
        code: str,
        reason: str,
        request: Request | None = None,
        named: Named | None = None,
    ) -> None:
        super().__init__(reason)
        self.code, self.reason, self.request = code, reason, request
        if named is None and request is not None:
            named = Named(request.request_id, request.service_reference, request.srv)
        self.header = named


def named_in(tree: etree._ElementTree | None) -> Named | None:
    """The RequestID and service a document that is not valid DUIS still names, if it
    names all three well enough to answer to (DCC Boxed acknowledges such a request)."""
    if tree is None:
        return None
    header = tree.getroot().find("sr:Header", NS)
    if header is None:
        return None
    rid, ref, variant = (
        text(header, f"sr:{name}")
        for name in ("RequestID", "ServiceReference", "ServiceReferenceVariant")
    )
    if not (rid and ref and variant and _SRV.match(ref) and _SRV.match(variant)):
        return None
    try:
        return Named(RequestId.parse(rid), ref, variant)
    except DuisError:
        return None


@dataclass(frozen=True, slots=True)
class Admitted:
    request: Request
    srv: srv.Srv
    user: UserConfig
    device: DeviceConfig | None  # None for a non-device request
    use_case: UseCase | None  # what the DCC transforms a device request into
    # the sender's KA certificate (DER) when it is an unknown remote party to the device:
    # the ACB then originates the command for it (4.14's URP variant)
    remote_party_cert: bytes | None = None


def admit(
    url: str,
    body: bytes,
    *,
    max_body: int,
    keys: KeyStore,
    users: dict[Eui64, UserConfig],
    devices: Mapping[Eui64, DeviceConfig],
    dcc: Eui64,
    last_counter: Callable[[str], int | None],
    xsd: etree.XMLSchema,
    srvs: srv.SrvTable,
    catalogue: Catalogue,
) -> Admitted:
    if len(body) > max_body:
        raise Refused(codes.NOT_DUIS, f"request of {len(body)} bytes exceeds {max_body} bytes")
    tree = None
    try:
        tree = parse(body)
        root = tree.getroot()
        if root.tag != f"{{{SR}}}Request":
            raise DuisError(f"expected sr:Request, found {etree.QName(root).localname}")
        request = parse_request(root)
    except (XmlError, DuisError) as exc:
        raise Refused(codes.NOT_DUIS, str(exc), named=named_in(tree)) from None
    try:
        schema.validate(tree, xsd)
    except schema.SchemaError as exc:
        raise Refused(
            codes.NOT_DUIS, f"not valid against the DUIS schema: {exc}", request
        ) from None
    sender = request.request_id.originator
    user = users.get(sender)
    if user is None:
        raise Refused(codes.INVALID_USER, f"{sender.duis} is not a registered DCC User", request)
    try:
        signer = xmldsig.verify(root, keys)
    except (xmldsig.SignatureError, ValueError) as exc:
        raise Refused(codes.INVALID_USER, f"XML signature: {exc}", request) from None
    if signer.usage is not Usage.XML or signer.eui != sender:
        raise Refused(
            codes.INVALID_USER,
            f"signed with {signer.usage.value} credential of {signer.eui.duis}, not the "
            f"XML-signing certificate of {sender.duis}",
            request,
        )
    try:
        service = srvs.lookup(request.srv)
    except KeyError as exc:
        raise Refused(codes.NOT_DUIS, str(exc), request) from None
    cv = request.command_variant
    expected = bodies.SRV_BODIES.get(service.variant)
    if cv == 5:
        expected = "SignedPreCommand"
    if expected is not None and request.body_name != expected:
        raise Refused(
            codes.NOT_DUIS,
            f"SRV {service.variant} (command variant {cv}) takes a {expected} body, "
            f"not {request.body_name}",
            request,
        )
    if cv not in codes.URL_VARIANTS.get(url, ()):
        raise Refused(
            codes.WRONG_URL, f"command variant {cv} is not taken by /api/v1/{url}", request
        )
    if cv not in service.command_variants:
        kind = (
            "non-device"
            if service.non_device
            else "critical"
            if service.critical
            else "non-critical"
        )
        raise Refused(
            codes.WRONG_COMMAND_VARIANT,
            f"SRV {service.variant} is {kind}: command variants "
            f"{service.command_variants}, not {cv}",
            request,
        )
    if cv in LOCAL_DELIVERY:
        raise Refused(
            codes.NOT_SERVED,
            f"command variant {cv} (the command {LOCAL_DELIVERY[cv]}) is not served by this "
            "rig yet; nothing was done: send command variant "
            f"{'1' if cv in (2, 3) else '5'} for delivery over the WAN",
            request,
        )
    roles = [r for r in user.all_roles if service.allows(r)]  # the roles it sends it in
    if not roles:
        raise Refused(
            codes.ROLE_NOT_ELIGIBLE,
            f"role {'+'.join(user.all_roles)} may not send SRV {service.variant}",
            request,
        )
    last = last_counter(sender.duis)
    if last is not None and request.request_id.counter <= last and cv != 5:
        raise Refused(
            codes.INVALID_USER,
            f"RequestID counter {request.request_id.counter} is not above {last}, "
            f"the last one from {sender.duis}: replayed or out of order",
            request,
        )
    target = request.request_id.target
    if service.non_device:
        if target != dcc:
            raise Refused(
                codes.DEVICE_UNKNOWN, f"a non-device request targets the DCC ({dcc.duis})", request
            )
        if service_for(service.variant) is None:
            raise Refused(
                codes.NOT_SERVED,
                f"SRV {service.variant} ({service.name}) is a DCC service this rig does not "
                "provide yet; nothing was done",
                request,
            )
        return Admitted(request, service, user, None, None)
    device = devices.get(target)
    if device is None:
        raise Refused(
            codes.DEVICE_UNKNOWN, f"device {target.duis} is not in the inventory", request
        )
    if not inventory.allows(device.status, service.variant):
        raise Refused(
            codes.DEVICE_STATUS,
            f"device {target.duis} is {device.status}: it does not take SRV {service.variant}",
            request,
        )
    use_case = served(catalogue, service.variant, device.type)
    if use_case is None:
        if service.variant in SUB_GHZ_SRVS:
            raise Refused(
                codes.NOT_SERVED,
                f"SRV {service.variant} ({service.name}) needs a dual-band comms hub with a "
                "Sub GHz HAN; the rig's HAN is 2.4 GHz only, so the rig never serves it; "
                "nothing was sent to the device",
                request,
            )
        if service.variant not in catalogue.srvs():
            raise Refused(
                codes.NOT_SERVED,
                f"SRV {service.variant} ({service.name}) is not served by this rig yet; "
                "nothing was sent to the device",
                request,
            )
        raise Refused(
            codes.WRONG_DEVICE_TYPE,
            f"SRV {service.variant} is not served for a {device.type} by this rig",
            request,
        )
    # eligibility per role: a supplier role makes it responsible for the meters it supplies
    # (and their hub), a network operator role for those it operates
    if responsible(sender, roles, device, devices, users_own=use_case.users_own):
        return Admitted(request, service, user, device, use_case)
    if "OU" in roles and use_case.acb_originated:
        # an Other User is no device's responsible party: the ACB sends the command in its
        # own name (9.1's CIN), the Other User riding along as the supplementary remote party
        return Admitted(request, service, user, device, use_case)
    if service.variant in GAINING_SUPPLIER_SRVS and GAINING_ROLE.get(device.type) in roles:
        return Admitted(request, service, user, device, use_case)  # the gaining supplier
    offered = text(request.body, "sr:KAPublicSecurityCredentials")
    if not use_case.unknown_remote_party or not offered:
        how = (
            "; as an unknown remote party, send your KAPublicSecurityCredentials"
            if use_case.unknown_remote_party
            else ""
        )
        raise Refused(
            codes.NOT_AUTHORISED_FOR_DEVICE,
            f"{user.name} ({'+'.join(roles)}) is not the responsible party of {target.duis}{how}",
            request,
        )
    cert = remote_party_certificate(offered, request, keys)
    return Admitted(request, service, user, device, use_case, cert)


def remote_party_certificate(offered: str, request: Request, keys: KeyStore) -> bytes:
    """The DER of the KAPublicSecurityCredentials an unknown remote party sent: it must be
    a KA certificate SMKI holds for the sender (E1 otherwise), as DCC checks it against
    the SMKI repository before the ACB carries it to the device."""
    sender = request.request_id.originator
    try:
        der = base64.b64decode("".join(offered.split()), validate=True)
        x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise Refused(
            codes.INVALID_USER, f"KAPublicSecurityCredentials is not a DER certificate: {exc}",
            request,
        ) from None  # fmt: skip
    held = {c.certificate.public_bytes(Encoding.DER) for c in keys.credentials(sender, Usage.KA)}
    if der not in held:
        raise Refused(
            codes.INVALID_USER,
            f"KAPublicSecurityCredentials is not a KA certificate SMKI holds for "
            f"{sender.duis}: send your own",
            request,
        )
    return der
