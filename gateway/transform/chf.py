"""Transforms of the communications hub function's use cases (the CHF device log), issue 16,
as RTDS 4.5.0 has them: 8.11 Update HAN Device Log into CCS01 (RequestType Add: the device,
its install code, then JoinTimePeriod and joining enabled) or CCS02 (Remove: the device);
8.9 Read Device Log into CCS06 (the device log) or, with ReadSecurityDetails, CCS07 (the
device log and the historic device log with their TC link key hashes).

The command is built for the DCC User here; the downlink has the ACB originate it with its
own counter, the User riding as the supplementary remote party (``acb_originated``)."""

from __future__ import annotations

from gateway.transform.registry import TransformInput, TransformRefused, immediate_only, transforms
from rig.protocol.duis import codes
from rig.protocol.duis.xml import NS, text
from rig.protocol.eui import Eui64
from rig.protocol.gbcs.catalogue_chf import CCS01, CCS02, CCS06, CCS07, RegisterDevice
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, command


@transforms(CCS01, CCS02)
def update_han_device_log(_uc: UseCase, given: TransformInput) -> GbcsMessage:
    body = given.request.body
    immediate_only(body, "8.11")
    device = Eui64.parse(text(body, "sr:DeviceID") or "")
    if text(body, "sr:RequestType") == "Remove":
        values = {"device": Data(DataType.OCTET_STRING, device.raw)}
        return command(CCS02, given.counter, given.originator.raw, given.device.raw, values)
    add = body.find("sr:AddDeviceToCHFWhitelist", NS)
    if add is None:
        raise TransformRefused(
            codes.NOT_DUIS,
            "8.11 with RequestType Add takes AddDeviceToCHFWhitelist (JoinTimePeriod, InstallCode)",
        )
    install_code = bytes.fromhex(text(add, "sr:InstallCode") or "")
    values = {
        "device": RegisterDevice(device.raw, install_code).to_data(),
        "join_timeout": Data(DataType.LONG_UNSIGNED, int(text(add, "sr:JoinTimePeriod") or 0)),
        "joining": Data(DataType.BOOLEAN, 0xFF),
    }
    return command(CCS01, given.counter, given.originator.raw, given.device.raw, values)


@transforms(CCS06, CCS07)
def read_device_log(_uc: UseCase, given: TransformInput) -> GbcsMessage:
    body = given.request.body
    immediate_only(body, "8.9")
    uc = CCS07 if body.find("sr:ReadSecurityDetails", NS) is not None else CCS06
    return command(uc, given.counter, given.originator.raw, given.device.raw)
