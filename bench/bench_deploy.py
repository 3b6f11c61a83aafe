"""How long Ansible takes on the default 5-node virtual rig: first deploy, second deploy
(no changes), reset. Needs root (network namespaces, one sshd per node).

    .venv/bin/python bench/bench_deploy.py [--state-dir DIR]

Prints one line per step with wall seconds and Ansible's change count. The first deploy
includes building the wheel and a virtualenv per node; the dependency wheelhouse is
cached per machine (the first run on a machine also downloads it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def rig(state: Path, *args: str) -> tuple[float, dict]:
    started = time.monotonic()
    proc = subprocess.run(
        [str(BIN / "rig"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "RIG_STATE_DIR": str(state)},
        check=False,
    )
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"rig {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    try:
        return seconds, json.loads(proc.stdout)
    except ValueError:
        return seconds, {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_deploy: needs root (network namespaces, sshd per node)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="rig-bench-", dir="/var/tmp") as tmp:
        state = args.state_dir or Path(tmp) / "state"
        Path(tmp).chmod(0o711)  # the nodes' service user walks down to their roots
        up_s, _ = rig(state, "up", "--isolation", "netns")
        print(f"rig up (5 nodes, netns)       {up_s:6.1f} s")
        try:
            for label, cmd in (
                ("first deploy", ["deploy", "--json"]),
                ("second deploy", ["deploy", "--json"]),
                ("deploy --check", ["deploy", "--check", "--json"]),
                ("reset", ["reset", "--json"]),
                ("health", ["health", "--json"]),
            ):
                seconds, result = rig(state, *cmd)
                ansible = result.get("seconds", 0.0)
                changed = result.get("changed", "?")
                print(
                    f"{label:<29} {seconds:6.1f} s  (ansible-runner {ansible:5.1f} s, "
                    f"{changed} changes)"
                )
        finally:
            rig(state, "down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
