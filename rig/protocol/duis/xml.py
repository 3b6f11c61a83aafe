"""A hardened XML parser for DUIS: no DTDs, no entities, no network, bounded size.

DUIS documents never carry a DOCTYPE, so one is refused outright: that closes external
entities (XXE) and entity expansion bombs before any parsing, and the lxml parser is
configured to resolve nothing even if a declaration slipped through. DUIS documents are
UTF-8: another encoding (declared, marked by a byte-order mark, or simply bytes that are
not UTF-8) is refused rather than guessed.
"""

from __future__ import annotations

import re

from lxml import etree

MAX_DOCUMENT = 16 * 1024 * 1024  # DUIS requests with firmware images stay well below this
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_DECLARED = re.compile(rb"^\s*<\?xml[^>]*?\bencoding\s*=\s*[\"']([^\"']*)[\"']")
_BOMS = {
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\xfe\xff": "UTF-16",
    b"\xff\xfe": "UTF-16",
}

SR = "http://www.dccinterface.co.uk/ServiceUserGateway"
RA = "http://www.dccinterface.co.uk/ResponseAndAlert"
DS = "http://www.w3.org/2000/09/xmldsig#"
NS = {"sr": SR, "ra": RA, "ds": DS}


class XmlError(ValueError):
    """A document that is not acceptable XML for DUIS; the message says why."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
        collect_ids=False,
    )


def parse(data: bytes | str) -> etree._ElementTree:
    """Parse a DUIS document; refuses DTDs and entities with :class:`XmlError`."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if len(raw) > MAX_DOCUMENT:
        raise XmlError(f"document of {len(raw)} bytes exceeds the {MAX_DOCUMENT}-byte limit")
    _check_utf8(raw)
    if _DTD.search(raw):
        raise XmlError(
            "document declares a DTD or entities: DUIS never does, and they are refused "
            "(external entities and entity expansion)"
        )
    try:
        tree = etree.ElementTree(etree.fromstring(raw, _parser()))
    except etree.XMLSyntaxError as exc:
        raise XmlError(f"malformed XML: {exc}") from None
    if tree.docinfo.internalDTD is not None or tree.docinfo.doctype:
        raise XmlError("document declares a DTD: refused")
    return tree


def _check_utf8(raw: bytes) -> None:
    for bom, name in _BOMS.items():
        if raw.startswith(bom):
            raise XmlError(f"document is {name} (byte-order mark): DUIS documents are UTF-8")
    if raw[:2] in (b"<\x00", b"\x00<"):
        raise XmlError("document is UTF-16: DUIS documents are UTF-8")
    declared = _DECLARED.match(raw.removeprefix(b"\xef\xbb\xbf"))
    if declared and declared[1].decode("ascii", "replace").lower() not in ("utf-8", "utf8"):
        name = declared[1].decode("ascii", "backslashreplace")[:40]
        raise XmlError(f"document declares encoding {name!r}: DUIS documents are UTF-8")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise XmlError(
            f"document is not UTF-8 (byte {exc.start}): DUIS documents are UTF-8"
        ) from None


def local(element: etree._Element) -> str:
    return etree.QName(element).localname


def text(element: etree._Element, path: str) -> str | None:
    found = element.find(path, NS)
    return None if found is None or found.text is None else found.text.strip()
