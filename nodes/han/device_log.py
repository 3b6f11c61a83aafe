"""The CHF device log: the devices allowed on this HAN, and the trust centre's join decisions.

An entry holds the device's EUI, its GB device type and its install code; the
link key derived from the install code is what the trust centre secures the
network key with. A device that is not in the log is refused, and the refusal is
kept (EUI, time, reason) for the lab to see. The log lives in the CHF's state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nodes.config import DeviceLogEntry
from rig.protocol.eui import Eui64
from rig.protocol.zigbee.security import link_key_from_install_code
from rig.runtime.files import read_json, write_json

log = logging.getLogger("nodes.han")
MAX_REFUSALS = 200


@dataclass
class Entry:
    eui: str
    device_type: str
    install_code: str
    status: str = "whitelisted"  # whitelisted | joined
    short: int | None = None
    joined_at: float | None = None


class DeviceLog:
    def __init__(self, path: Path, seed: Iterable[DeviceLogEntry]) -> None:
        self.path = path
        data = read_json(path, {}) or {}
        self.entries: dict[Eui64, Entry] = {
            Eui64.parse(e["eui"]): Entry(**e) for e in data.get("entries", [])
        }
        self.refused: list[dict[str, Any]] = list(data.get("refused", []))
        for item in seed:  # the rig description is the authority on who is in the log
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
            },
            0o600,
        )

    def link_key(self, eui: Eui64) -> bytes | None:
        entry = self.entries.get(eui)
        return (
            None if entry is None else link_key_from_install_code(bytes.fromhex(entry.install_code))
        )

    def device_type(self, eui: Eui64) -> str | None:
        entry = self.entries.get(eui)
        return entry.device_type if entry else None

    # --- the trust centre's decisions (nodes.radio.api.TrustCentre) --------------------------

    def authorize(self, eui: Eui64, capability: int) -> bytes | None:
        key = self.link_key(eui)
        if key is None:
            reason = "not in the CHF device log"
            self.refused.append({"eui": eui.duis, "time": time.time(), "reason": reason})
            self.save()
            log.warning("han.join_refused", extra={"device": eui.duis, "reason": reason})
        return key

    def joined(self, eui: Eui64, short: int) -> None:
        entry = self.entries.get(eui)
        if entry is None:
            return
        first = entry.status != "joined" or entry.short != short
        entry.status, entry.short, entry.joined_at = "joined", short, time.time()
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
