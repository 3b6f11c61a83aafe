"""The GBCS use cases the rig serves end to end, laid out byte for byte as RTDS 4.5.0 has them.

For each: the command the DCC's transform builds (critical ones as the pre-command the
supplier signs), the device's response, and how the DCC User reads it back.

====== ===== ============================================ ============ =================
SRV    code  use case                                     command      response
====== ===== ============================================ ============ =================
4.1.1  0027  ECS17b read import registers (ESME)          ACB MAC      MAC, values encrypted
4.1.1  0074  GCS13a read gas registers (GSME, GBZ)        ACB MAC      MAC, values encrypted
7.1    004F  ECS42 close the load switch (enable)         signed + MAC signed
7.2    0050  ECS43 open the load switch (disable)         signed + MAC signed
7.3    0051  ECS44 arm the load switch                    signed + MAC signed
7.4    0052  ECS45 read the load switch status            ACB MAC      MAC
alert  0067  ECS80 supply outage restored (8F36)          --           signed alert
====== ===== ============================================ ============ =================

Pure: builders return :class:`GbcsMessage` records; protection (MAC, signature,
encryption) is applied with the keys passed in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from rig.protocol.codec import DecodeError, Reader
from rig.protocol.gbcs import dlms, gbz, security
from rig.protocol.gbcs.dlms import AccessRequest, AccessResponse, Data, DataType, RequestKind
from rig.protocol.gbcs.frame import Cra, GbcsMessage

_D = DataType


def invoke_id(counter: int) -> int:
    """long-invoke-id-and-priority: the counter's low 24 bits, service class confirmed."""
    return 0x2000_0000 | (counter & 0x00FF_FFFF)


def dlms_date_time(when: dt.datetime) -> bytes:
    """A COSEM date-time (12 bytes), UTC, weekday and deviation not specified."""
    t = when.astimezone(dt.UTC)
    return (
        t.year.to_bytes(2, "big")
        + bytes([t.month, t.day, 0xFF, t.hour, t.minute, t.second, t.microsecond // 10_000])
        + b"\x80\x00\xff"
    )


def parse_dlms_date_time(raw: bytes) -> dt.datetime | None:
    if len(raw) != 12 or raw[:2] == b"\xff\xff":
        return None
    h = raw[8] if raw[8] != 0xFF else 0
    try:
        return dt.datetime(
            int.from_bytes(raw[:2], "big"),
            raw[2],
            raw[3],
            raw[5],
            raw[6],
            raw[7],
            h * 10_000,
            tzinfo=dt.UTC,
        )
    except ValueError:
        return None


class SupplyState(IntEnum):
    """COSEM disconnect control ``control_state`` (class 70, attribute 3)."""

    DISABLED = 0  # disconnected: load switch open
    ENABLED = 1  # connected
    ARMED = 2  # ready for reconnection: the consumer may close it locally


@dataclass(frozen=True, slots=True)
class UseCase:
    name: str
    message_code: int
    device_type: str  # ESME | GSME
    critical: bool
    signed_response: bool  # False: the response is MAC'd


ECS17B = UseCase("ECS17b", 0x0027, "ESME", False, False)
ECS42 = UseCase("ECS42", 0x004F, "ESME", True, True)
ECS43 = UseCase("ECS43", 0x0050, "ESME", True, True)
ECS44 = UseCase("ECS44", 0x0051, "ESME", True, True)
ECS45 = UseCase("ECS45", 0x0052, "ESME", False, False)
GCS13A = UseCase("GCS13a", 0x0074, "GSME", False, False)
ECS80 = UseCase("ECS80", 0x0067, "ESME", False, True)
BY_CODE = {u.message_code: u for u in (ECS17B, ECS42, ECS43, ECS44, ECS45, GCS13A, ECS80)}

# DUIS SRV -> use case by target device type (DCC's transform)
BY_SRV: dict[tuple[str, str], UseCase] = {
    ("4.1.1", "ESME"): ECS17B,
    ("4.1.1", "GSME"): GCS13A,
    ("7.1", "ESME"): ECS42,
    ("7.2", "ESME"): ECS43,
    ("7.3", "ESME"): ECS44,
    ("7.4", "ESME"): ECS45,
}

_SCRIPT_TABLE = (9, bytes.fromhex("00000A006AFF"), 1)  # class 9 "Disconnect script table"
_SCRIPTS = {ECS42.message_code: 51, ECS43.message_code: 52, ECS44.message_code: 54}
_DISCONNECT_CONTROL = (70, bytes.fromhex("000060030AFF"), 3)
_DATA_PROTECTION = (30, bytes.fromhex("00002B0208FF"), 1)  # class 30, get protected attributes
_IMPORT_REGISTERS = bytes.fromhex("00005E2C220A")  # GB object 0-0:94.44.34.10
WH, VARH = 30, 32  # COSEM units

# GCS13a: Metering attributes read from the GSME, in the order the command asks
GAS_ATTRIBUTES: tuple[tuple[int, str, int, int], ...] = (  # id, name, ZCL type, size
    (0x0302, "divisor", 0x22, 3),
    (0x0301, "multiplier", 0x22, 3),
    (0x0300, "unit_of_measure", 0x30, 1),
    (0x0000, "current_summation_delivered", 0x25, 6),
)
METERING = 0x0702
ALERT_SUPPLY_RESTORED = 0x8F36


# --- commands (the DCC's transform) ------------------------------------------------------
def _protection(counter: int, originator: bytes, recipient: bytes) -> Data:
    """The protection parameters of ECS17b: authenticated and encrypted, agreed key."""
    return Data(
        _D.STRUCTURE,
        [
            Data(_D.ENUM, 2),
            Data(
                _D.STRUCTURE,
                [
                    Data(_D.OCTET_STRING, b"\x04" + counter.to_bytes(8, "big")),
                    Data(_D.OCTET_STRING, originator),
                    Data(_D.OCTET_STRING, recipient),
                    Data(_D.OCTET_STRING, b""),
                    Data(
                        _D.STRUCTURE,
                        [
                            Data(_D.ENUM, 2),
                            Data(
                                _D.STRUCTURE,
                                [Data(_D.OCTET_STRING, b"\x02"), Data(_D.OCTET_STRING, b"")],
                            ),
                        ],
                    ),
                ],
            ),
        ],
    )


def _request(counter: int, kind: RequestKind, target: tuple, data: Data) -> bytes:
    class_id, obis, member = target
    spec = dlms.RequestSpec(kind, class_id, obis, member)
    return AccessRequest(invoke_id(counter), b"", [spec], [data]).encode()


def command_payload(uc: UseCase, counter: int, originator: bytes, recipient: bytes) -> bytes:
    if uc is ECS17B:
        objects = Data(
            _D.ARRAY,
            [
                Data(
                    _D.STRUCTURE,
                    [
                        Data(_D.LONG_UNSIGNED, 1),
                        Data(_D.OCTET_STRING, _IMPORT_REGISTERS),
                        Data(_D.INTEGER, 2),
                        Data(_D.LONG_UNSIGNED, 0),
                        Data(_D.STRUCTURE, [Data(_D.ENUM, 0), Data(_D.NULL_DATA)]),
                    ],
                )
            ],
        )
        params = Data(
            _D.STRUCTURE,
            [objects, Data(_D.ARRAY, [_protection(counter, originator, recipient)])],
        )
        return _request(counter, RequestKind.ACTION, _DATA_PROTECTION, params)
    if uc.message_code in _SCRIPTS:
        script = Data(_D.LONG_UNSIGNED, _SCRIPTS[uc.message_code])
        return _request(counter, RequestKind.ACTION, _SCRIPT_TABLE, script)
    if uc is ECS45:
        return _request(counter, RequestKind.GET, _DISCONNECT_CONTROL, Data(_D.NULL_DATA))
    if uc is GCS13A:
        ids = b"".join(a[0].to_bytes(2, "little") for a in GAS_ATTRIBUTES)
        component = gbz.Component(gbz.CONTROL_LAST, METERING, gbz.ZclHeader(0x00, 0, 0x00), ids)
        return gbz.GbzPayload(1, [component]).encode()
    raise ValueError(f"{uc.name} is not a command the rig builds")


def command(uc: UseCase, counter: int, originator: bytes, recipient: bytes) -> GbcsMessage:
    """The command as the transform builds it; a critical one is the pre-command to sign."""
    return GbcsMessage.build(
        Cra.COMMAND,
        counter,
        originator,
        recipient,
        uc.message_code,
        command_payload(uc, counter, originator, recipient),
        pre_command=uc.critical,
    )


def use_case_of(msg: GbcsMessage) -> UseCase:
    uc = BY_CODE.get(msg.message_code)
    if uc is None:
        raise DecodeError(f"message code 0x{msg.message_code:04X} is not served by the rig", 0)
    return uc


def check_command(msg: GbcsMessage) -> UseCase:
    """The use case of a command whose payload is exactly what GBCS prescribes for it."""
    uc = use_case_of(msg)
    h = msg.header
    if h.cra is not Cra.COMMAND:
        raise DecodeError(f"{uc.name}: expected a command, found a {h.cra.name.lower()}", 0)
    if msg.payload != command_payload(uc, h.counter, h.originator, h.recipient):
        raise DecodeError(f"{uc.name}: the payload is not the one GBCS defines", 0)
    return uc


# --- responses (the device) --------------------------------------------------------------
def _response(cmd: GbcsMessage, payload: bytes, *, when: dt.datetime | None = None) -> GbcsMessage:
    h = cmd.header
    return GbcsMessage.build(
        Cra.RESPONSE,
        h.counter,
        h.recipient,
        h.originator,
        h.message_code,
        payload,
        date_time=None if when is None else dlms_date_time(when),
    )


def register_response(
    cmd: GbcsMessage,
    active_import_wh: int,
    reactive_import_varh: int,
    when: dt.datetime,
    device_ka: ec.EllipticCurvePrivateKey,
    originator_ka: ec.EllipticCurvePublicKey,
) -> GbcsMessage:
    """ECS17b: the registers, encrypted for the requester; the response MAC'd."""
    plain = Data(
        _D.STRUCTURE,
        [
            Data(
                _D.STRUCTURE,
                [
                    Data(_D.DOUBLE_LONG_UNSIGNED, active_import_wh & 0xFFFF_FFFF),
                    Data(_D.STRUCTURE, [Data(_D.INTEGER, 0), Data(_D.ENUM, WH)]),
                    Data(_D.DOUBLE_LONG_UNSIGNED, reactive_import_varh & 0xFFFF_FFFF),
                    Data(_D.STRUCTURE, [Data(_D.INTEGER, 0), Data(_D.ENUM, VARH)]),
                ],
            )
        ],
    ).encode()
    shell = _response(cmd, b"", when=when)
    key = security.encryption_key(shell, device_ka, originator_ka)
    h = cmd.header
    body = Data(
        _D.STRUCTURE,
        [
            Data(_D.ARRAY, [_protection(h.counter, h.recipient, h.originator)]),
            Data(_D.OCTET_STRING, security.protect(key, h.recipient, plain)),
        ],
    )
    payload = AccessResponse(
        invoke_id(h.counter), b"", None, [body], [dlms.ResponseSpec(RequestKind.ACTION, 0)]
    ).encode()
    return security.apply_mac(_response(cmd, payload, when=when), device_ka, originator_ka)


def action_response(cmd: GbcsMessage, device_ds: ec.EllipticCurvePrivateKey, result: int = 0):
    """ECS42/43/44: the action result, signed by the device."""
    payload = AccessResponse(
        invoke_id(cmd.header.counter),
        b"",
        None,
        [Data(_D.NULL_DATA)],
        [dlms.ResponseSpec(RequestKind.ACTION, result)],
    ).encode()
    return security.sign_message(_response(cmd, payload), device_ds)


def status_response(
    cmd: GbcsMessage,
    state: SupplyState,
    device_ka: ec.EllipticCurvePrivateKey,
    originator_ka: ec.EllipticCurvePublicKey,
) -> GbcsMessage:
    """ECS45: the load switch's control state, MAC'd."""
    payload = AccessResponse(
        invoke_id(cmd.header.counter),
        b"",
        None,
        [Data(_D.ENUM, int(state))],
        [dlms.ResponseSpec(RequestKind.GET, 0)],
    ).encode()
    return security.apply_mac(_response(cmd, payload), device_ka, originator_ka)


def gas_response(
    cmd: GbcsMessage,
    values: dict[str, int],
    when: dt.datetime,
    device_ka: ec.EllipticCurvePrivateKey,
    originator_ka: ec.EllipticCurvePublicKey,
) -> GbcsMessage:
    """GCS13a: a ZCL Read Attributes Response, encrypted in a GBZ component, MAC'd."""
    records = b"".join(
        ident.to_bytes(2, "little")
        + b"\x00"
        + bytes([ztype])
        + values[name].to_bytes(size, "little")
        for ident, name, ztype, size in GAS_ATTRIBUTES
    )
    shell = _response(cmd, b"", when=when)
    key = security.encryption_key(shell, device_ka, originator_ka)
    blob = security.protect(key, cmd.header.recipient, records)
    request = gbz.decode(cmd.payload).components[0]
    component = gbz.Component(
        gbz.CONTROL_LAST | gbz.CONTROL_ENCRYPTED,
        METERING,
        gbz.ZclHeader(0x18, request.zcl.sequence, 0x01),
        encrypted=gbz.Encrypted(0, 0, blob),
    )
    payload = gbz.GbzPayload(1, [component]).encode()
    return security.apply_mac(_response(cmd, payload, when=when), device_ka, originator_ka)


# --- alerts (the device) ------------------------------------------------------------------
def supply_restored_alert(
    counter: int,
    device: bytes,
    recipient: bytes,
    outage_start: dt.datetime,
    outage_end: dt.datetime,
    device_ds: ec.EllipticCurvePrivateKey,
) -> GbcsMessage:
    """ECS80: the ESME's supply came back after an outage; signed, to the network operator."""
    body = Data(
        _D.STRUCTURE,
        [
            Data(_D.LONG_UNSIGNED, ALERT_SUPPLY_RESTORED),
            Data(_D.OCTET_STRING, dlms_date_time(outage_end)),
            Data(_D.OCTET_STRING, dlms_date_time(outage_start)),
            Data(_D.OCTET_STRING, dlms_date_time(outage_end)),
        ],
    )
    payload = dlms.DataNotification(invoke_id(counter), b"", body).encode()
    msg = GbcsMessage.build(Cra.ALERT, counter, device, recipient, ECS80.message_code, payload)
    return security.sign_message(msg, device_ds)


def alert_code(msg: GbcsMessage) -> int | None:
    try:
        apdu = dlms.decode(msg.payload)
    except DecodeError:
        return None
    return apdu.alert_code if isinstance(apdu, dlms.DataNotification) else None


# --- the DCC User's reading ------------------------------------------------------------------
class ReadError(ValueError):
    """A response the DCC User cannot authenticate or read."""


def _authenticate(
    msg: GbcsMessage,
    user_ka: ec.EllipticCurvePrivateKey | None,
    device_ka: ec.EllipticCurvePublicKey | None,
    device_ds: ec.EllipticCurvePublicKey | None,
) -> str:
    try:
        if msg.mac is not None:
            if user_ka is None or device_ka is None:
                raise ReadError("a MAC'd message needs the user's KA key and the device's KA cert")
            security.verify_mac(msg, user_ka, device_ka)
            return "mac"
        if msg.signature is not None:
            if device_ds is None:
                raise ReadError("a signed message needs the device's DS certificate")
            security.verify_signature(msg, device_ds)
            return "signature"
    except security.SecurityError as exc:
        raise ReadError(str(exc)) from None
    raise ReadError("the message is neither MAC'd nor signed")


def read(
    msg: GbcsMessage,
    *,
    user_ka: ec.EllipticCurvePrivateKey | None = None,
    device_ka: ec.EllipticCurvePublicKey | None = None,
    device_ds: ec.EllipticCurvePublicKey | None = None,
) -> dict[str, Any]:
    """Authenticate a response or alert as its recipient and decode what it says."""
    uc = use_case_of(msg)
    out: dict[str, Any] = {
        "use_case": uc.name,
        "message_code": f"{uc.message_code:04X}",
        "kind": msg.kind,
        "counter": msg.header.counter,
        "authenticated_by": _authenticate(msg, user_ka, device_ka, device_ds),
    }
    if msg.header.date_time:
        when = parse_dlms_date_time(msg.header.date_time)
        out["device_time"] = when.isoformat() if when else msg.header.date_time.hex()
    try:
        if uc is GCS13A:
            out.update(_read_gas(msg, user_ka, device_ka))
            return out
        apdu = dlms.decode(msg.payload)
        if isinstance(apdu, dlms.DataNotification):
            out.update(_read_alert(apdu))
        elif isinstance(apdu, AccessResponse):
            out["result"] = apdu.results[0].result if apdu.results else None
            if uc is ECS17B:
                out.update(_read_registers(msg, apdu, user_ka, device_ka))
            elif uc is ECS45:
                out["supply"] = SupplyState(int(apdu.data[0].value)).name.lower()
    except (DecodeError, IndexError, KeyError, ValueError, security.SecurityError) as exc:
        raise ReadError(f"{uc.name} response cannot be read: {exc}") from None
    return out


def _read_registers(msg, apdu: AccessResponse, user_ka, device_ka) -> dict[str, Any]:
    blob = apdu.data[0].value[1].value
    key = security.encryption_key(msg, user_ka, device_ka)
    plain = security.unprotect(key, msg.header.originator, blob)
    regs = Data.decode(Reader(plain)).value[0].value
    return {"active_import_wh": int(regs[0].value), "reactive_import_varh": int(regs[2].value)}


def _read_gas(msg, user_ka, device_ka) -> dict[str, Any]:
    component = gbz.decode(msg.payload).components[0]
    if component.encrypted is None:
        raise DecodeError("GCS13a response values are not encrypted", 0)
    key = security.encryption_key(msg, user_ka, device_ka)
    r = Reader(security.unprotect(key, msg.header.originator, component.encrypted.blob))
    sizes = {a[0]: (a[1], a[3]) for a in GAS_ATTRIBUTES}
    values: dict[str, int] = {}
    while not r.at_end():
        ident = int.from_bytes(r.take(2, "an attribute id"), "little")
        status = r.u8("the attribute status")
        if status != 0:
            continue
        r.u8("the attribute type")
        name, size = sizes[ident]
        values[name] = int.from_bytes(r.take(size, name), "little")
    volume = values["current_summation_delivered"] * values["multiplier"] / values["divisor"]
    return {**values, "volume_m3": round(volume, 3)}


def _read_alert(apdu: dlms.DataNotification) -> dict[str, Any]:
    fields = apdu.body.value
    out: dict[str, Any] = {"alert_code": f"{apdu.alert_code:04X}"}
    times = [parse_dlms_date_time(f.value) for f in fields[1:]]
    if len(times) == 3 and all(times):
        out.update(
            alert_time=times[0].isoformat(),  # type: ignore[union-attr]
            outage_start=times[1].isoformat(),  # type: ignore[union-attr]
            outage_end=times[2].isoformat(),  # type: ignore[union-attr]
        )
    return out
