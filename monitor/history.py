"""`monitor backfill` and `monitor rescan`: history into the store, alerting nobody.

Resumable: each filing is stored in its own transaction, and a backfill leaves what the
store already settled (processed, skipped; unavailable unless `retry_unavailable`), so
an interrupted backfill run again picks up where it stopped. Documents are fetched in
the main process, one at a time within the rate limit, while a process pool parses and
detects ahead on every core; comparing and storing stay in acceptance order.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from datetime import date
from typing import TextIO

from monitor.detect.lexicon import Lexicon, load_lexicon
from monitor.errors import FetchError, ParseError
from monitor.fetch.client import EdgarClient
from monitor.fetch.filings import list_filings
from monitor.models import Company, Filing
from monitor.pipeline import (
    Window,
    discover_filings,
    record_company_facts,
    select_entries,
)
from monitor.process import ProcessReport, init_scan_worker, process_filings
from monitor.settings import Settings
from monitor.store.db import Store, record_company, settled, stored_filings

logger = logging.getLogger(__name__)


def backfill(
    settings: Settings,
    store: Store,
    *,
    tickers: Sequence[str] | None,
    since: date,
    until: date | None,
    retry_unavailable: bool = False,
    workers: int = 1,
    progress: Callable[[int], Callable[[Filing, str], None]] | None = None,
) -> ProcessReport:
    """Process the companies' filings in the window, oldest first, that the store has not
    settled yet. `progress(total)` gives the callback told of each filing's outcome."""
    entries = select_entries(settings, tickers)
    window = Window(since=since, until=until, forms=settings.watchlist.forms)
    lexicon = load_lexicon(settings.lexicon.path)
    with EdgarClient(settings.edgar) as client:
        discovery = discover_filings(client, entries, window)
        todo = [f for f in discovery.filings if not settled(store, f.accession, retry_unavailable)]
        history: list[Filing] = []  # earlier filings: baselines for the first ones in the window
        for company in {(f.cik, f.ticker, f.company) for f in todo}:
            record_company(store, cik=company[0], ticker=company[1], name=company[2])
            try:
                record_company_facts(client, store, company, settings)
            except (FetchError, ParseError) as exc:
                logger.error("%s: company facts not recorded: %s", company[1], exc)
            listed = Company(ticker=company[1], cik=company[0], name=company[2])
            history += list_filings(client, listed, forms=settings.watchlist.forms, until=since)
        on_done = progress(len(todo)) if progress else None
        with _scan_pool(lexicon, workers if len(todo) > 1 else 1) as executor:
            report = process_filings(
                client, store, todo, lexicon, history=history, executor=executor, on_done=on_done
            )
    report.settled = len(discovery.filings) - len(todo)
    report.failed += discovery.failed
    report.unknown = discovery.unknown
    return report


def rescan(
    settings: Settings,
    store: Store,
    *,
    tickers: Sequence[str] | None,
    since: date | None,
    workers: int = 1,
) -> ProcessReport:
    """Parse and detect again every stored filing (after a lexicon or parser change),
    documents from the on-disk cache; records the new lexicon version, alerts nobody."""
    filings = stored_filings(store, tickers=tickers, since=since)
    lexicon = load_lexicon(settings.lexicon.path)
    with EdgarClient(settings.edgar) as client, _scan_pool(lexicon, workers) as executor:
        return process_filings(client, store, filings, lexicon, executor=executor)


def worker_count(setting: int) -> int:
    """`[run] workers`: 0 means every core."""
    return setting if setting > 0 else (os.cpu_count() or 1)


@contextmanager
def _scan_pool(lexicon: Lexicon, workers: int) -> Iterator[Executor | None]:
    """Processes that parse and detect (none for one worker). They start from a fork
    server, not a fork of this process, whose threads may hold locks."""
    if workers <= 1:
        yield None
        return
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("forkserver"),
        initializer=init_scan_worker,
        initargs=(lexicon,),
    )
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class Progress:
    """Filings done of the total, the rate and the time left, on stderr: one line redrawn
    in place on a terminal; elsewhere (cron mail, service logs) a line per tenth done."""

    def __init__(
        self,
        total: int,
        *,
        stream: TextIO = sys.stderr,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.done, self.stream, self.clock = total, 0, stream, clock
        self.started = clock()
        self.redraw = stream.isatty()
        self.shown_tenth = 0

    def __call__(self, filing: Filing, status: str) -> None:
        self.done += 1
        tenth = self.done * 10 // max(self.total, 1)
        if self.redraw:
            end = "\n" if self.done == self.total else ""
            self.stream.write(f"\r{self.line(filing, status)}\033[K{end}")
        elif tenth > self.shown_tenth or self.done == self.total:
            self.stream.write(self.line(filing, status) + "\n")
        self.shown_tenth = tenth
        self.stream.flush()

    def line(self, filing: Filing, status: str) -> str:
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate else 0.0
        filled = self.done * 20 // max(self.total, 1)
        return (
            f"backfill [{'#' * filled:<20}] {self.done}/{self.total} filings, "
            f"{rate:.2f}/s, ETA {_clock_time(left)}: {filing.ticker} {filing.form} "
            f"{filing.filed} {status}"
        )


def _clock_time(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
