"""What a deploy installs: a wheel built from the checkout, and a wheelhouse of its dependencies.

The wheel's version carries a hash of the sources (``0.1.0+src.1a2b3c4d5e6f``), so
a node runs exactly what is on disk, an unchanged checkout deploys with zero
changes, and ``pip`` on the node knows when to upgrade. Wheels are cached by that
hash in the state folder; the dependency wheelhouse is cached per machine (keyed
by the dependency list and platform) because every rig on it can share it.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

import rig

PACKAGES = ("rig", "nodes", "gateway")
EXTRA_FILES = ("pyproject.toml", "README.md", "LICENSE")
DIST_NAME = "gbsm-rig"


class BuildError(RuntimeError):
    pass


@dataclass(frozen=True)
class Build:
    version: str
    wheel: Path
    wheelhouse: Path  # the dependencies' wheels, for this machine's platform


def checkout() -> Path:
    root = Path(rig.__file__).resolve().parent.parent
    if not (root / "pyproject.toml").exists():
        raise BuildError(
            f"rig is installed from {root}, not from a checkout: `rig deploy` builds the "
            "wheel from the project's source tree; install it editable (make bootstrap)"
        )
    return root


def _sources(root: Path) -> list[Path]:
    files = [root / name for name in EXTRA_FILES]
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files.append(path)
    return files


def source_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in _sources(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def _run(argv: list[str], what: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise BuildError(f"{what} failed:\n{tail}")


def build_wheel(root: Path, out: Path) -> tuple[str, Path]:
    """The checkout as a wheel whose local version names its source hash (cached)."""
    pyproject = (root / "pyproject.toml").read_text()
    base = tomllib.loads(pyproject)["project"]["version"]
    version = f"{base}+src.{source_hash(root)}"
    wheel = out / f"{DIST_NAME.replace('-', '_')}-{version}-py3-none-any.whl"
    if wheel.exists():
        return version, wheel
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rig-wheel-") as tmp:
        src = Path(tmp) / "src"
        for path in _sources(root):
            dest = src / path.relative_to(root)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest)
        (src / "pyproject.toml").write_text(
            re.sub(r'(?m)^version = ".*"$', f'version = "{version}"', pyproject, count=1)
        )
        _run(
            [
                sys.executable,
                *("-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"),
                *("-w", tmp, str(src)),
            ],
            "building the rig's wheel",
        )
        built = next(Path(tmp).glob("*.whl"))
        shutil.move(built, wheel)
    return version, wheel


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "gbsm-rig"


def wheelhouse(root: Path, wheel: Path) -> Path:
    """Binary wheels of every dependency for this machine (downloaded once, then cached)."""
    deps = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    key = hashlib.sha256(
        "\n".join([*sorted(deps), platform.machine(), sys.version.split()[0]]).encode()
    ).hexdigest()[:12]
    house = cache_dir() / f"wheelhouse-{key}"
    if (house / ".complete").exists():
        return house
    house.mkdir(parents=True, exist_ok=True)
    _run(
        [
            sys.executable,
            *("-m", "pip", "download", "-q", "--only-binary=:all:", "-d", str(house)),
            str(wheel),
        ],
        "downloading the dependencies' wheels (needs the package index once per machine)",
    )
    for own in house.glob(f"{DIST_NAME.replace('-', '_')}-*.whl"):
        own.unlink()
    (house / ".complete").touch()
    return house


def prepare(state_root: Path) -> Build:
    root = checkout()
    version, wheel = build_wheel(root, state_root / "deploy" / "wheels")
    return Build(version, wheel, wheelhouse(root, wheel))
