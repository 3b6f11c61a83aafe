"""ZDO (the Zigbee Device Profile on endpoint 0): device announce and descriptors.

Frames are a transaction sequence number followed by zigpy's ZDO schema for the
cluster, so they match what zigpy and Wireshark expect.
"""

from __future__ import annotations

from typing import Any

import zigpy.types as t
import zigpy.zdo.types as zdo_t

from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64

ZDOCmd = zdo_t.ZDOCmd
NodeDescriptor = zdo_t.NodeDescriptor
SimpleDescriptor = zdo_t.SizePrefixedSimpleDescriptor


def encode(cmd: zdo_t.ZDOCmd, tsn: int, *args: Any) -> bytes:
    _names, types = zdo_t.CLUSTERS[cmd]
    return bytes([tsn & 0xFF]) + t.serialize(args, types)


def decode(cluster_id: int, data: bytes) -> tuple[zdo_t.ZDOCmd, int, list[Any]]:
    try:
        cmd = zdo_t.ZDOCmd(cluster_id)
        _names, types = zdo_t.CLUSTERS[cmd]
    except (ValueError, KeyError):
        raise DecodeError(f"ZDO cluster 0x{cluster_id:04x} is not supported", 0) from None
    if not data:
        raise DecodeError("ZDO frame without a transaction sequence number", 0)
    try:
        args, rest = t.deserialize(data[1:], types)
    except (ValueError, KeyError) as exc:
        raise DecodeError(f"{cmd.name}: {exc}", 1) from None
    if rest:
        raise DecodeError(f"{len(rest)} bytes after {cmd.name}", len(data) - len(rest))
    return cmd, data[0], args


def eui(e: Eui64) -> t.EUI64:
    return t.EUI64(e.raw[::-1])


def from_zigpy(e: t.EUI64) -> Eui64:
    return Eui64(bytes(e)[::-1])


def node_descriptor(*, coordinator: bool, router: bool, capability: int) -> zdo_t.NodeDescriptor:
    """A Zigbee PRO node descriptor (max buffer 82); ``capability`` is the MAC capability byte."""
    logical = (
        zdo_t.LogicalType.Coordinator
        if coordinator
        else zdo_t.LogicalType.Router
        if router
        else zdo_t.LogicalType.EndDevice
    )
    return zdo_t.NodeDescriptor(
        logical_type=logical,
        complex_descriptor_available=0,
        user_descriptor_available=0,
        reserved=0,
        aps_flags=0,
        frequency_band=zdo_t.NodeDescriptor.FrequencyBand.Freq2400MHz,
        mac_capability_flags=capability,
        manufacturer_code=0x1234,
        maximum_buffer_size=82,
        maximum_incoming_transfer_size=1500,
        server_mask=0x2C00 | (0x41 if coordinator else 0),
        maximum_outgoing_transfer_size=1500,
        descriptor_capability_field=0,
    )
