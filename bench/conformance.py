"""The whole conformance run: every DCC DUIS template (297) through the end-to-end virtual
rig, with `rig conformance`, on two rigs in turn (issue 17's two):

* ``default``: the default virtual rig (rig/description/default.yaml): the rig's own PKI;
  supplier-a import and export supplier (IS, ES) of the ESME, supplier-b gas supplier of
  the GSME, the network operator (ED, GT), an other user (OU);
* ``zaz1``: the same rig on DCC's ZAZ1 identities (../shared/vectors/smki), with
  supplier-a (DCC Boxed's 90-B3-D5-1F-30-01-00-00) as IS, GS and ES responsible for both
  meters, as DCC Boxed's templates have it; no other user (ZAZ1 has none).

    .venv/bin/python bench/conformance.py [--config default|zaz1|both] [--wait S]
        [--only GLOB] [--out DIR]
    .venv/bin/python bench/conformance.py --state-dir DIR --rig FILE   # a rig already up

Prints, for each rig, the counts (answered, refused, error; RTDS command equal / differs;
device answers that decode / differ), the median and total seconds per template, and
where the JSON and HTML reports are. Without --state-dir it brings each rig up on
10.213.91.0/24 (auto ports; --subnet another, beside a test run) and down again.
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

import yaml

ROOT = Path(__file__).resolve().parents[1]
RIG = ROOT / "rig" / "description" / "default.yaml"
ZAZ1 = ROOT.parent / "shared" / "vectors" / "smki" / "zaz1-keystore.json"
SUBNET = "10.213.91.0/24"


def rig_text(config: str, subnet: str = SUBNET) -> str:
    """The default rig as the bench runs it (its own subnet, free ports); ``zaz1``: on the
    ZAZ1 identities, supplier-a IS+GS+ES responsible for both meters, no other user."""
    data = yaml.safe_load(RIG.read_text())
    data["virtual"]["subnet"] = subnet
    data["gateway"].update(duis_port="auto", smki_port="auto")
    data["air"]["zep_port"] = "auto"
    if config == "zaz1":
        if not ZAZ1.exists():
            raise SystemExit(f"the ZAZ1 keystore is not at {ZAZ1}: run --config default")
        data["pki"] = {"source": "zaz1", "keystore": str(ZAZ1)}
        users = {u["name"]: u for u in data["users"]}
        users["supplier-a"]["role"] = ["IS", "GS", "ES"]
        data["users"] = [u for name, u in users.items() if name != "other-user"]
        for node in data["nodes"]:
            if node["role"] in ("esme", "gsme"):
                node["supplier"] = "supplier-a"
    return yaml.safe_dump(data, sort_keys=False)


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


def run(config: str, args: argparse.Namespace, work: Path) -> None:
    out = (args.out or work) / config
    out.mkdir(parents=True, exist_ok=True)
    own = args.state_dir is None
    rig_file = args.rig
    if rig_file is None:
        rig_file = work / f"{config}.yaml"
        rig_file.write_text(rig_text(config, args.subnet))
    state = args.state_dir or work / f"state-{config}"
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
    print(f"--- {config} rig ---")
    report(json.loads((out / "conformance.json").read_text()), out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", choices=("default", "zaz1", "both"), default="both")
    ap.add_argument("--rig", type=Path, default=None, help="rig description (with --state-dir)")
    ap.add_argument("--state-dir", type=Path, default=None, help="a rig already up")
    ap.add_argument("--wait", type=float, default=60.0, help="seconds per device answer")
    ap.add_argument("--only", action="append", default=[], help="template glob (repeatable)")
    ap.add_argument("--out", type=Path, default=None, help="folder for the reports")
    ap.add_argument("--subnet", default=SUBNET, help=f"the rigs' subnet (default {SUBNET})")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-conformance-"))
    configs = ["default", "zaz1"] if args.config == "both" else [args.config]
    if args.state_dir is not None:
        configs = configs[:1]
    for config in configs:
        run(config, args, work)


if __name__ == "__main__":
    main()
