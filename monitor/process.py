"""Processing filings: fetch, parse, detect, compare with the earlier comparable filings,
store, one filing at a time in acceptance order, each in its own transaction.

Parsing and detection are pure, so they may run ahead in worker processes (an executor
passed in); fetching stays in the calling process, within the rate limit, and so do the
comparisons and the store, in order.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import BrokenExecutor, Executor, Future
from dataclasses import dataclass, field
from datetime import date

from monitor.detect.changes import Baseline, choose_baselines, compare_filings
from monitor.detect.export_risk import find_export_risk
from monitor.detect.lexicon import Lexicon
from monitor.errors import FetchError, NotFoundError, ParseError, ThrottledError
from monitor.fetch.client import EdgarClient
from monitor.models import Document, Filing, RiskSummary
from monitor.parse.document import parse_document
from monitor.store.db import Store, filing_state, record_processed, record_status

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # a filing that failed this often is given up (and reported that once)


@dataclass(kw_only=True)
class ProcessReport:
    processed: int = 0
    skipped: int = 0
    unavailable: int = 0
    failed: list[str] = field(default_factory=list)
    troubled: set[str] = field(default_factory=set)  # tickers of the failed filings
    pending: int = 0
    accessions: list[str] = field(default_factory=list)  # processed in this call
    settled: int = 0  # already in the store: left alone by a resumed backfill
    unknown: list[str] = field(default_factory=list)  # tickers EDGAR does not know


def process_filings(
    client: EdgarClient,
    store: Store,
    filings: Sequence[Filing],
    lexicon: Lexicon,
    *,
    history: Sequence[Filing] = (),
    executor: Executor | None = None,
    on_done: Callable[[Filing, str], None] | None = None,
    run_date: date | None = None,
) -> ProcessReport:
    """Fetch, parse, detect, compare with the earlier comparable filings, store: one
    filing at a time, in acceptance order, each in its own transaction.

    `history` lists the companies' earlier filings: a baseline that is not among
    `filings` is fetched and processed too, silently, and kept in the store. With an
    `executor` (processes started with `init_scan_worker`), parsing and detection run
    ahead of the comparisons on every core; fetching stays here, within the rate limit.
    `on_done(filing, status)` hears of each filing's outcome (a progress bar). A daily
    run passes its `run_date`: each filing is linked to it in the same transaction that
    stores it, so a run killed before its alert leaves the alert to the next run.
    A baseline that cannot be fetched now fails the filing (it is retried): compared
    without it, what the filing repeats would look new.
    """
    report = ProcessReport()
    ordered = sorted(filings, key=lambda f: (f.accepted, f.accession))
    known = {f.accession: f for f in (*history, *ordered)}
    scanned = _Baselines()

    def baseline(filing: Filing) -> tuple[Document, RiskSummary] | None:
        state = filing_state(store, filing.accession)
        if filing.accession not in scanned and state is not None and state[0] != "processed":
            return None  # known to be unavailable, failed or skipped
        if filing.accession not in scanned:  # not among `filings`, or no longer kept
            try:
                scanned[filing.accession] = scan_document(
                    client.get_document(filing.url), filing, lexicon
                )
            except (NotFoundError, ParseError) as exc:  # for good: compare without it
                logger.warning(
                    "%s %s: baseline not available (%s)", filing.ticker, filing.accession, exc
                )
                scanned[filing.accession] = None
            else:
                if state is None:
                    document, risk = scanned[filing.accession]  # type: ignore[misc]
                    record_processed(store, filing, document=document, risk=risk, comparison=None)
        return scanned[filing.accession]

    outcomes = _scan_ahead(client, ordered, lexicon, executor)
    for number, (filing, outcome) in enumerate(outcomes, 1):
        try:
            status = _process_one(store, filing, outcome, report, known, baseline, run_date)
        except ThrottledError as exc:  # while fetching a baseline
            status, outcome = "pending", exc
        if status == "pending":  # EDGAR throttles: leave this one and the rest for next run
            for left in ordered[number:]:
                record_status(store, left, status="pending", error=str(outcome))
            report.pending = len(ordered) - number + 1
            break
        if status == "processed":
            assert not isinstance(outcome, Exception)
            scanned.keep(filing, outcome)
            logger.info(
                "%d/%d %s %s %s: %d finding(s)",
                number, len(ordered), filing.ticker, filing.form, filing.accession,
                len(outcome[1].findings),
            )  # fmt: skip
        if on_done is not None:
            on_done(filing, status)
    return report


Scanned = tuple[Document, RiskSummary]


def _process_one(
    store: Store,
    filing: Filing,
    outcome: Scanned | Exception,
    report: ProcessReport,
    known: dict[str, Filing],
    baseline: Callable[[Filing], Scanned | None],
    run_date: date | None,
) -> str:
    """Compare and store one scanned filing (or record why not); returns its status."""
    if isinstance(outcome, NotFoundError):
        record_status(store, filing, status="unavailable", reason=str(outcome))
        report.unavailable += 1
        return "unavailable"
    if isinstance(outcome, ThrottledError):
        record_status(store, filing, status="pending", error=str(outcome))
        return "pending"
    if isinstance(outcome, FetchError | ParseError):
        return _failed(store, filing, str(outcome), report)
    if isinstance(outcome, Exception):
        raise outcome
    document, risk = outcome
    if filing.is_amendment and any("Risk Factors) section found" in p for p in document.problems):
        record_status(store, filing, status="skipped", reason="; ".join(document.problems))
        report.skipped += 1
        return "skipped"
    try:
        baselines = [
            (b, found)
            for b in choose_baselines(filing, list(known.values()))
            if (found := baseline(b)) is not None
        ]
    except ThrottledError as exc:
        record_status(store, filing, status="pending", error=f"a baseline: {exc}")
        raise
    except FetchError as exc:  # compared without it, old news would look new: retry later
        return _failed(store, filing, f"a baseline: {exc}", report)
    comparison = compare_filings(
        document,
        risk,
        [
            Baseline(label=f"{b.form} {b.accession}", document=found[0], risk=found[1])
            for b, found in baselines
        ],
    )
    record_processed(
        store, filing, document=document, risk=risk, comparison=comparison,
        compared_with=[b.accession for b, _ in baselines], run_date=run_date,
    )  # fmt: skip
    report.processed += 1
    report.accessions.append(filing.accession)
    return "processed"


def _failed(store: Store, filing: Filing, error: str, report: ProcessReport) -> str:
    """Record a failure; the MAX_ATTEMPTS-th is the last (`given_up`, reported once)."""
    status = record_status(store, filing, status="failed", error=error, give_up_after=MAX_ATTEMPTS)
    given_up = f"given up after {MAX_ATTEMPTS} attempts: " if status == "given_up" else ""
    report.failed.append(f"{filing.ticker} {filing.accession}: {given_up}{error}")
    report.troubled.add(filing.ticker)
    return "failed"


class _Baselines(dict[str, Scanned | None]):
    """Scanned filings kept as baselines for later ones: per company the newest of each
    form and the 8-K/6-Ks of the last 90 days, so a long backfill holds a few documents,
    not all of them (one dropped and needed after all is scanned again from the cache)."""

    def __init__(self) -> None:
        super().__init__()
        self.kept: dict[str, Filing] = {}

    def keep(self, filing: Filing, scanned: Scanned) -> None:
        for earlier in [f for f in self.kept.values() if f.cik == filing.cik]:
            if earlier.form in ("8-K", "6-K"):
                stale = (filing.filed - earlier.filed).days > 90
            else:
                stale = earlier.form == filing.form
            if stale:
                self.pop(earlier.accession, None)
                del self.kept[earlier.accession]
        self[filing.accession] = scanned
        self.kept[filing.accession] = filing


def _scan_ahead(
    client: EdgarClient,
    ordered: Sequence[Filing],
    lexicon: Lexicon,
    executor: Executor | None,
) -> Iterator[tuple[Filing, Scanned | Exception]]:
    """Each filing with its parsed document and findings, or the error that stopped it,
    in order. With an executor, up to two filings per core are fetched and scanning ahead;
    after EDGAR throttles, nothing more is fetched."""
    if executor is None:
        for filing in ordered:
            try:
                yield filing, scan_document(client.get_document(filing.url), filing, lexicon)
            except (FetchError, ParseError) as exc:
                yield filing, exc
        return
    ahead: deque[tuple[Filing, bytes, Future[Scanned]] | tuple[Filing, FetchError]] = deque()
    depth = 2 * (os.cpu_count() or 1)
    queue = list(reversed(ordered))
    throttled = False
    while True:
        while queue and not throttled and len(ahead) < depth:
            upcoming = queue.pop()
            try:
                data = client.get_document(upcoming.url)
            except FetchError as exc:
                ahead.append((upcoming, exc))
                throttled = isinstance(exc, ThrottledError)
                continue
            ahead.append((upcoming, data, _submit(executor, data, upcoming, lexicon)))
        if not ahead:
            return
        item = ahead.popleft()
        if len(item) == 2:
            yield item
            continue
        filing, data, future = item
        try:
            yield filing, future.result()
        except ParseError as exc:
            yield filing, exc
        except BrokenExecutor as exc:  # a worker died (killed, out of memory): scan here
            logger.error("%s: scanning process failed (%s); scanning in this one", filing, exc)
            try:
                yield filing, scan_document(data, filing, lexicon)
            except ParseError as parse_error:
                yield filing, parse_error


def _submit(executor: Executor, data: bytes, filing: Filing, lexicon: Lexicon) -> Future[Scanned]:
    try:
        return executor.submit(_scan_in_worker, data, filing)
    except BrokenExecutor:  # the pool is gone (logged once its first result failed)
        done: Future[Scanned] = Future()
        try:
            done.set_result(scan_document(data, filing, lexicon))
        except ParseError as exc:
            done.set_exception(exc)
        return done


def scan_document(data: bytes, filing: Filing, lexicon: Lexicon) -> Scanned:
    document = parse_document(data, url=filing.url, source=filing.accession)
    return document, find_export_risk(document, lexicon)


_worker_lexicon: list[Lexicon] = []  # set once in each scanning process


def init_scan_worker(lexicon: Lexicon) -> None:
    _worker_lexicon[:] = [lexicon]


def _scan_in_worker(data: bytes, filing: Filing) -> Scanned:
    return scan_document(data, filing, _worker_lexicon[0])
