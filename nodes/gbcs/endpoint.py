"""A meter's GBCS end: authenticate a command, refuse replays, have it served, raise alerts.

A command from a remote party must carry the access control broker's MAC (the device's
KA key against the ACB's), a HAN-only one (PCS01 from the PPMID) its sender's MAC; its
originator must hold one of the device's trust anchor cells (:mod:`nodes.gbcs.trust`); a
critical one (or one a DCC party signs, 6.23's CS02b) also carries the originator's
signature, checked against its cell's DS key; its counter must be above the last one
accepted from that originator (persisted, so a power cut does not reopen old counters); its
payload must be exactly what its use case declares. Anything else is discarded and logged,
as a meter does: no answer goes back. A command refused for its signature raises 0x8F3D
(Trusted Source Authentication Failure), one refused for its MAC or its originator 0x8F53
(Failed Authentication or Authorisation), to the device's supplier (:attr:`on_refused`).
An accepted command is served by the handler its use case has on this device
(:mod:`nodes.gbcs.handlers`). Alerts count with their own persisted counter.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from nodes.config import GbcsConfig
from nodes.gbcs.cosem_server import CosemError
from nodes.gbcs.handlers import Context, ServedDevice, handler_for
from nodes.gbcs.trust import TrustAnchors
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import alerts, security
from rig.protocol.gbcs.catalogue import (
    AUTHENTICATION_FAILURE,
    CATALOGUE,
    TRUSTED_SOURCE_AUTHENTICATION_FAILURE,
)
from rig.protocol.gbcs.catalogue_credentials import RemotePartyRole
from rig.protocol.gbcs.dlms import Data
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.replay import CounterGuard, ReplayError
from rig.protocol.gbcs.usecase import Protection, UseCase, check_command
from rig.protocol.keystore import private_key_from_pem
from rig.protocol.smki import Usage
from rig.runtime.files import read_json, write_json

log = logging.getLogger("nodes.gbcs")
_SIGNED_BY = {"TransCoS": RemotePartyRole.TRANSITIONAL_COS}


class Refusal(security.SecurityError):
    """A command refused for its authentication or authorisation, and the alert it raises."""

    def __init__(self, message: str, alert_code: int) -> None:
        super().__init__(message)
        self.alert_code = alert_code


class GbcsEndpoint:
    def __init__(self, eui: Eui64, device_type: str, keys: GbcsConfig, state_dir: Path) -> None:
        self.eui = eui
        self.device_type = device_type
        self._first_keys = {
            Usage.DS: private_key_from_pem(keys.ds.key.read_bytes(), str(keys.ds.key)),
            Usage.KA: private_key_from_pem(keys.ka.key.read_bytes(), str(keys.ka.key)),
        }
        self._adopted: dict[Usage, tuple[str, ec.EllipticCurvePrivateKey]] = {}
        self.acb = keys.acb
        self.alerts_to = keys.alerts_to
        self._configured_supplier = keys.supplier
        self._own_certificates = {Usage.DS: keys.ds.cert, Usage.KA: keys.ka.cert}
        self.trust = TrustAnchors(state_dir / "trust-anchors.json", keys.trusted)
        # how the device raises a generic alert (its code) to its supplier: a refused command's,
        # a handler's (the join service's); set by its role
        self.on_refused: Callable[[int], None] | None = None
        self.counters_path = state_dir / "gbcs-counters.json"
        saved = read_json(self.counters_path, {}) or {}
        self.guard = CounterGuard.from_json(saved.get("accepted", {}))
        self.alert_counter = int(saved.get("alert_counter", 0))
        self.accepted = self.discarded = 0

    def _save(self) -> None:
        write_json(
            self.counters_path,
            {"accepted": self.guard.to_json(), "alert_counter": self.alert_counter},
        )

    @property
    def supplier(self) -> Eui64 | None:
        """The responsible supplier: whoever holds the supplier cells now (a change of
        supplier moves them), else the one the configuration names."""
        return self.trust.holder(RemotePartyRole.SUPPLIER) or self._configured_supplier

    def seq_number(self, party: Eui64) -> int:
        """The last counter this device accepted from ``party`` (0: none yet)."""
        return self.guard.last.get((party.raw, self.eui.raw), 0)

    def own_key(self, usage: Usage) -> ec.EllipticCurvePrivateKey:
        """The device's private key of ``usage`` (DS or KA): the one a CS02d certified since,
        else the one it was made with."""
        pem = self.trust.own_keys.get(usage.value)
        if pem is None:
            return self._first_keys[usage]
        cached = self._adopted.get(usage)
        if cached is None or cached[0] != pem:
            key = private_key_from_pem(pem.encode(), f"{usage.value} key CS02d certified")
            cached = self._adopted[usage] = (pem, key)
        return cached[1]

    @property
    def ds(self) -> ec.EllipticCurvePrivateKey:
        return self.own_key(Usage.DS)

    @property
    def ka(self) -> ec.EllipticCurvePrivateKey:
        return self.own_key(Usage.KA)

    def own_certificate(self, usage: Usage) -> bytes | None:
        """The device's own certificate of ``usage`` (DER), None if it holds none: the one a
        CS02d gave it, else the one it was made with."""
        pem = self.trust.own_certificates.get(usage.value)
        if pem is not None:
            cert = x509.load_pem_x509_certificate(pem.encode())
        else:
            path = self._own_certificates.get(usage)
            if path is None or not path.is_file():
                return None
            cert = x509.load_pem_x509_certificate(path.read_bytes())
        return cert.public_bytes(serialization.Encoding.DER)

    def peer_ka(self, eui: Eui64) -> ec.EllipticCurvePublicKey:
        cred = self.trust.find(eui, Usage.KA)
        if cred is None:
            raise security.SecurityError(f"no KA certificate for {eui.duis}")
        return cred.public_key

    def _authenticate(self, msg: GbcsMessage, uc: UseCase) -> None:
        originator = Eui64(msg.header.originator)
        if uc.sent_by is not None:  # HAN-only (PCS01 from the PPMID): its sender's MAC
            security.verify_mac(msg, self.ka, self.peer_ka(originator))
            return
        try:
            security.verify_mac(msg, self.ka, self.peer_ka(self.acb))
        except security.SecurityError as exc:
            raise Refusal(str(exc), AUTHENTICATION_FAILURE) from None
        if uc.signed:
            ds = self.trust.find(originator, Usage.DS)
            if ds is None:
                raise Refusal(
                    f"{originator.duis} signed it, but holds no DS trust anchor on this device",
                    TRUSTED_SOURCE_AUTHENTICATION_FAILURE,
                )
            try:
                security.verify_signature(msg, ds.public_key)
            except security.SecurityError as exc:
                raise Refusal(str(exc), TRUSTED_SOURCE_AUTHENTICATION_FAILURE) from None
        role = self.trust.role_of(originator)
        if role is None:
            raise Refusal(
                f"{originator.duis} holds no trust anchor cell on this device: not a remote "
                "party of it (a supplier that lost it on a change of supplier?)",
                AUTHENTICATION_FAILURE,
            )
        wanted = _SIGNED_BY.get(uc.signed_by or "")
        if wanted is not None and role is not wanted:
            raise Refusal(
                f"{uc.name} is {uc.signed_by}'s; {originator.duis} is the {role.name.lower()}",
                AUTHENTICATION_FAILURE,
            )

    def _admit(self, raw: bytes) -> tuple[UseCase, GbcsMessage]:
        msg = GbcsMessage.decode(raw)
        h = msg.header
        if h.recipient != self.eui.raw:
            raise DecodeError(f"addressed to {Eui64(h.recipient).duis}, not to this device", 0)
        uc = check_command(msg, CATALOGUE)
        if self.device_type not in uc.device_types:
            raise DecodeError(f"{uc.name} is not a {self.device_type} use case", 0)
        self._authenticate(msg, uc)
        self.guard.accept(h.originator, h.recipient, h.counter)
        return uc, msg

    async def handle(self, raw: bytes, device: ServedDevice) -> bytes | None:
        """The protected answer to a command, or None when it is discarded."""
        try:
            uc, msg = self._admit(raw)
        except (DecodeError, security.SecurityError, ReplayError) as exc:
            self.discarded += 1
            log.warning("gbcs.discarded", extra={"device": self.eui.duis, "error": str(exc)})
            if isinstance(exc, Refusal) and self.on_refused is not None:
                self.on_refused(exc.alert_code)
            return None
        self._save()
        self.accepted += 1
        h = msg.header
        extra = {
            "device": self.eui.duis,
            "use_case": uc.name,
            "counter": h.counter,
            "originator": Eui64(h.originator).duis,
        }
        log.info("gbcs.accepted", extra=extra)
        context = Context(
            device,
            self.ds,
            self.ka,
            self.peer_ka,
            originator_counter=self.next_counter,
            anchors=self.trust,
            raise_alert=self.on_refused,
            seq_number=self.seq_number,
            own_certificate=self.own_certificate,
        )
        try:
            response = await handler_for(uc)(uc, msg, context)
        except (DecodeError, security.SecurityError, CosemError) as exc:
            log.warning("gbcs.not_executed", extra={**extra, "error": str(exc)})
            return None
        return response.encode()

    def alert(
        self,
        uc: UseCase,
        fields: list[Data],
        *,
        code: int | None = None,
        recipient: Eui64 | None = None,
    ) -> bytes:
        """A DLMS alert of this device, with the next alert counter, to ``recipient`` (by
        default its network operator).

        ``code`` is the GBCS alert code, one ``uc`` declares (ValueError otherwise, and no
        counter is spent); None raises the use case's default code. A MAC'd alert is MAC'd
        for the recipient's KA key."""
        to, code, recipient_ka = self._next_alert(uc, code, recipient)
        msg = alerts.dlms_alert(
            uc,
            self.alert_counter,
            self.eui.raw,
            to.raw,
            fields,
            self.ds,
            self.ka,
            recipient_ka,
            code=code,
        )
        return msg.encode()

    def gbz_alert(
        self, uc: UseCase, when: dt.datetime, *, code: int, recipient: Eui64 | None = None
    ) -> bytes:
        """A GBZ alert of this device (the GSME's generic alerts), as :meth:`alert`."""
        to, code, recipient_ka = self._next_alert(uc, code, recipient)
        msg = alerts.gbz_alert(
            uc,
            self.alert_counter,
            self.eui.raw,
            to.raw,
            when,
            self.ds,
            self.ka,
            recipient_ka,
            code=code,
        )
        return msg.encode()

    def _next_alert(
        self, uc: UseCase, code: int | None, recipient: Eui64 | None
    ) -> tuple[Eui64, int, ec.EllipticCurvePublicKey | None]:
        """Whom an alert goes to, its code and the key it is MAC'd for; the counter it takes
        (none is spent on a code ``uc`` does not declare)."""
        to = recipient or self.alerts_to
        if to is None:
            raise ValueError(f"{self.eui.duis} has no network operator to send {uc.name} to")
        code = uc.declared_code(code)
        recipient_ka = None if uc.response is Protection.SIGNATURE else self.peer_ka(to)
        self.next_counter()
        return to, code, recipient_ka

    def next_counter(self) -> int:
        """The device's next originator counter (persisted first): its alerts count with
        it, and so does a response to an unknown remote party."""
        self.alert_counter += 1
        self._save()
        return self.alert_counter
