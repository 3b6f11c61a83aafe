"""GBCS use cases: the communications hub function's use cases (the CHF device log: 8.11
CCS01, CCS02; 8.9 CCS06, CCS07; the CS14 alert), issue 16. Declared as
:mod:`rig.protocol.gbcs.catalogue` declares the others, which gathers them into CATALOGUE
(this module must not import the catalogue).

Laid out byte for byte as DCC's RTDS 4.5.0 has them (folders 8.11_CCS01, 8.11_CCS02,
8.9_CCS06, 8.9_CCS07, NA_CS14). RTDS carries them as DLMS COSEM, not ASN.1: every one
addresses the ZigBee network control object (class 104) of the CHF device log,
0-0:30.3.0.255, and CCS07 also the CHF historic device log, 0-0:30.3.1.255.

====== ===== ============================================ ============ =================
SRV    code  use case                                     command      response
====== ===== ============================================ ============ =================
8.11   0001  CCS01 add a device (register_device, then    ACB for the  MAC for the ACB
             join_timeout and enable joining)             DCC User
8.11   0002  CCS02 remove a device (unregister_device)    ACB ...      MAC for the ACB
8.9    010F  CCS06 read the device log (active_devices)   ACB ...      MAC for the ACB
8.9    00FE  CCS07 read both logs (backup_PAN of each)    ACB ...      MAC for the ACB
alert  0018  CS14 0x8F12 the device log changed           --           MAC'd for the ACB
====== ===== ============================================ ============ =================

The ACB originates each command with its own counter; the DCC User and its RequestID
counter ride as the supplementary remote party (no certificate), and the CHF's answer,
MAC'd for the ACB, names them back (:attr:`UseCase.acb_originated`). One DUIS SRV becomes
one of two use cases: 8.11's RequestType (Add: CCS01, Remove: CCS02) and 8.9's
ReadSecurityDetails (absent: CCS06, present: CCS07). The catalogue gives each SRV one use
case for a device type, so CCS02 and CCS07 declare no SRV: the transforms of CCS01 and
CCS06 build them.

The typed records (:class:`RegisterDevice`, :class:`ActiveDevice`, :class:`LogBackup`)
decode a value into its fields and encode it back byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass

from rig.protocol.gbcs import access, cosem
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.gbcs.usecase import Form, Get, UseCase

CHF = "CHF"
_D = DataType
NETWORK_CONTROL = 104  # the DLMS interface class ZigBee network control
DEVICE_LOG = cosem.obis("0-0:30.3.0")  # the CHF device log
HISTORIC_LOG = cosem.obis("0-0:30.3.1")  # the CHF historic device log (CCS02 fills it)
JOINING = cosem.Attribute(NETWORK_CONTROL, DEVICE_LOG, 2)  # enable_disable_joining
JOIN_TIMEOUT = cosem.Attribute(NETWORK_CONTROL, DEVICE_LOG, 3)  # seconds, long-unsigned
ACTIVE_DEVICES = cosem.Attribute(NETWORK_CONTROL, DEVICE_LOG, 4)
REGISTER_DEVICE = cosem.Method(NETWORK_CONTROL, DEVICE_LOG, 1)
UNREGISTER_DEVICE = cosem.Method(NETWORK_CONTROL, DEVICE_LOG, 2)
BACKUP_LOG = cosem.Method(NETWORK_CONTROL, DEVICE_LOG, 4)  # backup_PAN
BACKUP_HISTORIC_LOG = cosem.Method(NETWORK_CONTROL, HISTORIC_LOG, 4)
DEVICE_LOG_CHANGED = 0x8F12  # CS14's alert code
# what RTDS's CCS01 registers a device with: the two enumerations it carries (DUIS names
# no device type: the DCC sends these for every device), the key an install code
RTDS_DEVICE_TYPE, INSTALL_CODE_KEY = 1, 0
NULL = Data(_D.NULL_DATA)

CCS01 = UseCase(
    "CCS01",
    0x0001,
    CHF,
    Form.DLMS,
    access.Access(
        (
            access.Invoke(REGISTER_DEVICE, name="device", kind=_D.STRUCTURE),
            access.Write(JOIN_TIMEOUT, "join_timeout", _D.LONG_UNSIGNED),
            access.Write(JOINING, "joining", _D.BOOLEAN),
        )
    ),
    srvs=("8.11",),
    acb_originated=True,
)
CCS02 = UseCase(
    "CCS02",
    0x0002,
    CHF,
    Form.DLMS,
    access.Access((access.Invoke(UNREGISTER_DEVICE, name="device", kind=_D.OCTET_STRING),)),
    acb_originated=True,  # 8.11 with RequestType Remove: CCS01's transform builds it
)
CCS06 = UseCase(
    "CCS06", 0x010F, CHF, Form.DLMS, Get(ACTIVE_DEVICES), srvs=("8.9",), acb_originated=True
)
CCS07 = UseCase(
    "CCS07",
    0x00FE,
    CHF,
    Form.DLMS,
    access.Access((access.Invoke(BACKUP_LOG, NULL), access.Invoke(BACKUP_HISTORIC_LOG, NULL))),
    acb_originated=True,  # 8.9 with ReadSecurityDetails: CCS06's transform builds it
)
CS14 = UseCase("CS14", 0x0018, CHF, Form.DLMS, alert_code=DEVICE_LOG_CHANGED)

USE_CASES: tuple[UseCase, ...] = (CCS01, CCS02, CCS06, CCS07, CS14)


# --- the values, typed ------------------------------------------------------------------------
def _octets(value: Data) -> bytes:
    if value.type is not _D.OCTET_STRING:
        raise ValueError(f"expected an octet-string, found {value.type.name}")
    return bytes(value.value)


def _fields(value: Data, count: int, what: str) -> list[Data]:
    if value.type is not _D.STRUCTURE or len(value.value) != count:
        raise ValueError(f"{what} is a structure of {count} fields")
    return list(value.value)


@dataclass(frozen=True, slots=True)
class RegisterDevice:
    """CCS01's register_device argument: the device's EUI, the type and key-type
    enumerations RTDS carries, and its install code (with its CRC)."""

    eui: bytes
    install_code: bytes
    device_type: int = RTDS_DEVICE_TYPE
    key_type: int = INSTALL_CODE_KEY

    def to_data(self) -> Data:
        return Data(
            _D.STRUCTURE,
            [
                Data(_D.OCTET_STRING, self.eui),
                Data(_D.ENUM, self.device_type),
                Data(_D.OCTET_STRING, self.install_code),
                Data(_D.ENUM, self.key_type),
            ],
        )

    @classmethod
    def from_data(cls, value: Data) -> RegisterDevice:
        eui, kind, key, key_type = _fields(value, 4, "register_device's argument")
        if kind.type is not _D.ENUM or key_type.type is not _D.ENUM:
            raise ValueError("register_device's device and key types are enumerations")
        return cls(_octets(eui), _octets(key), int(kind.value), int(key_type.value))


@dataclass(frozen=True, slots=True)
class ActiveDevice:
    """One entry of active_devices (CCS06): a device of the log, its status bits
    (:data:`REGISTERED`, :data:`JOINED`), the link's RSSI and LQI (max, average, min),
    when the CHF last heard it (COSEM date-time), hops, transmission failures and
    successes, application and stack versions."""

    eui: bytes
    status: int  # 8 bits, the first the most significant
    rssi: tuple[int, int, int] = (0, 0, 0)
    lqi: tuple[int, int, int] = (0, 0, 0)
    last_heard: bytes = b"\xff" * 12  # a COSEM date-time; all "not specified": never
    hops: int = 1
    failures: int = 0
    successes: int = 0
    application_version: int = 1
    stack_version: int = 1

    def to_data(self) -> Data:
        return Data(
            _D.STRUCTURE,
            [
                Data(_D.OCTET_STRING, self.eui),
                Data(_D.BIT_STRING, (8, bytes([self.status]))),
                *(Data(_D.INTEGER, v) for v in self.rssi),
                *(Data(_D.UNSIGNED, v) for v in self.lqi),
                Data(_D.OCTET_STRING, self.last_heard),
                *(
                    Data(_D.UNSIGNED, v)
                    for v in (
                        self.hops,
                        self.failures,
                        self.successes,
                        self.application_version,
                        self.stack_version,
                    )
                ),
            ],
        )

    @classmethod
    def from_data(cls, value: Data) -> ActiveDevice:
        f = _fields(value, 14, "an active device")
        bits, raw = f[1].value
        if f[1].type is not _D.BIT_STRING or bits != 8:
            raise ValueError("an active device's status is 8 bits")
        ints = [int(v.value) for v in f[2:8]]
        rest = [int(v.value) for v in f[9:]]
        return cls(
            _octets(f[0]),
            raw[0],
            (ints[0], ints[1], ints[2]),
            (ints[3], ints[4], ints[5]),
            _octets(f[8]),
            *rest,
        )


REGISTERED, JOINED = 0x80, 0x40  # status bits of an active device: in the log; on the HAN


@dataclass(frozen=True, slots=True)
class LogBackup:
    """What backup_PAN returns of a log (CCS07) and CS14 carries: when the log last
    changed (COSEM date-time), the HAN's extended PAN ID, and each device's EUI with the
    hash of its TC link key (empty before it has one)."""

    changed: bytes
    extended_pan_id: bytes
    devices: tuple[tuple[bytes, bytes], ...]

    def to_data(self) -> Data:
        entries = [
            Data(_D.STRUCTURE, [Data(_D.OCTET_STRING, eui), Data(_D.OCTET_STRING, hashed)])
            for eui, hashed in self.devices
        ]
        return Data(
            _D.STRUCTURE,
            [
                Data(_D.OCTET_STRING, self.changed),
                Data(_D.OCTET_STRING, self.extended_pan_id),
                Data(_D.ARRAY, entries),
            ],
        )

    @classmethod
    def from_data(cls, value: Data) -> LogBackup:
        changed, pan, entries = _fields(value, 3, "a device log backup")
        if entries.type is not _D.ARRAY:
            raise ValueError("a device log backup's devices are an array")
        devices = []
        for entry in entries.value:
            eui, hashed = _fields(entry, 2, "a device log entry")
            devices.append((_octets(eui), _octets(hashed)))
        return cls(_octets(changed), _octets(pan), tuple(devices))


def log_changed_fields(raised: bytes, log: LogBackup) -> list[Data]:
    """CS14's body after its alert code: when it was raised (COSEM date-time), then the
    device log as backup_PAN returns it."""
    return [Data(_D.OCTET_STRING, raised), log.to_data()]
