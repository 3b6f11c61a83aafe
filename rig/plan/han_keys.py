"""The HAN network key of each hub: made once per hub and state folder, by an explicit step of
``rig up`` (never as a side effect of rendering a config), and kept for sniffers and
restarts (``rig han key`` prints it for Wireshark).
"""

from __future__ import annotations

import os
from pathlib import Path

from rig.description.model import Rig
from rig.plan.model import PlanError
from rig.protocol.eui import Eui64
from rig.runtime.files import write_atomic
from rig.state import StateDir


def key_file(state: StateDir, hub: Eui64) -> Path:
    return state.sub("han") / f"{hub.hex}-network-key"


def ensure(rig: Rig, state: StateDir) -> list[str]:
    """Make the network key of every hub that has none; what was made, for progress."""
    made = []
    for hub in rig.hubs:
        path = key_file(state, hub.eui)
        if not path.exists():
            write_atomic(path, os.urandom(16).hex() + "\n", 0o600)
            made.append(f"HAN network key of {hub.name}")
    return made


def read(state: StateDir, hub: Eui64) -> bytes:
    path = key_file(state, hub)
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        raise PlanError(
            f"no HAN network key for hub {hub.duis} in {path.parent}: `rig up` makes it"
        ) from None
    except ValueError:
        raise PlanError(f"{path} is not a 16-byte key in hex: delete it and `rig up`") from None
