"""What a radio offers role code: form or join, permit joining, APS in and out, link quality.

A backend implements :class:`Radio`; the CHF gives it a :class:`TrustCentre`
(the device log) that decides who may join and with which link key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from rig.protocol.eui import Eui64


class DeliveryError(RuntimeError):
    """An APS frame that was not acknowledged after every retry."""


class JoinRefused(RuntimeError):
    """The trust centre (or no network in range) refused this device."""


@dataclass(frozen=True, slots=True)
class NetworkSettings:
    channel: int
    pan_id: int
    extended_pan_id: Eui64
    network_key: bytes = b""
    key_seq: int = 0


@dataclass(frozen=True, slots=True)
class RadioSettings:
    """How a node's radio is set up: its config's radio section plus what its role needs."""

    name: str  # names the radio to the air (captures, fault injection)
    air: tuple[str, int] = ("127.0.0.1", 17754)  # sim: where the air listens for ZEP
    control: str | None = None  # sim: the air's control URL, to register by name
    device: str | None = None  # a radio stick's serial device
    router: bool = True  # a router (mains-powered, FFD); False: an end device
    rx_on_when_idle: bool = True  # False: a sleepy end device that polls its parent


@dataclass(frozen=True, slots=True)
class ApsMessage:
    peer: Eui64  # destination when sending, source when received
    cluster: int
    payload: bytes
    profile: int = 0x0109
    src_ep: int = 1
    dst_ep: int = 1
    lqi: int | None = None


@dataclass(slots=True)
class LinkQuality:
    lqi: int = 0
    frames_in: int = 0
    frames_out: int = 0
    aps_retries: int = 0
    failures: int = 0  # frames the MAC could not get acknowledged


@dataclass(slots=True)
class RadioCounters:
    replays_dropped: int = 0
    mic_failures: int = 0
    bad_frames: int = 0
    duplicates_dropped: int = 0
    links: dict[str, LinkQuality] = field(default_factory=dict)


class TrustCentre(Protocol):
    def authorize(self, eui: Eui64, capability: int) -> bytes | None:
        """The device's link key if it may join, else None (and the refusal is recorded)."""

    def joined(self, eui: Eui64, short: int) -> None: ...

    def link_key(self, eui: Eui64) -> bytes | None:
        """The link key of a device already admitted (after a restart of the trust centre)."""


Handler = Callable[[ApsMessage], Awaitable[None]]


class Radio(Protocol):
    eui: Eui64

    async def form(self, settings: NetworkSettings, trust_centre: TrustCentre) -> None: ...

    async def join(
        self, channel: int, extended_pan_id: Eui64, link_key: bytes
    ) -> NetworkSettings: ...

    async def permit_joining(self, seconds: int) -> None: ...

    async def send(self, message: ApsMessage) -> None: ...

    def on_message(self, handler: Handler) -> None: ...

    async def remove(self, eui: Eui64) -> None:
        """The trust centre drops a device from the network (it is asked to leave)."""

    def on_left(self, handler: Callable[[], None]) -> None:
        """``handler`` is called when the trust centre removed this device from the network."""

    def link_quality(self) -> dict[str, LinkQuality]: ...

    def counters(self) -> RadioCounters: ...

    async def sleep(self) -> None: ...

    async def wake(self) -> None: ...

    async def close(self) -> None: ...
