"""What every HAN role shares: its radio (through the seam), its ZCL application, its status."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import asdict
from typing import Any

from nodes.config import NodeConfig
from nodes.gpio import Wiring
from nodes.han.app import HanApp
from nodes.radio import DeliveryError, JoinRefused, Radio, RadioSettings, make_radio
from nodes.roles.base import DeviceRole
from rig.protocol.eui import Eui64
from rig.protocol.zigbee.security import link_key_from_install_code

log = logging.getLogger("nodes.han")
JOIN_RETRY_S = 2.0
BOXED = "boxed"  # the HAN state of a boxed device the CHF does not admit yet


class HanRole(DeviceRole):
    router = True
    rx_on_when_idle = True

    def __init__(self, config: NodeConfig, wiring: Wiring) -> None:
        super().__init__(config, wiring)
        settings = RadioSettings(
            name=config.name,
            air=config.radio.air,
            control=config.radio.control,
            device=config.radio.device,
            router=self.router,
            rx_on_when_idle=self.rx_on_when_idle,
        )
        self.radio: Radio = make_radio(
            config.radio.type, config.eui, settings, config.state_dir / "radio"
        )
        self.app = HanApp(self.radio, config.eui)
        self.han_state = "starting"
        self.han_error = ""
        self._tasks: list[asyncio.Task] = []

    def spawn(self, coro: Any, name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.radio.close()

    def checks(self) -> dict[str, str]:
        han = (
            "ok"
            if self.han_state in ("formed", "joined", BOXED)
            else f"{self.han_state}: {self.han_error}".rstrip(": ")
        )
        return {**super().checks(), "han": han}

    def detail(self) -> dict[str, Any]:
        counters = self.radio.counters()
        return {
            **super().detail(),
            "han": {
                "state": self.han_state,
                "short": getattr(self.radio, "short", None),
                "nwk_frame_counter": getattr(self.radio, "nwk_frame_counter", None),
                "replays_dropped": counters.replays_dropped,
                "mic_failures": counters.mic_failures,
                "duplicates_dropped": counters.duplicates_dropped,
                "links": {k: asdict(v) for k, v in self.radio.link_quality().items()},
            },
        }


class JoiningRole(HanRole):
    """A device that joins its hub's HAN with its install code, retrying until admitted."""

    async def start(self) -> None:
        await super().start()
        self.radio.on_left(self._left)
        self.spawn(self._join_then_run(), "han")

    def _left(self) -> None:
        """The CHF removed it from the HAN (CCS02): it keeps trying to join, and joins
        again only once 8.11 adds it to the CHF's device log again."""
        self.han_state, self.han_error = "left", "the CHF removed it from the HAN"
        log.warning("han.removed_by_chf", extra={"device": self.config.eui.duis})
        self.spawn(self._rejoin(), "han-rejoin")

    async def _rejoin(self) -> None:
        await self._join()
        await self.on_rejoined()

    async def _join_then_run(self) -> None:
        await self._join()
        await self.on_joined()

    async def _join(self) -> None:
        han = self.config.han
        assert han.install_code is not None  # NodeConfig checks a joining device has one
        link_key = link_key_from_install_code(han.install_code)
        while True:
            try:
                await self.radio.join(han.channel, han.extended_pan_id, link_key)
                self.han_state, self.han_error = "joined", ""
                break
            except (JoinRefused, DeliveryError) as exc:
                # a boxed device is refused until 8.11 puts it in the CHF's device log
                state = BOXED if self.config.boxed else "not joined"
                self.han_state, self.han_error = state, str(exc)
                (log.debug if state == BOXED else log.warning)(
                    "han.join_failed", extra={"device": self.config.eui.duis, "error": str(exc)}
                )
                await asyncio.sleep(JOIN_RETRY_S)

    async def on_joined(self) -> None:
        """Role behaviour once on the network."""

    async def on_rejoined(self) -> None:
        """Back on the network after the CHF removed it and added it again (its behaviour
        from :meth:`on_joined` runs on)."""

    @property
    def chf(self) -> Eui64:
        assert self.config.hub_eui is not None
        return self.config.hub_eui
