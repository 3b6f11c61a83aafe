"""Which payload codec a GBCS message uses: DLMS COSEM, GBZ or ASN.1 DER."""

from __future__ import annotations

from rig.protocol.gbcs import asn1, dlms, gbz
from rig.protocol.gbcs.frame import Cra, GbcsMessage

Payload = dlms.DlmsApdu | gbz.GbzPayload | asn1.DerPayload


def decode_payload(msg: GbcsMessage) -> Payload:
    """The payload as a typed tree; :class:`~rig.protocol.codec.DecodeError` names the offset."""
    data, base = msg.payload, msg.payload_offset
    if data[:1] and data[0] in (dlms.ACCESS_REQUEST, dlms.ACCESS_RESPONSE, dlms.DATA_NOTIFICATION):
        return dlms.decode(data, base=base)
    if data[:2] == gbz.PROFILE_ID.to_bytes(2, "big"):
        return gbz.decode(data, alert=msg.cra is Cra.ALERT, base=base)
    return asn1.decode(data, base=base)


def payload_format(payload: Payload) -> str:
    if isinstance(payload, gbz.GbzPayload):
        return "gbz"
    if isinstance(payload, asn1.DerPayload):
        return "asn1"
    return "dlms"
