"""Transforms of the prepayment use cases whose command takes its argument from the DUIS
body: 2.2 Top Up Device becomes CS01a, the UTRN entered into the ESME's token gateway as
its 20 ASCII digits (as RTDS 4.5.0 has it)."""

from __future__ import annotations

from gateway.transform.registry import TransformInput, transforms
from rig.protocol.duis.xml import text
from rig.protocol.gbcs.catalogue import CS01A
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, command


@transforms(CS01A)
def top_up(uc: UseCase, given: TransformInput) -> GbcsMessage:
    utrn = text(given.request.body, "sr:UTRN") or ""  # the schema checked: 20 digits
    token = Data(DataType.OCTET_STRING, utrn.encode("ascii"))
    return command(uc, given.counter, given.originator.raw, given.device.raw, token)
