"""Fault injection: the gateway killed at a named step of a request, as a power cut would.

``RIG_GATEWAY_CRASH_AT=after-commit`` (or several, comma-separated) makes the gateway
SIGKILL itself the first time a request reaches that step, so a lab can prove what a
crash there leaves behind. Unset, every crash point is a no-op.

The steps, in the order a device request passes them:

* ``before-commit``  admitted and transformed, nothing stored yet
* ``after-commit``   counter, envelope, audit row and command stored, nothing sent
* ``before-ack``     the acknowledgement (I99) is built, not yet written
* ``after-ack``      the acknowledgement is written to the sender
* ``before-publish`` the command is about to be handed to the WAN broker
* ``after-publish``  the broker has the command (PUBACK), not yet recorded
* ``before-settle``  the device's response has arrived from the WAN, nothing recorded
"""

from __future__ import annotations

import logging
import os
import signal

log = logging.getLogger("gateway.crash")
ENV = "RIG_GATEWAY_CRASH_AT"
STEPS = (
    "before-commit",
    "after-commit",
    "before-ack",
    "after-ack",
    "before-publish",
    "after-publish",
    "before-settle",
)


def _armed() -> frozenset[str]:
    wanted = {s.strip() for s in os.environ.get(ENV, "").split(",") if s.strip()}
    unknown = wanted - set(STEPS)
    if unknown:
        raise ValueError(f"{ENV}: unknown step {sorted(unknown)}; the steps are {', '.join(STEPS)}")
    return frozenset(wanted)


ARMED = _armed()


def crashpoint(step: str, request_id: str | None = None) -> None:
    """Die here, at once and without cleanup, if ``step`` is armed."""
    if step in ARMED:
        log.critical("gateway.crash_injected", extra={"step": step, "request_id": request_id})
        for handler in logging.getLogger().handlers:
            handler.flush()
        os.kill(os.getpid(), signal.SIGKILL)
