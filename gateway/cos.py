"""The DCC's side of a future-dated change of supplier (6.23 with an ExecutionDateTime).

The device answers TransCoS's dated CS02b with Command Accepted and holds it; the DCC then
records which gaining supplier's request the device holds (its store's ``held_changes``: the
device and TransCoS's counter, which the outcome repeats as its sequence number). At its
time the device carries it out and sends TransCoS the 0x00CB alert: the DCC passes it to
that supplier as a device alert, and when it reports every replacement done (8F66) makes
the supplier the device's responsible supplier, in one transaction. A 6.23 dated DUIS's
3000-12-31 cancels the held one on the device, and the DCC forgets it once the device
accepts the cancellation.
"""

from __future__ import annotations

import logging

from gateway.inventory import CANCEL, HELD, Effect, Inventory
from gateway.store import Pending, Store
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.gbcs.catalogue_credentials import (
    EXECUTED,
    future_credentials_of,
    outcome_of,
)
from rig.protocol.gbcs.frame import GbcsMessage

log = logging.getLogger("gateway.cos")


def accepted(msg: GbcsMessage) -> bool:
    """Whether a CS02b answer is Command Accepted alone (held, or the held one cancelled)."""
    try:
        return outcome_of(msg.payload) is None
    except (DecodeError, IndexError, ValueError):
        return False


def on_accepted(store: Store, effect: Effect, p: Pending) -> None:
    """The device accepted a future-dated 6.23 (or its cancellation): remember what it holds
    (or that it holds nothing now). Inside the caller's transaction."""
    if effect.timing == HELD and effect.supplier is not None:
        store.hold_change(p.device, p.counter, effect.supplier.hex, p.request_id)
    elif effect.timing == CANCEL:
        store.drop_held_change(p.device)
    log.info(
        "cos.held" if effect.timing == HELD else "cos.cancelled",
        extra={"device": Eui64.parse(p.device).duis, "request_id": p.request_id},
    )


def carried_out(store: Store, inventory: Inventory, msg: GbcsMessage) -> Eui64 | None:
    """The gaining supplier a device's 0x00CB alert to TransCoS is for, its change recorded
    when the alert reports it done (8F66). None, logged, when the device held no 6.23 with
    that sequence number (a duplicate, or not the DCC's). Inside the caller's transaction."""
    device = Eui64(msg.header.originator)
    try:
        code, _when, outcome = future_credentials_of(msg.payload)
    except (DecodeError, IndexError, ValueError) as exc:
        log.warning("cos.bad_alert", extra={"device": device.duis, "error": str(exc)})
        return None
    held = store.take_held_change(device.hex, outcome.seq_number)
    if held is None:
        log.warning(
            "cos.alert_unmatched", extra={"device": device.duis, "counter": outcome.seq_number}
        )
        return None
    supplier, request_id = Eui64.parse(held[0]), held[1]
    done = code == EXECUTED and outcome.succeeded
    if done:
        Effect(device, None, (), supplier=supplier).apply(inventory)
    log.info(
        "cos.carried_out",
        extra={
            "device": device.duis,
            "request_id": request_id,
            "alert_code": f"{code:04X}",
            "supplier": supplier.duis if done else None,
        },
    )
    return supplier
