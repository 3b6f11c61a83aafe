"""4.1.1 (ECS17b) through the whole virtual rig: DUIS in, GBCS over WAN and HAN, DUIS out.

Sequential: p50/p99 end-to-end latency (POST to decoded answer) and the mean time between
hops from the gateway's traces. Concurrent: requests/s with W users' worth of parallel
requests, and the p99 at that load. Run: python bench/bench_e2e.py [--n 40] [--workers 4]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path

from rig.dccuser.client import DccUser
from rig.dccuser.tasks import trace_of
from rig.protocol.eui import Eui64
from rig.state import StateDir

RIG = Path(__file__).resolve().parents[1] / "tests" / "rigs" / "dcc.yaml"
ESME = Eui64.parse("00-DB-12-34-56-78-90-A0")
BIN = Path(sys.executable).parent


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


async def one(user: DccUser) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = await user.send("4.1.1", ESME, wait=30)
    assert out.response_code == "I0", out
    return (time.perf_counter() - t0) * 1000, out.request_id


async def run(state: Path, n: int, workers: int) -> None:
    user = DccUser.from_state(state, "supplier-a")
    for _ in range(3):
        await one(user)  # warm up
    seq = [await one(user) for _ in range(n)]
    lat = [ms for ms, _ in seq]
    print(f"sequential 4.1.1 x{n}: p50 {pct(lat, 50):.1f} ms  p99 {pct(lat, 99):.1f} ms")
    gaps: dict[str, list[float]] = defaultdict(list)
    for _, rid in seq:
        hops = trace_of(StateDir.open(state), rid)["hops"]
        for a, b in itertools.pairwise(hops):
            gaps[f"{a['hop']} -> {b['hop']}"].append((b["at"] - a["at"]) * 1000)
    for name, values in gaps.items():
        print(f"  {name:34} mean {statistics.mean(values):6.1f} ms")
    t0 = time.perf_counter()
    results: list[float] = []

    async def worker() -> None:
        for _ in range(n // workers):
            results.append((await one(user))[0])

    await asyncio.gather(*(worker() for _ in range(workers)))
    took = time.perf_counter() - t0
    print(
        f"concurrent ({workers} in flight) x{len(results)}: {len(results) / took:.1f} requests/s"
        f"  p50 {pct(results, 50):.1f} ms  p99 {pct(results, 99):.1f} ms"
    )


def with_rig(work: Callable[[Path], Awaitable[None]], name: str) -> None:
    """Up the end-to-end rig in a state folder of its own, run ``work`` on it, then down."""
    state = Path(tempfile.mkdtemp(prefix=f"bench-{name}-")) / "state"
    env = {**os.environ, "RIG_STATE_DIR": str(state)}
    subprocess.run([BIN / "rig", "up", "--rig", RIG], check=True, env=env, capture_output=True)
    try:
        time.sleep(3)
        asyncio.run(work(state))
    finally:
        subprocess.run([BIN / "rig", "down", "--rig", RIG], env=env, capture_output=True)


def bench_main(
    run: Callable[[Path, int, int], Awaitable[None]], name: str, n: int, workers: int
) -> None:
    """``--n`` and ``--workers`` from the command line, then ``run`` on a rig of its own."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=n)
    ap.add_argument("--workers", type=int, default=workers)
    args = ap.parse_args()
    with_rig(lambda state: run(state, args.n, args.workers), name)


def main() -> None:
    bench_main(run, "e2e", 40, 4)


if __name__ == "__main__":
    main()
