"""Which handler serves a use case on a device, and the generic handlers most use cases need.

A DLMS use case is served from the device model's COSEM object server, a GBZ use case
from its ZCL attribute server: reading or writing an attribute is a table entry in the
model, not new code. A use case that needs more registers its own handler with
:func:`handles`. Every handler builds the answer's frame from the declaration (date-time
or not, values encrypted or not) and protects it as the declaration says (MAC or
signature).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from nodes.gbcs.cosem_server import CosemServer, Invocation
from nodes.gbcs.trust import TrustAnchors
from nodes.gbcs.zcl_server import ZclServer
from rig.protocol import smki
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import dlms, gbz, security
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import (
    Form,
    Protection,
    UseCase,
    dlms_answer,
    gbz_answers,
    protect,
    response_shell,
    with_payload,
)
from rig.protocol.smki import Usage
from rig.runtime.registry import Registry


class ServedDevice(Protocol):
    """What a device model offers its GBCS end: the tables it answers from."""

    @property
    def cosem(self) -> CosemServer | None: ...

    @property
    def zcl(self) -> ZclServer | None: ...


@dataclass(frozen=True, slots=True)
class Context:
    """What a handler may use: the device's tables, its keys, its clock."""

    device: ServedDevice
    ds: ec.EllipticCurvePrivateKey
    ka: ec.EllipticCurvePrivateKey
    peer_ka: Callable[[Eui64], ec.EllipticCurvePublicKey]
    now: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    # the device's own next originator counter (it answers an unknown remote party with it)
    originator_counter: Callable[[], int] | None = None
    # its trust anchor cells (:class:`nodes.gbcs.trust.TrustAnchors`; CS02b replaces them)
    anchors: TrustAnchors | None = None
    # how the device raises a generic alert with a code (to its supplier): the join service's
    # 8F49/8F48, 8F4B/8F4A; None: it raises none
    raise_alert: Callable[[int], None] | None = None

    def alert(self, code: int) -> None:
        if self.raise_alert is not None:
            self.raise_alert(code)

    def answer(self, uc: UseCase, cmd: GbcsMessage, payload: bytes) -> GbcsMessage:
        """The device's answer to ``cmd`` carrying ``payload``, protected as ``uc`` declares
        (signed, MAC'd for the requester, dated)."""
        shell = response_shell(cmd, uc, self.now())
        return protect(
            uc, with_payload(shell, payload), self.ds, self.ka, self.requester_ka(uc, cmd)
        )

    # the last counter it accepted from a remote party, 0: none yet (CS02a's sequence numbers)
    seq_number: Callable[[Eui64], int] | None = None
    # its own certificate of a key usage, DER; None: it holds none (CS02e)
    own_certificate: Callable[[Usage], bytes | None] | None = None

    def requester_ka(self, uc: UseCase, cmd: GbcsMessage) -> ec.EllipticCurvePublicKey | None:
        """The requester's KA key, when the answer is MAC'd or encrypted for it."""
        if uc.response is Protection.MAC or uc.encrypted:
            return self.peer_ka(Eui64(cmd.header.originator))
        return None


Handler = Callable[[UseCase, GbcsMessage, Context], Awaitable[GbcsMessage]]
_HANDLERS: Registry[str, Handler] = Registry("handler")


def handles(*use_cases: UseCase) -> Callable[[Handler], Handler]:
    """Register a handler for use cases the generic ones do not serve."""
    return _HANDLERS.register(*(uc.name for uc in use_cases))


def unknown_party_ka(cmd: GbcsMessage) -> ec.EllipticCurvePublicKey | None:
    """The KA key of the unknown remote party a command is sent for (from the certificate
    it carries, which must be that party's KA certificate), or None."""
    other = cmd.header.other
    if other.remote_party_id is None or other.certificate is None:
        return None
    try:
        cert = x509.load_der_x509_certificate(other.certificate)
        eui, usage = smki.eui_of(cert), smki.usage_of(cert)
    except (ValueError, smki.ProfileError) as exc:
        raise security.SecurityError(f"the remote party's certificate: {exc}") from None
    if eui.raw != other.remote_party_id or usage is not Usage.KA:
        raise security.SecurityError(
            f"the certificate is {eui.duis}'s {usage.value.upper()}, not "
            f"{Eui64(other.remote_party_id).duis}'s KA certificate"
        )
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise security.SecurityError("the remote party's certificate holds no EC key")
    return key


def _answering(
    uc: UseCase, cmd: GbcsMessage, ctx: Context
) -> tuple[GbcsMessage, ec.EllipticCurvePublicKey | None, Callable[[bytes], bytes]]:
    """The answer's shell, the key its MAC is for (the requester's, or the ACB's for an
    unknown remote party), and how its values are encrypted (for the requester, or for the
    unknown remote party with a key of the device's own next counter)."""
    requester = ctx.requester_ka(uc, cmd)
    party = unknown_party_ka(cmd)
    counter = None
    if party is not None:
        if ctx.originator_counter is None:
            raise security.SecurityError("this device cannot answer an unknown remote party")
        counter = ctx.originator_counter()
    shell = response_shell(cmd, uc, ctx.now(), counter)
    encrypt_for = party or requester

    def encrypt(plain: bytes) -> bytes:
        if encrypt_for is None:
            raise security.SecurityError("no key to encrypt the answer for its requester")
        key = security.encryption_key(shell, ctx.ka, encrypt_for)
        return security.protect(key, shell.header.originator, plain)

    return shell, requester, encrypt


async def serve_dlms(uc: UseCase, cmd: GbcsMessage, ctx: Context) -> GbcsMessage:
    """A DLMS use case, executed against the device's COSEM object server."""
    server = ctx.device.cosem
    if server is None:
        raise DecodeError(f"{uc.name}: this device has no COSEM objects", 0)
    request = dlms.decode(cmd.payload)
    if not isinstance(request, dlms.AccessRequest):
        raise DecodeError(f"{uc.name}: the command is not an access-request", 0)
    shell, requester, encrypt = _answering(uc, cmd, ctx)
    data, results = server.execute(request, Invocation(cmd, encrypt))
    payload = dlms_answer(cmd.header.counter, data, results)
    return protect(uc, with_payload(shell, payload), ctx.ds, ctx.ka, requester)


async def serve_gbz(uc: UseCase, cmd: GbcsMessage, ctx: Context) -> GbcsMessage:
    """A GBZ command, each of its components (reads, writes, a cluster's own commands)
    answered from the device's ZCL server."""
    server = ctx.device.zcl
    if server is None:
        raise DecodeError(f"{uc.name}: this device has no ZCL attributes", 0)
    requests = gbz.decode(cmd.payload).components
    shell, requester, encrypt = _answering(uc, cmd, ctx)
    replies = [server.execute(request, cmd) for request in requests]
    payload = gbz_answers(uc, requests, replies, encrypt if uc.encrypted else None).encode()
    return protect(uc, with_payload(shell, payload), ctx.ds, ctx.ka, requester)


_BY_FORM: dict[Form, Handler] = {Form.DLMS: serve_dlms, Form.GBZ: serve_gbz}


def handler_for(uc: UseCase) -> Handler:
    handler = _HANDLERS.get(uc.name) or _BY_FORM.get(uc.form)
    if handler is None:
        raise DecodeError(f"{uc.name}: no handler on this device", 0)
    return handler


# the handlers of the ASN.1 use cases (CS06, GCS28), registered once this module is complete
from nodes.gbcs import activation, credentials, join  # noqa: E402, F401
