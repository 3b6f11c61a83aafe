"""What a meter serves of the ESME's device configuration (6.2.x, 6.4.x), and the hub's identity.

On the ESME's COSEM server (:func:`serve_device_config`), each value persisted in
``device_config.json`` in its state folder (A-XDR, so a restart keeps what was written):

- stored, read back as written, refused (type-unmatched) when a SET has another shape: the
  RMS voltage limiters and average RMS thresholds (6.2.1; 6.5 writes them), the
  randomisation values (6.2.2; 7.12 writes the limit), the billing calendar (6.2.3; 6.8), the
  supply tamper state (6.2.4; 6.25), the instantaneous power thresholds (6.2.5; 6.12), the
  MPANs (6.2.7; 6.20.x). The rig's meter models no voltage, no billing snapshot, no
  randomised switching and no power-threshold display, so these change nothing else;
- the identity (6.2.4): the device ID is the meter's EUI-64; meter variant, model type and
  manufacturer are fixed, as RTDS's example meter has them;
- the payment mode (6.2.9) is the credit engine's (:mod:`nodes.roles.credit`): a SET of
  account_mode_and_status switches the engine between credit and prepayment mode;
- the alert and event behaviours in force (6.2.10), 256 bits each: RTDS's example meter's,
  with the alerts each 6.22 filter names (read from the server: 0-30:97.98.11-14, the
  supplier's, and 0-33:97.98.11, .14, the network operator's) as that filter sets them;
- the load limit (6.4.1, 6.4.2; 4.15's ECS27 reads it): ECS28a writes the power threshold
  (W), period (s), restoration period (s) and supply state through GBCS's future-dated
  objects (class 9000: each value to come, then its activation date-time); an unspecified
  one (IMMEDIATE) applies it at once, a future one is refused (other reason; the ESME does
  not hold future-dated load limit changes yet), none (0xFF: DUIS's cancellation) drops the
  value to come. ECS28b resets the load limit counter. The rig's ESME does not act on the
  load limit: its load is fixed (``behaviour.load_w``) and no alert code for a load limit
  event is on this machine, so the counter only changes when reset.
  A power threshold of 0 (as first powered on) means no load limit is configured.

Other families write some of these objects (6.5, 6.8, 6.12, 6.20, 6.25, 1.6): an object
another family already serves when this one registers is left to it (its value stands).

On the CHF's COSEM server (:func:`serve_hub_identity`): its device ID, model type and
manufacturer (6.2.4's ECS26n).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from nodes.gbcs.cosem_server import CosemError, CosemServer, Result
from nodes.roles.credit import CREDIT, PREPAYMENT
from rig.protocol.codec import DecodeError, Reader
from rig.protocol.gbcs import catalogue_device_config as dc
from rig.protocol.gbcs import cosem
from rig.protocol.gbcs.dlms import Data, DataType
from rig.runtime.files import read_json, write_json

log = logging.getLogger("nodes.device_config")
_D = DataType
CONFIG_FILE = "device_config.json"
BEHAVIOUR_BITS = 256


def _u32(n: int) -> Data:
    return Data(_D.DOUBLE_LONG_UNSIGNED, n)


def _u16(n: int) -> Data:
    return Data(_D.LONG_UNSIGNED, n)


def _text(s: str) -> Data:
    return Data(_D.OCTET_STRING, s.encode("ascii"))


def _billing_date(month: int) -> Data:
    """A billing calendar entry: at 12:00:00 on the 1st of ``month`` (RTDS's ECS26l)."""
    return Data(
        _D.STRUCTURE,
        [Data(_D.OCTET_STRING, bytes.fromhex("0c000000")), _date(month)],
    )


def _date(month: int) -> Data:
    return Data(_D.OCTET_STRING, bytes([0xFF, 0xFF, month, 0x01, 0xFF]))


# the stored values: where each is served, and its value at first power-on (RTDS 4.5.0's
# example meter's, from its SUCCESS responses; the load limit: none configured)
VOLTAGE_DEFAULTS = {
    "extreme_over_voltage": 287,
    "extreme_under_voltage": 180,
    "voltage_sag": 216,
    "voltage_swell": 253,
}
# (V) single-phase RTDS ECS26b's; a poly-phase meter's phases 2 and 3: RTDS ECS26k's
AVERAGE_RMS_DEFAULTS = {
    "average_rms_over_voltage": 264,
    "average_rms_under_voltage": 200,
    "average_rms_under_voltage_2": 96,
    "average_rms_over_voltage_2": 126,
    "average_rms_under_voltage_3": 96,
    "average_rms_over_voltage_3": 126,
}
STORED: dict[str, tuple[cosem.Attribute, Data]] = {
    **{
        f"{name}_{what}": (cosem.Attribute(dc.LIMITER, dc.RMS_LIMITERS[name], attr), _u32(v))
        for name, volts in VOLTAGE_DEFAULTS.items()
        for what, attr, v in (("threshold", dc.THRESHOLD, volts), ("period", dc.MIN_OVER, 30))
    },
    **{name: (target, _u32(AVERAGE_RMS_DEFAULTS[name])) for name, target in dc.AVERAGE_RMS.items()},
    "randomised_offset": (dc.RANDOMISATION["randomised_offset"], _u16(200)),
    "randomised_offset_number": (dc.RANDOMISATION["randomised_offset_number"], _u16(2000)),
    "randomised_offset_limit": (dc.RANDOMISATION["randomised_offset_limit"], _u16(1000)),
    "billing_calendar": (
        dc.BILLING_CALENDAR,
        Data(_D.ARRAY, [_billing_date(m) for m in (1, 4, 7, 10)]),
    ),
    "supply_tamper_state": (dc.SUPPLY_TAMPER_STATE, Data(_D.BOOLEAN, 0)),
    "power_thresholds": (dc.POWER_THRESHOLDS, Data(_D.ARRAY, [_u32(2300), _u32(4600)])),
    "import_mpan": (dc.IMPORT_MPAN, _text("1312345678111")),
    "export_mpan": (dc.EXPORT_MPAN, _text("1312345678333")),
    # the load limit in force (ECS28a activates each; ECS27 reads them)
    "load_limit_supply_state": (dc.LOAD_LIMIT["supply_state"][1], Data(_D.BOOLEAN, 0)),
    "load_limit_power_threshold": (dc.LOAD_LIMIT["power_threshold"][1], _u32(0)),
    "load_limit_period": (dc.LOAD_LIMIT["period"][1], _u32(0)),
    "load_limit_restoration_period": (dc.LOAD_LIMIT["restoration_period"][1], _u32(0)),
    "load_limit_counter": (dc.LOAD_LIMIT_COUNTER, _u32(0)),
}
FIXED = {  # the ESME's identity, as RTDS's example meter's
    dc.METER_VARIANT: _text("B"),
    dc.MODEL_TYPE: _text("ATGTypeX"),
    dc.MANUFACTURER: _text("CSW"),
    dc.LOAD_LIMIT_COUNTER_UNIT: Data(_D.STRUCTURE, [Data(_D.INTEGER, 0), Data(_D.ENUM, 255)]),
}
HUB_IDENTITY = {dc.MODEL_TYPE: _text("ATGTypeY"), dc.MANUFACTURER: _text("CSW ")}
# the behaviours in force at first power-on: RTDS's example meter's (ECS25r1, ECS25r2)
BEHAVIOUR_DEFAULTS = {
    "supplier_wan": "00000000000000337f0ffff30000000800000000000000000000000002006000",
    "supplier_han": "000000000000001000000c000000000000000100000000000000000002002000",
    "supplier_log": "00000000000000737f0fffff0000000800000006003000200000000000000000",
    "network_operator_wan": "0000000000000000000000000000000000000000000000000000000000300000",
    "network_operator_log": "0000000000000000000000000000000000000000000000000000000000300000",
}


def same_shape(value: Data, model: Data) -> bool:
    """Whether ``value`` has ``model``'s type and shape (a structure's members, an array's
    elements, each like the model's first)."""
    if value.type is not model.type:
        return False
    if value.type is _D.STRUCTURE:
        return len(value.value) == len(model.value) and all(
            same_shape(v, m) for v, m in zip(value.value, model.value, strict=True)
        )
    if value.type is _D.ARRAY and model.value:
        return all(same_shape(v, model.value[0]) for v in value.value)
    return True


@dataclass(slots=True)
class StoredValues:
    """Named COSEM values, persisted atomically as their A-XDR encoding."""

    path: Path
    defaults: Mapping[str, Data]
    encoded: dict[str, str]

    @classmethod
    def load(cls, path: Path, defaults: Mapping[str, Data]) -> StoredValues:
        saved = read_json(path, {}) or {}
        kept = {k: v for k, v in saved.items() if k in defaults and isinstance(v, str)}
        return cls(path, defaults, kept)

    def get(self, name: str) -> Data:
        raw = self.encoded.get(name)
        if raw is not None:
            try:
                return Data.decode(Reader(bytes.fromhex(raw)))
            except (DecodeError, ValueError):
                log.warning("device_config.unreadable", extra={"setting": name})
        return self.defaults[name]

    def set(self, name: str, value: Data) -> None:
        model = self.defaults[name]
        if not same_shape(value, model):
            raise CosemError(
                Result.TYPE_UNMATCHED,
                f"{name} is a {model.type.name.lower()} like {model.to_json()}",
            )
        self.encoded[name] = value.encode().hex()
        write_json(self.path, self.encoded)


def _fixed(value: Data) -> Data:
    return value


def _free(server: CosemServer, address: cosem.Attribute) -> bool:
    """Whether no one serves ``address`` yet (another family's object stands)."""
    try:
        server.get(address)
    except CosemError:
        return True
    return False


def serve_device_config(meter: Any) -> StoredValues | None:
    """Serve the ESME's device configuration on ``meter``'s object server; its stored
    values (None: the meter has no COSEM server)."""
    server: CosemServer | None = getattr(meter, "cosem", None)
    if server is None:
        return None
    device = meter.config.eui.duis
    stored = StoredValues.load(
        meter.config.state_dir / CONFIG_FILE, {n: d for n, (_, d) in STORED.items()}
    )

    def setter(name: str) -> Callable[[Data], None]:
        def put(value: Data) -> None:
            stored.set(name, value)
            log.info("device_config.set", extra={"device": device, "setting": name})

        return put

    for name, (address, _) in STORED.items():
        if _free(server, address):
            server.attribute(address, partial(stored.get, name), setter(name))
    server.attribute(dc.DEVICE_ID, lambda: Data(_D.OCTET_STRING, meter.config.eui.raw))
    for address, value in FIXED.items():
        server.attribute(address, partial(_fixed, value))
    if _free(server, dc.PAYMENT_MODE):
        server.attribute(dc.PAYMENT_MODE, *_payment_mode(meter))
    for name, address in dc.BEHAVIOURS.items():
        server.attribute(address, partial(behaviour, server, name))
    _serve_load_limit(server, stored, device)
    return stored


def serve_hub_identity(hub: Any) -> None:
    """The CHF's identity on its COSEM server (6.2.4's ECS26n): device ID, model, maker."""
    server: CosemServer | None = getattr(hub, "cosem", None)
    if server is None:
        return
    server.attribute(dc.DEVICE_ID, lambda: Data(_D.OCTET_STRING, hub.config.eui.raw))
    for address, value in HUB_IDENTITY.items():
        server.attribute(address, partial(_fixed, value))


# --- the payment mode: the credit engine's --------------------------------------------------
MODES = {CREDIT: 1, PREPAYMENT: 2}  # class 111 account_mode_and_status: payment_mode
ACTIVE = 2  # its account_status: account active


def _payment_mode(meter: Any) -> tuple[Callable[[], Data], Callable[[Data], None]]:
    def get() -> Data:
        credit = getattr(meter, "credit", None)
        mode = CREDIT if credit is None else credit.settings.payment_mode
        return Data(_D.STRUCTURE, [Data(_D.ENUM, MODES[mode]), Data(_D.ENUM, ACTIVE)])

    def put(value: Data) -> None:
        credit = getattr(meter, "credit", None)
        modes = {v: k for k, v in MODES.items()}
        if not same_shape(value, get()) or value.value[0].value not in modes:
            raise CosemError(
                Result.TYPE_UNMATCHED, "payment mode: (1 credit | 2 prepayment, status)"
            )
        if credit is None:
            raise CosemError(Result.READ_WRITE_DENIED, "this meter has no credit engine")
        credit.settings = replace(credit.settings, payment_mode=modes[value.value[0].value])
        credit.save()
        log.info("device_config.payment_mode", extra={"device": meter.config.eui.duis})

    return get, put


# --- the alert and event behaviours in force ---------------------------------------------------
def behaviour(server: CosemServer, name: str) -> Data:
    """A party's behaviour in force: the meter's as first powered on, with the alerts its
    6.22 filter names as that filter sets them (none when no filter is served)."""
    bits = int(BEHAVIOUR_DEFAULTS.get(name, "0"), 16)
    try:
        written = server.get(dc.FILTER_OF[name])
    except CosemError:
        written = None
    if written is not None and written.type is _D.BIT_STRING:
        count, raw = written.value
        half = BEHAVIOUR_BITS // 8
        if count == 2 * BEHAVIOUR_BITS and len(raw) == 2 * half:
            mask, values = int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
            bits = bits & ~mask | values & mask
    return Data(_D.BIT_STRING, (BEHAVIOUR_BITS, bits.to_bytes(BEHAVIOUR_BITS // 8, "big")))


# --- the load limit (ECS28a, ECS28b) ---------------------------------------------------------
def _serve_load_limit(server: CosemServer, stored: StoredValues, device: str) -> None:
    to_come: dict[str, Data] = {}

    def coming(name: str) -> tuple[Callable[[], Data], Callable[[Data], None]]:
        in_force = f"load_limit_{name}"

        def put(value: Data) -> None:
            if not same_shape(value, stored.defaults[in_force]):
                kind = dc.LOAD_LIMIT_KINDS[name].name.lower()
                raise CosemError(Result.TYPE_UNMATCHED, f"the load limit {name} is a {kind}")
            to_come[name] = value

        return lambda: to_come.get(name) or stored.get(in_force), put

    def activation(name: str) -> tuple[Callable[[], Data], Callable[[Data], None]]:
        def put(value: Data) -> None:
            raw = bytes(value.value) if value.type is _D.OCTET_STRING else b""
            if raw == dc.NEVER:  # cancelled: what was to come is dropped
                to_come.pop(name, None)
                return
            if raw != dc.AT_ONCE:
                raise CosemError(
                    Result.OTHER_REASON,
                    f"load limit {name}: a future-dated activation is not held by the rig's ESME",
                )
            if name in to_come:
                stored.set(f"load_limit_{name}", to_come.pop(name))
                log.info("device_config.load_limit", extra={"device": device, "setting": name})

        return lambda: Data(_D.OCTET_STRING, dc.AT_ONCE), put

    for name, (instance, _) in dc.LOAD_LIMIT.items():
        server.attribute(
            cosem.Attribute(dc.FUTURE_DATED, instance, cosem.VALUE_TO_COME), *coming(name)
        )
        server.attribute(
            cosem.Attribute(dc.FUTURE_DATED, instance, cosem.ACTIVATION), *activation(name)
        )
        if name != "supply_state":  # its class 9000 value in force is the limiter's
            server.attribute(
                cosem.Attribute(dc.FUTURE_DATED, instance, cosem.VALUE),
                partial(stored.get, f"load_limit_{name}"),
            )

    def reset(_argument: Data, _invocation: object) -> None:
        stored.set("load_limit_counter", _u32(0))
        log.info("device_config.load_limit_counter_reset", extra={"device": device})

    server.method(dc.RESET_LOAD_LIMIT_COUNTER, reset)
