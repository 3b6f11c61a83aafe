"""Firmware over the HAN, timed: a signed image fetched block by block on the simulated air.

Runs an in-process air, the hub's OTA server and the ESME's OTA client (nodes.han.ota) and
prints, clean and at 10% loss, the transfer time, bytes/s and blocks/s of the image (one
block per 802.15.4 frame: ``MAX_BLOCK_DATA`` bytes). Run: .venv/bin/python bench/ota_transfer.py
[image bytes, default 4096]
"""

from __future__ import annotations

import asyncio
import math
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from cryptography.hazmat.primitives.asymmetric import ec
from test_han_stack import CHF, ESME, ESME_CODE, Air, _hub, _link, _wait_for_status

from nodes.han.app import HanApp
from nodes.han.ota import MAX_BLOCK_DATA, OtaClient, OtaServer, Outcome
from nodes.roles.firmware import Firmware
from rig.protocol.eui import Eui64
from rig.protocol.firmware import make_image

SIGNER = Eui64.parse("90-B3-D5-1F-30-01-00-01")


async def main(size: int) -> None:
    tmp = Path(tempfile.mkdtemp())
    maker = ec.generate_private_key(ec.SECP256R1())
    async with Air() as air:
        chf, log = await _hub(air, tmp, os.urandom(16))
        esme = air.radio("esme", ESME, tmp)
        await esme.join(15, CHF, _link(ESME_CODE))
        await _wait_for_status(log, ESME, "joined")
        server = OtaServer(HanApp(chf, CHF))
        device = HanApp(esme, ESME)
        for n, loss in enumerate((0.0, 0.1)):
            version = f"{n + 2:08X}"
            # the image's profile is padding that makes it ``size`` bytes, about
            image = make_image(version, maker, SIGNER, {"padding": "x" * max(0, size - 200)})
            server.stage(ESME, image)
            if loss:
                air.medium.apply("loss", ["chf", "esme"], loss, None)
            state = tmp / f"esme-{n}"
            state.mkdir()
            client = OtaClient(
                device, Firmware(state / "firmware.json", "00000001"), maker.public_key()
            )
            started = time.perf_counter()
            result = await client.update(CHF)
            took = time.perf_counter() - started
            air.medium.clear()
            blocks = math.ceil(len(image) / MAX_BLOCK_DATA)
            assert result.outcome is Outcome.VERIFIED, result
            print(
                f"{len(image)} B image, {blocks} blocks of {MAX_BLOCK_DATA} B, "
                f"{loss:.0%} loss: {took:.2f} s, {len(image) / took:.0f} bytes/s, "
                f"{blocks / took:.1f} blocks/s "
                f"(served {server.progress[ESME].served} B in {server.progress[ESME].blocks} "
                "blocks)"
            )
        await esme.close()
        await chf.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 4096))
