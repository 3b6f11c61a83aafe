"""The PPMID's gas keypad: a UTRN keyed in for the gas meter goes to the GSME as PCS01, and
an emergency credit request as PCS02 (GBCS messages the CHF holds for the sleepy GSME's
next wake). Mixed into the PPMID role (:mod:`nodes.roles.ppmid`)."""

from __future__ import annotations

from typing import Any


class GasKeypad:
    """What the PPMID does for the GSME. (Being built: issue 15.)"""

    async def gas_top_up(self, code: str) -> dict[str, Any]:
        """Send ``code`` to the GSME (PCS01); the GSME's answer as a JSON-able record."""
        raise NotImplementedError("the PPMID's gas top-up (PCS01) is not built yet")

    async def gas_emergency_credit(self) -> dict[str, Any]:
        """Ask the GSME to activate emergency credit (PCS02); its answer as a record."""
        raise NotImplementedError("the PPMID's gas emergency credit (PCS02) is not built yet")
