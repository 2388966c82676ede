"""Command line: arguments, logging and settings at the edge; the work is in pipeline."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

from monitor import __version__, daily, history, pipeline
from monitor.errors import ConfigError, MonitorError, UsageError
from monitor.fetch.client import EdgarClient
from monitor.models import EASTERN
from monitor.report.charts import draw_chart
from monitor.report.diff import diff_record, render_diff
from monitor.report.facts import FACTS_COLUMNS, facts_records
from monitor.report.scan import (
    FINDING_COLUMNS,
    SECTION_COLUMNS,
    document_record,
    finding_records,
    render_report,
    render_sections,
    section_records,
)
from monitor.report.tables import render_records, write_output
from monitor.settings import Settings, load_settings
from monitor.store.db import Store, open_store
from monitor.store.trends import TREND_COLUMNS, trend_table
from monitor.store.warnings import mute_finding

logger = logging.getLogger(__name__)

JOB_COMMANDS = {"run", "backfill", "rescan", "replay", "serve"}
FILING_COLUMNS = ("ticker", "form", "filed", "accepted", "period", "accession", "items", "url")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    job = args.command in JOB_COMMANDS
    _configure_logging(args.log_level or ("INFO" if job else "WARNING"), timestamps=job)
    try:
        settings = _load(args)
        status: int = args.handler(args, settings)
    except UsageError as exc:
        sys.stderr.write(f"monitor: usage error: {exc}\n")
        return pipeline.EXIT_CONFIG
    except ConfigError as exc:
        sys.stderr.write(f"monitor: configuration error: {exc}\n")
        return pipeline.EXIT_CONFIG
    except pipeline.LockError as exc:
        sys.stderr.write(f"monitor: {exc}\n")
        return pipeline.EXIT_LOCKED
    except MonitorError as exc:
        sys.stderr.write(f"monitor: error: {exc}\n")
        return pipeline.EXIT_FAILURES
    return status


def _common_flags(default: object) -> argparse.ArgumentParser:
    """--config, --mirror, --log-level: before the command (`default` None) or after it
    (`default` SUPPRESS, so that a flag given before is not reset when absent after)."""
    common = argparse.ArgumentParser(add_help=False, argument_default=default)
    common.add_argument(
        "--config", type=Path, help="settings file layered over config/monitor.toml"
    )
    common.add_argument(
        "--mirror", metavar="DIR", help="read EDGAR from a {host}/{path} mirror directory"
    )
    common.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_flags(argparse.SUPPRESS)
    parser = argparse.ArgumentParser(
        prog="monitor",
        description="Watch SEC EDGAR for new China-export-risk and inventory warnings.",
        parents=[_common_flags(None)],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    filings = commands.add_parser(
        "filings", parents=[common], help="list companies' filings, newest first"
    )
    filings.add_argument("tickers", nargs="+", metavar="TICKER")
    filings.add_argument("--since", type=_iso_date, help="filed on or after YYYY-MM-DD")
    filings.add_argument("--until", type=_iso_date, help="filed on or before YYYY-MM-DD")
    filings.add_argument("--forms", nargs="+", metavar="FORM", help="default: [watchlist] forms")
    filings.add_argument("--no-amendments", action="store_true", help="leave out /A amendments")
    _add_format_flags(filings)
    filings.set_defaults(handler=_cmd_filings)

    scan = commands.add_parser(
        "scan", parents=[common], help="parse one filing document: its text and sections"
    )
    scan.add_argument("file", type=Path, metavar="FILE", help="primary document or full .txt")
    shown = scan.add_mutually_exclusive_group()
    shown.add_argument("--text", action="store_true", help="the normalised text offsets refer to")
    shown.add_argument("--sections", action="store_true", help="the sections only")
    scan.add_argument("--lexicon", type=Path, help="detection rules (default: [lexicon] path)")
    _add_format_flags(scan)
    scan.set_defaults(handler=_cmd_scan)

    diff = commands.add_parser(
        "diff", parents=[common], help="what a filing says that an earlier one did not"
    )
    diff.add_argument("old", type=Path, metavar="OLD", help="the earlier comparable filing")
    diff.add_argument("new", type=Path, metavar="NEW", help="the later filing")
    diff.add_argument(
        "--also", type=Path, nargs="+", default=[], metavar="FILE",
        help="more baselines, e.g. the latest 10-K for a 10-Q, or recent 8-Ks",
    )  # fmt: skip
    diff.add_argument("--lexicon", type=Path, help="detection rules (default: [lexicon] path)")
    _add_format_flags(diff)
    diff.set_defaults(handler=_cmd_diff)

    facts = commands.add_parser(
        "facts", parents=[common], help="a company's quarterly inventory series and signals"
    )
    facts.add_argument("ticker", metavar="TICKER")
    _add_format_flags(facts)
    facts.set_defaults(handler=_cmd_facts)

    trends = commands.add_parser(
        "trends", parents=[common], help="one row per company and processed filing"
    )
    trends.add_argument("tickers", nargs="*", metavar="TICKER")
    trends.add_argument("--since", type=_iso_date, help="filed on or after YYYY-MM-DD")
    _add_format_flags(trends)
    trends.add_argument("--parquet", dest="fmt", action="store_const", const="parquet",
                        help="Parquet (needs --out)")  # fmt: skip
    trends.set_defaults(handler=_cmd_trends)

    chart = commands.add_parser("chart", parents=[common], help="a company's trend chart (PNG)")
    chart.add_argument("ticker", metavar="TICKER")
    chart.add_argument(
        "--out", type=Path, metavar="PATH", help="default: [output] dir/charts/TICKER.png"
    )
    chart.set_defaults(handler=_cmd_chart)

    backfill = commands.add_parser(
        "backfill", parents=[common], help="process history into the store, alerting nobody"
    )
    backfill.add_argument("--since", type=_iso_date, required=True, help="filed on or after")
    backfill.add_argument("--until", type=_iso_date, help="filed on or before")
    _add_tickers_flag(backfill)
    backfill.add_argument(
        "--retry-unavailable",
        action="store_true",
        help="fetch again the documents the source lacked last time",
    )
    backfill.set_defaults(handler=_cmd_backfill)

    rescan = commands.add_parser(
        "rescan", parents=[common], help="re-run parsing and detection on stored filings"
    )
    _add_tickers_flag(rescan)
    rescan.add_argument("--since", type=_iso_date, help="filed on or after YYYY-MM-DD")
    rescan.set_defaults(handler=_cmd_rescan)

    run = commands.add_parser(
        "run", parents=[common], help="the daily job: the watchlist's new filings"
    )
    run.add_argument("--as-of", type=_iso_date, help="act as if it were the end of this day (ET)")
    _add_tickers_flag(run)
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="list the filings a run would process; change nothing",
    )
    _add_format_flags(run)
    run.set_defaults(handler=_cmd_run)

    replay = commands.add_parser(
        "replay", parents=[common], help="the daily job for each day of a past window"
    )
    replay.add_argument("--from", dest="start", type=_iso_date, required=True, metavar="D")
    replay.add_argument("--to", dest="end", type=_iso_date, required=True, metavar="D")
    _add_tickers_flag(replay)
    replay.add_argument(
        "--send", action="store_true", help="send the alerts as configured (default: .eml files)"
    )
    replay.set_defaults(handler=_cmd_replay)

    serve = commands.add_parser(
        "serve", parents=[common], help="the daily job on [schedule] cron, until stopped"
    )
    _add_tickers_flag(serve)
    serve.add_argument(
        "--run-now", action="store_true", help="also run the job once at start, then on schedule"
    )
    serve.set_defaults(handler=_cmd_serve)

    mute = commands.add_parser(
        "mute", parents=[common], help="silence a warning judged noise, for good"
    )
    mute.add_argument("finding_id", metavar="FINDING_ID", help="as the alert and digest show it")
    mute.add_argument("--reason", metavar="TEXT", help="why, kept with the mute")
    mute.set_defaults(handler=_cmd_mute)
    return parser


def _add_tickers_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tickers", nargs="+", metavar="T", help="only these companies")


def _add_format_flags(parser: argparse.ArgumentParser) -> None:
    formats = parser.add_mutually_exclusive_group()
    formats.add_argument("--json", dest="fmt", action="store_const", const="json")
    formats.add_argument("--csv", dest="fmt", action="store_const", const="csv")
    parser.add_argument("--out", type=Path, metavar="PATH", help="write to a file, not stdout")
    parser.set_defaults(fmt="table")


def _cmd_filings(args: argparse.Namespace, settings: Settings) -> int:
    forms = tuple(f.upper() for f in args.forms) if args.forms else settings.watchlist.forms
    window = pipeline.Window(
        since=args.since, until=args.until, forms=forms, amendments=not args.no_amendments
    )
    entries = pipeline.select_entries(settings, args.tickers)
    with EdgarClient(settings.edgar) as client:
        discovery = pipeline.discover_filings(client, entries, window)
    _print_filings(discovery, args)
    return discovery.exit_status


def _cmd_scan(args: argparse.Namespace, settings: Settings) -> int:
    lexicon_path = args.lexicon or settings.lexicon.path
    document, risk = pipeline.scan_file(args.file, lexicon_path=lexicon_path)
    if args.text:
        text = document.text + "\n"
    elif args.fmt == "json":
        text = json.dumps(document_record(document, risk), indent=2, ensure_ascii=False) + "\n"
    elif args.fmt == "csv" and args.sections:
        rows = [{k: v for k, v in s.items() if k != "text"} for s in section_records(document)]
        columns = [c for c in SECTION_COLUMNS if c != "text"]
        text = render_records(rows, columns=columns, fmt="csv")
    elif args.fmt == "csv":
        text = render_records(finding_records(risk.findings), columns=FINDING_COLUMNS, fmt="csv")
    elif args.sections:
        text = render_sections(document)
    else:
        text = render_report(document, risk, color=args.out is None and sys.stdout.isatty())
    write_output(text, args.out)
    for problem in document.problems:
        logger.warning("%s: %s", args.file, problem)
    return pipeline.EXIT_OK


def _cmd_diff(args: argparse.Namespace, settings: Settings) -> int:
    lexicon_path = args.lexicon or settings.lexicon.path
    old, new, comparison = pipeline.diff_files(
        args.old, args.new, also=args.also, lexicon_path=lexicon_path
    )
    if args.fmt == "json":
        text = json.dumps(diff_record(old, new, comparison), indent=2, ensure_ascii=False) + "\n"
    elif args.fmt == "csv":
        rows = diff_record(old, new, comparison)["findings"]
        assert isinstance(rows, list)
        text = render_records(rows, columns=(*FINDING_COLUMNS, "change"), fmt="csv")
    else:
        text = render_diff(old, new, comparison)
    write_output(text, args.out)
    return pipeline.EXIT_OK


def _cmd_facts(args: argparse.Namespace, settings: Settings) -> int:
    table = pipeline.facts_table(settings, args.ticker)
    records = facts_records(table.company.ticker, table.quarters, table.shares, table.signals)
    if args.fmt == "json":
        text = json.dumps(records, indent=2) + "\n"
    else:
        columns = FACTS_COLUMNS if args.fmt == "csv" else FACTS_COLUMNS[:10]
        text = render_records(records, columns=columns, fmt=args.fmt)
    write_output(text, args.out)
    for problem in table.problems:
        logger.warning("%s: %s", table.company.ticker, problem)
    return pipeline.EXIT_OK


def _cmd_trends(args: argparse.Namespace, settings: Settings) -> int:
    store = open_store(settings.store.path)
    table = trend_table(store, args.tickers or None, args.since)
    if args.fmt == "parquet":
        if args.out is None:
            raise ConfigError("--parquet needs --out PATH")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        table.to_parquet(args.out, index=False)
        return pipeline.EXIT_OK
    if args.fmt == "json":
        text = table.to_json(orient="records", indent=2) + "\n"
    elif args.fmt == "csv":
        text = table.to_csv(index=False)
    else:
        shown = [c for c in TREND_COLUMNS if c not in ("accession", "url")]
        text = table[shown].to_string(index=False, float_format=lambda v: f"{v:.3g}") + "\n"
    write_output(text, args.out)
    return pipeline.EXIT_OK


def _cmd_chart(args: argparse.Namespace, settings: Settings) -> int:
    out = args.out or settings.output.dir / "charts" / f"{args.ticker.upper()}.png"
    table = trend_table(open_store(settings.store.path), [args.ticker])
    if table.empty:
        raise ConfigError(
            f"no processed filings of {args.ticker.upper()} in the store; run backfill"
        )
    sys.stdout.write(f"{draw_chart(table, args.ticker, out)}\n")
    return pipeline.EXIT_OK


@contextmanager
def _locked_store(settings: Settings) -> Iterator[Store]:
    """The store, for a job that holds the lock."""
    with pipeline.job_lock(settings.store.path):
        store = open_store(settings.store.path)
        try:
            yield store
        finally:
            store.close()


def _cmd_backfill(args: argparse.Namespace, settings: Settings) -> int:
    with _locked_store(settings) as store:
        report = history.backfill(
            settings,
            store,
            tickers=args.tickers,
            since=args.since,
            until=args.until,
            retry_unavailable=args.retry_unavailable,
            workers=history.worker_count(settings.run.workers),
            progress=lambda total: history.Progress(total),
        )
    sys.stderr.write(
        f"backfill: {report.processed} processed, {report.skipped} skipped, "
        f"{report.unavailable} unavailable at the source, {len(report.failed)} failed, "
        f"{report.pending} pending; {report.settled} already settled in the store\n"
    )
    for failure in report.failed:
        sys.stderr.write(f"  failed: {failure}\n")
    for ticker in report.unknown:
        sys.stderr.write(f"  unknown ticker: {ticker}\n")
    if report.unknown:
        return pipeline.EXIT_CONFIG
    return pipeline.EXIT_FAILURES if report.failed or report.pending else pipeline.EXIT_OK


def _cmd_rescan(args: argparse.Namespace, settings: Settings) -> int:
    with _locked_store(settings) as store:
        report = history.rescan(
            settings,
            store,
            tickers=args.tickers,
            since=args.since,
            workers=history.worker_count(settings.run.workers),
        )
    sys.stderr.write(f"rescan: {report.processed} processed, {len(report.failed)} failed\n")
    return pipeline.EXIT_FAILURES if report.failed else pipeline.EXIT_OK


def _cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    results = daily.replay(
        settings, start=args.start, end=args.end, tickers=args.tickers, send=args.send
    )
    days = [r for r in results if r.report.processed or r.report.failed or r.alert]
    for result in days:
        sys.stderr.write(
            f"replay {result.digest.stem if result.digest else '?'}: "
            f"{result.report.processed} processed, {len(result.report.failed)} failed; "
            f"alert {result.alert or 'none'}\n"
        )
    alerts = sum(1 for r in results if r.alert)
    sys.stderr.write(
        f"replay {args.start}..{args.end}: {len(results)} day(s), {len(days)} with filings, "
        f"{alerts} alert(s); digests in {settings.output.dir / 'digests'}\n"
    )
    return max((r.exit_status for r in results), default=pipeline.EXIT_OK)


def _cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from monitor.serve import serve  # APScheduler: only for the service

    return serve(settings, tickers=args.tickers, run_now=args.run_now)


def _cmd_mute(args: argparse.Namespace, settings: Settings) -> int:
    store = open_store(settings.store.path)
    try:
        when = datetime.now(EASTERN)
        tickers = mute_finding(store, args.finding_id, reason=args.reason, when=when)
    finally:
        store.close()
    sys.stdout.write(f"muted {args.finding_id} for {', '.join(tickers)}\n")
    return pipeline.EXIT_OK


def _cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    now = datetime.now(EASTERN) if args.as_of is None else daily.end_of_day(args.as_of)
    result = daily.run_once(settings, now=now, tickers=args.tickers, dry_run=args.dry_run)
    _print_filings(result.discovery, args)
    report = result.report
    sys.stderr.write(
        f"run {now.date()}: {len(result.discovery.filings)} new filing(s); {report.processed} "
        f"processed, {report.unavailable} unavailable, {len(report.failed)} failed; "
        f"digest {result.digest or '(dry run: none)'}; "
        f"alert {result.alert or 'none'}"
        f"{'; undelivered: ' + ', '.join(result.undelivered) if result.undelivered else ''}\n"
    )
    for problem in result.problems:
        sys.stderr.write(f"  problem: {problem}\n")
    return result.exit_status


def _print_filings(discovery: pipeline.Discovery, args: argparse.Namespace) -> None:
    records = [filing.to_record() for filing in discovery.filings]
    if args.fmt == "table":
        for record in records:
            record["accepted"] = str(record["accepted"])[:16].replace("T", " ")
    text = render_records(records, columns=FILING_COLUMNS, fmt=args.fmt)
    write_output(text, args.out)  # problems per company were logged as they happened


def _load(args: argparse.Namespace) -> Settings:
    overrides: dict[tuple[str, str], object] = {}
    if args.mirror is not None:
        overrides[("edgar", "mirror")] = args.mirror
    return load_settings(args.config, env=os.environ, overrides=overrides)


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from None


def _configure_logging(level: str, *, timestamps: bool) -> None:
    """Jobs log with timestamps (cron mail, service logs); inspection commands plainly."""
    fmt = (
        "%(asctime)s %(levelname)s %(name)s: %(message)s"
        if timestamps
        else "%(levelname)s: %(message)s"
    )
    logging.basicConfig(level=getattr(logging, level), format=fmt, stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # our client logs each request once
    logging.getLogger("httpcore").setLevel(logging.WARNING)
