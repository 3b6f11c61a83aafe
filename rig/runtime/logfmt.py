"""One structured log line format for every rig process (logfmt).

``2026-11-23T19:21:25.123Z INFO esme wan.connected device=00-DB-... request_id=...``:
readable on a terminal, parseable by ``rig logs`` and by log shippers. Pure
formatting; processes wire it to their own handlers.
"""

from __future__ import annotations

import logging
import time

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


def _quote(value: object) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' "=\n\t'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


class LogfmtFormatter(logging.Formatter):
    """``time LEVEL component event key=value ...``; extras become key=value pairs."""

    def __init__(self, component: str) -> None:
        super().__init__()
        self.component = component

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        ts += f".{int(record.msecs):03d}Z"
        fields = {k: v for k, v in record.__dict__.items() if k not in _RESERVED}
        parts = [ts, record.levelname, self.component, _quote(record.getMessage())]
        parts += [f"{k}={_quote(v)}" for k, v in fields.items()]
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line
