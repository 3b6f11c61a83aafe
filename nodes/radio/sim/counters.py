"""NWK frame counters across restarts: never reuse an outgoing one, never accept an old one.

The outgoing counter is reserved in blocks written to disk before use, so a node
killed at any moment restarts above every counter it ever sent. Incoming
counters (the highest seen from each neighbour) are saved on a short delay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rig.runtime.files import read_json, write_json

BLOCK = 1024


class FrameCounters:
    def __init__(self, path: Path) -> None:
        self.path = path
        data: dict[str, Any] = read_json(path, {}) or {}
        self.outgoing = int(data.get("reserved", 0))  # start above anything sent before
        self.reserved = self.outgoing
        self.incoming: dict[str, int] = {k: int(v) for k, v in data.get("incoming", {}).items()}
        self._dirty = False

    def next(self) -> int:
        if self.outgoing >= self.reserved:
            self.reserved = self.outgoing + BLOCK
            self.save()
        value = self.outgoing
        self.outgoing += 1
        return value

    def accept(self, source: str, counter: int) -> bool:
        """True for a counter above the last one from ``source`` (and remember it)."""
        last = self.incoming.get(source)
        if last is not None and counter <= last:
            return False
        self.incoming[source] = counter
        self._dirty = True
        return True

    def forget(self, source: str) -> None:
        self.incoming.pop(source, None)
        self._dirty = True

    def save(self) -> None:
        write_json(self.path, {"reserved": self.reserved, "incoming": self.incoming}, 0o600)
        self._dirty = False

    def flush(self) -> None:
        if self._dirty:
            self.save()
