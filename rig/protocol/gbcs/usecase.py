"""A GBCS use case as one declaration, and the codecs every use case shares.

A :class:`UseCase` says what GBCS says of it: message code, the device type that runs it,
the DUIS SRVs the DCC transforms into it, its payload form (DLMS COSEM, GBZ, ASN.1),
whether it is critical, how the device protects what it sends back, what the command asks
(:data:`Request`: a COSEM GET or ACTION, a protected read, an access-request of several
parts (:mod:`rig.protocol.gbcs.access`), a ZCL read of one cluster or of several, a
cluster's own ZCL command, the same one several times, reads and commands in sequence,
or several commands each taking its payload from the request)
and, for a HAN-only command, which device sends it;
an alert, every GBCS alert code it may carry (:meth:`UseCase.declared_code` refuses any
other). The declarations live in :mod:`rig.protocol.gbcs.catalogue`; the three behaviours
are registered where they belong: the DCC's transform from the DUIS body in
``gateway.transform``, the device's handler in ``nodes.gbcs``, the DCC User's reader
in ``rig.dccuser.readers``.

The codecs here are pure: the command a declaration describes (:func:`command`), the
check that a received command is exactly that (:func:`check_command`), and the frame of
a device's answer (:func:`response_shell`, :func:`dlms_answer`, :func:`gbz_answers`,
:func:`protect`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric import ec

from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import access, asn1, cosem, dlms, gbz, security
from rig.protocol.gbcs.dlms import AccessRequest, AccessResponse, Data, RequestKind, RequestSpec
from rig.protocol.gbcs.frame import Cra, GbcsMessage, OtherInformation


class Form(StrEnum):
    """How the payload is encoded (GBCS section 7)."""

    DLMS = "DLMS COSEM"  # the ESME (and the CHF's DLMS use cases)
    GBZ = "GBZ"  # the GSME and the GPF: ZigBee cluster commands
    ASN1 = "ASN.1"  # the CHF and security credentials


class Protection(StrEnum):
    """How the device protects what it sends to the remote party."""

    MAC = "mac"  # AES-GCM MAC with the agreed key
    SIGNATURE = "signature"  # ECDSA with the device's DS key


# --- what a command asks, declared -----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Get:
    """Read one COSEM attribute."""

    target: cosem.Attribute


@dataclass(frozen=True, slots=True)
class Action:
    """Invoke one COSEM method: with a fixed ``argument``, or (``argument`` None) with one
    of type ``given`` that the DCC's transform takes from the DUIS request (a UTRN)."""

    target: cosem.Method
    argument: Data | None = None
    given: dlms.DataType | None = None

    def __post_init__(self) -> None:
        if (self.argument is None) == (self.given is None):
            raise ValueError("an Action has a fixed argument or the type of a given one")


@dataclass(frozen=True, slots=True)
class ProtectedRead:
    """Read sensitive COSEM attributes, encrypted for the requester (GBCS 7.2.7)."""

    objects: tuple[cosem.Attribute, ...]


@dataclass(frozen=True, slots=True)
class ZclRead:
    """Read ZCL attributes of one cluster (a GBZ Read Attributes command). ``answer_control``
    is the ZCL frame control of the device's Read Attributes Response, as RTDS has it:
    server to client with the default response disabled (0x18, GCS13a) or not (0x08, GCS60)."""

    cluster: int
    attributes: tuple[gbz.ZclAttribute, ...]
    answer_control: int = gbz.ZCL_SERVER_TO_CLIENT | gbz.ZCL_DISABLE_DEFAULT_RESPONSE


@dataclass(frozen=True, slots=True)
class ZclReads:
    """Read ZCL attributes of several clusters in one command: one GBZ component per read,
    in order, their ZCL sequence numbers counting from 0 (GCS60: Metering, then Prepayment)."""

    reads: tuple[ZclRead, ...]


@dataclass(frozen=True, slots=True)
class ZclCommand:
    """A cluster-specific ZCL command (GBZ, client to server). Its payload is fixed, or it is
    the fixed ``prefix`` followed by a ZCL octet string of ``given`` bytes that the sender
    takes from the request (CS01b, PCS01: the originating device, then the UTRN's 20 ASCII
    digits)."""

    cluster: int
    command: int
    payload: bytes | None = None
    prefix: bytes = b""
    given: int | None = None  # the length of the given octet string

    def __post_init__(self) -> None:
        if (self.payload is None) == (self.given is None):
            raise ValueError("a ZclCommand has a fixed payload or the length of a given one")


@dataclass(frozen=True, slots=True)
class ZclCommands:
    """The same cluster-specific ZCL command ``count`` times (GBZ, client to server), one
    component each, their sequence numbers counting from 0, each payload taken from the
    request (GCS04: three Change Debt commands, one per debt register)."""

    cluster: int
    command: int
    count: int


@dataclass(frozen=True, slots=True)
class ZclSequence:
    """Reads and fixed cluster commands in one GBZ command, one component each, in order,
    their ZCL sequence numbers counting from 0 (GCS21b: the Prepayment and Price reads, then
    the Calendar cluster's four Get commands)."""

    parts: tuple[ZclRead | ZclCommand, ...]

    def __post_init__(self) -> None:
        if any(isinstance(p, ZclCommand) and p.payload is None for p in self.parts):
            raise ValueError("a ZclSequence's commands have fixed payloads")


@dataclass(frozen=True, slots=True)
class ZclLogRead:
    """A cluster-specific ZCL command reading a log (GBZ, client to server, one component):
    the component's From Date-Time and the command's payload are taken from the request
    (GCS15e: Get Top Up Log from the period's start, up to its end, five records). Its
    argument is the From Date-Time (4 bytes, big-endian) followed by the payload."""

    cluster: int
    command: int


@dataclass(frozen=True, slots=True)
class ZclPart:
    """One cluster-specific ZCL command of a :class:`ZclBatch`: its ZCL frame control (0x09:
    a server-to-client command, as the Calendar cluster's Publish commands are) and whether
    its GBZ component carries a From Date-Time (RTDS's 0: at once); ``repeated``: one
    component or more in a row (one Publish Day Profile per day profile)."""

    cluster: int
    command: int
    frame_control: int = gbz.ZCL_CLUSTER_SPECIFIC
    from_date_time: bool = False
    repeated: bool = False
    # the command may be left out (GCS01a's Publish Block Thresholds: a block tariff's only)
    optional: bool = False

    @property
    def server_to_client(self) -> bool:
        return bool(self.frame_control & gbz.ZCL_SERVER_TO_CLIENT)


@dataclass(frozen=True, slots=True)
class ZclBatch:
    """Several cluster-specific ZCL commands (GBZ), one component each, in order, their
    sequence numbers counting from 0, each payload taken from the request (GCS05: four
    Prepayment commands, then the Calendar cluster's Publish commands). Its argument has
    one entry per component: the index of its part, one byte, then its payload; each part
    once (a repeated one once or more, an optional one at most once), in the parts' order;
    an entry of a part with a From Date-Time is a :class:`DatedEntry` when that is not 0."""

    parts: tuple[ZclPart, ...]

    def check(self, indices: list[int]) -> bool:
        """Whether components of these parts, in this order, are this batch's."""
        runs = [i for n, i in enumerate(indices) if n == 0 or indices[n - 1] != i]
        wanted = [i for i, part in enumerate(self.parts) if not part.optional or i in runs]
        if runs != wanted:
            return False
        return all(self.parts[i].repeated or indices.count(i) == 1 for i in runs)


@dataclass(frozen=True, slots=True)
class Der:
    """An ASN.1 DER command (GCS28, CS06): one SEQUENCE whose fields are of the universal
    types ``fields`` (tag numbers: 2 INTEGER, 4 OCTET STRING, 24 GeneralizedTime), in
    order, every value taken from the request. Its argument is the payload, whole."""

    fields: tuple[int, ...]
    # trailing fields that may be absent (a future-dated command's execution date-time)
    optional: tuple[int, ...] = ()
    # the payload is its one field alone, not in a SEQUENCE (CS04AC: an OCTET STRING; CS07: NULL)
    bare: bool = False

    def check(self, payload: bytes) -> bool:
        """Whether ``payload`` is one SEQUENCE of these fields (16 SEQUENCE and 17 SET are
        constructed, the others primitive), followed by a leading run of the optional ones;
        a bare one: its one field alone."""
        try:
            elements = asn1.decode(payload).elements
        except DecodeError:
            return False
        if self.bare:
            found = [(e.cls, e.constructed, e.number) for e in elements]
            return found == [(0, t in (16, 17), t) for t in self.fields[:1]]
        if len(elements) != 1 or (elements[0].cls, elements[0].number) != (0, 16):
            return False
        found = [(c.cls, c.constructed, c.number) for c in elements[0].children]
        n = len(self.fields)
        wanted = [(0, t in (16, 17), t) for t in (*self.fields, *self.optional)]
        return n <= len(found) <= len(wanted) and found == wanted[: len(found)]


Request = (
    Get
    | Der
    | Action
    | ProtectedRead
    | access.Access
    | ZclRead
    | ZclReads
    | ZclCommand
    | ZclCommands
    | ZclSequence
    | ZclLogRead
    | ZclBatch
)
# what a command takes from the request: a DLMS value, the named values of an Access, the
# bytes of a ZclCommand, or the payloads of ZclCommands
Argument = Data | Mapping[str, Data] | bytes | tuple[bytes, ...]


class DatedEntry(bytes):
    """A :class:`ZclBatch` entry (its part's index, then its payload) whose part carries a
    From Date-Time other than 0 (ZigBee time: a future-dated GCS05's Set Low Credit Warning
    Level, or ZCL's latest for its cancellation); as bytes, it is any entry."""

    from_date_time: int

    def __new__(cls, entry: bytes, from_date_time: int) -> DatedEntry:
        out = super().__new__(cls, entry)
        out.from_date_time = from_date_time
        return out


@dataclass(frozen=True, slots=True)
class UseCase:
    """One GBCS use case, as GBCS defines it (names follow GBCS and DCC's mapping table)."""

    name: str  # "ECS17b"
    message_code: int
    device_type: str  # the device that runs the command or raises the alert: ESME, GSME...
    form: Form
    request: Request | None = None  # None: an alert, raised by the device
    srvs: tuple[str, ...] = ()  # the DUIS SRVs the DCC transforms into this use case
    critical: bool = False  # signed by the DCC User (a pre-command, then CV 5)
    response: Protection = Protection.MAC  # of the device's response or alert
    encrypted: bool = False  # the answer's values are encrypted for the requester
    dated: bool = False  # the answer's grouping header carries the device's date-time
    alert_code: int | None = None  # an alert's GBCS alert code when its raiser names none
    alert_codes: tuple[int, ...] = ()  # every GBCS alert code the alert may carry
    # a HAN-only command's sender (PCS01, PCS02: "PPMID"), which MACs it with its own KA key
    # for the device; None: a remote party's command, MAC'd by the access control broker
    sent_by: str | None = None
    # a DCC User that is not the device's known remote party may send it (4.14's URP
    # variant): the ACB originates the command for it, with its KA certificate
    unknown_remote_party: bool = False
    # the ACB originates the command (its own counter) for the DCC User, who rides as the
    # supplementary remote party with its RequestID counter and no certificate; the device
    # answers the ACB, naming them (the CHF's commands: CCS01, CCS02, CCS06, CCS07)
    acb_originated: bool = False
    # the other device types that run it too (CS02x on every device with credentials)
    also_for: tuple[str, ...] = ()
    # the DCC party that originates and signs it instead of the DCC User: "TransCoS" (CS02b
    # SupplierByTransCoS, 6.23); the device checks that party's signature (its trust anchor)
    signed_by: str | None = None
    # the ACB originates it in its own name (its own counter, its KA cell authorises it, no
    # DCC User named: 6.24.1's CS02a, CS02f); the device answers the ACB, the DCC the User
    acb_own: bool = False
    # False: RTDS 4.5.0 has it for an SRV DUIS's matrix holds, but DCC's mapping table no
    # longer lists it (served as RTDS has it; tests/test_usecases.py checks the others
    # against the table)
    in_dcc_table: bool = True

    def __post_init__(self) -> None:
        if self.alert_code is not None and not self.alert_codes:
            object.__setattr__(self, "alert_codes", (self.alert_code,))
        if self.alert_codes and not self.is_alert:
            raise ValueError(f"{self.name} is a command: it carries no alert code")
        if self.alert_code is not None and self.alert_code not in self.alert_codes:
            raise ValueError(
                f"{self.name}: its alert code 0x{self.alert_code:04X} is not among those it "
                f"declares ({_codes(self.alert_codes)})"
            )

    @property
    def is_alert(self) -> bool:
        return self.request is None

    @property
    def device_types(self) -> tuple[str, ...]:
        """The device types that run it."""
        return (self.device_type, *self.also_for)

    @property
    def users_own(self) -> bool:
        """Whether the command is the DCC User's own, checked by the device against the
        User's certificates in its cells (not the ACB's, nor another DCC party's)."""
        return not (self.acb_originated or self.acb_own or self.signed_by is not None)

    @property
    def signed(self) -> bool:
        """Whether the command carries a signature: the DCC User's (critical) or the DCC
        party's that originates it (``signed_by``)."""
        return self.critical or self.signed_by is not None

    def declared_code(self, code: int | None = None) -> int:
        """The alert code to raise: ``code``, which this use case must declare, or (when
        ``code`` is None) the code it carries when its raiser names none."""
        if not self.alert_codes:
            raise ValueError(f"{self} is not an alert with an alert code")
        if code is None:
            if self.alert_code is None:
                raise ValueError(
                    f"{self} may carry {_codes(self.alert_codes)}: name the one to raise"
                )
            return self.alert_code
        if code not in self.alert_codes:
            raise ValueError(
                f"{self} does not carry alert code 0x{code:04X}: "
                f"it declares {_codes(self.alert_codes)}"
            )
        return code

    def __str__(self) -> str:
        return f"{self.name} (0x{self.message_code:04X})"


def _codes(codes: Iterable[int]) -> str:
    return ", ".join(f"0x{c:04X}" for c in codes)


class Catalogue:
    """The declared use cases: by message code, by name, and by (SRV, device type)."""

    def __init__(self, use_cases: Iterable[UseCase]) -> None:
        self.all = tuple(use_cases)
        self.by_code = {u.message_code: u for u in self.all}
        self.by_name = {u.name: u for u in self.all}
        self._by_srv = {(srv, t): u for u in self.all for srv in u.srvs for t in u.device_types}
        if len(self.by_code) != len(self.all) or len(self.by_name) != len(self.all):
            raise ValueError("two use cases share a message code or a name")

    def for_srv(self, srv: str, device_type: str) -> UseCase | None:
        """The use case the DCC transforms ``srv`` into for a device of this type."""
        return self._by_srv.get((srv, device_type))

    def srvs(self) -> set[str]:
        return {srv for srv, _ in self._by_srv}

    def of(self, msg: GbcsMessage) -> UseCase:
        uc = self.by_code.get(msg.message_code)
        if uc is None:
            raise DecodeError(f"message code 0x{msg.message_code:04X} is not served by the rig", 0)
        return uc


def invoke_id(counter: int) -> int:
    """long-invoke-id-and-priority: the counter's low 24 bits, service class confirmed."""
    return 0x2000_0000 | (counter & 0x00FF_FFFF)


# --- commands (what the DCC's transform builds, and what a device checks) ---------------------
def _zcl_reads(req: ZclRead | ZclReads) -> tuple[ZclRead, ...]:
    return (req,) if isinstance(req, ZclRead) else req.reads


def _gbz_command(uc: UseCase, req: ZclCommand, argument: Argument | None) -> bytes:
    if req.payload is not None:
        body = req.payload
    else:
        if not isinstance(argument, bytes) or len(argument) != req.given:
            raise ValueError(f"{uc.name} takes {req.given} bytes from the request")
        body = req.prefix + bytes([len(argument)]) + argument
    header = gbz.ZclHeader(gbz.ZCL_CLUSTER_SPECIFIC, 0, req.command)
    component = gbz.Component(gbz.CONTROL_LAST, req.cluster, header, body)
    return gbz.GbzPayload(1, [component]).encode()


def _gbz_commands(uc: UseCase, req: ZclCommands, argument: Argument | None) -> bytes:
    if not isinstance(argument, tuple) or len(argument) != req.count:
        raise ValueError(f"{uc.name} takes {req.count} command payloads from the request")
    components = [
        gbz.Component(
            gbz.CONTROL_LAST if n == req.count - 1 else 0,
            req.cluster,
            gbz.ZclHeader(gbz.ZCL_CLUSTER_SPECIFIC, n, req.command),
            body,
        )
        for n, body in enumerate(argument)
    ]
    return gbz.GbzPayload(req.count, components).encode()


def _gbz_batch(uc: UseCase, req: ZclBatch, argument: Argument | None) -> bytes:
    if (
        not isinstance(argument, tuple)
        or not all(argument)
        or not req.check([entry[0] for entry in argument])
    ):
        raise ValueError(f"{uc.name} takes one payload per command, each after its part's index")
    count = len(argument)
    components = []
    for n, entry in enumerate(argument):
        part = req.parts[entry[0]]
        components.append(
            gbz.Component(
                (gbz.CONTROL_LAST if n == count - 1 else 0)
                | (gbz.CONTROL_FROM_DATE_TIME if part.from_date_time else 0),
                part.cluster,
                gbz.ZclHeader(part.frame_control, n, part.command),
                entry[1:],
                from_date_time=getattr(entry, "from_date_time", 0) if part.from_date_time else None,
            )
        )
    return gbz.GbzPayload(count, components).encode()


def _gbz_part(part: ZclRead | ZclCommand, sequence: int, last: bool) -> gbz.Component:
    control = gbz.CONTROL_LAST if last else 0
    if isinstance(part, ZclRead):
        header = gbz.ZclHeader(0x00, sequence, gbz.READ_ATTRIBUTES)
        return gbz.Component(control, part.cluster, header, gbz.attribute_ids(part.attributes))
    header = gbz.ZclHeader(gbz.ZCL_CLUSTER_SPECIFIC, sequence, part.command)
    return gbz.Component(control, part.cluster, header, part.payload or b"")


def command_payload(
    uc: UseCase,
    counter: int,
    originator: bytes,
    recipient: bytes,
    argument: Argument | None = None,
) -> bytes:
    """The payload the declaration describes, for this counter and these parties (and the
    ``argument`` an Action or a ZclCommand takes from the request)."""
    req = uc.request
    if isinstance(req, ZclRead | ZclReads):
        reads = _zcl_reads(req)
        components = [
            gbz.Component(
                gbz.CONTROL_LAST if n == len(reads) - 1 else 0,
                read.cluster,
                gbz.ZclHeader(0x00, n, gbz.READ_ATTRIBUTES),
                gbz.attribute_ids(read.attributes),
            )
            for n, read in enumerate(reads)
        ]
        return gbz.GbzPayload(len(components), components).encode()
    if isinstance(req, ZclCommand):
        return _gbz_command(uc, req, argument)
    if isinstance(req, ZclCommands):
        return _gbz_commands(uc, req, argument)
    if isinstance(req, ZclBatch):
        return _gbz_batch(uc, req, argument)
    if isinstance(req, ZclLogRead):
        if not isinstance(argument, bytes) or len(argument) < 4:
            raise ValueError(f"{uc.name} takes a From Date-Time and a payload from the request")
        component = gbz.Component(
            gbz.CONTROL_LAST | gbz.CONTROL_FROM_DATE_TIME,
            req.cluster,
            gbz.ZclHeader(gbz.ZCL_CLUSTER_SPECIFIC, 0, req.command),
            argument[4:],
            from_date_time=int.from_bytes(argument[:4], "big"),
        )
        return gbz.GbzPayload(1, [component]).encode()
    if isinstance(req, ZclSequence):
        return gbz.GbzPayload(
            len(req.parts),
            [_gbz_part(part, n, n == len(req.parts) - 1) for n, part in enumerate(req.parts)],
        ).encode()
    if isinstance(req, Der):
        if not isinstance(argument, bytes) or not req.check(argument):
            raise ValueError(f"{uc.name} takes a DER SEQUENCE of types {req.fields}")
        return argument
    if isinstance(req, access.Access):
        if argument is not None and not isinstance(argument, Mapping):
            raise ValueError(f"{uc.name} takes named values from the request")
        return access.payload(req, invoke_id(counter), argument or {})
    if isinstance(req, Get):
        t = req.target
        spec = RequestSpec(RequestKind.GET, t.class_id, t.instance, t.attribute)
        data = Data(dlms.DataType.NULL_DATA)
    elif isinstance(req, Action):
        m = req.target
        spec = RequestSpec(RequestKind.ACTION, m.class_id, m.instance, m.method)
        chosen = req.argument if req.argument is not None else argument
        if not isinstance(chosen, Data) or (req.given is not None and chosen.type is not req.given):
            raise ValueError(f"{uc.name} takes a {req.given} argument from the request")
        data = chosen
    elif isinstance(req, ProtectedRead):
        m = cosem.DATA_PROTECTION
        spec = RequestSpec(RequestKind.ACTION, m.class_id, m.instance, m.method)
        data = cosem.protected_read_argument(req.objects, counter, originator, recipient)
    else:
        raise ValueError(f"{uc.name} is an alert: no command to build")
    return AccessRequest(invoke_id(counter), b"", [spec], [data]).encode()


def command(
    uc: UseCase,
    counter: int,
    originator: bytes,
    recipient: bytes,
    argument: Argument | None = None,
) -> GbcsMessage:
    """The command as the transform builds it; a critical one is the pre-command to sign."""
    return GbcsMessage.build(
        Cra.COMMAND,
        counter,
        originator,
        recipient,
        uc.message_code,
        command_payload(uc, counter, originator, recipient, argument),
        pre_command=uc.critical,
    )


def _batch_argument(req: ZclBatch, payload: bytes) -> tuple[bytes, ...] | None:
    """A ZclBatch's argument from its command's payload: each component as the part it is
    (the next part of the same cluster and command, or this one again) and its payload."""
    try:
        components = gbz.decode(payload).components
    except DecodeError:
        return None
    entries, index = [], 0
    for c in components:
        found = next(
            (
                i
                for i in range(index, len(req.parts))
                if (req.parts[i].cluster, req.parts[i].command) == (c.cluster, c.zcl.command)
            ),
            None,
        )
        if found is None:
            return None
        entry = bytes([found]) + c.payload
        entries.append(DatedEntry(entry, c.from_date_time) if c.from_date_time else entry)
        index = found
    return tuple(entries)


def given_argument(uc: UseCase, payload: bytes) -> Argument | None:
    """The argument a command carries that its declaration leaves to the request, or None
    when the declaration fixes it (or the payload is not one access-request action, or not
    one GBZ component)."""
    req = uc.request
    if isinstance(req, Der):
        return payload
    if isinstance(req, access.Access):
        return access.given_values(req, payload) if req.names else None
    if isinstance(req, ZclCommands):
        try:
            return tuple(c.payload for c in gbz.decode(payload).components)
        except DecodeError:
            return None
    if isinstance(req, ZclBatch):
        return _batch_argument(req, payload)
    if isinstance(req, ZclLogRead):
        try:
            components = gbz.decode(payload).components
        except DecodeError:
            return None
        if len(components) != 1 or components[0].from_date_time is None:
            return None
        return components[0].from_date_time.to_bytes(4, "big") + components[0].payload
    if isinstance(req, ZclCommand) and req.given is not None:
        try:
            components = gbz.decode(payload).components
        except DecodeError:
            return None
        body = components[0].payload if len(components) == 1 else b""
        if not body.startswith(req.prefix) or len(body) <= len(req.prefix):
            return None
        return body[len(req.prefix) + 1 :]
    if not isinstance(req, Action) or req.given is None:
        return None
    try:
        apdu = dlms.decode(payload)
    except DecodeError:
        return None
    if not isinstance(apdu, AccessRequest) or len(apdu.data) != 1:
        return None
    return apdu.data[0]


def check_command(msg: GbcsMessage, catalogue: Catalogue) -> UseCase:
    """The use case of a command whose payload is exactly what its declaration describes."""
    uc = catalogue.of(msg)
    h = msg.header
    if h.cra is not Cra.COMMAND or uc.is_alert:
        raise DecodeError(f"{uc.name}: expected a command, found a {h.cra.name.lower()}", 0)
    party = h.other.remote_party_id
    if party is not None and not (uc.unknown_remote_party or uc.acb_originated):
        raise DecodeError(f"{uc.name} is not sent for an unknown remote party", 0)
    if uc.acb_originated and (party is None or h.other.certificate is not None):
        raise DecodeError(f"{uc.name} is the ACB's, for a DCC User named without certificate", 0)
    try:
        expected = command_payload(
            uc, h.counter, party or h.originator, h.recipient, given_argument(uc, msg.payload)
        )
    except ValueError:
        expected = b""
    if msg.payload != expected:
        raise DecodeError(f"{uc.name}: the payload is not the one GBCS defines", 0)
    return uc


def for_unknown_remote_party(
    command: GbcsMessage,
    acb: bytes,
    counter: int,
    request_counter: int,
    certificate: bytes | None,
) -> GbcsMessage:
    """The command the ACB originates for an unknown remote party (``command``'s
    originator, whose payload names it): the ACB's ``counter``, and the party, its
    RequestID counter and its KA ``certificate`` (DER) as the supplementary remote party;
    without a certificate, for the DCC User of an ``acb_originated`` use case (the CHF's)."""
    h = command.header
    other = OtherInformation(h.message_code, h.originator, request_counter, certificate=certificate)
    return GbcsMessage.build(
        h.cra, counter, acb, h.recipient, h.message_code, command.payload,
        date_time=h.date_time, other=other,
    )  # fmt: skip


# --- a device's answer -------------------------------------------------------------------------
def response_shell(
    cmd: GbcsMessage, uc: UseCase, when: dt.datetime, originator_counter: int | None = None
) -> GbcsMessage:
    """The response's grouping header (no payload yet): same counter, parties swapped, the
    device's date-time where the use case carries one; to an unknown remote party's
    command, the party and the device's ``originator_counter``. An encrypted answer's key
    is derived from it (:func:`rig.protocol.gbcs.security.encryption_key`)."""
    h = cmd.header
    return GbcsMessage.build(
        Cra.RESPONSE,
        h.counter,
        h.recipient,
        h.originator,
        h.message_code,
        b"",
        date_time=dlms.date_time(when) if uc.dated else None,
        other=_answer_other(h.other, originator_counter),
    )


def _answer_other(asked: OtherInformation, counter: int | None) -> OtherInformation | None:
    """A response to an unknown remote party's command names the party and its counter and
    adds the device's own ``counter`` (from which its encryption key is derived)."""
    if asked.remote_party_id is None:
        return None
    if asked.certificate is None and asked.originator_counter is None and counter is None:
        # the answer to the ACB's command for a DCC User (the CHF's): the party named back
        return OtherInformation(
            asked.message_code, asked.remote_party_id, asked.remote_party_counter
        )
    if counter is None:
        raise ValueError("a response to an unknown remote party takes the device's counter")
    return OtherInformation(
        asked.message_code, asked.remote_party_id, asked.remote_party_counter, counter
    )


def with_payload(shell: GbcsMessage, payload: bytes) -> GbcsMessage:
    h = shell.header
    return GbcsMessage.build(
        h.cra,
        h.counter,
        h.originator,
        h.recipient,
        h.message_code,
        payload,
        date_time=h.date_time,
        other=h.other,
    )


def dlms_answer(counter: int, data: list[Data], results: list[dlms.ResponseSpec]) -> bytes:
    """An access-response: one Data and one result per request specification."""
    return AccessResponse(invoke_id(counter), b"", None, data, results).encode()


def _answer_control(uc: UseCase, index: int, reply: gbz.Reply) -> int:
    """The ZCL frame control of the answer to component ``index``: a cluster's own response
    (0x09), a Read or Write Attributes Response as the read declares it, else 0x08."""
    if reply.cluster_specific:
        # a log's answer (GCS15e's Publish Top Up Log) asks for no Default Response
        quiet = gbz.ZCL_DISABLE_DEFAULT_RESPONSE if isinstance(uc.request, ZclLogRead) else 0
        return gbz.ZCL_SERVER_TO_CLIENT | gbz.ZCL_CLUSTER_SPECIFIC | quiet
    req = uc.request
    if reply.command != gbz.DEFAULT_RESPONSE:
        if isinstance(req, ZclRead | ZclReads) and index < len(_zcl_reads(req)):
            return _zcl_reads(req)[index].answer_control
        part = req.parts[index] if isinstance(req, ZclSequence) and index < len(req.parts) else None
        if isinstance(part, ZclRead):
            return part.answer_control
        return gbz.ZCL_SERVER_TO_CLIENT | gbz.ZCL_DISABLE_DEFAULT_RESPONSE
    return gbz.ZCL_SERVER_TO_CLIENT


def gbz_answers(
    uc: UseCase,
    requests: list[gbz.Component],
    replies: list[gbz.Reply],
    encrypt: Callable[[bytes], bytes] | None = None,
) -> gbz.GbzPayload:
    """A GBZ answer: one component per request component (or more: a reply's ``more``), in
    order, each the device's reply with the request's sequence number. When the use case
    encrypts its answer, ``encrypt`` turns a payload into ``31 || IC || ciphertext || tag``
    for the requester: the replies marked sensitive are encrypted (GCS16b's snapshots), or
    else the last one (the one reply, or GCS14's prepayment registers after its clear Price
    attributes) unless it is a Default Response (RTDS's GCS14 error has it clear); the
    Additional Header Frame Counter counts the encrypted components from 0."""
    answers = [
        (n, request, answer)
        for n, (request, reply) in enumerate(zip(requests, replies, strict=True))
        for answer in (reply, *reply.more)
    ]
    sensitive = {i for i, (_, _, reply) in enumerate(answers) if reply.sensitive}
    if not sensitive and answers and answers[-1][2].command != gbz.DEFAULT_RESPONSE:
        sensitive = {len(answers) - 1}  # a Default Response carries no values: never
    components, encrypted = [], 0
    for index, (n, request, reply) in enumerate(answers):
        control = gbz.CONTROL_LAST if index == len(answers) - 1 else 0
        answer_control = _answer_control(uc, n, reply)
        if request.zcl.server_to_client and not reply.cluster_specific:
            answer_control &= ~gbz.ZCL_SERVER_TO_CLIENT  # answering a server's command (GCS05)
        if reply.frame_control is not None:
            answer_control = reply.frame_control
        header = gbz.ZclHeader(answer_control, request.zcl.sequence, reply.command)
        if encrypt is not None and index in sensitive:
            blob = gbz.Encrypted(0, encrypted, encrypt(reply.payload))
            components.append(
                gbz.Component(
                    control | gbz.CONTROL_ENCRYPTED, request.cluster, header, encrypted=blob
                )
            )
            encrypted += 1
        else:
            components.append(gbz.Component(control, request.cluster, header, reply.payload))
    return gbz.GbzPayload(len(components), components)


def protect(
    uc: UseCase,
    msg: GbcsMessage,
    device_ds: ec.EllipticCurvePrivateKey,
    device_ka: ec.EllipticCurvePrivateKey,
    recipient_ka: ec.EllipticCurvePublicKey | None,
) -> GbcsMessage:
    """The answer as the use case protects it: signed with the DS key, or MAC'd."""
    if uc.response is Protection.SIGNATURE:
        return security.sign_message(msg, device_ds)
    if recipient_ka is None:
        raise security.SecurityError(f"{uc.name}: a MAC'd answer needs the recipient's KA key")
    return security.apply_mac(msg, device_ka, recipient_ka)
