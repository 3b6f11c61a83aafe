"""The air's configuration: the contract between the controller and ``rig-air``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rig.runtime import records


@dataclass(frozen=True, slots=True)
class AirConfig:
    VERSION: ClassVar[int] = 1

    bind: str  # where radios send their ZEP frames
    zep_port: int
    control_bind: str  # the control API: radios register, faults, captures, health
    control_port: int
    pcap: Path | None = None  # every frame, as Wireshark reads it
    version: int = VERSION

    @classmethod
    def load(cls, path: Path) -> AirConfig:
        return records.read(cls, path, "air config")

    def dumps(self) -> str:
        return records.write_data(self)
