"""DUIS calendar parts both fuels' 2.1 transforms read (the ESME's ECS08a, the GSME's GCS05):
one part of a date (a choice of a specified value or a wildcard) and a switch time."""

from __future__ import annotations

from lxml import etree

from gateway.transform.registry import TransformRefused
from rig.protocol.duis import codes
from rig.protocol.duis.xml import NS


def choice(date: etree._Element, part: str) -> etree._Element:
    """The element chosen for ``part`` of a DUIS date (``Year``, ``GasMonthWithWildcards``...)."""
    found = date.find(f"sr:{part}/*", NS)
    if found is None:  # the schema makes each part a choice of one
        raise TransformRefused(codes.NOT_DUIS, f"a Date without its {part}")
    return found


def switch_time(value: str) -> bytes:
    """A switch time ("09:30:00.00Z") as a COSEM time: hour, minute, second, hundredths."""
    hh, mm, rest = value.rstrip("Z").split(":")
    ss, _, hundredths = rest.partition(".")
    return bytes([int(hh), int(mm), int(ss), int((hundredths or "0")[:2].ljust(2, "0"))])
