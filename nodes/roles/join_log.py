"""A device's own log of the HAN devices it has joined with (GBCS 13.7: the Device Log of a
meter or a PPMID), kept in its state folder so that it survives a restart.

Each entry is the other device's EUI, its device type as a join carries it, the method and
role it was joined by and, for Method C, the other device's KA certificate. A join of an
entity already logged with another device type is refused (3), one more than the log
holds too (4), and one the log cannot be written for fails (5), leaving the log as it was.

The log starts as a commissioned device's does, from what its node config names: a PPMID
joined with the ESME it reads (Method A, responder) and the GSME it tops up (Method C,
with the GSME's KA certificate); a GSME with each PPMID whose KA certificate it trusts
(Method C). An ESME's config names none of its HAN peers, so its log starts empty.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from nodes.config import NodeConfig
from rig.protocol import smki
from rig.protocol.eui import Eui64
from rig.protocol.gbcs.catalogue_join import (
    UNJOINED_BY,
    JoinDeviceType,
    JoinRequest,
    JoinResult,
    Method,
    UnjoinResult,
)
from rig.protocol.smki import Usage
from rig.runtime.files import read_json, write_json

log = logging.getLogger("nodes.join_log")
JOIN_LOG_FILE = "join-log.json"
CAPACITY = 16  # entries a device log holds (SMETS: at least 5 other devices)


@dataclass(frozen=True, slots=True)
class JoinEntry:
    """One device this device has joined with."""

    eui: Eui64
    device_type: int  # as a join carries it (catalogue_join.JoinDeviceType)
    method: int  # joinMethodAndRole (catalogue_join.Method)
    certificate: bytes | None = None  # Method C: the other device's KA certificate (DER)

    def to_json(self) -> dict[str, Any]:
        return {
            "eui": self.eui.duis,
            "device_type": self.device_type,
            "method": self.method,
            "certificate": None if self.certificate is None else self.certificate.hex(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JoinEntry:
        cert = data.get("certificate")
        return cls(
            Eui64.parse(data["eui"]),
            int(data["device_type"]),
            int(data["method"]),
            None if cert is None else bytes.fromhex(cert),
        )


class JoinLogUnreadable(OSError):
    """The log's file is there but is not a join log (CS07 answers a read failure)."""


class JoinLog:
    """The devices this device has joined with, in the order it joined them."""

    def __init__(self, path: Path, seed: Iterable[JoinEntry] = (), *, device: str = "") -> None:
        self.path = path
        self.device = device
        saved = read_json(path)
        self._entries: dict[Eui64, JoinEntry] | None
        if saved is None and not path.exists():
            self._entries = {e.eui: e for e in seed}
            self._write(self._entries)
        else:
            self._entries = self._parse(saved)

    def _parse(self, saved: Any) -> dict[Eui64, JoinEntry] | None:
        try:
            entries = [JoinEntry.from_json(e) for e in saved["entries"]]
        except (TypeError, KeyError, ValueError):
            extra = {"device": self.device, "path": str(self.path)}
            log.warning("join_log.unreadable", extra=extra)
            return None
        return {e.eui: e for e in entries}

    def _write(self, entries: dict[Eui64, JoinEntry]) -> None:
        write_json(self.path, {"entries": [e.to_json() for e in entries.values()]})

    def entries(self) -> list[JoinEntry]:
        """The log, in joining order (JoinLogUnreadable when its file is not a join log)."""
        if self._entries is None:
            raise JoinLogUnreadable(f"{self.path} is not a join log: remove it to start afresh")
        return list(self._entries.values())

    def get(self, eui: Eui64) -> JoinEntry | None:
        return None if self._entries is None else self._entries.get(eui)

    def join(self, request: JoinRequest) -> JoinResult:
        """Add (or renew) the entry a valid join asks for; the result GBCS answers with."""
        if self._entries is None:
            return JoinResult.WRITE_FAILURE
        eui = Eui64(request.entity)
        known = self._entries.get(eui)
        if known is not None and known.device_type != request.device_type:
            log.warning(
                "join_log.incompatible",
                extra={"device": self.device, "other": eui.duis, "logged": known.device_type},
            )
            return JoinResult.INCOMPATIBLE
        if known is None and len(self._entries) >= CAPACITY:
            return JoinResult.LOG_FULL
        entry = JoinEntry(eui, request.device_type, request.method, request.certificate)
        updated = {**self._entries, eui: entry}
        try:
            self._write(updated)
        except OSError as exc:
            log.error("join_log.write_failed", extra={"device": self.device, "error": str(exc)})
            return JoinResult.WRITE_FAILURE
        self._entries = updated
        log.info(
            "join_log.joined",
            extra={
                "device": self.device,
                "other": eui.duis,
                "device_type": JoinDeviceType(request.device_type).name,
                "method": Method(request.method).name,
            },
        )
        return JoinResult.SUCCESS

    def unjoin(self, entity: bytes, use_case: str) -> UnjoinResult:
        """Remove the entry of ``entity`` that ``use_case`` (CS04AC, CS04B) unjoins."""
        if self._entries is None:
            return UnjoinResult.OTHER_FAILURE
        eui = Eui64(entity)
        known = self._entries.get(eui)
        if known is None:
            return UnjoinResult.NOT_IN_LOG
        if known.method not in UNJOINED_BY[use_case]:  # joined by Method B, unjoined by AC
            log.warning(
                "join_log.other_method",
                extra={"device": self.device, "other": eui.duis, "method": known.method},
            )
            return UnjoinResult.OTHER_FAILURE
        updated = {k: v for k, v in self._entries.items() if k != eui}
        try:
            self._write(updated)
        except OSError as exc:
            log.error("join_log.write_failed", extra={"device": self.device, "error": str(exc)})
            return UnjoinResult.OTHER_FAILURE
        self._entries = updated
        log.info("join_log.unjoined", extra={"device": self.device, "other": eui.duis})
        return UnjoinResult.SUCCESS


def _certificate(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _ka_certificate(config: NodeConfig, eui: Eui64) -> bytes | None:
    """The DER of ``eui``'s KA certificate among those the device trusts, if there."""
    if config.gbcs is None:
        return None
    for trusted in config.gbcs.trusted:
        if trusted.eui == eui and trusted.usage is Usage.KA:
            return _der(_certificate(trusted.cert))
    return None


def seed_of(config: NodeConfig) -> list[JoinEntry]:
    """What a commissioned device of this config has joined with (see the module's doc)."""
    seed: list[JoinEntry] = []
    if config.role == "ppmid":
        if config.han.esme is not None:
            seed.append(JoinEntry(config.han.esme, JoinDeviceType.ESME, Method.A_RESPONDER))
        if config.han.gsme is not None:
            cert = _ka_certificate(config, config.han.gsme)
            seed.append(JoinEntry(config.han.gsme, JoinDeviceType.GSME, Method.C, cert))
    elif config.role == "gsme" and config.gbcs is not None:
        for trusted in config.gbcs.trusted:
            if trusted.usage is not Usage.KA or trusted.eui == config.gbcs.acb:
                continue
            ka = _certificate(trusted.cert)
            if smki.role_of(ka) is None:  # a device's, not a DCC User's: its PPMID
                seed.append(JoinEntry(trusted.eui, JoinDeviceType.PPMID, Method.C, _der(ka)))
    return seed


def open_join_log(config: NodeConfig) -> JoinLog:
    """The device's join log, in its state folder, seeded on first power-on."""
    return JoinLog(config.state_dir / JOIN_LOG_FILE, seed_of(config), device=config.eui.duis)
