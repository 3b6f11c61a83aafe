"""A device's handlers of the security credential use cases (CS02x); issue 16.

CS02b SupplierByTransCoS (6.23, the change of supplier): the GBCS end has checked TransCoS's
signature against its cell and its counter; the device then checks the command names that
counter as the authorising party's sequence number and replaces only supplier cells, puts
each certificate fit for its cell into it (:meth:`nodes.gbcs.trust.TrustAnchors.replace`),
and answers, signed and dated, with each replacement's outcome as RTDS's ESME does. A
future-dated one (6.23 with an ExecutionDateTime) is held and carried out at its time as a
party's own is (below), its 0x00CB alert going to TransCoS, which the DCC passes to the
gaining supplier; dated 9999-12-31T23:59:59Z it cancels the one held.

CS02a / CS02f (6.24.1) and CS02e (6.24.2): the device reads back its cells (for each role
asked, the sequence number it is at and each cell's subject and key identifier) and its own
certificates, as RTDS's ESME answers them.

CS02b SupplierBySupplier / NOByNO (6.15.1, and 6.21's handover from the ACB): a party
replaces its own cells, immediately, future-dated (held in the trust anchor state, carried
out at its time with the 0x00CB alert) or cancelled. CS02d (6.15.2): the device takes a
certificate of its own for a key pair it holds; CS02c (6.17): it generates a key pair and
answers a PKCS#10 request for it. CS02g (6.15.1 LoadController, an ESME's): the supplier
replaces the load controller's cells, as a party's own CS02b is carried out. See the section
below for each.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from nodes.gbcs import (
    activation,  # its module: handlers imports both (a cycle)
    future,
)
from nodes.gbcs.handlers import Context, handles
from nodes.gbcs.trust import TrustAnchors, key_id
from rig.protocol import smki
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import security
from rig.protocol.gbcs.catalogue_credentials import (
    CANCEL,
    CS02A,
    CS02B_NO_BY_NO,
    CS02B_SUPPLIER_BY_SUPPLIER,
    CS02B_SUPPLIER_BY_TRANSCOS,
    CS02C,
    CS02D,
    CS02E,
    CS02F,
    CS02G_LOAD_CONTROLLER_BY_SUPPLIER,
    EXECUTED,
    FUTURE_DATED_LOAD_CONTROLLER_CREDENTIALS,
    LOAD_CONTROLLER_CELLS,
    NOT_EXECUTED,
    OWN_CREDENTIALS,
    Cell,
    CellDetails,
    CertificateError,
    CertificateUpdate,
    CredentialsQuery,
    ExecutionOutcome,
    RemotePartyRole,
    ReplacementMode,
    RoleCredentials,
    StatusCode,
    UpdateSecurityCredentials,
    certificate_answer,
    certificate_update_answer,
    credentials_answer,
    credentials_details,
    future_alert_code,
    future_credentials_payload,
    requested_usage,
)
from rig.protocol.gbcs.frame import Cra, GbcsMessage
from rig.protocol.gbcs.usecase import UseCase
from rig.protocol.keystore import private_key_from_pem
from rig.protocol.smki import Usage

log = logging.getLogger("nodes.gbcs")


@handles(CS02B_SUPPLIER_BY_TRANSCOS)
async def update_supplier_credentials(uc: UseCase, cmd: GbcsMessage, ctx: Context) -> GbcsMessage:
    if ctx.anchors is None:
        raise DecodeError(f"{uc.name}: this device holds no trust anchors", 0)
    update = UpdateSecurityCredentials.decode(cmd.payload)
    if update.mode is not ReplacementMode.SUPPLIER_BY_TRANSCOS:
        raise DecodeError(f"{uc.name}: replacement mode {update.mode.name}", 0)
    if update.seq_number != cmd.header.counter:
        raise DecodeError(
            f"{uc.name}: it names sequence number {update.seq_number}, not its counter", 0
        )
    if any(r.cell.role is not RemotePartyRole.SUPPLIER for r in update.replacements):
        raise DecodeError(f"{uc.name}: TransCoS replaces the supplier's cells only", 0)
    return ctx.answer(uc, cmd, credentials_answer(_carry_out(uc, update, cmd, ctx, ctx.anchors)))


# --- CS02a, CS02f, CS02e: the device's credentials read back ------------------------------------
# the roles a use case does not answer for (OTHER): CS02a knows no load controller, and
# CS02f does not give the transitional CoS party's (RTDS's ESME: 127)
_NOT_ANSWERED = {
    CS02A.name: frozenset({RemotePartyRole.LOAD_CONTROLLER}),
    CS02F.name: frozenset({RemotePartyRole.TRANSITIONAL_COS}),
}
# the roles whose party the device holds no sequence number for: the ACB's counters are the
# DCC's own, not a remote party's (RTDS's devices answer 0 for it while the ACB asks)
_NO_SEQ_NUMBER = frozenset({RemotePartyRole.ACCESS_CONTROL_BROKER})


def _role_credentials(
    uc: UseCase, role: RemotePartyRole, anchors: TrustAnchors, ctx: Context
) -> RoleCredentials:
    if role in _NOT_ANSWERED[uc.name]:
        return RoleCredentials(role, StatusCode.OTHER)
    held = sorted(
        ((c, cert) for c, cert in anchors.cells.items() if c.role is role),
        key=lambda held: (held[0].usage is not Usage.DS, held[0].top_up),
    )
    if not held:
        return RoleCredentials(role, StatusCode.TRUST_ANCHOR_NOT_FOUND)
    party = anchors.holder(role)
    seq = 0
    if role not in _NO_SEQ_NUMBER and party is not None and ctx.seq_number is not None:
        seq = ctx.seq_number(party)
    cells = tuple(CellDetails(c, smki.eui_of(cert).raw, key_id(cert)) for c, cert in held)
    return RoleCredentials(role, StatusCode.SUCCESS, seq, cells)


@handles(CS02A, CS02F)
async def provide_credentials(uc: UseCase, cmd: GbcsMessage, ctx: Context) -> GbcsMessage:
    if ctx.anchors is None:
        raise DecodeError(f"{uc.name}: this device holds no trust anchors", 0)
    query = CredentialsQuery.decode(cmd.payload)
    authorising = ctx.anchors.cells.get(query.authorising)
    if authorising is None or smki.eui_of(authorising).raw != cmd.header.originator:
        raise DecodeError(
            f"{uc.name}: the authorising cell ({query.authorising}) is not its sender's", 0
        )
    answers = tuple(_role_credentials(uc, r, ctx.anchors, ctx) for r in query.roles)
    log.info(
        "gbcs.credentials_read",
        extra={
            "use_case": uc.name,
            "roles": [f"{a.role.name.lower()} {a.status.name}" for a in answers],
        },
    )
    return ctx.answer(uc, cmd, credentials_details(answers))


@handles(CS02E)
async def provide_device_certificate(uc: UseCase, cmd: GbcsMessage, ctx: Context) -> GbcsMessage:
    usage = requested_usage(cmd.payload)
    answer: bytes | CertificateError = CertificateError.INVALID_KEY_USAGE
    if usage is not None:
        held = ctx.own_certificate(usage) if ctx.own_certificate is not None else None
        answer = CertificateError.NO_CERTIFICATE if held is None else held
    log.info(
        "gbcs.certificate_read",
        extra={
            "use_case": uc.name,
            "usage": None if usage is None else usage.value,
            "error": None if isinstance(answer, bytes) else answer.name,
        },
    )
    return ctx.answer(uc, cmd, certificate_answer(answer))


# --- CS02b by the party itself (6.15.1, 6.21), future-dated; CS02d; CS02c ----------------------
# A party replacing its own cells (the supplier's, the network operator's; on a handover the
# ACB that holds them): the GBCS end has checked the originator's signature against a DS cell
# of its; the device checks that cell is the authorising one the command names, that the
# replacements are of its role, and that the sequence number is the counter. Immediate, it
# replaces them (:meth:`TrustAnchors.replace`) and answers the outcome; future-dated it
# answers Command Accepted, holds the command in its trust anchor state (a power cut keeps
# it) and at its time (the handler's clock, polled as a future-dated CS06 is:
# :mod:`nodes.gbcs.activation`) carries it out and sends the requester the 0x00CB alert;
# dated 9999-12-31T23:59:59Z it drops the one held. After a restart,
# :func:`resume_credentials` arms what the state holds (for the meter's start to call).
@dataclass(frozen=True, slots=True)
class HeldUpdate:
    """A future-dated CS02b the device accepted and holds until its time."""

    payload: bytes  # the command's payload (UpdateSecurityCredentials)
    at: float  # UTC seconds since the Unix epoch
    requester: str  # the command's originator (DUIS EUI-64), to whom the alert goes

    def to_json(self) -> dict[str, Any]:
        return {"payload": self.payload.hex(), "at": self.at, "requester": self.requester}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HeldUpdate:
        return cls(bytes.fromhex(data["payload"]), float(data["at"]), str(data["requester"]))


@dataclass(frozen=True, slots=True)
class Holding:
    """Where a device keeps a kind of future-dated credentials update, and its timer's
    kind: CS02b's (a party's own cells, the supplier's on 6.23) or, apart, CS02g's (the load
    controller's cells), so that one's cancellation leaves the other held."""

    kind: str
    load_controller: bool = False

    def held(self, anchors: TrustAnchors) -> dict[str, Any] | None:
        return anchors.held_load_controller if self.load_controller else anchors.held

    def hold(self, anchors: TrustAnchors, held: dict[str, Any] | None) -> None:
        if self.load_controller:
            anchors.hold_load_controller(held)
        else:
            anchors.hold(held)


CS02B_HOLDING = Holding("credentials")
LOAD_CONTROLLER_HOLDING = Holding("load controller credentials", load_controller=True)


def holding_of(update: UpdateSecurityCredentials) -> Holding:
    """Where a future-dated ``update`` is held: CS02g's apart from CS02b's."""
    if future_alert_code(update.mode) == FUTURE_DATED_LOAD_CONTROLLER_CREDENTIALS:
        return LOAD_CONTROLLER_HOLDING
    return CS02B_HOLDING


def _authorised(
    uc: UseCase, update: UpdateSecurityCredentials, cmd: GbcsMessage, ctx: Context
) -> TrustAnchors:
    """The device's trust anchors, once the command is its originator's own replacement."""
    if ctx.anchors is None:
        raise DecodeError(f"{uc.name}: this device holds no trust anchors", 0)
    own = OWN_CREDENTIALS.get(update.authorising.role)
    if own is None or own != (uc, update.mode) or update.authorising.usage is not Usage.DS:
        raise DecodeError(f"{uc.name}: replacement mode {update.mode.name}", 0)
    _originator_authorises(uc, update, cmd, ctx.anchors)
    if any(r.cell.role is not update.authorising.role for r in update.replacements):
        raise DecodeError(f"{uc.name}: a party replaces its own role's cells only", 0)
    return ctx.anchors


def _originator_authorises(
    uc: UseCase, update: UpdateSecurityCredentials, cmd: GbcsMessage, anchors: TrustAnchors
) -> None:
    """The command names its own counter as the sequence number, and its authorising cell
    holds its originator's certificate; DecodeError (the command is not taken) otherwise."""
    if update.seq_number != cmd.header.counter:
        raise DecodeError(
            f"{uc.name}: it names sequence number {update.seq_number}, not its counter", 0
        )
    held = anchors.cells.get(update.authorising)
    if held is None or smki.eui_of(held).raw != cmd.header.originator:
        raise DecodeError(f"{uc.name}: the authorising cell is not its originator's", 0)


def _execute(anchors: TrustAnchors, update: UpdateSecurityCredentials) -> ExecutionOutcome:
    outcomes = anchors.replace(update.replacements, update.path)
    outcome = ExecutionOutcome(update.seq_number, update.mode, update.outcome_changes, outcomes)
    log.info(
        "gbcs.credentials_updated",
        extra={
            "mode": update.mode.name,
            "role": update.authorising.role.name.lower(),
            "succeeded": outcome.succeeded,
            "counter": update.seq_number,
        },
    )
    return outcome


@handles(CS02B_SUPPLIER_BY_SUPPLIER, CS02B_NO_BY_NO)
async def update_own_credentials(uc: UseCase, cmd: GbcsMessage, ctx: Context) -> GbcsMessage:
    update = UpdateSecurityCredentials.decode(cmd.payload)
    anchors = _authorised(uc, update, cmd, ctx)
    return ctx.answer(uc, cmd, credentials_answer(_carry_out(uc, update, cmd, ctx, anchors)))


def _carry_out(
    uc: UseCase,
    update: UpdateSecurityCredentials,
    cmd: GbcsMessage,
    ctx: Context,
    anchors: TrustAnchors,
) -> ExecutionOutcome | None:
    """An authorised CS02b carried out now (its outcome), held until its time, or the held
    one cancelled (None: the answer is Command Accepted alone)."""
    outcome = None
    holding = holding_of(update)
    if update.execute_at == CANCEL:
        dropped = holding.held(anchors) is not None
        holding.hold(anchors, None)
        log.info("gbcs.credentials_cancelled", extra={"use_case": uc.name, "held": dropped})
    elif update.execute_at is not None:
        if ctx.originator_counter is None:
            raise DecodeError(f"{uc.name}: this device cannot raise the update's alert", 0)
        held = HeldUpdate(
            cmd.payload, update.execute_at.timestamp(), Eui64(cmd.header.originator).duis
        )
        holding.hold(anchors, held.to_json())
        log.info(
            "gbcs.credentials_held",
            extra={"use_case": uc.name, "at": update.execute_at.isoformat()},
        )
        signer = activation.AlertSigner(Eui64(cmd.header.recipient), ctx.ds, ctx.originator_counter)
        arm_credentials(ctx.device, anchors, signer, ctx.now, holding)
    else:
        outcome = _execute(anchors, update)
    return outcome


def execute_if_due(
    anchors: TrustAnchors,
    signer: activation.AlertSigner,
    now: dt.datetime,
    holding: Holding | None = None,
) -> bytes | None:
    """Carry out the held future-dated CS02b (``holding``: CS02g's) if its time has come
    (``now``): the 0x00CB (CS02g: 0x0124) alert to its requester, or None when nothing is
    due."""
    holding = holding or CS02B_HOLDING
    found = holding.held(anchors)
    if found is None:
        return None
    held = HeldUpdate.from_json(found)
    if now.timestamp() < held.at:
        return None
    holding.hold(anchors, None)  # it runs once
    update = UpdateSecurityCredentials.decode(held.payload)
    outcome = _execute(anchors, update)
    executed = dt.datetime.fromtimestamp(held.at, dt.UTC)
    to = Eui64.parse(held.requester)
    alert = GbcsMessage.build(
        Cra.ALERT,
        signer.next_counter(),
        signer.eui.raw,
        to.raw,
        future_alert_code(update.mode),
        future_credentials_payload(executed, outcome),
    )
    log.info(
        "gbcs.alert",
        extra={
            "device": signer.eui.duis,
            "use_case": update.mode.name,
            "alert_code": f"{EXECUTED if outcome.succeeded else NOT_EXECUTED:04X}",
            "to": to.duis,
        },
    )
    return security.sign_message(alert, signer.ds).encode()


async def carry_out_credentials(
    device: Any,
    anchors: TrustAnchors,
    signer: activation.AlertSigner,
    clock: future.Clock,
    holding: Holding | None = None,
) -> None:
    """Wait for the held CS02b's (``holding``: CS02g's) time on ``clock``, carry it out and
    send the alert up (``device.send_up``). A CS02b that replaces or cancels it while
    waiting is taken as it is."""
    holding = holding or CS02B_HOLDING

    def due() -> float | None:
        held = holding.held(anchors)
        return None if held is None else float(held["at"])

    async def step(now: dt.datetime) -> bool:
        alert = execute_if_due(anchors, signer, now, holding)
        if alert is not None:
            await device.send_up(alert)
        return alert is not None

    await future.run_when_due(due, step, clock)


def arm_credentials(
    device: Any,
    anchors: TrustAnchors,
    signer: activation.AlertSigner,
    clock: future.Clock = future.utc_now,
    holding: Holding | None = None,
) -> None:
    """Have ``device`` carry out its held CS02b (``holding``: CS02g) at its time (once: a
    timer running already takes a new one as it comes)."""
    holding = holding or CS02B_HOLDING
    future.arm(
        device,
        holding.kind,
        lambda: carry_out_credentials(device, anchors, signer, clock, holding),
    )


def resume_credentials(device: Any, clock: future.Clock = future.utc_now) -> None:
    """After a restart: arm the CS02b (and the CS02g) the device's trust anchor state
    holds, if any (its GBCS end signs and counts the alert)."""
    gbcs = getattr(device, "gbcs", None)
    if gbcs is None:
        return
    for holding in (CS02B_HOLDING, LOAD_CONTROLLER_HOLDING):  # CS02g's too
        if holding.held(gbcs.trust) is not None:
            signer = activation.AlertSigner(gbcs.eui, gbcs.ds, gbcs.next_counter)
            arm_credentials(device, gbcs.trust, signer, clock, holding)


@handles(CS02D)
async def update_device_certificate(uc: UseCase, cmd: GbcsMessage, ctx: Context) -> GbcsMessage:
    """CS02d: the device takes a certificate of its own, for a key pair it holds (the one
    its current certificate of that usage certifies, or CS02c's pending one)."""
    result = _certificate_update(cmd, ctx)
    log.info("gbcs.device_certificate", extra={"use_case": uc.name, "result": result.name})
    return ctx.answer(uc, cmd, certificate_update_answer(result))


def _public(key: Any) -> bytes:
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)


def _certificate_update(cmd: GbcsMessage, ctx: Context) -> CertificateUpdate:
    try:
        cert = x509.load_der_x509_certificate(cmd.payload)
    except ValueError:
        return CertificateUpdate.BAD_CERTIFICATE
    try:
        usage = smki.usage_of(cert)
    except smki.ProfileError:
        return CertificateUpdate.INVALID_KEY_USAGE
    if usage not in (Usage.DS, Usage.KA):
        return CertificateUpdate.INVALID_KEY_USAGE
    try:
        subject = smki.eui_of(cert)
    except smki.ProfileError:
        return CertificateUpdate.BAD_CERTIFICATE
    if subject.raw != cmd.header.recipient:
        return CertificateUpdate.NOT_THIS_DEVICE
    given = _public(cert.public_key())
    current = ctx.own_certificate(usage) if ctx.own_certificate is not None else None
    pending = ctx.anchors.pending_keys.get(usage.value) if ctx.anchors is not None else None
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    if pending is not None and ctx.anchors is not None:
        key = private_key_from_pem(pending.encode(), "CS02c's key pair")
        if _public(key.public_key()) == given:  # CS02c's new key pair: used from now on
            ctx.anchors.adopt(usage, pem)
            _rekeyed(ctx.device, usage, key)
            return CertificateUpdate.SUCCESS
    if current is None or _public(x509.load_der_x509_certificate(current).public_key()) != given:
        return CertificateUpdate.KEY_PAIR_MISMATCH
    if ctx.anchors is not None:  # a new certificate for the key pair it uses
        ctx.anchors.keep_own(usage, certificate=pem)
    return CertificateUpdate.SUCCESS


def _rekeyed(device: Any, usage: Usage, key: ec.EllipticCurvePrivateKey) -> None:
    """What the device built with its old KA key uses the new one: a meter's UTRN checks
    (its credit's key agreement with the supplier's top-up key)."""
    credit = getattr(device, "credit", None)
    if usage is Usage.KA and credit is not None:
        credit.meter_ka = key


@handles(CS02C)
async def issue_security_credentials(uc: UseCase, cmd: GbcsMessage, ctx: Context) -> GbcsMessage:
    """CS02c: the device generates a key pair of the usage asked for, keeps it (pending
    until CS02d brings its certificate) and answers a PKCS#10 certification request for it:
    no subject, its key usage and its hardwareModuleName (its EUI-64), as RTDS's ESME does;
    an error INTEGER for a usage neither DS nor KA (1)."""
    usage = requested_usage(cmd.payload)
    answer: bytes | CertificateError = CertificateError.INVALID_KEY_USAGE
    if usage is not None:
        key = ec.generate_private_key(ec.SECP256R1())
        answer = certification_request(Eui64(cmd.header.recipient), usage, key)
        if ctx.anchors is not None:
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            ctx.anchors.keep_own(usage, pending_key=pem.decode())
    log.info(
        "gbcs.key_pair_issued",
        extra={
            "use_case": uc.name,
            "usage": None if usage is None else usage.value,
            "error": None if isinstance(answer, bytes) else answer.name,
        },
    )
    return ctx.answer(uc, cmd, certificate_answer(answer))


def certification_request(eui: Eui64, usage: Usage, key: ec.EllipticCurvePrivateKey) -> bytes:
    """The PKCS#10 request (DER) for ``key``: an empty subject, the key usage and the
    device's hardwareModuleName requested as critical extensions, signed ECDSA-SHA256."""
    key_usage = x509.KeyUsage(
        digital_signature=usage is Usage.DS,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=usage is Usage.KA,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(key_usage, critical=True)
        .add_extension(x509.SubjectAlternativeName([smki.hardware_module_name(eui)]), critical=True)
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.DER)


# --- CS02g: the supplier replaces the load controller's cells (6.15.1, an ESME's) ---------------
# The GBCS end has checked the supplier's signature against its DS cell; the device checks
# the command names that cell as authorising (the originator's), its counter as the
# sequence number, and replaces the load controller's cells only (DS, KA: each fit for it
# when the certification path issued it and it is a load controller's or a supplier's
# certificate of the cell's key usage). Immediate, future-dated (held apart from a CS02b,
# its alert 0x0124) or cancelled, as a party's own CS02b is (:func:`_carry_out`).
@handles(CS02G_LOAD_CONTROLLER_BY_SUPPLIER)
async def update_load_controller_credentials(
    uc: UseCase, cmd: GbcsMessage, ctx: Context
) -> GbcsMessage:
    update = UpdateSecurityCredentials.decode(cmd.payload)
    if ctx.anchors is None:
        raise DecodeError(f"{uc.name}: this device holds no trust anchors", 0)
    if update.mode is not ReplacementMode.LOAD_CONTROLLER_BY_SUPPLIER:
        raise DecodeError(f"{uc.name}: replacement mode {update.mode.name}", 0)
    if update.authorising != Cell(RemotePartyRole.SUPPLIER, Usage.DS):
        raise DecodeError(
            f"{uc.name}: the supplier's DS cell authorises it, not {update.authorising}", 0
        )
    _originator_authorises(uc, update, cmd, ctx.anchors)
    if any(r.cell not in LOAD_CONTROLLER_CELLS for r in update.replacements):
        raise DecodeError(f"{uc.name}: the supplier replaces the load controller's cells only", 0)
    outcome = _carry_out(uc, update, cmd, ctx, ctx.anchors)
    return ctx.answer(uc, cmd, credentials_answer(outcome))
