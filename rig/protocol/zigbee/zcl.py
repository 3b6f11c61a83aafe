"""ZCL frames for the clusters in :mod:`rig.protocol.zigbee.se`: encode and decode.

A frame is zigpy's :class:`ZCLHeader` plus either a general (foundation) command
or a cluster command from the cluster's definitions. The direction bit comes from
where a command is defined (server-received: client to server).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import zigpy.types as t
from zigpy.zcl import Cluster
from zigpy.zcl import foundation as f

from rig.protocol.codec import DecodeError
from rig.protocol.zigbee.se import CLUSTERS

Direction = f.Direction
Status = f.Status


@dataclass(frozen=True, slots=True)
class ZclFrame:
    cluster_id: int
    header: f.ZCLHeader
    name: str  # command name, e.g. "transfer_data" or "Read_Attributes_rsp"
    args: Any  # the command schema instance

    @property
    def tsn(self) -> int:
        return int(self.header.tsn)

    def field(self, name: str) -> Any:
        return getattr(self.args, name)


def cluster(cluster_id: int) -> type[Cluster]:
    try:
        return CLUSTERS[cluster_id]
    except KeyError:
        raise KeyError(f"cluster 0x{cluster_id:04x} is not one the GB HAN uses") from None


def command(
    cluster_id: int,
    name: str,
    tsn: int,
    *,
    to_server: bool = True,
    default_response: bool = False,
    **fields: Any,
) -> bytes:
    """Encode a cluster-specific command: one the server receives (``to_server``) or sends.
    ``default_response``: leave the frame's "disable default response" bit clear, as GBCS's
    Prepayment frames have it (PCS01, PCS02: frame control 0x01 and 0x09)."""
    c = cluster(cluster_id)
    defs = c.ServerCommandDefs if to_server else c.ClientCommandDefs
    cmd = getattr(defs, name, None)
    if cmd is None:
        side = "receives" if to_server else "sends"
        raise KeyError(f"a {c.__name__} server {side} no command {name!r}")
    direction = f.Direction.Client_to_Server if to_server else f.Direction.Server_to_Client
    header = f.ZCLHeader.cluster(tsn, cmd.id, direction=direction)
    # zigpy annotates Struct.replace as (**kwargs: dict[str, Any]) -> Struct: the values are
    # really field values, and the result is the struct's own type (here a FrameControl)
    replace = cast(Callable[..., f.FrameControl], header.frame_control.replace)
    header.frame_control = replace(disable_default_response=not default_response)
    return header.serialize() + cmd.schema(**fields).serialize()


def default_response(
    tsn: int, command_id: int, status: f.Status, *, to_server: bool = False
) -> bytes:
    """A Default Response to command ``command_id`` (by default, a server's answer to its
    client), with the frame control GBCS's PCS02 response has (0x08: "disable default
    response" clear, where zigpy would set it)."""
    cmd = f.GENERAL_COMMANDS[f.GeneralCommand.Default_Response]
    direction = f.Direction.Client_to_Server if to_server else f.Direction.Server_to_Client
    header = f.ZCLHeader.general(tsn, cmd.id, direction=direction)
    replace = cast(Callable[..., f.FrameControl], header.frame_control.replace)
    header.frame_control = replace(disable_default_response=False)
    args = cmd.schema(command_id=t.uint8_t(command_id), status=f.Status(status))
    return header.serialize() + args.serialize()


def wants_default_response(frame: ZclFrame) -> bool:
    """Whether the sender of ``frame`` left "disable default response" clear."""
    return not frame.header.frame_control.disable_default_response


def _general(name: str, tsn: int, direction: f.Direction, args: Any) -> bytes:
    cmd = f.GENERAL_COMMANDS[f.GeneralCommand[name]]
    header = f.ZCLHeader.general(tsn, cmd.id, direction=direction)
    return header.serialize() + args.serialize()


def read_attributes(
    cluster_id: int, tsn: int, names: list[str], *, client_attrs: bool = False
) -> bytes:
    c = cluster(cluster_id)
    ids = [c.attributes_by_name[n].id for n in names]
    direction = f.Direction.Server_to_Client if client_attrs else f.Direction.Client_to_Server
    schema = f.GENERAL_COMMANDS[f.GeneralCommand.Read_Attributes].schema
    return _general(
        "Read_Attributes", tsn, direction, schema(attribute_ids=[t.uint16_t(i) for i in ids])
    )


def _typed(c: type[Cluster], attr_id: int, value: Any) -> f.TypeValue:
    attr = c.attributes[attr_id]
    python_type = attr.type
    return f.TypeValue(f.DataType.from_python_type(python_type).type_id, python_type(value))


def read_attributes_response(
    cluster_id: int, tsn: int, ids: list[int], values: dict[int, Any]
) -> bytes:
    """Answer a read: a value for known attributes, UNSUPPORTED_ATTRIBUTE for the others."""
    c = cluster(cluster_id)
    records = []
    for attr_id in ids:
        if attr_id in values and attr_id in c.attributes:
            records.append(
                f.ReadAttributeRecord(
                    t.uint16_t(attr_id), f.Status.SUCCESS, _typed(c, attr_id, values[attr_id])
                )
            )
        else:
            records.append(
                f.ReadAttributeRecord(t.uint16_t(attr_id), f.Status.UNSUPPORTED_ATTRIBUTE)
            )
    schema = f.GENERAL_COMMANDS[f.GeneralCommand.Read_Attributes_rsp].schema
    return _general(
        "Read_Attributes_rsp", tsn, f.Direction.Server_to_Client, schema(status_records=records)
    )


def report_attributes(cluster_id: int, tsn: int, values: dict[str, Any]) -> bytes:
    c = cluster(cluster_id)
    reports = []
    for name, value in values.items():
        attr = c.attributes_by_name[name]
        reports.append(f.Attribute(attr.id, _typed(c, attr.id, value)))
    schema = f.GENERAL_COMMANDS[f.GeneralCommand.Report_Attributes].schema
    return _general(
        "Report_Attributes", tsn, f.Direction.Server_to_Client, schema(attribute_reports=reports)
    )


def decode(cluster_id: int, data: bytes) -> ZclFrame:
    """Decode a ZCL frame of a known cluster; unknown commands and bad fields raise DecodeError."""
    try:
        header, rest = f.ZCLHeader.deserialize(data)
    except (ValueError, KeyError) as exc:
        raise DecodeError(f"ZCL header: {exc}", 0) from None
    at = len(data) - len(rest)
    try:
        if header.frame_control.is_general:
            cmd = f.GENERAL_COMMANDS[f.GeneralCommand(header.command_id)]
        else:
            c = cluster(cluster_id)
            defs = (
                c.ServerCommandDefs
                if header.direction is f.Direction.Client_to_Server
                else c.ClientCommandDefs
            )
            found: f.ZCLCommandDef | None = next(
                (d for d in defs if d.id == header.command_id), None
            )
            if found is None:
                raise DecodeError(
                    f"{c.__name__} has no {header.direction.name} command "
                    f"0x{int(header.command_id):02x}",
                    at,
                )
            cmd = found
        args, extra = cmd.schema.deserialize(rest)
    except DecodeError:
        raise
    except (ValueError, KeyError) as exc:
        raise DecodeError(f"ZCL command 0x{int(header.command_id):02x}: {exc}", at) from None
    if extra:
        raise DecodeError(f"{len(extra)} bytes after the ZCL command", len(data) - len(extra))
    return ZclFrame(cluster_id, header, cmd.name, args)


def attribute_values(cluster_id: int, frame: ZclFrame) -> dict[str, Any]:
    """Name -> value from a Read Attributes response or an attribute report."""
    c = cluster(cluster_id)
    out: dict[str, Any] = {}
    records = getattr(frame.args, "status_records", None) or getattr(
        frame.args, "attribute_reports", []
    )
    for rec in records:
        if getattr(rec, "status", f.Status.SUCCESS) != f.Status.SUCCESS or rec.value is None:
            continue
        attr = c.attributes.get(int(rec.attrid))
        out[attr.name if attr else f"0x{int(rec.attrid):04x}"] = rec.value.value
    return out
