"""Validate a rig description (YAML) into typed records.

Every problem is collected, not just the first, and each names the file, the
line and the field (``nodes[2].eui``), with what to write instead.

The work is done in steps, each in its own module: :mod:`~rig.description.fields`
reads located YAML and converts scalars; :mod:`~rig.description.nodes` and
:mod:`~rig.description.sections` read the sections; :mod:`~rig.description.defaults`
fills in what the rig leaves no choice about; :mod:`~rig.description.rules` checks
what spans sections.
"""

from __future__ import annotations

from pathlib import Path

from rig.description import defaults, rules
from rig.description.errors import DescriptionError, Problem
from rig.description.fields import Reader, to_name
from rig.description.located import YamlSyntaxError, load_located
from rig.description.model import HanSettings, Rig
from rig.description.nodes import read_node
from rig.description.sections import (
    read_acb_eui,
    read_air,
    read_gateway,
    read_han,
    read_pki,
    read_user,
    read_virtual,
    read_wan,
)

DEFAULT_RIG_PATH = Path(__file__).with_name("default.yaml")

_TOP = {"name", "han", "nodes", "users", "dcc", "wan", "gateway", "air", "virtual", "pki"}


def parse_rig(text: str, file: str = "<rig>", base_dir: Path | None = None) -> Rig:
    """Validate description text; ``file`` and ``base_dir`` are for messages and paths."""
    try:
        raw = load_located(text)
    except YamlSyntaxError as exc:
        raise DescriptionError([Problem(file, exc.line, "", f"not valid YAML: {exc}")]) from None
    r = Reader(file)
    top = r.mapping(raw, "", 1, _TOP)
    name = r.field(top, "name", "", to_name, default="rig")
    han = read_han(r, top.get("han"), "han", r.line_of(top, "han"))
    nodes = [
        read_node(r, item, path, line)
        for item, path, line in r.sequence(top.get("nodes"), "nodes", r.line_of(top, "nodes"))
    ]
    users = [
        read_user(r, item, path, line)
        for item, path, line in r.sequence(top.get("users"), "users", r.line_of(top, "users"))
    ]
    if not top.get("nodes"):
        r.problem(r.line_of(top, "nodes"), "nodes", "a rig needs at least one node (a chf)")
    acb_eui = read_acb_eui(r, top)
    wan = read_wan(r, top)
    gateway = read_gateway(r, top)
    air = read_air(r, top)
    virtual = read_virtual(r, top)
    pki = read_pki(r, top, base_dir)

    rig = Rig(
        name=name or "rig",
        source=file,
        han=han or HanSettings(15, 0x1A62),
        nodes=tuple(n for n in nodes if n),
        users=tuple(u for u in users if u),
        acb_eui=acb_eui,
        wan=wan,
        gateway=gateway,
        air=air,
        virtual=virtual,
        pki=pki,
    )
    rig = defaults.complete(rig)
    rules.check(rig, top, r.problem)
    if r.problems:
        raise DescriptionError(r.problems)
    return rig


def load_rig(path: str | Path | None = None) -> Rig:
    """Load a description file, or the built-in virtual rig when ``path`` is None."""
    if path is None:
        return default_rig()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise DescriptionError(
            [Problem(str(p), None, "", f"cannot read: {exc.strerror}")]
        ) from None
    return parse_rig(text, file=str(p), base_dir=p.resolve().parent)


def default_rig() -> Rig:
    """The built-in virtual rig: one CHF (with GPF), ESME, GSME, IHD and PPMID."""
    return parse_rig(
        DEFAULT_RIG_PATH.read_text(encoding="utf-8"),
        file=str(DEFAULT_RIG_PATH),
        base_dir=DEFAULT_RIG_PATH.parent,
    )
