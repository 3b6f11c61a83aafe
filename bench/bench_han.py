"""HAN numbers on the simulated air, beside the physical expectation.

Runs an in-process air and two sim radios (CHF and ESME) and prints: join time,
per-hop latency (one MAC frame: transmit to delivery, airtime included), the time
and fragment count of a 1500-byte tunnel payload (clean and at 10% loss), and
air throughput in frames per second. Run: .venv/bin/python bench/bench_han.py
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_han_stack import CHF, ESME, ESME_CODE, Air, _hub, _link

from nodes.radio.api import ApsMessage
from nodes.radio.sim.network import block_size
from rig.protocol.zigbee import aps, mac


async def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    async with Air() as air:
        chf, _log = await _hub(air, tmp, os.urandom(16))
        esme = air.radio("esme", ESME, tmp)
        got: asyncio.Queue[tuple[float, ApsMessage]] = asyncio.Queue()

        async def on(m: ApsMessage) -> None:
            await got.put((time.perf_counter(), m))

        esme.on_message(on)
        t0 = time.perf_counter()
        await esme.join(15, CHF, _link(ESME_CODE))
        print(
            "join (scan, associate, transport key, announce): "
            f"{(time.perf_counter() - t0) * 1000:.0f} ms"
        )
        await asyncio.sleep(0.3)

        hops = []
        for _ in range(50):
            t0 = time.perf_counter()
            await chf.send(ApsMessage(ESME, 0x0704, b"x" * 40))
            at, _m = await got.get()
            hops.append((at - t0) * 1000)
        airtime = mac.airtime_us(127) / 1000
        print(
            "per-hop latency, one APS data frame (40 B payload): "
            f"median {statistics.median(hops):.2f} ms, "
            f"p95 {sorted(hops)[int(len(hops) * 0.95)]:.2f} ms "
            f"(physical: 4-8 ms; airtime of a full frame {airtime:.2f} ms)"
        )
        payload = os.urandom(1507)
        frags = len(aps.fragments(payload, block_size(secured=True)))
        for loss in (0.0, 0.1):
            if loss:
                air.medium.apply("loss", ["chf", "esme"], loss, None)
            times = []
            frames0, t_all = air.medium.frames, time.perf_counter()
            for _ in range(10):
                t0 = time.perf_counter()
                await chf.send(ApsMessage(ESME, 0x0704, payload))
                await got.get()
                times.append((time.perf_counter() - t0) * 1000)
            rate = (air.medium.frames - frames0) / (time.perf_counter() - t_all)
            print(
                f"1500-byte GBCS tunnel message at {loss:.0%} loss: {frags} APS fragments, "
                f"median {statistics.median(times):.0f} ms, max {max(times):.0f} ms; "
                f"air {rate:.0f} frames/s"
            )
        air.medium.clear()
        busy = air.medium.airtime_s
        print(
            f"air: {air.medium.frames} frames, {busy:.2f} s of airtime at 250 kbit/s, "
            f"{air.medium.lost} lost to the model"
        )
        await esme.close()
        await chf.close()


if __name__ == "__main__":
    asyncio.run(main())
