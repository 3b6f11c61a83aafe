"""The house rules of ARCHITECTURE.md, enforced: which package may import which, and no I/O
in the protocol layer. The rules are read from ARCHITECTURE.md itself, so the page and the
code cannot drift apart."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT

PROJECT = ("rig", "gateway", "nodes")
IO_MODULES = {
    "os",
    "pathlib",
    "io",
    "socket",
    "ssl",
    "asyncio",
    "subprocess",
    "sqlite3",
    "shutil",
    "tempfile",
    "glob",
    "logging",
    "aiohttp",
    "aiomqtt",
    "paho",
    "psutil",
    "gpiozero",
    "urllib.request",
    "http",
}


@dataclass(frozen=True)
class Rule:
    package: str
    allowed: tuple[str, ...] | None  # None: everything


def rules(text: str) -> list[Rule]:
    """The table under "Who may import whom" in ARCHITECTURE.md."""
    section = text.split("## Who may import whom", 1)[1].split("\n## ", 1)[0]
    out = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[0].startswith("`"):
            continue
        allowed = re.findall(r"`([\w.]+)`", cells[1])
        out.append(Rule(cells[0].strip("`"), None if cells[1] == "everything" else tuple(allowed)))
    return out


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def rule_of(module: str, table: list[Rule]) -> Rule:
    matching = [r for r in table if _within(module, r.package)]
    return max(matching, key=lambda r: len(r.package))


def imports(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """Every module a source file imports (anywhere in it), relative imports resolved."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")
                anchor = parts if is_package else parts[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{a.name}") for a in node.names if a.name != "*"]
    return found


def violations(source: str, module: str, table: list[Rule], is_package: bool = False) -> list[str]:
    rule = rule_of(module, table)
    out = []
    reported: set[int] = set()  # one problem per import statement
    for line, target in imports(source, module, is_package):
        if target.split(".")[0] not in PROJECT or _within(target, rule.package):
            continue
        if rule.allowed is None or any(_within(target, a) for a in rule.allowed):
            continue
        if line in reported:
            continue
        reported.add(line)
        out.append(
            f"{module}:{line} imports {target} ({rule.package} may import only "
            f"{', '.join(rule.allowed) or 'nothing of the project'})"
        )
    if _within(module, "rig.protocol"):
        tree = ast.parse(source)
        for line, target in imports(source, module, is_package):
            if any(_within(target, io) for io in IO_MODULES):
                out.append(f"{module}:{line} imports {target}: rig.protocol does no I/O")
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "open":
                out.append(f"{module}:{node.lineno} calls open(): rig.protocol does no I/O")
    return out


def project_modules() -> list[tuple[str, Path]]:
    out = []
    for top in PROJECT:
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out.append((module, path))
    return out


@pytest.fixture(scope="module")
def table() -> list[Rule]:
    found = rules((ROOT / "ARCHITECTURE.md").read_text())
    assert {r.package for r in found} >= {"rig.protocol", "rig.runtime", "gateway", "nodes", "rig"}
    return found


def test_every_import_follows_architecture_md(table: list[Rule]) -> None:
    problems = []
    for module, path in project_modules():
        problems += violations(path.read_text(), module, table, path.name == "__init__.py")
    assert not problems, "imports that break ARCHITECTURE.md:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("nodes.gpio", "from rig.lifecycle import state\n", "nodes may import only"),
        ("nodes.gpio", "import rig.plan.render\n", "nodes may import only"),
        ("gateway.wan", "def f():\n    from nodes.config import NodeConfig\n", "gateway may"),
        ("rig.runtime.files", "from gateway.store import Store\n", "rig.runtime may"),
        ("rig.protocol.eui", "from rig.runtime.files import write_json\n", "nothing of"),
        ("rig.protocol.duis.schema", "from pathlib import Path\n", "does no I/O"),
        ("rig.protocol.smki", "data = open('x').read()\n", "calls open()"),
        ("nodes.roles.esme", "from ..gbcs import endpoint\nfrom ...rig import state\n", "rig"),
    ],
)
def test_a_wrong_import_is_caught(table: list[Rule], module: str, source: str, expected: str):
    found = violations(source, module, table)
    assert found and expected in found[0], found


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("nodes.gpio", "from rig.protocol.eui import Eui64\nfrom rig.runtime import records\n"),
        ("nodes.roles.esme", "from nodes.gbcs.endpoint import GbcsEndpoint\n"),
        ("gateway.wan", "from rig.protocol import wan\n"),
        ("rig.cli.main", "from gateway.store import Store\nfrom nodes.config import NodeConfig\n"),
        ("rig.protocol.gbcs.frame", "from rig.protocol.codec import Reader\n"),
    ],
)
def test_an_allowed_import_passes(table: list[Rule], module: str, source: str) -> None:
    assert violations(source, module, table) == []


def test_the_layout_names_every_package() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text().split("## The flow", 1)[0]
    for top in PROJECT:
        for folder in sorted(p for p in (ROOT / top).iterdir() if (p / "__init__.py").exists()):
            assert f"  {folder.name}/" in text, (
                f"ARCHITECTURE.md's layout misses {top}/{folder.name}/"
            )
