"""Protocol throughput beside the raw OpenSSL operations that bound it.

Run: .venv/bin/python bench/bench_protocol.py [--seconds S]
Prints operations per second for: raw ECDH, ECDSA sign and verify (OpenSSL through
``cryptography``: the floor), GBCS command build + MAC, GBCS MAC verify, GBCS signature
verify, DUIS sign, DUIS verify (XSD check off and on). Self-contained: fresh keys.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from rig.protocol.duis.message import RequestId, Response, now
from rig.protocol.duis.signed import sign_document, verify_document
from rig.protocol.eui import Eui64
from rig.protocol.gbcs import dlms
from rig.protocol.gbcs.frame import Cra, GbcsMessage
from rig.protocol.gbcs.security import apply_mac, sign_message, verify_mac, verify_signature
from rig.protocol.keystore import KeyStore
from rig.protocol.smki import Usage
from rig.reference import duis_schema

SUPPLIER = Eui64.parse("90-B3-D5-1F-30-01-00-00")
ESME = Eui64.parse("00-DB-12-34-56-78-90-A0")
DCC = Eui64.parse("90-B3-D5-1F-30-00-00-02")


def rate(fn: Callable[[], object], seconds: float) -> float:
    fn()
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn()
        n += 1
    return n / elapsed


def cert(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench")])
    t = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(t)
        .not_valid_after(t + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=1.0)
    s = ap.parse_args().seconds
    k = {n: ec.generate_private_key(ec.SECP256R1()) for n in ("acb", "esme", "sup", "dcc")}
    data = b"x" * 200
    der = k["sup"].sign(data, ec.ECDSA(hashes.SHA256()))

    request = dlms.AccessRequest(
        0x200003E8,
        b"",
        [dlms.RequestSpec(dlms.RequestKind.GET, 3, bytes.fromhex("0100010800ff"), 2)],
        [dlms.Data(dlms.DataType.NULL_DATA)],
    ).encode()
    counter = iter(range(1, 1 << 40))

    def build_and_mac() -> bytes:
        msg = GbcsMessage.build(Cra.COMMAND, next(counter), SUPPLIER.raw, ESME.raw, 0x27, request)
        return apply_mac(msg, k["acb"], k["esme"].public_key()).encode()

    wire = GbcsMessage.decode(build_and_mac())
    signed = sign_message(
        GbcsMessage.build(Cra.COMMAND, 7, SUPPLIER.raw, ESME.raw, 0x50, request), k["sup"]
    )

    store = KeyStore()
    dcc = store.add(DCC, Usage.XML, cert(k["dcc"]), k["dcc"])
    rid = RequestId(SUPPLIER, ESME, 1)
    response = Response(
        "I0",
        now(),
        "ResponseMessage",
        rid,
        RequestId(ESME, SUPPLIER, 1),
        "4.1",
        "4.1.1",
        gbcs_payload=wire.encode(),
    )
    duis = sign_document(response.to_element(), dcc)

    rows = [
        (
            "OpenSSL ECDH P-256 (floor)",
            lambda: k["acb"].exchange(ec.ECDH(), k["esme"].public_key()),
        ),
        (
            "OpenSSL ECDSA P-256 sign (floor)",
            lambda: k["sup"].sign(data, ec.ECDSA(hashes.SHA256())),
        ),
        (
            "OpenSSL ECDSA P-256 verify (floor)",
            lambda: k["sup"].public_key().verify(der, data, ec.ECDSA(hashes.SHA256())),
        ),
        ("GBCS command build + MAC (1 ECDH)", build_and_mac),
        ("GBCS MAC verify (1 ECDH)", lambda: verify_mac(wire, k["esme"], k["acb"].public_key())),
        (
            "GBCS signature verify (1 ECDSA)",
            lambda: verify_signature(signed, k["sup"].public_key()),
        ),
        (
            "DUIS sign (1 ECDSA, C14N x2)",
            lambda: sign_document(response.to_element(), dcc),
        ),
        ("DUIS verify, no XSD (1 ECDSA)", lambda: verify_document(duis, store)),
    ]
    try:
        xsd = duis_schema()
        rows.append(("DUIS verify + XSD 5.4", lambda: verify_document(duis, store, xsd=xsd)))
    except FileNotFoundError:
        pass
    print(f"{'operation':40s} {'ops/s':>10s}")
    for name, fn in rows:
        print(f"{name:40s} {rate(fn, s):10.0f}")


if __name__ == "__main__":
    main()
