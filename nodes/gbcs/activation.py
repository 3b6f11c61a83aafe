"""The meters' ASN.1 commands of issue 16, which the generic DLMS and GBZ handlers do not
serve: CS06 Activate Firmware (11.3, immediate) and GCS28 Set Clock (8.1.1 for a GSME),
registered with :func:`nodes.gbcs.handlers.handles` and answered as RTDS 4.5.0 answers.

CS06 activates the image the meter holds when the command names it by its SHA-256: the
running version changes (11.2 then reads it) and the answer, dated and signed, carries
0 and the new version. No pending image, or a hash that is not the pending image's: 1 and
the version unchanged (RTDS's error). GCS28: the GSME's time (its handler's clock) and 0
when that time lies in the validity interval, else 2 (RTDS's error).
"""

from __future__ import annotations

import logging
from typing import Protocol

from nodes.gbcs.handlers import Context, handles
from rig.protocol.codec import DecodeError
from rig.protocol.gbcs.catalogue_commission import (
    ACTIVATED,
    CLOCK_SET,
    CS06,
    GCS28,
    NOT_ACTIVATED,
    OUTSIDE_INTERVAL,
    activation_answer,
    activation_of,
    clock_answer,
    interval_of,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, protect, response_shell, with_payload

log = logging.getLogger("nodes.gbcs")


class Image(Protocol):
    @property
    def hash(self) -> str: ...  # SHA-256 of the whole image, hex

    @property
    def version(self) -> str: ...


class Activatable(Protocol):
    """What CS06 needs of a meter's firmware (:class:`nodes.roles.firmware.Firmware`)."""

    @property
    def octets(self) -> bytes: ...  # the running version, as GBCS carries it

    @property
    def pending(self) -> Image | None: ...

    def activate(self) -> None: ...


def _answer(uc: UseCase, cmd: GbcsMessage, ctx: Context, payload: bytes) -> GbcsMessage:
    shell = response_shell(cmd, uc, ctx.now())
    return protect(uc, with_payload(shell, payload), ctx.ds, ctx.ka, ctx.requester_ka(uc, cmd))


@handles(CS06)
async def activate_firmware(uc: UseCase, cmd: GbcsMessage, ctx: Context) -> GbcsMessage:
    firmware: Activatable | None = getattr(ctx.device, "firmware", None)
    if firmware is None:
        raise DecodeError(f"{uc.name}: this device has no firmware to activate", 0)
    try:
        image_hash, counter = activation_of(cmd.payload)
    except (DecodeError, IndexError, ValueError):
        raise DecodeError(f"{uc.name}: not an image hash and a counter", 0) from None
    if counter != cmd.header.counter:
        raise DecodeError(f"{uc.name}: it names counter {counter}, not its own", 0)
    pending = firmware.pending
    if pending is None or pending.hash.lower() != image_hash.hex():
        log.warning(
            "firmware.not_activated",
            extra={"hash": image_hash.hex(), "pending": None if pending is None else pending.hash},
        )
        result = NOT_ACTIVATED
    else:
        firmware.activate()  # logs firmware.running
        result = ACTIVATED
        announce = getattr(ctx.device, "firmware_activated", None)
        if callable(announce):
            announce()  # the meter tells its supplier (0x8F43)
    return _answer(uc, cmd, ctx, activation_answer(result, firmware.octets))


@handles(GCS28)
async def set_gsme_clock(uc: UseCase, cmd: GbcsMessage, ctx: Context) -> GbcsMessage:
    try:
        start, end = interval_of(cmd.payload)
    except (DecodeError, IndexError, ValueError):
        raise DecodeError(f"{uc.name}: not a validity interval", 0) from None
    now = ctx.now()
    result = CLOCK_SET if start <= now <= end else OUTSIDE_INTERVAL
    if result != CLOCK_SET:
        log.warning(
            "clock.outside_validity",
            extra={"time": now.isoformat(), "start": start.isoformat(), "end": end.isoformat()},
        )
    return _answer(uc, cmd, ctx, clock_answer(now, result))
