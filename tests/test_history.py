"""Backfill: progress, resuming after an interruption, retrying what the source lacked,
and parsing in worker processes (which may die) with the same results as in one."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from datetime import date, datetime
from pathlib import Path

import pytest

from monitor.detect.lexicon import load_lexicon
from monitor.fetch.client import EdgarClient
from monitor.fetch.filings import list_filings
from monitor.history import Progress
from monitor.models import EASTERN, Company, Filing
from monitor.process import process_filings
from monitor.settings import load_settings
from monitor.store.db import open_store
from tests.conftest import loopback_env
from tests.edgar_server import EdgarTestServer
from tests.test_cli import REPO, run_monitor
from tests.test_serve import read_until

DEFAULTS = REPO / "config/monitor.toml"


def filing(number: int) -> Filing:
    accepted = datetime(2025, 1, number, 16, tzinfo=EASTERN)
    return Filing(
        ticker="NVDA", cik=1045810, company="NVIDIA CORP", form="8-K", accession=f"a-{number}",
        filed=accepted.date(), accepted=accepted, period=None, url="https://x", items="",
    )  # fmt: skip


def test_progress_shows_done_rate_and_time_left() -> None:
    ticks = iter([0.0, 10.0, 20.0, 30.0, 40.0])
    out = io.StringIO()  # not a terminal: a line per tenth done, not a redrawn bar
    progress = Progress(4, stream=out, clock=lambda: next(ticks))
    progress(filing(2), "processed")
    progress(filing(3), "unavailable")
    assert out.getvalue().splitlines() == [
        "backfill [#####               ] 1/4 filings, 0.10/s, ETA 0:00:30: "
        "NVDA 8-K 2025-01-02 processed",
        "backfill [##########          ] 2/4 filings, 0.10/s, ETA 0:00:20: "
        "NVDA 8-K 2025-01-03 unavailable",
    ]


def test_an_interrupted_backfill_picks_up_where_it_stopped(mirror: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")} | {
        "MONITOR_EDGAR_MIRROR": str(mirror),
        "MONITOR_STORE_PATH": str(tmp_path / "monitor.db"),
        "MONITOR_EDGAR_CACHE_DIR": str(tmp_path / "cache"),
        "MONITOR_RUN_WORKERS": "1",
    }
    command = [sys.executable, "-m", "monitor", "backfill", "--since", "2024-06-01"]
    # a shell running the tests in the background ignores SIGINT, and so would the backfill
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        first = subprocess.Popen(
            [*command, "--tickers", "NVDA"], env=env, cwd=REPO, stderr=subprocess.PIPE, text=True
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    read_until(first, " processed")  # one filing stored: stop it like Ctrl-C would
    first.send_signal(signal.SIGINT)
    first.communicate(timeout=60)
    assert first.returncode != 0
    resumed = run_monitor("backfill", "--since", "2024-06-01", "--tickers", "NVDA", env=env)
    assert resumed.returncode == 0, resumed.stderr
    summary = resumed.stderr.splitlines()[-1]
    done_before = int(summary.split("; ")[-1].split()[0])
    processed_now = int(summary.split()[1])
    assert done_before >= 1 and 0 < processed_now < 6  # the rest, not all six again
    listed = run_monitor("trends", "NVDA", "--csv", env=env).stdout.splitlines()
    assert len(listed) == 1 + 8  # header, the mirror's six filings and two earlier baselines


def test_retry_unavailable_fetches_again_what_the_source_lacked(
    edgar_server: EdgarTestServer, tmp_path: Path
) -> None:
    env = loopback_env(edgar_server, tmp_path) | {
        "MONITOR_STORE_PATH": str(tmp_path / "monitor.db")
    }
    window = ("--since", "2025-01-01", "--until", "2025-06-30", "--tickers", "NVDA")
    first = run_monitor("backfill", *window, env=env)
    assert first.returncode == 0, first.stderr
    summary = first.stderr.splitlines()[-1]
    processed = int(summary.split()[1])
    lacking = int(summary.split(" unavailable at the source")[0].split()[-1])
    assert processed > 0 and lacking > 0  # the mirror lacks some of NVIDIA's 8-K documents

    def archive_requests(since: int) -> int:
        return sum("/Archives/" in r.path for r in edgar_server.requests[since:])

    before = len(edgar_server.requests)
    again = run_monitor("backfill", *window, env=env)
    assert again.returncode == 0 and archive_requests(before) == 0
    assert "0 processed" in again.stderr
    assert f"; {processed + lacking} already settled" in again.stderr
    before = len(edgar_server.requests)
    retried = run_monitor("backfill", *window, "--retry-unavailable", env=env)
    assert retried.returncode == 0, retried.stderr
    assert archive_requests(before) >= lacking
    assert f"{lacking} unavailable at the source" in retried.stderr


def test_a_dead_worker_pool_costs_time_not_results(
    mirror: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = {"MONITOR_EDGAR_MIRROR": str(mirror), "MONITOR_EDGAR_CACHE_DIR": str(tmp_path / "c")}
    settings = load_settings(None, env=env, default_path=DEFAULTS)
    lexicon = load_lexicon(settings.lexicon.path)
    nvidia = Company(ticker="NVDA", cik=1045810, name="NVIDIA CORP")
    tables = []
    with EdgarClient(settings.edgar) as client:
        filings = list_filings(client, nvidia, forms=("10-Q", "10-K"), since=date(2024, 6, 1))
        for name, executor in [
            ("alone.db", None),
            ("dead.db", ProcessPoolExecutor(1, initializer=os._exit, initargs=(1,))),
        ]:
            store = open_store(tmp_path / name)
            report = process_filings(client, store, filings, lexicon, executor=executor)
            assert report.processed == 6 and report.failed == []
            assert report.processed + report.unavailable == len(filings)
            tables.append([store.table(t) for t in ("filings", "sections", "findings")])
            store.close()
            if executor is not None:
                executor.shutdown()
    assert tables[0] == tables[1]
    assert "scanning process failed" in caplog.text  # the pool died: scanned in this process
