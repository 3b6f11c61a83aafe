"""The PPMID's gas keypad: a UTRN keyed in for the gas meter goes to the GSME as PCS01, and
an emergency credit request as PCS02 (GBCS messages the CHF holds for the sleepy GSME's
next wake). Mixed into the PPMID role (:mod:`nodes.roles.ppmid`).

Each command carries this PPMID's own counter (milliseconds since the epoch, strictly
above the last it sent, kept in its state folder) and is MAC'd with its KA key for the
GSME's (GBCS's SME.C.PPMID-GSME: no access control broker on the HAN). It goes up the
PPMID's GB-HRGP tunnel; the CHF hands it to the GSME (:mod:`nodes.han.relay`) and the
GSME's answer back, which the keypad authenticates before it believes it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from nodes.roles.tunnelled import TunnelledDevice
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import gbz, security
from rig.protocol.gbcs.catalogue_gas import PCS01, PCS02
from rig.protocol.gbcs.cosem import MILLIPENCE
from rig.protocol.gbcs.frame import Cra, GbcsMessage
from rig.protocol.gbcs.usecase import Argument, UseCase, command
from rig.protocol.zigbee.se import TopUpResult
from rig.runtime.files import read_json, write_json

log = logging.getLogger("nodes.han")
GAS_ANSWER_TIMEOUT_S = 60.0  # how long the keypad waits for the sleepy GSME's answer


class GasKeypadError(RuntimeError):
    """What the gas keypad cannot do: why, and what to do."""


class GasKeypad(TunnelledDevice):
    """What the PPMID does for the GSME: PCS01 and PCS02, and their answers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._gas_counter_path = self.config.state_dir / "gas-keypad.json"
        self._gas_waiting: dict[tuple[bytes, int], asyncio.Future[GbcsMessage]] = {}

    # --- the keypad's actions -----------------------------------------------------------------
    async def gas_top_up(self, code: str, timeout: float = GAS_ANSWER_TIMEOUT_S) -> dict[str, Any]:
        """Send ``code`` to the GSME (PCS01); the GSME's answer as a JSON-able record."""
        if not (code.isascii() and code.isdigit()):
            raise GasKeypadError(f"a UTRN is digits only, not {code!r}")
        answer, waited = await self._ask_gsme(PCS01, code.encode("ascii"), timeout)
        if answer.zcl.command != gbz.CONSUMER_TOP_UP_RESPONSE:
            _, status = gbz.parse_default_response(answer.payload)
            return self._record(False, waited, status=status, reason="the GSME did not take it")
        response = gbz.TopUpResponse.decode(answer.payload)
        result = TopUpResult(response.result)
        if not result.accepted:
            return self._record(False, waited, status=int(result), status_name=result.name)
        return self._record(
            True,
            waited,
            status=int(result),
            status_name=result.name,
            top_up_pence=response.value // MILLIPENCE,
            balance_pence=response.credit_remaining // MILLIPENCE,
        )

    async def gas_emergency_credit(self, timeout: float = GAS_ANSWER_TIMEOUT_S) -> dict[str, Any]:
        """Ask the GSME to activate emergency credit (PCS02); its answer as a record."""
        answer, waited = await self._ask_gsme(PCS02, None, timeout)
        _, status = gbz.parse_default_response(answer.payload)
        return self._record(status == gbz.ZCL_SUCCESS, waited, status=status)

    def _record(self, accepted: bool, waited: float, **values: Any) -> dict[str, Any]:
        return {
            "target": "gsme",
            "device": self._gsme().duis,
            "result": "accepted" if accepted else "refused",
            "balance_pence": None,
            **values,
            "waited_s": round(waited, 2),
        }

    # --- PCS01 and PCS02 over the HAN ---------------------------------------------------------
    def gas_command(self, uc: UseCase, counter: int, argument: Argument | None) -> GbcsMessage:
        """PCS01 or PCS02 from this PPMID to its GSME with ``counter``, MAC'd for the GSME."""
        if self.gbcs is None:
            raise GasKeypadError("this PPMID has no GBCS keys: its node config has no gbcs")
        gsme = self._gsme()
        msg = command(uc, counter, self.config.eui.raw, gsme.raw, argument)
        return security.apply_mac(msg, self.gbcs.ka, self.gbcs.peer_ka(gsme))

    def _gsme(self) -> Eui64:
        gsme = self.config.han.gsme
        if gsme is None:
            raise GasKeypadError("this PPMID has no gas meter on its HAN")
        return gsme

    def _next_gas_counter(self) -> int:
        last = int((read_json(self._gas_counter_path, {}) or {}).get("counter", 0))
        counter = max(time.time_ns() // 1_000_000, last + 1)
        write_json(self._gas_counter_path, {"counter": counter})
        return counter

    async def _ask_gsme(
        self, uc: UseCase, argument: Argument | None, timeout: float
    ) -> tuple[gbz.Component, float]:
        """Send ``uc`` to the GSME and wait for its authenticated answer: the answer's one
        GBZ component and how long it took."""
        if not self.tunnel_ready.is_set():
            raise GasKeypadError(
                f"the PPMID has not joined the HAN yet ({self.han_state}); wait until "
                "`rig status` shows it healthy and try again"
            )
        gsme = self._gsme()
        counter = self._next_gas_counter()
        msg = self.gas_command(uc, counter, argument)
        key = (gsme.raw, counter)
        answer: asyncio.Future[GbcsMessage] = asyncio.get_running_loop().create_future()
        self._gas_waiting[key] = answer
        started = time.monotonic()
        extra = {"device": self.config.eui.duis, "to": gsme.duis, "use_case": uc.name}
        try:
            await self.send_up(msg.encode())
            log.info("prepay.ppmid_gas_sent", extra={**extra, "counter": counter})
            try:
                response = await asyncio.wait_for(answer, timeout)
            except TimeoutError:
                raise GasKeypadError(
                    f"the GSME {gsme.duis} did not answer {uc.name} within {timeout:g} s; it "
                    "takes it on its next wake: is it up (`rig status`)? The CHF holds the "
                    "command for it until then"
                ) from None
        finally:
            self._gas_waiting.pop(key, None)
        waited = time.monotonic() - started
        assert self.gbcs is not None  # gas_command checked
        try:
            security.verify_mac(response, self.gbcs.ka, self.gbcs.peer_ka(gsme))
            components = gbz.decode(response.payload).components
        except (security.SecurityError, DecodeError) as exc:
            raise GasKeypadError(f"the GSME's answer to {uc.name} is not genuine: {exc}") from None
        if len(components) != 1:
            raise GasKeypadError(f"the GSME answered {uc.name} with {len(components)} components")
        log.info("prepay.ppmid_gas_answered", extra={**extra, "waited_s": round(waited, 2)})
        return components[0], waited

    async def handle_gbcs(self, message: bytes) -> bytes | None:
        """The GSME's answer to a PCS01 or PCS02 this keypad is waiting for; anything else
        as every tunnelled device handles it."""
        try:
            h = GbcsMessage.decode(message).header
        except DecodeError:
            return await super().handle_gbcs(message)
        waiting = self._gas_waiting.get((h.originator, h.counter))
        if h.cra is Cra.RESPONSE and waiting is not None and not waiting.done():
            waiting.set_result(GbcsMessage.decode(message))
            return None
        return await super().handle_gbcs(message)
