"""Service Reference Variants: which are critical, non-device, and who may send them.

DCC publishes this matrix (DUIS Annex, as JSON in ``@smartdcc/duis-parser``); the rig
reads it from ``$RIG_DUIS_MATRIX``, the duis-parser package the setup installs under
``tools/npm``, or ``../shared/vectors/metadata``. Command variants follow DUIS 3.2:
1 send (non-critical), 2 return for local delivery, 3 both, 4 transform a critical
request into a pre-command, 5/6/7 the signed pre-command sent / returned / both,
8 a non-device request answered by the DCC.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[3]
MATRIX_PLACES = (
    _CHECKOUT
    / "tools"
    / "npm"
    / "node_modules"
    / "@smartdcc"
    / "duis-parser"
    / "dist"
    / "duis-request-matrix.json",
    _CHECKOUT.parent / "shared" / "vectors" / "metadata" / "duis-request-matrix.json",
)
NON_CRITICAL_VARIANTS = (1, 2, 3)
CRITICAL_VARIANTS = (4, 5, 6, 7)
NON_DEVICE_VARIANTS = (8,)


@dataclass(frozen=True, slots=True)
class Srv:
    variant: str  # "4.1.1"
    service_reference: str  # "4.1"
    name: str
    critical: bool
    non_device: bool
    on_demand: bool
    future_dated: str
    dcc_scheduled: bool
    roles: frozenset[str]

    @property
    def command_variants(self) -> tuple[int, ...]:
        if self.non_device:
            return NON_DEVICE_VARIANTS
        return CRITICAL_VARIANTS if self.critical else NON_CRITICAL_VARIANTS

    def allows(self, role: str) -> bool:
        return role in self.roles


def _yes(v: str) -> bool:
    return str(v).strip().lower() == "yes"


def find_matrix() -> Path:
    places = [Path(os.environ["RIG_DUIS_MATRIX"])] if os.environ.get("RIG_DUIS_MATRIX") else []
    for place in [*places, *MATRIX_PLACES]:
        if place.is_file():
            return place
    raise FileNotFoundError(
        "the DUIS request matrix (duis-request-matrix.json) was not found: run the setup "
        "(make test installs @smartdcc/duis-parser) or set RIG_DUIS_MATRIX"
    )


@lru_cache(maxsize=2)
def load(path: Path | None = None) -> dict[str, Srv]:
    rows = json.loads((path or find_matrix()).read_text())
    out = {}
    for row in rows:
        srv = Srv(
            row["Service Reference Variant"],
            row["Service Reference"],
            row["Service Request Name"],
            _yes(row["Critical"]),
            _yes(row["Non-Device Request"]),
            _yes(row.get("On Demand", "")),
            str(row.get("Future Dated Response Pattern", "")),
            _yes(row.get("DCC Scheduled", "")),
            frozenset(row["Eligible User Roles"]),
        )
        out[srv.variant] = srv
    return out


def lookup(variant: str) -> Srv:
    table = load()
    if variant not in table:
        raise KeyError(f"unknown Service Reference Variant {variant!r}")
    return table[variant]
