"""The WAN's observers: read-only MQTT identities, one per controller process at a time.

The broker takes a client certificate's CN as its username and client ID, so a second
client with an identity already connected takes the session over and the first one is
disconnected: with one shared identity, ``rig status`` would throw a ``rig wan watch``
off the WAN. Every controller process that observes the WAN therefore takes a free
identity from a small pool (``rig-observer-1`` .. ``rig-observer-8``, certificates issued
by the rig's PKI, read-only in the broker's ACL, see :mod:`rig.plan.broker`):

* taking one is an exclusive, non-blocking ``flock`` on
  ``<state>/observers/<identity>.lock``; the lock file records the holder's PID;
* the process keeps the lock while it uses the identity and closes it when done; the
  kernel drops the lock however the process ends (even ``kill -9``), so no identity
  stays taken by a process that is gone;
* ``flock`` locks belong to the open file, so two observers in one process (``rig up``
  probing while it waits) get different identities too.

When all are taken, :class:`ObserversBusy` names the PIDs that hold them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from rig.lifecycle.errors import RigError
from rig.pki.authority import Credential, Pki
from rig.protocol.wan import OBSERVER_IDENTITIES
from rig.state import StateDir


class ObserverError(RigError):
    """No observer identity can be used; the message says what to do."""


class ObserversBusy(ObserverError):
    """Every observer identity is held by a running process."""


def lock_folder(state: StateDir) -> Path:
    """Where the observers' lock files are: ``<state>/observers``."""
    return state.root / "observers"


@dataclass
class Observer:
    """One identity taken from the pool; :meth:`release` (or ``with``) gives it back."""

    identity: str
    credential: Credential
    lock: Path
    _fd: int | None = field(default=None, repr=False)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file drops the flock
            self._fd = None

    def __enter__(self) -> Observer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _holder(path: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(path.read_text().split()[0])
    return None


class ObserverPool:
    """The observer identities of one rig: lock files in ``locks``, certificates in ``pki``."""

    def __init__(self, locks: Path, pki: Pki) -> None:
        self.locks = locks
        self.pki = pki

    @classmethod
    def of(cls, state: StateDir) -> ObserverPool:
        return cls(lock_folder(state), Pki(state.pki))

    def take(self) -> Observer:
        """The first free identity, locked for this process until it is released.

        Raises :class:`ObserversBusy` when every identity is held, and
        :class:`ObserverError` when the free one has no certificate yet."""
        self.locks.mkdir(mode=0o700, parents=True, exist_ok=True)
        holders: list[int | None] = []
        for identity in OBSERVER_IDENTITIES:
            path = self.locks / f"{identity}.lock"
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                holders.append(_holder(path))
                continue
            credential = self.pki.wan_client(identity)
            if not (credential.cert.exists() and credential.key.exists()):
                os.close(fd)
                raise ObserverError(
                    f"the rig's PKI ({self.pki.root}) has no certificate for the WAN observer "
                    f"{identity}: it was made by an older version; `rig down` then `rig up` "
                    "issues the observers' certificates and lets the broker know them"
                )
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return Observer(identity, credential, path, fd)
        pids = ", ".join("?" if pid is None else str(pid) for pid in holders)
        raise ObserversBusy(
            f"all {len(OBSERVER_IDENTITIES)} WAN observer identities are in use (PIDs {pids}): "
            "stop a `rig wan watch` you no longer need (Ctrl-C), then try again"
        )

    def holders(self) -> dict[str, int | None]:
        """The identities held right now, with the PID each holder recorded."""
        held: dict[str, int | None] = {}
        for identity in OBSERVER_IDENTITIES:
            path = self.locks / f"{identity}.lock"
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                held[identity] = _holder(path)
            finally:
                os.close(fd)
        return held
