"""Entry point of the gateway: ``rig-gateway --config gateway.json``."""

from __future__ import annotations

import sys

from gateway.config import GatewayConfig
from gateway.service import GatewayService
from rig.runtime import process


def main(argv: list[str] | None = None) -> int:
    return process.run(
        "rig-gateway",
        __doc__,
        GatewayConfig,
        lambda _config: "gateway",
        lambda config: GatewayService(config).run(),
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
