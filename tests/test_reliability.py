"""Faults, crashes and races, small versions of scripts/soak: a chaotic loopback EDGAR
server, SMTP refusals and hang-ups, SIGKILL mid-run, and two runs started together.
The end state must equal that of an undisturbed run, with no alert missing or doubled."""

from __future__ import annotations

import email
import os
import signal
import sqlite3
import subprocess
import sys
import time
from email.policy import default
from pathlib import Path

import pytest

from tests.conftest import Inbox
from tests.edgar_server import EdgarTestServer
from tests.test_cli import REPO, run_monitor
from tests.test_daily_job import env_for

DAYS = ("2025-05-27", "2025-05-28", "2025-05-29")  # NVIDIA's H20 10-Q came on the 28th


def settled_state(store: Path) -> dict[str, list[tuple[object, ...]]]:
    """What a run leaves that must not depend on faults: the filings and their findings
    (with change status), which filings each day took, and the alerts' recipients and
    subjects (the Message-ID is derived from them)."""
    with sqlite3.connect(store) as db:
        state = {
            table: sorted(db.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
            for table in ("filings", "sections", "findings", "run_filings")
        }
        state["filings"] = [row[:8] + row[11:] for row in state["filings"]]  # less errors
        state["alerts"] = sorted(
            db.execute("SELECT message_id, state FROM alerts WHERE subject NOT LIKE '%problem%'")
        )
    return state


def run_days_until_clean(env: dict[str, str], days: tuple[str, ...] = DAYS, tries: int = 8) -> int:
    """Each day's run, repeated until it ends cleanly (what cron would do the next day,
    here the same day); returns how many runs it took."""
    runs = 0
    for day in days:
        for _ in range(tries):
            runs += 1
            result = run_monitor("run", "--as-of", day, "--tickers", "NVDA", env=env)
            if result.returncode == 0:
                break
            assert result.returncode == 1, result.stderr
        else:
            raise AssertionError(f"{day}: still failing after {tries} runs")
    return runs


def delivered_ids(inbox: Inbox) -> list[str]:
    return [
        str(email.message_from_bytes(raw, policy=default)["Message-ID"])
        for raw in inbox.messages
        if b"problem(s)" not in raw.split(b"\r\n\r\n")[0]
    ]


def clean_run(
    edgar_server: EdgarTestServer, smtp_server: Inbox, tmp_path: Path
) -> dict[str, list[tuple[object, ...]]]:
    env = env_for(edgar_server, smtp_server, tmp_path / "clean")
    assert run_days_until_clean(env) == len(DAYS)
    return settled_state(tmp_path / "clean/monitor.db")


def test_a_chaotic_edgar_costs_retries_not_results(
    edgar_server: EdgarTestServer, smtp_server: Inbox, tmp_path: Path
) -> None:
    expected = clean_run(edgar_server, smtp_server, tmp_path)
    sent_clean = delivered_ids(smtp_server)
    assert len(sent_clean) == 1  # the H20 10-Q's alert
    edgar_server.chaos(0.3, seed=8, stall_s=2.5)
    env = env_for(edgar_server, smtp_server, tmp_path / "chaos") | {
        "MONITOR_EDGAR_TIMEOUT_S": "1",
        "MONITOR_EDGAR_MAX_RETRY_WAIT_S": "3",
    }
    runs = run_days_until_clean(env)
    assert runs > len(DAYS) and sum(edgar_server.injected.values()) >= 5  # it was tested
    assert settled_state(tmp_path / "chaos/monitor.db") == expected
    assert set(delivered_ids(smtp_server)) == set(sent_clean)  # never under another id
    assert edgar_server.max_requests_in_window(1.0) <= 10


def test_smtp_refusals_and_hang_ups_leave_the_alert_pending_then_sent_once(
    edgar_server: EdgarTestServer, smtp_server: Inbox, tmp_path: Path
) -> None:
    env = env_for(edgar_server, smtp_server, tmp_path)
    smtp_server.faults, smtp_server.fault_filter = ["4xx", "drop"], b"new warning(s)"  # alerts
    outcomes = []
    for _ in range(3):
        result = run_monitor("run", "--as-of", "2025-05-28", "--tickers", "NVDA", env=env)
        outcomes.append(result.returncode)
    assert outcomes == [1, 1, 0] and smtp_server.refused == 2
    (sent,) = delivered_ids(smtp_server)
    with sqlite3.connect(tmp_path / "monitor.db") as db:
        (attempts,) = db.execute(
            "SELECT attempts FROM alerts WHERE message_id = ?", (sent,)
        ).fetchone()
    assert attempts == 3


def test_two_runs_started_together_one_works_one_exits_3(mirror: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")} | {
        "MONITOR_EDGAR_MIRROR": str(mirror),
        "MONITOR_STORE_PATH": str(tmp_path / "monitor.db"),
        "MONITOR_OUTPUT_DIR": str(tmp_path / "out"),
    }
    command = [sys.executable, "-m", "monitor", "run", "--as-of", "2025-05-28", "--tickers", "NVDA"]
    both = [
        subprocess.Popen(
            command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    results = [(p.communicate(timeout=120)[1], p.returncode) for p in both]
    results = [(code, err) for err, code in results]
    assert sorted(code for code, _ in results) == [0, 3]
    (locked,) = [err for code, err in results if code == 3]
    (worked,) = [p.pid for p in both if p.returncode == 0]
    assert f"(pid {worked}, monitor run, since 20" in locked  # which job holds it, since when
    assert locked.strip().endswith("this one changes nothing and exits")
    assert len(list((tmp_path / "out/alerts").glob("*.eml"))) == 1


def test_a_run_killed_anywhere_is_finished_by_the_next(
    edgar_server: EdgarTestServer, smtp_server: Inbox, tmp_path: Path
) -> None:
    expected = clean_run(edgar_server, smtp_server, tmp_path)
    sent_clean = delivered_ids(smtp_server)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")} | env_for(
        edgar_server, smtp_server, tmp_path / "killed"
    )
    run_days_until_clean(env, DAYS[:1])
    command = [sys.executable, "-m", "monitor", "run", "--tickers", "NVDA", "--as-of", DAYS[1]]
    for delay_s in (1.5, 3.0):  # into the fetching, then into processing and the alert
        killed = subprocess.Popen(
            command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(delay_s)
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
    run_days_until_clean(env, DAYS[1:])
    assert settled_state(tmp_path / "killed/monitor.db") == expected
    assert set(delivered_ids(smtp_server)) == set(sent_clean)  # never under another id
    with sqlite3.connect(tmp_path / "killed/monitor.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_filing_that_keeps_failing_is_given_up_once_and_reported(
    edgar_server: EdgarTestServer, smtp_server: Inbox, tmp_path: Path
) -> None:
    env = env_for(edgar_server, smtp_server, tmp_path) | {"MONITOR_EDGAR_MAX_RETRY_WAIT_S": "0"}
    document = "000104581025000116/nvda-20250427.htm"
    edgar_server.inject("500", times=1000, path_contains=document)
    runs = [
        run_monitor("run", "--as-of", "2025-05-28", "--tickers", "NVDA", env=env) for _ in range(6)
    ]
    assert [r.returncode for r in runs] == [1, 1, 1, 1, 1, 0]
    assert "given up after 5 attempts" in runs[4].stderr + runs[4].stdout
    assert "given up" not in runs[3].stderr
    with sqlite3.connect(tmp_path / "monitor.db") as db:
        status = db.execute(
            "SELECT status, attempts FROM filings WHERE accession = '0001045810-25-000116'"
        ).fetchone()
    assert status == ("given_up", 5)
    tried = [r for r in edgar_server.requests if document in r.path]
    assert len(tried) == 5  # the sixth run left it alone
    ops = [m for m in smtp_server.messages if b"problem(s)" in m]
    assert len(ops) == 2 and b"given up after 5 attempts" in ops[-1]  # the same notice once


@pytest.mark.parametrize(
    ("broken", "named"),
    [
        ("companyfacts/CIK0001045810", "NVDA: company facts not refreshed: GET"),
        ("nvda-20230430.htm", "NVDA: company facts not refreshed: 0001045810-23-000093: GET"),
    ],
    ids=["companyfacts", "geography-document"],
)
def test_facts_that_failed_are_fetched_next_run_and_the_digest_rewritten(
    edgar_server: EdgarTestServer, smtp_server: Inbox, tmp_path: Path, broken: str, named: str
) -> None:
    """Found by the whole-history soak: a facts refresh that failed left the day's digest
    (and the store's signals) without the filing's financial signals for good, since the
    company had nothing left to alert. Now the company does not move on, its alert waits
    for the next run, which fetches its facts again, writes the day's digest again with
    them and sends the alert a clean run sent."""
    day = ("--as-of", "2025-05-28", "--tickers", "NVDA")
    clean = run_monitor("run", *day, env=env_for(edgar_server, smtp_server, tmp_path / "clean"))
    assert clean.returncode == 0, clean.stderr
    expected = (tmp_path / "clean/out/digests/2025-05-28.csv").read_text()
    assert "signal:writedown_share" in expected

    env = env_for(edgar_server, smtp_server, tmp_path) | {"MONITOR_EDGAR_MAX_RETRY_WAIT_S": "1"}
    edgar_server.inject("500", path_contains=broken, times=20)
    first = run_monitor("run", *day, env=env)
    assert first.returncode == 1 and named in first.stderr, first.stderr
    assert "alert none" in first.stderr  # the alert waits for the facts
    digest = tmp_path / "out/digests/2025-05-28.csv"
    assert "signal:" not in digest.read_text()

    edgar_server.heal()
    nxt = run_monitor("run", "--as-of", "2025-05-29", "--tickers", "NVDA", env=env)
    assert nxt.returncode == 0, nxt.stderr
    assert digest.read_text() == expected
    alerts = [m for m in smtp_server.messages if b"problem" not in m.split(b"\n\n")[0]]
    clean_alert, alert = [email.message_from_bytes(m, policy=default) for m in alerts]
    assert alert.get_body(("plain",)).get_content().replace("2025-05-29", "2025-05-28") == (
        clean_alert.get_body(("plain",)).get_content()
    )  # the same warnings and signals, sent a day later
    state, clean_state = (
        settled_state(tmp_path / "monitor.db"),
        settled_state(tmp_path / "clean/monitor.db"),
    )
    for table in ("filings", "sections", "findings"):
        assert state[table] == clean_state[table]
    with (
        sqlite3.connect(tmp_path / "monitor.db") as db,
        sqlite3.connect(tmp_path / "clean/monitor.db") as clean_db,
    ):
        for table in ("facts", "signals"):
            query = f"SELECT * FROM {table} ORDER BY 1, 2, 3"
            assert db.execute(query).fetchall() == clean_db.execute(query).fetchall()
