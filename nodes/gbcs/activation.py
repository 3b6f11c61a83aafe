"""The meters' ASN.1 commands of issue 16, which the generic DLMS and GBZ handlers do not
serve: CS06 Activate Firmware (11.3, immediate or future-dated) and GCS28 Set Clock (8.1.1
for a GSME), registered with :func:`nodes.gbcs.handlers.handles` and answered as RTDS 4.5.0
answers.

CS06 activates the image the meter holds when the command names it by its SHA-256: the
running version changes (11.2 then reads it) and the answer, dated and signed, carries
0 and the new version. No pending image, or a hash that is not the pending image's: 1 and
the version unchanged (RTDS's error). GCS28: the GSME's time (its handler's clock) and 0
when that time lies in the validity interval, else 2 (RTDS's error).

A future-dated CS06 is answered NULL ("Command Accepted") and held in the meter's firmware
state (:class:`ScheduledActivation`, so a power cut keeps it); a later one replaces it, one
dated 9999-12-31T23:59:59Z cancels it. At its time, not before (the handler's clock, polled
by :mod:`nodes.gbcs.future`), the meter activates the image if it is the one held and sends
its requester the Future Dated Firmware Activation Alert (0x00CA):
8F66 with 0 and the new version, or 8F67 with 2 and the version unchanged; an activation
also raises 8F43, as an immediate one does. After a restart, :func:`resume_activation`
arms what the state holds (for the meter's start to call).

CS08 Read PPMID Firmware Version (11.2 to a PPMID): the ACB's NULL, answered with the
version the PPMID runs (``ctx.device.firmware``, :class:`nodes.roles.firmware.Firmware`)
and 0; a device that keeps no firmware state answers 1 and ``00000000``, as RTDS's error.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric import ec

from nodes.gbcs import future
from nodes.gbcs.handlers import Context, handles
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.gbcs.catalogue_commission import (
    ACCEPTED,
    ACTIVATED,
    CANCEL,
    CLOCK_SET,
    CS06,
    GCS28,
    NOT_ACTIVATED,
    NOT_ACTIVATED_AT_TIME,
    OUTSIDE_INTERVAL,
    activation_answer,
    activation_of,
    clock_answer,
    execution_of,
    future_activation_alert,
    future_activation_payload,
    interval_of,
)
from rig.protocol.gbcs.catalogue_firmware import (
    CS08,
    READ_FAILURE,
    READ_SUCCESS,
    VERSION_OCTETS,
    ppmid_version_answer,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase

log = logging.getLogger("nodes.gbcs")


@dataclass(frozen=True, slots=True)
class ScheduledActivation:
    """A future-dated CS06 the meter accepted and holds until its time."""

    hash: str  # SHA-256 of the image to activate, hex
    at: float  # UTC seconds since the Unix epoch
    requester: str  # the CS06's originator (DUIS EUI-64), to whom the 0x00CA alert goes
    counter: int  # the CS06's originator counter, which the alert repeats

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScheduledActivation:
        return cls(
            str(data["hash"]), float(data["at"]), str(data["requester"]), int(data["counter"])
        )


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

    scheduled: ScheduledActivation | None

    def activate(self) -> None: ...

    def schedule(self, activation: ScheduledActivation | None) -> None: ...


Clock = future.Clock


@dataclass(frozen=True, slots=True)
class AlertSigner:
    """Who raises the 0x00CA alert: the meter, its DS key and its alert counter."""

    eui: Eui64
    ds: ec.EllipticCurvePrivateKey
    next_counter: Callable[[], int]


def activate_if_due(firmware: Activatable, signer: AlertSigner, now: dt.datetime) -> bytes | None:
    """Carry out the held future-dated activation if its time has come (``now``): the
    0x00CA alert to its requester, or None when nothing is due."""
    held = firmware.scheduled
    if held is None or now.timestamp() < held.at:
        return None
    pending = firmware.pending
    if pending is not None and pending.hash.lower() == held.hash.lower():
        firmware.scheduled = None  # saved with the activation: it runs once
        firmware.activate()  # logs firmware.running
        result = ACTIVATED
    else:
        firmware.schedule(None)
        result = NOT_ACTIVATED_AT_TIME
        log.warning(
            "firmware.not_activated",
            extra={"device": signer.eui.duis, "hash": held.hash, "scheduled": True},
        )
    executed = dt.datetime.fromtimestamp(held.at, dt.UTC)
    payload = future_activation_payload(executed, held.counter, result, firmware.octets)
    to = Eui64.parse(held.requester)
    alert = future_activation_alert(
        signer.next_counter(), signer.eui.raw, to.raw, payload, signer.ds
    )
    log.info(
        "gbcs.alert",
        extra={
            "device": signer.eui.duis,
            "use_case": CS06.name,
            "alert_code": "8F66" if result == ACTIVATED else "8F67",
            "to": to.duis,
        },
    )
    return alert.encode()


async def carry_out(device: Any, signer: AlertSigner, clock: Clock) -> None:
    """Wait for the held activation's time on ``clock``, carry it out, send the alert up
    (``device.send_up``) and, when it activated, announce 8F43 (``device.firmware_activated``).
    A CS06 that replaces or cancels it while waiting is taken as it is."""
    firmware: Activatable = device.firmware

    def due() -> float | None:
        return None if firmware.scheduled is None else firmware.scheduled.at

    async def step(now: dt.datetime) -> bool:
        before = firmware.octets
        alert = activate_if_due(firmware, signer, now)
        if alert is None:
            return False
        await device.send_up(alert)
        announce = getattr(device, "firmware_activated", None)
        if firmware.octets != before and callable(announce):
            announce()
        return True

    await future.run_when_due(due, step, clock)


def arm(device: Any, signer: AlertSigner, clock: Clock = future.utc_now) -> None:
    """Have ``device`` carry out its held activation at its time (once: a timer running
    already takes a new one as it comes)."""
    future.arm(device, "activation", lambda: carry_out(device, signer, clock))


def resume_activation(device: Any, clock: Clock = future.utc_now) -> None:
    """After a restart: arm the activation the meter's firmware state holds, if any (its
    GBCS end signs and counts the alert)."""
    firmware = getattr(device, "firmware", None)
    gbcs = getattr(device, "gbcs", None)
    if firmware is None or gbcs is None or firmware.scheduled is None:
        return
    arm(device, AlertSigner(gbcs.eui, gbcs.ds, gbcs.next_counter), clock)


@handles(CS06)
async def activate_firmware(uc: UseCase, cmd: GbcsMessage, ctx: Context) -> GbcsMessage:
    firmware: Activatable | None = getattr(ctx.device, "firmware", None)
    if firmware is None:
        raise DecodeError(f"{uc.name}: this device has no firmware to activate", 0)
    try:
        image_hash, counter = activation_of(cmd.payload)
        execute_at = execution_of(cmd.payload)
    except (DecodeError, IndexError, ValueError):
        raise DecodeError(f"{uc.name}: not an image hash and a counter", 0) from None
    if counter != cmd.header.counter:
        raise DecodeError(f"{uc.name}: it names counter {counter}, not its own", 0)
    if execute_at is not None:
        _hold(firmware, image_hash, execute_at, cmd, ctx)
        return ctx.answer(uc, cmd, ACCEPTED)
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
    return ctx.answer(uc, cmd, activation_answer(result, firmware.octets))


def _hold(
    firmware: Activatable, image_hash: bytes, at: dt.datetime, cmd: GbcsMessage, ctx: Context
) -> None:
    """A future-dated CS06 accepted: held (replacing one held before) and armed, or, dated
    :data:`CANCEL`, the one held for this image cancelled."""
    requester = Eui64(cmd.header.originator)
    if at == CANCEL:
        held = firmware.scheduled
        if held is not None and held.hash.lower() == image_hash.hex():
            firmware.schedule(None)
        else:
            log.info("firmware.nothing_to_cancel", extra={"hash": image_hash.hex()})
        return
    if ctx.originator_counter is None:
        raise DecodeError("CS06: this device cannot raise the activation's alert", 0)
    firmware.schedule(
        ScheduledActivation(image_hash.hex(), at.timestamp(), requester.duis, cmd.header.counter)
    )
    signer = AlertSigner(Eui64(cmd.header.recipient), ctx.ds, ctx.originator_counter)
    arm(ctx.device, signer, ctx.now)


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
    return ctx.answer(uc, cmd, clock_answer(now, result))


@handles(CS08)
async def read_ppmid_firmware_version(uc: UseCase, cmd: GbcsMessage, ctx: Context) -> GbcsMessage:
    """CS08: the running version and 0; 1 and ``00000000`` without a firmware state."""
    firmware = getattr(ctx.device, "firmware", None)
    octets = getattr(firmware, "octets", None)
    if not isinstance(octets, bytes):
        log.warning("firmware.version_unreadable", extra={"use_case": uc.name})
        return ctx.answer(uc, cmd, ppmid_version_answer(bytes(VERSION_OCTETS), READ_FAILURE))
    return ctx.answer(uc, cmd, ppmid_version_answer(octets, READ_SUCCESS))
