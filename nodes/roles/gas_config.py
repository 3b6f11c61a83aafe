"""What a meter serves of the GSME's configuration, valve and network data (6.2.x, 6.6, 6.7,
6.8, 6.20.1, 7.2-7.4, 9.1, 14.1) on its ZCL server.

The valve is the GSME's supply (:attr:`nodes.roles.gsme.GasMeter.valve_open` and ``armed``,
kept in its ``meter.json``): Change Supply OFF (GCS32, 7.2) closes it, OFF/ARMED (GCS39,
7.3) closes and arms it (the consumer's restore button opens it), each answered with the
Supply Status Response; SupplyStatus (GCS33, 7.4) reads it (0 off, 1 armed, 2 on). The rest
is the meter's configuration, kept in ``gas_config.json`` in its state folder and served as
ZCL attributes: the conversion factor and calorific value (written by GCS23's Publish
commands, read by GCS21a), the uncontrolled flow settings and the supply tamper and
depletion states (GCS24/24a, read by GCS21a and GCS21m), the billing calendar (GCS25/25a's
Publish Billing Period, answered to Get Billing Period: GCS21d/k), the MPRN (GCS41's Update
SiteID, read by GCS46), the CIN (GCS36) and the network data log (GCS31's Start Sampling:
Sample ID 2, the log's own, which a new start begins again and GCS18 reads); GCS20r reports
each non-critical event's configuration from the meter's event log filters
(:mod:`nodes.roles.event_logs`). The maker, model and hardware version (GCS21e/m) are the
rig's; the payment control configuration (GCS21j) follows the credit engine's payment mode;
the battery life (GCS33) counts down from :data:`BATTERY_LIFE_DAYS` since the meter's first
start. A command the meter cannot carry out is answered with a Default Response whose status
says why, and logged.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from nodes.gbcs.zcl_server import ZclServer
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import catalogue_gas_config as gc
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue_event_logs import EVENT_BIT_FILTERS
from rig.protocol.gbcs.catalogue_gas_billing import NETWORK_DATA_LOG
from rig.protocol.gbcs.frame import GbcsMessage
from rig.runtime.files import read_json, write_json

log = logging.getLogger("nodes.han")

BATTERY_LIFE_DAYS = 15 * 365  # a GSME's battery, from its first start
MANUFACTURER, MODEL, HW_VERSION = b"GB Smart Metering Test Rig", b"RIG-GSME", 1
PAYMENT_CONTROL = 0x0C97  # RTDS's configuration; bit 1 (prepayment enabled) from the mode
PREPAYMENT_ENABLED = 0x0002
DAY_S = 86_400


@dataclass
class GasConfiguration:
    """The GSME's configuration as it persists (values as the ZCL attributes carry them)."""

    calorific_value: int = 394  # 39.4 MJ/m3
    calorific_value_unit: int = 0x01  # MJ/m3
    calorific_value_trailing_digit: int = 0x10  # one decimal
    conversion_factor: int = 102_264  # 1.02264
    conversion_factor_trailing_digit: int = 0x50  # five decimals
    uncontrolled_flow_threshold: int = 200
    uncontrolled_flow_unit: int = 0x01  # m3/h
    uncontrolled_flow_multiplier: int = 1
    uncontrolled_flow_divisor: int = 1
    flow_stabilisation_period: int = 10
    flow_measurement_period: int = 3600
    supply_tamper_state: int = gc.SUPPLY_ON  # no lock on a tamper until configured
    supply_depletion_state: int = gc.SUPPLY_ON
    billing_period: list[int] = field(default_factory=lambda: [0, 0, 1, 0x23, 0])
    site_id: str = ""  # the MPRN
    cin: str = ""
    sample_id: int = 0  # the network data log's Sample ID once started (0: never started)
    sampling: list[int] = field(default_factory=list)  # [started, interval s, max samples]
    first_start: float = 0.0

    @classmethod
    def load(cls, path: Path) -> GasConfiguration:
        saved = read_json(path, {}) or {}
        known = {f.name for f in fields(cls)}
        config = cls(**{k: v for k, v in saved.items() if k in known})
        if not config.first_start:
            config.first_start = time.time()
            write_json(path, asdict(config))
        return config


@dataclass
class GasConfig:
    """The GSME ``meter``'s valve commands and configuration, served on its ZCL server."""

    meter: Any  # nodes.roles.gsme.GasMeter
    path: Path
    config: GasConfiguration

    @property
    def device(self) -> Eui64:
        eui: Eui64 = self.meter.config.eui
        return eui

    def save(self) -> None:
        write_json(self.path, asdict(self.config))

    def serve(self, zcl: ZclServer) -> None:
        c = self.config
        values: dict[tuple[int, gbz.ZclAttribute], Any] = {
            (gbz.METERING, gc.SUPPLY_STATUS): self.supply_status,
            (gbz.METERING, gc.BATTERY_DAYS): self.battery_days,
            (gbz.METERING, gc.SITE_ID): lambda: c.site_id.encode(),
            (gc.BASIC, gc.MANUFACTURER): lambda: MANUFACTURER,
            (gc.BASIC, gc.MODEL): lambda: MODEL,
            (gc.BASIC, gc.HW_VERSION): lambda: HW_VERSION,
        }
        for attribute in (*gc.FLOW, gc.TAMPER_STATE, gc.DEPLETION_STATE):
            values[(gbz.METERING, attribute)] = _field(c, attribute.name)
        for attribute in gc.CONVERSION:
            values[(gc.PRICE, attribute)] = _field(c, attribute.name)
        if getattr(self.meter, "credit", None) is not None:
            values[(gbz.PREPAYMENT, gc.PAYMENT_CONTROL)] = self.payment_control
        for (cluster, attribute), source in values.items():
            zcl.attribute(cluster, attribute, source)
        zcl.command(gbz.METERING, gc.CHANGE_SUPPLY, self.change_supply)
        zcl.command(gbz.METERING, gc.SET_FLOW_THRESHOLD, self.set_flow_threshold)
        zcl.command(gbz.METERING, gc.SET_SUPPLY_STATUS, self.set_supply_status)
        zcl.command(gbz.METERING, gc.START_SAMPLING, self.start_sampling)
        zcl.command(gc.PRICE, gc.GET_BILLING_PERIOD, self.get_billing_period)
        for cluster, command, action in (
            (gc.PRICE, gc.PUBLISH_CONVERSION_FACTOR, self.publish_conversion_factor),
            (gc.PRICE, gc.PUBLISH_CALORIFIC_VALUE, self.publish_calorific_value),
            (gc.PRICE, gc.PUBLISH_BILLING_PERIOD, self.publish_billing_period),
            (gc.PRICE, gc.PUBLISH_BLOCK_PERIOD, self.publish_block_period),
            (gc.DEVICE_MANAGEMENT, gc.UPDATE_SITE_ID, self.update_site_id),
            (gc.DEVICE_MANAGEMENT, gc.UPDATE_CIN, self.update_cin),
            (gc.DEVICE_MANAGEMENT, gc.GET_EVENT_CONFIGURATION, self.get_event_configuration),
        ):
            zcl.command(cluster, command, action, server_to_client=True)

    # --- the valve (7.2, 7.3, 7.4) --------------------------------------------------------------
    def supply_status(self) -> int:
        if self.meter.valve_open:
            return gc.SUPPLY_ON
        return gc.SUPPLY_ARMED if self.meter.armed else gc.SUPPLY_OFF

    def battery_days(self) -> int:
        used = int((time.time() - self.config.first_start) // DAY_S)
        return max(0, BATTERY_LIFE_DAYS - used)

    def change_supply(self, payload: bytes, cmd: GbcsMessage) -> gbz.Reply:
        """GCS32 closes the valve, GCS39 closes and arms it: at once, acknowledged."""
        try:
            change = gc.ChangeSupply.decode(payload)
        except DecodeError as exc:
            return self._refused(gc.CHANGE_SUPPLY, gbz.ZCL_MALFORMED_COMMAND, str(exc))
        wanted = gc.SUPPLY_OF.get(cmd.message_code)
        if change.proposed != wanted:
            return self._refused(
                gc.CHANGE_SUPPLY,
                gbz.ZCL_INVALID_FIELD,
                f"proposed supply {change.proposed} is not its use case's ({wanted}): "
                "send 0 (OFF) in GCS32, 1 (ARMED) in GCS39",
            )
        if change.implementation_time != 0:
            return self._refused(
                gc.CHANGE_SUPPLY,
                gbz.ZCL_INVALID_FIELD,
                "a future implementation time is not served: send 0 (at once)",
            )
        self.meter.register()  # bank the gas that flowed up to the valve closing
        self.meter.armed = change.proposed == gc.SUPPLY_ARMED
        self.meter._valve(False)
        self.meter._save()
        log.info("gsme.supply", extra={"device": self.device.duis, "supply": self.meter.supply})
        return gbz.Reply(
            gc.SUPPLY_STATUS_RESPONSE,
            change.response(self.supply_status()),
            cluster_specific=True,
        )

    # --- configuration writes (6.6, 6.7, 6.8, 6.20.1, 9.1) -------------------------------------
    def publish_conversion_factor(self, payload: bytes, _cmd: GbcsMessage) -> gbz.Reply:
        return self._publication(payload, gc.PUBLISH_CONVERSION_FACTOR, calorific=False)

    def publish_calorific_value(self, payload: bytes, _cmd: GbcsMessage) -> gbz.Reply:
        return self._publication(payload, gc.PUBLISH_CALORIFIC_VALUE, calorific=True)

    def _publication(self, payload: bytes, command: int, calorific: bool) -> gbz.Reply:
        try:
            given = gc.Publication.decode(payload, calorific)
        except DecodeError as exc:
            return self._refused(command, gbz.ZCL_MALFORMED_COMMAND, str(exc))
        c = self.config
        if calorific:
            c.calorific_value, c.calorific_value_trailing_digit = given.value, given.trailing_digit
            c.calorific_value_unit = given.unit or 0
        else:
            c.conversion_factor = given.value
            c.conversion_factor_trailing_digit = given.trailing_digit
        return self._done(command, "gsme.conversion_set", value=given.value)

    def set_flow_threshold(self, payload: bytes, _cmd: GbcsMessage) -> gbz.Reply:
        try:
            flow = gc.FlowThreshold.decode(payload)
        except DecodeError as exc:
            return self._refused(gc.SET_FLOW_THRESHOLD, gbz.ZCL_MALFORMED_COMMAND, str(exc))
        if flow.divisor == 0:
            return self._refused(
                gc.SET_FLOW_THRESHOLD, gbz.ZCL_INVALID_FIELD, "the divisor is 0: send 1 or more"
            )
        c = self.config
        c.uncontrolled_flow_threshold, c.uncontrolled_flow_unit = flow.threshold, flow.unit
        c.uncontrolled_flow_multiplier, c.uncontrolled_flow_divisor = flow.multiplier, flow.divisor
        c.flow_stabilisation_period, c.flow_measurement_period = (
            flow.stabilisation_s,
            flow.measurement_s,
        )
        return self._done(gc.SET_FLOW_THRESHOLD, "gsme.flow_threshold_set", value=flow.threshold)

    def set_supply_status(self, payload: bytes, _cmd: GbcsMessage) -> gbz.Reply:
        try:
            tamper, depletion = gc.parse_set_supply_status(payload)
        except DecodeError as exc:
            return self._refused(gc.SET_SUPPLY_STATUS, gbz.ZCL_MALFORMED_COMMAND, str(exc))
        if tamper > gc.UNCHANGED or depletion > gc.UNCHANGED:
            return self._refused(
                gc.SET_SUPPLY_STATUS, gbz.ZCL_INVALID_FIELD, "a supply state is 0 to 3"
            )
        if tamper != gc.UNCHANGED:
            self.config.supply_tamper_state = tamper
        if depletion != gc.UNCHANGED:
            self.config.supply_depletion_state = depletion
        return self._done(gc.SET_SUPPLY_STATUS, "gsme.supply_states_set", value=tamper)

    def publish_billing_period(self, payload: bytes, _cmd: GbcsMessage) -> gbz.Reply:
        try:
            period = gc.BillingPeriod.decode(payload)
        except DecodeError as exc:
            return self._refused(gc.PUBLISH_BILLING_PERIOD, gbz.ZCL_MALFORMED_COMMAND, str(exc))
        if period.duration == 0:
            return self._refused(
                gc.PUBLISH_BILLING_PERIOD, gbz.ZCL_INVALID_FIELD, "a billing period of 0"
            )
        self.config.billing_period = [
            period.issuer_event_id,
            period.start,
            period.duration,
            period.duration_type,
            period.tariff_type,
        ]
        return self._done(gc.PUBLISH_BILLING_PERIOD, "gsme.billing_period_set", value=period.start)

    def publish_block_period(self, payload: bytes, _cmd: GbcsMessage) -> gbz.Reply:
        """The block period GCS25 sends with the billing period: the same period (one block)."""
        if len(payload) != 19:
            return self._refused(
                gc.PUBLISH_BLOCK_PERIOD, gbz.ZCL_MALFORMED_COMMAND, "Publish Block Period is 19 B"
            )
        return gbz.default_response(gc.PUBLISH_BLOCK_PERIOD, gbz.ZCL_SUCCESS)

    def get_billing_period(self, payload: bytes, _cmd: GbcsMessage) -> gbz.Reply:
        if len(payload) != 10:
            return self._refused(
                gc.GET_BILLING_PERIOD, gbz.ZCL_MALFORMED_COMMAND, "Get Billing Period is 10 B"
            )
        issuer, start, duration, kind, tariff = self.config.billing_period
        period = gc.BillingPeriod(issuer, start, duration, kind, tariff)
        return gbz.Reply(gc.PUBLISH_BILLING_PERIOD, period.encode(), cluster_specific=True)

    def update_site_id(self, payload: bytes, _cmd: GbcsMessage) -> gbz.Reply:
        return self._update(payload, gc.UPDATE_SITE_ID, "site_id")

    def update_cin(self, payload: bytes, _cmd: GbcsMessage) -> gbz.Reply:
        return self._update(payload, gc.UPDATE_CIN, "cin")

    def _update(self, payload: bytes, command: int, name: str) -> gbz.Reply:
        try:
            value = gc.parse_update_string(payload).decode("utf-8")
        except (DecodeError, UnicodeDecodeError) as exc:
            return self._refused(command, gbz.ZCL_MALFORMED_COMMAND, str(exc))
        setattr(self.config, name, value)
        return self._done(command, f"gsme.{name}_set", value=value)

    # --- the alert behaviours (6.2.10) --------------------------------------------------------
    def get_event_configuration(self, payload: bytes, _cmd: GbcsMessage) -> gbz.Reply:
        """GCS20r: each non-critical event's configuration as the meter's event log filters
        (6.22's GCS20 sets them) have it: logged, pushed to the WAN, to the HAN, an alarm."""
        logs = getattr(getattr(self.meter, "alert_gate", None), "__self__", None)
        if len(payload) != 2 or int.from_bytes(payload, "little") != gc.NON_CRITICAL_GROUP:
            return self._refused(
                gc.GET_EVENT_CONFIGURATION, gbz.ZCL_INVALID_FIELD, "ask for 0x81FF"
            )
        if logs is None:
            return self._refused(
                gc.GET_EVENT_CONFIGURATION, gbz.ZCL_FAILURE, "the meter keeps no event log"
            )
        events = [
            (code, sum(bit for bit, what in EVENT_BIT_FILTERS.items() if logs.enabled(what, code)))
            for code in gc.GSME_NON_CRITICAL_EVENTS
        ]
        return gbz.Reply(
            gc.REPORT_EVENT_CONFIGURATION,
            gc.report_event_configuration(events),
            cluster_specific=True,
            frame_control=gbz.ZCL_CLUSTER_SPECIFIC,  # a client's command (0x01), as RTDS has it
        )

    # --- the network data log (14.1) ------------------------------------------------------------
    def start_sampling(self, payload: bytes, _cmd: GbcsMessage) -> gbz.Reply:
        try:
            start, kind, interval, count = gc.parse_start_sampling(payload)
        except DecodeError as exc:
            return self._no_sample(str(exc))
        if kind != gc.SAMPLE_TYPE or interval == 0 or count == 0:
            return self._no_sample("send consumption samples, an interval and a count above 0")
        c = self.config
        c.sample_id = NETWORK_DATA_LOG  # the log's own ID (RTDS's answer), begun again
        c.sampling = [start or int(time.time()), interval, count]
        self.save()
        log.info("gsme.sampling_started", extra={"device": self.device.duis, "sample": c.sample_id})
        return gbz.Reply(gc.START_SAMPLING_RESPONSE, c.sample_id.to_bytes(2, "little"), True)

    def _no_sample(self, reason: str) -> gbz.Reply:
        log.warning("gsme.sampling_refused", extra={"device": self.device.duis, "reason": reason})
        return gbz.Reply(gc.START_SAMPLING_RESPONSE, gc.NO_SAMPLE.to_bytes(2, "little"), True)

    def payment_control(self) -> int:
        prepayment = bool(self.meter.credit.prepayment)
        return (PAYMENT_CONTROL & ~PREPAYMENT_ENABLED) | (PREPAYMENT_ENABLED if prepayment else 0)

    # --- answers ------------------------------------------------------------------------------
    def _done(self, command: int, event: str, value: Any) -> gbz.Reply:
        self.save()
        log.info(event, extra={"device": self.device.duis, "value": value})
        return gbz.default_response(command, gbz.ZCL_SUCCESS)

    def _refused(self, command: int, status: int, reason: str) -> gbz.Reply:
        log.warning(
            "gsme.config_refused",
            extra={"device": self.device.duis, "command": f"{command:02X}", "reason": reason},
        )
        return gbz.default_response(command, status)

    def state(self) -> dict[str, Any]:
        return asdict(self.config)


def _field(config: GasConfiguration, name: str) -> Any:
    return lambda: int(getattr(config, name))


def serve_gas_config(meter: Any) -> GasConfig:
    """Serve the GSME's valve commands and configuration on ``meter``'s ZCL server."""
    path = meter.config.state_dir / "gas_config.json"
    served = GasConfig(meter, path, GasConfiguration.load(path))
    served.serve(meter.zcl)
    return served
