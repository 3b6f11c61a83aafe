"""One inspection record per GBCS message: header, decoded payload, MAC and signature
verdicts, and whether re-encoding gives back the same bytes (``rig gbcs inspect``)."""

from __future__ import annotations

from typing import Any

from rig.protocol.codec import DecodeError
from rig.protocol.eui import Eui64
from rig.protocol.gbcs.codes import alert_name, use_case
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.payload import decode_payload, payload_format
from rig.protocol.gbcs.verify import check_mac, check_signature
from rig.protocol.keystore import KeyStore


def inspect(
    data: bytes, store: KeyStore | None = None, acb: Eui64 | None = None, *, file: str | None = None
) -> dict[str, Any]:
    record: dict[str, Any] = {"file": file}
    try:
        msg = GbcsMessage.decode(data)
    except DecodeError as exc:
        record.update(error=str(exc), offset=exc.offset, reencoded_identical=False)
        return record
    h = msg.header
    uc = use_case(h.message_code)
    record.update(
        kind=msg.kind,
        cra=h.cra.name.lower(),
        message_code=f"{h.message_code:04X}",
        use_case=uc.use_case,
        use_case_name=uc.name,
        originator=Eui64(h.originator).duis,
        recipient=Eui64(h.recipient).duis,
        counter=h.counter,
        date_time=None if h.date_time is None else h.date_time.hex(),
    )
    if h.other.remote_party_id is not None:
        record["supplementary_remote_party"] = Eui64(h.other.remote_party_id).duis
    try:
        payload = decode_payload(msg)
        tree = payload.to_json()
        record["payload_format"] = payload_format(payload)
        record["payload"] = tree
        code = tree.get("alert_code") if isinstance(tree, dict) else None
        if code:
            record["alert"] = {"code": code, "name": alert_name(int(code, 16))}
        payload_same = payload.encode() == msg.payload
    except DecodeError as exc:
        record["payload_error"] = str(exc)
        payload_same = False
    store = store or KeyStore()
    mac, sig = check_mac(msg, store, acb), check_signature(msg, store)
    record["mac_valid"] = mac.ok
    if mac.reason:
        record["mac_reason"] = mac.reason
    record["signature_valid"] = sig.ok
    if sig.reason:
        record["signature_reason"] = sig.reason
    record["reencoded_identical"] = msg.encode() == data and payload_same
    return record
