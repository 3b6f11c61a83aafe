"""The CHF device log: the devices allowed on this HAN, and the trust centre's join decisions.

An entry holds the device's EUI, its GB device type and its install code; the
link key derived from the install code is what the trust centre secures the
network key with. A device that is not in the log is refused, and the refusal is
kept (EUI, time, reason) for the lab to see. The log lives in the CHF's state.

The DCC changes it over GBCS (issue 16): CCS01 adds a device (:meth:`DeviceLog.add`; one
already there keeps its key) and opens joining for it for the join timeout; CCS02 removes
one (:meth:`DeviceLog.remove`), recording a device that had a TC link key in the CHF
historic device log (at most 15, the oldest overwritten). A device the DCC removed stays
out when the rig description (the seed) still lists it, until CCS01 adds it again.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nodes.config import DeviceLogEntry
from rig.protocol.eui import Eui64
from rig.protocol.install_code import with_crc
from rig.protocol.zigbee.mac import CAP_RX_ON_WHEN_IDLE
from rig.protocol.zigbee.security import link_key_from_install_code
from rig.runtime.files import read_json, write_json

log = logging.getLogger("nodes.han")
MAX_REFUSALS = 200
MAX_HISTORIC = 15  # GBCS: the CHF historic device log's entries
ADDED_TYPE = "UNKNOWN"  # a device the DCC adds: DUIS names no type (not sleepy, as a GSME is)


@dataclass
class Entry:
    eui: str
    device_type: str
    install_code: str
    status: str = "whitelisted"  # whitelisted | joined
    short: int | None = None
    joined_at: float | None = None
    join_until: float | None = None  # added by CCS01: may join until then (None: any time)
    sleepy: bool = False  # joined with its receiver off when idle (a GSME): it polls, GETs


@dataclass
class HistoricEntry:
    """A device CCS02 removed after it had a TC link key: the key's hash, and when."""

    eui: str
    hashed_link_key: str
    removed_at: float


class DeviceLog:
    def __init__(self, path: Path, seed: Iterable[DeviceLogEntry]) -> None:
        self.path = path
        data = read_json(path, {}) or {}
        self.entries: dict[Eui64, Entry] = {
            Eui64.parse(e["eui"]): Entry(**e) for e in data.get("entries", [])
        }
        self.refused: list[dict[str, Any]] = list(data.get("refused", []))
        self.historic = [HistoricEntry(**h) for h in data.get("historic", [])]
        self.removed: set[str] = set(data.get("removed", []))  # by CCS02: not re-seeded
        self.changed: float = float(data.get("changed", time.time()))
        for item in seed:  # the rig description is the authority on who is in the log
            if item.eui.duis in self.removed:
                continue
            code = item.install_code.hex().upper()
            old = self.entries.get(item.eui)
            if old is None or old.install_code != code:
                self.entries[item.eui] = Entry(item.eui.duis, item.device_type, code)
        self.save()

    def save(self) -> None:
        write_json(
            self.path,
            {
                "entries": [asdict(e) for e in self.entries.values()],
                "refused": self.refused[-MAX_REFUSALS:],
                "historic": [asdict(h) for h in self.historic],
                "removed": sorted(self.removed),
                "changed": self.changed,
            },
            0o600,
        )

    def link_key(self, eui: Eui64) -> bytes | None:
        entry = self.entries.get(eui)
        return (
            None if entry is None else link_key_from_install_code(bytes.fromhex(entry.install_code))
        )

    def hashed_link_key(self, eui: Eui64) -> bytes:
        """The hash of the device's TC link key (16 bytes: SHA-256, truncated), or empty
        before it has joined with one."""
        entry = self.entries.get(eui)
        key = self.link_key(eui) if entry is not None and entry.status == "joined" else None
        return hashlib.sha256(key).digest()[:16] if key else b""

    def add(self, eui: Eui64, install_code: bytes) -> bool:
        """CCS01: add the device with its install code (without its CRC, as DUIS carries
        it: the CRC is added here), or (False) keep the one already in the log as it is."""
        if eui in self.entries:
            log.info("han.device_log_kept", extra={"device": eui.duis})
            return False
        code = with_crc(install_code).hex().upper()
        self.entries[eui] = Entry(eui.duis, ADDED_TYPE, code)
        self.removed.discard(eui.duis)
        self.changed = time.time()
        self.save()
        log.info("han.device_log_added", extra={"device": eui.duis})
        return True

    def open_joining(self, eui: Eui64, seconds: int) -> None:
        """Let a device CCS01 added join for ``seconds`` from now."""
        entry = self.entries.get(eui)
        if entry is not None and entry.status != "joined":
            entry.join_until = time.time() + seconds
            self.save()

    def remove(self, eui: Eui64) -> bool:
        """CCS02: take the device out of the log (False: it is not in it), keeping its
        TC link key's hash in the historic device log when it had one."""
        if eui not in self.entries:
            return False
        hashed = self.hashed_link_key(eui)
        if hashed:
            self.historic = [h for h in self.historic if h.eui != eui.duis]
            self.historic.append(HistoricEntry(eui.duis, hashed.hex(), time.time()))
            self.historic = self.historic[-MAX_HISTORIC:]
        del self.entries[eui]
        self.removed.add(eui.duis)
        self.changed = time.time()
        self.save()
        log.info("han.device_log_removed", extra={"device": eui.duis})
        return True

    def device_type(self, eui: Eui64) -> str | None:
        entry = self.entries.get(eui)
        return entry.device_type if entry else None

    # --- the trust centre's decisions (nodes.radio.api.TrustCentre) --------------------------

    def authorize(self, eui: Eui64, capability: int) -> bytes | None:
        key = self.link_key(eui)
        entry = self.entries.get(eui)
        late = entry is not None and entry.join_until is not None and time.time() > entry.join_until
        if key is None or late:
            reason = "its join timeout has passed" if late else "not in the CHF device log"
            key = None
            self.refused.append({"eui": eui.duis, "time": time.time(), "reason": reason})
            self.save()
            log.warning("han.join_refused", extra={"device": eui.duis, "reason": reason})
        elif entry is not None:
            # what the device says of itself: one CCS01 added has no type to tell it is sleepy
            entry.sleepy = not capability & CAP_RX_ON_WHEN_IDLE
            self.save()
        return key

    def sleepy(self, eui: Eui64) -> bool:
        """Whether the device joined with its receiver off when idle, or is a GSME."""
        entry = self.entries.get(eui)
        return entry is not None and (entry.sleepy or entry.device_type == "GSME")

    def joined(self, eui: Eui64, short: int) -> None:
        entry = self.entries.get(eui)
        if entry is None:
            return
        first = entry.status != "joined" or entry.short != short
        entry.status, entry.short, entry.joined_at = "joined", short, time.time()
        entry.join_until = None  # it holds its TC link key now: it may rejoin at any time
        self.save()
        if first:
            log.info(
                "han.device_joined",
                extra={
                    "device": eui.duis,
                    "device_type": entry.device_type,
                    "short": f"0x{short:04x}",
                },
            )

    def summary(self) -> list[dict[str, Any]]:
        return [
            {"eui": e.eui, "device_type": e.device_type, "status": e.status, "short": e.short}
            for e in self.entries.values()
        ]
