"""The rig's state folder: where keys, configs, logs and run records live.

One folder per rig instance: ``--state-dir``, ``$RIG_STATE_DIR``, or by default
``/var/lib/rig/<rig name>`` as root (a virtual node's service user must be able to walk
down to its node root, which it cannot do below ``/root``) and
``$XDG_STATE_HOME/rig/<rig name>`` (``~/.local/state/rig/<rig name>``) otherwise. Its
path also names the instance, so two rigs on one machine never share namespaces,
bridges or processes.

Earlier versions used the XDG folder as root too. :func:`adopt_legacy_state` finds such
a folder and moves it to the new default (leaving a symlink behind), unless that rig is
still up from it: then the command keeps using it until ``rig down``.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SYSTEM_STATE_BASE = Path("/var/lib/rig")  # root's default: /var/lib/rig/<rig name>


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def user_state_dir(rig_name: str, home: Path | None = None) -> Path:
    """The XDG state folder: ``$XDG_STATE_HOME/rig/<name>`` or ``~/.local/state/rig/<name>``."""
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg else (home or Path.home()) / ".local" / "state"
    return base / "rig" / rig_name


def default_state_dir(
    rig_name: str, *, root: bool | None = None, system_base: Path | None = None
) -> Path:
    """``$RIG_STATE_DIR``; else ``/var/lib/rig/<name>`` as root, the XDG folder otherwise.

    ``root`` and ``system_base`` stand in for the effective user and ``/var/lib/rig``."""
    env = os.environ.get("RIG_STATE_DIR")
    if env:
        return Path(env).expanduser()
    if _is_root() if root is None else root:
        return (system_base or SYSTEM_STATE_BASE) / rig_name
    return user_state_dir(rig_name)


def _has_files(folder: Path) -> bool:
    """Anything but empty folders below ``folder`` (``rig`` makes empty ones on the way)."""
    return any(files for _dirpath, _dirs, files in os.walk(folder))


def _rig_is_up(folder: Path) -> bool:
    """A supervisor holds the folder's lock, or a run plan says it was not brought down."""
    from rig.virtual.supervisor import lock_holder  # imports this module

    return lock_holder(StateDir(folder)) is not None or (folder / "run" / "plan.json").exists()


def _copy_tree(src: Path, dst: Path) -> None:
    """``src`` to ``dst`` on another file system: modes, times, owners; sockets skipped."""

    def copy(s: str, d: str) -> None:
        if stat.S_ISSOCK(os.lstat(s).st_mode) or stat.S_ISFIFO(os.lstat(s).st_mode):
            return
        shutil.copy2(s, d, follow_symlinks=False)
        st = os.lstat(s)
        os.chown(d, st.st_uid, st.st_gid, follow_symlinks=False)

    shutil.copytree(src, dst, symlinks=True, copy_function=copy)
    for dirpath, dirs, _files in os.walk(src):
        for name in [".", *dirs]:
            s = Path(dirpath) / name
            st = os.lstat(s)
            os.chown(dst / s.relative_to(src), st.st_uid, st.st_gid, follow_symlinks=False)


def _move(src: Path, dst: Path) -> None:
    try:
        os.rename(src, dst)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        _copy_tree(src, dst)
        shutil.rmtree(src)


def adopt_legacy_state(
    rig_name: str,
    target: Path,
    *,
    home: Path | None = None,
    notify: Callable[[str], None] = lambda _m: None,
) -> Path:
    """The state folder to use when none was given, after moving root's old default.

    As root, versions before /var/lib/rig kept the state in the XDG folder below ``home``
    (default: this user's). Such a folder with files in it moves to ``target`` (a symlink
    stays behind), unless ``target`` already holds a rig's state (then it is only
    mentioned) or that rig is up (then it is used as it is, until ``rig down``).
    Virtual nodes' installs name their folder's old path: they are removed with a note
    to `rig deploy` again. ``notify`` gets every message for the user."""
    legacy = user_state_dir(rig_name, home)
    if legacy.is_symlink() or not legacy.is_dir() or legacy.resolve() == target.resolve():
        return target
    if not _has_files(legacy):
        return target
    if _rig_is_up(legacy):
        notify(
            f"rig {rig_name!r} is up from its old state folder {legacy}; this command uses it. "
            f"The state folder as root is now {target}: after `rig down` the next rig "
            "command moves it there."
        )
        return legacy
    if target.exists() and _has_files(target):
        notify(
            f"the state folder of rig {rig_name!r} is now {target}; an older one is still in "
            f"{legacy} and is not used. Take what you need from it, then remove it "
            f"(`rm -r {legacy}`), or use it with --state-dir {legacy}."
        )
        return target
    if target.exists():
        shutil.rmtree(target)  # only empty folders: nothing of a rig's state
    if not target.parent.exists():
        target.parent.mkdir(mode=0o755, parents=True)
    _move(legacy, target)
    legacy.symlink_to(target, target_is_directory=True)
    note = (
        f"moved the state folder of rig {rig_name!r} from {legacy} to {target}, the state "
        f"folder as root from now on (a symlink stays at the old path)"
    )
    nodes = target / "nodes"
    if nodes.is_dir() and _has_files(nodes):
        shutil.rmtree(nodes)
        note += (
            ". Its virtual nodes' installs named the old path and were removed: "
            "`rig up`, then `rig deploy` installs them again"
        )
    notify(note)
    return target


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
