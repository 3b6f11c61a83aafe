"""The entry point every rig process shares: ``PROG --config FILE [--log-level L]``.

It reads the process's config through its typed record (a bad or mismatched file is one
clear line and exit code 2, before anything starts), sets up logfmt logging on stderr
under the component's name, and runs the process's coroutine until it returns.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Protocol, TypeVar

from rig.runtime.logfmt import LogfmtFormatter
from rig.runtime.records import RecordError


class Loadable(Protocol):
    @classmethod
    def load(cls, path: Path) -> Any: ...


C = TypeVar("C", bound=Loadable)


def run(
    prog: str,
    description: str | None,
    config_type: type[C],
    component: Callable[[C], str],
    serve: Callable[[C], Coroutine[Any, Any, Any]],
    argv: list[str] | None = None,
) -> int:
    """Parse the command line, load the config, log as ``component(config)``, ``serve`` it."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--config", required=True, type=Path, help="configuration (JSON)")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    try:
        config = config_type.load(args.config)
    except RecordError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogfmtFormatter(component(config)))
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler])
    asyncio.run(serve(config))
    return 0
