#!/usr/bin/python
# GPL-3.0-or-later
"""Ansible module: what a deploy would change on a node, found in one round trip.

``rig deploy`` runs it first on every node: it is the reachability check (a node that
cannot run it stops the deploy before anything changes), and it compares everything the
``rig_node`` role manages with what the node has: the service user, the folders, the
wheel, the virtualenv and the installed version, the keys bundle and the keys unpacked
from it, the configuration, the unit and udev files (content, owner, mode), whether the
service runs, and whether it reports healthy on the deployed version. It changes
nothing. The role then runs only the tasks whose part differs, so an unchanged checkout
deploys with one module run per node instead of one per task.
"""

from __future__ import annotations

import glob
import grp
import hashlib
import os
import pwd
import stat
import tarfile
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.rig_control import ask, health, systemctl

DOCUMENTATION = r"""
module: rig_node_state
short_description: Compare a rig node with what a deploy would make of it (read-only)
options:
  user: {description: "service user: {name, groups}", type: dict}
  folders: {description: "folders: [{path, owner, group, mode}]", type: list, elements: dict}
  wheel: {description: the wheel's path on the node, type: path}
  wheel_checksum: {description: SHA-1 of the controller's wheel, type: str}
  venv: {description: the virtualenv, type: path}
  version: {description: the rig version that must be installed, type: str}
  pki_bundle: {description: the keys bundle's path on the node, type: path}
  pki_bundle_checksum: {description: "SHA-1 of the controller's bundle; empty: none", type: str}
  pki_dir: {description: where the bundle is unpacked, type: path}
  files: {description: "[{name, path, content, owner, group, mode}]", type: list, elements: dict}
  service: {description: "{manager: rig|systemd, socket, unit, unit_name}", type: dict}
  health_url: {description: the node's health endpoint, type: str}
"""

RETURN = r"""
changes: {description: "per part (user, folders, wheel, venv, install, pki_bundle,
  pki_files, FILE NAME..., service, health): true when the deploy must act", type: dict}
differences: {description: what differs, in words, type: list}
up_to_date: {description: nothing to do (and healthy on the version), type: bool}
"""


def _sha1(path: str) -> str | None:
    digest = hashlib.sha1()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def _owned(st: os.stat_result, owner: str, group: str, mode: str | int) -> str:
    """'' when ``st`` has that owner, group and mode; else what differs."""
    try:
        uid, gid = pwd.getpwnam(owner).pw_uid, grp.getgrnam(group).gr_gid
    except KeyError:
        return f"no user/group {owner}:{group}"
    want = int(mode, 8) if isinstance(mode, str) else mode
    problems = []
    if (st.st_uid, st.st_gid) != (uid, gid):
        problems.append(f"owned by {st.st_uid}:{st.st_gid}, not {owner}:{group}")
    if stat.S_IMODE(st.st_mode) != want:
        problems.append(f"mode {stat.S_IMODE(st.st_mode):04o}, not {want:04o}")
    return ", ".join(problems)


def _user(spec: dict[str, Any]) -> str:
    name = spec["name"]
    try:
        user = pwd.getpwnam(name)
        group = grp.getgrnam(name)
    except KeyError:
        return f"no user or group {name!r}"
    if user.pw_gid != group.gr_gid:
        return f"{name}'s primary group is not {name}"
    if (user.pw_dir, user.pw_shell) != ("/nonexistent", "/usr/sbin/nologin"):
        return f"{name} has home {user.pw_dir} and shell {user.pw_shell}"
    missing = []
    for extra in spec.get("groups") or []:
        try:
            if name not in grp.getgrnam(extra).gr_mem:
                missing.append(extra)
        except KeyError:
            missing.append(extra)
    return f"{name} is not in {', '.join(missing)}" if missing else ""


def _file(spec: dict[str, Any]) -> str:
    path = spec["path"]
    try:
        st = os.stat(path)
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return f"{path} is missing"
    if data != spec["content"].encode():
        return f"{path} differs"
    owned = _owned(st, spec["owner"], spec.get("group") or spec["owner"], spec["mode"])
    return f"{path}: {owned}" if owned else ""


def _pki_files(bundle: str, folder: str, owner: str) -> str:
    """The unpacked keys match the bundle on the node: content, mode, owner."""
    try:
        uid, gid = pwd.getpwnam(owner).pw_uid, grp.getgrnam(owner).gr_gid
        with tarfile.open(bundle) as tar:
            for member in tar.getmembers():
                path = os.path.join(folder, member.name)
                try:
                    st = os.lstat(path)
                except OSError:
                    return f"{path} is missing"
                if (st.st_uid, st.st_gid) != (uid, gid):
                    return f"{path} is not {owner}'s"
                if stat.S_IMODE(st.st_mode) != member.mode:
                    return f"{path} has mode {stat.S_IMODE(st.st_mode):04o}"
                if member.isfile():
                    src = tar.extractfile(member)
                    with open(path, "rb") as f:
                        if src is None or f.read() != src.read():
                            return f"{path} differs"
    except (OSError, KeyError, tarfile.TarError) as exc:
        return f"cannot compare the keys with {bundle}: {exc}"
    return ""


def _service(spec: dict[str, Any]) -> str:
    if spec["manager"] == "systemd":
        unit = spec["unit_name"]
        active = systemctl("is-active", unit)[1]
        enabled = systemctl("is-enabled", unit)[1]
        if active != "active" or enabled != "enabled":
            return f"{unit} is {active} and {enabled}"
        return ""
    try:
        units = ask(spec["socket"], "status", None).get("units", {})
    except OSError as exc:
        return f"the supervisor does not answer on {spec['socket']} ({exc})"
    state = units.get(spec["unit"], {}).get("state")
    return "" if state == "running" else f"{spec['unit']} is {state}"


def compare(p: dict[str, Any]) -> dict[str, str]:
    """Every part of the node with what differs in it ('' when nothing)."""
    found: dict[str, str] = {}
    if p["user"]:
        found["user"] = _user(p["user"])
    problems = []
    for folder in p["folders"] or []:
        try:
            st = os.stat(folder["path"])
            owned = _owned(st, folder["owner"], folder["group"], folder["mode"])
        except OSError:
            owned = "missing"
        if owned:
            problems.append(f"{folder['path']}: {owned}")
    found["folders"] = "; ".join(problems)
    if p["wheel"]:
        if _sha1(p["wheel"]) != p["wheel_checksum"]:
            found["wheel"] = f"{p['wheel']} is missing or differs"
        else:
            found["wheel"] = _owned(os.stat(p["wheel"]), "root", "root", "0644")
    venv = p["venv"]
    found["venv"] = "" if os.path.exists(f"{venv}/bin/python") else f"no virtualenv {venv}"
    if p["version"]:
        pattern = f"{venv}/lib/python3*/site-packages/gbsm_rig-{p['version']}.dist-info"
        found["install"] = "" if glob.glob(pattern) else f"gbsm-rig {p['version']} not installed"
    if p["pki_bundle_checksum"]:
        bundle = p["pki_bundle"]
        if _sha1(bundle) != p["pki_bundle_checksum"]:
            found["pki_bundle"] = f"{bundle} is missing or differs"
            found["pki_files"] = "the keys bundle changes"
        else:
            found["pki_bundle"] = _owned(os.stat(bundle), "root", "root", "0600")
            owner = (p["user"] or {}).get("name", "rig")
            found["pki_files"] = _pki_files(bundle, p["pki_dir"], owner)
    for spec in p["files"] or []:
        found[spec["name"]] = _file(spec)
    if p["service"]:
        found["service"] = _service(p["service"])
    if p["health_url"]:
        ok, _report, problem = health(p["health_url"], p["version"] or "")
        found["health"] = "" if ok else problem
    return found


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "user": {"type": "dict"},
            "folders": {"type": "list", "elements": "dict"},
            "wheel": {"type": "path"},
            "wheel_checksum": {"type": "str", "default": ""},
            "venv": {"type": "path", "required": True},
            "version": {"type": "str", "default": ""},
            "pki_bundle": {"type": "path"},
            "pki_bundle_checksum": {"type": "str", "default": ""},
            "pki_dir": {"type": "path"},
            "files": {"type": "list", "elements": "dict"},
            "service": {"type": "dict"},
            "health_url": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    found = compare(module.params)
    module.exit_json(
        changed=False,
        changes={part: bool(problem) for part, problem in found.items()},
        differences=[f"{part}: {problem}" for part, problem in found.items() if problem],
        up_to_date=not any(found.values()),
    )


if __name__ == "__main__":
    main()
