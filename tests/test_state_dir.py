"""The default state folder: /var/lib/rig/<name> as root, the XDG folder otherwise, and
root's old default (the XDG folder below /root) moved to the new place when found.

Every test uses a temporary HOME and a temporary stand-in for /var/lib/rig: none touches
the real /root or /var/lib/rig."""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import rig.state
from rig.cli.common import rig_options
from rig.state import StateDir, adopt_legacy_state, default_state_dir, user_state_dir


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.delenv("RIG_STATE_DIR", raising=False)
    return folder


@pytest.fixture
def system(tmp_path: Path) -> Path:
    return tmp_path / "var" / "lib" / "rig"  # does not exist yet, as on a fresh machine


def old_state(home: Path, name: str = "virtual") -> Path:
    """A state folder at root's old default, as `rig up` and `rig deploy` left it."""
    legacy = home / ".local" / "state" / "rig" / name
    state = StateDir.open(legacy)
    (state.pki / "ca.key").write_text("key")
    (state.sub("ssh") / "id_ed25519").write_text("client key")
    (state.node_root("esme") / "etc").mkdir()
    (state.node_root("esme") / "etc" / "node.json").write_text(f'{{"state_dir": "{legacy}"}}')
    return legacy


def test_the_default_is_var_lib_rig_as_root_and_xdg_otherwise(
    home: Path, system: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert default_state_dir("bench-a", root=True, system_base=system) == system / "bench-a"
    assert default_state_dir("bench-a", root=False) == home / ".local/state/rig/bench-a"
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "xdg"))
    assert default_state_dir("bench-a", root=False) == home / "xdg/rig/bench-a"
    monkeypatch.setenv("RIG_STATE_DIR", str(home / "mine"))
    assert default_state_dir("bench-a", root=True, system_base=system) == home / "mine"
    assert default_state_dir("bench-a", root=False) == home / "mine"


def test_the_old_root_default_moves_to_the_new_one(home: Path, system: Path) -> None:
    legacy = old_state(home)
    notes: list[str] = []
    target = system / "virtual"
    used = adopt_legacy_state("virtual", target, home=home, notify=notes.append)
    assert used == target
    assert (target / "pki" / "ca.key").read_text() == "key"
    assert (target / "ssh" / "id_ed25519").read_text() == "client key"
    assert (target / "pki").stat().st_mode & 0o777 == 0o700  # modes travel with it
    assert system.stat().st_mode & 0o005 == 0o005  # /var/lib/rig: the service user walks it
    # the old path is a symlink to the new folder: same instance, and the user sees where
    assert legacy.is_symlink() and legacy.resolve() == target.resolve()
    assert StateDir.open(legacy).instance == StateDir.open(target).instance
    # deployed virtual nodes named the old path: they go, with what to do about it
    assert not (target / "nodes").exists()
    assert len(notes) == 1
    assert str(legacy) in notes[0] and str(target) in notes[0] and "rig deploy" in notes[0]
    # the next command finds nothing to do
    notes.clear()
    assert adopt_legacy_state("virtual", target, home=home, notify=notes.append) == target
    assert not notes


def test_an_old_folder_without_files_is_left_alone(home: Path, system: Path) -> None:
    legacy = home / ".local" / "state" / "rig" / "virtual"
    (legacy / "pki").mkdir(parents=True)  # e.g. made by an old `rig check`
    notes: list[str] = []
    target = system / "virtual"
    assert adopt_legacy_state("virtual", target, home=home, notify=notes.append) == target
    assert legacy.is_dir() and not legacy.is_symlink() and not target.exists() and not notes


def test_a_rig_still_up_from_the_old_folder_keeps_it_until_rig_down(
    home: Path, system: Path
) -> None:
    legacy = old_state(home)
    target = system / "virtual"
    notes: list[str] = []
    # up: its supervisor holds the lock
    fd = os.open(legacy / "rig.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, f"{os.getpid()}\n".encode())
        assert adopt_legacy_state("virtual", target, home=home, notify=notes.append) == legacy
    finally:
        os.close(fd)
    assert "is up" in notes[0] and "rig down" in notes[0] and str(target) in notes[0]
    assert not target.exists() and not legacy.is_symlink()
    # not brought down after a crash: the run plan is still there
    (legacy / "run").mkdir(mode=0o700, exist_ok=True)
    (legacy / "run" / "plan.json").write_text("{}")
    assert adopt_legacy_state("virtual", target, home=home) == legacy
    # `rig down` removes the plan: the next command moves the folder
    (legacy / "run" / "plan.json").unlink()
    assert adopt_legacy_state("virtual", target, home=home) == target
    assert (target / "pki" / "ca.key").exists()


def test_a_new_folder_with_state_wins_and_the_old_one_is_named(home: Path, system: Path) -> None:
    legacy = old_state(home)
    target = system / "virtual"
    (StateDir.open(target).pki / "ca.key").write_text("newer")
    notes: list[str] = []
    assert adopt_legacy_state("virtual", target, home=home, notify=notes.append) == target
    assert (target / "pki" / "ca.key").read_text() == "newer"
    assert (legacy / "pki" / "ca.key").read_text() == "key"
    assert str(legacy) in notes[0] and "not used" in notes[0]


def test_a_new_folder_with_only_empty_folders_is_replaced(home: Path, system: Path) -> None:
    old_state(home)
    target = system / "virtual"
    assert StateDir.open(target).pki.is_dir()  # `rig protocol` makes it on its way to the PKI
    assert adopt_legacy_state("virtual", target, home=home) == target
    assert (target / "pki" / "ca.key").read_text() == "key"


def test_a_move_across_file_systems_copies_owners_and_modes(
    home: Path, system: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    legacy = old_state(home)
    (legacy / "pki" / "ca.key").chmod(0o600)
    os.symlink("ca.key", legacy / "pki" / "current.key")
    real_rename = os.rename

    def rename(src: os.PathLike[str] | str, dst: os.PathLike[str] | str) -> None:
        if Path(src) == legacy:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_rename(src, dst)

    monkeypatch.setattr(rig.state.os, "rename", rename)
    target = system / "virtual"
    assert adopt_legacy_state("virtual", target, home=home) == target
    key = target / "pki" / "ca.key"
    assert key.read_text() == "key" and key.stat().st_mode & 0o777 == 0o600
    assert key.stat().st_uid == os.getuid()
    assert os.readlink(target / "pki" / "current.key") == "ca.key"
    assert legacy.is_symlink() and legacy.resolve() == target.resolve()


def test_the_cli_opens_the_new_default_and_honours_overrides(
    home: Path, system: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rig.state, "SYSTEM_STATE_BASE", system)
    monkeypatch.setattr(rig.state, "_is_root", lambda: True)
    legacy = old_state(home)

    @click.command()
    @rig_options
    def where(rig: object, state: StateDir) -> None:
        click.echo(state.root)

    runner = CliRunner()
    given = home / "given"
    result = runner.invoke(where, ["--state-dir", str(given)])
    assert result.exit_code == 0 and result.stdout.strip() == str(given.resolve())
    assert legacy.is_dir() and not legacy.is_symlink()  # an explicit folder moves nothing
    result = runner.invoke(where, [], env={"RIG_STATE_DIR": str(given)})
    assert result.stdout.strip() == str(given.resolve()) and not legacy.is_symlink()
    result = runner.invoke(where, [])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str((system / "virtual").resolve())
    assert legacy.is_symlink()
    # not root: the XDG folder, as before (here the symlink left behind)
    monkeypatch.setattr(rig.state, "_is_root", lambda: False)
    assert user_state_dir("virtual") == legacy
    result = runner.invoke(where, [])
    assert result.stdout.strip() == str((system / "virtual").resolve())
