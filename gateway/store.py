"""The gateway's embedded SQLite store: request envelopes, hop timelines, audit, counters,
pre-commands awaiting signature, commands awaiting a device's answer, the outbox, and the
firmware images of 11.1 with how far each hub has received them.

System data only. Requests are kept as envelopes (IDs, SRV, message code, parties, times,
outcome). The bytes of a message are kept only while the DCC still owes them to someone:
a command until its device answers or its deadline passes (a hub that comes back online
gets it again, :meth:`Store.redeliverable`), an outbox entry until it is delivered (then
dropped), a pre-command until it comes back signed.

Every step that moves a request on is one transaction (:meth:`Store.transaction`):
admission (counter, envelope, audit row, the command to publish), a device's answer
(settled, finished, queued for its user) and a deadline (the same). A crash leaves a
request either untouched or fully moved on, never half-way. Commits are synchronous
(``synchronous=FULL``): what was acknowledged survives a power cut.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STORE_FILE = "gateway.sqlite"  # in the gateway's state folder

SCHEMA = """
PRAGMA journal_mode=WAL;
PRAGMA synchronous=FULL;
CREATE TABLE IF NOT EXISTS requests (
    request_id TEXT PRIMARY KEY, srv TEXT, cv INTEGER, message_code TEXT, sender TEXT,
    target TEXT, hub TEXT, received REAL, outcome TEXT, response_code TEXT, reason TEXT);
CREATE TABLE IF NOT EXISTS hops (
    request_id TEXT, at REAL, hop TEXT, detail TEXT);
CREATE INDEX IF NOT EXISTS hops_by_request ON hops(request_id);
CREATE TABLE IF NOT EXISTS audit (
    at REAL, sender TEXT, request_id TEXT, endpoint TEXT, code TEXT, reason TEXT);
CREATE TABLE IF NOT EXISTS counters (sender TEXT PRIMARY KEY, last INTEGER);
CREATE TABLE IF NOT EXISTS precommands (
    request_id TEXT PRIMARY KEY, sender TEXT, target TEXT, counter INTEGER, srv TEXT,
    gbcs BLOB, created REAL);
CREATE TABLE IF NOT EXISTS pending (
    device TEXT, counter INTEGER, user TEXT, request_id TEXT, srv TEXT, sr TEXT,
    hub TEXT, deadline REAL, command BLOB, published REAL,
    PRIMARY KEY (device, counter, user));
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT, url TEXT, request_id TEXT, kind TEXT,
    body BLOB, attempts INTEGER DEFAULT 0, next_at REAL, state TEXT, created REAL,
    last_error TEXT);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(state, next_at);
CREATE TABLE IF NOT EXISTS device_certificates (
    eui TEXT, usage TEXT, der BLOB, in_use INTEGER DEFAULT 0, PRIMARY KEY (eui, usage, der));
CREATE TABLE IF NOT EXISTS held_changes (
    device TEXT PRIMARY KEY, counter INTEGER, supplier TEXT, request_id TEXT);
CREATE TABLE IF NOT EXISTS firmware_images (
    image TEXT PRIMARY KEY, version TEXT, size INTEGER, data BLOB, received REAL);
CREATE TABLE IF NOT EXISTS firmware_distributions (
    hub TEXT, image TEXT, devices TEXT, held INTEGER DEFAULT 0, request_id TEXT,
    started REAL, finished REAL, PRIMARY KEY (hub, image));
"""


# columns added since the first store: a store written by an older gateway gets them
_ADDED_COLUMNS = {
    "pending": {"command": "BLOB", "published": "REAL", "effect": "TEXT"},
    "requests": {"command": "TEXT"},  # the GBCS command sent for it (hex), MAC and all
}
_PENDING = "device, counter, user, request_id, srv, sr, hub, deadline, effect"


@dataclass(frozen=True, slots=True)
class Pending:
    """A command the DCC owes a device's answer to, until its deadline."""

    device: str
    counter: int
    user: str
    request_id: str
    srv: str
    service_reference: str
    hub: str
    deadline: float
    # what the inventory records when the device answers with success (JSON, see
    # gateway.inventory.Effect), or None
    effect: str | None = None


@dataclass(frozen=True, slots=True)
class Outstanding:
    """A command awaiting its device, with its bytes: what the publisher owes the hub (not
    yet published), or may publish again (the hub came back online before the answer)."""

    pending: Pending
    command: bytes


@dataclass(frozen=True, slots=True)
class Distribution:
    """A firmware image on its way to one hub (11.1): what the hub said it holds of it."""

    hub: str  # hex EUI-64
    image: str  # SHA-256 of the image, hex
    devices: tuple[str, ...]  # DUIS EUI-64s the hub stages it for
    held: int
    size: int
    request_id: str
    finished: float | None


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    user: str
    url: str
    request_id: str | None
    kind: str
    body: bytes
    attempts: int


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.executescript(SCHEMA)
        for table, columns in _ADDED_COLUMNS.items():
            have = {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}
            for name, kind in columns.items():
                if name not in have:
                    self.db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
        self._depth = 0

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together or not at all (nested blocks join the outer)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")
        finally:
            self._depth = 0

    # --- requests and their hops ---------------------------------------------------------
    def new_request(self, request_id: str, **envelope: Any) -> None:
        cols = ["request_id", *envelope]
        self.db.execute(
            f"INSERT OR REPLACE INTO requests ({', '.join(cols)}) "
            f"VALUES ({', '.join('?' * len(cols))})",
            [request_id, *envelope.values()],
        )

    def sent(self, request_id: str, command: bytes) -> None:
        """The GBCS command the DCC sent the device for the request, kept with it (a
        conformance run compares it with DCC's reference command)."""
        self.db.execute(
            "UPDATE requests SET command=? WHERE request_id=?", (command.hex(), request_id)
        )

    def finish(self, request_id: str, outcome: str, code: str, reason: str = "") -> None:
        self.db.execute(
            "UPDATE requests SET outcome=?, response_code=?, reason=? WHERE request_id=?",
            (outcome, code, reason, request_id),
        )

    def hop(self, request_id: str, hop: str, at: float | None = None, **detail: Any) -> None:
        self.db.execute(
            "INSERT INTO hops VALUES (?, ?, ?, ?)",
            (
                request_id,
                time.time() if at is None else at,
                hop,
                json.dumps(detail) if detail else "",
            ),
        )

    def request(self, request_id: str) -> dict[str, Any] | None:
        cur = self.db.execute("SELECT * FROM requests WHERE request_id=?", (request_id,))
        row = cur.fetchone()
        if row is None:
            return None
        out = dict(zip([c[0] for c in cur.description], row, strict=True))
        out["hops"] = [
            {"at": at, "hop": hop, **(json.loads(detail) if detail else {})}
            for at, hop, detail in self.db.execute(
                "SELECT at, hop, detail FROM hops WHERE request_id=? ORDER BY at, rowid",
                (request_id,),
            )
        ]
        return out

    def requests(self, limit: int = 50) -> list[dict[str, Any]]:
        cur = self.db.execute("SELECT * FROM requests ORDER BY received DESC LIMIT ?", (limit,))
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    # --- audit ---------------------------------------------------------------------------------
    def audit(
        self, sender: str | None, request_id: str | None, endpoint: str, code: str, reason: str
    ):
        self.db.execute(
            "INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?)",
            (time.time(), sender, request_id, endpoint, code, reason),
        )

    def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        cur = self.db.execute("SELECT * FROM audit ORDER BY rowid DESC LIMIT ?", (limit,))
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    # --- request counters ------------------------------------------------------------------
    def last_counter(self, sender: str) -> int | None:
        row = self.db.execute("SELECT last FROM counters WHERE sender=?", (sender,)).fetchone()
        return None if row is None else int(row[0])

    def take_counter(self, sender: str, counter: int) -> bool:
        """Record ``counter`` if it is above the last one from ``sender`` (atomically)."""
        cur = self.db.execute(
            "INSERT INTO counters VALUES (?, ?) "
            "ON CONFLICT(sender) DO UPDATE SET last=excluded.last "
            "WHERE excluded.last > counters.last",
            (sender, counter),
        )
        return cur.rowcount == 1

    def next_counter(self, originator: str, floor: int) -> int:
        """The next counter of an originator the DCC itself is (the ACB, for an unknown
        remote party): above the last it used and at least ``floor``, recorded atomically."""
        with self.transaction():
            counter = max((self.last_counter(originator) or 0) + 1, floor)
            self.take_counter(originator, counter)
        return counter

    # --- pre-commands ------------------------------------------------------------------------
    def put_precommand(
        self, request_id: str, sender: str, target: str, counter: int, srv: str, gbcs: bytes
    ):
        self.db.execute(
            "INSERT OR REPLACE INTO precommands VALUES (?, ?, ?, ?, ?, ?, ?)",
            (request_id, sender, target, counter, srv, gbcs, time.time()),
        )

    def find_precommand(
        self, sender: str, target: str, counter: int
    ) -> tuple[str, str, bytes] | None:
        """The issued pre-command for (sender, target, counter), if not yet used."""
        row = self.db.execute(
            "SELECT request_id, srv, gbcs FROM precommands "
            "WHERE sender=? AND target=? AND counter=?",
            (sender, target, counter),
        ).fetchone()
        return None if row is None else (row[0], row[1], bytes(row[2]))

    def take_precommand(
        self, sender: str, target: str, counter: int
    ) -> tuple[str, str, bytes] | None:
        """The issued pre-command for (sender, target, counter), removed: usable once."""
        found = self.find_precommand(sender, target, counter)
        if found is not None:
            self.db.execute("DELETE FROM precommands WHERE request_id=?", (found[0],))
        return found

    # --- commands awaiting a device --------------------------------------------------------
    def put_pending(self, p: Pending, command: bytes) -> None:
        """A command awaiting its device, with its bytes (kept until it is settled)."""
        self.db.execute(
            f"INSERT OR REPLACE INTO pending ({_PENDING}, command, published) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            (
                p.device,
                p.counter,
                p.user,
                p.request_id,
                p.srv,
                p.service_reference,
                p.hub,
                p.deadline,
                p.effect,
                command,
            ),
        )

    def take_pending(self, device: str, counter: int, user: str) -> Pending | None:
        row = self.db.execute(
            f"SELECT {_PENDING} FROM pending WHERE device=? AND counter=? AND user=?",
            (device, counter, user),
        ).fetchone()
        if row is None:
            return None
        self.db.execute(
            "DELETE FROM pending WHERE device=? AND counter=? AND user=?", (device, counter, user)
        )
        return Pending(*row)

    def all_pending(self) -> list[Pending]:
        return [Pending(*row) for row in self.db.execute(f"SELECT {_PENDING} FROM pending")]

    def unpublished(self, now: float) -> list[Outstanding]:
        """Admitted commands still owed to their hub, oldest first, deadline not yet passed."""
        rows = self.db.execute(
            f"SELECT {_PENDING}, command FROM pending "
            "WHERE published IS NULL AND command IS NOT NULL AND deadline > ? "
            "ORDER BY rowid LIMIT 50",
            (now,),
        ).fetchall()
        return [Outstanding(Pending(*row[:9]), bytes(row[9])) for row in rows]

    def owed_to_wan(self, now: float) -> int:
        """How many admitted commands are still owed to their hub (deadline not passed)."""
        row = self.db.execute(
            "SELECT COUNT(*) FROM pending "
            "WHERE published IS NULL AND command IS NOT NULL AND deadline > ?",
            (now,),
        ).fetchone()
        return int(row[0])

    def still_unpublished(self, p: Pending) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM pending WHERE device=? AND counter=? AND user=? AND published IS NULL",
            (p.device, p.counter, p.user),
        ).fetchone()
        return row is not None

    def published(self, p: Pending, at: float) -> None:
        """The hub's broker has the command; its bytes stay until it is settled, for a
        redelivery (:meth:`redeliverable`)."""
        self.db.execute(
            "UPDATE pending SET published=? WHERE device=? AND counter=? AND user=?",
            (at, p.device, p.counter, p.user),
        )

    def redeliverable(self, hub: str, now: float) -> list[Outstanding]:
        """What to publish again to ``hub`` (hex EUI-64) now that it is back online: every
        command already published to it that no answer has settled and whose deadline has
        not passed, oldest first, with the very bytes it was sent as. (A command not yet
        published is the publisher's anyway.)"""
        rows = self.db.execute(
            f"SELECT {_PENDING}, command FROM pending "
            "WHERE hub=? AND published IS NOT NULL AND command IS NOT NULL AND deadline > ? "
            "ORDER BY rowid",
            (hub, now),
        ).fetchall()
        return [Outstanding(Pending(*row[:9]), bytes(row[9])) for row in rows]

    # --- firmware images and their distribution to the hubs (11.1) -------------------------
    # --- device certificates SMKI issued (6.17's requests), and the ones in use (6.15.2) ------
    def publish_certificate(self, eui: str, usage: str, der: bytes) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO device_certificates VALUES (?, ?, ?, 0)", (eui, usage, der)
        )

    def certificate_in_use(self, eui: str, usage: str, der: bytes) -> None:
        """The device now uses ``der`` for ``usage`` (its 6.15.2 answered success)."""
        self.publish_certificate(eui, usage, der)
        self.db.execute(
            "UPDATE device_certificates SET in_use = (der = ?) WHERE eui=? AND usage=?",
            (der, eui, usage),
        )

    def device_certificates(self) -> list[tuple[str, str, bytes, bool]]:
        """Every certificate SMKI issued a device (EUI hex, usage, DER, in use), oldest first."""
        rows = self.db.execute(
            "SELECT eui, usage, der, in_use FROM device_certificates ORDER BY rowid"
        ).fetchall()
        return [(r[0], r[1], bytes(r[2]), bool(r[3])) for r in rows]

    # --- future-dated changes of supplier a device holds (6.23) -----------------------------
    def hold_change(self, device: str, counter: int, supplier: str, request_id: str) -> None:
        """``device`` holds the CS02b TransCoS sent it with ``counter`` for ``supplier``'s
        request (a device holds one: a later one replaces it)."""
        self.db.execute(
            "INSERT OR REPLACE INTO held_changes VALUES (?, ?, ?, ?)",
            (device, counter, supplier, request_id),
        )

    def take_held_change(self, device: str, counter: int) -> tuple[str, str] | None:
        """The supplier and request of the CS02b ``device`` held with ``counter``, forgotten
        (it has been carried out); None when it holds no such one."""
        row = self.db.execute(
            "SELECT supplier, request_id FROM held_changes WHERE device=? AND counter=?",
            (device, counter),
        ).fetchone()
        if row is not None:
            self.db.execute("DELETE FROM held_changes WHERE device=?", (device,))
        return None if row is None else (row[0], row[1])

    def drop_held_change(self, device: str) -> None:
        self.db.execute("DELETE FROM held_changes WHERE device=?", (device,))

    def put_firmware(self, image: str, version: str, data: bytes) -> None:
        """Keep an image (by its SHA-256, hex) until every hub has it."""
        self.db.execute(
            "INSERT OR IGNORE INTO firmware_images VALUES (?, ?, ?, ?, ?)",
            (image, version, len(data), data, time.time()),
        )

    def firmware(self, image: str) -> bytes | None:
        row = self.db.execute("SELECT data FROM firmware_images WHERE image=?", (image,)).fetchone()
        return None if row is None else bytes(row[0])

    def distribute(self, hub: str, image: str, devices: list[str], request_id: str) -> None:
        """Send ``image`` to ``hub`` for ``devices`` (added to those it was already sent for;
        what the hub holds is kept, so a distribution under way goes on)."""
        row = self.db.execute(
            "SELECT devices FROM firmware_distributions WHERE hub=? AND image=?", (hub, image)
        ).fetchone()
        if row is None:
            self.db.execute(
                "INSERT INTO firmware_distributions VALUES (?, ?, ?, 0, ?, ?, NULL)",
                (hub, image, json.dumps(devices), request_id, time.time()),
            )
            return
        merged = sorted(set(json.loads(row[0])) | set(devices))
        self.db.execute(
            "UPDATE firmware_distributions SET devices=?, request_id=?, finished=NULL "
            "WHERE hub=? AND image=?",
            (json.dumps(merged), request_id, hub, image),
        )

    def distributions(self, *, open_only: bool = False) -> list[Distribution]:
        """The distributions (unfinished ones only with ``open_only``), oldest first."""
        rows = self.db.execute(
            "SELECT d.hub, d.image, d.devices, d.held, i.size, d.request_id, d.finished "
            "FROM firmware_distributions d JOIN firmware_images i ON i.image = d.image "
            + ("WHERE d.finished IS NULL " if open_only else "")
            + "ORDER BY d.started"
        ).fetchall()
        return [
            Distribution(hub, image, tuple(json.loads(devices)), held, size, rid, finished)
            for hub, image, devices, held, size, rid, finished in rows
        ]

    def firmware_held(self, hub: str, image: str, held: int, finished: float | None) -> None:
        """What ``hub`` says it holds of ``image``; ``finished`` when it holds all of it."""
        self.db.execute(
            "UPDATE firmware_distributions SET held=?, finished=? WHERE hub=? AND image=?",
            (held, finished, hub, image),
        )

    # --- outbox ------------------------------------------------------------------------------
    def enqueue(self, user: str, url: str, request_id: str | None, kind: str, body: bytes) -> int:
        cur = self.db.execute(
            "INSERT INTO outbox (user, url, request_id, kind, body, next_at, state, created) "
            "VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
            (user, url, request_id, kind, body, time.time(), time.time()),
        )
        return int(cur.lastrowid or 0)

    def due(self, now: float) -> list[OutboxItem]:
        rows = self.db.execute(
            "SELECT id, user, url, request_id, kind, body, attempts FROM outbox "
            "WHERE state='pending' AND next_at<=? ORDER BY id LIMIT 50",
            (now,),
        ).fetchall()
        return [OutboxItem(*r) for r in rows]

    def next_due(self) -> float | None:
        row = self.db.execute("SELECT MIN(next_at) FROM outbox WHERE state='pending'").fetchone()
        return row[0]

    def delivered(self, item_id: int) -> None:
        self.db.execute("UPDATE outbox SET state='delivered', body=NULL WHERE id=?", (item_id,))

    def retry(self, item_id: int, next_at: float | None, error: str) -> None:
        if next_at is None:
            self.db.execute(
                "UPDATE outbox SET state='failed', attempts=attempts+1, last_error=?, next_at=? "
                "WHERE id=?",
                (error, time.time(), item_id),
            )
        else:
            self.db.execute(
                "UPDATE outbox SET attempts=attempts+1, next_at=?, last_error=? WHERE id=?",
                (next_at, error, item_id),
            )

    def requeue_failed(self, user: str | None = None) -> int:
        cur = self.db.execute(
            "UPDATE outbox SET state='pending', next_at=?, attempts=0 WHERE state='failed'"
            + (" AND user=?" if user else ""),
            (time.time(), user) if user else (time.time(),),
        )
        return cur.rowcount

    def purge_failed(self, older_than: float) -> int:
        return self.db.execute(
            "DELETE FROM outbox WHERE state='failed' AND next_at<?", (older_than,)
        ).rowcount

    def outbox_summary(self) -> dict[str, int]:
        return {
            state: n
            for state, n in self.db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state")
        }
