"""Transforms of the meters' firmware use cases (11.2 Read Firmware Version: ECS52, GCS38),
issue 16. 11.2's body (``ReadFirmwareVersion``) carries nothing: the command is the one its
declaration describes, for the request's counter and parties, as RTDS 4.5.0 has it."""

from __future__ import annotations

from gateway.transform.fixed import from_declaration
from gateway.transform.registry import transforms
from rig.protocol.gbcs.catalogue_firmware import ECS52, GCS38

read_firmware_version = transforms(ECS52, GCS38)(from_declaration)
