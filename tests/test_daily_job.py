"""The daily job over several days: loopback EDGAR server, real SMTP server, SQLite file."""

from __future__ import annotations

import csv
import email
import io
import sqlite3
import subprocess
from email.policy import default
from pathlib import Path

from tests.conftest import Inbox, loopback_env
from tests.edgar_server import EdgarTestServer
from tests.test_cli import run_monitor


def env_for(edgar_server: EdgarTestServer, smtp: Inbox, tmp_path: Path) -> dict[str, str]:
    return loopback_env(edgar_server, tmp_path) | job_env(smtp, tmp_path)


def job_env(smtp: Inbox, tmp_path: Path) -> dict[str, str]:
    """The store and output in tmp_path, alerts over plain SMTP to the test inbox."""
    return {
        "MONITOR_STORE_PATH": str(tmp_path / "monitor.db"),
        "MONITOR_OUTPUT_DIR": str(tmp_path / "out"),
        "MONITOR_EMAIL_SMTP_HOST": "127.0.0.1",
        "MONITOR_EMAIL_SMTP_PORT": str(smtp.port),
        "MONITOR_EMAIL_SECURITY": "none",
        "MONITOR_EMAIL_FROM": "monitor@example.com",
        "MONITOR_EMAIL_TO": "analysts@example.com",
    }


def replay_nvidia(start: str, end: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    replay = run_monitor("replay", "--from", start, "--to", end, "--tickers", "NVDA", env=env)
    assert replay.returncode == 0, replay.stderr
    return replay


def test_days_of_nvidia(edgar_server: EdgarTestServer, smtp_server: Inbox, tmp_path: Path) -> None:
    env = env_for(edgar_server, smtp_server, tmp_path) | {"MONITOR_EMAIL_OPS_TO": "ops@example.com"}
    baseline = run_monitor(
        "backfill", "--since", "2024-10-01", "--until", "2025-05-27", "--tickers", "NVDA", env=env
    )
    assert baseline.returncode == 0, baseline.stderr
    assert smtp_server.messages == []  # a backfill alerts nobody

    first = run_monitor("run", "--as-of", "2025-05-28", "--tickers", "NVDA", env=env)
    assert first.returncode == 0, first.stderr
    (raw,) = smtp_server.messages
    message = email.message_from_bytes(raw, policy=default)
    assert "NVDA" in message["Subject"] and "new warning" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    assert "April 9, 2025" in text and "$4.5 billion" in text
    # What the 10-Q added to a paragraph of the previous one is marked in the sentence; a
    # sentence flagged under two categories is shown once, with both.
    assert "Macroeconomic factors, including [+tariffs+], inflation" in text
    assert text.count("Macroeconomic factors, including") == 1
    assert "geopolitical + trade_policy, severity 4" in text
    assert (
        "https://www.sec.gov/Archives/edgar/data/1045810/000104581025000116/nvda-20250427.htm"
        in text
    )
    html = message.get_body(("html",)).get_content()
    assert ("<script" not in html and "&amp;" in html) or "&#x27;" in html or "<li>" in html
    assert "Macroeconomic factors, including <ins>tariffs</ins>, inflation" in html
    (chart,) = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert (
        chart["Content-ID"].strip("<>") in html and chart.get_content()[:8] == b"\x89PNG\r\n\x1a\n"
    )
    digest = tmp_path / "out/digests/2025-05-28.csv"
    rows = list(csv.DictReader(io.StringIO(digest.read_text(encoding="utf-8"))))
    assert list(rows[0]) == [
        "run_date", "ticker", "company", "cik", "form", "filed", "accepted", "accession", "period",
        "section", "category", "severity", "change", "sentence", "url", "figures", "finding_id",
    ]  # fmt: skip
    assert any("April 9, 2025" in r["sentence"] and r["change"] == "new" for r in rows)
    assert any(r["category"].startswith("signal:") for r in rows)

    again = run_monitor("run", "--as-of", "2025-05-28", "--tickers", "NVDA", env=env)
    assert again.returncode == 0 and len(smtp_server.messages) == 1  # nothing twice
    assert digest.read_text(encoding="utf-8").count("\n") == len(rows) + 1  # earlier rows kept

    # An analyst mutes one warning (its id is in the e-mail); the day's digest, rebuilt by
    # the next run, drops every row of that paragraph and keeps the others.
    noise = next(r for r in rows if r["finding_id"] and r["category"] != "export_control")
    assert f"monitor mute {noise['finding_id']}" in text
    unknown = run_monitor("mute", "0123456789ab", env=env)
    assert unknown.returncode == 2 and "'0123456789ab'" in unknown.stderr  # usage
    muted = run_monitor("mute", noise["finding_id"], "--reason", "boilerplate", env=env)
    assert muted.returncode == 0 and "NVDA" in muted.stdout, muted.stderr
    rerun = run_monitor("run", "--as-of", "2025-05-28", "--tickers", "NVDA", env=env)
    assert rerun.returncode == 0 and len(smtp_server.messages) == 1
    kept = list(csv.DictReader(io.StringIO(digest.read_text(encoding="utf-8"))))
    gone = [r for r in rows if r["finding_id"] not in {k["finding_id"] for k in kept}]
    assert noise in gone and 0 < len(kept) < len(rows)
    assert all(r["accession"] == noise["accession"] for r in gone)
    assert any("April 9, 2025" in r["sentence"] for r in kept)

    before = len(edgar_server.requests)
    quiet = run_monitor("run", "--as-of", "2025-06-02", "--tickers", "NVDA", env=env)
    assert quiet.returncode == 0
    requests = edgar_server.requests[before:]
    assert not any("/Archives/" in r.path for r in requests)
    assert [r.path for r in requests if "/submissions/" in r.path] == [
        "/data.sec.gov/submissions/CIK0001045810.json"
    ]
    quiet_digest = tmp_path / "out/digests/2025-06-02.csv"
    assert quiet_digest.read_text(encoding="utf-8").count("\n") == 1  # just the header

    smtp_server.stop()
    down = run_monitor("run", "--as-of", "2025-08-27", "--tickers", "NVDA", env=env)
    assert down.returncode == 1 and "undelivered" in down.stderr
    smtp_server.start()
    later = run_monitor("run", "--as-of", "2025-08-28", "--tickers", "NVDA", env=env)
    assert later.returncode == 0, later.stderr
    sent = [email.message_from_bytes(m, policy=default) for m in smtp_server.messages]
    ids = [m["Message-ID"] for m in sent if "new warning" in m["Subject"]]
    assert len(ids) == 2 and len(set(ids)) == 2  # the pending alert went out once
    (ops,) = [m for m in sent if "problem(s)" in m["Subject"]]  # the failed run told operations
    assert ops["To"] == "ops@example.com" and "1 problem(s)" in ops["Subject"]
    ops_text = ops.get_body(("plain",)).get_content()
    assert f"alert {ids[1]} not delivered" in ops_text and "No run has succeeded since" in ops_text


def test_alert_text_is_inert() -> None:
    from datetime import date

    from monitor.report.mail import build_alert
    from monitor.settings import EmailSettings

    row = {
        "ticker": "EVIL", "company": "Evil <b>Corp</b>\r\nBcc: victim@example.com",
        "cik": 1, "form": "8-K", "filed": "2026-01-02", "accepted": "x", "accession": "a",
        "period": "2026-01-01", "section": "Item 8.01", "category": "export_control",
        "severity": 3, "change": "new", "url": "https://www.sec.gov/x\"><script>",
        "sentence": "<script>alert(1)</script><img src=x onerror=alert(2)> export controls",
        "figures": "", "finding_id": "f", "diff": None,
    }  # fmt: skip
    message = build_alert([row], date(2026, 1, 2), EmailSettings(to=("a@example.com",)))
    html = message.get_body(("html",)).get_content()
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Bcc" not in str(message["Subject"]) and message["Bcc"] is None


def test_a_second_job_exits_3_and_changes_nothing(mirror: Path, tmp_path: Path) -> None:
    from monitor.pipeline import job_lock

    store = tmp_path / "monitor.db"
    env = {"MONITOR_EDGAR_MIRROR": str(mirror), "MONITOR_STORE_PATH": str(store)}
    with job_lock(store):
        blocked = run_monitor("run", "--as-of", "2026-03-06", "--tickers", "NVDA", env=env)
        backfill = run_monitor("backfill", "--since", "2026-01-01", "--tickers", "NVDA", env=env)
    assert blocked.returncode == backfill.returncode == 3
    assert "another monitor job holds" in blocked.stderr
    assert not store.exists()


def test_replay_writes_alerts_to_files(
    edgar_server: EdgarTestServer, smtp_server: Inbox, tmp_path: Path
) -> None:
    env = env_for(edgar_server, smtp_server, tmp_path)
    replay = replay_nvidia("2025-05-26", "2025-05-29", env)
    assert smtp_server.messages == []  # SMTP is configured, yet nobody is mailed
    digests = sorted(p.name for p in (tmp_path / "out/digests").iterdir())
    assert digests == [f"2025-05-{d}.csv" for d in (26, 27, 28, 29)]
    (eml,) = (tmp_path / "out/alerts").glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=default)
    assert "2025-05-28" in message["Subject"] and "NVDA" in message["Subject"]
    assert "$4.5 billion" in message.get_body(("plain",)).get_content()
    assert "1 alert(s)" in replay.stderr
    # the replayed days saw only what was filed by then: NVIDIA's next quarter (to
    # 2025-07-27, filed 2025-08-27) is in the company facts but not in the store
    with sqlite3.connect(tmp_path / "monitor.db") as db:
        (last_quarter,) = db.execute("SELECT max(period_end) FROM facts").fetchone()
        (last_share,) = db.execute("SELECT max(period_end) FROM revenue_shares").fetchone()
    assert last_quarter == last_share == "2025-04-27"

    again = run_monitor("replay", "--from", "2025-05-26", "--to", "2025-05-27", env=env)
    assert again.returncode == 1 and "fresh store" in again.stderr  # never back in time


def test_a_filing_accepted_after_hours_is_taken_the_day_it_was_accepted(
    edgar_server: EdgarTestServer, smtp_server: Inbox, tmp_path: Path
) -> None:
    # NVIDIA's 10-Q 0001045810-23-000175 was accepted on Friday 2023-08-25 at 19:36 ET,
    # after EDGAR's 17:30 cut-off, so its filing date is Monday 2023-08-28.
    env = env_for(edgar_server, smtp_server, tmp_path)
    replay_nvidia("2023-08-24", "2023-08-25", env)
    with sqlite3.connect(tmp_path / "monitor.db") as db:  # its quarter's facts came with it
        (last_quarter,) = db.execute("SELECT max(period_end) FROM facts").fetchone()
    assert last_quarter == "2023-07-30"
    replay_nvidia("2023-08-26", "2023-08-28", env)
    friday = (tmp_path / "out/digests/2023-08-25.csv").read_text(encoding="utf-8")
    assert "0001045810-23-000175" in friday and "2023-08-28" in friday
    monday = (tmp_path / "out/digests/2023-08-28.csv").read_text(encoding="utf-8")
    assert "0001045810-23-000175" not in monday  # taken once, on the day it was accepted


def test_watchlist_recipients_get_their_companies_alerts(
    edgar_server: EdgarTestServer, smtp_server: Inbox, tmp_path: Path
) -> None:
    watchlist = tmp_path / "watchlist.toml"
    watchlist.write_text(
        '[[company]]\nticker = "NVDA"\nrecipients = ["chips@example.com", "analysts@example.com"]\n'
        '[[company]]\nticker = "BA"\nrecipients = ["aero@example.com"]\n',
        encoding="utf-8",
    )
    env = env_for(edgar_server, smtp_server, tmp_path) | {"MONITOR_WATCHLIST_PATH": str(watchlist)}
    baseline = run_monitor("backfill", "--since", "2025-02-20", "--until", "2025-05-27", env=env)
    assert baseline.returncode == 0, baseline.stderr
    run = run_monitor("run", "--as-of", "2025-05-28", env=env)
    assert run.returncode == 0, run.stderr
    # NVIDIA filed that day, Boeing did not: the team gets the alert, the chips desk gets
    # NVIDIA's (analysts@ is in [email] to, so it gets one message, not two), aero nothing.
    assert sorted(smtp_server.envelopes) == [["analysts@example.com"], ["chips@example.com"]]
    team, desk = sorted(
        (email.message_from_bytes(m, policy=default) for m in smtp_server.messages),
        key=lambda m: str(m["To"]),
    )
    assert desk["Message-ID"] != team["Message-ID"] and "NVDA" in desk["Subject"]
    assert desk.get_body(("plain",)).get_content() == team.get_body(("plain",)).get_content()


def test_a_job_kept_out_by_the_lock_for_two_days_tells_operations(
    mirror: Path, tmp_path: Path
) -> None:
    from monitor.pipeline import job_lock

    store = tmp_path / "monitor.db"
    env = {
        "MONITOR_EDGAR_MIRROR": str(mirror),
        "MONITOR_STORE_PATH": str(store),
        "MONITOR_OUTPUT_DIR": str(tmp_path / "out"),
        "MONITOR_EDGAR_CACHE_DIR": str(tmp_path / "cache"),
        "MONITOR_EMAIL_OPS_TO": "ops@example.com",
    }
    good = run_monitor("run", "--as-of", "2026-03-02", "--tickers", "NVDA", env=env)
    assert good.returncode == 0, good.stderr
    alerts = tmp_path / "out/alerts"
    before = set(alerts.glob("*.eml")) if alerts.exists() else set()
    with job_lock(store):  # a hung job
        next_day = run_monitor("run", "--as-of", "2026-03-03", "--tickers", "NVDA", env=env)
        assert next_day.returncode == 3 and not (set(alerts.glob("*.eml")) - before)
        days_later = run_monitor("run", "--as-of", "2026-03-05", "--tickers", "NVDA", env=env)
    assert days_later.returncode == 3
    (notice,) = set(alerts.glob("*.eml")) - before
    message = email.message_from_bytes(notice.read_bytes(), policy=default)
    assert message["To"] == "ops@example.com"
    assert "no successful run for two days" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    assert "another monitor job holds" in text and "since 2026-03-02 23:59" in text


def test_a_run_stopped_by_an_error_tells_operations(mirror: Path, tmp_path: Path) -> None:
    watchlist = tmp_path / "watchlist.toml"
    watchlist.write_text('[[company]]\nticker = "NVDA"\ncik = "NVDA"\n', encoding="utf-8")
    env = {
        "MONITOR_EDGAR_MIRROR": str(mirror),
        "MONITOR_STORE_PATH": str(tmp_path / "monitor.db"),
        "MONITOR_OUTPUT_DIR": str(tmp_path / "out"),
        "MONITOR_WATCHLIST_PATH": str(watchlist),
        "MONITOR_EMAIL_OPS_TO": "ops@example.com",
    }
    broken = run_monitor("run", "--as-of", "2026-03-02", env=env)
    assert broken.returncode == 2 and "cik must be a positive whole number" in broken.stderr
    (notice,) = (tmp_path / "out/alerts").glob("*.eml")
    message = email.message_from_bytes(notice.read_bytes(), policy=default)
    assert message["To"] == "ops@example.com" and "no run has succeeded yet" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    assert f"the run stopped: {watchlist}: [[company]] #1 (NVDA): cik must be" in text


def test_a_run_limited_with_tickers_moves_only_those_companies_on(
    mirror: Path, tmp_path: Path
) -> None:
    import sqlite3

    env = {
        "MONITOR_EDGAR_MIRROR": str(mirror),
        "MONITOR_STORE_PATH": str(tmp_path / "monitor.db"),
        "MONITOR_OUTPUT_DIR": str(tmp_path / "out"),
        "MONITOR_RUN_LOOKBACK_DAYS": "120",  # back to Boeing's 10-K of 2025-02-03
    }
    both = run_monitor("run", "--as-of", "2025-05-29", "--tickers", "NVDA", "BA", env=env)
    assert both.returncode == 0, both.stderr

    def last_success() -> dict[str, str]:
        with sqlite3.connect(tmp_path / "monitor.db") as db:
            rows = db.execute(
                "SELECT c.ticker, s.last_success FROM company_state s JOIN companies c USING (cik)"
            ).fetchall()
        return dict(rows)

    before = last_success()
    nvidia = run_monitor("run", "--as-of", "2025-06-10", "--tickers", "NVDA", env=env)
    assert nvidia.returncode == 0, nvidia.stderr
    after = last_success()
    assert "BA" in before and after["NVDA"] > before["NVDA"] and after["BA"] == before["BA"]
