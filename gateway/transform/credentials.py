"""Transforms of the security credential SRVs (CS02x: 6.15.1, 6.15.2, 6.17, 6.21, 6.23,
6.24.1, 6.24.2); issue 16.

6.23 Update Security Credentials (CoS): the gaining supplier sends its own certificates; the
DCC's transitional CoS party (TransCoS) originates the CS02b SupplierByTransCoS with its own
counter (the transform's originator and counter) and signs it (the downlink, for a use case
``signed_by`` a DCC party), so the device, which trusts TransCoS, puts them into its supplier
cells. The DCC checks first that the certificates are the sender's own supplier
certificates, each of the usage its element names (E1 otherwise: nothing is sent).
Future-dated (ExecutionDateTime) the device holds it until its time; DUIS's 3000-12-31
cancels the one held.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt

from cryptography import x509
from lxml import etree

from gateway.transform.commission import DUIS_CANCEL, current_date_time
from gateway.transform.registry import (
    TransformInput,
    TransformRefused,
    immediate_only,
    number,
    transforms,
)
from rig.protocol import smki
from rig.protocol.duis import codes
from rig.protocol.duis.xml import NS, text
from rig.protocol.eui import Eui64
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
    GPF,
    OWN_CREDENTIALS,
    Cell,
    CredentialsQuery,
    RemotePartyRole,
    Replacement,
    ReplacementMode,
    SeqNumberChange,
    UpdateSecurityCredentials,
    certificate_request,
    issue_request,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase, command
from rig.protocol.smki import OrgRole, Usage

# DUIS's replacement certificates and the supplier cell each goes to
_SUPPLIER_CELLS = (
    ("DigitalSigningCertificate", Cell(RemotePartyRole.SUPPLIER, Usage.DS)),
    ("KeyAgreementCertificate", Cell(RemotePartyRole.SUPPLIER, Usage.KA)),
    ("KeyAgreementTopUpCertificate", Cell(RemotePartyRole.SUPPLIER, Usage.KA, top_up=True)),
)


def _certificate(element: str, b64: str) -> tuple[bytes, x509.Certificate]:
    try:
        der = base64.b64decode("".join(b64.split()), validate=True)
        return der, x509.load_der_x509_certificate(der)
    except (binascii.Error, ValueError) as exc:
        raise TransformRefused(
            codes.INVALID_USER, f"{element} is not a certificate: {exc}"
        ) from None


def _replacement(
    element: str,
    b64: str,
    cell: Cell,
    given: TransformInput,
    org: OrgRole = OrgRole.SUPPLIER,
    owner: Eui64 | None = None,
) -> Replacement:
    """One of the sender's certificates (or ``owner``'s), checked to be its own for
    ``cell`` (of the organisation role ``org``)."""
    der, cert = _certificate(element, b64)
    try:
        eui, usage, role = smki.eui_of(cert), smki.usage_of(cert), smki.role_of(cert)
    except smki.ProfileError as exc:
        raise TransformRefused(codes.INVALID_USER, f"{element}: {exc}") from None
    sender = owner or given.request.request_id.originator
    if eui != sender or usage is not cell.usage or role is not org:
        who = org.name.lower().replace("_", " ")
        raise TransformRefused(
            codes.INVALID_USER,
            f"{element} is {eui.duis}'s {usage.value.upper()} certificate (role "
            f"{role.value if role else '?'}), not {sender.duis}'s {who} "
            f"{cell.usage.value.upper()} certificate: a party sends its own",
        )
    return Replacement(der, cell)


def _path(body: etree._Element) -> tuple[bytes, ...]:
    return tuple(
        _certificate("CertificationPathCertificates", c.text or "")[0]
        for c in body.findall("sr:CertificationPathCertificates/sr:Certificate", NS)
    )


def _execution(given: TransformInput) -> dt.datetime | None:
    """When a CS02b is to be carried out: now (None), at its ExecutionDateTime, or (DUIS's
    3000-12-31) GBCS's 9999-12-31T23:59:59Z, which cancels the one the device holds."""
    if text(given.request.body, "sr:ExecutionDateTime") is None:
        return None
    execute_at = current_date_time(given, "ExecutionDateTime")
    return CANCEL if execute_at == DUIS_CANCEL else execute_at


@transforms(CS02B_SUPPLIER_BY_TRANSCOS)
def update_credentials_cos(uc: UseCase, given: TransformInput) -> GbcsMessage:
    body = given.request.body
    certs = body.find("sr:SupplierReplacementCertificates", NS)
    assert certs is not None  # the schema requires it
    replacements = tuple(
        _replacement(name, found, cell, given)
        for name, cell in _SUPPLIER_CELLS
        if (found := text(certs, f"sr:{name}"))
    )
    path = _path(body)
    top_up = text(body, "sr:SupplierPrepaymentTopUpFloorSeqNumber")
    change = SeqNumberChange(
        RemotePartyRole.SUPPLIER,
        number(body, "sr:SupplierFloorSeqNumber"),
        None if top_up is None else int(top_up),
    )
    execute_at = _execution(given)
    payload = UpdateSecurityCredentials(
        ReplacementMode.SUPPLIER_BY_TRANSCOS,
        Cell(RemotePartyRole.TRANSITIONAL_COS, Usage.DS),
        given.counter,
        replacements,
        path,
        () if execute_at == CANCEL else (change,),  # a cancellation gives no floors (RTDS)
        execute_at,
        apply_time_checks=text(body, "sr:ApplyTimeBasedCPVChecks") != "false",
    ).encode()
    return command(uc, given.counter, given.originator.raw, given.device.raw, payload)


# --- 6.24: the device's credentials read back ----------------------------------------------------
# 6.24.1 Retrieve Device Security Credentials (KRP): the ACB asks in its own name (the
# downlink gives the transform the ACB and its counter: ``acb_own``), its KA cell authorising
# the command, for the roles the request names in its order; CS02f (ESME and SAPC) when they
# include the load controller (an ESME only: E11 for another device type), else CS02a.
# 6.24.2 Retrieve Device Security Credentials (Device): CS02e from the DCC User, critical.
_ROLES = {
    "Root": RemotePartyRole.ROOT,
    "Recovery": RemotePartyRole.RECOVERY,
    "Supplier": RemotePartyRole.SUPPLIER,
    "NetworkOperator": RemotePartyRole.NETWORK_OPERATOR,
    "ACB": RemotePartyRole.ACCESS_CONTROL_BROKER,
    "TransCoS": RemotePartyRole.TRANSITIONAL_COS,
    "LoadController": RemotePartyRole.LOAD_CONTROLLER,
}
_CREDENTIAL_TYPES = {"Digital Signature": Usage.DS, "Key Agreement": Usage.KA}


@transforms(CS02A, CS02F)
def retrieve_credentials_krp(_uc: UseCase, given: TransformInput) -> GbcsMessage:
    roles = tuple(
        _ROLES[(e.text or "").strip()] for e in given.request.body.findall("sr:RemotePartyRole", NS)
    )
    uc = CS02A
    if RemotePartyRole.LOAD_CONTROLLER in roles:
        device_type = given.peer(given.device).device_type
        if device_type not in (None, *CS02F.device_types):
            raise TransformRefused(
                codes.WRONG_DEVICE_TYPE,
                f"a {device_type} has no load controller: ask 6.24.1 for its other roles",
            )
        uc = CS02F
    query = CredentialsQuery(Cell(RemotePartyRole.ACCESS_CONTROL_BROKER, Usage.KA), roles)
    return command(uc, given.counter, given.originator.raw, given.device.raw, query.encode())


@transforms(CS02E)
def retrieve_credentials_device(uc: UseCase, given: TransformInput) -> GbcsMessage:
    usage = _CREDENTIAL_TYPES[text(given.request.body, "sr:CredentialType") or ""]
    payload = certificate_request(usage)
    return command(uc, given.counter, given.originator.raw, given.device.raw, payload)


# --- 6.15.1, 6.21: a party's own credentials replaced; 6.15.2 CS02d; 6.17 CS02c -----------------
# 6.15.1 Update Security Credentials (KRP): the supplier (CS02bSupplierBySupplier) or the
# network operator (CS02bNOByNO) replaces its own cells, its DS cell authorising; critical,
# the DUIS User signs the pre-command. Immediate, future-dated (ExecutionDateTime) or, dated
# DUIS's 3000-12-31, the cancellation of the one the device holds (GBCS's 9999-12-31
# 23:59:59). 6.21 Request Handover of DCC Controlled Device: the same command, originated
# by the DCC party that holds the cells (the ACB: the downlink's originator and counter), puts
# the requesting User's certificates into them. The DCC checks that the certificates are the
# User's own, of the role its RemotePartyRole names, each of its element's key usage (E1).
_OWN_ROLES = {
    "Supplier": (RemotePartyRole.SUPPLIER, OrgRole.SUPPLIER),
    "NetworkOperator": (RemotePartyRole.NETWORK_OPERATOR, OrgRole.NETWORK_OPERATOR),
}
_CELL_ELEMENTS = (
    ("DigitalSigningCertificate", Usage.DS, False),
    ("KeyAgreementCertificate", Usage.KA, False),
    ("KeyAgreementTopUpCertificate", Usage.KA, True),
)


@transforms(CS02B_SUPPLIER_BY_SUPPLIER, CS02B_NO_BY_NO)
def update_own_credentials(_uc: UseCase, given: TransformInput) -> GbcsMessage:
    body = given.request.body
    name = (text(body, "sr:RemotePartyRole") or "").strip()
    if name == "LoadController":  # CS02g: the supplier replaces the load controller's
        return update_load_controller_credentials(CS02G_LOAD_CONTROLLER_BY_SUPPLIER, given)
    if name not in _OWN_ROLES:
        raise TransformRefused(
            codes.NOT_SERVED,
            f"RemotePartyRole {name!r}: the rig replaces a Supplier's or a NetworkOperator's "
            "credentials on a meter",
        )
    role, org = _OWN_ROLES[name]
    uc, mode = OWN_CREDENTIALS[role]
    certs = body.find("sr:ReplacementCertificates", NS)
    assert certs is not None  # the schema requires it
    own = certs.find("sr:SupplierOrNetworkOperatorCertificates", NS)  # 6.15.1's; 6.21 bare
    certs = certs if own is None else own
    owner = _handover_owner(given, certs, name, handover=own is None)
    replacements = tuple(
        _replacement(element, found, Cell(role, usage, top_up), given, org, owner)
        for element, usage, top_up in _CELL_ELEMENTS
        if (found := text(certs, f"sr:{element}"))
    )
    top_up = text(body, "sr:RemotePartyPrepaymentTopUpFloorSeqNumber")
    payload = UpdateSecurityCredentials(
        mode,
        Cell(role, Usage.DS),
        given.counter,
        replacements,
        _path(body),
        execute_at=_execution(given),
        apply_time_checks=text(body, "sr:ApplyTimeBasedCPVChecks") != "false",
        floor=number(body, "sr:RemotePartyFloorSeqNumber"),
        top_up_floor=None
        if top_up is None or role is not RemotePartyRole.SUPPLIER
        else int(top_up),
    ).encode()
    return command(uc, given.counter, given.originator.raw, given.device.raw, payload)


@transforms(CS02D)
def update_device_certificate(uc: UseCase, given: TransformInput) -> GbcsMessage:
    """6.15.2: the device's new certificate, whole, as the payload."""
    der, _cert = _certificate(
        "DeviceCertificate", text(given.request.body, "sr:DeviceCertificate") or ""
    )
    return command(uc, given.counter, given.originator.raw, given.device.raw, der)


@transforms(CS02C)
def issue_security_credentials(uc: UseCase, given: TransformInput) -> GbcsMessage:
    """6.17: the key usage of the key pair the device generates."""
    usage = _CREDENTIAL_TYPES[text(given.request.body, "sr:CredentialType") or ""]
    payload = issue_request(usage)
    return command(uc, given.counter, given.originator.raw, given.device.raw, payload)


# --- 6.15.1 CS02g: the supplier replaces the load controller's credentials -----------------------
# RemotePartyRole LoadController: the ESME's load controller cells (DS, KA) get the request's
# certificates, the supplier's DS cell authorising (CS02g LoadControllerBySupplier; an ESME
# only: E11 for another device type). The control gives the load controller's floor ([6]),
# kept on a cancellation as RTDS's is. The DCC checks each certificate is of its element's
# key usage and either a load controller's (role 08: DCC's templates) or the sender's own
# supplier certificate (RTDS's: the supplier acting as load controller); E1 otherwise. The
# load controller has no prepayment top-up cell.
_LOAD_CONTROLLER_ELEMENTS = (
    ("DigitalSigningCertificate", Usage.DS),
    ("KeyAgreementCertificate", Usage.KA),
)


def _load_controller_replacement(
    element: str, b64: str, usage: Usage, given: TransformInput
) -> Replacement:
    cell = Cell(RemotePartyRole.LOAD_CONTROLLER, usage)
    der, cert = _certificate(element, b64)
    try:
        role, found = smki.role_of(cert), smki.usage_of(cert)
        smki.eui_of(cert)
    except smki.ProfileError as exc:
        raise TransformRefused(codes.INVALID_USER, f"{element}: {exc}") from None
    if role is not OrgRole.LOAD_CONTROLLER:  # else the sender's own, as a supplier
        return _replacement(element, b64, cell, given, OrgRole.SUPPLIER)
    if found is not usage:
        raise TransformRefused(
            codes.INVALID_USER,
            f"{element} is a load controller's {found.value.upper()} certificate, not a "
            f"{usage.value.upper()} one",
        )
    return Replacement(der, cell)


@transforms(CS02G_LOAD_CONTROLLER_BY_SUPPLIER)
def update_load_controller_credentials(uc: UseCase, given: TransformInput) -> GbcsMessage:
    """6.15.1 with RemotePartyRole LoadController: CS02g LoadControllerBySupplier."""
    device_type = given.peer(given.device).device_type
    if device_type not in (None, *uc.device_types):
        raise TransformRefused(
            codes.WRONG_DEVICE_TYPE,
            f"a {device_type} has no load controller cells: send 6.15.1 LoadController to an ESME",
        )
    body = given.request.body
    certs = body.find("sr:ReplacementCertificates", NS)
    assert certs is not None  # the schema requires it
    own = certs.find("sr:SupplierOrNetworkOperatorCertificates", NS)
    certs = certs if own is None else own
    if text(certs, "sr:KeyAgreementTopUpCertificate"):
        raise TransformRefused(
            codes.INVALID_USER,
            "KeyAgreementTopUpCertificate: a load controller has no prepayment top-up cell; "
            "send its DS and KA certificates only",
        )
    replacements = tuple(
        _load_controller_replacement(element, found, usage, given)
        for element, usage in _LOAD_CONTROLLER_ELEMENTS
        if (found := text(certs, f"sr:{element}"))
    )
    floor = SeqNumberChange(
        RemotePartyRole.LOAD_CONTROLLER, number(body, "sr:RemotePartyFloorSeqNumber")
    )
    payload = UpdateSecurityCredentials(
        ReplacementMode.LOAD_CONTROLLER_BY_SUPPLIER,
        Cell(RemotePartyRole.SUPPLIER, Usage.DS),
        given.counter,
        replacements,
        _path(body),
        (floor,),
        _execution(given),
        apply_time_checks=text(body, "sr:ApplyTimeBasedCPVChecks") != "false",
    ).encode()
    return command(uc, given.counter, given.originator.raw, given.device.raw, payload)


# --- 6.21 to a GPF; the network operator's cells handed over -----------------------------------
# 6.21 is a supplier's request (DUIS: IS, GS): handing over the network operator's cells
# (RemotePartyRole NetworkOperator) it sends the network operator's certificates, which are
# then checked to be one network operator's own (its DS certificate names it), not the
# sender's. A GPF (on the CHF, which holds no future-dated CS02b) takes 6.21 and 6.15.1 at
# once only.
def _handover_owner(
    given: TransformInput, certs: etree._Element, name: str, *, handover: bool
) -> Eui64 | None:
    """Whose certificates a 6.21 (``handover``) carries when not the sender's: the network
    operator's its DS certificate names (None: the sender's own). A 6.21 of cells (``name``:
    DUIS's RemotePartyRole) the DCC does not control is refused (E5: the ACB, which would
    sign it, holds none of them: the device is not DCC controlled, or a 6.21 handed them
    over already); a GPF's CS02b (6.21, 6.15.1) with an ExecutionDateTime too (E17)."""
    target = given.peer(given.device)
    role = _OWN_ROLES[name][0]
    if handover and name not in target.dcc_cells:
        why = (
            f"the DCC handed over its {name} cells already"
            if target.dcc_cells
            else "its supplier and network operator hold its cells already"
        )
        raise TransformRefused(
            codes.DEVICE_STATUS,
            f"6.21 hands over cells the DCC controls; it does not control those of "
            f"{given.device.duis} ({why}): send 6.15.1 to replace their credentials",
        )
    if target.device_type == GPF:
        immediate_only(given.request.body, f"CS02b to a GPF ({given.request.srv})")
    if not handover or role is not RemotePartyRole.NETWORK_OPERATOR:
        return None
    _der, cert = _certificate(
        "DigitalSigningCertificate", text(certs, "sr:DigitalSigningCertificate") or ""
    )
    try:
        return smki.eui_of(cert)
    except smki.ProfileError as exc:
        raise TransformRefused(codes.INVALID_USER, f"DigitalSigningCertificate: {exc}") from None
