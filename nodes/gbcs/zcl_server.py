"""A ZCL attribute server for GBZ use cases: a device model's attributes and cluster
commands as a table.

A model registers each attribute it serves, per cluster, with a value source and, when it
may be written, a setter; :meth:`ZclServer.read` answers a Read Attributes command and
:meth:`ZclServer.write` a Write Attributes command from the table, with ZCL's statuses
for an attribute it does not serve, one it only reads, or a value of the wrong type. A
cluster's own command (the Prepayment cluster's Consumer Top Up, say) is a table entry
too, with what it does; :meth:`ZclServer.execute` answers any one GBZ component.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.frame import GbcsMessage

Source = Callable[[], int | bytes]  # a string attribute's source gives its bytes
Setter = Callable[[int], None]
Command = Callable[[bytes, GbcsMessage], gbz.Reply]  # the ZCL payload, the GBCS command


@dataclass(frozen=True, slots=True)
class _Served:
    attribute: gbz.ZclAttribute
    source: Source
    setter: Setter | None


class ZclServer:
    def __init__(self) -> None:
        self._attributes: dict[tuple[int, int], _Served] = {}
        # (cluster, command, server to client): a server's command (the Calendar cluster's
        # Publish commands GCS05 sends) is not the client's command of the same id
        self._commands: dict[tuple[int, int, bool], Command] = {}

    def attribute(
        self,
        cluster: int,
        attribute: gbz.ZclAttribute,
        source: Source,
        setter: Setter | None = None,
    ) -> None:
        self._attributes[(cluster, attribute.ident)] = _Served(attribute, source, setter)

    def command(
        self, cluster: int, command: int, action: Command, *, server_to_client: bool = False
    ) -> None:
        """Serve a cluster-specific command (client to server, unless said) with ``action``."""
        self._commands[(cluster, command, server_to_client)] = action

    def served(
        self, cluster: int, command: int, *, server_to_client: bool = False
    ) -> Command | None:
        """What serves a cluster-specific command now (a model sharing it with another's
        use cases hands them on to it)."""
        return self._commands.get((cluster, command, server_to_client))

    def execute(self, request: gbz.Component, cmd: GbcsMessage) -> gbz.Reply:
        """The answer to one GBZ component of ``cmd``: a read, a write or a cluster command
        (a Default Response UNSUP_CLUSTER_COMMAND for one the model does not serve)."""
        zcl = request.zcl
        if zcl.cluster_specific:
            action = self._commands.get((request.cluster, zcl.command, zcl.server_to_client))
            if action is None:
                return gbz.default_response(zcl.command, gbz.ZCL_UNSUP_CLUSTER_COMMAND)
            return action(request.payload, cmd)
        if zcl.command == gbz.READ_ATTRIBUTES:
            records = self.read(request.cluster, gbz.requested_ids(request.payload))
            return gbz.Reply(gbz.READ_ATTRIBUTES_RESPONSE, records)
        if zcl.command == gbz.WRITE_ATTRIBUTES:
            return gbz.Reply(
                gbz.WRITE_ATTRIBUTES_RESPONSE, self.write(request.cluster, request.payload)
            )
        return gbz.default_response(zcl.command, gbz.ZCL_UNSUP_GENERAL_COMMAND)

    def read(self, cluster: int, idents: list[int]) -> bytes:
        """Read Attributes Response records for the attributes asked for, in order."""
        records: list[tuple[gbz.ZclAttribute, int | bytes | None]] = []
        for ident in idents:
            found = self._attributes.get((cluster, ident))
            if found is None:
                records.append((gbz.ZclAttribute(ident, f"0x{ident:04X}", 0, 0), None))
            else:
                records.append((found.attribute, found.source()))
        return gbz.read_records(records)

    def write(self, cluster: int, payload: bytes) -> bytes:
        """Write Attributes Response records for a Write Attributes payload."""
        results = []
        for ident, zcl_type, value in gbz.parse_write_records(payload):
            found = self._attributes.get((cluster, ident))
            if found is None:
                status = gbz.ZCL_UNSUPPORTED_ATTRIBUTE
            elif found.setter is None:
                status = gbz.ZCL_READ_ONLY
            elif zcl_type != found.attribute.zcl_type:
                status = gbz.ZCL_INVALID_DATA_TYPE
            else:
                found.setter(value)
                status = gbz.ZCL_SUCCESS
            results.append((ident, status))
        return gbz.write_status(results)
