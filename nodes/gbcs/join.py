"""A device's handlers of the join service (CS03*), unjoin (CS04*) and CS07; issue 16.

Registered with :func:`nodes.gbcs.handlers.handles` and answered as RTDS 4.5.0 answers,
from the device's join log (``ctx.device.join_log``, :class:`nodes.roles.join_log.JoinLog`).
A join is checked in GBCS's order: its joinMethodAndRole must be its message code's (else
1), this device must be able to join that device type by that method (else 2: RTDS's
CS03B error, a GSME asked to join a PPMID by Method B), Method C must carry a KA
certificate (else 11: RTDS's CS03C error); then the log adds it (3: logged with another
type; 4: full; 5: not written). An unjoin removes the entry (1: not in the log; 2: joined
by a method this unjoin does not remove). CS07 lists the log (1 and no list when it cannot
be read).
"""

from __future__ import annotations

import logging
from typing import Protocol

from cryptography import x509

from nodes.gbcs.handlers import Context, handles
from rig.protocol import smki
from rig.protocol.codec import DecodeError
from rig.protocol.gbcs.catalogue import (
    JOIN_FAILED,
    JOIN_SUCCEEDED,
    UNJOIN_FAILED,
    UNJOIN_SUCCEEDED,
)
from rig.protocol.gbcs.catalogue_join import (
    CS07,
    JOINABLE,
    JOINS,
    METHOD_OF,
    UNJOINS,
    JoinRequest,
    JoinResult,
    Method,
    ReadResult,
    UnjoinResult,
    entity_of,
    join_details_answer,
    join_of,
    result_answer,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase
from rig.protocol.smki import Usage

log = logging.getLogger("nodes.gbcs")


class Joinable(Protocol):
    """What the handlers need of a device's join log (:class:`JoinLog`)."""

    def join(self, request: JoinRequest) -> JoinResult: ...

    def unjoin(self, entity: bytes, use_case: str) -> UnjoinResult: ...

    def entries(self) -> list: ...  # JoinEntry, in joining order; OSError: unreadable


def _join_log(uc: UseCase, ctx: Context) -> Joinable:
    found: Joinable | None = getattr(ctx.device, "join_log", None)
    if found is None:
        raise DecodeError(f"{uc.name}: this device keeps no join log", 0)
    return found


def _is_ka_certificate(der: bytes | None) -> bool:
    if der is None:
        return False
    try:
        return smki.usage_of(x509.load_der_x509_certificate(der)) is Usage.KA
    except (ValueError, smki.ProfileError):
        return False


def join_result(uc: UseCase, own_type: str, request: JoinRequest, joins: Joinable) -> JoinResult:
    """What this device answers a join, having added it to its log when it is valid."""
    if request.method != METHOD_OF[uc.name]:
        return JoinResult.INVALID_MESSAGE_CODE
    allowed = JOINABLE.get((own_type, Method(request.method)), frozenset())
    if request.device_type not in allowed:
        return JoinResult.INVALID_METHOD
    if request.method == Method.C and not _is_ka_certificate(request.certificate):
        return JoinResult.INVALID_CERTIFICATE
    return joins.join(request)


@handles(*JOINS)
async def join_device(uc: UseCase, cmd: GbcsMessage, ctx: Context) -> GbcsMessage:
    joins = _join_log(uc, ctx)
    try:
        request = join_of(cmd.payload)
    except (DecodeError, IndexError, ValueError):
        raise DecodeError(f"{uc.name}: not a join command", 0) from None
    own_type = str(getattr(ctx.device, "device_type", ""))
    result = join_result(uc, own_type, request, joins)
    extra = {
        "use_case": uc.name,
        "other": request.entity.hex(),
        "device_type": request.device_type,
        "result": int(result),
    }
    if result is JoinResult.SUCCESS:
        log.info("join.succeeded", extra=extra)
    else:
        log.warning("join.failed", extra=extra)
    ctx.alert(JOIN_SUCCEEDED if result is JoinResult.SUCCESS else JOIN_FAILED)
    return ctx.answer(uc, cmd, result_answer(result))


@handles(*UNJOINS)
async def unjoin_device(uc: UseCase, cmd: GbcsMessage, ctx: Context) -> GbcsMessage:
    joins = _join_log(uc, ctx)
    try:
        entity = entity_of(cmd.payload)
    except (DecodeError, IndexError, ValueError):
        raise DecodeError(f"{uc.name}: not an unjoin command", 0) from None
    result = joins.unjoin(entity, uc.name)
    log.info("unjoin.done", extra={"use_case": uc.name, "other": entity.hex(), "result": result})
    ctx.alert(UNJOIN_SUCCEEDED if result == 0 else UNJOIN_FAILED)
    return ctx.answer(uc, cmd, result_answer(result))


@handles(CS07)
async def read_join_details(uc: UseCase, cmd: GbcsMessage, ctx: Context) -> GbcsMessage:
    joins = _join_log(uc, ctx)
    try:
        entries = [(e.eui.raw, e.device_type) for e in joins.entries()]
    except OSError as exc:
        log.warning("join_details.unreadable", extra={"error": str(exc)})
        return ctx.answer(uc, cmd, join_details_answer(ReadResult.READ_FAILURE, None))
    return ctx.answer(uc, cmd, join_details_answer(ReadResult.SUCCESS, entries))
