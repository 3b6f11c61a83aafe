"""Fault injection: a node killed at a named step, as a power cut would (kill -9).

Armed at run time (``POST /fault/crash?at=STEP`` on the node, ``rig fault crash --node NAME
--at STEP``), a node SIGKILLs itself the first time it reaches that step, with no cleanup:
what it saved before the step survives, what it would have done after does not. The arming
lives in the process, so the node the supervisor (or systemd) restarts is disarmed. The
gateway's own crash points are :mod:`gateway.crashpoints`.

The steps:

* ``after-top-up``  a meter has applied a top-up (credit and UTRN counter saved) and has
  not answered yet
"""

from __future__ import annotations

import logging
import os
import signal

log = logging.getLogger("nodes.crash")
STEPS = ("after-top-up",)

_armed: set[str] = set()


def arm(step: str) -> None:
    """Die at ``step`` the next time it is reached; ValueError for a step that does not exist."""
    if step not in STEPS:
        raise ValueError(f"no crash point {step!r}; the steps are: {', '.join(STEPS)}")
    _armed.add(step)
    log.warning("node.crash_armed", extra={"step": step})


def disarm() -> list[str]:
    """Disarm every step; the ones that were armed."""
    was = sorted(_armed)
    _armed.clear()
    return was


def armed() -> list[str]:
    return sorted(_armed)


def reached(step: str) -> None:
    """Die here, at once and without cleanup, if ``step`` is armed."""
    if step in _armed:
        log.critical("node.crash_injected", extra={"step": step})
        for handler in logging.getLogger().handlers:
            handler.flush()
        os.kill(os.getpid(), signal.SIGKILL)
