"""One way to print records everywhere: a readable table, JSON or CSV (DESIGN.md flags)."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def render_records(
    records: Sequence[Mapping[str, object]], *, columns: Sequence[str], fmt: str
) -> str:
    if fmt == "json":
        return json.dumps(list(records), indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return _render_csv(records, columns)
    return render_table(records, columns)


def write_output(text: str, out: Path | None) -> None:
    """Standard output, or the file `--out` names."""
    if out is None:
        sys.stdout.write(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")


def render_table(records: Sequence[Mapping[str, object]], columns: Sequence[str]) -> str:
    rows = [[_cell(record.get(column)) for column in columns] for record in records]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _render_csv(records: Sequence[Mapping[str, object]], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow([_csv_cell(record.get(column)) for column in columns])
    return buffer.getvalue()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    return str(value)


def _csv_cell(value: object) -> str:
    """Text cells that a spreadsheet would run as a formula are prefixed with a quote, and
    control characters (line breaks among them) become spaces: one row, one line."""
    text = _cell(value)
    if isinstance(value, str) and text.startswith(FORMULA_START):
        text = "'" + text
    return _CONTROL.sub(" ", text)
