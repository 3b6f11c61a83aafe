"""The whole conformance run: every DCC DUIS template (297) through the end-to-end virtual
rig (tests/rigs/dcc.yaml, on DCC's ZAZ1 identities when the vectors are beside the
checkout), with `rig conformance`.

    .venv/bin/python bench/conformance.py [--wait S] [--only GLOB] [--out DIR]
    .venv/bin/python bench/conformance.py --state-dir DIR --rig FILE   # a rig already up

Prints the counts (answered, refused, error; RTDS command equal / differs; device answers
that decode / differ), the median and total seconds per template, and where the JSON and
HTML reports are. Without --state-dir it brings a rig of its own up (subnet of
tests/rigs/dcc.yaml, 10.213.91.0/24) and down again.
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

ROOT = Path(__file__).resolve().parents[1]
RIG = ROOT / "tests" / "rigs" / "dcc.yaml"
ZAZ1 = ROOT.parent / "shared" / "vectors" / "smki" / "zaz1-keystore.json"
BIN = Path(sys.executable).parent


def rig(state: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "rig"), *args],
        text=True,
        env={**os.environ, "RIG_STATE_DIR": str(state)},
        check=check,
    )


def wait_joined(state: Path, rig_file: Path, devices: tuple[str, ...], timeout: float) -> None:
    """Until ``devices`` have joined and opened their tunnels (as the tests wait)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc = subprocess.run(
            [str(BIN / "rig"), "status", "--json", "--rig", str(rig_file)],
            capture_output=True,
            text=True,
            env={**os.environ, "RIG_STATE_DIR": str(state)},
        )
        comps = {c["name"]: c for c in json.loads(proc.stdout or "{}").get("components", [])}
        details = [((comps.get(n) or {}).get("report") or {}).get("detail") or {} for n in devices]
        if all(d.get("han", {}).get("tunnel") for d in details):
            return
        time.sleep(1)
    print(f"warning: {', '.join(devices)} not all joined after {timeout:.0f} s", file=sys.stderr)


def report(data: dict, out: Path) -> None:
    counts = data["counts"]
    seconds = [r["seconds"] for r in data["results"]]
    width = max(len(k) for k in counts)
    for key, value in counts.items():
        print(f"{key:<{width}}  {value:4d}")
    if seconds:
        print(
            f"{'seconds/template':<{width}}  median {statistics.median(seconds):.2f}, "
            f"max {max(seconds):.1f}, total {sum(seconds):.0f}"
        )
    print(f"reports: {out / 'conformance.json'} {out / 'conformance.html'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rig", type=Path, default=None, help="rig description (default dcc.yaml)")
    ap.add_argument("--state-dir", type=Path, default=None, help="a rig already up")
    ap.add_argument("--wait", type=float, default=60.0, help="seconds per device answer")
    ap.add_argument("--only", action="append", default=[], help="template glob (repeatable)")
    ap.add_argument("--out", type=Path, default=None, help="folder for the reports")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-conformance-"))
    out = args.out or work
    own = args.state_dir is None
    rig_file = args.rig
    if rig_file is None:
        rig_file = work / "dcc.yaml"
        text = RIG.read_text()
        if ZAZ1.exists():
            text += f"pki: {{source: zaz1, keystore: {ZAZ1}}}\n"
        rig_file.write_text(text)
    state = args.state_dir or work / "state"
    if own:
        rig(state, "up", "--rig", str(rig_file))
        wait_joined(state, rig_file, ("esme", "gsme"), 60)
    try:
        cmd = ["conformance", "--rig", str(rig_file), "--wait", str(args.wait)]
        cmd += [f"--only={g}" for g in args.only]
        cmd += ["--json", str(out / "conformance.json"), "--html", str(out / "conformance.html")]
        rig(state, *cmd)
    finally:
        if own:
            rig(state, "down", "--rig", str(rig_file), check=False)
    report(json.loads((out / "conformance.json").read_text()), out)


if __name__ == "__main__":
    main()
