"""What a prepayment meter does with a UTRN, whoever brings it (the DCC's CS01a or CS01b, a
PPMID, the meter's own keypad): shared by the ESME and the GSME, which differ only in how
an alert is framed (DLMS or GBZ) and how consumption is banked.

The UTRN is checked against the prepayment key of the supplier that sent it (for a local
entry, the meter's responsible supplier) and applied once by the meter's
:class:`~nodes.roles.credit.Credit`; a refusal raises its GBCS alert to that supplier
(GCA, e.g. 0x8F51 duplicate) before :class:`TopUpRefused` reaches the caller, and a
local entry that is applied raises 0x810E "credit added locally".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from nodes import crashpoints
from nodes.gbcs.endpoint import GbcsEndpoint
from nodes.roles.credit import NOT_AUTHENTIC, Applied, Credit, TopUpRefused
from rig.protocol.eui import Eui64
from rig.protocol.gbcs.catalogue import CREDIT_ADDED_LOCALLY, GCA, GNCA
from rig.protocol.gbcs.cosem import MILLIPENCE
from rig.protocol.gbcs.usecase import UseCase
from rig.protocol.smki import Usage

log = logging.getLogger("nodes.han")

RaiseAlert = Callable[[int, Eui64], None]  # put an alert code on its way to a recipient


def generic_alert(code: int) -> UseCase:
    """The generic alert that carries ``code``: critical (GCA, signed) for 0x8Fxx codes,
    else non-critical (GNCA, MAC'd)."""
    return GCA if code >> 8 == 0x8F else GNCA


@dataclass(slots=True)
class UtrnEntry:
    """A meter's UTRN entry: its credit, its GBCS keys, how it raises an alert and how it
    takes what was used up to now off the balance before a top-up."""

    device: Eui64
    credit: Credit
    gbcs: GbcsEndpoint
    raise_alert: RaiseAlert
    bank: Callable[[], object]

    def emergency_credit(self, source: str) -> list[int]:
        """Activate the emergency credit on offer, asked for by ``source`` (the DCC, the
        PPMID, the meter's button): the alert codes it raises. EmergencyCreditRefused when
        none is on offer."""
        self.bank()  # what was used up to now comes off first
        codes = self.credit.activate_emergency_credit()
        log.info(
            "prepay.emergency_credit",
            extra={"device": self.device.duis, "source": source, **self.credit.state()},
        )
        return codes

    def apply(self, text: str, supplier: Eui64 | None = None, *, local: bool = False) -> Applied:
        """Check a UTRN and apply it once, from ``supplier`` (CS01a, CS01b) or keyed in
        locally (``local``: for the responsible supplier). A refusal raises
        :class:`TopUpRefused` after its alert is on its way to the supplier."""
        supplier = supplier or self.gbcs.supplier
        if supplier is None:
            raise TopUpRefused(NOT_AUTHENTIC, "this meter has no responsible supplier")
        extra = {"device": self.device.duis, "supplier": supplier.duis, "local": local}
        try:
            pp = self.gbcs.trust.find(supplier, Usage.PP_KA)
            if pp is None:
                raise TopUpRefused(NOT_AUTHENTIC, f"no prepayment key of {supplier.duis}")
            known = (self.gbcs.trust.find(supplier, usage) for usage in (Usage.KA, Usage.DS))
            others = tuple(k.public_key for k in known if k is not None)
            self.bank()  # what was used up to now comes off first
            applied = self.credit.top_up(text, supplier, pp.public_key, others)
            crashpoints.reached("after-top-up")  # fault injection: saved, not answered
        except TopUpRefused as exc:
            log.warning(
                "prepay.top_up_refused",
                extra={**extra, "alert_code": f"{exc.alert_code:04X}", "reason": str(exc)},
            )
            self.raise_alert(exc.alert_code, supplier)
            raise
        log.info(
            "prepay.top_up",
            extra={
                **extra,
                "pence": applied.pence,
                "balance_pence": applied.balance_millipence // MILLIPENCE,
                "counter": f"{applied.counter:#x}",
            },
        )
        if local:
            self.raise_alert(CREDIT_ADDED_LOCALLY, supplier)
        return applied
