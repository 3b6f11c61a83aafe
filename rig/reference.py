"""Where DCC's reference files are on this machine: the DUIS schema and the SRV matrix.

Neither is part of this repository. The schema comes from ``$RIG_DUIS_XSD``, then
``../shared/vectors/duis/xsd`` beside the checkout, then the 5.1 schema the setup
extracts from DCC's signing tool (npm ``duis-sign-wrap``) into ``tools/npm/xsd``, so a
machine without the vectors still validates. The matrix comes from
``$RIG_DUIS_MATRIX``, the duis-parser package the setup installs under ``tools/npm``,
or ``../shared/vectors/metadata``. The controller names the files it found in the
gateway's config; the command line and the test DCC User read them here.
"""

from __future__ import annotations

import os
from pathlib import Path

from lxml import etree

from rig.protocol.duis import schema
from rig.protocol.duis.srv import SrvTable
from rig.runtime.reference import read_schema, read_srv_table

CHECKOUT = Path(__file__).resolve().parents[1]
NPM = CHECKOUT / "tools" / "npm"
VECTORS = CHECKOUT.parent / "shared" / "vectors"


def schema_path() -> Path:
    """The DUIS schema's main file."""
    candidates = [Path(os.environ["RIG_DUIS_XSD"])] if os.environ.get("RIG_DUIS_XSD") else []
    candidates += [VECTORS / "duis" / "xsd", NPM / "xsd"]
    for folder in candidates:
        for name in schema.SCHEMA_FILES:
            path = folder / name if folder.is_dir() else folder
            if path.is_file():
                return path
    raise FileNotFoundError(
        f"the DUIS schema ({schema.SCHEMA_FILE}) was not found in "
        + ", ".join(str(c) for c in candidates)
        + ": run the setup (make test extracts it from DCC's signing tool) or set "
        "RIG_DUIS_XSD to the folder holding DCC's DUIS XSDs"
    )


def matrix_path() -> Path:
    """DCC's SRV matrix (duis-request-matrix.json)."""
    places = [Path(os.environ["RIG_DUIS_MATRIX"])] if os.environ.get("RIG_DUIS_MATRIX") else []
    places += [
        NPM / "node_modules" / "@smartdcc" / "duis-parser" / "dist" / "duis-request-matrix.json",
        VECTORS / "metadata" / "duis-request-matrix.json",
    ]
    for place in places:
        if place.is_file():
            return place
    raise FileNotFoundError(
        "the DUIS request matrix (duis-request-matrix.json) was not found: run the setup "
        "(make test installs @smartdcc/duis-parser) or set RIG_DUIS_MATRIX"
    )


def duis_schema() -> etree.XMLSchema:
    return read_schema(schema_path())


def srv_table() -> SrvTable:
    return read_srv_table(matrix_path())
