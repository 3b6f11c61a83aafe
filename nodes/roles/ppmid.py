"""The prepayment interface (PPMID): a display (:class:`LocalDisplay`) with the consumer's
keypad. A UTRN keyed in for the electricity meter goes to the ESME over the HAN as the
Prepayment cluster's Consumer Top Up (the command GBCS's PCS01 carries to the GSME),
and the emergency credit button sends Select Available Emergency Credit; the gas side
(PCS01, PCS02 to the sleepy GSME) is :class:`GasKeypad`'s.

On the virtual rig the keypad is the node's HTTP server (``POST /ppmid/topup?code=...``,
``POST /ppmid/emergency-credit``, what ``rig ppmid`` drives); on a Pi the emergency
credit button (``button.emergency_credit``) does the same as the second.

Firmware (11.4 Update PPMID Firmware): told by the hub's Image Notify, and once after its
tunnel opens, it asks the hub's OTA Upgrade server for a newer image, fetches it (resumably)
and verifies the manufacturer's signature. A verified image is activated at once and CS09
(0x012B, 8F8B) tells the ACB the version it now runs; a refused one is discarded, the running
version unchanged (the hub's CCS08 says so). 11.2 reads the version (CS08,
:mod:`nodes.gbcs.activation`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from nodes.han import ota as han_ota  # a module: nodes.han.ota imports nodes.roles
from nodes.radio import DeliveryError
from nodes.roles.base import Route
from nodes.roles.display import LocalDisplay
from nodes.roles.firmware import activation_alert, manufacturer_key, serve_firmware
from nodes.roles.join_log import open_join_log
from nodes.roles.ppmid_gas import GasKeypad, GasKeypadError
from rig.protocol.eui import Eui64
from rig.protocol.gbcs.catalogue_firmware import ACTIVATION_FAILURE, ACTIVATION_SUCCESS
from rig.protocol.gbcs.cosem import MILLIPENCE  # the Consumer Top Up Response's unit (PCS01)
from rig.protocol.zigbee import se, zcl
from rig.protocol.zigbee.se import ZIGBEE_EPOCH, OriginatingDevice, TopUpResult
from rig.protocol.zigbee.zcl import Status

log = logging.getLogger("nodes.han")
PREPAYMENT = se.Prepayment.cluster_id
MAX_CODE_DIGITS = 26  # SE 1.4: the Top Up Code is an octet string of at most 26 octets
TARGETS = ("esme", "gsme")
# what the meter raises to the supplier for a refusal the result names alone
ALERT_OF_RESULT = {
    TopUpResult.REJECTED_DUPLICATE_TOP_UP: "8F51",
    TopUpResult.REJECTED_MAX_CREDIT_REACHED: "8F5B",
}
WHY = {
    TopUpResult.REJECTED_INVALID_TOP_UP: "the UTRN is not authentic or not for this meter "
    "(mistyped? the meter raises 8F63 or 8F64 to the supplier)",
    TopUpResult.REJECTED_DUPLICATE_TOP_UP: "the UTRN was already used (8F51)",
    TopUpResult.REJECTED_ERROR: "the meter could not apply the UTRN (see its log)",
    TopUpResult.REJECTED_MAX_CREDIT_REACHED: "it would take the balance above the maximum "
    "credit (8F5B)",
    TopUpResult.REJECTED_KEYPAD_LOCK: "local entry is locked after too many refused UTRNs "
    "in a row; try again later or top up through the supplier",
    TopUpResult.REJECTED_TOP_UP_VALUE_TOO_LARGE: "the top-up is above the meter's limit",
}


class KeypadError(Exception):
    """A keypad action the PPMID cannot carry out: the HTTP status and what to do."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class PrepaymentInterface(LocalDisplay, GasKeypad):
    device_type = "PPMID"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_entry: dict[str, Any] | None = None
        self.join_log = open_join_log(self.config)  # the devices it has joined (8.7, 8.8, CS07)
        self.firmware = serve_firmware(self)  # its running version (CS08)
        self.ota: han_ota.OtaClient | None = None  # its OTA Upgrade client (11.4)
        self._updating = asyncio.Lock()
        key = manufacturer_key(self)
        if key is not None and self.gbcs is not None:
            self.ota = han_ota.OtaClient(self.app, self.firmware, key)
            self.ota.on_notify(lambda server: self.spawn(self.update_firmware(), "firmware"))

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        # gpiozero calls back on its own thread on a Pi: hand the press to the event loop
        self.wiring.on_press(
            "button.emergency_credit",
            lambda: loop.call_soon_threadsafe(self._emergency_credit_pressed),
        )

    async def run(self) -> None:
        """Its tunnel is open: ask the hub whether it has firmware waiting, then show the
        meters."""
        if self.ota is not None:
            self.spawn(self.update_firmware(), "firmware")
        await super().run()

    # --- firmware over the HAN (11.4) -----------------------------------------------------------
    async def update_firmware(self) -> han_ota.Outcome | None:
        """Ask the hub for a newer image and fetch it, taking a transfer the HAN broke off
        up again a few times; a verified image is activated at once (CS09). One update at a
        time; None without an OTA client."""
        if self.ota is None:
            return None
        async with self._updating:
            result = await self.ota.update_resuming(self.chf)
            if result.outcome is han_ota.Outcome.VERIFIED:
                await self.activate_firmware()
        return result.outcome

    async def activate_firmware(self) -> bool:
        """Run the image held (verified), and tell the ACB with CS09: 0 and the new version,
        or 1 and the version unchanged when it cannot be run."""
        assert self.gbcs is not None
        try:
            self.firmware.activate()
            result = ACTIVATION_SUCCESS
        except (ValueError, OSError) as exc:
            log.warning(
                "firmware.activation_failed",
                extra={"device": self.config.eui.duis, "error": str(exc)},
            )
            result = ACTIVATION_FAILURE
        alert = activation_alert(self.gbcs, self.config.eui, self.firmware.octets, result)
        await self.send_up(alert)
        return result == ACTIVATION_SUCCESS

    # --- the keypad's actions -----------------------------------------------------------------
    async def top_up(self, code: str, target: str = "esme") -> dict[str, Any]:
        """Send the UTRN ``code`` to the target meter; the meter's answer as a record."""
        if target == "gsme":
            record = {"target": "gsme", "utrn": code, **await self.gas_top_up(code)}
        else:
            esme = self._esme()
            answer = await self._ask(
                esme,
                "consumer_top_up",
                originating_device=OriginatingDevice.IN_HOME_DISPLAY_DEVICE,
                top_up_code=code.encode("ascii"),
            )
            record = {"target": "esme", "device": esme.duis, "utrn": code, **_top_up(answer)}
        self._keyed("prepay.ppmid_top_up", record)
        return record

    async def emergency_credit(self, target: str = "esme") -> dict[str, Any]:
        """Ask the target meter to activate the emergency credit it offers."""
        if target == "gsme":
            record = {"target": "gsme", **await self.gas_emergency_credit()}
        else:
            esme = self._esme()
            answer = await self._ask(
                esme,
                "select_available_emergency_credit",
                command_issue_date_time=int(time.time()) - ZIGBEE_EPOCH,
                originating_device=OriginatingDevice.IN_HOME_DISPLAY_DEVICE,
            )
            status = _default_status(answer)
            record = {
                "target": "esme",
                "device": esme.duis,
                "result": "accepted" if status is Status.SUCCESS else "refused",
                "status": int(status),
                "status_name": status.name,
            }
            if status is not Status.SUCCESS:
                record["reason"] = "the meter offers no emergency credit now (see its log)"
        self._keyed("prepay.ppmid_emergency_credit", record)
        return record

    def _esme(self) -> Eui64:
        esme = self.config.han.esme
        if esme is None:
            raise KeypadError(503, "this PPMID has no electricity meter on its HAN")
        if self.han_state != "joined":
            raise KeypadError(
                503,
                f"the PPMID has not joined the HAN yet ({self.han_state}); wait until "
                "`rig status` shows it healthy and try again",
            )
        return esme

    async def _ask(self, esme: Eui64, command: str, **fields: Any) -> zcl.ZclFrame:
        try:
            return await self.app.send_command(esme, PREPAYMENT, command, **fields)
        except (DeliveryError, TimeoutError) as exc:
            raise KeypadError(
                504,
                f"the ESME {esme.duis} did not answer on the HAN ({exc or 'no answer'}): "
                "is it up and joined? (`rig status`)",
            ) from None

    def _keyed(self, event: str, record: dict[str, Any]) -> None:
        self.last_entry = {**record, "at": time.time()}
        log.info(event, extra={"device": self.config.eui.duis, **record})
        if record.get("result") == "accepted":
            self.refresh()  # show the new balance now

    def _emergency_credit_pressed(self) -> None:
        self.spawn(self._emergency_credit_button(), "emergency credit button")

    async def _emergency_credit_button(self) -> None:
        try:
            await self.emergency_credit("esme")
        except KeypadError as exc:
            log.warning(
                "prepay.ppmid_button_failed",
                extra={"device": self.config.eui.duis, "error": str(exc)},
            )

    # --- the keypad on the node's HTTP server -------------------------------------------------
    def routes(self) -> list[Route]:
        return [
            ("POST", "/ppmid/topup", self._top_up_route),
            ("POST", "/ppmid/emergency-credit", self._emergency_credit_route),
        ]

    async def _top_up_route(self, request: web.Request) -> web.Response:
        code = request.query.get("code", "").replace(" ", "").replace("-", "")
        if not (code.isascii() and code.isdigit() and len(code) <= MAX_CODE_DIGITS):
            return _error(400, f"give the UTRN as ?code= (its digits, at most {MAX_CODE_DIGITS})")
        return await _answer(lambda: self.top_up(code, _target(request)))

    async def _emergency_credit_route(self, request: web.Request) -> web.Response:
        return await _answer(lambda: self.emergency_credit(_target(request)))

    def detail(self) -> dict[str, Any]:
        return {
            **super().detail(),
            "keypad": self.last_entry,
            "firmware": self.firmware.state(),
            "ota": None if self.ota is None else self.ota.detail(),
        }


def _top_up(answer: zcl.ZclFrame) -> dict[str, Any]:
    """A Consumer Top Up Response (or the Default Response of a meter that refused the
    command itself) as the keypad's record."""
    if answer.name != "consumer_top_up_response":
        status = _default_status(answer)
        return {
            "result": "refused",
            "status": int(status),
            "status_name": status.name,
            "reason": f"the meter did not take the command: {status.name}",
        }
    result = TopUpResult(answer.field("result_type"))
    record: dict[str, Any] = {
        "result": "accepted" if result.accepted else "refused",
        "status": int(result),
        "status_name": result.name,
        "top_up_pence": int(answer.field("top_up_value")) // MILLIPENCE,
        "credit_remaining_pence": int(answer.field("credit_remaining")) // MILLIPENCE,
    }
    if not result.accepted:
        record["alert"] = ALERT_OF_RESULT.get(result)
        record["reason"] = WHY.get(result, f"refused: {result.name}")
    return record


def _default_status(answer: zcl.ZclFrame) -> Status:
    if answer.name != "Default_Response":
        raise KeypadError(502, f"the meter answered {answer.name}, not a Default Response")
    return Status(answer.field("status"))


def _target(request: web.Request) -> str:
    target = request.query.get("target", "esme")
    if target not in TARGETS:
        raise KeypadError(400, f"target is one of {', '.join(TARGETS)}, not {target!r}")
    return target


async def _answer(action: Callable[[], Awaitable[dict[str, Any]]]) -> web.Response:
    try:
        return web.json_response(await action())
    except KeypadError as exc:
        return _error(exc.status, str(exc))
    except GasKeypadError as exc:
        return _error(503, str(exc))
    except NotImplementedError as exc:
        return _error(501, str(exc))


def _error(status: int, message: str) -> web.Response:
    return web.Response(
        status=status, text=json.dumps({"error": message}), content_type="application/json"
    )
