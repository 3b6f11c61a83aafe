"""Replay detection: GBCS originator counters must rise strictly per originator and recipient.

A device keeps, for each remote party, the highest counter it has accepted and rejects a
command whose counter is not above it (GBCS 4.3.2.x); the gateway does the same for
responses it tracks. The guard is plain data, so its owner can persist it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class ReplayError(ValueError):
    """A counter at or below the last one accepted."""


@dataclass
class CounterGuard:
    last: dict[tuple[bytes, bytes], int] = field(default_factory=dict)

    def check(self, originator: bytes, recipient: bytes, counter: int) -> None:
        previous = self.last.get((originator, recipient))
        if previous is not None and counter <= previous:
            raise ReplayError(
                f"counter {counter:#x} from {originator.hex().upper()} is not above "
                f"{previous:#x}: a replayed or reordered message"
            )

    def accept(self, originator: bytes, recipient: bytes, counter: int) -> None:
        """Check, then remember ``counter`` as the newest one."""
        self.check(originator, recipient, counter)
        self.last[(originator, recipient)] = counter

    def to_json(self) -> dict[str, int]:
        return {f"{o.hex()}:{r.hex()}": c for (o, r), c in self.last.items()}

    @classmethod
    def from_json(cls, data: dict[str, int]) -> CounterGuard:
        guard = cls()
        for key, counter in data.items():
            o, r = key.split(":")
            guard.last[(bytes.fromhex(o), bytes.fromhex(r))] = int(counter)
        return guard
