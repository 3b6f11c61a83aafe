"""A ZCL attribute server for GBZ use cases: a device model's attributes as a table.

A model registers each attribute it serves, per cluster, with a value source;
:meth:`ZclServer.read` answers a Read Attributes command from the table (an attribute it
does not serve is answered "unsupported attribute", as ZCL does).
"""

from __future__ import annotations

from collections.abc import Callable

from rig.protocol.gbcs import gbz

Source = Callable[[], int]


class ZclServer:
    def __init__(self) -> None:
        self._attributes: dict[tuple[int, int], tuple[gbz.ZclAttribute, Source]] = {}

    def attribute(self, cluster: int, attribute: gbz.ZclAttribute, source: Source) -> None:
        self._attributes[(cluster, attribute.ident)] = (attribute, source)

    def read(self, cluster: int, idents: list[int]) -> bytes:
        """Read Attributes Response records for the attributes asked for, in order."""
        records: list[tuple[gbz.ZclAttribute, int | None]] = []
        for ident in idents:
            found = self._attributes.get((cluster, ident))
            if found is None:
                records.append((gbz.ZclAttribute(ident, f"0x{ident:04X}", 0, 0), None))
            else:
                attribute, source = found
                records.append((attribute, source()))
        return gbz.read_records(records)
