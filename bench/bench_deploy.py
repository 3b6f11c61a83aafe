"""How long Ansible takes on the default 5-node virtual rig: first deploy, no-op deploy
(nothing changed), ``deploy --check``, reset, health. Needs root (network namespaces, one
sshd per node).

    .venv/bin/python bench/bench_deploy.py [--state-dir DIR] [--repeat N]

Prints one line per run with wall seconds (the whole ``rig`` command, as a user waits for
it) and Ansible's change count, then the median of the no-op deploys and of the resets
(``--repeat`` runs of each, default 3). The first deploy includes building the wheel and
a virtualenv per node; the dependency wheelhouse is cached per machine (the first run on
a machine also downloads it). A no-op deploy that reports changes (the checkout changed
under the bench) is marked, and left out of the median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


class StepFailed(RuntimeError):
    pass


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
        raise StepFailed(f"rig {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    try:
        return seconds, json.loads(proc.stdout)
    except ValueError:
        return seconds, {}


def step(state: Path, label: str, *cmd: str) -> tuple[float, int | str]:
    seconds, result = rig(state, *cmd)
    ansible = result.get("seconds", 0.0)
    changed = result.get("changed", "?")
    print(
        f"{label:<29} {seconds:6.1f} s  (ansible-runner {ansible:5.1f} s, {changed} changes)",
        flush=True,
    )
    return seconds, changed


def median_line(label: str, samples: list[float]) -> None:
    if samples:
        runs = ", ".join(f"{s:.1f}" for s in samples)
        print(f"{label:<29} {statistics.median(samples):6.1f} s  (median of {runs})")
    else:
        print(f"{label:<29}    n/a (no clean run)")


def bench(state: Path, repeat: int) -> None:
    up_s, _ = rig(state, "up", "--isolation", "netns")
    print(f"rig up (5 nodes, netns)       {up_s:6.1f} s", flush=True)
    step(state, "first deploy", "deploy", "--json")
    noop: list[float] = []
    for i in range(repeat):
        seconds, changed = step(state, f"no-op deploy #{i + 1}", "deploy", "--json")
        if changed == 0:
            noop.append(seconds)
        else:
            print("  ^ not a no-op: the checkout changed under the bench; not counted")
    step(state, "deploy --check", "deploy", "--check", "--json")
    resets = [step(state, f"reset #{i + 1}", "reset", "--json")[0] for i in range(repeat)]
    step(state, "health", "health", "--json")
    median_line("no-op deploy (median)", noop)
    median_line("reset (median)", resets)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path)
    parser.add_argument("--repeat", type=int, default=3, help="no-op deploys and resets (3)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_deploy: needs root (network namespaces, sshd per node)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="rig-bench-", dir="/var/tmp"))
    tmp.chmod(0o711)  # the nodes' service user walks down to their roots
    state = args.state_dir or tmp / "state"
    failed = False
    try:
        bench(state, max(1, args.repeat))
    except StepFailed as exc:
        print(exc, file=sys.stderr)
        failed = True
    finally:
        try:
            rig(state, "down")
        except StepFailed as exc:
            # keep the folder: `rig down --state-dir` on it finds what still runs
            print(f"{exc}\nleft in place: {state}", file=sys.stderr)
            return 1
    subprocess.run(["rm", "-rf", str(tmp)], check=False)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
