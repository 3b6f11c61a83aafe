"""Registration with the simulated air's control API, so the air knows the radio by name.

The air names radios in captures and fault injection (loss between ``chf`` and
``esme``) by what they register: name, EUI-64, ZEP port and channel.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp

from rig.protocol.eui import Eui64

log = logging.getLogger("nodes.radio")

ATTEMPTS = 20
RETRY_S = 0.25


async def register(control: str, name: str, eui: Eui64, port: int, channel: int) -> None:
    """POST the radio to ``{control}/radios``, retrying while the air starts; warn if never."""
    body = {"name": name, "eui": eui.duis, "port": port, "channel": channel}
    for attempt in range(ATTEMPTS):
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.post(
                    f"{control}/radios", json=body, timeout=aiohttp.ClientTimeout(total=2)
                ) as rsp,
            ):
                rsp.raise_for_status()
                return
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            if attempt == ATTEMPTS - 1:
                log.warning("radio.unregistered", extra={"device": eui.duis, "error": str(exc)})
            await asyncio.sleep(RETRY_S)
