"""The radio seam: role code talks to a :class:`Radio`, never to a particular stick.

``make_radio`` picks the backend from the node's ``radio.type``: ``sim`` (the
simulated air of the virtual rig) today; zigpy radio libraries (bellows for EZSP,
zigpy-znp for TI) plug in behind the same interface.
"""

from __future__ import annotations

from pathlib import Path

from nodes.radio.api import (
    ApsMessage,
    DeliveryError,
    JoinRefused,
    LinkQuality,
    NetworkSettings,
    Radio,
    RadioSettings,
    TrustCentre,
)
from rig.protocol.eui import Eui64

__all__ = [
    "ApsMessage",
    "DeliveryError",
    "JoinRefused",
    "LinkQuality",
    "NetworkSettings",
    "Radio",
    "RadioSettings",
    "TrustCentre",
    "make_radio",
]


def make_radio(kind: str, eui: Eui64, settings: RadioSettings, state_dir: Path) -> Radio:
    if kind == "sim":
        from nodes.radio.sim.stack import SimRadio

        return SimRadio(eui, settings, state_dir)
    raise ValueError(
        f"radio type {kind!r} has no backend yet: use 'sim' (the virtual rig's air); "
        "EZSP (bellows) and ZNP (zigpy-znp) sticks plug in behind nodes.radio.api.Radio"
    )
