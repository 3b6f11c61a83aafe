"""A device's trust anchor cells: whom it takes commands from, kept as a meter keeps them.

One cell per remote party role and key usage (the supplier's DS, KA and prepayment top-up
KA; the network operator's DS and KA; the ACB's KA; the transitional CoS party's DS). The
cells are seeded once from the node's configuration and then live in the node's state
folder (``trust-anchors.json``): what a CS02b writes into them (6.23's change of supplier)
survives a power cut, and the party that lost a cell is unknown to the device from then on.
HAN peers' KA keys (a GSME's PPMID) are not cells: they come from the configuration.
The same state keeps a future-dated CS02b the device holds (6.15.1), and apart from it a
future-dated CS02g (the load controller's cells, an ESME's), CS02c's key pairs not yet
certified and CS02d's certificates of the device's own (6.17, 6.15.2).

:meth:`TrustAnchors.find` answers as :class:`rig.protocol.keystore.KeyStore` does, so the
GBCS end and the UTRN check look keys up the same way whether a party holds a cell or is a
HAN peer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from nodes.config import TrustedCert
from rig.protocol import smki
from rig.protocol.eui import Eui64
from rig.protocol.gbcs.catalogue_credentials import (
    Cell,
    RemotePartyRole,
    Replacement,
    ReplacementOutcome,
    StatusCode,
)
from rig.protocol.keystore import Credential, KeyStore
from rig.protocol.smki import OrgRole, Usage
from rig.runtime.files import read_json, write_json

log = logging.getLogger("nodes.gbcs")
_CELL_ROLE = {  # the organisation role a certificate must carry to fill a cell
    RemotePartyRole.SUPPLIER: OrgRole.SUPPLIER,
    RemotePartyRole.NETWORK_OPERATOR: OrgRole.NETWORK_OPERATOR,
    RemotePartyRole.ACCESS_CONTROL_BROKER: OrgRole.ACCESS_CONTROL_BROKER,
    RemotePartyRole.TRANSITIONAL_COS: OrgRole.TRANSITIONAL_COS,
    RemotePartyRole.WAN_PROVIDER: OrgRole.WAN_PROVIDER,
    RemotePartyRole.RECOVERY: OrgRole.RECOVERY,
    RemotePartyRole.LOAD_CONTROLLER: OrgRole.LOAD_CONTROLLER,
}
# CS02g: the load controller cells also take the supplier's own certificates (RTDS's
# 6.15.1_CS02gLoadControllerBySupplier: the supplier acting as load controller)
_CELL_ROLE_ALSO = {RemotePartyRole.LOAD_CONTROLLER: OrgRole.SUPPLIER}


def _cell_of(t: TrustedCert) -> Cell:
    assert t.role is not None
    if t.usage is Usage.PP_KA:
        return Cell(RemotePartyRole(t.role), Usage.KA, top_up=True)
    return Cell(RemotePartyRole(t.role), t.usage)


def key_id(cert: x509.Certificate) -> bytes:
    """A certificate's subject key identifier (SMKI's 8 bytes)."""
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        key = cert.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey)
        return smki.key_identifier(key)


class TrustAnchors:
    """The cells, persisted in ``path``, and the HAN peers' keys."""

    def __init__(self, path: Path, seed: Iterable[TrustedCert]) -> None:
        self.path = path
        self.peers = KeyStore()
        self.cells: dict[Cell, x509.Certificate] = {}
        # a future-dated CS02b accepted and not yet carried out (JSON; :mod:`credentials`)
        self.held: dict[str, Any] | None = None
        # a future-dated CS02g (the load controller's cells) held apart from it
        self.held_load_controller: dict[str, Any] | None = None
        # CS02c's key pairs not yet certified, and CS02d's certificates, by key usage (PEM)
        self.pending_keys: dict[str, str] = {}
        self.own_certificates: dict[str, str] = {}
        # the key pairs CS02d certified, which the device now uses instead of its first ones
        self.own_keys: dict[str, str] = {}
        for t in seed:
            cert = x509.load_pem_x509_certificate(t.cert.read_bytes())
            if t.role is None:
                self.peers.add(t.eui, t.usage, cert)
            else:
                self.cells[_cell_of(t)] = cert
        saved = read_json(path, None)
        if saved is not None:  # what the device holds wins over the seed
            self.cells = {
                Cell(RemotePartyRole(c["role"]), Usage(c["usage"]), bool(c["top_up"])): (
                    x509.load_pem_x509_certificate(c["cert"].encode())
                )
                for c in saved["cells"]
            }
            self.held = saved.get("held")
            self.held_load_controller = saved.get("held_load_controller")
            self.pending_keys = dict(saved.get("pending_keys", {}))
            self.own_certificates = dict(saved.get("own_certificates", {}))
            self.own_keys = dict(saved.get("own_keys", {}))
        else:
            self._save()

    def _save(self) -> None:
        cells = [
            {
                "role": int(cell.role),
                "usage": cell.usage.value,
                "top_up": cell.top_up,
                "eui": smki.eui_of(cert).duis,
                "cert": cert.public_bytes(serialization.Encoding.PEM).decode(),
            }
            for cell, cert in self.cells.items()
        ]
        write_json(
            self.path,
            {
                "cells": cells,
                "held": self.held,
                "held_load_controller": self.held_load_controller,
                "pending_keys": self.pending_keys,
                "own_certificates": self.own_certificates,
                "own_keys": self.own_keys,
            },
        )
        self.path.chmod(0o600)  # it may hold the device's private keys

    def hold(self, held: dict[str, Any] | None) -> None:
        """Keep (None: drop) the future-dated CS02b the device holds, saved at once."""
        self.held = held
        self._save()

    def hold_load_controller(self, held: dict[str, Any] | None) -> None:
        """Keep (None: drop) the future-dated CS02g the device holds, saved at once."""
        self.held_load_controller = held
        self._save()

    def keep_own(
        self, usage: Usage, *, pending_key: str | None = None, certificate: str | None = None
    ) -> None:
        """Keep a CS02c key pair not yet certified, or a CS02d certificate (PEM), saved."""
        if pending_key is not None:
            self.pending_keys[usage.value] = pending_key
        if certificate is not None:
            self.own_certificates[usage.value] = certificate
        self._save()

    def adopt(self, usage: Usage, certificate: str) -> None:
        """Use CS02c's pending key pair of ``usage`` from now on, with its CS02d certificate
        (PEM), saved at once."""
        self.own_keys[usage.value] = self.pending_keys.pop(usage.value)
        self.own_certificates[usage.value] = certificate
        self._save()

    # --- looking up ---------------------------------------------------------------------------
    def find(self, eui: Eui64, usage: Usage) -> Credential | None:
        """The key of ``eui`` for ``usage`` this device trusts: a cell's (PP_KA: the
        supplier's top-up cell), else a HAN peer's."""
        for cell, cert in self.cells.items():
            if cell.top_up != (usage is Usage.PP_KA):
                continue
            if cell.usage is (Usage.KA if usage is Usage.PP_KA else usage) and (
                smki.eui_of(cert) == eui
            ):
                return Credential(eui, usage, cert)
        return self.peers.find(eui, usage)

    def role_of(self, eui: Eui64) -> RemotePartyRole | None:
        """The role in which this device knows ``eui`` (None: not a remote party of it)."""
        return next((c.role for c, cert in self.cells.items() if smki.eui_of(cert) == eui), None)

    def holder(self, role: RemotePartyRole) -> Eui64 | None:
        """Who holds the role's cells (its DS cell's, else its KA cell's, subject)."""
        for usage in (Usage.DS, Usage.KA):
            cert = self.cells.get(Cell(role, usage))
            if cert is not None:
                return smki.eui_of(cert)
        return None

    # --- CS02b --------------------------------------------------------------------------------
    def replace(
        self, replacements: Iterable[Replacement], path: Iterable[bytes]
    ) -> tuple[ReplacementOutcome, ...]:
        """Put each certificate into its cell if it is fit for it (issued by one of the
        certification path's certificates, the cell's role and key usage); the outcome of
        each, and the cells saved."""
        issuers = [x509.load_der_x509_certificate(c) for c in path]
        outcomes = []
        for r in replacements:
            existing = self.cells.get(r.cell)
            status, cert = self._check(r, issuers)
            if status is StatusCode.SUCCESS and cert is not None:
                self.cells[r.cell] = cert
            # what the cell holds after it (RTDS: a failed one repeats the existing subject)
            new = cert if status is StatusCode.SUCCESS else existing
            outcomes.append(
                ReplacementOutcome(
                    r.cell,
                    status,
                    b"" if existing is None else smki.eui_of(existing).raw,
                    b"" if existing is None else key_id(existing),
                    b"" if new is None else smki.eui_of(new).raw,
                    b"" if new is None else key_id(new),
                )
            )
            log.info(
                "gbcs.trust_anchor",
                extra={
                    "cell": str(r.cell),
                    "status": status.name,
                    "from": None if existing is None else smki.eui_of(existing).duis,
                    "to": smki.eui_of(cert).duis if status is StatusCode.SUCCESS and cert else None,
                },
            )
        self._save()
        return tuple(outcomes)

    def _check(
        self, r: Replacement, issuers: list[x509.Certificate]
    ) -> tuple[StatusCode, x509.Certificate | None]:
        if r.cell not in self.cells:
            return StatusCode.TRUST_ANCHOR_NOT_FOUND, None
        try:
            cert = x509.load_der_x509_certificate(r.certificate)
            usage, role = smki.usage_of(cert), smki.role_of(cert)
            smki.eui_of(cert)
        except (ValueError, smki.ProfileError):
            return StatusCode.BAD_CERTIFICATE, None
        fit = (_CELL_ROLE.get(r.cell.role), _CELL_ROLE_ALSO.get(r.cell.role))
        if usage is not r.cell.usage or role not in fit:
            return StatusCode.BAD_CERTIFICATE, None
        if not any(smki.issued_by(cert, issuer) for issuer in issuers):
            # a path of CA certificates none of which issued it: its trust anchor is not
            # there (RTDS: 10); a path that is no CA's: a bad certificate
            cas = [i for i in issuers if _is_ca(i)]
            if cas and len(cas) == len(issuers):
                return StatusCode.NO_TRUST_ANCHOR, None
            return StatusCode.BAD_CERTIFICATE, None
        return StatusCode.SUCCESS, cert


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False
