"""The rig's smart metering WAN over MQTT: topic names and hub status payloads.

Each communications hub (CHF) has its own topic subtree keyed by its EUI; the
broker's ACL lets a hub's certificate reach only that subtree:

    dcc/<CHF-EUI>/down     gateway -> hub   GBCS commands (QoS 1)
    dcc/<CHF-EUI>/up       hub -> gateway   GBCS responses and alerts (QoS 1)
    dcc/<CHF-EUI>/status   hub -> gateway   retained "online"/"offline" (will message)
    dcc/<CHF-EUI>/beat     hub -> gateway   heartbeat, JSON (QoS 0)
    dcc/<CHF-EUI>/trace    hub -> gateway   hop times of a message (envelope only, JSON, QoS 0)
    dcc/<CHF-EUI>/firmware        gateway -> hub   a firmware image in chunks (11.1; QoS 1)
    dcc/<CHF-EUI>/firmware-held   hub -> gateway   how much of an image the hub holds (QoS 1)

Firmware distribution (11.1): the DCC sends an image to a hub as :class:`FirmwareChunk`
records, one at a time from where the hub says it stands; the hub keeps each chunk that
continues what it holds (on disk) and answers every chunk with a :class:`FirmwareHeld`.
A chunk with no data asks the hub what it holds: the DCC sends one when a hub comes back
online or the DCC restarts, so the distribution resumes from the hub's offset, never from
0 unless the hub holds nothing. The chunk's reader is the hub, the holding's the gateway;
both records are declared here, the WAN's contract, as the hub beat is.

MQTT identities (certificate CN = username = client ID; the broker lets one identity hold
one session, so two clients with the same identity take it from each other):

    dcc-gateway            the DCC: reads and writes the whole WAN tree
    chf-<EUI>              a hub: reads its down topic, writes its up, status, beat, trace
    rig-observer-1 .. 8    the controller's observers (``rig status``'s broker probe, ``rig
                           wan watch``): read the WAN tree and $SYS, write nothing; each
                           process takes a free one (``rig.lifecycle.observers``)
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import asdict, dataclass
from typing import Any

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


def firmware_topic(chf: Eui64) -> str:
    return f"{ROOT}/{chf.hex}/firmware"


def firmware_held_topic(chf: Eui64) -> str:
    return f"{ROOT}/{chf.hex}/firmware-held"


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


_IMAGE_ID = re.compile(r"[0-9a-f]{64}")
MAX_CHUNK = 65536  # bytes of image one chunk may carry


class WanRecordError(ValueError):
    """A WAN payload that is not the record its topic carries (the message says why)."""


def _object(payload: bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WanRecordError(f"{what}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise WanRecordError(f"{what}: a JSON object, not {type(data).__name__}")
    return data


def _int(data: dict[str, Any], name: str, what: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise WanRecordError(f"{what}: {name} must be a whole number >= 0, not {value!r}")
    return value


def _image_id(data: dict[str, Any], what: str) -> str:
    image = data.get("image")
    if not isinstance(image, str) or not _IMAGE_ID.fullmatch(image):
        raise WanRecordError(f"{what}: image must be the SHA-256 of the image (64 hex digits)")
    return image


@dataclass(frozen=True, slots=True)
class FirmwareChunk:
    """Bytes ``offset`` .. ``offset + len(data)`` of the image whose SHA-256 is ``image``
    (hex, lower case; the whole image is ``size`` bytes), for the hub to serve to
    ``devices`` once it holds all of it. No data: how much do you hold? Read by the hub."""

    image: str
    size: int
    offset: int
    data: bytes
    devices: tuple[Eui64, ...]

    def __post_init__(self) -> None:
        if not _IMAGE_ID.fullmatch(self.image):
            raise WanRecordError("image must be the SHA-256 of the image (64 hex digits)")
        if len(self.data) > MAX_CHUNK or self.offset + len(self.data) > self.size:
            raise WanRecordError(
                f"a chunk of {len(self.data)} bytes at {self.offset} does not fit an image of "
                f"{self.size} bytes (at most {MAX_CHUNK} a chunk)"
            )

    def encode(self) -> bytes:
        return json.dumps(
            {
                "image": self.image,
                "size": self.size,
                "offset": self.offset,
                "data": base64.b64encode(self.data).decode(),
                "devices": [d.duis for d in self.devices],
            }
        ).encode()

    @classmethod
    def decode(cls, payload: bytes) -> FirmwareChunk:
        what = "firmware chunk"
        data = _object(payload, what)
        try:
            raw = base64.b64decode(str(data.get("data", "")), validate=True)
            devices = tuple(Eui64.parse(str(d)) for d in data.get("devices") or ())
        except (binascii.Error, ValueError) as exc:
            raise WanRecordError(f"{what}: {exc}") from None
        return cls(
            _image_id(data, what),
            _int(data, "size", what),
            _int(data, "offset", what),
            raw,
            devices,
        )


@dataclass(frozen=True, slots=True)
class FirmwareHeld:
    """How many bytes of image ``image`` (of ``size``) the hub holds, from the start: its
    answer to every chunk. Read by the gateway."""

    image: str
    held: int
    size: int

    @property
    def complete(self) -> bool:
        return self.held >= self.size

    def encode(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def decode(cls, payload: bytes) -> FirmwareHeld:
        what = "firmware holding"
        data = _object(payload, what)
        held, size = _int(data, "held", what), _int(data, "size", what)
        if held > size:
            raise WanRecordError(f"{what}: held {held} is more than the image's {size} bytes")
        return cls(_image_id(data, what), held, size)
