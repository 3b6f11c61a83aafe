"""The part of a systemd service unit the virtual rig's supervisor honours.

A deploy writes the same ``rig-node.service`` on a Pi (where systemd runs it) and
in a virtual node's root (where the supervisor runs it). This reads the
``[Service]`` keys that matter for that: ``ExecStart``, ``User``, ``Group``,
``WorkingDirectory`` and ``Environment``; anything else is systemd's business.
Pure: text in, a record out.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path


class UnitError(ValueError):
    pass


@dataclass(frozen=True)
class ServiceUnit:
    exec_start: list[str]
    user: str | None = None
    group: str | None = None
    working_directory: str | None = None
    environment: dict[str, str] = field(default_factory=dict)

    def argv(self, netns: str | None) -> list[str]:
        """The command line: in ``netns`` if given, as ``User``/``Group`` if given."""
        argv = list(self.exec_start)
        if self.user:
            group = ["--regid", self.group or self.user]
            argv = ["setpriv", "--reuid", self.user, *group, "--init-groups", "--", *argv]
        if netns:
            argv = ["ip", "netns", "exec", netns, *argv]
        return argv


def parse(text: str, source: str = "<unit>") -> ServiceUnit:
    section = None
    values: dict[str, list[str]] = {}
    lines = text.replace("\\\n", " ").splitlines()
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if "=" not in line:
            raise UnitError(f"{source}:{number}: expected Key=Value, got {line!r}")
        key, value = (part.strip() for part in line.split("=", 1))
        if section == "Service":
            values.setdefault(key, []).append(value)
    if not values.get("ExecStart"):
        raise UnitError(f"{source}: no ExecStart= in a [Service] section")
    exec_start = shlex.split(values["ExecStart"][-1].lstrip("-@+!:"))
    environment: dict[str, str] = {}
    for entry in values.get("Environment", []):
        for pair in shlex.split(entry):
            if "=" not in pair:
                raise UnitError(f"{source}: Environment entry {pair!r} is not NAME=value")
            name, value = pair.split("=", 1)
            environment[name] = value
    last = {k: v[-1] for k, v in values.items()}
    return ServiceUnit(
        exec_start,
        user=last.get("User"),
        group=last.get("Group"),
        working_directory=last.get("WorkingDirectory"),
        environment=environment,
    )


def load(path: Path) -> ServiceUnit:
    try:
        return parse(path.read_text(), str(path))
    except OSError as exc:
        raise UnitError(f"cannot read {path}: {exc.strerror}") from None
