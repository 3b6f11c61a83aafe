"""The ESME's Prepayment cluster server on the HAN: a UTRN keyed in at the PPMID (Consumer
Top Up, answered with Consumer Top Up Response) and the consumer's request for emergency
credit (Select Available Emergency Credit, answered with a Default Response), as GBCS's
PCS01 and PCS02 carry the same commands to the GSME.

A UTRN keyed in locally is checked and applied by the meter (``apply_utrn(local=True)``:
810E on success, the refusal's alert otherwise). After :data:`LOCKOUT_AFTER` local entries
in a row that do not authenticate (8F63, 8F64: mistyped, or guessed) the meter refuses
local entries for :data:`LOCKOUT_S` and raises 0x81C5 "UTRN entry locked out" once, when
it locks. The lockout guards the UTRN's 32-bit code against guessing at the keypad, so an
authentic UTRN refused as already used (8F51) or over the maximum credit (8F5B) neither
counts nor ends a run; an accepted one ends it. GBCS names the alert but leaves the number
of tries and the period to the meter: these are this meter's. The count and the end of a
lockout are kept in the meter's state folder, so a power cut resets neither.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nodes.han.app import DEVICE_ENDPOINT
from nodes.radio.api import ApsMessage
from nodes.roles.credit import EmergencyCreditRefused, TopUpRefused
from rig.protocol.gbcs.catalogue import (
    UTRN_DUPLICATE,
    UTRN_EXCEEDS_MAX_CREDIT,
    UTRN_LOCKED_OUT,
    UTRN_NOT_AUTHENTIC,
    UTRN_NOT_FOR_DEVICE,
)
from rig.protocol.gbcs.cosem import MILLIPENCE
from rig.protocol.zigbee import se, zcl
from rig.protocol.zigbee.se import TopUpResult
from rig.protocol.zigbee.zcl import Status
from rig.runtime.files import read_json, write_json

if TYPE_CHECKING:
    from nodes.roles.esme import ElectricityMeter

log = logging.getLogger("nodes.han")
LOCKOUT_AFTER = 5  # refused local entries in a row that lock the keypad
LOCKOUT_S = 60.0  # how long local entry stays locked
PREPAYMENT = se.Prepayment.cluster_id
CONSUMER_TOP_UP = se.Prepayment.ServerCommandDefs.consumer_top_up
SELECT_EMERGENCY_CREDIT = se.Prepayment.ServerCommandDefs.select_available_emergency_credit

GUESSES = (UTRN_NOT_AUTHENTIC, UTRN_NOT_FOR_DEVICE)  # the refusals that count to a lockout
# a refusal's GBCS alert code -> the Consumer Top Up Response's result
RESULT_OF_ALERT = {
    UTRN_DUPLICATE: TopUpResult.REJECTED_DUPLICATE_TOP_UP,
    UTRN_NOT_AUTHENTIC: TopUpResult.REJECTED_INVALID_TOP_UP,
    UTRN_NOT_FOR_DEVICE: TopUpResult.REJECTED_INVALID_TOP_UP,
    UTRN_EXCEEDS_MAX_CREDIT: TopUpResult.REJECTED_MAX_CREDIT_REACHED,
}


@dataclass(slots=True)
class LocalEntryLock:
    """The count of local UTRN entries in a row that did not authenticate, and the end of a
    lockout, kept in ``path``. Times are wall-clock seconds (a lockout outlives a restart);
    a clock set back never makes a lockout last longer than ``period_s`` from now."""

    path: Path
    period_s: float = LOCKOUT_S
    after: int = LOCKOUT_AFTER
    refused_in_a_row: int = 0
    locked_until: float = 0.0

    @classmethod
    def load(cls, path: Path, period_s: float = LOCKOUT_S, after: int = LOCKOUT_AFTER):
        saved = read_json(path, {}) or {}
        return cls(
            path,
            period_s,
            after,
            int(saved.get("refused_in_a_row", 0)),
            float(saved.get("locked_until", 0.0)),
        )

    def save(self) -> None:
        write_json(
            self.path,
            {"refused_in_a_row": self.refused_in_a_row, "locked_until": self.locked_until},
        )

    def locked(self, now: float) -> bool:
        if self.locked_until > now + self.period_s:  # the clock was set back
            self.locked_until = now + self.period_s
            self.save()
        return now < self.locked_until

    def refused(self, now: float) -> bool:
        """Count an entry that did not authenticate; True when it locks the keypad."""
        self.refused_in_a_row += 1
        locks = self.refused_in_a_row >= self.after
        if locks:
            self.refused_in_a_row, self.locked_until = 0, now + self.period_s
        self.save()
        return locks

    def accepted(self) -> None:
        if self.refused_in_a_row:
            self.refused_in_a_row = 0
            self.save()

    def state(self, now: float) -> dict[str, float | int | bool]:
        return {
            "locked": self.locked(now),
            "locked_for_s": round(max(0.0, self.locked_until - now), 1),
            "refused_in_a_row": self.refused_in_a_row,
        }


def serve_prepayment(meter: ElectricityMeter) -> LocalEntryLock:
    """Serve the Prepayment cluster's commands on the meter's HAN endpoint; the lock that
    guards local entry (for the meter's health detail)."""
    lock = LocalEntryLock.load(
        meter.config.state_dir / "local_entry.json", meter.behaviour.utrn_lockout_s
    )
    device = meter.config.eui.duis

    def response(result: TopUpResult, tsn: int, source: int, pence: int = 0) -> bytes:
        credit = meter.credit
        return zcl.command(
            PREPAYMENT,
            "consumer_top_up_response",
            tsn,
            to_server=False,
            default_response=True,  # as GBCS's PCS01 response has it (frame control 0x09)
            result_type=result,
            top_up_value=pence * MILLIPENCE,  # the meter's currency unit, as PCS01's
            source_of_top_up=source,
            credit_remaining=credit.millipence if credit is not None else 0,
        )

    async def consumer_top_up(message: ApsMessage, frame: zcl.ZclFrame) -> bytes:
        code = bytes(frame.field("top_up_code")).decode("ascii", "replace")
        source = int(frame.field("originating_device"))
        extra = {"device": device, "from": message.peer.duis, "utrn": code}
        if meter.credit is None:
            log.warning("prepay.local_top_up_unserved", extra={**extra, "reason": "no GBCS keys"})
            return response(TopUpResult.REJECTED_ERROR, frame.tsn, source)
        now = time.time()
        if lock.locked(now):
            log.warning(
                "prepay.local_entry_locked",
                extra={**extra, "locked_for_s": round(lock.locked_until - now, 1)},
            )
            return response(TopUpResult.REJECTED_KEYPAD_LOCK, frame.tsn, source)
        try:
            applied = meter.apply_utrn(code, local=True)
        except TopUpRefused as exc:  # apply_utrn has logged it and raised its alert
            if exc.alert_code in GUESSES and lock.refused(now):
                log.warning(
                    "prepay.local_entry_locked_out",
                    extra={**extra, "after": lock.after, "for_s": lock.period_s},
                )
                meter.spawn(meter._raise(UTRN_LOCKED_OUT), "local entry lockout alert")
            result = RESULT_OF_ALERT.get(exc.alert_code, TopUpResult.REJECTED_ERROR)
            return response(result, frame.tsn, source)
        lock.accepted()
        return response(TopUpResult.ACCEPTED, frame.tsn, source, applied.pence)

    async def select_emergency_credit(message: ApsMessage, frame: zcl.ZclFrame) -> bytes:
        command_id = int(frame.header.command_id)
        extra = {"device": device, "from": message.peer.duis}
        if meter.credit is None:
            log.warning("prepay.emergency_credit_unserved", extra={**extra, "reason": "no keys"})
            return zcl.default_response(frame.tsn, command_id, Status.FAILURE)
        try:  # the meter raises what activation says and arms its supply if it may
            meter.activate_emergency_credit("PPMID")
        except EmergencyCreditRefused as exc:
            log.warning("prepay.emergency_credit_refused", extra={**extra, "reason": str(exc)})
            return zcl.default_response(frame.tsn, command_id, Status.FAILURE)
        return zcl.default_response(frame.tsn, command_id, Status.SUCCESS)

    meter.app.serve_command(DEVICE_ENDPOINT, PREPAYMENT, int(CONSUMER_TOP_UP.id), consumer_top_up)
    meter.app.serve_command(
        DEVICE_ENDPOINT, PREPAYMENT, int(SELECT_EMERGENCY_CREDIT.id), select_emergency_credit
    )
    return lock
