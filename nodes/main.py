"""Entry point of a node: ``rig-node --config node.json`` (systemd on a Pi, supervisor here)."""

from __future__ import annotations

import sys

from nodes.config import NodeConfig
from nodes.service import NodeService
from rig.runtime import process


def main(argv: list[str] | None = None) -> int:
    return process.run(
        "rig-node",
        __doc__,
        NodeConfig,
        lambda config: config.name,
        lambda config: NodeService(config).run(),
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
