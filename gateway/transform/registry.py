"""The registry of transforms: which function builds the GBCS command of which use case."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

from rig.protocol.duis import codes
from rig.protocol.duis.message import Request
from rig.protocol.duis.xml import NS, text
from rig.protocol.eui import Eui64
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import Catalogue, UseCase
from rig.runtime.registry import Registry


@dataclass(frozen=True, slots=True)
class Peer:
    """What the DCC holds of a device a request names (the target, 8.7's OtherDeviceID): its
    type in the inventory (None: not in it), its KA certificate in SMKI (DER), if any, and
    the cells of it the DCC controls (6.21: "Supplier", "NetworkOperator")."""

    device_type: str | None
    ka_certificate: bytes | None = None
    dcc_cells: frozenset[str] = frozenset()


def _no_peer(_eui: Eui64) -> Peer:
    return Peer(None)


@dataclass(frozen=True, slots=True)
class TransformInput:
    """What a transform works from: the admitted request and who it is from and to."""

    request: Request  # its body holds the SRV's parameters
    counter: int  # the RequestID counter, which becomes the GBCS originator counter
    originator: Eui64  # the DCC User
    device: Eui64  # the target device
    peer: Callable[[Eui64], Peer] = _no_peer  # what the DCC holds of another device


class TransformRefused(ValueError):
    """A request the transform cannot turn into its use case's command (the body is for
    another device type, say): the DUIS response code and why."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code


def for_device_type(body: etree._Element, element: str, reason: str) -> etree._Element:
    """The body's ``element`` (``sr:ElecDebtRecovery1``), which says the request is for
    this device type; the request refused with E11 and ``reason`` when it is missing."""
    found = body.find(element, NS)
    if found is None:
        raise TransformRefused(codes.WRONG_DEVICE_TYPE, reason)
    return found


def immediate_only(body: etree._Element, srv: str) -> None:
    """Refuse (E17) a request with an ExecutionDateTime: the rig does not yet hold
    future-dated commands (or cancel them)."""
    if body.find("sr:ExecutionDateTime", NS) is not None:
        raise TransformRefused(
            codes.NOT_SERVED,
            f"{srv} with an ExecutionDateTime (future-dated, or its cancellation) is not "
            "served by the rig: send it without one, to take effect at once",
        )


def number(body: etree._Element, path: str) -> int:
    """An integer of the body (the schema checked it is there and an integer), or 0."""
    return int(text(body, path) or 0)


Transform = Callable[[UseCase, TransformInput], GbcsMessage]
_TRANSFORMS: Registry[str, Transform] = Registry("transform")


def transforms(*use_cases: UseCase) -> Callable[[Transform], Transform]:
    """Register the decorated function as the transform of ``use_cases``."""
    return _TRANSFORMS.register(*(uc.name for uc in use_cases))


def transform_for(uc: UseCase) -> Transform | None:
    return _TRANSFORMS.get(uc.name)


def served(catalogue: Catalogue, srv: str, device_type: str) -> UseCase | None:
    """The use case the rig transforms ``srv`` into for this device type, if it serves it."""
    uc = catalogue.for_srv(srv, device_type)
    return uc if uc is not None and uc.name in _TRANSFORMS else None
