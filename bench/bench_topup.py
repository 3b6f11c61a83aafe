"""2.2 Top Up Device (CS01a) through the whole virtual rig: a UTRN made with the supplier's
prepayment key, DUIS in, GBCS over WAN and HAN, the meter's check and credit, DUIS out.

Sequential: p50/p99 latency of a top-up (POST to the meter's answer, read). Concurrent:
top-ups/s with W in flight (within the meter's window of 5 UTRN counters), and the p99 at
that load. Last, the balance read by 4.18 shows every top-up applied exactly once.
Run: python bench/bench_topup.py [--n 30] [--workers 3]
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bench_e2e import ESME, bench_main, pct

from rig.dccuser.client import DccUser


async def one(user: DccUser) -> float:
    t0 = time.perf_counter()
    out = await user.top_up(ESME, pounds=1.0, wait=30)
    assert out.response_code == "I0" and out.values.get("result") == 0, out
    return (time.perf_counter() - t0) * 1000


async def balance(user: DccUser) -> int:
    out = await user.send("4.18", ESME, wait=30)
    return int(out.values["meter_balance_millipence"])


async def run(state: Path, n: int, workers: int) -> None:
    user = DccUser.from_state(state, "supplier-a")
    assert (await user.send("7.2", ESME, wait=30)).response_code == "I0"  # no load: exact
    before = await balance(user)
    await one(user)  # warm up
    lat = [await one(user) for _ in range(n)]
    print(f"sequential top-up x{n}: p50 {pct(lat, 50):.1f} ms  p99 {pct(lat, 99):.1f} ms")
    results: list[float] = []

    async def worker() -> None:
        for _ in range(n // workers):
            results.append(await one(user))

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    took = time.perf_counter() - t0
    print(
        f"concurrent ({workers} in flight) x{len(results)}: {len(results) / took:.1f} top-ups/s"
        f"  p50 {pct(results, 50):.1f} ms  p99 {pct(results, 99):.1f} ms"
    )
    added = (await balance(user)) - before
    applied = 1 + n + len(results)
    print(f"balance: +{added / 1000:.0f} p for {applied} top-ups of £1 ({applied * 100} p due)")


def main() -> None:
    bench_main(run, "topup", 30, 3)


if __name__ == "__main__":
    main()
