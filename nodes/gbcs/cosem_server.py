"""A DLMS/COSEM object server: a device model's attributes and methods as a table.

A model registers each object it serves: an attribute (class, OBIS, attribute) with a
value source and, if it may be written, a setter; a method (class, OBIS, method) with
what it does. :meth:`CosemServer.execute` answers an access-request from the table: one
result per request specification, with the DLMS result codes for what it cannot do. A
protected read (the data-protection object's "get protected attributes") is served here
for every model (through any data-protection object: 0-0:43.2.8, 0-0:43.2.1, 0-0:43.2.6):
the listed attributes are read from the same table and returned encrypted for the
requester. An attribute read with selective access (a profile's buffer by range, or a
protected read restricted by date) is registered with :meth:`CosemServer.selective`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from rig.protocol.gbcs import cosem
from rig.protocol.gbcs.dlms import (
    AccessRequest,
    Data,
    DataType,
    RequestKind,
    RequestSpec,
    ResponseSpec,
)
from rig.protocol.gbcs.frame import GbcsMessage

ValueSource = Callable[[], Data]
Setter = Callable[[Data], None]
Encrypt = Callable[[bytes], bytes]


class Result(IntEnum):
    """Data-Access-Result and Action-Result codes (DLMS Green Book) the server answers with."""

    SUCCESS = 0
    HARDWARE_FAULT = 1  # what a meter answers to a UTRN it refuses (RTDS CS01a error)
    READ_WRITE_DENIED = 3
    OBJECT_UNDEFINED = 4
    TYPE_UNMATCHED = 12
    OTHER_REASON = 250  # e.g. emergency credit that could not be activated (GBCS ECS09)


class CosemError(Exception):
    """What a method or setter raises to refuse: the result code, and why (for the log)."""

    def __init__(self, result: Result, reason: str) -> None:
        super().__init__(reason)
        self.result = result


@dataclass(frozen=True, slots=True)
class Invocation:
    """The command being executed, and how to encrypt a value for its originator."""

    command: GbcsMessage
    encrypt: Encrypt


Method = Callable[[Data, Invocation], Data | None]
Selective = Callable[[int, Data], Data]  # (access selector, its parameters) -> the value


@dataclass(frozen=True, slots=True)
class _Attribute:
    get: ValueSource
    set: Setter | None


class CosemServer:
    def __init__(self) -> None:
        self._attributes: dict[tuple[int, bytes, int], _Attribute] = {}
        self._methods: dict[tuple[int, bytes, int], Method] = {}
        self._selective: dict[tuple[int, bytes, int], Selective] = {}

    def attribute(
        self, address: cosem.Attribute, get: ValueSource, set: Setter | None = None
    ) -> None:
        self._attributes[(address.class_id, address.instance, address.attribute)] = _Attribute(
            get, set
        )

    def method(self, address: cosem.Method, action: Method) -> None:
        self._methods[(address.class_id, address.instance, address.method)] = action

    def selective(self, address: cosem.Attribute, read: Selective) -> None:
        """An attribute read with selective access (a profile's buffer by range)."""
        self._selective[(address.class_id, address.instance, address.attribute)] = read

    def get(self, address: cosem.Attribute) -> Data:
        found = self._attributes.get((address.class_id, address.instance, address.attribute))
        if found is None:
            raise CosemError(Result.OBJECT_UNDEFINED, f"no {address} on this device")
        return found.get()

    def set(self, address: cosem.Attribute, value: Data) -> None:
        """Write ``address`` as a SET does, through its setter's checks (a value to come
        taking effect: 1.6's account)."""
        found = self._attributes.get((address.class_id, address.instance, address.attribute))
        if found is None:
            raise CosemError(Result.OBJECT_UNDEFINED, f"no {address}")
        if found.set is None:
            raise CosemError(Result.READ_WRITE_DENIED, f"{address} is read-only")
        found.set(value)

    def execute(
        self, request: AccessRequest, invocation: Invocation
    ) -> tuple[list[Data], list[ResponseSpec]]:
        """One Data and one result per request specification, in order."""
        data: list[Data] = []
        results: list[ResponseSpec] = []
        for spec, argument in zip(request.specs, request.data, strict=False):
            kind = RequestKind(min(int(spec.kind), int(RequestKind.ACTION)))
            if spec.kind in (RequestKind.GET_WITH_SELECTION, RequestKind.SET_WITH_SELECTION):
                kind = RequestKind(int(spec.kind) - 3)  # answered as a get or a set
            try:
                value = self._one(spec, argument, invocation)
                result = Result.SUCCESS
            except CosemError as exc:
                value, result = Data(DataType.NULL_DATA), exc.result
            data.append(value)
            results.append(ResponseSpec(kind, int(result)))
        return data, results

    def _one(self, spec: RequestSpec, argument: Data, invocation: Invocation) -> Data:
        key = (spec.class_id, spec.instance_id, spec.member_id)
        kind = spec.kind
        if kind is RequestKind.GET:
            return self.get(cosem.Attribute(*key))
        if kind is RequestKind.GET_WITH_SELECTION:
            read = self._selective.get(key)
            if read is None:
                raise CosemError(Result.OBJECT_UNDEFINED, f"no selective {cosem.Attribute(*key)}")
            assert spec.selector is not None and spec.parameters is not None
            return read(spec.selector, spec.parameters)
        if kind is RequestKind.SET:
            self.set(cosem.Attribute(*key), argument)
            return Data(DataType.NULL_DATA)
        if kind is RequestKind.ACTION:
            if cosem.is_protection_method(cosem.Method(*key)):
                return self._protected_read(argument, invocation)
            action = self._methods.get(key)
            if action is None:
                raise CosemError(Result.OBJECT_UNDEFINED, f"no {cosem.Method(*key)} on this device")
            return action(argument, invocation) or Data(DataType.NULL_DATA)
        raise CosemError(Result.TYPE_UNMATCHED, f"{kind.name} is not served")

    def _protected_read(self, argument: Data, invocation: Invocation) -> Data:
        try:
            objects = cosem.protected_objects(argument)
            restrictions = cosem.protected_restrictions(argument)
        except (AttributeError, IndexError, TypeError, ValueError):
            raise CosemError(Result.TYPE_UNMATCHED, "not a protected-read parameter") from None
        values = [self._restricted(o, r) for o, r in zip(objects, restrictions, strict=True)]
        h = invocation.command.header
        blob = invocation.encrypt(cosem.protected_values(values))
        return cosem.protected_answer(h.counter, h.recipient, h.originator, blob)

    def _restricted(self, address: cosem.Attribute, restriction: tuple[int, Data]) -> Data:
        """An attribute a protected read lists: whole, or (restricted) its selected entries."""
        kind, value = restriction
        if kind == 0:
            return self.get(address)
        key = (address.class_id, address.instance, address.attribute)
        read = self._selective.get(key)
        if read is None:
            raise CosemError(Result.OBJECT_UNDEFINED, f"no selective {address}")
        return read(kind, value)
