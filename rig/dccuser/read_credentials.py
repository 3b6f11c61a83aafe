"""The DCC User's readers of the security credential use cases (registered with
:func:`rig.dccuser.readers.reads`): CS02b SupplierByTransCoS (6.23) gives ``accepted`` (the
device took it), ``result`` (0: every replacement succeeded, else the first failing status),
and ``replacements``: for each cell its ``status`` and the subject (``from``, ``to``: EUIs)
before and after; a future-dated one only ``accepted``. CS02a and CS02f (6.24.1) give
``credentials``: for each role asked, its ``status`` and, held, its ``seq_number`` and
``cells`` (each cell's ``subject``, an EUI, and ``key_id``); CS02e (6.24.2) ``certificate``
(base64 DER) with its ``subject`` and ``usage``, or ``error``. CS02b SupplierBySupplier and
NOByNO (6.15.1, 6.21) as 6.23; their future-dated 0x00CB alert
(:func:`future_credentials`) ``alert_code``, ``execution_date_time`` and the outcome.
CS02d (6.15.2) ``result`` and ``result_name``; CS02c (6.17) ``certification_request``
(base64 DER PKCS#10) with its ``usage``, or ``error``."""

from __future__ import annotations

import base64
from typing import Any

from cryptography import x509

from rig.dccuser.readers import ReadKeys, reads
from rig.protocol import smki
from rig.protocol.eui import Eui64
from rig.protocol.gbcs.catalogue_credentials import (
    CS02A,
    CS02B_NO_BY_NO,
    CS02B_SUPPLIER_BY_SUPPLIER,
    CS02B_SUPPLIER_BY_TRANSCOS,
    CS02C,
    CS02D,
    CS02E,
    CS02F,
    CS02G_LOAD_CONTROLLER_BY_SUPPLIER,
    CertificateError,
    CertificateUpdate,
    ExecutionOutcome,
    certificate_of,
    certificate_update_of,
    details_of,
    future_credentials_of,
    issued_of,
    outcome_of,
)
from rig.protocol.gbcs.frame import GbcsMessage
from rig.protocol.gbcs.usecase import UseCase


def _eui(raw: bytes) -> str | None:
    return Eui64(raw).duis if len(raw) == 8 else None


@reads(
    CS02B_SUPPLIER_BY_TRANSCOS,
    CS02B_SUPPLIER_BY_SUPPLIER,
    CS02B_NO_BY_NO,
    CS02G_LOAD_CONTROLLER_BY_SUPPLIER,  # the load controller's cells: read as CS02b's
)
def update_credentials(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    outcome = outcome_of(msg.payload)
    if outcome is None:
        return {"accepted": True}
    return {"accepted": True, **_outcome(outcome)}


def _outcome(outcome: ExecutionOutcome) -> dict[str, Any]:
    failed = next((o.status for o in outcome.outcomes if o.status), 0)
    return {
        "result": int(failed),
        "replacements": [
            {
                "cell": str(o.cell),
                "status": o.status.name,
                "from": _eui(o.existing_subject),
                "to": _eui(o.replacing_subject),
            }
            for o in outcome.outcomes
        ],
    }


@reads(CS02A, CS02F)
def credentials_details(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    return {
        "credentials": [
            {
                "role": r.role.name.lower(),
                "status": r.status.name,
                **(
                    {
                        "seq_number": r.seq_number,
                        "cells": [
                            {
                                "cell": str(c.cell),
                                "subject": _eui(c.subject),
                                "key_id": c.key_id.hex().upper(),
                            }
                            for c in r.cells
                        ],
                    }
                    if r.cells
                    else {}
                ),
            }
            for r in details_of(msg.payload)
        ]
    }


@reads(CS02E)
def device_certificate(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    found = certificate_of(msg.payload)
    if isinstance(found, int):
        try:
            name = CertificateError(found).name
        except ValueError:
            name = "OTHER"
        return {"error": found, "error_name": name}
    cert = x509.load_der_x509_certificate(found)
    return {
        "certificate": base64.b64encode(found).decode(),
        "subject": smki.eui_of(cert).duis,
        "usage": smki.usage_of(cert).value,
    }


def future_credentials(payload: bytes) -> dict[str, Any]:
    """The 0x00CB alert's payload read: ``alert_code`` (8F66 executed, 8F67 not entirely),
    ``execution_date_time`` and the outcome as the CS02b answer's."""
    code, when, outcome = future_credentials_of(payload)
    return {
        "alert_code": f"{code:04X}",
        "execution_date_time": when.isoformat(),
        **_outcome(outcome),
    }


@reads(CS02D)
def device_certificate_update(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    result = certificate_update_of(msg.payload)
    try:
        name = CertificateUpdate(result).name
    except ValueError:
        name = "OTHER"
    return {"result": result, "result_name": name}


@reads(CS02C)
def issued_credentials(_uc: UseCase, msg: GbcsMessage, _keys: ReadKeys) -> dict[str, Any]:
    found = issued_of(msg.payload)
    if isinstance(found, int):
        return {"error": found}
    csr = x509.load_der_x509_csr(found)
    usage = csr.extensions.get_extension_for_class(x509.KeyUsage).value
    return {
        "certification_request": base64.b64encode(found).decode(),
        "usage": "ds" if usage.digital_signature else "ka",
    }
