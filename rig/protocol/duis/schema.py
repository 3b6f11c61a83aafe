"""Validation against the DUIS XML Schema (5.4), loaded from a local folder only.

The schema is DCC's publication, not part of this repository: ``find_schema`` looks in
``$RIG_DUIS_XSD``, then ``../shared/vectors/duis/xsd`` beside the checkout, then the
5.1 schema the setup extracts from DCC's signing tool (npm ``duis-sign-wrap``) into
``tools/npm/xsd``, so a machine without the vectors still validates. Imports
(MMC schema, XML-DSig) resolve inside that folder; nothing is fetched from the network.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote

from lxml import etree

SCHEMA_FILE = "DUIS Schema V5.4.xsd"
FALLBACK_SCHEMA_FILE = "DUIS Schema V5.1.xsd"  # what DCC's signing tool ships
_CHECKOUT = Path(__file__).resolve().parents[3]


class SchemaError(ValueError):
    """A document that the DUIS schema rejects; lists the first problems with lines."""


def find_schema() -> Path:
    candidates = []
    if os.environ.get("RIG_DUIS_XSD"):
        candidates.append(Path(os.environ["RIG_DUIS_XSD"]))
    candidates.append(_CHECKOUT.parent / "shared" / "vectors" / "duis" / "xsd")
    candidates.append(_CHECKOUT / "tools" / "npm" / "xsd")  # from duis-sign-wrap's tool (5.1)
    for folder in candidates:
        for name in (SCHEMA_FILE, FALLBACK_SCHEMA_FILE):
            path = folder / name if folder.is_dir() else folder
            if path.is_file():
                return path
    raise FileNotFoundError(
        f"the DUIS schema ({SCHEMA_FILE}) was not found in "
        + ", ".join(str(c) for c in candidates)
        + ": set RIG_DUIS_XSD to the folder holding DCC's DUIS XSDs"
    )


_SCHEME = "rig-xsd:"


class _LocalOnly(etree.Resolver):
    """Serve schema imports from the schema's folder (libxml2 cannot import file names
    with spaces, such as "MMC Schema V5.4.xsd", so imports are renamed to rig-xsd:N)."""

    def __init__(self, files: dict[str, Path]) -> None:
        super().__init__()
        self.files = files

    def resolve(self, url, pubid, context):
        local = self.files.get(str(url))
        if local is not None:
            return self.resolve_filename(str(local), context)
        name = Path(unquote(str(url).replace("file://", ""))).name
        fallback = next((p for p in self.files.values() if p.name == name), None)
        if fallback is not None:
            return self.resolve_filename(str(fallback), context)
        return self.resolve_empty(context)  # never the network


@lru_cache(maxsize=2)
def load(path: Path | None = None) -> etree.XMLSchema:
    path = path or find_schema()
    parser = etree.XMLParser(no_network=True)
    doc = etree.parse(str(path), parser)
    files: dict[str, Path] = {}
    for i, imp in enumerate(doc.getroot().iter("{http://www.w3.org/2001/XMLSchema}import")):
        location = imp.get("schemaLocation")
        if location:
            key = f"{_SCHEME}{i}"
            files[key] = path.parent / unquote(location)
            imp.set("schemaLocation", key)
    parser.resolvers.add(_LocalOnly(files))
    return etree.XMLSchema(etree.fromstring(etree.tostring(doc), parser, base_url=str(path)))


def validate(
    tree: etree._ElementTree | etree._Element, schema: etree.XMLSchema | None = None
) -> None:
    schema = schema or load()
    if not schema.validate(tree):
        errors = [f"line {e.line}: {e.message}" for e in list(schema.error_log)[:5]]
        raise SchemaError("DUIS schema 5.4 rejects the document: " + "; ".join(errors))
