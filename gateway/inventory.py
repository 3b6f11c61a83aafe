"""The DCC's smart metering inventory: every device it knows, with its type, hub, status
and responsible parties, persisted in the gateway's store, and the device status machine.

The rig description seeds it (a node with ``install: boxed`` is not in it: it is on the
bench, powered, and unknown to the DCC until 12.2 pre-notifies it). From then on the DCC's
own services change it (12.2 Device Pre-notification, 8.3 Decommission, 8.4 Update
Inventory), and what it holds survives a gateway restart; ``rig reset`` starts it again
from the description.

The status machine (DUIS's device statuses, :data:`STATUSES`): which device SRVs a status
allows (:func:`allows`; the rest are refused E5 at admission), and which statuses a user
may set with 8.4 (:data:`SETTABLE`). The rig's reading of DUIS, stated where DUIS leaves
room: a device that is not yet commissioned (Whitelisted or InstalledNotCommissioned)
takes only what installing and commissioning it needs (:data:`INSTALL_SRVS`), so a meter
read before 8.1.1 is refused E5; Pending, Decommissioned, Withdrawn, Suspended, Recovery
and Recovered take none.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from lxml import etree

from gateway.config import DCC_CELLS, DeviceConfig
from rig.protocol.duis.xml import text
from rig.protocol.eui import Eui64, EuiError

PENDING = "Pending"
WHITELISTED = "Whitelisted"
INSTALLED = "InstalledNotCommissioned"
COMMISSIONED = "Commissioned"
DECOMMISSIONED = "Decommissioned"
WITHDRAWN = "Withdrawn"
# when an Effect is recorded: on the device's successful answer, on its alert that it carried
# out the command it held (future-dated), or (a cancellation) the held one forgotten
NOW, HELD, CANCEL = "now", "held", "cancel"
STATUSES = (
    PENDING,
    WHITELISTED,
    INSTALLED,
    COMMISSIONED,
    DECOMMISSIONED,
    WITHDRAWN,
    "Suspended",
    "Recovery",
    "Recovered",
)
# the device SRVs a device being installed takes: commission, join and unjoin, its device
# log, its security credentials, its firmware, its clock
INSTALL_SRVS = frozenset(
    {
        "8.1.1",
        "8.7.1",
        "8.7.2",
        "8.8.1",
        "8.8.2",
        "8.9",
        "8.11",
        "8.12.1",
        "8.12.2",
        "6.11",
        "6.15.1",
        "6.15.2",
        "6.17",
        "6.21",
        "6.23",
        "6.24.1",
        "6.24.2",
        "11.2",
        "11.3",
    }
)
# 8.4's status updates: to these statuses, from these (UpdateDeviceStatusExceptCH for any
# device but a CHF, UpdateDeviceStatusCH for a CHF)
SETTABLE = {
    False: {PENDING: {INSTALLED, WHITELISTED}, INSTALLED: {PENDING, WHITELISTED}},
    True: {
        COMMISSIONED: {INSTALLED, WHITELISTED, PENDING},
        WITHDRAWN: {INSTALLED, COMMISSIONED, WHITELISTED, PENDING},
        INSTALLED: {PENDING, WHITELISTED, COMMISSIONED},
    },
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS inventory (
    eui TEXT PRIMARY KEY, type TEXT, hub TEXT, status TEXT, supplier TEXT, operator TEXT,
    controlled INTEGER NOT NULL DEFAULT 0, handed_over TEXT NOT NULL DEFAULT '');
"""
_COLUMNS = "eui, type, hub, status, supplier, operator, controlled, handed_over"
_VALUES = ", ".join("?" * len(_COLUMNS.split(", ")))


def allows(status: str, srv: str) -> bool:
    """Whether a device of ``status`` may be sent device SRV ``srv``."""
    if status == COMMISSIONED:
        return True
    if status in (WHITELISTED, INSTALLED):
        return srv in INSTALL_SRVS
    return False


def _hex(eui: Eui64 | None) -> str | None:
    return None if eui is None else eui.hex


def _eui(text: str | None) -> Eui64 | None:
    return None if text is None else Eui64.parse(text)


class Inventory(Mapping[Eui64, DeviceConfig]):
    """The inventory, read from and written to the gateway's store (one table), seeded once
    with ``seed`` (the description's devices)."""

    def __init__(self, db: sqlite3.Connection, seed: Iterable[DeviceConfig]) -> None:
        self.db = db
        self.db.executescript(_SCHEMA)
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(inventory)")}
        if "controlled" not in columns:  # a store from before DCC controlled devices
            self.db.execute(
                "ALTER TABLE inventory ADD COLUMN controlled INTEGER NOT NULL DEFAULT 0"
            )
        if "handed_over" not in columns:  # a store from before 6.21 was recorded
            self.db.execute("ALTER TABLE inventory ADD COLUMN handed_over TEXT NOT NULL DEFAULT ''")
        for device in seed:
            self.db.execute(
                f"INSERT OR IGNORE INTO inventory ({_COLUMNS}) VALUES ({_VALUES})",
                self._row(device),
            )

    @staticmethod
    def _row(d: DeviceConfig) -> tuple:
        return (
            d.eui.hex,
            d.type,
            _hex(d.hub),
            d.status,
            _hex(d.supplier),
            _hex(d.network_operator),
            int(d.dcc_controlled),
            " ".join(d.handed_over),
        )

    @staticmethod
    def _device(row: tuple) -> DeviceConfig:
        eui, kind, hub, status, supplier, operator, controlled, handed_over = row
        return DeviceConfig(
            Eui64.parse(eui), kind, _eui(hub), status, _eui(supplier), _eui(operator),
            bool(controlled), tuple(handed_over.split()),
        )  # fmt: skip

    def __getitem__(self, eui: Eui64) -> DeviceConfig:
        row = self.db.execute(
            f"SELECT {_COLUMNS} FROM inventory WHERE eui=?", (eui.hex,)
        ).fetchone()
        if row is None:
            raise KeyError(eui)
        return self._device(row)

    def __iter__(self) -> Iterator[Eui64]:
        rows = self.db.execute("SELECT eui FROM inventory ORDER BY rowid").fetchall()
        return iter([Eui64.parse(r[0]) for r in rows])

    def __len__(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM inventory").fetchone()[0])

    def values(self) -> list[DeviceConfig]:  # type: ignore[override]
        rows = self.db.execute(f"SELECT {_COLUMNS} FROM inventory ORDER BY rowid").fetchall()
        return [self._device(r) for r in rows]

    def put(self, device: DeviceConfig) -> None:
        """Add ``device``, or replace what the inventory holds for its EUI."""
        self.db.execute(
            f"INSERT OR REPLACE INTO inventory ({_COLUMNS}) VALUES ({_VALUES})",
            self._row(device),
        )

    def set_status(self, eui: Eui64, status: str) -> DeviceConfig:
        if status not in STATUSES:
            raise ValueError(f"{status!r} is not a DUIS device status: {', '.join(STATUSES)}")
        device = replace(self[eui], status=status)
        self.put(device)
        return device

    def delete(self, eui: Eui64) -> None:
        self.db.execute("DELETE FROM inventory WHERE eui=?", (eui.hex,))


# --- what a device's successful answer changes ----------------------------------------------
@dataclass(frozen=True, slots=True)
class Effect:
    """A change the DCC records when the device answers a request with success: ``device``
    moves to ``status`` if it is in one of ``before``; or (``supplier``) its responsible
    supplier becomes that user (6.23's change of supplier). ``timing`` "held": the device
    holds the command until its time (a future-dated 6.23), and the change waits for the
    device's alert that it was carried out (:mod:`gateway.cos`); "cancel": the request
    cancels the one the device holds. ``handed_over``: 6.21 handed over the device's cells
    of that role (DUIS's RemotePartyRole), which the ACB no longer holds."""

    device: Eui64
    status: str | None
    before: tuple[str, ...]
    supplier: Eui64 | None = None
    timing: str = NOW
    certificate: bytes | None = None  # 6.15.2's: the DCC uses it once the device took it
    handed_over: str | None = None

    def to_json(self) -> str:
        raw: dict[str, Any] = {
            "device": self.device.hex, "status": self.status, "before": self.before
        }  # fmt: skip
        if self.supplier is not None:
            raw["supplier"] = self.supplier.hex
        if self.timing != NOW:
            raw["timing"] = self.timing
        if self.certificate is not None:
            raw["certificate"] = self.certificate.hex()
        if self.handed_over is not None:
            raw["handed_over"] = self.handed_over
        return json.dumps(raw)

    @classmethod
    def from_json(cls, data: str) -> Effect:
        raw = json.loads(data)
        supplier = _eui(raw.get("supplier"))
        return cls(
            Eui64.parse(raw["device"]),
            raw["status"],
            tuple(raw["before"]),
            supplier,
            raw.get("timing", NOW),
            bytes.fromhex(raw["certificate"]) if raw.get("certificate") else None,
            raw.get("handed_over"),
        )

    def apply(self, inventory: Inventory) -> DeviceConfig | None:
        """The device as changed, or None when it is no longer in a status ``before``."""
        held = inventory.get(self.device)
        if held is None:
            return None
        if self.supplier is not None:
            changed = replace(held, supplier=self.supplier)
            inventory.put(changed)
            return changed
        if self.handed_over is not None:
            roles = tuple(sorted({*held.handed_over, self.handed_over}))
            changed = replace(held, handed_over=roles)
            inventory.put(changed)
            return changed
        if self.status is None or held.status not in self.before:
            return None
        return inventory.set_status(self.device, self.status)


def effect_of(
    srv: str, body: etree._Element, target: Eui64, sender: Eui64, payload: bytes = b""
) -> Effect | None:
    """What a successful answer to ``srv`` (to ``target``, with this body, from ``sender``)
    changes in the inventory: 8.11 adding a Pending device to the CHF's device log makes it
    Whitelisted; 8.1.1 commissioning a Whitelisted or InstalledNotCommissioned device makes
    it Commissioned; 6.23 makes the sender (the gaining supplier) the device's responsible
    supplier, at once or (future-dated) when the device carries it out; 6.15.2 makes the
    device certificate its command carries (``payload``) the one the DCC uses; 6.21, carried
    out at once, hands over the cells of the role it names (the ACB holds them no more)."""
    if srv == "6.21" and text(body, "sr:ExecutionDateTime") is None:
        role = (text(body, "sr:RemotePartyRole") or "").strip()
        return Effect(target, None, (), handed_over=role) if role in DCC_CELLS else None
    if srv == "6.15.2":  # CS02d's payload is the certificate, whole (a CV 5 body has none)
        return Effect(target, None, (), certificate=payload)
    if srv == "6.23":
        when = text(body, "sr:ExecutionDateTime")
        timing = NOW if when is None else CANCEL if when.startswith("3000-12-31") else HELD
        return Effect(target, None, (), supplier=sender, timing=timing)
    if srv == "8.1.1":
        return Effect(target, COMMISSIONED, (WHITELISTED, INSTALLED))
    if srv != "8.11" or text(body, "sr:RequestType") != "Add":
        return None
    try:
        device = Eui64.parse(text(body, "sr:DeviceID") or "")
    except EuiError:
        return None
    return Effect(device, WHITELISTED, (PENDING,))
