"""Who hears whom on the simulated air, and when: radios, the channel model, faults.

A radio registers by name (or is learnt from its first frame). A frame occupies
its channel for its airtime at 250 kbit/s, after the channel is free (a shared
medium: frames queue, they never overlap); it then reaches every other radio on
the channel unless the model drops it: per-node and per-link loss, a node out of
range (isolated), a jammed channel. Latency adds per node and per link.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from rig.protocol.zigbee.mac import airtime_us

Address = tuple[str, int]
FAULT_KINDS = ("loss", "latency", "jam", "isolate")


class FaultError(ValueError):
    """A fault that does not make sense (unknown node, probability out of range...)."""


@dataclass
class Radio:
    address: Address
    channel: int
    name: str
    eui: str | None = None
    sent: int = 0
    received: int = 0
    dropped: int = 0


@dataclass
class Faults:
    node_loss: dict[str, float] = field(default_factory=dict)
    link_loss: dict[frozenset[str], float] = field(default_factory=dict)
    node_latency_ms: dict[str, float] = field(default_factory=dict)
    link_latency_ms: dict[frozenset[str], float] = field(default_factory=dict)
    jammed: set[int] = field(default_factory=set)
    isolated: set[str] = field(default_factory=set)

    def loss(self, a: str, b: str) -> float:
        keep = (1 - self.node_loss.get(a, 0.0)) * (1 - self.node_loss.get(b, 0.0))
        keep *= 1 - self.link_loss.get(frozenset((a, b)), 0.0)
        return 1 - keep

    def latency_s(self, a: str, b: str) -> float:
        ms = self.node_latency_ms.get(a, 0.0) + self.node_latency_ms.get(b, 0.0)
        return (ms + self.link_latency_ms.get(frozenset((a, b)), 0.0)) / 1000

    def describe(self) -> dict[str, Any]:
        return {
            "loss": {
                **self.node_loss,
                **{"-".join(sorted(k)): v for k, v in self.link_loss.items()},
            },
            "latency_ms": {
                **self.node_latency_ms,
                **{"-".join(sorted(k)): v for k, v in self.link_latency_ms.items()},
            },
            "jammed_channels": sorted(self.jammed),
            "isolated": sorted(self.isolated),
        }


@dataclass(frozen=True, slots=True)
class Delivery:
    address: Address
    at: float  # loop time
    lqi: int


@dataclass
class Medium:
    radios: dict[Address, Radio] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    busy_until: dict[int, float] = field(default_factory=dict)
    frames: int = 0
    rejected: int = 0
    jammed_frames: int = 0
    lost: int = 0
    airtime_s: float = 0.0
    rng: random.Random = field(default_factory=random.Random)

    def register(self, name: str, address: Address, channel: int, eui: str | None = None) -> None:
        for other in [a for a, r in self.radios.items() if r.name == name and a != address]:
            del self.radios[other]  # a restarted node: same name, new socket
        self.radios[address] = Radio(address, channel, name, eui)

    def names(self) -> set[str]:
        return {r.name for r in self.radios.values()}

    def transmit(
        self, sender: Address, channel: int, length: int, now: float
    ) -> tuple[float, list[Delivery]]:
        """Schedule a frame of ``length`` bytes: its start time and who receives it when."""
        radio = self.radios.get(sender)
        if radio is None:
            radio = self.radios[sender] = Radio(sender, channel, f"{sender[0]}:{sender[1]}")
        radio.channel = channel
        radio.sent += 1
        self.frames += 1
        airtime = airtime_us(length) / 1e6
        start = max(now, self.busy_until.get(channel, 0.0))
        end = start + airtime
        self.busy_until[channel] = end
        self.airtime_s += airtime
        if channel in self.faults.jammed:
            self.jammed_frames += 1
            return start, []
        out: list[Delivery] = []
        for addr, rx in self.radios.items():
            if addr == sender or rx.channel != channel:
                continue
            if radio.name in self.faults.isolated or rx.name in self.faults.isolated:
                continue
            p = self.faults.loss(radio.name, rx.name)
            if p and self.rng.random() < p:
                rx.dropped += 1
                self.lost += 1
                continue
            rx.received += 1
            lqi = max(40, int(255 * (1 - p)))
            out.append(Delivery(addr, end + self.faults.latency_s(radio.name, rx.name), lqi))
        return start, out

    # --- faults -------------------------------------------------------------------------

    def apply(self, kind: str, nodes: list[str], value: float | None, channel: int | None) -> None:
        unknown = [n for n in nodes if n not in self.names()]
        if unknown:
            raise FaultError(
                f"no radio named {', '.join(unknown)} on the air "
                f"(known: {', '.join(sorted(self.names())) or 'none'})"
            )
        f = self.faults
        if kind == "loss":
            if value is None or not 0 <= value <= 1:
                raise FaultError("loss needs a probability between 0 and 1 (e.g. 0.1 for 10%)")
            self._set(f.node_loss, f.link_loss, nodes, value)
        elif kind == "latency":
            if value is None or value < 0:
                raise FaultError("latency needs milliseconds >= 0")
            self._set(f.node_latency_ms, f.link_latency_ms, nodes, value)
        elif kind == "jam":
            channels = {channel} if channel else {r.channel for r in self.radios.values()}
            if not channels:
                raise FaultError("no channel to jam: name one with --channel")
            f.jammed |= channels
        elif kind == "isolate":
            if not nodes:
                raise FaultError("isolate needs the node to take out of range")
            f.isolated |= set(nodes)
        else:
            raise FaultError(f"unknown fault {kind!r}: one of {', '.join(FAULT_KINDS)}")

    @staticmethod
    def _set(per_node: dict, per_link: dict, nodes: list[str], value: float) -> None:
        if len(nodes) == 1:
            per_node[nodes[0]] = value
        elif len(nodes) == 2:
            per_link[frozenset(nodes)] = value
        else:
            raise FaultError("name one node (all its links) or two (the link between them)")

    def clear(self) -> None:
        self.faults = Faults()

    def summary(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "rejected": self.rejected,
            "lost": self.lost,
            "jammed": self.jammed_frames,
            "airtime_s": round(self.airtime_s, 4),
            "faults": self.faults.describe(),
            "radios": [
                {
                    "name": r.name,
                    "eui": r.eui,
                    "address": f"{r.address[0]}:{r.address[1]}",
                    "channel": r.channel,
                    "sent": r.sent,
                    "received": r.received,
                    "dropped": r.dropped,
                }
                for r in self.radios.values()
            ],
        }
