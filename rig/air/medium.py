"""Who hears whom: radios on the simulated air and the delivery of each frame.

A radio is known by its UDP address once it has sent a frame; a frame sent on a
channel reaches every other radio last heard on that channel. The channel model
(loss, latency, airtime, jamming, isolation) plugs in here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rig.protocol.zep import ZepData

Address = tuple[str, int]


@dataclass
class Radio:
    address: Address
    channel: int
    last_heard: float
    frames_sent: int = 0
    frames_received: int = 0


@dataclass
class Medium:
    radios: dict[Address, Radio] = field(default_factory=dict)
    frames: int = 0
    rejected: int = 0

    def transmit(self, sender: Address, packet: ZepData) -> list[Address]:
        """Record a frame from ``sender``; return the radios that receive it."""
        radio = self.radios.get(sender)
        if radio is None:
            radio = self.radios[sender] = Radio(sender, packet.channel, time.monotonic())
        radio.channel, radio.last_heard = packet.channel, time.monotonic()
        radio.frames_sent += 1
        self.frames += 1
        receivers = [
            r for a, r in self.radios.items() if a != sender and r.channel == packet.channel
        ]
        for r in receivers:
            r.frames_received += 1
        return [r.address for r in receivers]

    def summary(self) -> dict:
        return {
            "frames": self.frames,
            "rejected": self.rejected,
            "radios": [
                {
                    "address": f"{r.address[0]}:{r.address[1]}",
                    "channel": r.channel,
                    "sent": r.frames_sent,
                    "received": r.frames_received,
                }
                for r in self.radios.values()
            ],
        }
