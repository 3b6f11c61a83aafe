"""``radio.json``: the network state a restarted radio resumes from, as a real stick keeps it.

Both sides save the network (channel, PAN ID, extended PAN ID, key sequence) and
their short address; the coordinator adds its children (EUI and whether they
sleep), a device the network key and its trust centre. NWK frame counters are
kept apart, in ``nwk-counters.json`` (:mod:`nodes.radio.sim.counters`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nodes.radio.api import NetworkSettings
from rig.protocol.eui import Eui64
from rig.runtime.files import read_json, write_json


@dataclass(frozen=True, slots=True)
class SavedChild:
    short: int
    eui: Eui64
    rx_on_when_idle: bool


@dataclass(frozen=True, slots=True)
class Membership:
    """A device's saved place on a network: enough to rejoin without the trust centre."""

    settings: NetworkSettings
    short: int
    trust_centre: Eui64


class RadioState:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, Any]:
        return read_json(self.path, {}) or {}

    def children(self) -> Iterator[SavedChild]:
        """The coordinator's children as last saved."""
        for short, info in self._load().get("children", {}).items():
            yield SavedChild(
                int(short), Eui64.parse(info["eui"]), info.get("rx_on_when_idle", True)
            )

    def membership(self, extended_pan_id: Eui64) -> Membership | None:
        """This device's saved membership of ``extended_pan_id``'s network, if it has one."""
        saved = self._load()
        if saved.get("extended_pan_id") != extended_pan_id.duis or not saved.get("network_key"):
            return None
        trust_centre = Eui64.parse(saved["trust_centre"])
        settings = NetworkSettings(
            saved["channel"],
            saved["pan_id"],
            Eui64.parse(saved["extended_pan_id"]),
            bytes.fromhex(saved["network_key"]),
            saved["key_seq"],
        )
        return Membership(settings, saved["short"], trust_centre)

    def save_coordinator(
        self,
        settings: NetworkSettings,
        short: int | None,
        children: Mapping[int, Eui64],
        sleepy: set[Eui64],
    ) -> None:
        state = _network(settings, short)
        state["children"] = {
            str(child): {"eui": eui.duis, "rx_on_when_idle": eui not in sleepy}
            for child, eui in children.items()
        }
        write_json(self.path, state, 0o600)

    def forget(self) -> None:
        """This device left its network: nothing to resume after a restart."""
        self.path.unlink(missing_ok=True)

    def save_device(
        self, settings: NetworkSettings, short: int | None, trust_centre: Eui64
    ) -> None:
        state = _network(settings, short)
        state["network_key"] = settings.network_key.hex()
        state["trust_centre"] = trust_centre.duis
        write_json(self.path, state, 0o600)


def _network(settings: NetworkSettings, short: int | None) -> dict[str, Any]:
    return {
        "channel": settings.channel,
        "pan_id": settings.pan_id,
        "extended_pan_id": settings.extended_pan_id.duis,
        "key_seq": settings.key_seq,
        "short": short,
    }
