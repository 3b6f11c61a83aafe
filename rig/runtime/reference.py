"""DCC's published reference files, read for a process: the DUIS schema and the SRV matrix.

The controller finds them (:mod:`rig.reference`) and names them in each process's
config; this module reads and compiles them, once per path.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from lxml import etree

from rig.protocol.duis import schema, srv


@lru_cache(maxsize=4)
def read_schema(path: Path) -> etree.XMLSchema:
    """The DUIS schema at ``path``: its main .xsd file, or a folder holding one."""
    if path.is_dir():
        main = next((path / n for n in schema.SCHEMA_FILES if (path / n).is_file()), None)
        if main is None:
            raise FileNotFoundError(
                f"{path} holds none of {', '.join(schema.SCHEMA_FILES)}: point RIG_DUIS_XSD "
                "at the folder holding DCC's DUIS XSDs"
            )
        path = main
    files = {p.name: p.read_bytes() for p in path.parent.iterdir() if p.suffix in (".xsd", ".dtd")}
    return schema.compile_schema(files, path.name)


@lru_cache(maxsize=4)
def read_srv_table(path: Path) -> srv.SrvTable:
    """The SRV matrix (duis-request-matrix.json) at ``path``."""
    return srv.parse_matrix(json.loads(path.read_text()))
