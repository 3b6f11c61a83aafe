"""Service Reference Variants: which are critical, non-device, and who may send them.

DCC publishes this matrix (DUIS Annex, as JSON in ``@smartdcc/duis-parser``);
:func:`parse_matrix` reads its rows, and the caller finds and reads the file
(:mod:`rig.runtime.reference`). Command variants follow DUIS 3.2: 1 send
(non-critical), 2 return for local delivery, 3 both, 4 transform a critical request
into a pre-command, 5/6/7 the signed pre-command sent / returned / both, 8 a
non-device request answered by the DCC.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

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


class SrvTable(Mapping[str, Srv]):
    """Every SRV by its variant (``"4.1.1"``)."""

    def __init__(self, srvs: Iterable[Srv]) -> None:
        self._by_variant = {s.variant: s for s in srvs}

    def __getitem__(self, variant: str) -> Srv:
        return self._by_variant[variant]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_variant)

    def __len__(self) -> int:
        return len(self._by_variant)

    def lookup(self, variant: str) -> Srv:
        found = self._by_variant.get(variant)
        if found is None:
            raise KeyError(f"unknown Service Reference Variant {variant!r}")
        return found


def _yes(v: object) -> bool:
    return str(v).strip().lower() == "yes"


def parse_matrix(rows: list[dict[str, Any]]) -> SrvTable:
    """The SRV table from the matrix's rows (its JSON, parsed)."""
    return SrvTable(
        Srv(
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
        for row in rows
    )
