"""The generic servers device models answer GBCS from: a COSEM object table (GET, SET,
ACTION, protected reads) and a ZCL attribute table (Read and Write Attributes), with the
result codes DLMS and ZCL give for what a device cannot do."""

from __future__ import annotations

from nodes.gbcs.cosem_server import CosemError, CosemServer, Invocation, Result
from nodes.gbcs.zcl_server import ZclServer
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import cosem, gbz
from rig.protocol.gbcs.catalogue import ECS45, GAS_REGISTERS
from rig.protocol.gbcs.dlms import AccessRequest, Data, DataType, RequestKind, RequestSpec
from rig.protocol.gbcs.usecase import command

SUPPLIER = Eui64.parse("90-B3-D5-1F-30-01-00-00")
ESME = Eui64.parse("00-DB-12-34-56-78-90-A0")
THRESHOLD = cosem.Attribute(3, cosem.obis("1-0:1.35.0"), 2)  # an example writable register
UNKNOWN = cosem.Attribute(1, cosem.obis("0-0:96.99.99"), 2)


def _spec(kind: RequestKind, target: cosem.Attribute | cosem.Method) -> RequestSpec:
    member = target.attribute if isinstance(target, cosem.Attribute) else target.method
    return RequestSpec(kind, target.class_id, target.instance, member)


def _invocation() -> Invocation:
    return Invocation(command(ECS45, 7, SUPPLIER.raw, ESME.raw), lambda plain: b"sealed" + plain)


def test_get_set_and_action_from_the_table_with_dlms_result_codes() -> None:
    server = CosemServer()
    held = {"threshold": 100}
    server.attribute(
        THRESHOLD,
        lambda: Data(DataType.DOUBLE_LONG_UNSIGNED, held["threshold"]),
        lambda v: held.update(threshold=int(v.value)),
    )
    server.attribute(cosem.DISCONNECT_CONTROL_STATE, lambda: Data(DataType.ENUM, 1))
    ran: list[int] = []

    def script(argument: Data, _inv: Invocation) -> None:
        if argument.value not in (51, 52, 54):
            raise CosemError(Result.TYPE_UNMATCHED, "no such script")
        ran.append(argument.value)

    server.method(cosem.DISCONNECT_SCRIPTS, script)
    request = AccessRequest(
        1,
        b"",
        [
            _spec(RequestKind.SET, THRESHOLD),
            _spec(RequestKind.GET, THRESHOLD),
            _spec(RequestKind.SET, cosem.DISCONNECT_CONTROL_STATE),
            _spec(RequestKind.GET, UNKNOWN),
            _spec(RequestKind.ACTION, cosem.DISCONNECT_SCRIPTS),
            _spec(RequestKind.ACTION, cosem.DISCONNECT_SCRIPTS),
        ],
        [
            Data(DataType.DOUBLE_LONG_UNSIGNED, 250),
            Data(DataType.NULL_DATA),
            Data(DataType.ENUM, 0),
            Data(DataType.NULL_DATA),
            Data(DataType.LONG_UNSIGNED, 52),
            Data(DataType.LONG_UNSIGNED, 99),
        ],
    )
    data, results = server.execute(request, _invocation())
    assert [r.result for r in results] == [
        Result.SUCCESS,
        Result.SUCCESS,
        Result.READ_WRITE_DENIED,  # the control state is read-only: ECS43 changes it
        Result.OBJECT_UNDEFINED,
        Result.SUCCESS,
        Result.TYPE_UNMATCHED,
    ]
    assert [r.kind for r in results][:2] == [RequestKind.SET, RequestKind.GET]
    assert data[1] == Data(DataType.DOUBLE_LONG_UNSIGNED, 250)  # the write is read back
    assert held["threshold"] == 250 and ran == [52]


def test_a_protected_read_returns_the_listed_objects_encrypted() -> None:
    server = CosemServer()
    server.attribute(THRESHOLD, lambda: Data(DataType.DOUBLE_LONG_UNSIGNED, 42))
    argument = cosem.protected_read_argument((THRESHOLD,), 7, SUPPLIER.raw, ESME.raw)
    request = AccessRequest(1, b"", [_spec(RequestKind.ACTION, cosem.DATA_PROTECTION)], [argument])
    data, results = server.execute(request, _invocation())
    assert results[0].result == Result.SUCCESS
    blob = cosem.protected_blob(data[0])
    assert blob == b"sealed" + cosem.protected_values([Data(DataType.DOUBLE_LONG_UNSIGNED, 42)])
    # an object the device lacks fails the whole read: nothing is half-returned
    missing = cosem.protected_read_argument((UNKNOWN,), 7, SUPPLIER.raw, ESME.raw)
    data, results = server.execute(AccessRequest(1, b"", request.specs, [missing]), _invocation())
    assert results[0].result == Result.OBJECT_UNDEFINED and data[0].type is DataType.NULL_DATA


def test_zcl_reads_and_writes_from_the_table_with_zcl_statuses() -> None:
    server = ZclServer()
    divisor, multiplier, unit, summation = GAS_REGISTERS
    held = {"multiplier": 1}
    server.attribute(gbz.METERING, divisor, lambda: 1000)
    server.attribute(
        gbz.METERING, multiplier, lambda: held["multiplier"], lambda v: held.update(multiplier=v)
    )
    records = server.read(gbz.METERING, [divisor.ident, 0x7777])
    assert gbz.parse_read_records(records, GAS_REGISTERS) == {"divisor": 1000}
    assert records.endswith(b"\x77\x77" + bytes([gbz.ZCL_UNSUPPORTED_ATTRIBUTE]))
    ok = server.write(gbz.METERING, gbz.write_records([(multiplier, 3)]))
    assert ok == bytes([gbz.ZCL_SUCCESS]) and held["multiplier"] == 3
    wrong_type = gbz.ZclAttribute(multiplier.ident, "multiplier", 0x21, 2)
    refused = server.write(
        gbz.METERING,
        gbz.write_records([(divisor, 10), (wrong_type, 5), (summation, 1)]),
    )
    assert refused == (
        bytes([gbz.ZCL_READ_ONLY])
        + divisor.ident.to_bytes(2, "little")
        + bytes([gbz.ZCL_INVALID_DATA_TYPE])
        + multiplier.ident.to_bytes(2, "little")
        + bytes([gbz.ZCL_UNSUPPORTED_ATTRIBUTE])
        + summation.ident.to_bytes(2, "little")
    )
    assert held["multiplier"] == 3 and unit.size == 1
