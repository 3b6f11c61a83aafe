"""The rig's state folder: where keys, configs, logs and run records live.

One folder per rig instance (``--state-dir``, ``$RIG_STATE_DIR``, or
``$XDG_STATE_HOME/rig/<rig name>``). Its path also names the instance, so two
rigs on one machine never share namespaces, bridges or processes.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path


def default_state_dir(rig_name: str) -> Path:
    env = os.environ.get("RIG_STATE_DIR")
    if env:
        return Path(env).expanduser()
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "rig" / rig_name


@dataclass(frozen=True)
class StateDir:
    root: Path

    @classmethod
    def open(cls, path: Path) -> StateDir:
        root = path.expanduser().resolve()
        root.mkdir(parents=True, exist_ok=True)
        # traversable, not listable: a deployed virtual node's service user must reach its
        # node root (nodes/NAME); every other folder below is 0700
        os.chmod(root, 0o711)
        return cls(root)

    @property
    def instance(self) -> str:
        """6 hex digits naming this rig instance (namespaces, bridge, process marker)."""
        return hashlib.sha1(str(self.root).encode()).hexdigest()[:6]

    def sub(self, *parts: str) -> Path:
        p = self.root
        for part in parts:
            p = p / part
            if not p.is_dir():
                p.mkdir(mode=0o700, exist_ok=True)
        return p

    def node_root(self, name: str) -> Path:
        """A virtual node's filesystem root: its ``/`` (etc/rig, opt/rig, var/lib/rig)."""
        nodes = self.root / "nodes"
        nodes.mkdir(mode=0o711, exist_ok=True)
        root = nodes / name
        root.mkdir(mode=0o755, exist_ok=True)
        return root

    @property
    def pki(self) -> Path:
        return self.sub("pki")

    @property
    def logs(self) -> Path:
        return self.sub("logs")

    @property
    def run(self) -> Path:
        return self.sub("run")

    def component(self, name: str) -> Path:
        """Working folder of one component (node, gateway, air, broker)."""
        return self.sub("components", name)

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    @property
    def lock(self) -> Path:
        return self.root / "rig.lock"
