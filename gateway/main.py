"""Entry point of the gateway: ``rig-gateway --config gateway.json``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from gateway.config import GatewayConfig
from gateway.service import GatewayService
from rig.runtime.logfmt import LogfmtFormatter
from rig.runtime.records import RecordError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rig-gateway", description=__doc__)
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    try:
        config = GatewayConfig.load(args.config)
    except RecordError as exc:
        print(f"rig-gateway: {exc}", file=sys.stderr)
        return 2
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogfmtFormatter("gateway"))
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler])
    asyncio.run(GatewayService(config).run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
