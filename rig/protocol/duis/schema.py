"""Validation against the DUIS XML Schema (5.4), compiled from files its caller has read.

The schema is DCC's publication, not part of this repository, and this module does no
I/O: :func:`compile_schema` takes the schema files as bytes by name (the DUIS schema,
the MMC schema and XML-DSig it imports, their DTDs) and resolves every import among
them, never from the network. Finding and reading the files is the caller's job
(:mod:`rig.runtime.reference`).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from typing import Any, cast
from urllib.parse import unquote

from lxml import etree

SCHEMA_FILE = "DUIS Schema V5.4.xsd"
FALLBACK_SCHEMA_FILE = "DUIS Schema V5.1.xsd"  # what DCC's signing tool ships
SCHEMA_FILES = (SCHEMA_FILE, FALLBACK_SCHEMA_FILE)
_XSD = "{http://www.w3.org/2001/XMLSchema}"
_SCHEME = "rig-xsd:"


class SchemaError(ValueError):
    """A document that the DUIS schema rejects; lists the first problems with lines."""


class _Files(etree.Resolver):
    """Serves every import from the given files. libxml2 cannot import file names with
    spaces (such as "MMC Schema V5.4.xsd"), so each import is renamed to rig-xsd:N."""

    def __init__(self, files: Mapping[str, bytes]) -> None:
        super().__init__()
        self.names = sorted(files)
        self.files = dict(files)

    def key(self, name: str) -> str:
        return f"{_SCHEME}{self.names.index(name)}"

    def rewrite(self, data: bytes, parser: etree.XMLParser) -> etree._Element:
        root = etree.fromstring(data, parser)
        for imp in root.iter(f"{_XSD}import", f"{_XSD}include"):
            location = imp.get("schemaLocation")
            name = posixpath.basename(unquote(location or ""))
            if name in self.files:
                imp.set("schemaLocation", self.key(name))
        return root

    def resolve(self, system_url: str, public_id: str, context: Any = None) -> Any:
        text = str(system_url)
        if text.startswith(_SCHEME):
            name = self.names[int(text[len(_SCHEME) :])]
        else:
            name = posixpath.basename(unquote(text.replace("file://", "")))
        data = self.files.get(name)
        if data is None:
            # never the network (lxml-stubs 0.5 lacks Resolver.resolve_empty; lxml has it)
            return cast(Any, self).resolve_empty(context)
        if name.endswith(".xsd"):
            data = etree.tostring(self.rewrite(data, etree.XMLParser(no_network=True)))
        return self.resolve_string(data, context, base_url=self.key(name))


def compile_schema(files: Mapping[str, bytes], main: str) -> etree.XMLSchema:
    """The XMLSchema of ``files[main]``, its imports resolved among ``files``."""
    if main not in files:
        raise SchemaError(f"the schema files do not include {main!r}")
    resolver = _Files(files)
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(resolver)
    root = resolver.rewrite(files[main], parser)
    doc = etree.fromstring(etree.tostring(root), parser, base_url=resolver.key(main))
    return etree.XMLSchema(doc)


def validate(tree: etree._ElementTree | etree._Element, schema: etree.XMLSchema) -> None:
    if not schema.validate(tree):
        log = cast(Iterable[Any], schema.error_log)  # lxml-stubs 0.5: _ErrorLog is iterable
        errors = [f"line {e.line}: {e.message}" for e in log][:5]
        raise SchemaError("DUIS schema 5.4 rejects the document: " + "; ".join(errors))
