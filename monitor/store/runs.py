"""Job state in the store: each company's last successful run, the filings each run day
took, the runs themselves, and alert e-mails with their delivery state."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from monitor.store.db import Store


def last_success(store: Store, cik: int) -> datetime | None:
    row = store.connection.execute(
        "SELECT last_success FROM company_state WHERE cik = ?", (cik,)
    ).fetchone()
    return datetime.fromisoformat(row[0]) if row else None


def record_success(store: Store, cik: int, when: datetime) -> None:
    with store.transaction() as db:
        db.execute(
            "INSERT INTO company_state (cik, last_success) VALUES (?, ?) ON CONFLICT (cik) "
            "DO UPDATE SET last_success = excluded.last_success",
            (cik, when.isoformat()),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Outgoing:
    message_id: str
    subject: str
    body: str  # the whole message as RFC 5322 text


def add_alerts(
    store: Store, run_date: date, messages: Sequence[Outgoing], covers: Sequence[tuple[str, str]]
) -> None:
    """Store messages as pending, and mark the (run date, accession) pairs they cover as
    alerted, in one transaction: a run killed before this leaves both to the next run."""
    marker = messages[0].message_id if messages else ""
    with store.transaction() as db:
        db.executemany(
            "INSERT INTO alerts (message_id, run_date, state, subject, body) "
            "VALUES (?, ?, 'pending', ?, ?) ON CONFLICT (message_id) DO NOTHING",
            [(m.message_id, run_date.isoformat(), m.subject, m.body) for m in messages],
        )
        db.executemany(
            "UPDATE run_filings SET alert = ? WHERE run_date = ? AND accession = ?",
            [(marker, day, accession) for day, accession in covers],
        )


def unalerted(store: Store) -> list[tuple[str, str]]:
    """(run date, accession) of filings daily runs processed and no alert covered yet."""
    return [
        (str(day), str(accession))
        for day, accession in store.connection.execute(
            "SELECT run_date, accession FROM run_filings WHERE alert IS NULL ORDER BY 1, 2"
        )
    ]


def pending_alerts(store: Store) -> list[tuple[str, str]]:
    """(message_id, the whole message as RFC 5322 text) of alerts not yet delivered."""
    return [
        (str(m), str(b))
        for m, b in store.connection.execute(
            "SELECT message_id, body FROM alerts WHERE state = 'pending' "
            "ORDER BY run_date, message_id"
        )
    ]


def record_delivery(store: Store, message_id: str, *, error: str | None) -> None:
    with store.transaction() as db:
        db.execute(
            "UPDATE alerts SET attempts = attempts + 1, error = ?, state = ? WHERE message_id = ?",
            (error, "pending" if error else "sent", message_id),
        )


def known_successes(store: Store) -> list[datetime]:
    """Every company's last successful run."""
    return [
        datetime.fromisoformat(str(row[0]))
        for row in store.connection.execute("SELECT last_success FROM company_state")
    ]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord:
    started: datetime  # the run's as-of instant (now, or the end of the replayed day)
    processed: int
    problems: tuple[str, ...]  # empty for a successful run


def record_run(store: Store, run: RunRecord, *, ended: datetime) -> None:
    with store.transaction() as db:
        db.execute(
            "INSERT INTO runs (started, ended, filings, failures, errors) VALUES (?, ?, ?, ?, ?)",
            (
                run.started.astimezone(UTC).isoformat(),
                ended.astimezone(UTC).isoformat(),
                run.processed,
                len(run.problems),
                json.dumps(list(run.problems)),
            ),
        )


def last_good_run(store: Store) -> datetime | None:
    """When the last run without problems ran (its as-of instant)."""
    row = store.connection.execute(
        "SELECT max(started) FROM runs WHERE failures = 0 AND ended IS NOT NULL"
    ).fetchone()
    return datetime.fromisoformat(row[0]) if row and row[0] else None
