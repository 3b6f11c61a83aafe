"""A conformance run written out: the JSON record and one self-contained HTML page (inline
CSS, no scripts), a summary of counts and one table per SRV family, rows coloured by
outcome."""

from __future__ import annotations

import json
from html import escape
from itertools import groupby
from pathlib import Path

from rig.conformance.run import Result, Run
from rig.runtime.files import write_atomic

FAMILIES = {
    1: "Pricing and tariffs",
    2: "Prepayment",
    3: "Customer and account",
    4: "Reads",
    5: "DCC schedules",
    6: "Device configuration and security",
    7: "Supply and auxiliary loads",
    8: "Installation, inventory and the HAN",
    9: "Customer identification",
    11: "Firmware",
    12: "WAN and pre-notification",
    14: "Gas network data",
}
COLUMNS = (
    ("template", "template"),
    ("srv", "SRV"),
    ("cv", "CV"),
    ("user", "user"),
    ("target", "target"),
    ("use_case", "use case"),
    ("acknowledgement", "ack"),
    ("response_code", "response"),
    ("outcome", "outcome"),
    ("reason", "reason"),
    ("prepared", "prepared first"),
    ("rtds_command", "RTDS command"),
    ("rtds_response", "RTDS response"),
    ("seconds", "s"),
)
CSS = """
body { font: 13px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .4em 0 1em; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #eee; }
tr.answered td { background: #e4f5e4; }
tr.refused td { background: #fdf3d6; }
tr.error td { background: #f9dcdc; }
td.num { text-align: right; }
.small { color: #555; font-size: .9em; }
"""


def write_json(run: Run, path: Path) -> None:
    write_atomic(path, json.dumps(run.to_json(), indent=2) + "\n")


def family_name(family: int) -> str:
    return f"{family} {FAMILIES.get(family, '')}".strip()


def _row(r: Result) -> str:
    cells = []
    for attr, _title in COLUMNS:
        value = getattr(r, attr)
        if attr == "use_case" and r.use_case_name:
            value = f"{r.use_case} {r.use_case_name}"
        elif attr == "prepared":
            value = "; ".join(value)
        css = ' class="num"' if attr == "seconds" else ""
        cells.append(f"<td{css}>{escape(str(value))}</td>")
    return f'<tr class="{escape(r.outcome)}">{"".join(cells)}</tr>'


def html(run: Run) -> str:
    """The run as one HTML page, all it needs inside it."""
    counts = run.counts()
    head = "".join(f"<th>{escape(t)}</th>" for _a, t in COLUMNS)
    summary = "".join(
        f'<tr><td>{escape(k)}</td><td class="num">{v}</td></tr>' for k, v in counts.items()
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>rig conformance: {escape(run.rig)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>rig conformance: {escape(run.rig)}</h1>",
        f'<p class="small">started {escape(run.started)}; templates from '
        f"{escape(run.templates)}</p>",
        '<h2>Summary</h2><table id="summary"><tr><th>count</th><th>n</th></tr>',
        summary,
        "</table>",
    ]
    for family, rows in groupby(run.sorted_results(), key=lambda r: r.family):
        listed = list(rows)
        parts.append(f'<h2 id="family-{family}">{escape(family_name(family))} ({len(listed)})</h2>')
        parts.append(f'<table class="family" data-family="{family}"><tr>{head}</tr>')
        parts.extend(_row(r) for r in listed)
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_html(run: Run, path: Path) -> None:
    write_atomic(path, html(run))
