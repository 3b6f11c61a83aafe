"""The electricity meter (ESME): a HAN router whose registers advance with its load, with a
load switch on a GPIO relay, answering DLMS use cases from its COSEM objects.

On the HAN it serves live Metering (the registers), Prepayment and Price to the IHD and
PPMID. Over GBCS its COSEM table holds the import registers (read protected, encrypted for
the requester), the disconnect control's state and the disconnect script table whose
scripts enable, disable or arm the supply. The switch state, the registers and the time
it was last alive (saved every ``KEEP_ALIVE_S``) survive a power cut; when power comes
back it raises ECS80 "supply outage restored" to its network operator, with alert code
0x8F35 after an outage under 3 minutes and 0x8F36 ("Outage >= 3 minutes") after a longer
one, the outage running from when it was last alive to now.

Firmware (11.1): told by the hub's Image Notify, and once after its tunnel opens, it asks
the hub's OTA Upgrade server for a newer image, fetches it (resumably) and verifies the
manufacturer's signature; the image is then held pending (11.3 activates it) and 0x8F72
goes to its supplier, or it is refused, the running version unchanged, and 0x8F1C goes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Iterable
from typing import Any

from nodes.gbcs.activation import resume_activation
from nodes.gbcs.cosem_server import CosemError, CosemServer, Invocation, Result
from nodes.gbcs.credentials import resume_credentials
from nodes.han import ota as han_ota  # a module: nodes.han.ota imports nodes.roles
from nodes.han.app import DEVICE_ENDPOINT
from nodes.roles.aux_loads import serve_aux_loads
from nodes.roles.billing import serve_billing
from nodes.roles.clock import serve_clock
from nodes.roles.credit import (
    NOT_AUTHENTIC,
    Credit,
    EmergencyCreditRefused,
    TopUpRefused,
    meter_credit,
)
from nodes.roles.customer import serve_customer
from nodes.roles.device_config import serve_device_config
from nodes.roles.esme_config import serve_esme_config
from nodes.roles.event_logs import serve_event_logs
from nodes.roles.firmware import manufacturer_key, serve_firmware
from nodes.roles.join_log import open_join_log
from nodes.roles.prepay_han import serve_prepayment
from nodes.roles.prepay_logs import DailyReadLog, serve_prepay_logs
from nodes.roles.prepay_objects import serve_debt, serve_prepay_config
from nodes.roles.reads import serve_reads
from nodes.roles.tariff import serve_tariff
from nodes.roles.tunnelled import TunnelledDevice
from nodes.roles.utrn_entry import UtrnEntry, generic_alert
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import alerts, cosem, dlms
from rig.protocol.gbcs.catalogue import (
    BELOW_DISABLEMENT_THRESHOLD,
    ECS80,
    FIRMWARE_ACTIVATED,
    FIRMWARE_VERIFICATION_FAILED,
    FIRMWARE_VERIFIED,
    SUPPLY_ARMED,
    SUPPLY_INTERRUPTED,
)
from rig.protocol.gbcs.cosem import SupplyState
from rig.protocol.gbcs.dlms import Data, DataType
from rig.protocol.zigbee import se
from rig.runtime.files import read_json, write_json

log = logging.getLogger("nodes.han")
KWH_UNIT = 0x00
KEEP_ALIVE_S = 2.0
# Metering's SupplyStatus (SE 1.4 attribute 0x0014) for the load switch's state
SUPPLY_STATUS = {SupplyState.DISABLED: 0, SupplyState.ARMED: 1, SupplyState.ENABLED: 2}
CREDIT_TICK_S = 0.5  # how often consumption comes off the credit (and the credit is checked)


class ElectricityMeter(TunnelledDevice):
    device_type = "ESME"
    router = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.load_w = self.behaviour.load_w
        self.meter_path = self.config.state_dir / "meter.json"
        saved = read_json(self.meter_path, {}) or {}
        self._wh = float(saved.get("import_wh", self.behaviour.initial_wh))
        self.supply = SupplyState(int(saved.get("supply", SupplyState.ENABLED)))
        self.last_alive: float | None = saved.get("alive")
        self._at = time.monotonic()
        self.cosem = CosemServer()
        self.cosem.attribute(cosem.IMPORT_REGISTERS, self._import_registers)
        self.cosem.attribute(
            cosem.DISCONNECT_CONTROL_STATE, lambda: Data(DataType.ENUM, int(self.supply))
        )
        self.cosem.method(cosem.DISCONNECT_SCRIPTS, self._run_script)
        self.firmware = serve_firmware(self)  # its running version (ECS52)
        self.ota: han_ota.OtaClient | None = None  # its OTA Upgrade client (11.1)
        self._updating = asyncio.Lock()
        key = manufacturer_key(self)
        if key is not None and self.gbcs is not None:
            self.ota = han_ota.OtaClient(self.app, self.firmware, key, on_event=self._on_ota_event)
            self.ota.on_notify(lambda server: self.spawn(self.update_firmware(), "firmware"))
        serve_clock(self)  # its clock (8.1.1 commissioning)
        self.join_log = open_join_log(self.config)  # the devices it has joined (8.7, 8.8, CS07)
        self.credit: Credit | None = None
        self.prepay_daily: DailyReadLog | None = None
        if self.gbcs is not None:
            self.credit = meter_credit(
                self.config.state_dir, self.config.eui, self.gbcs.ka, self.behaviour
            )
            self.cosem.method(cosem.TOKEN_GATEWAY, self._enter_token)
            self.cosem.method(cosem.EMERGENCY_CREDIT, self._invoke_emergency_credit)
            self.cosem.attribute(cosem.METER_BALANCE, self._meter_balance)
            serve_debt(self.cosem, self.credit)  # the debt registers (ECS07, ECS26a)
            serve_prepay_config(self.cosem, self.credit)  # ECS08 writes it, ECS26a reads it
            # prepayment registers and logs (ECS19, ECS21b, ECS20d); the daily read log
            self.prepay_daily = serve_prepay_logs(self)
        # its registers' logs and profiles (family 4), brought up to date when read: a tick of
        # their own reading the import register every second (advancing the credit with it)
        # left the PPMID's and IHD's HAN reads unanswered for 35 s after a local top-up
        serve_reads(self)
        serve_event_logs(self)  # its event logs, its alert configuration (6.13, 6.22)
        serve_tariff(self)
        serve_device_config(self)
        serve_esme_config(self)
        serve_aux_loads(self)
        serve_billing(self)
        serve_customer(self)  # the consumer's message, tenancy, supplier, PIN (3.x)
        self.app.serve(
            DEVICE_ENDPOINT, se.Basic.cluster_id, lambda: {"zcl_version": 3, "power_source": 1}
        )
        self.app.serve(DEVICE_ENDPOINT, se.Metering.cluster_id, self.metering)
        self.app.serve(
            DEVICE_ENDPOINT,
            se.Prepayment.cluster_id,
            self._prepayment_attributes,
        )
        self.app.serve(
            DEVICE_ENDPOINT,
            se.Price.cluster_id,
            lambda: {
                "tier1_block1_price": round(self.behaviour.price_p_kwh * 100),
                "standing_charge": round(self.behaviour.standing_charge_p_day * 100),
                "commodity_type": 0,
            },
        )
        self.local_entry = serve_prepayment(self)  # Consumer Top Up, emergency credit (HAN)

    async def start(self) -> None:
        self._drive(self.supply)  # the load switch comes back as it was before the power cut
        loop = asyncio.get_running_loop()  # gpiozero calls back from its own thread on a Pi
        self.wiring.on_press(
            "button.restore", lambda: loop.call_soon_threadsafe(self.restore_pressed)
        )
        await super().start()
        self.spawn(self._keep_alive(), "keep-alive")
        resume_activation(self)  # a future-dated 11.3 held across the power cut
        resume_credentials(self)  # and a future-dated CS02b (6.15.1)

    # --- the COSEM objects ------------------------------------------------------------------
    def _import_registers(self) -> Data:
        self.metering()
        wh = int(self._wh)
        return Data(
            DataType.STRUCTURE,
            [*cosem.value_with_unit(wh, cosem.WH), *cosem.value_with_unit(wh // 10, cosem.VARH)],
        )

    def _run_script(self, argument: Data, _invocation: Invocation) -> None:
        try:
            script = cosem.DisconnectScript(int(argument.value))
        except (TypeError, ValueError):
            raise CosemError(
                Result.TYPE_UNMATCHED, f"{argument.value!r} is not a disconnect script"
            ) from None
        state = cosem.SCRIPT_OUTCOME[script]
        self._drive(state)
        log.info(
            "esme.supply", extra={"device": self.config.eui.duis, "supply": state.name.lower()}
        )

    def _meter_balance(self) -> Data:
        assert self.credit is not None
        self.metering()  # what was used up to now comes off first
        return Data(DataType.DOUBLE_LONG, self.credit.millipence)

    def _enter_token(self, argument: Data, invocation: Invocation) -> None:
        """CS01a: a UTRN entered into the token gateway, checked, then applied (once)."""
        supplier = Eui64(invocation.command.header.originator)
        try:
            if not isinstance(argument.value, bytes):
                raise TopUpRefused(NOT_AUTHENTIC, "the token is not an octet-string")
            self.apply_utrn(argument.value.decode("ascii", "replace"), supplier)
        except TopUpRefused as exc:
            raise CosemError(Result.HARDWARE_FAULT, str(exc)) from None

    def apply_utrn(self, text: str, supplier: Eui64 | None = None, *, local: bool = False):
        """Check a UTRN and apply it once, from ``supplier`` (CS01a) or keyed in locally
        (``local``: at the PPMID or the meter, for the responsible supplier). A refusal
        raises :class:`TopUpRefused` after its alert is on its way to the supplier
        (:class:`~nodes.roles.utrn_entry.UtrnEntry`, shared with the GSME)."""
        applied = self._utrn_entry().apply(text, supplier, local=local)
        self._on_credit(applied.alerts)
        return applied

    def _raise_soon(self, code: int, recipient: Eui64 | None = None) -> None:
        self.spawn(self._raise(code, recipient), "top-up alert")

    def _invoke_emergency_credit(self, _argument: Data, _invocation: Invocation) -> None:
        """ECS09: activate emergency credit (success also when it already is active)."""
        try:
            self.activate_emergency_credit("DCC")
        except EmergencyCreditRefused as exc:
            raise CosemError(Result.OTHER_REASON, str(exc)) from None

    def activate_emergency_credit(self, source: str) -> None:
        """Emergency credit, asked for by ``source`` (the DCC, the PPMID, the meter's
        button). EmergencyCreditRefused when none is on offer."""
        self._on_credit(self._utrn_entry().emergency_credit(source))

    def _utrn_entry(self) -> UtrnEntry:
        assert self.credit is not None and self.gbcs is not None
        return UtrnEntry(self.config.eui, self.credit, self.gbcs, self._raise_soon, self.metering)

    def _on_credit(self, codes: Iterable[int]) -> None:
        """What the credit engine says, done: each alert raised to the supplier; the supply
        interrupted when the credit is exhausted, armed when it comes back."""
        for code in codes:
            self.spawn(self._raise(code), f"prepayment alert {code:04X}")
            if code == BELOW_DISABLEMENT_THRESHOLD and self.supply is not SupplyState.DISABLED:
                self._drive(SupplyState.DISABLED)
                self.spawn(self._raise(SUPPLY_INTERRUPTED), "supply interrupted")
                log.warning("prepay.supply_interrupted", extra={"device": self.config.eui.duis})
            elif code == SUPPLY_ARMED and self.supply is SupplyState.DISABLED:
                self._drive(SupplyState.ARMED)
                log.info("prepay.supply_armed", extra={"device": self.config.eui.duis})

    def restore_pressed(self) -> None:
        """The consumer's restore button: an armed supply is enabled (the relay closes)."""
        if self.supply is not SupplyState.ARMED:
            log.info(
                "esme.restore_ignored",
                extra={"device": self.config.eui.duis, "supply": self.supply.name.lower()},
            )
            return
        self._drive(SupplyState.ENABLED)
        log.info("esme.supply_restored", extra={"device": self.config.eui.duis})

    def _prepayment_attributes(self) -> dict[str, Any]:
        """The Prepayment cluster as the PPMID and IHD read it (SE 1.4), in pence."""
        if self.credit is None:
            return {"credit_remaining": 0, "credit_status": 0x01}
        self.metering()
        return {
            "credit_remaining": self.credit.pence,
            "emergency_credit_remaining": self.credit.emergency_credit_millipence
            // cosem.MILLIPENCE,
            "credit_status": self.credit.status_bits(),
            "accumulated_debt": self.credit.debt.total // cosem.MILLIPENCE,
        }

    async def _raise(self, code: int, recipient: Eui64 | None = None) -> None:
        """A generic alert (alert code and date-time) to ``recipient`` (by default the
        responsible supplier): critical (GCA, signed) for 0x8Fxx codes, else GNCA."""
        assert self.gbcs is not None
        recipient = recipient or self.gbcs.supplier
        if recipient is None:
            log.warning("gbcs.alert_unsent", extra={"alert_code": f"{code:04X}"})
            return
        uc = generic_alert(code)
        now = dlms.date_time(dt.datetime.now(dt.UTC))
        alert = self.gbcs.alert(
            uc, [Data(DataType.OCTET_STRING, now)], code=code, recipient=recipient
        )
        await self.send_up(alert)
        log.info(
            "gbcs.alert_sent",
            extra={
                "device": self.config.eui.duis,
                "alert_code": f"{code:04X}",
                "to": recipient.duis,
            },
        )

    # --- firmware over the HAN (11.1) ------------------------------------------------------------
    async def update_firmware(self) -> han_ota.Outcome | None:
        """Ask the hub for a newer image and fetch it, taking a transfer the HAN broke off
        up again a few times; one update at a time. None without an OTA client."""
        if self.ota is None:
            return None
        async with self._updating:
            result = await self.ota.update_resuming(self.chf)
        return result.outcome

    def firmware_activated(self) -> None:
        """11.3 made the pending image the running one: the supplier hears of it (0x8F43)."""
        self.spawn(self._raise(FIRMWARE_ACTIVATED), "firmware alert 8F43")

    def _on_ota_event(self, code: int, detail: dict[str, Any]) -> None:
        """The image verified (0x8F72) or not (0x8F1C): the supplier hears of it."""
        if code in (FIRMWARE_VERIFIED, FIRMWARE_VERIFICATION_FAILED):
            self.spawn(self._raise(code), f"firmware alert {code:04X}")

    # --- the load switch and the registers ----------------------------------------------------
    def _drive(self, state: SupplyState) -> None:
        self.metering()  # bank the energy used up to the switch
        self.supply = state
        self.wiring.set("relay", state is SupplyState.ENABLED)  # closed: supply enabled
        self.wiring.set("led.supply", state is SupplyState.ENABLED)
        self._save()

    def _save(self) -> None:
        write_json(
            self.meter_path,
            {"import_wh": self._wh, "supply": int(self.supply), "alive": time.time()},
        )
        if self.credit is not None:
            self.credit.save()

    async def _keep_alive(self) -> None:
        """The meter's tick: the credit is checked every ``CREDIT_TICK_S``; the state is
        saved every ``KEEP_ALIVE_S``."""
        ticks = round(KEEP_ALIVE_S / CREDIT_TICK_S)
        while True:
            for _ in range(ticks):
                self.metering()
                await asyncio.sleep(CREDIT_TICK_S)
            self._save()

    @property
    def supply_on(self) -> bool:
        return self.supply is SupplyState.ENABLED

    def metering(self) -> dict[str, Any]:
        now = time.monotonic()
        demand = self.load_w if self.supply_on else 0.0
        elapsed = now - self._at
        used_wh = demand * elapsed / 3600
        self._wh += used_wh
        self._at = now
        if self.credit is not None:
            codes = self.credit.spend(used_wh, self.behaviour.price_p_kwh, elapsed)
            if codes:  # acted on next, not inside whatever read the registers (or drove)
                asyncio.get_running_loop().call_soon(self._on_credit, codes)
            if self.prepay_daily is not None:
                self.prepay_daily.tick()  # a snapshot when the day has changed
            for register in self.credit.debts_cleared:
                log.info(
                    "prepay.debt_recovered",
                    extra={"device": self.config.eui.duis, "register": register},
                )
            self.credit.debts_cleared.clear()
        return {
            "current_summ_delivered": int(self._wh),
            "instantaneous_demand": int(demand),
            "unit_of_measure": KWH_UNIT,
            "multiplier": 1,
            "divisor": 1000,
            "metering_device_type": 0,  # electric metering
            "supply_status": SUPPLY_STATUS[self.supply],  # SE 1.4: off, armed, on
        }

    async def run(self) -> None:
        """Power is back: tell the network operator how long it was out (ECS80); ask the
        hub whether it has firmware waiting."""
        if self.ota is not None:
            self.spawn(self.update_firmware(), "firmware")
        gbcs, was_alive = self.gbcs, self.last_alive
        if gbcs is None or gbcs.alerts_to is None or was_alive is None:
            return
        start, now = dt.datetime.fromtimestamp(was_alive, dt.UTC), dt.datetime.now(dt.UTC)
        outage = now - start
        code = alerts.outage_restored_code(outage)
        alert = gbcs.alert(ECS80, alerts.outage_fields(start, now), code=code)
        self.last_alive = None
        await self.send_up(alert)
        log.info(
            "gbcs.alert_sent",
            extra={
                "device": self.config.eui.duis,
                "use_case": ECS80.name,
                "alert_code": f"{code:04X}",
                "outage_start": start.isoformat(),
                "outage_s": round(outage.total_seconds(), 1),
            },
        )

    def detail(self) -> dict[str, Any]:
        relay = self.wiring.output("relay")
        return {
            **super().detail(),
            "supply": self.supply.name.lower(),
            "relay": None if relay is None else int(relay.value),
            "import_wh": int(self._wh),
            "balance_pence": None if self.credit is None else self.credit.pence,
            "prepayment": None if self.credit is None else self.credit.state(),
            "local_entry": self.local_entry.state(time.time()),
            "firmware": self.firmware.state(),
            "ota": None if self.ota is None else self.ota.detail(),
            "gbcs": self.gbcs_detail(),
        }
