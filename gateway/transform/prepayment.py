"""Transforms of the prepayment use cases whose command takes its argument from the DUIS
body: 2.2 Top Up Device becomes CS01a for an ESME, the UTRN entered into the token gateway
as its 20 ASCII digits, and CS01b for a GSME, the same digits in the Prepayment cluster's
Consumer Top Up from the ESI (as RTDS 4.5.0 has them)."""

from __future__ import annotations

from gateway.transform.registry import TransformInput, transforms
from rig.protocol.duis.xml import text
from rig.protocol.gbcs.catalogue import CS01A
from rig.protocol.gbcs.catalogue_gas import CS01B
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, command


def _utrn(given: TransformInput) -> bytes:
    return (text(given.request.body, "sr:UTRN") or "").encode("ascii")  # the schema: 20 digits


@transforms(CS01A)
def top_up(uc: UseCase, given: TransformInput) -> GbcsMessage:
    token = Data(DataType.OCTET_STRING, _utrn(given))
    return command(uc, given.counter, given.originator.raw, given.device.raw, token)


@transforms(CS01B)
def gas_top_up(uc: UseCase, given: TransformInput) -> GbcsMessage:
    return command(uc, given.counter, given.originator.raw, given.device.raw, _utrn(given))
