"""A GBCS use case as one declaration, and the codecs every use case shares.

A :class:`UseCase` says what GBCS says of it: message code, the device type that runs it,
the DUIS SRVs the DCC transforms into it, its payload form (DLMS COSEM, GBZ, ASN.1),
whether it is critical, how the device protects what it sends back, and what the command
asks (:data:`Request`: a COSEM GET or ACTION, a protected read, a ZCL read); an alert, every
GBCS alert code it may carry (:meth:`UseCase.declared_code` refuses any other). The
declarations live in :mod:`rig.protocol.gbcs.catalogue`; the three behaviours are
registered where they belong: the DCC's transform from the DUIS body in
``gateway.transform``, the device's handler in ``nodes.gbcs``, the DCC User's reader
in ``rig.dccuser.readers``.

The codecs here are pure: the command a declaration describes (:func:`command`), the
check that a received command is exactly that (:func:`check_command`), and the frame of
a device's answer (:func:`response_shell`, :func:`dlms_answer`, :func:`gbz_answer`,
:func:`protect`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric import ec

from rig.protocol.codec import DecodeError
from rig.protocol.gbcs import cosem, dlms, gbz, security
from rig.protocol.gbcs.dlms import AccessRequest, AccessResponse, Data, RequestKind, RequestSpec
from rig.protocol.gbcs.frame import Cra, GbcsMessage


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
    """Read ZCL attributes of one cluster (a GBZ Read Attributes command)."""

    cluster: int
    attributes: tuple[gbz.ZclAttribute, ...]


Request = Get | Action | ProtectedRead | ZclRead


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
        self._by_srv = {(srv, u.device_type): u for u in self.all for srv in u.srvs}
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
def command_payload(
    uc: UseCase,
    counter: int,
    originator: bytes,
    recipient: bytes,
    argument: Data | None = None,
) -> bytes:
    """The payload the declaration describes, for this counter and these parties (and the
    ``argument`` an Action takes from the request)."""
    req = uc.request
    if isinstance(req, ZclRead):
        component = gbz.Component(
            gbz.CONTROL_LAST,
            req.cluster,
            gbz.ZclHeader(0x00, 0, gbz.READ_ATTRIBUTES),
            gbz.attribute_ids(req.attributes),
        )
        return gbz.GbzPayload(1, [component]).encode()
    if isinstance(req, Get):
        t = req.target
        spec = RequestSpec(RequestKind.GET, t.class_id, t.instance, t.attribute)
        data = Data(dlms.DataType.NULL_DATA)
    elif isinstance(req, Action):
        m = req.target
        spec = RequestSpec(RequestKind.ACTION, m.class_id, m.instance, m.method)
        chosen = req.argument if req.argument is not None else argument
        if chosen is None or (req.given is not None and chosen.type is not req.given):
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
    argument: Data | None = None,
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


def given_argument(uc: UseCase, payload: bytes) -> Data | None:
    """The argument a command carries that its declaration leaves to the request, or None
    when the declaration fixes it (or the payload is not one access-request action)."""
    req = uc.request
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
    try:
        expected = command_payload(
            uc, h.counter, h.originator, h.recipient, given_argument(uc, msg.payload)
        )
    except ValueError:
        expected = b""
    if msg.payload != expected:
        raise DecodeError(f"{uc.name}: the payload is not the one GBCS defines", 0)
    return uc


# --- a device's answer -------------------------------------------------------------------------
def response_shell(cmd: GbcsMessage, uc: UseCase, when: dt.datetime) -> GbcsMessage:
    """The response's grouping header (no payload yet): same counter, parties swapped, the
    device's date-time where the use case carries one. An encrypted answer's key is
    derived from it (:func:`rig.protocol.gbcs.security.encryption_key`)."""
    h = cmd.header
    return GbcsMessage.build(
        Cra.RESPONSE,
        h.counter,
        h.recipient,
        h.originator,
        h.message_code,
        b"",
        date_time=dlms.date_time(when) if uc.dated else None,
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
    )


def dlms_answer(counter: int, data: list[Data], results: list[dlms.ResponseSpec]) -> bytes:
    """An access-response: one Data and one result per request specification."""
    return AccessResponse(invoke_id(counter), b"", None, data, results).encode()


def gbz_answer(
    request: gbz.Component, records: bytes, encrypt: bytes | None = None
) -> gbz.GbzPayload:
    """A GBZ answer to one Read or Write Attributes command; ``encrypt`` holds the records
    encrypted (``31 || IC || ciphertext || tag``) when the use case encrypts them."""
    answer = {
        gbz.READ_ATTRIBUTES: gbz.READ_ATTRIBUTES_RESPONSE,
        gbz.WRITE_ATTRIBUTES: gbz.WRITE_ATTRIBUTES_RESPONSE,
    }[request.zcl.command]
    header = gbz.ZclHeader(0x18, request.zcl.sequence, answer)
    if encrypt is not None:
        component = gbz.Component(
            gbz.CONTROL_LAST | gbz.CONTROL_ENCRYPTED,
            request.cluster,
            header,
            encrypted=gbz.Encrypted(0, 0, encrypt),
        )
    else:
        component = gbz.Component(gbz.CONTROL_LAST, request.cluster, header, records)
    return gbz.GbzPayload(1, [component])


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
