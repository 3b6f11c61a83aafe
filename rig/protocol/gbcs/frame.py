"""GBCS message framing: the MAC header (general ciphering), the general-signing APDU
and its grouping header, as GBCS section 7 lays them out.

::

    DD 00 00 00 00 00 00  len  11 00000000  <general-signing APDU>  MAC(12)
    DF 09 CRA counter(8)  08 originator(8)  08 recipient(8)
       date-time (00 | 0C + 12)  other-information (len + message code + supplementary)
       content (len + payload)  signature (absent in a pre-command | 00 | 40 + r||s)

Pure: bytes in, :class:`GbcsMessage` out, and back byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum

from rig.protocol.codec import DecodeError, Reader, der_length

GENERAL_CIPHERING = 0xDD
GENERAL_SIGNING = 0xDF
SECURITY_HEADER = bytes.fromhex("1100000000")  # security control "authenticated only", IC 0
MAC_LENGTH = 12
SIGNATURE_LENGTH = 64
_EMPTY_CIPHERING_FIELDS = bytes(6)  # transaction-id .. key-info, all empty in GBCS


class Cra(IntEnum):
    """The CRA flag: first octet of the transaction ID."""

    COMMAND = 1
    RESPONSE = 2
    ALERT = 3


@dataclass(frozen=True, slots=True)
class OtherInformation:
    """Message code plus the supplementary remote party fields some use cases carry.

    Commands that change a remote party (e.g. CS02b, ECS21b URP) carry the supplementary
    remote party ID and counter and a certificate; their responses the supplementary
    originator counter instead.
    """

    message_code: int
    remote_party_id: bytes | None = None
    remote_party_counter: int | None = None
    originator_counter: int | None = None
    certificate: bytes | None = None

    def encode(self) -> bytes:
        body = self.message_code.to_bytes(2, "big")
        if self.remote_party_id is not None:
            body += self.remote_party_id
            if self.remote_party_counter is not None:
                body += self.remote_party_counter.to_bytes(8, "big")
                if self.originator_counter is not None:
                    body += self.originator_counter.to_bytes(8, "big")
                elif self.certificate is not None:
                    body += self.certificate
        return der_length(len(body)) + body

    @classmethod
    def decode(cls, r: Reader) -> OtherInformation:
        inner = r.sub(r.der_length("other-information"), "other-information")
        code = inner.uint(2, "the message code")
        if inner.at_end():
            return cls(code)
        party = inner.take(8, "the supplementary remote party ID")
        if inner.at_end():
            return cls(code, party)
        party_counter = inner.uint(8, "the supplementary remote party counter")
        if inner.at_end():
            return cls(code, party, party_counter)
        if inner.remaining == 8:
            return cls(code, party, party_counter, originator_counter=inner.uint(8, "counter"))
        if inner.peek() != 0x30:
            raise inner.fail("the supplementary certificate is not a DER SEQUENCE")
        return cls(code, party, party_counter, certificate=inner.rest())


@dataclass(frozen=True, slots=True)
class GroupingHeader:
    cra: Cra
    counter: int  # originator counter: the transaction ID after the CRA flag
    originator: bytes  # system title, 8 bytes (an EUI-64)
    recipient: bytes
    date_time: bytes | None  # 12-byte COSEM date-time, or None when absent
    other: OtherInformation

    @property
    def message_code(self) -> int:
        return self.other.message_code

    @property
    def transaction_id(self) -> bytes:
        return bytes([self.cra]) + self.counter.to_bytes(8, "big")

    def encode(self) -> bytes:
        dt = b"\x00" if self.date_time is None else b"\x0c" + self.date_time
        return (
            b"\x09"
            + self.transaction_id
            + b"\x08"
            + self.originator
            + b"\x08"
            + self.recipient
            + dt
            + self.other.encode()
        )

    @classmethod
    def decode(cls, r: Reader) -> GroupingHeader:
        r.expect(b"\x09", "the transaction-id length")
        at = r.offset
        flag = r.u8("the CRA flag")
        try:
            cra = Cra(flag)
        except ValueError:
            raise DecodeError(f"CRA flag 0x{flag:02X} is not 1, 2 or 3", at) from None
        counter = r.uint(8, "the originator counter")
        r.expect(b"\x08", "the originator system-title length")
        originator = r.take(8, "the originator system title")
        r.expect(b"\x08", "the recipient system-title length")
        recipient = r.take(8, "the recipient system title")
        at = r.offset
        dt_len = r.u8("the date-time length")
        if dt_len not in (0, 12):
            raise DecodeError(f"date-time length is {dt_len}, not 0 or 12", at)
        date_time = r.take(12, "the date-time") if dt_len else None
        other = OtherInformation.decode(r)
        return cls(cra, counter, originator, recipient, date_time, other)


@dataclass(frozen=True, slots=True)
class GbcsMessage:
    """One GBCS message: grouping header, payload, optional signature, optional MAC.

    ``signature_field`` is False only for a pre-command, whose general-signing APDU ends
    with the payload and waits for the supplier to append the signature.
    """

    header: GroupingHeader
    payload: bytes
    signature: bytes | None = None
    signature_field: bool = True
    mac: bytes | None = None

    # --- views -----------------------------------------------------------------
    @property
    def cra(self) -> Cra:
        return self.header.cra

    @property
    def message_code(self) -> int:
        return self.header.message_code

    @property
    def is_pre_command(self) -> bool:
        return not self.signature_field and self.mac is None

    @property
    def kind(self) -> str:
        """``pre-command``, ``command``, ``response`` or ``alert``."""
        return "pre-command" if self.is_pre_command else self.cra.name.lower()

    @property
    def payload_offset(self) -> int:
        """Where the payload starts in :meth:`encode`'s output (for error offsets)."""
        head = 1 + len(self.header.encode()) + len(der_length(len(self.payload)))
        if self.mac is None:
            return head
        signature = 0 if not self.signature_field else 1 + len(self.signature or b"")
        ciphered = len(SECURITY_HEADER) + head + len(self.payload) + signature + MAC_LENGTH
        return (
            1
            + len(_EMPTY_CIPHERING_FIELDS)
            + len(der_length(ciphered))
            + len(SECURITY_HEADER)
            + head
        )

    def signed_part(self) -> bytes:
        """What the ECDSA signature covers: the APDU without ``DF``, up to the payload's end."""
        return self.header.encode() + der_length(len(self.payload)) + self.payload

    def general_signing(self) -> bytes:
        """The general-signing APDU, ``DF`` to the end of the signature field."""
        out = bytes([GENERAL_SIGNING]) + self.signed_part()
        if self.signature_field:
            out += b"\x00" if self.signature is None else b"\x40" + self.signature
        return out

    def encode(self) -> bytes:
        apdu = self.general_signing()
        if self.mac is None:
            return apdu
        ciphered = SECURITY_HEADER + apdu + self.mac
        return (
            bytes([GENERAL_CIPHERING])
            + _EMPTY_CIPHERING_FIELDS
            + der_length(len(ciphered))
            + ciphered
        )

    # --- building --------------------------------------------------------------
    def with_signature(self, signature: bytes) -> GbcsMessage:
        if len(signature) != SIGNATURE_LENGTH:
            raise ValueError(f"a GBCS signature is r||s, 64 bytes, not {len(signature)}")
        return replace(self, signature=signature, signature_field=True)

    def with_mac(self, mac: bytes) -> GbcsMessage:
        if len(mac) != MAC_LENGTH:
            raise ValueError(f"a GBCS MAC is 12 bytes, not {len(mac)}")
        return replace(self, mac=mac, signature_field=True)

    def without_mac(self) -> GbcsMessage:
        return replace(self, mac=None)

    @classmethod
    def build(
        cls,
        cra: Cra,
        counter: int,
        originator: bytes,
        recipient: bytes,
        message_code: int,
        payload: bytes,
        *,
        date_time: bytes | None = None,
        other: OtherInformation | None = None,
        pre_command: bool = False,
    ) -> GbcsMessage:
        if not 0 <= counter < 1 << 64:
            raise ValueError("the originator counter is an unsigned 64-bit number")
        if len(originator) != 8 or len(recipient) != 8:
            raise ValueError("system titles are 8-byte EUI-64s")
        header = GroupingHeader(
            cra,
            counter,
            originator,
            recipient,
            date_time,
            other or OtherInformation(message_code),
        )
        return cls(header, payload, None, signature_field=not pre_command)

    # --- decoding --------------------------------------------------------------
    @classmethod
    def decode(cls, data: bytes) -> GbcsMessage:
        r = Reader(bytes(data))
        first = r.peek("a GBCS message (DD or DF)")
        if first == GENERAL_CIPHERING:
            r.u8("the general-ciphering tag")
            r.expect(_EMPTY_CIPHERING_FIELDS, "the empty general-ciphering fields")
            ciphered = r.sub(r.der_length("the ciphered content"), "the ciphered content")
            r.done("the general-ciphering APDU")
            ciphered.expect(SECURITY_HEADER, "the security header")
            if ciphered.remaining < MAC_LENGTH + 1:
                raise ciphered.fail("the ciphered content is too short for an APDU and a MAC")
            apdu = Reader(
                ciphered.data, base=ciphered.base, start=ciphered.pos, end=ciphered.end - MAC_LENGTH
            )
            msg = cls._decode_signing(apdu, allow_pre_command=False)
            ciphered.pos = ciphered.end - MAC_LENGTH
            return replace(msg, mac=ciphered.take(MAC_LENGTH, "the MAC"))
        if first == GENERAL_SIGNING:
            return cls._decode_signing(r, allow_pre_command=True)
        raise r.fail(f"0x{first:02X} is neither general-ciphering (DD) nor general-signing (DF)")

    @classmethod
    def _decode_signing(cls, r: Reader, *, allow_pre_command: bool) -> GbcsMessage:
        r.expect(b"\xdf", "the general-signing tag")
        header = GroupingHeader.decode(r)
        payload = r.take(r.der_length("the content"), "the content")
        if r.at_end():
            if not allow_pre_command or header.cra is not Cra.COMMAND:
                raise r.fail("the signature field is missing")
            return cls(header, payload, None, signature_field=False)
        at = r.offset
        sig_len = r.u8("the signature length")
        if sig_len == 0:
            signature = None
        elif sig_len == SIGNATURE_LENGTH:
            signature = r.take(SIGNATURE_LENGTH, "the signature")
        else:
            raise DecodeError(f"signature length is {sig_len}, not 0 or 64", at)
        r.done("the general-signing APDU")
        return cls(header, payload, signature)
