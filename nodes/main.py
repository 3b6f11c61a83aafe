"""Entry point of a node: ``rig-node --config node.json`` (systemd on a Pi, supervisor here)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from nodes.config import NodeConfig
from nodes.service import NodeService
from rig.runtime.logfmt import LogfmtFormatter
from rig.runtime.records import RecordError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rig-node", description=__doc__)
    parser.add_argument("--config", required=True, type=Path, help="node configuration (JSON)")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    try:
        config = NodeConfig.load(args.config)
    except RecordError as exc:
        print(f"rig-node: {exc}", file=sys.stderr)
        return 2
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogfmtFormatter(config.name))
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler])
    asyncio.run(NodeService(config).run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
