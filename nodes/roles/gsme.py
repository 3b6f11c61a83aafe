"""The gas meter (GSME): a sleepy end device whose register advances with the gas flow, with a
valve on a GPIO output, answering GBZ use cases from its ZCL attributes and commands.

It wakes on a schedule, reports its register to the GPF's Metering mirror on the CHF
(where the IHD reads gas) with the rest of what the GPF mirrors to answer the DCC's reads
for it (:mod:`nodes.roles.gpf_mirror`), and pulls the GBCS the CHF queued for it with GET
while the CHF says more is waiting; then it sleeps again. Commands reach it only so: the
DCC's (the gas registers GCS13a, the meter balance GCS60, a top-up CS01b, emergency credit
GCS06, its debt GCS04 and prepayment registers GCS14, :mod:`nodes.roles.gas_prepay`) as
the PPMID's (a UTRN keyed in, PCS01; emergency credit, PCS02), whose answers the CHF
hands back to the PPMID.

It is a prepayment meter: its balance (millipence) falls with the gas that flows while the
valve is open, at ``behaviour.price_p_kwh``, the volume turned into energy at
:data:`KWH_PER_M3`. What the balance lost to consumption adds up in the Metering cluster's
BillToDateDelivered (the bill since the meter was installed; the rig has no billing
period), so balance plus bill moves only with top-ups and is exact whenever it is read. A
UTRN is checked and applied once (:mod:`nodes.roles.utrn_entry`); one keyed in at the
PPMID counts towards the local-entry lockout the ESME has too
(:class:`~nodes.roles.prepay_han.LocalEntryLock`). Its alerts are GBZ generic alerts, sent
while it is awake (a sleeping device hears no acknowledgement).

Firmware (11.1): at each wake it asks the hub's OTA Upgrade server for a newer image and
fetches at most :data:`OTA_BLOCKS_PER_WAKE` blocks of it, so a transfer spreads over
wakes and resumes where the last one stopped; a verified image is held pending (0x8F72),
a refused one discarded (0x8F1C), the alert sent in the same wake.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Iterable
from typing import Any

from nodes.gbcs.credentials import resume_credentials
from nodes.gbcs.zcl_server import ZclServer
from nodes.han import ota as han_ota  # a module: nodes.han.ota imports nodes.roles
from nodes.han.app import GPF_ENDPOINT
from nodes.han.tunnel import TunnelError
from nodes.radio import DeliveryError
from nodes.roles import gpf_mirror
from nodes.roles.clock import serve_clock
from nodes.roles.credit import (
    Applied,
    Credit,
    EmergencyCreditRefused,
    TopUpRefused,
    meter_credit,
)
from nodes.roles.customer import serve_customer
from nodes.roles.event_logs import serve_event_logs
from nodes.roles.firmware import manufacturer_key, serve_firmware
from nodes.roles.gas_billing import serve_gas_billing
from nodes.roles.gas_config import serve_gas_config
from nodes.roles.gas_logs import serve_gas_logs
from nodes.roles.gas_prepay import GasPrepay
from nodes.roles.gas_reads import GasReads, serve_gas_reads
from nodes.roles.gas_tariff import serve_gas_tariff
from nodes.roles.join_log import open_join_log
from nodes.roles.prepay_han import RESULT_OF_ALERT, LocalEntryLock
from nodes.roles.prepay_logs import DailyReadLog
from nodes.roles.tunnelled import TunnelledDevice
from nodes.roles.utrn_entry import UtrnEntry, generic_alert
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import gbz
from rig.protocol.gbcs.catalogue import (
    BELOW_DISABLEMENT_THRESHOLD,
    CATALOGUE,
    FIRMWARE_VERIFICATION_FAILED,
    FIRMWARE_VERIFIED,
    GAS_REGISTERS,
    SUPPLY_ARMED,
    SUPPLY_INTERRUPTED,
    UTRN_LOCKED_OUT,
)
from rig.protocol.gbcs.catalogue_gas import BILL_TO_DATE, CREDIT_REMAINING
from rig.protocol.gbcs.cosem import MILLIPENCE
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.zigbee import se, zcl
from rig.protocol.zigbee.se import TUNNEL_MESSAGE_PENDING, TopUpResult
from rig.runtime.files import read_json, write_json

log = logging.getLogger("nodes.han")
M3_UNIT = 0x01
DIVISOR = 1000  # the register counts dm3
# Energy in a cubic metre of gas as GB bills it (the Gas (Calculation of Thermal Energy)
# Regulations 1996: m3 x volume correction 1.02264 x calorific value / 3.6), with a typical
# calorific value of 39.4 MJ/m3: 1.02264 x 39.4 / 3.6 = 11.19, the customary 11.2 kWh/m3
KWH_PER_M3 = 11.2
OTA_BLOCKS_PER_WAKE = 64  # image blocks fetched in one wake at most
OTA_BUDGET_S = 5.0  # and for at most this long


class GasMeter(TunnelledDevice):
    device_type = "GSME"
    router = False
    rx_on_when_idle = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wake_every = self.behaviour.wake_interval_s
        self.flow_m3h = self.behaviour.flow_m3h
        self.meter_path = self.config.state_dir / "meter.json"
        saved = read_json(self.meter_path, {}) or {}
        self._dm3 = float(saved.get("volume_dm3", self.behaviour.initial_dm3))
        self.gas_reads: GasReads | None = None  # fed by each reading of its register
        self.bill_millipence = int(saved.get("bill_to_date_millipence", 0))
        self.valve_open = bool(saved.get("valve_open", True))
        self.armed = bool(saved.get("armed", False))  # closed for want of credit, now armed
        self._at = time.monotonic()
        self.wakes = 0
        self.pulled = 0
        self.last_wake: float | None = None
        self.alerts_waiting: list[tuple[int, Eui64, bytes]] = []  # for the next wake
        self.zcl = ZclServer()
        values = {
            "divisor": lambda: DIVISOR,
            "multiplier": lambda: 1,
            "unit_of_measure": lambda: M3_UNIT,
            "current_summation_delivered": self.register,
        }
        for attribute in GAS_REGISTERS:
            self.zcl.attribute(gbz.METERING, attribute, values[attribute.name])
        self.firmware = serve_firmware(self)  # its running version (GCS38)
        self.join_log = open_join_log(self.config)  # the devices it has joined (8.7, 8.8, CS07)
        self.ota: han_ota.OtaClient | None = None  # its OTA Upgrade client (11.1), run while awake
        self.ota_outcome: str | None = None  # what the last wake's update came to
        key = manufacturer_key(self)
        if key is not None and self.gbcs is not None:
            self.ota = han_ota.OtaClient(self.app, self.firmware, key, on_event=self._on_ota_event)
        serve_clock(self)  # its clock (8.1.1 commissioning)
        self.credit: Credit | None = None
        self.utrn_entry: UtrnEntry | None = None
        self.prepay_daily: DailyReadLog | None = None
        self.local_entry = LocalEntryLock.load(
            self.config.state_dir / "local_entry.json", self.behaviour.utrn_lockout_s
        )
        if self.gbcs is not None:
            self.credit = meter_credit(
                self.config.state_dir, self.config.eui, self.gbcs.ka, self.behaviour
            )
            self.utrn_entry = UtrnEntry(
                self.config.eui, self.credit, self.gbcs, self._raise, self.register
            )
            self.zcl.attribute(gbz.METERING, BILL_TO_DATE, lambda: max(0, self.bill_millipence))
            self.zcl.attribute(gbz.PREPAYMENT, CREDIT_REMAINING, lambda: self._credit.millipence)
            self.zcl.command(gbz.PREPAYMENT, gbz.CONSUMER_TOP_UP, self._consumer_top_up)
            self.zcl.command(
                gbz.PREPAYMENT, gbz.SELECT_AVAILABLE_EMERGENCY_CREDIT, self._emergency_credit
            )
            GasPrepay(self.config.eui, self.credit, self).serve(self.zcl)  # GCS04, 05, 14
            self.prepay_daily = serve_gas_logs(self)  # the prepayment logs (GCS16b, GCS15e)
        self.gas_reads = serve_gas_reads(self)  # its registers' logs and profiles (family 4)
        serve_event_logs(self)  # its event logs, its alert configuration (6.13, 6.22)
        serve_gas_tariff(self)
        serve_gas_config(self)
        serve_gas_billing(self)  # its billing data logs, network data log (4.4.2-4.4.4, 4.10)
        serve_customer(self)  # the consumer's message, supplier, PIN, event log (3.x)

    async def start(self) -> None:
        self._valve(self.valve_open)  # as it was before a power cut (open: supply)
        loop = asyncio.get_running_loop()  # gpiozero calls back from its own thread on a Pi
        self.wiring.on_press(
            "button.restore", lambda: loop.call_soon_threadsafe(self.restore_pressed)
        )
        await super().start()
        resume_credentials(self)  # a future-dated CS02b (6.15.1) held across the power cut

    def _valve(self, open_: bool) -> None:
        self.valve_open = open_
        self.wiring.set("valve", open_)
        self.wiring.set("led.valve", open_)

    @property
    def supply(self) -> str:
        return "enabled" if self.valve_open else "armed" if self.armed else "disabled"

    def restore_pressed(self) -> None:
        """The consumer's restore button: an armed valve opens."""
        if not self.armed:
            log.info("gsme.restore_ignored", extra={"device": self.config.eui.duis})
            return
        self.register()  # bank what flowed (nothing: the valve is closed)
        self.armed = False
        self._valve(True)
        self._save()
        log.info("gsme.supply_restored", extra={"device": self.config.eui.duis})

    async def on_joined(self) -> None:
        await self.radio.wake()  # awake (polling) until its tunnel is open
        await super().on_joined()

    @property
    def _credit(self) -> Credit:
        assert self.credit is not None  # served only when the meter has GBCS keys
        return self.credit

    def register(self) -> int:
        """The consumption register (dm3), advanced to now; what the gas cost comes off the
        balance and onto the bill, and the time debt recovered meanwhile off the balance."""
        now = time.monotonic()
        seconds = now - self._at
        m3 = (self.flow_m3h if self.valve_open else 0.0) * seconds / 3600
        self._dm3 += m3 * 1000
        self._at = now
        if self.credit is not None:
            before, debt = self.credit.millipence, self.credit.debt.total
            codes = self.credit.spend(m3 * KWH_PER_M3 * 1000, self.behaviour.price_p_kwh, seconds)
            recovered = debt - self.credit.debt.total
            self.bill_millipence += before - self.credit.millipence - recovered
            self._on_credit(codes)
        if self.gas_reads is not None:
            self.gas_reads.observe(int(self._dm3))
        return int(self._dm3)

    def _save(self) -> None:
        write_json(
            self.meter_path,
            {
                "volume_dm3": self._dm3,
                "bill_to_date_millipence": self.bill_millipence,
                "valve_open": self.valve_open,
                "armed": self.armed,
            },
        )
        if self.credit is not None:
            self.credit.save()

    async def handle_gbcs(self, message: bytes) -> bytes | None:
        self.register()  # a command sees the balance and the bill as they are now
        return await super().handle_gbcs(message)

    # --- prepayment ---------------------------------------------------------------------------
    def apply_utrn(
        self, text: str, supplier: Eui64 | None = None, *, local: bool = False
    ) -> Applied:
        """Check a UTRN and apply it once (see :meth:`UtrnEntry.apply`)."""
        assert self.utrn_entry is not None
        applied = self.utrn_entry.apply(text, supplier, local=local)
        self._save()  # the bill with the balance the top-up saved
        self._on_credit(applied.alerts)
        return applied

    def activate_emergency_credit(self, source: str) -> None:
        """Emergency credit, asked for by ``source`` (the DCC, the PPMID).
        EmergencyCreditRefused when none is on offer."""
        assert self.utrn_entry is not None  # served only when the meter has GBCS keys
        self._on_credit(self.utrn_entry.emergency_credit(source))

    def _on_credit(self, codes: Iterable[int]) -> None:
        """What the credit engine says: each alert raised to the supplier; the valve closed
        when the credit is exhausted, armed when it comes back (the consumer opens it)."""
        for code in codes:
            self._raise(code)
            if code == BELOW_DISABLEMENT_THRESHOLD and self.valve_open:
                self._valve(False)
                self.armed = False
                self._raise(SUPPLY_INTERRUPTED)
                log.warning("prepay.supply_interrupted", extra={"device": self.config.eui.duis})
            elif code == SUPPLY_ARMED and not self.valve_open:
                self.armed = True
                log.info("prepay.supply_armed", extra={"device": self.config.eui.duis})
        self._save()

    def _consumer_top_up(self, payload: bytes, cmd: GbcsMessage) -> gbz.Reply:
        """CS01b from the supplier, PCS01 from the PPMID (a local entry, for the responsible
        supplier): the UTRN applied or refused, as a Consumer Top Up Response."""
        origin, code = gbz.parse_consumer_top_up(payload)
        local = CATALOGUE.of(cmd).sent_by is not None
        supplier = None if local else Eui64(cmd.header.originator)
        now = time.time()
        if local and self.local_entry.locked(now):
            log.warning(
                "prepay.local_entry_locked",
                extra={
                    "device": self.config.eui.duis,
                    "locked_for_s": round(self.local_entry.locked_until - now, 1),
                },
            )
            return gbz.TopUpResponse.refused(TopUpResult.REJECTED_KEYPAD_LOCK, origin).reply()
        try:
            applied = self.apply_utrn(code.decode("ascii", "replace"), supplier, local=local)
        except TopUpRefused as exc:  # logged, and its alert is on its way
            if local and self.local_entry.refused(now):
                log.warning("prepay.local_entry_locked_out", extra={"device": self.config.eui.duis})
                self._raise(UTRN_LOCKED_OUT)
            result = RESULT_OF_ALERT.get(exc.alert_code, TopUpResult.REJECTED_ERROR)
            return gbz.TopUpResponse.refused(result, origin).reply()
        if local:
            self.local_entry.accepted()
        return gbz.TopUpResponse(
            TopUpResult.ACCEPTED, applied.pence * MILLIPENCE, origin, applied.balance_millipence
        ).reply()

    def _emergency_credit(self, _payload: bytes, cmd: GbcsMessage) -> gbz.Reply:
        """GCS06 from the supplier, PCS02 from the PPMID: success, or FAILURE (GBCS's
        mapping table) when the meter offers no emergency credit now."""
        source = CATALOGUE.of(cmd).sent_by or "DCC"
        try:
            self.activate_emergency_credit(source)
        except EmergencyCreditRefused as exc:
            log.warning(
                "prepay.emergency_credit_refused",
                extra={"device": self.config.eui.duis, "source": source, "reason": str(exc)},
            )
            return gbz.default_response(gbz.SELECT_AVAILABLE_EMERGENCY_CREDIT, gbz.ZCL_FAILURE)
        return gbz.default_response(gbz.SELECT_AVAILABLE_EMERGENCY_CREDIT, gbz.ZCL_SUCCESS)

    def _raise(self, code: int, recipient: Eui64 | None = None) -> None:
        """A GBZ generic alert (GCA for 0x8Fxx codes, else GNCA) to ``recipient`` (by
        default the responsible supplier), sent while the meter is awake: now, when raised
        during a wake, or on its next one (:meth:`send_alerts`)."""
        assert self.gbcs is not None
        extra = {"device": self.config.eui.duis, "alert_code": f"{code:04X}"}
        recipient = recipient or self.gbcs.supplier
        if recipient is None:
            log.warning("gbcs.alert_unsent", extra={**extra, "reason": "no supplier"})
            return
        try:
            alert = self.gbcs.gbz_alert(
                generic_alert(code), dt.datetime.now(dt.UTC), code=code, recipient=recipient
            )
        except ValueError as exc:  # a code the generic alerts do not declare yet
            log.warning("gbcs.alert_unsent", extra={**extra, "reason": str(exc)})
            return
        self.alerts_waiting.append((code, recipient, alert))

    async def send_alerts(self) -> int:
        """Send the alerts raised since the last wake, while awake (a sleeping device hears
        no acknowledgement); what cannot go now waits for the next wake. How many went."""
        sent = 0
        while self.alerts_waiting and self.tunnel_ready.is_set():
            code, recipient, alert = self.alerts_waiting[0]
            extra = {"device": self.config.eui.duis, "alert_code": f"{code:04X}"}
            try:
                await self.send_up(alert)
            except (DeliveryError, TimeoutError, TunnelError) as exc:
                log.warning("gbcs.alert_delayed", extra={**extra, "reason": str(exc)})
                break
            self.alerts_waiting.pop(0)
            sent += 1
            log.info("gbcs.alert_sent", extra={**extra, "to": recipient.duis})
        return sent

    # --- firmware over the HAN (11.1) ------------------------------------------------------------
    def _on_ota_event(self, code: int, detail: dict[str, Any]) -> None:
        """The image verified (0x8F72) or not (0x8F1C): the supplier hears of it."""
        if code in (FIRMWARE_VERIFIED, FIRMWARE_VERIFICATION_FAILED):
            self._raise(code)

    async def update_firmware(self) -> None:
        """While awake: fetch what the hub has for it, within this wake's block budget."""
        if self.ota is None:
            return
        result = await self.ota.update(
            self.chf, budget_s=OTA_BUDGET_S, max_blocks=OTA_BLOCKS_PER_WAKE
        )
        self.ota_outcome = result.outcome.value
        if result.outcome is not han_ota.Outcome.NO_IMAGE:
            log.info(
                "firmware.update",
                extra={
                    "device": self.config.eui.duis,
                    "outcome": result.outcome.value,
                    "offset": result.offset,
                    "bytes": result.size,
                },
            )
        if result.outcome in (han_ota.Outcome.VERIFIED, han_ota.Outcome.REFUSED):
            await self.send_alerts()

    # --- the wake cycle -------------------------------------------------------------------------
    async def run(self) -> None:
        while True:
            await self.radio.sleep()
            await asyncio.sleep(self.wake_every)
            await self.wake_cycle()

    async def wake_cycle(self) -> None:
        """Wake: report to the GPF mirror; pull GBCS while the CHF has some; send the alerts
        raised; fetch firmware the hub has for it; sleep again."""
        await self.radio.wake()
        self.wakes += 1
        self.last_wake = time.time()
        try:
            await self._report_mirror()
            tsn = self.app.next_tsn()
            # its register with the rest of its Metering attributes the GPF mirrors
            report = zcl.report_attributes(
                se.Metering.cluster_id, tsn, {"metering_device_type": 0x80 | 1}
            ) + gpf_mirror.report_records(self.zcl, gbz.METERING)
            answer = await self.app.request(
                self.chf, se.Metering.cluster_id, report, tsn, dst_ep=GPF_ENDPOINT
            )
            flags = (
                int(answer.field("notification_flags")[0])
                if answer and answer.name == "mirror_report_attribute_response"
                else 0
            )
            if flags & TUNNEL_MESSAGE_PENDING:
                got = await self.tunnel.pull()
                self.pulled += got
                log.info(
                    "han.gbcs_pull_done", extra={"device": self.config.eui.duis, "messages": got}
                )
            await self.send_alerts()
            await self.update_firmware()
        except (DeliveryError, TimeoutError, TunnelError) as exc:
            log.warning(
                "han.wake_failed", extra={"device": self.config.eui.duis, "error": str(exc)}
            )
        finally:
            if self.prepay_daily is not None:
                self.prepay_daily.tick()  # the day's snapshot on its first wake
            self._save()

    async def _report_mirror(self) -> None:
        """Report to the GPF what it mirrors of the clusters other than Metering (the
        prepayment registers, the currency): one Report Attributes each, no answer asked."""
        for cluster in gpf_mirror.mirrored():
            records = (
                b"" if cluster == gbz.METERING else gpf_mirror.report_records(self.zcl, cluster)
            )
            if not records:
                continue
            tsn = self.app.next_tsn()
            body = gpf_mirror.report(tsn, records)
            await self.app.request(self.chf, cluster, body, tsn, dst_ep=GPF_ENDPOINT, wait=False)

    def detail(self) -> dict[str, Any]:
        valve = self.wiring.output("valve")
        state = None if valve is None else ("open" if valve.value else "closed")
        credit = None
        if self.credit is not None:
            credit = {
                **self.credit.state(),
                "balance_millipence": self.credit.millipence,
                "bill_to_date_millipence": self.bill_millipence,
                "debt_millipence": self.credit.debt.registers(),
                "per_payment_bp": self.credit.debt.per_payment_bp,
            }
        return {
            **super().detail(),
            "valve": state,
            "supply": self.supply,
            "wakes": self.wakes,
            "pulled": self.pulled,
            "last_wake": self.last_wake,
            "volume_dm3": int(self._dm3),
            "balance_pence": None if self.credit is None else self.credit.pence,
            "prepayment": credit,
            "local_entry": self.local_entry.state(time.time()),
            "alerts_waiting": len(self.alerts_waiting),
            "firmware": self.firmware.state(),
            "ota": None
            if self.ota is None
            else {**self.ota.detail(), "last_outcome": self.ota_outcome},
            "gbcs": self.gbcs_detail(),
        }
