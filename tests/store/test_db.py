"""The store: round trips, idempotent processing, transactions, migrations."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor import history
from monitor.detect.inventory import Fact, Quarter, RevenueShare
from monitor.detect.lexicon import CATEGORIES
from monitor.errors import ConfigError
from monitor.models import Document, Filing, Finding, RiskSummary
from monitor.settings import Settings, load_settings
from monitor.store.db import (
    MIGRATIONS,
    open_store,
    read_findings,
    record_facts,
    record_processed,
)
from monitor.store.trends import trend_table

FILING = Filing(
    cik=9999999, ticker="MINI", company="Mini Widgets Corp.", form="10-K",
    filed=date(2026, 2, 1), accepted=datetime(2026, 2, 1, 21, 5, tzinfo=UTC),
    period=date(2025, 12, 31), accession="0009999999-26-000001",
    url="https://www.sec.gov/Archives/edgar/data/9999999/000999999926000001/mini.htm",
)  # fmt: skip
text = st.text(min_size=1, max_size=60)
findings = st.lists(
    st.builds(
        Finding,
        id=st.text(alphabet="0123456789abcdef", min_size=12, max_size=12),
        category=st.sampled_from(CATEGORIES),
        severity=st.integers(1, 5),
        score=st.integers(0, 100),
        section=st.none() | text,
        text=text,
        sentence=text,
        terms=st.lists(text, max_size=4).map(tuple),
        start=st.integers(0, 10_000),
        end=st.integers(0, 10_000),
        amounts=st.lists(text, max_size=3).map(tuple),
        dates=st.lists(text, max_size=3).map(tuple),
        trade_linked=st.booleans(),
        lexicon_version=st.text(alphabet="0123456789abcdef", min_size=12, max_size=12),
    ),
    max_size=12,
    unique_by=lambda f: (f.start, f.category),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(findings)
def test_what_is_stored_is_what_is_read_back(tmp_path: Path, found: list[Finding]) -> None:
    store = open_store(tmp_path / "round-trip.db")
    risk = RiskSummary(findings=tuple(found), counts={}, risk_score=50, lexicon_version="v")
    document = Document(text="", paragraphs=())
    record_processed(store, FILING, document=document, risk=risk, comparison=None)
    read = read_findings(store, FILING.accession)
    assert sorted((r.finding for r in read), key=lambda f: (f.start, f.category)) == sorted(
        found, key=lambda f: (f.start, f.category)
    )
    store.close()


amounts = st.floats(min_value=0, max_value=1e12, allow_nan=False)
ratios = st.none() | st.floats(min_value=-10, max_value=10, allow_nan=False)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.dates(date(2000, 1, 1), date(2030, 1, 1)), amounts, ratios, ratios),
        max_size=8,
        unique_by=lambda t: t[0],
    ),
    st.none() | st.floats(min_value=0, max_value=1, allow_nan=False),
)
def test_facts_read_back(
    tmp_path: Path, rows: list[tuple[date, float, float | None, float | None]], china: float | None
) -> None:
    store = open_store(tmp_path / "facts.db")
    quarters = [
        Quarter(
            start=end, end=end, inventory_qoq=qoq, inventory_yoy=yoy, dio=qoq,
            inventory=Fact(value=value, start=None, end=end, accession="a", filed=end, concept="c"),
        )
        for end, value, qoq, yoy in rows
    ]  # fmt: skip
    shares = [
        RevenueShare(
            start=date(2024, 1, 1), end=date(2024, 12, 31), china=china, taiwan=None, accession="a"
        )
    ]
    with store.transaction() as db:
        db.execute(
            "INSERT OR IGNORE INTO companies VALUES (1, 'X', 'X')"
        )  # examples share the file
    record_facts(store, 1, quarters=quarters, shares=shares, signals=[])
    stored = store.connection.execute(
        "SELECT period_end, inventory, inventory_qoq, inventory_yoy, dio FROM facts "
        "ORDER BY period_end"
    ).fetchall()
    assert stored == [
        (q.end.isoformat(), q.inventory.value, q.inventory_qoq, q.inventory_yoy, q.dio)
        for q in sorted(quarters, key=lambda q: q.end)
    ]
    assert store.connection.execute("SELECT china FROM revenue_shares").fetchone()[0] == china
    store.close()


def test_a_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    store = open_store(tmp_path / "crash.db")
    with pytest.raises(RuntimeError), store.transaction() as db:
        db.execute("INSERT INTO companies VALUES (1, 'X', 'X')")
        raise RuntimeError("the run died here")
    assert store.table("companies") == []


def test_schema_is_versioned_and_a_newer_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    open_store(path).close()
    open_store(path).close()  # opening again migrates nothing
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    connection.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    connection.close()
    with pytest.raises(ConfigError, match="newer than this monitor"):
        open_store(path)


def settings_for(mirror: Path, path: Path) -> Settings:
    env = {"MONITOR_EDGAR_MIRROR": str(mirror), "MONITOR_STORE_PATH": str(path)}
    return load_settings(
        None, env=env, default_path=Path(__file__).parents[2] / "config/monitor.toml"
    )


def backfilled(tmp_path: Path, mirror: Path, name: str, *, workers: int = 1) -> Path:
    path = tmp_path / name
    store = open_store(path)
    report = history.backfill(
        settings_for(mirror, path),
        store,
        tickers=["NVDA"],
        since=date(2021, 1, 1),
        until=None,
        workers=workers,
    )
    assert report.processed == 17 and report.failed == [] and report.settled == 0
    again = history.backfill(  # resumed: what the store settled is left alone
        settings_for(mirror, path), store, tickers=["NVDA"], since=date(2021, 1, 1), until=None
    )
    assert again.processed == 0 and again.settled == 17 + report.unavailable
    store.close()
    return path


def test_processing_the_nvidia_history_twice_changes_nothing(tmp_path: Path, mirror: Path) -> None:
    """Scanned in two processes or in one, then processed again (rescan): the same rows."""
    once = backfilled(tmp_path, mirror, "once.db")
    twice = backfilled(tmp_path, mirror, "twice.db", workers=2)
    store = open_store(twice)
    redone = history.rescan(
        settings_for(mirror, twice), store, tickers=["NVDA"], since=None, workers=2
    )
    assert redone.processed >= 17 and redone.failed == []
    first = open_store(once)
    for table in (
        "companies",
        "filings",
        "sections",
        "findings",
        "facts",
        "revenue_shares",
        "signals",
    ):
        assert first.table(table) == store.table(table), table
    assert trend_table(first).equals(trend_table(store))
    trends = trend_table(store)
    assert len(trends) == 17
    row = trends[trends["period"] == "2025-04-27"].iloc[0]
    assert row["findings_export_control"] > 0 and row["new_warnings"] > 0
    assert row["inventory"] == 11_333e6 and row["china_revenue_share"] == pytest.approx(
        0.1253, abs=1e-4
    )
