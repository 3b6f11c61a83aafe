"""Transforms of 8.12.1 Restore HAN Device Log into CCS03 and 8.12.2 Restore GPF Device Log
into GCS59 (issue 16), as RTDS 4.5.0 has them, and the DCC's copy of the device logs they
restore from (:class:`LogArchive`).

A request names only the failed hub (OldCHFID) or GPF (OldGPFID); what is restored is the
DCC's copy of that device's log: a CHF's as its last backup reported it (the backup_PAN
that CS14 carries and CCS07 returns: the extended PAN ID and each device with the hash of
its TC link key), a GPF's as its entries (device ID, device type). The archive lives in
the gateway's store; the gateway names it with :func:`use_archive` and the uplink keeps
what the hubs report in it (:meth:`LogArchive.keep_reported`: a hub's CS14 and CCS07
answers of its own log, a GPF's GCS59 answer: the entries it restored). A request for a
device whose log the DCC does not hold is refused E19, nothing sent.

CCS03 is built for the DCC User here; the downlink has the ACB originate it with its own
counter, the User riding as the supplementary remote party (``acb_originated``). GCS59 is
the ACB's own (``acb_own``: the GPF trusts only the ACB), with the ACB's counter."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from gateway.transform.registry import TransformInput, TransformRefused, transforms
from rig.protocol.codec import DecodeError
from rig.protocol.duis import codes
from rig.protocol.duis.xml import text
from rig.protocol.eui import Eui64, EuiError
from rig.protocol.gbcs import dlms
from rig.protocol.gbcs.catalogue_chf import CCS07, CS14, LogBackup
from rig.protocol.gbcs.catalogue_restore import (
    CCS03,
    GCS59,
    GpfEntry,
    RestorePan,
    gpf_restore_command,
    gpf_restore_results,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.reading import access_response
from rig.protocol.gbcs.usecase import UseCase, command

_SCHEMA = """
CREATE TABLE IF NOT EXISTS device_log_archive (
    device TEXT PRIMARY KEY, kind TEXT, log TEXT);
"""


class LogArchive:
    """The DCC's copy of each hub's device log (and each GPF's), in the gateway's store."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.db.executescript(_SCHEMA)

    def _put(self, device: Eui64, kind: str, log: object) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO device_log_archive (device, kind, log) VALUES (?, ?, ?)",
            (device.hex, kind, json.dumps(log)),
        )

    def _get(self, device: Eui64, kind: str) -> object | None:
        row = self.db.execute(
            "SELECT log FROM device_log_archive WHERE device=? AND kind=?", (device.hex, kind)
        ).fetchone()
        return None if row is None else json.loads(row[0])

    def keep_chf(self, chf: Eui64, backup: LogBackup) -> None:
        """A CHF's device log as its backup (CS14, CCS07) reported it."""
        self._put(
            chf,
            "CHF",
            {
                "extended_pan_id": backup.extended_pan_id.hex(),
                "devices": [[eui.hex(), hashed.hex()] for eui, hashed in backup.devices],
            },
        )

    def keep_gpf(self, gpf: Eui64, entries: tuple[GpfEntry, ...]) -> None:
        self._put(gpf, "GPF", [[e.eui.hex(), e.device_type] for e in entries])

    def chf_log(self, chf: Eui64) -> RestorePan | None:
        log = self._get(chf, "CHF")
        if not isinstance(log, dict):
            return None
        devices = tuple((bytes.fromhex(e), bytes.fromhex(h)) for e, h in log["devices"])
        return RestorePan(bytes.fromhex(log["extended_pan_id"]), devices)

    def gpf_log(self, gpf: Eui64) -> tuple[GpfEntry, ...] | None:
        log = self._get(gpf, "GPF")
        if not isinstance(log, list):
            return None
        return tuple(GpfEntry(bytes.fromhex(e), int(t)) for e, t in log)

    def keep_reported(self, hub: Eui64, msg: GbcsMessage) -> str | None:
        """Keep the log a hub's message reports, if it reports one: CS14 or the answer to
        CCS07 from the CHF itself (the hub's own log, never another's), GCS59's answer from
        the GPF (the entries it restored join what the DCC holds of its log). Returns what
        was kept ("CHF", "GPF"), None when the message reports no log or cannot be read."""
        device = Eui64(msg.header.originator)
        try:
            if device == hub and msg.message_code in (CS14.message_code, CCS07.message_code):
                backup = _reported_backup(msg)
                if backup is None:
                    return None
                self.keep_chf(hub, backup)
                return "CHF"
            if msg.message_code == GCS59.message_code:
                restored = [e for e, code in gpf_restore_results(msg.payload) if code == 0]
                held = {e.eui: e for e in self.gpf_log(device) or ()}
                held.update({e.eui: e for e in restored})
                self.keep_gpf(device, tuple(held.values()))
                return "GPF"
        except (DecodeError, ValueError, IndexError):
            return None
        return None


def _reported_backup(msg: GbcsMessage) -> LogBackup | None:
    """The device log a CS14 alert carries (after its alert code and when it was raised), or
    a CCS07 answer's first result (backup_PAN of the device log), when it succeeded."""
    if msg.message_code == CS14.message_code:
        apdu = dlms.decode(msg.payload)
        if not isinstance(apdu, dlms.DataNotification):
            return None
        return LogBackup.from_data(apdu.body.value[2])
    answer = access_response(msg)
    if not answer.results or answer.results[0].result != 0:
        return None
    return LogBackup.from_data(answer.data[0])


@dataclass
class _Archive:
    """The archive the transforms read, once the gateway has named it."""

    archive: LogArchive | None = None


_ARCHIVE = _Archive()


def use_archive(archive: LogArchive | None) -> None:
    """Name the DCC's archive of device logs that 8.12.1 and 8.12.2 restore from."""
    _ARCHIVE.archive = archive


def _old_device(given: TransformInput, path: str) -> Eui64:
    try:
        old = Eui64.parse(text(given.request.body, path) or "")
    except EuiError as exc:
        raise TransformRefused(codes.NOT_DUIS, f"{path}: {exc}") from None
    if old == given.device:
        raise TransformRefused(
            codes.NOT_DUIS, f"{path} names the target {old.duis}: name the device it replaces"
        )
    return old


def _unknown(old: Eui64, what: str) -> TransformRefused:
    return TransformRefused(
        codes.DEVICE_UNKNOWN,
        f"the DCC holds no {what} of {old.duis} (it keeps what each hub reports: CS14, "
        "CCS07); nothing was sent: read or change that device's log first",
    )


@transforms(CCS03)
def restore_han_device_log(uc: UseCase, given: TransformInput) -> GbcsMessage:
    old = _old_device(given, "sr:OldCHFID")
    archive = _ARCHIVE.archive
    log = None if archive is None else archive.chf_log(old)
    if log is None:
        raise _unknown(old, "CHF device log backup")
    values = {"log": log.to_data()}
    return command(uc, given.counter, given.originator.raw, given.device.raw, values)


@transforms(GCS59)
def restore_gpf_device_log(uc: UseCase, given: TransformInput) -> GbcsMessage:
    old = _old_device(given, "sr:OldGPFID")
    archive = _ARCHIVE.archive
    entries = None if archive is None else archive.gpf_log(old)
    if entries is None:
        raise _unknown(old, "GPF device log")
    payload = gpf_restore_command(entries)
    return command(uc, given.counter, given.originator.raw, given.device.raw, payload)
