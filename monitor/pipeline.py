"""Wiring of the stages: fetch → parse → detect → store → report.

Discovery (which of the watchlist's filings fall in a window), the job lock, company
facts, and the one-document commands (scan, diff, facts). Processing filings is in
`monitor.process`; the jobs that drive it are `monitor.daily` (run, replay, serve's
job) and `monitor.history` (backfill, rescan); every job takes `job_lock` first.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from monitor.detect.changes import Baseline, Comparison, compare_filings
from monitor.detect.export_risk import find_export_risk
from monitor.detect.inventory import (
    Quarter,
    RevenueShare,
    Signal,
    as_filed_series,
    china_share_signals,
    quarterly_series,
)
from monitor.detect.lexicon import Lexicon, load_lexicon
from monitor.errors import (
    ConfigError,
    FetchError,
    MonitorError,
    NotFoundError,
    ParseError,
    ThrottledError,
    UnknownTickerError,
)
from monitor.fetch.client import EdgarClient
from monitor.fetch.filings import list_filings, load_ticker_map, newest_first, resolve_company
from monitor.models import SEC_DATA, Company, Document, Filing, RiskSummary
from monitor.parse.document import MAX_DOCUMENT_BYTES, parse_document
from monitor.parse.xbrl import geographic_revenue
from monitor.settings import Settings
from monitor.store.db import (
    Store,
    record_facts,
)
from monitor.watchlist import WatchlistEntry, load_watchlist

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILURES, EXIT_CONFIG, EXIT_LOCKED = 0, 1, 2, 3


@dataclass(kw_only=True)
class Discovery:
    """Filings found, and what went wrong per company (the run goes on regardless)."""

    filings: list[Filing] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)  # the source lacks the company
    failed: list[str] = field(default_factory=list)  # fetch errors, to retry next run
    unknown: list[str] = field(default_factory=list)  # tickers EDGAR does not know
    troubled: set[str] = field(default_factory=set)  # tickers in `failed`: not moved on

    def fail(self, ticker: str, problem: str) -> None:
        self.failed.append(f"{ticker}: {problem}")
        self.troubled.add(ticker)

    @property
    def exit_status(self) -> int:
        if self.unknown:
            return EXIT_CONFIG
        return EXIT_FAILURES if self.failed else EXIT_OK


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    since: date | None = None
    until: date | None = None
    forms: tuple[str, ...] = ()
    amendments: bool = True


def select_entries(settings: Settings, tickers: Sequence[str] | None) -> tuple[WatchlistEntry, ...]:
    """The watchlist, or the given tickers (keeping their watchlist CIK and note if listed)."""
    if not tickers:
        return load_watchlist(settings.watchlist.path)
    listed: dict[str, WatchlistEntry] = {}
    if settings.watchlist.path.exists():
        listed = {e.ticker: e for e in load_watchlist(settings.watchlist.path)}
    wanted = dict.fromkeys(t.strip().upper() for t in tickers if t.strip())
    return tuple(listed.get(t, WatchlistEntry(ticker=t)) for t in wanted)


def discover_filings(
    client: EdgarClient, entries: Sequence[WatchlistEntry], window: Window
) -> Discovery:
    discovery = Discovery()
    companies = _resolve_companies(client, entries, discovery)
    for number, company in enumerate(companies):
        try:
            discovery.filings += list_filings(
                client,
                company,
                forms=window.forms,
                since=window.since,
                until=window.until,
                amendments=window.amendments,
            )
        except NotFoundError as exc:
            message = (
                f"{company.ticker} (CIK {company.cik10}): "
                f"no filing history at the source ({exc.url})"
            )
            logger.warning("%s; skipping it, the others go on", message)
            discovery.unavailable.append(message)
        except ThrottledError as exc:
            left = [c.ticker for c in companies[number:]]
            logger.error("EDGAR is throttling: %s; stopping, left for the next run: %s", exc, left)
            for ticker in left:
                discovery.fail(ticker, "not fetched, EDGAR throttled this run")
            break
        except FetchError as exc:
            logger.error("%s (CIK %s): %s", company.ticker, company.cik10, exc)
            discovery.fail(company.ticker, str(exc))
    discovery.filings = newest_first(discovery.filings)
    return discovery


class LockError(MonitorError):
    """Another job holds the lock (exit status 3)."""


@contextmanager
def job_lock(store_path: Path) -> Iterator[None]:
    """One job at a time on this machine and store: run, backfill, rescan and serve share it.
    The holder writes its process id, start time and command into the lock file, so a job
    kept out can say which job holds it (and since when: a hung one shows)."""
    lock_path = store_path.with_name(store_path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = " ".join(handle.read(400).split())
            raise LockError(
                f"another monitor job holds {lock_path}"
                f"{f' ({holder})' if holder else ''}; this one changes nothing and exits"
            ) from None
        try:
            handle.truncate(0)
            started = datetime.now(UTC).isoformat(timespec="seconds")
            job = sys.argv[1] if len(sys.argv) > 1 else "job"
            handle.write(f"pid {os.getpid()}, monitor {job}, since {started}\n")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _resolve_companies(
    client: EdgarClient, entries: Sequence[WatchlistEntry], discovery: Discovery
) -> list[Company]:
    ticker_map = {}
    if any(entry.cik is None for entry in entries):
        try:
            ticker_map = load_ticker_map(client)
        except FetchError as exc:
            logger.error("cannot map tickers to CIKs: %s", exc)
            for entry in entries:
                if entry.cik is None:
                    discovery.fail(entry.ticker, str(exc))
            entries = [e for e in entries if e.cik is not None]
    companies = []
    for entry in entries:
        try:
            companies.append(resolve_company(entry, ticker_map))
        except UnknownTickerError as exc:
            logger.error("%s", exc)
            discovery.unknown.append(entry.ticker)
    return companies


def scan_file(path: Path, *, lexicon_path: Path) -> tuple[Document, RiskSummary]:
    """Parse one document from disk (a primary document or a full-submission .txt)
    and find its export-risk and inventory warnings."""
    return _scan(path, load_lexicon(lexicon_path))


def diff_files(
    old_path: Path, new_path: Path, *, also: Sequence[Path] = (), lexicon_path: Path
) -> tuple[Document, Document, Comparison]:
    """Compare a filing with an earlier comparable one (and any extra baselines)."""
    lexicon = load_lexicon(lexicon_path)
    scanned = [_scan(path, lexicon) for path in (old_path, *also, new_path)]
    baselines = [
        Baseline(label=_label(document, path), document=document, risk=risk)
        for path, (document, risk) in zip((old_path, *also), scanned[:-1], strict=True)
    ]
    new_document, new_risk = scanned[-1]
    return scanned[0][0], new_document, compare_filings(new_document, new_risk, baselines)


def _scan(path: Path, lexicon: Lexicon) -> tuple[Document, RiskSummary]:
    try:
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:  # refused before it is read into memory
            raise ParseError(
                f"{path}: the document is {size // 2**20} MB, over the "
                f"{MAX_DOCUMENT_BYTES // 2**20} MB limit for one filing document"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the file ({exc.strerror})") from None
    document = parse_document(data, url=canonical_url_of(path), source=str(path))
    return document, find_export_risk(document, lexicon)


def _label(document: Document, path: Path) -> str:
    period = document.period.isoformat() if document.period else "?"
    return f"{document.form or '?'} {period} ({path.name})"


@dataclass(kw_only=True)
class FactsTable:
    company: Company
    quarters: list[Quarter]
    shares: list[RevenueShare]
    signals: list[Signal]  # china_share_pp signals (quarter signals sit on their quarter)
    problems: list[str] = field(default_factory=list)


def facts_table(settings: Settings, ticker: str) -> FactsTable:
    """A company's quarterly inventory series and China revenue shares, with signals."""
    (entry,) = select_entries(settings, [ticker])
    with EdgarClient(settings.edgar) as client:
        ticker_map = load_ticker_map(client) if entry.cik is None else {}
        company = resolve_company(entry, ticker_map)
        url = f"{SEC_DATA}/api/xbrl/companyfacts/CIK{company.cik10}.json"
        table = FactsTable(company=company, quarters=[], shares=[], signals=[])
        try:
            quarters = _series(client, url, settings)
        except NotFoundError:  # a warning, like any document the source lacks
            table.problems.append(f"no company facts at the source ({url})")
            return table
        table.quarters = quarters
        if quarters:
            table.shares = _revenue_shares(client, company, quarters[0].start, table.problems)
    table.signals = china_share_signals(table.shares, settings.signals)
    return table


def _revenue_shares(
    client: EdgarClient,
    company: Company,
    since: date,
    problems: list[str],
    *,
    until: date | None = None,
) -> list[RevenueShare]:
    """China/Taiwan shares from each periodic filing's own inline XBRL (its main period)."""
    try:
        filings = list_filings(
            client, company, forms=("10-K", "10-Q", "20-F"), since=since, until=until,
            amendments=False,
        )  # fmt: skip
    except NotFoundError as exc:
        problems.append(f"no filing list for China revenue shares: {exc}")
        return []
    shares: dict[tuple[date, date], RevenueShare] = {}
    unavailable = 0
    for filing in filings:
        try:
            found = geographic_revenue(client.get_document(filing.url))
        except NotFoundError:
            unavailable += 1
            continue
        except ParseError as exc:  # for good: this filing gives no share
            problems.append(f"{filing.accession}: {exc}")
            continue
        except FetchError as exc:  # for now: the facts are refreshed again next run
            raise FetchError(f"{filing.accession}: {exc}", url=exc.url) from None
        for revenue in found:  # keep the filing's own period: the newest one it reports
            if filing.period is None or revenue.end != filing.period:
                continue
            shares.setdefault(
                (revenue.start, revenue.end),
                RevenueShare(
                    start=revenue.start,
                    end=revenue.end,
                    china=revenue.china_share,
                    taiwan=revenue.taiwan_share,
                    accession=filing.accession,
                ),
            )
    if unavailable:
        problems.append(
            f"{unavailable} filing document(s) not at the source: no China share for them"
        )
    return sorted(shares.values(), key=lambda s: (s.end, s.start))


def record_company_facts(
    client: EdgarClient,
    store: Store,
    company: tuple[int, str, str],
    settings: Settings,
    *,
    filed_by: date | None = None,
) -> None:
    """The company's series into the store, each quarter as first reported (its signals
    never use a later filing's facts), and only what was filed by `filed_by`: a replayed
    day sees what that day's run would have seen."""
    cik, ticker, name = company
    url = f"{SEC_DATA}/api/xbrl/companyfacts/CIK{cik:010d}.json"
    try:
        quarters = _series(client, url, settings, as_filed=True, filed_by=filed_by)
    except NotFoundError:
        logger.warning("%s: no company facts at the source (%s)", ticker, url)
        return
    problems: list[str] = []
    entry = Company(ticker=ticker, cik=cik, name=name)
    shares = (
        _revenue_shares(client, entry, quarters[0].start, problems, until=filed_by)
        if quarters
        else []
    )
    for problem in problems:
        logger.warning("%s: %s", ticker, problem)
    signals = china_share_signals(shares, settings.signals)
    record_facts(store, cik, quarters=quarters, shares=shares, signals=signals)


def _series(
    client: EdgarClient,
    url: str,
    settings: Settings,
    *,
    as_filed: bool = False,
    filed_by: date | None = None,
) -> list[Quarter]:
    series = as_filed_series if as_filed else quarterly_series
    try:
        return series(client.get_json(url), settings.signals, filed_by=filed_by)
    except ParseError as exc:
        raise ParseError(f"{url}: {exc}") from None


def canonical_url_of(path: Path) -> str | None:
    """The sec.gov URL of a file inside a `{host}/{path}` mirror, if it is in one."""
    parts = path.resolve().parts
    for host in ("www.sec.gov", "data.sec.gov"):
        if host in parts:
            return f"https://{host}/" + "/".join(parts[parts.index(host) + 1 :])
    return None
