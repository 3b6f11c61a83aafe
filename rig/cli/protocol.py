"""``rig gbcs``, ``rig duis`` and ``rig utrn``: the protocol layer on the command line.

Keys come from ``--keys`` (folders of certificates and keys, or a ZAZ1 keystore.json;
repeatable), else from the rig's own PKI (``rig pki init``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import NoReturn

import click

from rig.description import load_rig
from rig.pki.keystores import load as load_keys
from rig.protocol import utrn as utrn_codec
from rig.protocol.codec import DecodeError, unhex
from rig.protocol.duis import xmldsig
from rig.protocol.duis.message import DuisError, Request
from rig.protocol.duis.schema import SchemaError
from rig.protocol.duis.signed import sign_document, verify_document
from rig.protocol.duis.xml import XmlError
from rig.protocol.eui import Eui64, EuiError
from rig.protocol.gbcs.inspect import inspect
from rig.protocol.keystore import KeyStore, KeyStoreError
from rig.protocol.smki import Usage
from rig.reference import duis_schema
from rig.state import StateDir, default_state_dir

DEFAULT_ACB = "90-B3-D5-1F-30-00-00-02"


def _fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _default_pki() -> Path | None:

    state = os.environ.get("RIG_STATE_DIR")
    folder = StateDir.open(Path(state) if state else default_state_dir(load_rig(None).name)).pki
    return folder / "smki" if (folder / "smki").is_dir() else None


def _store(keys: tuple[Path, ...]) -> KeyStore:
    paths = list(keys)
    if not paths:
        default = _default_pki()
        if default is None:
            return KeyStore()
        paths = [default]
    try:
        return load_keys(paths)
    except KeyStoreError as exc:
        _fail(str(exc), 2)


def _eui(text: str) -> Eui64:
    try:
        return Eui64.parse(text)
    except EuiError as exc:
        _fail(str(exc), 2)


keys_option = click.option(
    "--keys",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="folder of <eui>-<usage>.pem/.key files, or a ZAZ1 keystore.json (repeatable)",
)


# --- GBCS ------------------------------------------------------------------------------
@click.group()
def gbcs() -> None:
    """Decode and check GBCS messages."""


def _inputs(items: tuple[str, ...]) -> list[tuple[str | None, str]]:
    out: list[tuple[str | None, str]] = []
    for item in items:
        path = Path(item)
        if len(item) > 64 and all(c in "0123456789abcdefABCDEF \n" for c in item):
            out.append((None, item))  # a hex message, not a file name
        elif path.is_dir():
            out += [(str(p), p.read_text()) for p in sorted(path.rglob("*.HEX"))]
        elif path.is_file():
            out.append((str(path), path.read_text()))
        else:
            out.append((None, item))
    return out


@gbcs.command("inspect")
@keys_option
@click.option("--acb", default=DEFAULT_ACB, show_default=True, help="EUI of the DCC's ACB")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line (default)")
@click.argument("items", nargs=-1, required=True)
def gbcs_inspect(keys: tuple[Path, ...], acb: str, as_json: bool, items: tuple[str, ...]) -> None:
    """Decode HEX strings, files or folders (walking *.HEX): one JSON line per message.

    Exit 1 if any message failed to decode, re-encode identically, or verify.
    """
    store, acb_eui = _store(keys), _eui(acb)
    failed = 0
    for name, text in _inputs(items):
        try:
            data = unhex(text)
        except DecodeError as exc:
            record = {"file": name, "error": str(exc), "reencoded_identical": False}
        else:
            record = inspect(data, store, acb_eui, file=name)
        if not record.get("reencoded_identical") or False in (
            record.get("mac_valid"),
            record.get("signature_valid"),
        ):
            failed += 1
        click.echo(json.dumps(record))
    if failed:
        click.echo(f"{failed} message(s) failed to decode, re-encode or verify", err=True)
        sys.exit(1)


# --- DUIS ------------------------------------------------------------------------------
@click.group()
def duis() -> None:
    """Verify and sign DUIS XML as DCC does."""


@duis.command("verify")
@keys_option
@click.option("--no-schema", is_flag=True, help="skip the XSD check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def duis_verify(keys: tuple[Path, ...], no_schema: bool, file: Path) -> None:
    """Check a signed DUIS document: safe parse, XSD 5.4, XML signature, signer."""
    store = _store(keys)
    try:
        result = verify_document(file.read_bytes(), store, xsd=None if no_schema else duis_schema())
    except (XmlError, SchemaError, DuisError, xmldsig.SignatureError) as exc:
        _fail(f"{file}: {exc}", 1)
    doc = result.document
    summary = {
        "file": str(file),
        "valid": True,
        "type": "request" if isinstance(doc, Request) else "response",
        "request_id": str(doc.request_id) if doc.request_id else None,
        "srv": doc.srv,
        "signer": result.signer.eui.duis,
        "certificate": result.signer.name,
        "serial": str(result.signer.serial),
    }
    click.echo(json.dumps(summary))


@duis.command("sign")
@keys_option
@click.option("--as", "as_eui", required=True, help="EUI of the signer (its XML-signing key)")
@click.option("--no-schema", is_flag=True, help="skip the XSD check")
@click.option(
    "-o", "--out", type=click.Path(dir_okay=False, path_type=Path), help="default: stdout"
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def duis_sign(
    keys: tuple[Path, ...], as_eui: str, no_schema: bool, out: Path | None, file: Path
) -> None:
    """Sign (or re-sign) a DUIS document with the XML-signing key of EUI."""
    store, eui = _store(keys), _eui(as_eui)
    cred = store.private(eui, Usage.XML)
    if cred is None:
        _fail(f"no XML-signing private key for {eui.duis}: give --keys with its credentials", 2)
    try:
        signed = sign_document(file.read_bytes(), cred, xsd=None if no_schema else duis_schema())
    except (XmlError, SchemaError, DuisError, xmldsig.SignatureError) as exc:
        _fail(f"{file}: {exc}", 1)
    if out:
        out.write_bytes(signed)
    else:
        sys.stdout.buffer.write(signed)


# --- UTRN ------------------------------------------------------------------------------
@click.group()
def utrn() -> None:
    """Make and check prepayment top-up UTRNs (GBCS section 14)."""


def _utrn_keys(keys: tuple[Path, ...], supplier: str, meter: str):
    store, s, m = _store(keys), _eui(supplier), _eui(meter)
    pp = store.private(s, Usage.PP_KA)
    dev = store.find(m, Usage.KA)
    if pp is None or dev is None:
        _fail(
            f"need the prepayment KA private key of {s.duis} and the KA certificate of "
            f"{m.duis}: give --keys",
            2,
        )
    return s, m, pp.private_key, dev.public_key


@utrn.command("make")
@keys_option
@click.option("--supplier", required=True, help="originator EUI (the supplier)")
@click.option("--meter", required=True, help="target EUI (the meter)")
@click.option("--counter", required=True, help="originator counter, e.g. 0x100000000")
@click.option("--value", type=int, required=True)
@click.option("--pounds", is_flag=True, help="value in pounds (default pennies)")
def utrn_make(
    keys: tuple[Path, ...], supplier: str, meter: str, counter: str, value: int, pounds: bool
) -> None:
    """Print the 20-digit UTRN for a top-up."""
    s, m, pp, dev = _utrn_keys(keys, supplier, meter)
    cls = utrn_codec.ValueClass.POUNDS if pounds else utrn_codec.ValueClass.PENNIES
    try:
        code = utrn_codec.make(utrn_codec.TopUp(value, cls, int(counter, 0)), s.raw, m.raw, pp, dev)
    except (utrn_codec.UtrnError, ValueError) as exc:
        _fail(str(exc), 2)
    click.echo(code)


@utrn.command("check")
@keys_option
@click.option("--supplier", required=True)
@click.option("--meter", required=True)
@click.option("--last-counter", default="0", help="last counter the meter accepted")
@click.argument("code")
def utrn_check(
    keys: tuple[Path, ...], supplier: str, meter: str, last_counter: str, code: str
) -> None:
    """Validate a UTRN as the meter would; prints value and counter, exit 1 if invalid."""
    s, m, pp, dev = _utrn_keys(keys, supplier, meter)
    try:
        top_up = utrn_codec.validate(code, s.raw, m.raw, pp, dev, last_counter=int(last_counter, 0))
    except utrn_codec.UtrnError as exc:
        _fail(str(exc), 1)
    click.echo(
        json.dumps(
            {
                "utrn": code,
                "valid": True,
                "value": top_up.value,
                "value_class": top_up.value_class.name.lower(),
                "pence": top_up.pence,
                "counter": hex(top_up.counter),
            }
        )
    )
