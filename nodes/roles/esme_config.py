"""What a meter serves of the ESME's identity, security and operational configuration (6.5,
6.8, 6.11, 6.12, 6.18.x, 6.20.x, 6.25, 6.26, 6.27), as COSEM objects on its server:

- the settings the SRVs write (:class:`EsmeSettings`), each read back by its GET (6.2.x
  reads them): the RMS voltage limiters and average RMS thresholds and periods (6.5), the
  billing calendar (6.8), the power thresholds (6.12), the maximum demand period (6.18.1),
  the import and export MPANs (6.20.x), the supply tamper state (6.25) and the daily reset
  of the block counters (6.26). They are kept in the state folder (``esme_config.json``,
  each value as its A-XDR encoding) and survive a restart. One another family serves already
  when these register (6.2.x's :mod:`nodes.roles.device_config`) is left to it: the SRVs
  here write its value, kept in its file;
- the average RMS voltage counters of each phase (class 3, reset by 6.5 and 6.27): the rig
  measures no voltage, so they only ever count from a reset (0);
- the maximum demand registers (class 4, reset by 6.18.2): the highest demand (W) the meter
  drew, and when; the configurable-time one only within the period 6.18.1 sets. They are
  brought up to date when read (the demand then), as the other logs are.

The ESME's clock (6.11, ECS70) is :mod:`nodes.roles.clock`'s, as 8.1.1 serves it. What the
rig has no behaviour for is stored and read back only: the billing calendar (no billing
data log is triggered by it), the power thresholds (the IHD shows no ambient state), the
tamper state (the rig detects no tamper), the block counter reset and the voltage settings.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from nodes.gbcs.cosem_server import CosemError, CosemServer, Invocation, Result
from nodes.gbcs.future import utc_now
from rig.protocol.codec import DecodeError, Reader
from rig.protocol.gbcs import cosem, dlms
from rig.protocol.gbcs.catalogue_device_config import (
    AVERAGE_RMS,
    BILLING_CALENDAR,
    EXPORT_MPAN,
    IMPORT_MPAN,
    LIMITER,
    MIN_OVER,
    POWER_THRESHOLDS,
    RMS_LIMITERS,
    SUPPLY_TAMPER_STATE,
    THRESHOLD,
)
from rig.protocol.gbcs.catalogue_esme_config import (
    AVERAGE_PERIOD,
    BLOCK_COUNTER_RESET,
    COUNTER_UNIT,
    COUNTER_VALUE,
    COUNTERS,
    MAX_DEMAND,
    MD_CAPTURED,
    MD_PERIOD,
    MD_UNIT,
    MD_VALUE,
    RESET,
)
from rig.protocol.gbcs.cosem import Attribute, Method
from rig.protocol.gbcs.dlms import Data, DataType
from rig.runtime.files import read_json, write_json

log = logging.getLogger("nodes.esme_config")
_D = DataType
WATT, NO_UNIT = 27, 255
MPAN_DIGITS = (0, 13, 26)  # none, one MPAN, a twin element's two


def _u32(n: int) -> Data:
    return Data(_D.DOUBLE_LONG_UNSIGNED, n)


def _entry(time: bytes, date: bytes) -> Data:
    return Data(_D.STRUCTURE, [Data(_D.OCTET_STRING, time), Data(_D.OCTET_STRING, date)])


def _md_entry(index: int, selector: int, hour: int) -> Data:
    return Data(
        _D.STRUCTURE,
        [
            Data(_D.LONG_UNSIGNED, index),
            Data(_D.BOOLEAN, 0xFF),
            Data(_D.OCTET_STRING, cosem.obis("0-0:10.128.100")),
            Data(_D.LONG_UNSIGNED, selector),
            Data(_D.OCTET_STRING, bytes([hour, 0, 0, 0])),
            Data(_D.LONG_UNSIGNED, 0xFFFF),
            Data(_D.BIT_STRING, (7, b"\xfe")),
            Data(_D.BIT_STRING, (0, b"")),
            Data(_D.OCTET_STRING, bytes.fromhex("000001ffff")),
            Data(_D.OCTET_STRING, b"\xff" * 5),
        ],
    )


def defaults() -> dict[Attribute, Data]:
    """The settings of a meter no SRV has written yet (RTDS's example values)."""
    out: dict[Attribute, Data] = {}
    for instance, (threshold, period) in zip(
        RMS_LIMITERS.values(), ((287, 30), (180, 30), (216, 30), (253, 30)), strict=True
    ):
        out[Attribute(LIMITER, instance, THRESHOLD)] = _u32(threshold)
        out[Attribute(LIMITER, instance, MIN_OVER)] = _u32(period)
    for name, target in AVERAGE_RMS.items():
        out[target] = _u32(264 if "over" in name else 200)
    for target in AVERAGE_PERIOD.values():
        out[target] = _u32(30)
    midnight, monthly = bytes(4), bytes.fromhex("ffffff01ff")
    out[BILLING_CALENDAR] = Data(_D.ARRAY, [_entry(midnight, monthly)])
    out[POWER_THRESHOLDS] = Data(_D.ARRAY, [_u32(2300), _u32(4600)])
    out[MD_PERIOD] = Data(_D.ARRAY, [_md_entry(0, 1, 17), _md_entry(1, 2, 22)])
    out[IMPORT_MPAN] = out[EXPORT_MPAN] = Data(_D.OCTET_STRING, b"")
    out[SUPPLY_TAMPER_STATE] = Data(_D.BOOLEAN, 0)
    out[BLOCK_COUNTER_RESET] = Data(_D.ARRAY, [_entry(midnight, b"\xff" * 5)])
    return out


def _shape(value: Data) -> Any:
    """A value's types, nested (an array's: its elements' shapes, each once)."""
    if value.type is _D.ARRAY:
        return (_D.ARRAY, frozenset(_shape(v) for v in value.value))
    if value.type is _D.STRUCTURE:
        return (_D.STRUCTURE, tuple(_shape(v) for v in value.value))
    return value.type


def _encode(value: Data) -> str:
    return value.encode().hex()


def _decode(text: str) -> Data:
    return Data.decode(Reader(bytes.fromhex(text)))


class EsmeSettings:
    """The ESME's written configuration: one value per attribute, kept in ``path``."""

    def __init__(self, path: Path, device: str = "") -> None:
        self.path, self.device = path, device
        self.values = defaults()
        saved = read_json(path, {}) or {}
        for target in self.values:
            text = saved.get(_key(target))
            if text is not None:
                try:
                    self.values[target] = _decode(text)
                except DecodeError:
                    log.warning(
                        "esme_config.unreadable", extra={"device": device, "at": str(target)}
                    )

    def get(self, target: Attribute) -> Data:
        return self.values[target]

    def set(self, target: Attribute, value: Data) -> None:
        """Write ``target``: a value of the shape it holds (an array: entries of the shape
        its default's have), else TYPE_UNMATCHED."""
        held = self.values[target]
        if value.type is not held.type:
            raise CosemError(Result.TYPE_UNMATCHED, f"{target} is a {held.type.name}")
        if value.type is _D.ARRAY and held.value:
            element = _shape(held.value[0])
            if any(_shape(v) != element for v in value.value):
                raise CosemError(Result.TYPE_UNMATCHED, f"{target}: entries of another shape")
        mpan = bytes(value.value) if target in (IMPORT_MPAN, EXPORT_MPAN) else None
        if mpan is not None and (len(mpan) not in MPAN_DIGITS or (mpan and not mpan.isdigit())):
            raise CosemError(Result.TYPE_UNMATCHED, "an MPAN is 13 digits (a twin element's: 26)")
        if target == POWER_THRESHOLDS and len(value.value) != 2:
            raise CosemError(Result.TYPE_UNMATCHED, "two power thresholds: low-medium, medium-high")
        self.values[target] = value
        self._save()
        log.info("esme_config.set", extra={"device": self.device, "at": str(target)})

    def _save(self) -> None:
        write_json(self.path, {_key(t): _encode(v) for t, v in self.values.items()})


def _key(target: Attribute) -> str:
    return f"{target.class_id}/{cosem.obis_text(target.instance)}/{target.attribute}"


class Registers:
    """Counters and maximum demand registers, kept in ``path``: each (value, when it was
    captured: UTC seconds since 2000, or None)."""

    def __init__(
        self,
        path: Path,
        period: Callable[[], Data],
        demand: Callable[[], int],
        now: Callable[[], dt.datetime] = utc_now,
        device: str = "",
    ) -> None:
        self.path, self.period, self.demand, self.now = path, period, demand, now
        self.device = device
        saved = read_json(path, {}) or {}
        self.held: dict[str, list[Any]] = {k: list(v) for k, v in saved.items()}

    def _get(self, name: str) -> tuple[int, int | None]:
        value, at = self.held.get(name, (0, None))
        return int(value), at

    def _put(self, name: str, value: int) -> None:
        self.held[name] = [value, int(self.now().timestamp()) - cosem.GBCS_EPOCH_UNIX]
        write_json(self.path, self.held)

    def reset(
        self, name: str, _argument: Data | None = None, _inv: Invocation | None = None
    ) -> None:
        """Reset a register (a class 3 or class 4 reset: its ACTION's argument is unused)."""
        self._put(name, 0)
        self.held[f"reset {name}"] = self.held[name][1:]  # when it was reset (ECS18a/b)
        write_json(self.path, self.held)
        log.info("esme_config.reset", extra={"device": self.device, "register": name})

    def reset_time(self, name: str) -> Data:
        """When the register was last reset (never: not specified)."""
        return _captured((self.held.get(f"reset {name}") or [None])[0])

    def counter(self, name: str) -> Data:
        return _u32(self._get(name)[0])

    def maximum(self, name: str) -> tuple[int, int | None]:
        """A maximum demand register brought up to date: the demand now counts when it is
        higher (the export one: the rig's ESME exports nothing)."""
        value, at = self._get(name)
        if name == "MaxDemandActivePowerExportValue":
            return value, at
        if name == "MaxDemandConfigTimeActivePowerImportValue" and not self._in_period():
            return value, at
        demand = self.demand()
        if demand > value:
            self._put(name, demand)
            return self._get(name)
        return value, at

    def value(self, name: str) -> Data:
        return _u32(self.maximum(name)[0])

    def captured(self, name: str) -> Data:
        return _captured(self.maximum(name)[1])

    def _in_period(self) -> bool:
        period = md_period(self.period())
        if period is None:
            return False
        now = self.now().astimezone(dt.UTC)
        t = bytes([now.hour, now.minute, now.second, 0])
        start, end = period
        return start <= t < end if start <= end else (t >= start or t < end)


def md_period(schedule: Data) -> tuple[bytes, bytes] | None:
    """The maximum demand period's start and end (COSEM times) its schedule's entries give
    (script selector 1: the start, 2: the end); None when it has not both."""
    try:
        times = {int(e.value[3].value): bytes(e.value[4].value) for e in schedule.value}
    except (IndexError, TypeError, ValueError):
        return None
    return (times[1], times[2]) if 1 in times and 2 in times else None


def _captured(at: int | None) -> Data:
    if at is None:
        return Data(_D.OCTET_STRING, b"\xff" * 9 + bytes.fromhex("8000ff"))  # never
    when = dt.datetime.fromtimestamp(at + cosem.GBCS_EPOCH_UNIX, dt.UTC)
    return Data(_D.OCTET_STRING, dlms.date_time(when))


def _unit(unit: int) -> Data:
    return Data(_D.STRUCTURE, [Data(_D.INTEGER, 0), Data(_D.ENUM, unit)])


def serve_esme_config(meter: Any) -> EsmeSettings | None:
    """Serve the ESME's identity, security and operational configuration on ``meter``'s object
    server (its ``cosem``), kept in its state folder; None for a device without one."""
    server: CosemServer | None = getattr(meter, "cosem", None)
    config = getattr(meter, "config", None)
    if server is None or config is None:
        return None
    settings = EsmeSettings(config.state_dir / "esme_config.json", config.eui.duis)

    def demand() -> int:
        return int(meter.metering().get("instantaneous_demand", 0))

    registers = serve_settings(server, settings, config.state_dir / "esme_registers.json", demand)
    meter.md_registers = registers  # their reset times, which the billing family serves
    return settings


def _served(server: CosemServer, target: Attribute) -> bool:
    try:
        server.get(target)
    except CosemError:
        return False
    return True


def serve_settings(
    server: CosemServer,
    settings: EsmeSettings,
    registers_path: Path,
    demand: Callable[[], int],
    now: Callable[[], dt.datetime] = utc_now,
) -> Registers:
    """The settings (read and written; one another family serves already, 6.2.x's, is left
    to it: its value stands and the SRVs here write it), the voltage counters and the
    maximum demand registers (read and reset; the period read from the server)."""
    for target in settings.values:
        if not _served(server, target):
            server.attribute(target, partial(settings.get, target), partial(settings.set, target))
    registers = Registers(
        registers_path, partial(server.get, MD_PERIOD), demand, now, settings.device
    )
    for pair in COUNTERS.values():
        for instance in pair:
            name = f"counter {cosem.obis_text(instance)}"
            server.attribute(
                Attribute(3, instance, COUNTER_VALUE), partial(registers.counter, name)
            )
            server.attribute(Attribute(3, instance, COUNTER_UNIT), partial(_unit, NO_UNIT))
            server.method(Method(3, instance, RESET), partial(registers.reset, name))
    for name, instance in MAX_DEMAND.items():
        server.attribute(Attribute(4, instance, MD_VALUE), partial(registers.value, name))
        server.attribute(Attribute(4, instance, MD_UNIT), partial(_unit, WATT))
        server.attribute(Attribute(4, instance, MD_CAPTURED), partial(registers.captured, name))
        server.method(Method(4, instance, RESET), partial(registers.reset, name))
    return registers
