"""The DCC's GBCS command and the device's answer against DCC's reference test data (RTDS).

RTDS keeps each use case's messages in ``<SRV>_<use case>/`` as one hex line per file
(``<use case>_<SRV>_<case>_COMMAND_GBCS.HEX``, ``..._RESPONSE_GBCS.HEX``). A command
equals RTDS's when the grouping header and payload are the same byte for byte once RTDS's
EUIs are the rig's, leaving out what cannot match: the counters (RTDS's are its own), the
MAC and the signature; RTDS's command is re-countered (:func:`recounter`) first. A GBZ
command whose payload differs only in ZigBee times that are the DCC's clock in ours and
RTDS's test date in theirs (the issuer event id) is equal, saying where
(:func:`dcc_time_stamps`).
"""

from __future__ import annotations

import contextlib
import functools
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rig.dccuser.readers import ReadError, read
from rig.pki.keystores import load
from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import asn1
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import invoke_id
from rig.protocol.keystore import KeyStore
from rig.protocol.smki import Usage
from rig.reference import VECTORS

RTDS = VECTORS / "gbcs" / "rtds-4.5.0"
RTDS_KEYS = (VECTORS / "gbcs" / "rtds-keystore", VECTORS / "gbcs" / "device-keys")
EQUAL = "equal"  # also "equal (but the DCC's own time at payload offset N)"
NO_COMMAND = "no RTDS command"
ACCESS_REQUEST = b"\xd9"  # DLMS access-request, then its long-invoke-id-and-priority
ASN1_SEQUENCE = b"\x30"  # an ASN.1 payload (CS02x, CS06, ...)


@dataclass(frozen=True, slots=True)
class Reference:
    """RTDS's command for a template's case, and the device's response to it if RTDS has one."""

    command: Path
    response: Path | None

    @property
    def case(self) -> str:
        return self.command.name.removesuffix("_COMMAND_GBCS.HEX")


def unhex(path: Path) -> bytes:
    return bytes.fromhex("".join(path.read_text().split()))


def reference_for(
    srv: str, use_case: str | None, words: tuple[str, ...], root: Path = RTDS
) -> Reference | None:
    """RTDS's command of ``use_case`` for ``srv`` whose case words match ``words`` best (the
    same words; else the most in common, a SUCCESS case unless the words say ERROR); None
    when RTDS has no command for it."""
    if use_case is None:
        return None
    folder = root / f"{srv}_{use_case}"
    prefix, suffix = f"{use_case}_{srv}_", "_COMMAND_GBCS.HEX"
    if not folder.is_dir():
        return None
    cases = {
        p.name[len(prefix) : -len(suffix)]: p
        for p in folder.iterdir()
        if p.name.startswith(prefix) and p.name.endswith(suffix)
    }
    if not cases:
        return None
    wanted = set(words)
    error = "ERROR" in wanted

    def rank(case: str) -> tuple[bool, bool, int, bool, int]:
        have = set(case.split("_"))
        return (
            have == wanted,
            ("ERROR" in have) == error,
            len(have & wanted),
            "SUCCESS" in have,
            -len(have - wanted),
        )

    top = max(rank(c) for c in cases)
    best = min(c for c in cases if rank(c) == top)  # ties: the first by name (SINGLE, TWIN)
    response = folder / f"{prefix}{best}_RESPONSE_GBCS.HEX"
    return Reference(cases[best], response if response.is_file() else None)


def remap(data: bytes, euis: Mapping[Eui64, Eui64]) -> bytes:
    """``data`` with each 8-byte EUI of ``euis`` replaced by its value, in one pass."""
    table = {a.raw: b.raw for a, b in euis.items() if a != b}
    if not table:
        return data
    pattern = re.compile(b"|".join(re.escape(k) for k in table))
    return pattern.sub(lambda m: table[m.group(0)], data)


def recounter(msg: GbcsMessage, counter: int) -> GbcsMessage:
    """``msg`` as if sent with ``counter``: the grouping header's counter and what GBCS
    derives from it in a DLMS payload (the long-invoke-id, a protected read's 8-byte
    transaction counter) or carries in an ASN.1 one (an INTEGER: CS06's and CS02b's
    sequence number)."""
    old = msg.header.counter
    payload = msg.payload
    if payload[:1] == ACCESS_REQUEST and payload[1:5] == invoke_id(old).to_bytes(4, "big"):
        payload = ACCESS_REQUEST + invoke_id(counter).to_bytes(4, "big") + payload[5:]
    elif payload[:1] == ASN1_SEQUENCE:
        with contextlib.suppress(DecodeError):
            tree = asn1.decode(payload)
            payload = b"".join(_swap(e, old, counter).encode() for e in tree.elements)
    payload = payload.replace(old.to_bytes(8, "big"), counter.to_bytes(8, "big"))
    return replace(msg, header=replace(msg.header, counter=counter), payload=payload)


def _swap(t: asn1.Tlv, old: int, new: int) -> asn1.Tlv:
    """``t`` with every INTEGER (universal or implicitly tagged) of value ``old`` set to ``new``."""
    if t.constructed:
        return replace(t, children=tuple(_swap(c, old, new) for c in t.children))
    integer_like = (t.cls == 0 and t.number == asn1.INTEGER) or t.cls == 2
    if integer_like and 0 < len(t.value) <= 9 and asn1.int_value(t) == old:
        return replace(t, value=asn1.integer(new).value)
    return t


def _protection(msg: GbcsMessage) -> str:
    parts = [p for p, on in (("MAC", msg.mac is not None), ("signed", msg.signature)) if on]
    return "+".join(parts) or ("pre-command" if msg.is_pre_command else "none")


def first_difference(ours: GbcsMessage, ref: GbcsMessage) -> str | None:
    """The first field in which ``ours`` differs from ``ref`` (counters, MAC and signature
    left out), or None when they are the same."""
    h, r = ours.header, ref.header

    def hexed(value: bytes | None) -> str:
        return "absent" if value is None else value.hex().upper()

    fields: list[tuple[str, Any, Any]] = [
        ("CRA flag", h.cra.name, r.cra.name),
        ("originator", hexed(h.originator), hexed(r.originator)),
        ("recipient", hexed(h.recipient), hexed(r.recipient)),
        ("date-time", hexed(h.date_time), hexed(r.date_time)),
        ("message code", f"{h.message_code:04X}", f"{r.message_code:04X}"),
        (
            "supplementary remote party",
            hexed(h.other.remote_party_id),
            hexed(r.other.remote_party_id),
        ),
        (
            "supplementary certificate",
            hexed(h.other.certificate),
            hexed(r.other.certificate),
        ),
        ("protection", _protection(ours), _protection(ref)),
    ]
    for name, a, b in fields:
        if a != b:
            return f"{name} ({a} vs RTDS {b})"
    if ours.payload != ref.payload:
        at = next(
            (i for i, (a, b) in enumerate(zip(ours.payload, ref.payload, strict=False)) if a != b),
            min(len(ours.payload), len(ref.payload)),
        )
        return (
            f"payload offset {at} ({len(ours.payload)} bytes vs RTDS {len(ref.payload)}: "
            f"{ours.payload[at : at + 4].hex().upper() or 'end'} vs "
            f"{ref.payload[at : at + 4].hex().upper() or 'end'})"
        )
    return None


def compare_command(ours: bytes | None, ref: bytes | None, euis: Mapping[Eui64, Eui64]) -> str:
    """``"equal"``, ``"differs: <first differing field>"`` or ``"no RTDS command"``."""
    if ref is None:
        return NO_COMMAND
    if ours is None:
        return "differs: the DCC sent no command"
    try:
        mine = GbcsMessage.decode(ours)
    except DecodeError as exc:
        return f"differs: the DCC's command does not decode ({exc})"
    try:
        theirs = GbcsMessage.decode(remap(ref, euis))
    except DecodeError as exc:
        return f"differs: RTDS's command does not decode ({exc})"
    theirs = recounter(theirs, mine.header.counter)
    diff = first_difference(mine, theirs)
    if (
        diff is not None
        and diff.startswith("payload")
        and (stamps := dcc_time_stamps(mine.payload, theirs.payload))
    ):
        return f"{EQUAL} (but the DCC's own time at payload offset {', '.join(map(str, stamps))})"
    return EQUAL if diff is None else f"differs: {diff}"


ZIGBEE_EPOCH = 946_684_800  # 2000-01-01T00:00:00Z, Unix seconds
RTDS_YEARS = (1_388_534_400, 1_577_836_800)  # RTDS's test dates lie in 2014-2019
DCC_TIME_SLACK_S = 2 * 86_400


def dcc_time_stamps(ours: bytes, theirs: bytes, now: float | None = None) -> list[int]:
    """Where ``ours`` differs from RTDS's ``theirs`` only in ZigBee UTC times (uint32, little
    endian, seconds since 2000) that are the DCC's time now in ours and RTDS's own test date
    in theirs (a GBZ command's issuer event id, which the DCC takes from its clock): those
    offsets; an empty list when anything else differs."""
    if len(ours) != len(theirs):
        return []
    now = time.time() if now is None else now
    stamps: list[int] = []
    i = 0
    while i < len(ours):
        if ours[i] == theirs[i]:
            i += 1
            continue
        start = next(
            (s for s in range(max(0, i - 3), i + 1) if _dcc_time(ours, theirs, s, now)), None
        )
        if start is None:
            return []
        stamps.append(start)
        i = start + 4
    return stamps


def _dcc_time(ours: bytes, theirs: bytes, at: int, now: float) -> bool:
    if at + 4 > len(ours):
        return False
    mine = int.from_bytes(ours[at : at + 4], "little") + ZIGBEE_EPOCH
    rtds = int.from_bytes(theirs[at : at + 4], "little") + ZIGBEE_EPOCH
    return abs(mine - now) <= DCC_TIME_SLACK_S and RTDS_YEARS[0] <= rtds < RTDS_YEARS[1]


@functools.cache
def rtds_keys() -> KeyStore | None:
    """RTDS's organisation and device keys (to read its responses), or None when absent."""
    if not all(p.is_dir() for p in RTDS_KEYS):
        return None
    return load(list(RTDS_KEYS))


def read_reference(data: bytes, keys: KeyStore | None) -> dict[str, Any]:
    """RTDS's response read as its recipient (RTDS's keys), as the DCC User reads ours."""
    msg = GbcsMessage.decode(data)
    if keys is None:
        raise ReadError("RTDS's keys are absent")
    user = keys.private(Eui64(msg.header.recipient), Usage.KA)
    device = Eui64(msg.header.originator)
    ka, ds = keys.find(device, Usage.KA), keys.find(device, Usage.DS)
    return read(
        msg,
        user_ka=None if user is None else user.private_key,
        device_ka=None if ka is None else ka.public_key,
        device_ds=None if ds is None else ds.public_key,
    )


def compare_response(
    values: Mapping[str, Any] | None,
    read_error: str | None,
    ref: bytes | None,
    keys: KeyStore | None = None,
) -> str:
    """``"decodes"`` (ours read, with the same keys as RTDS's response where that reads),
    ``"differs: ..."`` or ``"none"`` (no device response)."""
    if read_error:
        return f"differs: {read_error}"
    if not values:
        return "none"
    if ref is None:
        return "decodes"
    try:
        theirs = read_reference(ref, keys)
    except (ReadError, DecodeError, ValueError) as exc:
        # RTDS's response cannot be read here: compare what can be
        try:
            code = f"{GbcsMessage.decode(ref).message_code:04X}"
        except DecodeError:
            return f"decodes (RTDS's response does not: {exc})"
        if values.get("message_code") not in (None, code):
            return f"differs: message code {values.get('message_code')} vs RTDS {code}"
        return "decodes"
    mine, them = set(values), set(theirs)
    if mine == them:
        return "decodes"
    only_ours, only_rtds = sorted(mine - them), sorted(them - mine)
    parts = ([f"only ours: {', '.join(only_ours)}"] if only_ours else []) + (
        [f"only RTDS: {', '.join(only_rtds)}"] if only_rtds else []
    )
    return "differs: keys " + "; ".join(parts)
