"""The store: one SQLite file, WAL, foreign keys, a versioned schema upgraded in place.

Plain SQL through the standard library's sqlite3 (no ORM), written so that the same
statements run on PostgreSQL later. Each filing's results are written in one
transaction that first deletes what an earlier processing of the same filing left, so
processing a filing twice leaves exactly the same rows, and a run that dies mid-way
leaves no half-written filing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from monitor.detect.changes import Comparison, inserted_spans
from monitor.detect.inventory import Quarter, RevenueShare, Signal
from monitor.errors import ConfigError
from monitor.models import Document, Filing, Finding, RiskSummary

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE companies (
        cik INTEGER PRIMARY KEY, ticker TEXT NOT NULL, name TEXT NOT NULL
    );
    CREATE TABLE filings (
        accession TEXT PRIMARY KEY,
        cik INTEGER NOT NULL REFERENCES companies (cik),
        form TEXT NOT NULL, filed TEXT NOT NULL, accepted TEXT NOT NULL, period TEXT,
        url TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN
            ('processed', 'failed', 'skipped', 'unavailable', 'pending', 'given_up')),
        error TEXT, attempts INTEGER NOT NULL DEFAULT 0, reason TEXT,
        lexicon_version TEXT, risk_score INTEGER, compared_with TEXT
    );
    CREATE TABLE sections (
        accession TEXT NOT NULL REFERENCES filings (accession) ON DELETE CASCADE,
        label TEXT NOT NULL, part TEXT, item TEXT NOT NULL, title TEXT NOT NULL,
        start_offset INTEGER NOT NULL, end_offset INTEGER NOT NULL,
        confidence REAL NOT NULL, method TEXT NOT NULL, reason TEXT,
        similarity_cosine REAL, similarity_jaccard REAL,
        PRIMARY KEY (accession, label)
    );
    CREATE TABLE findings (
        accession TEXT NOT NULL REFERENCES filings (accession) ON DELETE CASCADE,
        finding_id TEXT NOT NULL, category TEXT NOT NULL, severity INTEGER NOT NULL,
        score INTEGER NOT NULL, section TEXT, text TEXT NOT NULL, sentence TEXT NOT NULL,
        terms TEXT NOT NULL, start_offset INTEGER NOT NULL, end_offset INTEGER NOT NULL,
        amounts TEXT NOT NULL, dates TEXT NOT NULL, trade_linked INTEGER NOT NULL,
        lexicon_version TEXT NOT NULL, change TEXT, diff TEXT, matched TEXT,
        PRIMARY KEY (accession, start_offset, category)
    );
    CREATE TABLE facts (
        cik INTEGER NOT NULL REFERENCES companies (cik),
        period_start TEXT NOT NULL, period_end TEXT NOT NULL,
        inventory REAL NOT NULL, revenue REAL, cost_of_revenue REAL, write_down REAL,
        inventory_qoq REAL, inventory_yoy REAL, dio REAL, accession TEXT NOT NULL,
        PRIMARY KEY (cik, period_end)
    );
    CREATE TABLE revenue_shares (
        cik INTEGER NOT NULL REFERENCES companies (cik),
        period_start TEXT NOT NULL, period_end TEXT NOT NULL,
        china REAL, taiwan REAL, accession TEXT NOT NULL,
        PRIMARY KEY (cik, period_start, period_end)
    );
    CREATE TABLE signals (
        cik INTEGER NOT NULL REFERENCES companies (cik),
        period_end TEXT NOT NULL, kind TEXT NOT NULL, value REAL NOT NULL,
        threshold REAL NOT NULL, figures TEXT NOT NULL, accession TEXT NOT NULL,
        PRIMARY KEY (cik, period_end, kind)
    );
    CREATE TABLE alerts (
        message_id TEXT PRIMARY KEY, run_date TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'sent')),
        subject TEXT NOT NULL, body TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        error TEXT
    );
    CREATE TABLE runs (
        run_id INTEGER PRIMARY KEY, started TEXT NOT NULL, ended TEXT,
        filings INTEGER NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0,
        errors TEXT
    );
    """,
    """
    CREATE TABLE run_filings (
        run_date TEXT NOT NULL,
        accession TEXT NOT NULL REFERENCES filings (accession) ON DELETE CASCADE,
        PRIMARY KEY (run_date, accession)
    );
    CREATE TABLE company_state (
        cik INTEGER PRIMARY KEY REFERENCES companies (cik), last_success TEXT NOT NULL
    );
    """,
    """
    CREATE TABLE mutes (
        cik INTEGER NOT NULL REFERENCES companies (cik),
        paragraph TEXT NOT NULL, finding_id TEXT NOT NULL, reason TEXT, muted TEXT NOT NULL,
        PRIMARY KEY (cik, paragraph)
    );
    """,
    """
    ALTER TABLE run_filings ADD COLUMN alert TEXT;  -- the Message-ID, '' if nothing to say
    UPDATE run_filings SET alert = '';  -- what earlier versions stored was dealt with
    """,
)
DATA_TABLES = (
    "companies", "filings", "sections", "findings", "facts", "revenue_shares", "signals",
    "alerts", "run_filings", "company_state", "mutes",
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredFinding:
    """A finding as read back, with its change status against the previous filing."""

    accession: str
    finding: Finding
    change: str | None
    diff: dict[str, object] | None
    matched: dict[str, object] | None


class Store:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def close(self) -> None:
        self.connection.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One unit of work: all of it is written, or none of it."""
        with self.connection:
            yield self.connection

    def table(self, name: str) -> list[tuple[object, ...]]:
        """Every row of a data table, in key order (for comparisons and exports)."""
        if name not in DATA_TABLES:
            raise ValueError(f"not a data table: {name}")
        return list(self.connection.execute(f"SELECT * FROM {name} ORDER BY 1, 2, 3"))


def open_store(path: Path) -> Store:
    """Open (creating or upgrading in place) the store at `path`."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(path)
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(f"[store] path {path}: cannot open the database ({exc})") from None
    connection.execute("PRAGMA foreign_keys = ON")
    connection.execute("PRAGMA journal_mode = WAL")
    _migrate(connection, path)
    return Store(connection)


def _migrate(connection: sqlite3.Connection, path: Path) -> None:
    version = int(connection.execute("PRAGMA user_version").fetchone()[0])
    if version > len(MIGRATIONS):
        raise ConfigError(
            f"[store] path {path}: schema version {version} is newer than this monitor "
            f"({len(MIGRATIONS)}); upgrade the monitor"
        )
    for number, script in enumerate(MIGRATIONS[version:], version + 1):
        with connection:
            connection.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")


def record_company(store: Store, *, cik: int, ticker: str, name: str) -> None:
    with store.transaction() as db:
        db.execute(
            "INSERT INTO companies (cik, ticker, name) VALUES (?, ?, ?) "
            "ON CONFLICT (cik) DO UPDATE SET ticker = excluded.ticker, name = excluded.name",
            (cik, ticker, name),
        )


def record_processed(
    store: Store,
    filing: Filing,
    *,
    document: Document,
    risk: RiskSummary,
    comparison: Comparison | None,
    compared_with: Sequence[str] = (),
    run_date: date | None = None,
) -> None:
    """A processed filing with its sections and findings, all in one transaction; with
    `run_date`, linked to that day's daily run (its alert is still to be sent)."""
    changes = {}
    if comparison is not None:
        changes = {(c.finding.start, c.finding.category): c for c in comparison.findings}
    with store.transaction() as db:
        _replace_filing(db, filing, status="processed")
        db.execute(
            "UPDATE filings SET lexicon_version = ?, risk_score = ?, compared_with = ? "
            "WHERE accession = ?",
            (
                risk.lexicon_version,
                risk.risk_score,
                json.dumps(list(compared_with)) if comparison is not None else None,
                filing.accession,
            ),
        )
        similarity = comparison.similarity if comparison else {}
        db.executemany(
            "INSERT INTO sections VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    filing.accession, s.label, s.part, s.item, s.title, s.start, s.end,
                    s.confidence, s.method, s.reason or None,
                    similarity[s.label].cosine if s.label in similarity else None,
                    similarity[s.label].jaccard if s.label in similarity else None,
                )
                for s in {s.label: s for s in document.sections}.values()
            ],
        )  # fmt: skip
        db.executemany(
            "INSERT INTO findings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                _finding_row(filing.accession, f, changes.get((f.start, f.category)))
                for f in risk.findings
            ],
        )
        if run_date is not None:
            db.execute(
                "INSERT INTO run_filings (run_date, accession) VALUES (?, ?) "
                "ON CONFLICT DO UPDATE SET alert = NULL",
                (run_date.isoformat(), filing.accession),
            )


def record_status(
    store: Store,
    filing: Filing,
    *,
    status: str,
    error: str | None = None,
    reason: str | None = None,
    give_up_after: int | None = None,
) -> str:
    """A filing that was not processed (failed, skipped, unavailable, pending); a failure
    that is the `give_up_after`-th is recorded `given_up`. Returns the status recorded."""
    with store.transaction() as db:
        previous = db.execute(
            "SELECT attempts FROM filings WHERE accession = ?", (filing.accession,)
        ).fetchone()
        attempts = (previous[0] if previous else 0) + (status == "failed")
        if status == "failed" and give_up_after is not None and attempts >= give_up_after:
            status = "given_up"
        _replace_filing(db, filing, status=status)
        db.execute(
            "UPDATE filings SET error = ?, reason = ?, attempts = ? WHERE accession = ?",
            (error, reason, attempts, filing.accession),
        )
    return status


def record_facts(
    store: Store,
    cik: int,
    *,
    quarters: Sequence[Quarter],
    shares: Sequence[RevenueShare],
    signals: Sequence[Signal],
) -> None:
    """A company's whole series, replaced in one transaction."""
    with store.transaction() as db:
        for table in ("facts", "revenue_shares", "signals"):
            db.execute(f"DELETE FROM {table} WHERE cik = ?", (cik,))
        db.executemany(
            "INSERT INTO facts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    cik, q.start.isoformat(), q.end.isoformat(), q.inventory.value, q.revenue,
                    q.cost_of_revenue, q.write_down, q.inventory_qoq, q.inventory_yoy, q.dio,
                    q.inventory.accession,
                )
                for q in quarters
            ],
        )  # fmt: skip
        db.executemany(
            "INSERT INTO revenue_shares VALUES (?, ?, ?, ?, ?, ?)",
            [
                (cik, s.start.isoformat(), s.end.isoformat(), s.china, s.taiwan, s.accession)
                for s in shares
            ],
        )
        all_signals = [*(s for q in quarters for s in q.signals), *signals]
        db.executemany(
            "INSERT OR REPLACE INTO signals VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    cik,
                    s.period_end.isoformat(),
                    s.kind,
                    s.value,
                    s.threshold,
                    s.figures,
                    s.accession,
                )
                for s in all_signals
            ],
        )


def read_findings(store: Store, accession: str) -> list[StoredFinding]:
    rows = store.connection.execute(
        "SELECT * FROM findings WHERE accession = ? ORDER BY start_offset, category", (accession,)
    )
    return [_read_finding(row) for row in rows]


def stored_filings(
    store: Store, *, tickers: Sequence[str] | None = None, since: date | None = None
) -> list[Filing]:
    """Filings the store knows (processed, failed or skipped), as Filing values."""
    rows = store.connection.execute(
        "SELECT f.cik, c.ticker, c.name, f.form, f.filed, f.accepted, f.period, f.accession, f.url "
        "FROM filings f JOIN companies c ON c.cik = f.cik "
        "WHERE f.status IN ('processed', 'failed', 'skipped') ORDER BY f.accepted, f.accession"
    )
    wanted = {t.upper() for t in tickers} if tickers else None
    filings = []
    for cik, ticker, name, form, filed, accepted, period, accession, url in rows:
        if wanted is not None and ticker not in wanted:
            continue
        if since is not None and filed < since.isoformat():
            continue
        filings.append(
            Filing(
                cik=cik,
                ticker=ticker,
                company=name,
                form=form,
                filed=date.fromisoformat(filed),
                accepted=datetime.fromisoformat(accepted),
                period=date.fromisoformat(period) if period else None,
                accession=accession,
                url=url,
            )
        )
    return filings


def _replace_filing(db: sqlite3.Connection, filing: Filing, *, status: str) -> None:
    db.execute("DELETE FROM findings WHERE accession = ?", (filing.accession,))
    db.execute("DELETE FROM sections WHERE accession = ?", (filing.accession,))
    db.execute(
        "INSERT INTO companies (cik, ticker, name) VALUES (?, ?, ?) ON CONFLICT (cik) DO NOTHING",
        (filing.cik, filing.ticker, filing.company),
    )
    db.execute(
        "INSERT INTO filings (accession, cik, form, filed, accepted, period, url, status) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (accession) DO UPDATE SET "
        "form = excluded.form, filed = excluded.filed, accepted = excluded.accepted, "
        "period = excluded.period, url = excluded.url, status = excluded.status, "
        "error = NULL, reason = NULL, lexicon_version = NULL, risk_score = NULL",
        (
            filing.accession, filing.cik, filing.form, filing.filed.isoformat(),
            filing.accepted.isoformat(), filing.period.isoformat() if filing.period else None,
            filing.url, status,
        ),
    )  # fmt: skip


def _finding_row(accession: str, finding: Finding, changed: object) -> tuple[object, ...]:
    change = getattr(changed, "change", None)
    diff = getattr(changed, "diff", None)
    matched = getattr(changed, "matched", None)
    diff_json = (
        json.dumps(
            {
                "inserted": list(diff.inserted),
                "deleted": list(diff.deleted),
                "spans": inserted_spans(finding.text, diff),
            }
        )
        if diff
        else None
    )
    matched_json = (
        json.dumps(
            {
                "baseline": matched.baseline,
                "start": matched.start,
                "end": matched.end,
                "similarity": matched.similarity,
            }
        )
        if matched
        else None
    )
    return (
        accession, finding.id, finding.category,
        getattr(changed, "severity", finding.severity), finding.score, finding.section,
        finding.text, finding.sentence, json.dumps(list(finding.terms)), finding.start,
        finding.end, json.dumps(list(finding.amounts)), json.dumps(list(finding.dates)),
        int(finding.trade_linked), finding.lexicon_version, change, diff_json, matched_json,
    )  # fmt: skip


def _read_finding(row: Sequence[object]) -> StoredFinding:
    (accession, finding_id, category, severity, score, section, text, sentence, terms) = row[:9]
    (start, end, amounts, dates, trade_linked, lexicon_version, change, diff, matched) = row[9:]
    finding = Finding(
        id=str(finding_id), category=str(category), severity=int(str(severity)),
        score=int(str(score)), section=str(section) if section is not None else None,
        text=str(text), sentence=str(sentence), terms=tuple(json.loads(str(terms))),
        start=int(str(start)), end=int(str(end)), amounts=tuple(json.loads(str(amounts))),
        dates=tuple(json.loads(str(dates))), trade_linked=bool(trade_linked),
        lexicon_version=str(lexicon_version),
    )  # fmt: skip
    return StoredFinding(
        accession=str(accession),
        finding=finding,
        change=str(change) if change is not None else None,
        diff=json.loads(str(diff)) if diff is not None else None,
        matched=json.loads(str(matched)) if matched is not None else None,
    )


def settled(store: Store, accession: str, retry_unavailable: bool = False) -> bool:
    """Whether a backfill can leave this filing: processed (in its own right, not only as
    a baseline), skipped, given up, or unavailable at the source (unless retried)."""
    row = store.connection.execute(
        "SELECT status, compared_with FROM filings WHERE accession = ?", (accession,)
    ).fetchone()
    if row is None:
        return False
    status, compared_with = row
    if status == "processed":
        return compared_with is not None
    return status in ("skipped", "given_up") or (status == "unavailable" and not retry_unavailable)


def filing_state(store: Store, accession: str) -> tuple[str, int] | None:
    row = store.connection.execute(
        "SELECT status, attempts FROM filings WHERE accession = ?", (accession,)
    ).fetchone()
    return (str(row[0]), int(row[1])) if row else None
