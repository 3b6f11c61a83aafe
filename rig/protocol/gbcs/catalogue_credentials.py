"""GBCS use cases: a device's security credentials, its trust anchor cells (CS02b: 6.23's
change of supplier; 6.15.1 and 6.21, a party's own), its own certificates and key pairs
(CS02a/c/d/e/f), the load controller's cells (CS02g: 6.15.1, an ESME's); issue 16.
Gathered into CATALOGUE by :mod:`rig.protocol.gbcs.catalogue` (this module must not import
the catalogue).

A device holds one trust anchor cell per remote party role and key usage (the supplier's DS,
KA and prepayment top-up KA, the network operator's, the ACB's, the transitional change of
supplier party's DS...). CS02b replaces cells' certificates: on a change of supplier the
DCC's transitional CoS party (TransCoS) signs a CS02b that puts the gaining supplier's
certificates into the supplier cells; the device checks TransCoS's signature against its
own TransCoS cell, answers with each replacement's outcome (the subjects and key
identifiers before and after), and from then on knows only the gaining supplier.

Laid out byte for byte as DCC's RTDS 4.5.0 has it (folder 6.23_CS02bSupplierByTransCoS):

====== ===== ====================================== ====================== ==================
SRV    code  use case                               command                response
====== ===== ====================================== ====================== ==================
6.23   0107  CS02b SupplierByTransCoS: the supplier  TransCoS signs, ACB    signed, dated, to
             cells get the gaining supplier's certs  MACs                   TransCoS
alert  00CB  its future-dated outcome (8F66/8F67)   --                     signed
====== ===== ====================================== ====================== ==================

The payload (GBCS's UpdateSecurityCredentials) is a SEQUENCE of the authorising remote party
control (replacement mode, the authorising party's cell, its sequence number = the header's
counter, the floor sequence numbers of the new party), the replacements (certificate and the
cell it goes to), the certification path certificates, and for a future-dated one the
execution date-time. The records below decode a payload into its fields and encode them
back byte for byte.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import IntEnum

from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import asn1
from rig.protocol.gbcs.asn1 import Tlv, int_value, integer, octets, sequence
from rig.protocol.gbcs.usecase import Der, Form, Protection, UseCase
from rig.protocol.smki import Usage

ESME, GSME = "ESME", "GSME"
GPF = "GPF"  # 6.21's handover of a DCC controlled GPF (and 6.15.1 to it): CS02b on the CHF


class RemotePartyRole(IntEnum):
    """GBCS's RemotePartyRole: whose a trust anchor cell is."""

    ROOT = 0
    RECOVERY = 1
    SUPPLIER = 2
    NETWORK_OPERATOR = 3
    ACCESS_CONTROL_BROKER = 4
    TRANSITIONAL_COS = 5
    WAN_PROVIDER = 6
    ISSUING_AUTHORITY = 7
    LOAD_CONTROLLER = 8  # CS02f's (ESME and SAPC): DUIS's LoadController
    OTHER = 127


class ReplacementMode(IntEnum):
    """GBCS's CredentialsReplacementMode: who replaces whose credentials."""

    SUPPLIER_BY_SUPPLIER = 2
    NETWORK_OPERATOR_BY_NETWORK_OPERATOR = 3
    ACB_BY_ACB = 4
    WAN_PROVIDER_BY_WAN_PROVIDER = 5
    TRANSCOS_BY_TRANSCOS = 6
    SUPPLIER_BY_TRANSCOS = 7
    ANY_EXCEPT_ABNORMAL_ROOT_BY_RECOVERY = 8
    ANY_BY_CONTINGENCY = 9
    LOAD_CONTROLLER_BY_LOAD_CONTROLLER = 10  # CS02g's (RTDS: NA_CS02gLoadController...)
    LOAD_CONTROLLER_BY_SUPPLIER = 11  # CS02g's, 6.15.1


class StatusCode(IntEnum):
    """The outcome of one replacement (GBCS's StatusCode)."""

    SUCCESS = 0
    BAD_CERTIFICATE = 5
    NO_TRUST_ANCHOR = 10
    INSUFFICIENT_MEMORY = 17
    TRUST_ANCHOR_NOT_FOUND = 25
    RESOURCES_BUSY = 30
    OTHER = 127


# KeyUsage as the cell identifiers carry it: the BIT STRING's contents
_KEY_USAGE = {Usage.DS: bytes.fromhex("0780"), Usage.KA: bytes.fromhex("0308")}
_USAGE_OF = {v: k for k, v in _KEY_USAGE.items()}
_TOP_UP = 1  # CellUsage prePaymentTopUp (management, 0, is the default and left out)
_SEQ_USAGE_TOP_UP = 0  # a specialist sequence number's usage: prepayment top-up
_DISAPPLY = 1  # ApplyTimeBasedCPVChecks: disapply


def _fail(what: str) -> DecodeError:
    return DecodeError(f"UpdateSecurityCredentials: {what}", 0)


def _children(t: Tlv, n: int | None = None, what: str = "a SEQUENCE") -> tuple[Tlv, ...]:
    if not t.constructed or (n is not None and len(t.children) != n):
        raise _fail(f"expected {what}")
    return t.children


@dataclass(frozen=True, slots=True)
class Cell:
    """A trust anchor cell identifier: the role, the key usage, and whether it is the
    supplier's prepayment top-up KA cell."""

    role: RemotePartyRole
    usage: Usage
    top_up: bool = False

    def to_tlv(self, number: int = asn1.SEQUENCE, cls: int = 0) -> Tlv:
        parts = [integer(self.role), Tlv(0, False, asn1.BIT_STRING, _KEY_USAGE[self.usage])]
        if self.top_up:
            parts.append(integer(_TOP_UP))
        return sequence(*parts, number=number, cls=cls)

    @classmethod
    def from_tlv(cls, t: Tlv) -> Cell:
        fields = _children(t, what="a trust anchor cell identifier")
        if len(fields) not in (2, 3) or fields[1].value not in _USAGE_OF:
            raise _fail("a trust anchor cell is a role, a key usage and maybe a cell usage")
        try:
            role = RemotePartyRole(int_value(fields[0]))
        except ValueError:
            raise _fail(f"remote party role {int_value(fields[0])} is not GBCS's") from None
        return cls(role, _USAGE_OF[fields[1].value], len(fields) == 3 and int_value(fields[2]) == 1)

    def __str__(self) -> str:
        return f"{self.role.name.lower()} {self.usage.value.upper()}" + (
            " (top-up)" if self.top_up else ""
        )


@dataclass(frozen=True, slots=True)
class SeqNumberChange:
    """A remote party's new floor sequence number (and its prepayment top-up one)."""

    role: RemotePartyRole
    floor: int
    top_up_floor: int | None = None

    def to_tlv(self) -> Tlv:
        parts = [integer(self.role), integer(self.floor)]
        if self.top_up_floor is not None:
            special = sequence(integer(_SEQ_USAGE_TOP_UP), integer(self.top_up_floor))
            parts.append(sequence(special))
        return sequence(*parts)

    @classmethod
    def from_tlv(cls, t: Tlv) -> SeqNumberChange:
        fields = _children(t, what="a remote party sequence number change")
        if len(fields) not in (2, 3):
            raise _fail("a sequence number change is a role, a floor and maybe a top-up floor")
        top_up = None
        if len(fields) == 3:
            for special in _children(fields[2]):
                usage, number = _children(special, 2)
                if int_value(usage) == _SEQ_USAGE_TOP_UP:
                    top_up = int_value(number)
        return cls(RemotePartyRole(int_value(fields[0])), int_value(fields[1]), top_up)


@dataclass(frozen=True, slots=True)
class Replacement:
    """A certificate (DER) and the cell it replaces."""

    certificate: bytes
    cell: Cell


@dataclass(frozen=True, slots=True)
class UpdateSecurityCredentials:
    """CS02b's payload."""

    mode: ReplacementMode
    authorising: Cell  # the authorising remote party's cell (TransCoS's DS for 6.23)
    seq_number: int  # the authorising party's sequence number: the header's counter
    replacements: tuple[Replacement, ...]
    path: tuple[bytes, ...] = ()  # certification path certificates (DER)
    changes: tuple[SeqNumberChange, ...] = ()  # the new party's floors (none to cancel)
    execute_at: dt.datetime | None = None  # future-dated; 9999-12-31T23:59:59Z cancels
    # the time-based certification path validation checks: applied (GBCS's default: left
    # out) or disapplied ([1] 1)
    apply_time_checks: bool = True
    # a party replacing its own credentials (6.15.1, 6.21): its new floor sequence number
    # ([4]) and, a supplier's, its prepayment top-up one ([5])
    floor: int | None = None
    top_up_floor: int | None = None

    def encode(self) -> bytes:
        control = [integer(self.mode)]
        if not self.apply_time_checks:
            control.append(integer(_DISAPPLY, number=1, cls=2))
        control += [
            self.authorising.to_tlv(number=2, cls=2),
            integer(self.seq_number, number=3, cls=2),
        ]
        if self.floor is not None:
            control.append(integer(self.floor, number=4, cls=2))
        if self.top_up_floor is not None:
            special = sequence(integer(_SEQ_USAGE_TOP_UP), integer(self.top_up_floor))
            control.append(sequence(special, number=5, cls=2))
        if self.changes:
            control.append(sequence(*(c.to_tlv() for c in self.changes), number=6, cls=2))
        replacements = [sequence(_der(r.certificate), r.cell.to_tlv()) for r in self.replacements]
        parts = [
            sequence(*control),
            sequence(*replacements),
            sequence(*(_der(c) for c in self.path)),
        ]
        if self.execute_at is not None:
            parts.append(generalized_time(self.execute_at))
        return sequence(*parts).encode()

    @classmethod
    def decode(cls, payload: bytes) -> UpdateSecurityCredentials:
        elements = asn1.decode(payload).elements
        if len(elements) != 1:
            raise _fail("one SEQUENCE")
        fields = _children(elements[0], what="the command's SEQUENCE")
        if len(fields) not in (3, 4):
            raise _fail("control, replacements, path and maybe an execution date-time")
        control = _children(fields[0], what="the authorising remote party control")
        mode, cell, seq, apply = None, None, None, True
        floor: int | None = None
        top_up_floor: int | None = None
        changes: tuple[SeqNumberChange, ...] = ()
        for f in control:
            if (f.cls, f.number) == (0, asn1.INTEGER):
                mode = ReplacementMode(int_value(f))
            elif (f.cls, f.number) == (2, 1):
                apply = int_value(f) != _DISAPPLY
            elif (f.cls, f.number) == (2, 2):
                cell = Cell.from_tlv(f)
            elif (f.cls, f.number) == (2, 3):
                seq = int_value(f)
            elif (f.cls, f.number) == (2, 4):
                floor = int_value(f)
            elif (f.cls, f.number) == (2, 5):
                for special in _children(f):
                    usage, number = _children(special, 2, "a specialist floor")
                    if int_value(usage) == _SEQ_USAGE_TOP_UP:
                        top_up_floor = int_value(number)
            elif (f.cls, f.number) == (2, 6):
                changes = tuple(SeqNumberChange.from_tlv(c) for c in _children(f))
        if mode is None or cell is None or seq is None:
            raise _fail("the control names no mode, authorising cell or sequence number")
        replacements = []
        for r in _children(fields[1], what="the replacements"):
            cert, target = _children(r, 2, "a certificate and its cell")
            replacements.append(Replacement(cert.encode(), Cell.from_tlv(target)))
        path = tuple(c.encode() for c in _children(fields[2], what="the certification path"))
        when = time_of(fields[3]) if len(fields) == 4 else None
        return cls(
            mode, cell, seq, tuple(replacements), path, changes, when, apply, floor, top_up_floor
        )

    @property
    def own_change(self) -> SeqNumberChange:
        """The floors a party replacing its own credentials gives itself, as the outcome
        repeats them (6.15.1, 6.21)."""
        return SeqNumberChange(self.authorising.role, self.floor or 0, self.top_up_floor)

    @property
    def outcome_changes(self) -> tuple[SeqNumberChange, ...]:
        """The sequence number changes its outcome repeats: the new supplier's floors
        TransCoS gives (6.23), the load controller's its supplier gives (CS02g), or a
        party's own (6.15.1, 6.21)."""
        if self.mode in _CHANGES_GIVEN:
            return self.changes
        return (self.own_change,)


# the modes whose control gives the floors of a party other than the authorising one ([6]),
# which the outcome repeats: TransCoS's for the gaining supplier, the supplier's for the load
# controller (CS02g)
_CHANGES_GIVEN = frozenset(
    {ReplacementMode.SUPPLIER_BY_TRANSCOS, ReplacementMode.LOAD_CONTROLLER_BY_SUPPLIER}
)


def _der(encoded: bytes) -> Tlv:
    """A DER value given whole (a certificate), as a node of the tree."""
    return asn1.decode(encoded).elements[0]


def generalized_time(when: dt.datetime) -> Tlv:
    """A GeneralizedTime, UTC, to the second (RTDS: ``20300102000000Z``)."""
    text = when.astimezone(dt.UTC).strftime("%Y%m%d%H%M%SZ")
    return Tlv(0, False, asn1.GENERALIZED_TIME, text.encode("ascii"))


def time_of(field: Tlv) -> dt.datetime:
    try:
        when = dt.datetime.strptime(field.value.decode("ascii"), "%Y%m%d%H%M%SZ")
    except ValueError:
        raise _fail(f"{field.value!r} is not a GeneralizedTime") from None
    return when.replace(tzinfo=dt.UTC)


# --- the answer ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ReplacementOutcome:
    """What became of one replacement: the cell, the status, and the subject (EUI) and key
    identifier before and after."""

    cell: Cell
    status: StatusCode
    existing_subject: bytes
    existing_key_id: bytes
    replacing_subject: bytes
    replacing_key_id: bytes

    def to_tlv(self) -> Tlv:
        return sequence(
            self.cell.to_tlv(),
            integer(self.status, number=asn1.ENUMERATED),
            octets(self.existing_subject),
            octets(self.existing_key_id),
            octets(self.replacing_subject),
            octets(self.replacing_key_id),
        )

    @classmethod
    def from_tlv(cls, t: Tlv) -> ReplacementOutcome:
        cell, status, *ids = _children(t, 6, "a replacement outcome")
        return cls(Cell.from_tlv(cell), StatusCode(int_value(status)), *(i.value for i in ids))


@dataclass(frozen=True, slots=True)
class ExecutionOutcome:
    """The outcome of a CS02b, as its answer (or its future-dated alert) carries it."""

    seq_number: int
    mode: ReplacementMode
    changes: tuple[SeqNumberChange, ...]
    outcomes: tuple[ReplacementOutcome, ...]

    def to_tlv(self, length_width: int = 0) -> Tlv:
        return sequence(
            integer(self.seq_number),
            integer(self.mode),
            sequence(*(c.to_tlv() for c in self.changes)),
            sequence(*(o.to_tlv() for o in self.outcomes), length_width=length_width),
            length_width=length_width,
        )

    @classmethod
    def from_tlv(cls, t: Tlv) -> ExecutionOutcome:
        seq, mode, changes, outcomes = _children(t, 4, "an execution outcome")
        return cls(
            int_value(seq),
            ReplacementMode(int_value(mode)),
            tuple(SeqNumberChange.from_tlv(c) for c in _children(changes)),
            tuple(ReplacementOutcome.from_tlv(o) for o in _children(outcomes)),
        )

    @property
    def succeeded(self) -> bool:
        return bool(self.outcomes) and all(o.status is StatusCode.SUCCESS for o in self.outcomes)


def credentials_answer(outcome: ExecutionOutcome | None) -> bytes:
    """CS02b's answer: Command Accepted, then (executed now) the outcome; a future-dated
    one only Command Accepted. Long-form lengths where RTDS's ESME writes them: every
    constructed value of 128 bytes or more."""
    if outcome is None:
        return sequence(Tlv(0, False, asn1.NULL)).encode()
    return _long_form(sequence(Tlv(0, False, asn1.NULL), outcome.to_tlv())).encode()


def outcome_of(payload: bytes) -> ExecutionOutcome | None:
    """The outcome a CS02b answer carries (None: accepted, to be executed later)."""
    elements = asn1.decode(payload).elements
    fields = _children(elements[0], what="the answer's SEQUENCE") if len(elements) == 1 else ()
    if not fields or (fields[0].cls, fields[0].number) != (0, asn1.NULL) or len(fields) > 2:
        raise _fail("an answer is Command Accepted and maybe its outcome")
    return ExecutionOutcome.from_tlv(fields[1]) if len(fields) == 2 else None


CS02B_SUPPLIER_BY_TRANSCOS = UseCase(
    "CS02bSupplierByTransCoS",
    0x0107,
    ESME,
    Form.ASN1,
    Der((16, 16, 16), optional=(24,)),  # control, replacements, path; execution date-time
    srvs=("6.23",),
    response=Protection.SIGNATURE,
    dated=True,
    also_for=(GSME,),
    signed_by="TransCoS",
)


# --- 6.24: a device's credentials read back (CS02a, CS02f, CS02e) -------------------------------
# Laid out byte for byte as RTDS 4.5.0 has them (folders 6.24.1_CS02aMAC, 6.24.1_CS02fMAC,
# 6.24.2_CS02e, NA_CS02aSignature, NA_CS02fSignature):
#
# ====== ===== ======================================= ====================== ===============
# SRV    code  use case                                command                response
# ====== ===== ======================================= ====================== ===============
# 6.24.1 0008  CS02a the cells of the roles asked for   the ACB, in its own    MAC for the ACB
#              (GSME; ESME unless LoadController)      name (its counter)
# 6.24.1 011B  CS02f the same, with the load controller the ACB ...            MAC for the ACB
#              (ESME and SAPC)
# 6.24.2 000C  CS02e the device's own DS or KA          signed by the User,    signed
#              certificate                             ACB MAC
# ====== ===== ======================================= ====================== ===============
#
# CS02a/f's command: the authorising remote party's cell (the ACB's KA cell: the ACB MACs it)
# and the roles wanted; the answer, for each role in turn, its status and, if the device holds
# cells of it, the sequence number it is at and each cell's key usage, subject (EUI) and
# subject key identifier. A role the device holds no cell of is TRUST_ANCHOR_NOT_FOUND; one
# CS02f does not answer for (the transitional CoS party) OTHER. CS02e's command is a key
# usage; the answer the device's own certificate (DER, as the payload) or an error INTEGER.
# The answers write a length of 128 or more long-form (``30 82 00 9F``) as RTDS's devices do.


def _long_form(t: Tlv) -> Tlv:
    """``t`` with every constructed value of 128 bytes or more given a two-byte length."""
    if not t.constructed:
        return t
    children = tuple(_long_form(c) for c in t.children)
    size = sum(len(c.encode()) for c in children)
    return sequence(*children, length_width=2 if size >= 0x80 else 0, number=t.number, cls=t.cls)


def _role(field: Tlv) -> RemotePartyRole:
    try:
        return RemotePartyRole(int_value(field))
    except ValueError:
        raise _fail(f"remote party role {int_value(field)} is not GBCS's") from None


@dataclass(frozen=True, slots=True)
class CredentialsQuery:
    """CS02a's (and CS02f's) command: the authorising remote party's cell and the roles whose
    credentials are wanted, in the order wanted."""

    authorising: Cell
    roles: tuple[RemotePartyRole, ...]

    def encode(self) -> bytes:
        return sequence(self.authorising.to_tlv(), sequence(*map(integer, self.roles))).encode()

    @classmethod
    def decode(cls, payload: bytes) -> CredentialsQuery:
        elements = asn1.decode(payload).elements
        if len(elements) != 1:
            raise _fail("one SEQUENCE")
        cell, roles = _children(elements[0], 2, "an authorising cell and the roles wanted")
        return cls(Cell.from_tlv(cell), tuple(_role(r) for r in _children(roles)))


@dataclass(frozen=True, slots=True)
class CellDetails:
    """One cell as CS02a answers it: the cell (its role is the answer's), the subject (the
    certificate's EUI) and its subject key identifier."""

    cell: Cell
    subject: bytes
    key_id: bytes

    def to_tlv(self) -> Tlv:
        parts = [Tlv(0, False, asn1.BIT_STRING, _KEY_USAGE[self.cell.usage])]
        if self.cell.top_up:
            parts.append(integer(_TOP_UP))
        return sequence(*parts, octets(self.subject), octets(self.key_id))

    @classmethod
    def from_tlv(cls, t: Tlv, role: RemotePartyRole) -> CellDetails:
        fields = _children(t, what="a cell's details")
        if len(fields) not in (3, 4) or fields[0].value not in _USAGE_OF:
            raise _fail("a cell's details are a key usage, maybe a cell usage, a subject, a key id")
        top_up = len(fields) == 4 and int_value(fields[1]) == _TOP_UP
        cell = Cell(role, _USAGE_OF[fields[0].value], top_up)
        return cls(cell, fields[-2].value, fields[-1].value)


@dataclass(frozen=True, slots=True)
class RoleCredentials:
    """What CS02a answers for one role: its status and, when it succeeded, the sequence
    number the device holds for the role's party and its cells."""

    role: RemotePartyRole
    status: StatusCode
    seq_number: int = 0
    cells: tuple[CellDetails, ...] = ()

    def to_tlv(self) -> Tlv:
        parts = [integer(self.role), integer(self.status, number=asn1.ENUMERATED)]
        if self.status is StatusCode.SUCCESS:
            parts += [integer(self.seq_number), sequence(*(c.to_tlv() for c in self.cells))]
        return sequence(*parts)

    @classmethod
    def from_tlv(cls, t: Tlv) -> RoleCredentials:
        fields = _children(t, what="a role's credentials")
        if len(fields) not in (2, 4):
            raise _fail("a role's credentials are a role, a status and maybe its cells")
        role = _role(fields[0])
        try:
            status = StatusCode(int_value(fields[1]))
        except ValueError:
            raise _fail(f"status {int_value(fields[1])} is not GBCS's") from None
        if len(fields) == 2:
            return cls(role, status)
        cells = tuple(CellDetails.from_tlv(c, role) for c in _children(fields[3]))
        return cls(role, status, int_value(fields[2]), cells)


def credentials_details(roles: tuple[RoleCredentials, ...]) -> bytes:
    """CS02a's (and CS02f's) answer."""
    return _long_form(sequence(*(r.to_tlv() for r in roles))).encode()


def details_of(payload: bytes) -> tuple[RoleCredentials, ...]:
    """The roles' credentials a CS02a or CS02f answer carries."""
    elements = asn1.decode(payload).elements
    if len(elements) != 1:
        raise _fail("one SEQUENCE")
    return tuple(RoleCredentials.from_tlv(r) for r in _children(elements[0]))


class CertificateError(IntEnum):
    """CS02e's error answer."""

    INVALID_KEY_USAGE = 1  # neither digital signing nor key agreement
    NO_CERTIFICATE = 2  # the device holds none of that usage


def certificate_request(usage: Usage) -> bytes:
    """CS02e's command: the key usage of the device certificate wanted (DS or KA)."""
    return sequence(Tlv(0, False, asn1.BIT_STRING, _KEY_USAGE[usage])).encode()


def requested_usage(payload: bytes) -> Usage | None:
    """The key usage a CS02e command asks for (None: neither DS nor KA)."""
    elements = asn1.decode(payload).elements
    if len(elements) != 1:
        raise _fail("one SEQUENCE")
    (usage,) = _children(elements[0], 1, "a key usage")
    return _USAGE_OF.get(usage.value)


def certificate_answer(answer: bytes | CertificateError) -> bytes:
    """CS02e's answer: the certificate (DER) whole, or the error."""
    return answer if isinstance(answer, bytes) else integer(answer).encode()


def certificate_of(payload: bytes) -> bytes | int:
    """The certificate (DER) a CS02e answer carries, or its error (an INTEGER: RTDS's error
    answer carries 3, which GBCS's errors above do not name)."""
    elements = asn1.decode(payload).elements
    if len(elements) != 1:
        raise _fail("one certificate or one error")
    if (elements[0].cls, elements[0].number) == (0, asn1.INTEGER):
        return int_value(elements[0])
    return payload


CS02A = UseCase(
    "CS02a",
    0x0008,
    ESME,
    Form.ASN1,
    Der((16, 16)),  # the authorising cell, the roles wanted
    srvs=("6.24.1",),
    also_for=(GSME,),
    acb_own=True,
)
CS02F = UseCase(
    "CS02f",
    0x011B,
    ESME,
    Form.ASN1,
    Der((16, 16)),
    acb_own=True,  # 6.24.1 to an ESME asking for the load controller: CS02a's transform
)
CS02E = UseCase(
    "CS02e",
    0x000C,
    ESME,
    Form.ASN1,
    Der((3,)),  # the key usage
    srvs=("6.24.2",),
    critical=True,
    response=Protection.SIGNATURE,
    also_for=(GSME,),
)


# --- 6.15.1, 6.21: a party replacing its own credentials (CS02b); 6.15.2 CS02d; 6.17 CS02c -------
# Laid out byte for byte as RTDS 4.5.0 has them (folders 6.15.1_CS02bSupplierBySupplier,
# 6.15.1_CS02bNOByNO, 6.21_CS02bSupplierBySupplierHandover, 6.21_CS02bNOByNOHandover,
# 6.15.2_CS02d, 6.17_CS02c):
#
# ====== ===== ======================================= ====================== ===============
# SRV    code  use case                                command                response
# ====== ===== ======================================= ====================== ===============
# 6.15.1 0102  CS02b SupplierBySupplier: the supplier  the supplier signs     signed, dated
#              rolls its own cells (maybe future-dated) (critical), ACB MACs
# 6.15.1 0103  CS02b NOByNO: the network operator's    the network operator   signed, dated
# 6.21   0102  the handover of a DCC controlled device: the ACB, holding the  signed, dated
#        0103  its supplier (NO) cells get the User's  cells, signs
# alert  00CB  a future-dated CS02b's outcome           --                     signed
# 6.15.2 000B  CS02d the device's own certificate       the User signs         signed
# 6.17   000A  CS02c the device's new key pair: a       the User signs         signed
#              PKCS#10 certification request
# ====== ===== ======================================= ====================== ===============
#
# The control of a party replacing its own credentials names its own DS cell as authorising,
# its sequence number (the counter), and its new floor sequence numbers ([4], and a
# supplier's prepayment top-up one, [5]); the outcome repeats them as its one change.
# A future-dated one is answered Command Accepted alone; at its time the device sends the
# requester the 0x00CB alert: SEQUENCE { 8F66 (every replacement succeeded) or 8F67, the
# execution date-time, the outcome }. Dated 9999-12-31T23:59:59Z it cancels the one held.
CANCEL = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
FUTURE_DATED_CREDENTIALS = 0x00CB  # the alert's message code
EXECUTED, NOT_EXECUTED = 0x8F66, 0x8F67  # its alert codes


def future_credentials_payload(executed_at: dt.datetime, outcome: ExecutionOutcome) -> bytes:
    """The 0x00CB alert's payload: 8F66 when every replacement succeeded, else 8F67, the
    execution date-time, the outcome (long-form lengths as RTDS's ESME writes them)."""
    code = EXECUTED if outcome.succeeded else NOT_EXECUTED
    return _long_form(
        sequence(integer(code), generalized_time(executed_at), outcome.to_tlv())
    ).encode()


def future_credentials_of(payload: bytes) -> tuple[int, dt.datetime, ExecutionOutcome]:
    """A 0x00CB alert's alert code, execution date-time and outcome."""
    elements = asn1.decode(payload).elements
    if len(elements) != 1:
        raise _fail("one SEQUENCE")
    code, when, outcome = _children(elements[0], 3, "an alert code, a time and an outcome")
    return int_value(code), time_of(when), ExecutionOutcome.from_tlv(outcome)


CS02B_SUPPLIER_BY_SUPPLIER = UseCase(
    "CS02bSupplierBySupplier",
    0x0102,
    ESME,
    Form.ASN1,
    Der((16, 16, 16), optional=(24,)),  # control, replacements, path; execution date-time
    # the transform sends CS02bNOByNO for the network operator's; 6.21's the ACB signs
    # (gateway.downlink.SRV_SIGNED_BY), on a handover of a device whose cells it holds
    srvs=("6.15.1", "6.21"),
    critical=True,
    response=Protection.SIGNATURE,
    dated=True,
    also_for=(GSME, GPF),
)
CS02B_NO_BY_NO = UseCase(
    "CS02bNOByNO",
    0x0103,
    ESME,
    Form.ASN1,
    Der((16, 16, 16), optional=(24,)),
    critical=True,
    response=Protection.SIGNATURE,
    dated=True,
    also_for=(GSME, GPF),
)
# the CS02b use cases of a party replacing its own credentials, by the role replaced
OWN_CREDENTIALS = {
    RemotePartyRole.SUPPLIER: (CS02B_SUPPLIER_BY_SUPPLIER, ReplacementMode.SUPPLIER_BY_SUPPLIER),
    RemotePartyRole.NETWORK_OPERATOR: (
        CS02B_NO_BY_NO,
        ReplacementMode.NETWORK_OPERATOR_BY_NETWORK_OPERATOR,
    ),
}


class CertificateUpdate(IntEnum):
    """CS02d's answer (GBCS: 0-7). The rig's ESME raises the ones named; RTDS's ERROR
    answers 3 to a certificate whose key usage is neither digital signing nor key
    agreement."""

    SUCCESS = 0
    NOT_THIS_DEVICE = 1  # the subject is another device
    KEY_PAIR_MISMATCH = 2  # the public key is not one the device holds a private key for
    INVALID_KEY_USAGE = 3
    BAD_CERTIFICATE = 7  # not a certificate the device can read


def certificate_update_answer(result: CertificateUpdate) -> bytes:
    """CS02d's answer: the result, an INTEGER."""
    return integer(result).encode()


def certificate_update_of(payload: bytes) -> int:
    """The result a CS02d answer carries."""
    elements = asn1.decode(payload).elements
    if len(elements) != 1 or (elements[0].cls, elements[0].number) != (0, asn1.INTEGER):
        raise _fail("CS02d's answer is one INTEGER")
    return int_value(elements[0])


def issue_request(usage: Usage) -> bytes:
    """CS02c's command: the key usage of the key pair to generate (CS02e's layout)."""
    return certificate_request(usage)


def issued_of(payload: bytes) -> bytes | int:
    """A CS02c answer's PKCS#10 certification request (DER, the payload whole) or its error
    (an INTEGER: RTDS's ERROR answers 3 to a request for a KA key pair)."""
    return certificate_of(payload)


CS02D = UseCase(
    "CS02d",
    0x000B,
    ESME,
    Form.ASN1,
    Der((16, 16, 3)),  # a certificate: to-be-signed, signature algorithm, signature
    srvs=("6.15.2",),
    critical=True,
    response=Protection.SIGNATURE,
    also_for=(GSME,),
)
CS02C = UseCase(
    "CS02c",
    0x000A,
    ESME,
    Form.ASN1,
    Der((3,)),  # the key usage
    srvs=("6.17",),
    critical=True,
    response=Protection.SIGNATURE,
    also_for=(GSME,),
)


# --- 6.15.1 CS02g: the supplier replaces the load controller's credentials (ESME) ----------------
# Laid out byte for byte as RTDS 4.5.0 has it (folder 6.15.1_CS02gLoadControllerBySupplier):
#
# ====== ===== ======================================= ====================== ===============
# SRV    code  use case                                command                response
# ====== ===== ======================================= ====================== ===============
# 6.15.1 0126  CS02g LoadControllerBySupplier: the     the supplier signs     signed, dated
#              load controller cells (DS, KA) of an    (critical), ACB MACs
#              ESME get new certificates
# alert  0124  a future-dated CS02g's outcome           --                     signed
# ====== ===== ======================================= ====================== ===============
#
# GBCS 13.10 (DCC's mapping table: "Update Load Controller Security Credentials", 6.15.1):
# an ESME holds a trust anchor cell of the load controller (remote party role 8) for each key
# usage, DS and KA. The control names the supplier's DS cell as authorising, its sequence
# number (the counter) and, as 6.23's does for the gaining supplier, the load controller's
# floor ([6] { 8, floor }); the outcome repeats that change. Future-dated and cancelled as a
# party's own CS02b (the same payload, 9999-12-31T23:59:59Z cancels), its alert 0x0124 laid
# out as 0x00CB's. RTDS's commands put the supplier's own certificates (role 02) into the load
# controller cells (the supplier acting as load controller); DCC's templates carry a load
# controller's (role 08): the device takes either.
FUTURE_DATED_LOAD_CONTROLLER_CREDENTIALS = 0x0124  # CS02g's future-dated alert
LOAD_CONTROLLER_CELLS = (
    Cell(RemotePartyRole.LOAD_CONTROLLER, Usage.DS),
    Cell(RemotePartyRole.LOAD_CONTROLLER, Usage.KA),
)
CS02G_LOAD_CONTROLLER_BY_SUPPLIER = UseCase(
    "CS02gLoadControllerBySupplier",
    0x0126,
    ESME,  # and the SAPC, which the rig has not
    Form.ASN1,
    Der((16, 16, 16), optional=(24,)),  # control, replacements, path; execution date-time
    # 6.15.1 with RemotePartyRole LoadController: CS02bSupplierBySupplier's transform
    critical=True,
    response=Protection.SIGNATURE,
    dated=True,
)


def future_alert_code(mode: ReplacementMode) -> int:
    """The message code of a future-dated credentials update's alert: CS02g's 0x0124 for a
    load controller's cells, else CS02b's 0x00CB."""
    if mode in (
        ReplacementMode.LOAD_CONTROLLER_BY_SUPPLIER,
        ReplacementMode.LOAD_CONTROLLER_BY_LOAD_CONTROLLER,
    ):
        return FUTURE_DATED_LOAD_CONTROLLER_CREDENTIALS
    return FUTURE_DATED_CREDENTIALS


USE_CASES: tuple[UseCase, ...] = (
    CS02B_SUPPLIER_BY_TRANSCOS,
    CS02A,
    CS02F,
    CS02E,
    CS02B_SUPPLIER_BY_SUPPLIER,
    CS02B_NO_BY_NO,
    CS02D,
    CS02C,
    CS02G_LOAD_CONTROLLER_BY_SUPPLIER,
)
# the message codes whose answers carry an ExecutionOutcome (the DCC reads their statuses)
CREDENTIAL_UPDATES = frozenset(
    uc.message_code
    for uc in (
        CS02B_SUPPLIER_BY_TRANSCOS,
        CS02B_SUPPLIER_BY_SUPPLIER,
        CS02B_NO_BY_NO,
        CS02G_LOAD_CONTROLLER_BY_SUPPLIER,
    )
)
