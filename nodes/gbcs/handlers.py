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

from cryptography.hazmat.primitives.asymmetric import ec

from nodes.gbcs.cosem_server import CosemServer, Invocation
from nodes.gbcs.zcl_server import ZclServer
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


def _encryptor(
    shell: GbcsMessage, ctx: Context, requester: ec.EllipticCurvePublicKey | None
) -> Callable[[bytes], bytes]:
    def encrypt(plain: bytes) -> bytes:
        if requester is None:
            raise security.SecurityError("no key to encrypt the answer for its requester")
        key = security.encryption_key(shell, ctx.ka, requester)
        return security.protect(key, shell.header.originator, plain)

    return encrypt


async def serve_dlms(uc: UseCase, cmd: GbcsMessage, ctx: Context) -> GbcsMessage:
    """A DLMS use case, executed against the device's COSEM object server."""
    server = ctx.device.cosem
    if server is None:
        raise DecodeError(f"{uc.name}: this device has no COSEM objects", 0)
    request = dlms.decode(cmd.payload)
    if not isinstance(request, dlms.AccessRequest):
        raise DecodeError(f"{uc.name}: the command is not an access-request", 0)
    shell = response_shell(cmd, uc, ctx.now())
    requester = ctx.requester_ka(uc, cmd)
    data, results = server.execute(request, Invocation(cmd, _encryptor(shell, ctx, requester)))
    payload = dlms_answer(cmd.header.counter, data, results)
    return protect(uc, with_payload(shell, payload), ctx.ds, ctx.ka, requester)


async def serve_gbz(uc: UseCase, cmd: GbcsMessage, ctx: Context) -> GbcsMessage:
    """A GBZ command, each of its components (reads, writes, a cluster's own commands)
    answered from the device's ZCL server."""
    server = ctx.device.zcl
    if server is None:
        raise DecodeError(f"{uc.name}: this device has no ZCL attributes", 0)
    requests = gbz.decode(cmd.payload).components
    shell = response_shell(cmd, uc, ctx.now())
    requester = ctx.requester_ka(uc, cmd)
    replies = [server.execute(request, cmd) for request in requests]
    encrypt = _encryptor(shell, ctx, requester) if uc.encrypted else None
    payload = gbz_answers(uc, requests, replies, encrypt).encode()
    return protect(uc, with_payload(shell, payload), ctx.ds, ctx.ka, requester)


_BY_FORM: dict[Form, Handler] = {Form.DLMS: serve_dlms, Form.GBZ: serve_gbz}


def handler_for(uc: UseCase) -> Handler:
    handler = _HANDLERS.get(uc.name) or _BY_FORM.get(uc.form)
    if handler is None:
        raise DecodeError(f"{uc.name}: no handler on this device", 0)
    return handler
