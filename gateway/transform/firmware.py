"""Transforms of the firmware use cases of 11.2 Read Firmware Version, issue 16: ECS52 (ESME),
GCS38 (GSME) and CS08 (PPMID). 11.2's body (``ReadFirmwareVersion``) carries nothing: the
command is the one its declaration describes, for the request's counter and parties, as RTDS
4.5.0 has it; CS08's is a NULL, which the downlink has the ACB originate for the DCC User
(``acb_originated``)."""

from __future__ import annotations

from gateway.transform.fixed import from_declaration
from gateway.transform.registry import TransformInput, transforms
from rig.protocol.gbcs.catalogue_firmware import CS08, ECS52, GCS38, READ_PPMID_FIRMWARE
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, command

read_firmware_version = transforms(ECS52, GCS38)(from_declaration)


@transforms(CS08)
def read_ppmid_firmware_version(uc: UseCase, given: TransformInput) -> GbcsMessage:
    return command(uc, given.counter, given.originator.raw, given.device.raw, READ_PPMID_FIRMWARE)
