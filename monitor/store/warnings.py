"""What analysts read from the store: the day's warnings (the digest and the alert), and
the mutes that keep a paragraph judged noise out of them."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime

from monitor.errors import UsageError
from monitor.store.db import Store


def warning_rows(store: Store, run_date: date | None) -> list[dict[str, object]]:
    """The day's warnings (new or changed findings of the filings its runs processed)
    and the financial signals those filings carried, as digest rows; with no `run_date`,
    those of every filing that no alert has covered yet."""
    db = store.connection
    where, params = (
        ("r.run_date = ?", [run_date.isoformat()]) if run_date else ("r.alert IS NULL", [])
    )
    findings = db.execute(
        "SELECT r.run_date, f.accession, c.ticker, c.name, c.cik, f.form, f.filed, f.accepted, "
        "f.period, x.section, x.category, x.severity, x.change, x.sentence, f.url, x.amounts, "
        "x.dates, x.finding_id, x.diff, x.text "
        "FROM run_filings r JOIN filings f ON f.accession = r.accession "
        "JOIN companies c ON c.cik = f.cik JOIN findings x ON x.accession = f.accession "
        f"WHERE {where} AND x.change IN ('new', 'changed') "
        "ORDER BY f.accepted, x.start_offset, x.category",
        params,
    ).fetchall()
    signals = db.execute(
        "SELECT r.run_date, f.accession, c.ticker, c.name, c.cik, f.form, f.filed, f.accepted, "
        "f.period, s.kind, s.figures, f.url "
        "FROM run_filings r JOIN filings f ON f.accession = r.accession "
        "JOIN companies c ON c.cik = f.cik "
        "JOIN signals s ON s.cik = f.cik AND s.period_end = f.period "
        f"WHERE {where} ORDER BY f.accepted, s.kind",
        params,
    ).fetchall()
    muted = set(db.execute("SELECT cik, paragraph FROM mutes").fetchall())
    rows: list[dict[str, object]] = []
    for row in findings:
        (day, accession, ticker, name, cik, form, filed, accepted, period, section) = row[:10]
        (category, severity, change, sentence, url, amounts, dates, finding_id, diff) = row[10:19]
        if (cik, paragraph_key(str(row[19]))) in muted:
            continue
        rows.append({
            "run_date": day, "ticker": ticker, "company": name, "cik": cik,
            "form": form, "filed": filed, "accepted": accepted, "accession": accession,
            "period": period, "section": section, "category": category, "severity": severity,
            "change": change, "sentence": sentence, "url": url,
            "figures": "; ".join([*json.loads(amounts), *json.loads(dates)]),
            "finding_id": finding_id, "diff": json.loads(diff) if diff else None,
            "text": row[19],
        })  # fmt: skip
    for (
        day,
        accession,
        ticker,
        name,
        cik,
        form,
        filed,
        accepted,
        period,
        kind,
        figures,
        url,
    ) in signals:
        rows.append({
            "run_date": day, "ticker": ticker, "company": name, "cik": cik,
            "form": form, "filed": filed, "accepted": accepted, "accession": accession,
            "period": period, "section": None, "category": f"signal:{kind}", "severity": None,
            "change": "new", "sentence": figures, "url": url, "figures": figures,
            "finding_id": None, "diff": None,
        })  # fmt: skip
    return rows


def paragraph_key(text: str) -> str:
    """What identifies a paragraph for muting: its words, whatever the spacing."""
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()


def mute_finding(store: Store, finding_id: str, *, reason: str | None, when: datetime) -> list[str]:
    """Silence the paragraph behind `finding_id` for each company whose filings carry it;
    the tickers muted. A finding id no stored filing carries is a `UsageError`."""
    found = store.connection.execute(
        "SELECT DISTINCT f.cik, c.ticker, x.text FROM findings x "
        "JOIN filings f ON f.accession = x.accession JOIN companies c ON c.cik = f.cik "
        "WHERE x.finding_id = ? ORDER BY c.ticker",
        (finding_id,),
    ).fetchall()
    if not found:
        raise UsageError(f"no stored finding has the id {finding_id!r}")
    with store.transaction() as db:
        for cik, _, text in found:
            db.execute(
                "INSERT INTO mutes (cik, paragraph, finding_id, reason, muted) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (cik, paragraph) DO UPDATE SET "
                "reason = excluded.reason, muted = excluded.muted",
                (cik, paragraph_key(str(text)), finding_id, reason, when.isoformat()),
            )
    return sorted({str(ticker) for _, ticker, _ in found})
