"""The Ansible inventory, generated from the rig description and its run plan.

No second place lists nodes: groups per role (``role_chf``, ``role_esme``,
``role_gsme``, ``role_ihd``, ``role_ppmid``) under ``nodes``, plus ``virtual`` and
``pi``; and the host ``controller`` (group ``dcc``, a local connection) for the DCC
side the reset must keep consistent. Each
node's host variables carry where it is (SSH address, user, key, pinned host
key), where its files go (``rig_prefix``: ``/`` on a Pi, its node root on the
virtual rig), who runs its service (systemd, or the rig's supervisor), and its
configuration with every key and certificate it needs, relocated to node paths.
"""

from __future__ import annotations

import hashlib
import io
import sys
import tarfile
from pathlib import Path
from typing import Any

import yaml

from rig.deploy.build import Build
from rig.description.model import Rig, Role
from rig.plan.model import NODE_UNIT, Plan, air_control_url, dccuser_config, node_paths
from rig.plan.render import node_config
from rig.runtime.files import write_atomic
from rig.state import StateDir
from rig.virtual import sshd
from rig.virtual.supervisor import socket_path

SERVICE_USER = "rig"
NODE_PYTHON = "/usr/bin/python3"  # Raspberry Pi OS Bookworm: Python 3.11, as on the controller


class InventoryError(RuntimeError):
    pass


def _relocate(config: dict[str, Any], pki: Path, prefix: str) -> tuple[Any, list[Path]]:
    """Point every PKI file the config names at its copy under ``/etc/rig/pki`` on the node."""
    files: set[Path] = set()

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str) and value.startswith(f"{pki}/"):
            files.add(Path(value))
            return f"{prefix}/etc/rig/pki/{Path(value).relative_to(pki)}"
        return value

    return walk(config), sorted(files)


def pki_bundle(files: list[Path], pki: Path, out: Path) -> Path:
    """The node's keys and certificates as one tar (files 0600, folders 0700), for one
    ``unarchive`` instead of a copy per file. Deterministic: same files, same bytes, so an
    unchanged PKI deploys with zero changes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        folders = sorted({p.relative_to(pki).parent for p in files} - {Path(".")})
        for folder in sorted({f for d in folders for f in (d, *d.parents)} - {Path(".")}):
            info = tarfile.TarInfo(str(folder))
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o700, 0
            tar.addfile(info)
        for path in sorted(files):
            data = path.read_bytes()
            info = tarfile.TarInfo(str(path.relative_to(pki)))
            info.size, info.mode, info.mtime = len(data), 0o600, int(path.stat().st_mtime)
            tar.addfile(info, io.BytesIO(data))
    if not out.exists() or out.read_bytes() != buf.getvalue():
        write_atomic(out, buf.getvalue(), 0o600)
    return out


def _sha1(path: Path) -> str:
    """What Ansible's copy compares, so the deploy's probe can tell an unchanged file."""
    return hashlib.sha1(path.read_bytes()).hexdigest()


def check_reachable(root: Path) -> None:
    """A virtual node's service user must be able to walk down to its node root."""
    for folder in [*reversed(root.parents), root]:
        if not folder.stat().st_mode & 0o001:
            raise InventoryError(
                f"the service user {SERVICE_USER!r} of the virtual nodes cannot enter "
                f"{folder} (mode {folder.stat().st_mode & 0o777:o}), on the way to the node "
                f"roots in {root.parent}: make it traversable (`chmod o+x {folder}`) or "
                "keep the rig's state where it can (--state-dir, $RIG_STATE_DIR; the default "
                "as root, /var/lib/rig/<rig name>, is)"
            )


def known_hosts(rig: Rig, plan: Plan, state: StateDir) -> Path:
    """Host keys to check against: the virtual nodes' generated keys, the Pis' pinned keys."""
    lines = []
    virtual = sshd.known_hosts_path(state)
    if virtual.exists():
        lines += virtual.read_text().splitlines()
    missing = []
    for node in rig.nodes:
        if node.placement.virtual:
            continue
        if node.placement.host_key is None:
            missing.append(node.name)
            continue
        host = node.placement.address
        if node.placement.ssh_port != 22:
            host = f"[{host}]:{node.placement.ssh_port}"
        lines.append(f"{host} {node.placement.host_key}")
    if missing:
        raise InventoryError(
            f"no host key pinned for {', '.join(missing)}: host-key checking stays on. Add "
            "host: {host_key: ...} to each, from `ssh-keyscan -t ed25519 ADDRESS` checked "
            "against `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the Pi's console "
            "(hardware/README.md, 'Preparing a Pi')"
        )
    path = state.sub("ansible") / "known_hosts"
    write_atomic(path, "\n".join(lines) + "\n")
    return path


def build(rig: Rig, plan: Plan, state: StateDir, software: Build | None) -> dict[str, Any]:
    known = known_hosts(rig, plan, state)
    key = sshd.client_key(state)
    links = {link.node: link for link in plan.links}
    ssh_args = (
        f"-o UserKnownHostsFile={known} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes "
        "-o ConnectTimeout=5"
    )
    roles: dict[str, dict[str, Any]] = {f"role_{r.value}": {"hosts": {}} for r in Role}
    virtual, pis = {}, {}
    for node in rig.nodes:
        if node.placement.virtual:
            link = links.get(node.name)
            if link is None:
                raise InventoryError(
                    f"{node.name} is a virtual node without its own network namespace: "
                    "Ansible reaches virtual nodes over SSH, which needs netns isolation "
                    "(run as root: `rig down`, then `rig up --isolation netns`)"
                )
            root = state.node_root(node.name)
            check_reachable(root)
            prefix = str(root)
            where: dict[str, Any] = {
                "ansible_host": link.address,
                "ansible_port": 22,
                "ansible_user": "root",
                "rig_service_manager": "rig",
                "rig_supervisor_socket": str(socket_path(state)),
                "rig_log_file": str(state.log(node.name)),
                "rig_pip_args": f"--no-index --find-links {software.wheelhouse}"
                if software
                else "",
            }
            virtual[node.name] = {}
        else:
            prefix = ""
            where = {
                "ansible_host": node.placement.address,
                "ansible_port": node.placement.ssh_port,
                "ansible_user": node.placement.ssh_user,
                "ansible_become": node.placement.ssh_user != "root",
                "rig_service_manager": "systemd",
                "rig_pip_args": "",
                "rig_radio_device": node.radio.device,
                "rig_service_groups": ["dialout", "gpio"],
            }
            pis[node.name] = {}
        paths = node_paths(prefix)
        config, files = _relocate(
            node_config(plan, rig, state, node, paths["rig_data_dir"]), state.pki, prefix
        )
        bundle = (
            pki_bundle(files, state.pki, state.sub("deploy", "nodes") / f"{node.name}-pki.tar")
            if files
            else ""
        )
        comp = plan.component(node.name)
        roles[f"role_{node.role.value}"]["hosts"][node.name] = {
            **where,
            **paths,
            "ansible_ssh_private_key_file": str(key),
            "ansible_ssh_common_args": ssh_args,
            "ansible_python_interpreter": NODE_PYTHON,
            "rig_node": node.name,
            "rig_role": node.role.value,
            "rig_eui": node.eui.duis,
            "rig_health_url": comp.probe["url"],
            "rig_config": config,
            "rig_pki_bundle": str(bundle),  # "": the node needs no keys (IHD, PPMID)
            "rig_pki_bundle_checksum": _sha1(bundle) if bundle else "",
        }
    software_vars = (
        {
            "rig_version": software.version,
            "rig_wheel": str(software.wheel),
            "rig_wheel_checksum": _sha1(software.wheel),
        }
        if software
        else {}
    )
    return {
        "all": {
            "vars": {
                "rig_name": rig.name,
                "rig_instance": plan.instance,
                "rig_service_user": SERVICE_USER,
                "rig_unit_name": NODE_UNIT,
            },
            "children": {
                "dcc": {
                    "hosts": {
                        "controller": {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": sys.executable,
                            "rig_service_manager": "rig",
                            "rig_supervisor_socket": str(socket_path(state)),
                            "rig_state_dir": str(state.root),
                            "rig_gateway_data": str(state.component("gateway") / "data"),
                            "rig_gateway_health": plan.component("gateway").probe["url"],
                            "rig_dccuser_inbox": str(state.component("dcc-users") / "inbox"),
                            "rig_dccuser_config": str(dccuser_config(state)),
                            "rig_air_control": air_control_url(plan),
                            "rig_logs": str(state.logs),
                            "rig_capture": str(state.component("air") / "han.pcap"),
                        }
                    }
                },
                "nodes": {
                    "vars": software_vars,
                    "children": {k: v for k, v in roles.items() if v["hosts"]},
                },
                "virtual": {"hosts": virtual},
                "pi": {"hosts": pis},
            },
        }
    }


def write(inventory: dict[str, Any], state: StateDir) -> Path:
    """The inventory as YAML (0600: it holds the HAN network key of each hub)."""
    path = state.sub("ansible") / "inventory.yml"
    text = "# generated by `rig` from the rig description; do not edit\n" + yaml.safe_dump(
        inventory, sort_keys=False, default_flow_style=False, width=1000
    )
    write_atomic(path, text, 0o600)
    return path
