"""The day's CSV digest: one row per warning and per financial signal, rebuilt from the store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from monitor.report.tables import render_records

DIGEST_COLUMNS = (
    "run_date", "ticker", "company", "cik", "form", "filed", "accepted", "accession", "period",
    "section", "category", "severity", "change", "sentence", "url", "figures", "finding_id",
)  # fmt: skip


def write_digest(rows: Sequence[dict[str, object]], run_date: date, out_dir: Path) -> Path:
    """`out_dir/digests/YYYY-MM-DD.csv`, UTF-8 with a BOM-less header even on a quiet day
    (so "nothing new" differs from "did not run"); cells a spreadsheet would run as
    formulas are neutralised."""
    path = out_dir / "digests" / f"{run_date.isoformat()}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    tmp.write_text(render_records(rows, columns=DIGEST_COLUMNS, fmt="csv"), encoding="utf-8")
    tmp.replace(path)
    return path
