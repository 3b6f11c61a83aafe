"""The rig's smart metering WAN over MQTT: topic names and hub status payloads.

Each communications hub (CHF) has its own topic subtree keyed by its EUI; the
broker's ACL lets a hub's certificate reach only that subtree:

    dcc/<CHF-EUI>/down     gateway -> hub   GBCS commands (QoS 1)
    dcc/<CHF-EUI>/up       hub -> gateway   GBCS responses and alerts (QoS 1)
    dcc/<CHF-EUI>/status   hub -> gateway   retained "online"/"offline" (will message)
    dcc/<CHF-EUI>/beat     hub -> gateway   heartbeat, JSON (QoS 0)
    dcc/<CHF-EUI>/trace    hub -> gateway   hop times of a message (envelope only, JSON, QoS 0)

MQTT identities (certificate CN = username = client ID; the broker lets one identity hold
one session, so two clients with the same identity take it from each other):

    dcc-gateway            the DCC: reads and writes the whole WAN tree
    chf-<EUI>              a hub: reads its down topic, writes its up, status, beat, trace
    rig-observer-1 .. 8    the controller's observers (``rig status``'s broker probe, ``rig
                           wan watch``): read the WAN tree and $SYS, write nothing; each
                           process takes a free one (``rig.lifecycle.observers``)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from rig.protocol.eui import Eui64

ROOT = "dcc"
GATEWAY_IDENTITY = "dcc-gateway"
OBSERVER_POOL_SIZE = 8
OBSERVER_IDENTITIES = tuple(f"rig-observer-{n}" for n in range(1, OBSERVER_POOL_SIZE + 1))
ONLINE = b"online"
OFFLINE = b"offline"


def hub_identity(chf: Eui64) -> str:
    """The MQTT identity (certificate CN, username and client ID) of a hub."""
    return f"chf-{chf.hex}"


def down_topic(chf: Eui64) -> str:
    return f"{ROOT}/{chf.hex}/down"


def up_topic(chf: Eui64) -> str:
    return f"{ROOT}/{chf.hex}/up"


def status_topic(chf: Eui64) -> str:
    return f"{ROOT}/{chf.hex}/status"


def beat_topic(chf: Eui64) -> str:
    return f"{ROOT}/{chf.hex}/beat"


def trace_topic(chf: Eui64) -> str:
    return f"{ROOT}/{chf.hex}/trace"


def hub_of_topic(topic: str) -> Eui64 | None:
    """The hub a topic belongs to, or None for a topic outside the WAN tree."""
    parts = topic.split("/")
    if len(parts) != 3 or parts[0] != ROOT:
        return None
    try:
        return Eui64.parse(parts[1])
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class HubBeat:
    """A hub's heartbeat as published on its ``beat`` topic."""

    seq: int
    uptime_s: float

    def encode(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def decode(cls, payload: bytes) -> HubBeat:
        data = json.loads(payload)
        return cls(seq=int(data["seq"]), uptime_s=float(data["uptime_s"]))
