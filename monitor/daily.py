"""The daily job: `monitor run`, `monitor replay` and the scheduled job of `monitor serve`.

A run takes each company's filings accepted since its last successful run, processes
them (process.process_filings), rebuilds the day's digest from the store, stores one
alert for the run's warnings (and one per group of watchlist recipients) and sends what
is pending. A run with problems also sends an operations notice to [email] ops_to.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path

from monitor.detect.lexicon import load_lexicon
from monitor.errors import DeliveryError, FetchError, MonitorError, ParseError, UsageError
from monitor.fetch.client import EdgarClient
from monitor.fetch.filings import list_filings, newest_first
from monitor.models import EASTERN, Company, Filing
from monitor.pipeline import (
    EXIT_CONFIG,
    EXIT_FAILURES,
    EXIT_OK,
    Discovery,
    LockError,
    Window,
    discover_filings,
    job_lock,
    record_company_facts,
    select_entries,
)
from monitor.process import MAX_ATTEMPTS, ProcessReport, process_filings
from monitor.report.digest import write_digest
from monitor.report.mail import build_alert, build_ops_message, deliver
from monitor.settings import Settings, email_transport
from monitor.store.db import Store, filing_state, open_store, record_company
from monitor.store.runs import (
    Outgoing,
    RunRecord,
    add_alerts,
    known_successes,
    last_good_run,
    last_success,
    pending_alerts,
    record_delivery,
    record_run,
    record_success,
    unalerted,
)
from monitor.store.trends import trend_table
from monitor.store.warnings import warning_rows
from monitor.watchlist import WatchlistEntry

logger = logging.getLogger(__name__)

AFTER_HOURS_DAYS = 4  # Friday evening to Tuesday after a Monday holiday
STALE_AFTER = timedelta(days=2)  # no successful run for this long: tell operations


@dataclass(kw_only=True)
class RunResult:
    discovery: Discovery
    report: ProcessReport = field(default_factory=lambda: ProcessReport())
    digest: Path | None = None
    alert: str | None = None  # the Message-ID of this run's alert, if it had warnings
    alerts: list[str] = field(default_factory=list)  # every message this run stored
    undelivered: list[str] = field(default_factory=list)

    @property
    def exit_status(self) -> int:
        if self.discovery.unknown:
            return EXIT_CONFIG
        return EXIT_FAILURES if self.problems else EXIT_OK

    @property
    def problems(self) -> list[str]:
        """What went wrong, one line each, for the operations notice."""
        return [
            *(f"unknown ticker: {t}" for t in self.discovery.unknown),
            *self.discovery.failed,
            *self.report.failed,
            *([f"{self.report.pending} filing(s) pending: EDGAR throttled"]
              if self.report.pending else []),
            *(f"alert {m} not delivered" for m in self.undelivered),
        ]  # fmt: skip


def run_once(
    settings: Settings,
    *,
    now: datetime,
    tickers: Sequence[str] | None = None,
    dry_run: bool = False,
) -> RunResult:
    """The daily job: new filings since each company's last successful run, processed,
    stored, the day's digest written and one alert sent for this run's warnings.
    A run that cannot start because another job holds the lock tells operations when no
    run has succeeded for two days (a hung job)."""
    try:
        with job_lock(settings.store.path):
            store = open_store(settings.store.path)
            try:
                return _run(settings, store, now=now, tickers=tickers, dry_run=dry_run)
            finally:
                store.close()
    except LockError as exc:
        _tell_ops_if_stale(settings, now, str(exc))
        raise


def replay(
    settings: Settings,
    *,
    start: date,
    end: date,
    tickers: Sequence[str] | None = None,
    send: bool = False,
) -> list[RunResult]:
    """The daily job for each day from `start` to `end` as if it were that day, under one
    lock. Alerts go to `.eml` files unless `send`, so nobody is mailed years of history.
    The store must not know a later day (replay cannot move a company back in time), and
    without `send` it must hold no pending alert (which would go to a file, not a person)."""
    if end < start:
        raise UsageError(f"replay: --to {end} is before --from {start}")
    if not send:
        settings = replace(settings, email=replace(settings.email, transport="file"))
    results: list[RunResult] = []
    with job_lock(settings.store.path):
        store = open_store(settings.store.path)
        try:
            later = [w for w in known_successes(store) if w > end_of_day(start - timedelta(days=1))]
            if later:
                raise MonitorError(
                    f"replay: the store {settings.store.path} already ran up to {max(later)}; "
                    "replay into a fresh store (MONITOR_STORE_PATH)"
                )
            if not send and pending_alerts(store):
                raise MonitorError(
                    f"replay: the store {settings.store.path} holds pending alerts that a "
                    "replay would write to files instead of sending; run `monitor run` first"
                )
            day = start
            while day <= end:
                now = end_of_day(day)
                results.append(_run(settings, store, now=now, tickers=tickers, dry_run=False))
                day += timedelta(days=1)
        finally:
            store.close()
    return results


def end_of_day(day: date) -> datetime:
    """The last instant of `day` in New York, where EDGAR's dates live."""
    return datetime.combine(day + timedelta(days=1), time(), EASTERN) - timedelta(microseconds=1)


def _run(
    settings: Settings,
    store: Store,
    *,
    now: datetime,
    tickers: Sequence[str] | None,
    dry_run: bool,
) -> RunResult:
    try:
        result = _process(settings, store, now=now, tickers=tickers, dry_run=dry_run)
    except Exception as exc:  # the run could not go on: operations must hear of it
        try:
            _after_run(settings, store, now, [f"the run stopped: {exc}"], processed=0)
        except Exception:  # the store or mail is what failed: keep the first error
            logger.exception("could not record the stopped run nor tell operations")
        raise
    if not dry_run:
        result.alerts += _after_run(
            settings, store, now, result.problems, processed=result.report.processed
        )
    return result


def _process(
    settings: Settings,
    store: Store,
    *,
    now: datetime,
    tickers: Sequence[str] | None,
    dry_run: bool,
) -> RunResult:
    run_date = now.astimezone(EASTERN).date()
    default_start = now - timedelta(days=settings.run.lookback_days)
    starts = [default_start, *known_successes(store)]
    # A filing accepted after 17:30 ET carries the next business day's filing date, so the
    # window runs a few days past `now` by filing date; _is_due keeps what was accepted by now.
    window = Window(
        since=min(starts).astimezone(EASTERN).date(),
        until=run_date + timedelta(days=AFTER_HOURS_DAYS),
        forms=settings.watchlist.forms,
    )
    entries = select_entries(settings, tickers)
    facts_missing: set[int] = set()  # companies whose facts could not be fetched
    with EdgarClient(settings.edgar) as client:
        discovery = discover_filings(client, entries, window)
        result = RunResult(discovery=discovery)
        todo = [f for f in discovery.filings if _is_due(store, f, now, default_start)]
        discovery.filings = newest_first(todo)
        if dry_run:
            return result
        history: list[Filing] = []
        held: set[str] = set()  # companies whose filings wait: no history for baselines
        for cik, ticker, name in {(f.cik, f.ticker, f.company) for f in todo}:
            record_company(store, cik=cik, ticker=ticker, name=name)
            listed = Company(ticker=ticker, cik=cik, name=name)
            try:
                history += list_filings(client, listed, forms=settings.watchlist.forms)
            except FetchError as exc:  # compared without baselines, old news would look new
                discovery.fail(ticker, f"filings left for the next run: {exc}")
                held.add(ticker)
        todo = [f for f in todo if f.ticker not in held]
        lexicon = load_lexicon(settings.lexicon.path)
        result.report = process_filings(
            client, store, todo, lexicon, history=history, run_date=run_date
        )
        facts_due, stale_days = _facts_due(store)
        for triple in facts_due:
            # what was filed by the end of the run's day (a filing accepted after 17:30
            # carries the next day's date): a replayed day never sees a later quarter
            filed_by = max([run_date, *(f.filed for f in todo if f.cik == triple[0])])
            try:
                record_company_facts(client, store, triple, settings, filed_by=filed_by)
            except FetchError as exc:  # for now: today's filings wait for the next run
                discovery.fail(triple[1], f"company facts not refreshed: {exc}")
                facts_missing.add(triple[0])
            except ParseError as exc:  # for good: the alert goes without them
                discovery.fail(triple[1], f"company facts not refreshed: {exc}")
    result.digest = write_digest(warning_rows(store, run_date), run_date, settings.output.dir)
    covers = unalerted(store)  # this run's filings, and any a killed run left unalerted
    waiting = _waiting_for_facts(store, covers, facts_missing, run_date)
    covers = [c for c in covers if c[1] not in waiting]
    rows = [r for r in warning_rows(store, None) if r["accession"] not in waiting]
    # in case a run died before its alert, or wrote its digest before the facts were in
    for day in sorted(({date.fromisoformat(d) for d, _ in covers} | stale_days) - {run_date}):
        write_digest(warning_rows(store, day), day, settings.output.dir)
    messages = _alerts(rows, run_date, settings, store, entries)
    add_alerts(store, run_date, [_outgoing(m) for m in messages], covers)
    result.alerts = [str(m["Message-ID"]) for m in messages]
    result.alert = result.alerts[0] if result.alerts else None
    result.undelivered = _send_pending(store, settings)
    troubled = result.report.troubled | discovery.troubled
    looked_at = {(f.ticker, f.cik) for f in discovery.filings}
    for entry_ticker, cik in looked_at | _quiet_companies(store, discovery, entries):
        if entry_ticker not in troubled and not result.report.pending:
            record_success(store, cik, now)
    return result


def _alerts(
    rows: list[dict[str, object]],
    run_date: date,
    settings: Settings,
    store: Store,
    entries: Sequence[WatchlistEntry],
) -> list[EmailMessage]:
    """The run's alert to [email] to, then one per group of watchlist recipients with just
    their companies (a recipient already in [email] to gets the full alert only)."""
    if not rows:
        return []
    tickers = sorted({str(r["ticker"]) for r in rows})
    charts = _charts(store, tickers, settings.output.dir)
    followed: dict[str, set[str]] = defaultdict(set)  # recipient → tickers
    for entry in entries:
        for recipient in entry.recipients:
            if recipient not in settings.email.to and entry.ticker in tickers:
                followed[recipient].add(entry.ticker)
    messages = []
    # Without [email] to, SMTP has nobody for the full alert: skip it when watchlist
    # recipients get theirs; with none at all it stays pending, saying why, every run.
    if settings.email.to or email_transport(settings.email) != "smtp" or not followed:
        messages.append(build_alert(rows, run_date, settings.email, charts=charts))
    groups: dict[frozenset[str], list[str]] = defaultdict(list)  # tickers → recipients
    for recipient, theirs in sorted(followed.items()):
        groups[frozenset(theirs)].append(recipient)
    for group, recipients in groups.items():
        subset = [r for r in rows if r["ticker"] in group]
        messages.append(build_alert(subset, run_date, settings.email, to=recipients, charts=charts))
    return messages


def _charts(store: Store, tickers: Sequence[str], out_dir: Path) -> dict[str, bytes]:
    """Each company's trend chart, refreshed in out/charts and inlined in the alert."""
    from monitor.report.charts import draw_chart  # matplotlib: only when there is an alert

    table = trend_table(store, list(tickers))
    charts = {}
    for ticker in tickers:
        try:
            path = draw_chart(table, ticker, out_dir / "charts" / f"{ticker}.png")
        except ValueError:  # nothing processed for it (cannot happen with a warning)
            continue
        charts[ticker] = path.read_bytes()
    return charts


def _outgoing(message: EmailMessage) -> Outgoing:
    return Outgoing(
        message_id=str(message["Message-ID"]),
        subject=str(message["Subject"]),
        body=message.as_string(),
    )


def _send_pending(store: Store, settings: Settings, only: str | None = None) -> list[str]:
    """Send every pending message (or just `only`); return the Message-IDs that stay
    pending."""
    undelivered = []
    for message_id, raw in pending_alerts(store):
        if only is not None and message_id != only:
            continue
        try:
            deliver(raw, message_id, settings.email, settings.output.dir)
        except DeliveryError as exc:
            logger.error("%s", exc)
            record_delivery(store, message_id, error=str(exc))
            undelivered.append(message_id)
        else:
            record_delivery(store, message_id, error=None)
    return undelivered


def _after_run(
    settings: Settings, store: Store, now: datetime, problems: Sequence[str], *, processed: int
) -> list[str]:
    """Record the run; after one with problems, tell operations, naming how long no run
    has succeeded when that is two days or more."""
    previous_good = last_good_run(store)
    record_run(
        store,
        RunRecord(started=now, processed=processed, problems=tuple(problems)),
        ended=datetime.now(UTC),
    )
    if not problems:
        return []
    run_date = now.astimezone(EASTERN).date()
    lines = [f"The run of {now:%Y-%m-%d %H:%M %Z} had {len(problems)} problem(s):", ""]
    lines += [f"  - {p}" for p in problems]
    lines += ["", _since_line(previous_good, now), ""]
    lines.append("Failed filings are retried by the next run; pending alerts go out with it.")
    subject = f"run had {len(problems)} problem(s)"
    if previous_good is None or now - previous_good >= STALE_AFTER:
        subject += f"; {_since_line(previous_good, now).rstrip('.').lower()}"
    message = build_ops_message(subject, lines, run_date, settings.email)
    add_alerts(store, run_date, [_outgoing(message)], [])
    message_id = str(message["Message-ID"])
    if _send_pending(store, settings, only=message_id):
        logger.error("operations notice %s not delivered; it stays pending", message_id)
    return [message_id]


def _since_line(previous_good: datetime | None, now: datetime) -> str:
    if previous_good is None:
        return "No run has succeeded yet."
    days = (now - previous_good) / timedelta(days=1)
    when = previous_good.astimezone(EASTERN)
    return f"No run has succeeded since {when:%Y-%m-%d %H:%M %Z} ({days:.1f} days)."


def _tell_ops_if_stale(settings: Settings, now: datetime, why: str) -> None:
    """A job could not start; if none has succeeded for two days, mail operations directly
    (the store belongs to the job that holds the lock)."""
    if not settings.store.path.exists():
        return
    store = open_store(settings.store.path)
    try:
        previous_good = last_good_run(store)
    finally:
        store.close()
    if previous_good is None or now - previous_good < STALE_AFTER:
        return
    run_date = now.astimezone(EASTERN).date()
    lines = [why, "", _since_line(previous_good, now), "Is a job hung? `ps`, then the lock file."]
    message = build_ops_message("no successful run for two days", lines, run_date, settings.email)
    try:
        deliver(message.as_string(), str(message["Message-ID"]), settings.email,
                settings.output.dir)  # fmt: skip
    except DeliveryError as exc:
        logger.error("%s", exc)


def _waiting_for_facts(
    store: Store, covers: Sequence[tuple[str, str]], ciks: set[int], run_date: date
) -> set[str]:
    """Today's filings of the companies whose facts could not be fetched: their alert
    waits for the next run, so that it carries their financial signals as a clean run's
    would. A day at most: filings of an earlier day go out as they are."""
    if not ciks:
        return set()
    marks = ", ".join("?" * len(ciks))
    theirs = store.connection.execute(
        f"SELECT accession FROM filings WHERE cik IN ({marks})", tuple(ciks)
    ).fetchall()
    ours = {str(accession) for (accession,) in theirs}
    return {a for day, a in covers if day == run_date.isoformat() and a in ours}


def _facts_due(store: Store) -> tuple[set[tuple[int, str, str]], set[date]]:
    """The companies whose facts an alert or digest waits for, and the days whose digests
    showed them before they were in: each company with a filing no alert has covered yet
    (this run's, or one a killed run left) or taken since its last success (a run whose
    facts refresh failed does not move the company on)."""
    rows = store.connection.execute(
        "SELECT c.cik, c.ticker, c.name, r.run_date, r.alert IS NULL FROM run_filings r "
        "JOIN filings f ON f.accession = r.accession JOIN companies c ON c.cik = f.cik "
        "LEFT JOIN company_state s ON s.cik = c.cik "
        "WHERE r.alert IS NULL OR s.last_success IS NULL "
        "OR r.run_date > substr(s.last_success, 1, 10)"
    ).fetchall()
    companies = {(int(cik), str(ticker), str(name)) for cik, ticker, name, _, _ in rows}
    stale = {date.fromisoformat(day) for *_, day, unalerted in rows if not unalerted}
    return companies, stale


def _quiet_companies(
    store: Store, discovery: Discovery, entries: Sequence[WatchlistEntry]
) -> set[tuple[str, int]]:
    """Companies the run looked at and found nothing for: their state moves on too (not
    the others in the store: a run limited with --tickers moves only those on)."""
    asked = {e.ticker for e in entries} - set(discovery.unknown)
    rows = store.connection.execute("SELECT ticker, cik FROM companies").fetchall()
    return {(str(t), int(c)) for t, c in rows if str(t) in asked}


def _is_due(store: Store, filing: Filing, now: datetime, default_start: datetime) -> bool:
    """Accepted since the company's last successful run (and not after `now`), and not
    already settled; failed filings are retried up to five attempts."""
    state = filing_state(store, filing.accession)
    if state is None:  # new to the store: due if accepted in the company's window
        start = last_success(store, filing.cik) or default_start
        return start < filing.accepted <= now
    return state[0] in ("failed", "pending") and state[1] < MAX_ATTEMPTS
