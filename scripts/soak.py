"""The reliability soak behind scripts/soak (see README "Reliability")."""

from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conftest import Inbox, free_port  # noqa: E402
from tests.edgar_server import EdgarTestServer  # noqa: E402
from tests.test_daily_job import env_for  # noqa: E402
from tests.test_reliability import DAYS, delivered_ids, settled_state  # noqa: E402


def say(*lines: str) -> None:
    sys.stdout.write("".join(lines) + "\n")
    sys.stdout.flush()


def monitor(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args], env=env, cwd=REPO,
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def environment(server: EdgarTestServer, inbox: Inbox, work: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    return (
        base
        | env_for(server, inbox, work)
        | {"MONITOR_EDGAR_TIMEOUT_S": "1", "MONITOR_EDGAR_MAX_RETRY_WAIT_S": "4"}
    )


def alerted(store: Path) -> set[tuple[str, str, str]]:
    """(accession, finding id, category) of every warning an alert covered."""
    with sqlite3.connect(store) as db:
        return set(
            db.execute(
                "SELECT x.accession, x.finding_id, x.category FROM run_filings r "
                "JOIN findings x ON x.accession = r.accession "
                "WHERE r.alert != '' AND x.change IN ('new', 'changed')"
            ).fetchall()
        )


def stored(store: Path) -> dict[str, list[tuple[object, ...]]]:
    state = settled_state(store)
    state["run_filings"] = sorted((row[1],) for row in state["run_filings"])  # any day
    del state["alerts"]  # which day's alert carried a delayed filing may differ
    return state


def soak(args: argparse.Namespace, server: EdgarTestServer, inbox: Inbox, work: Path) -> None:
    window = ("--from", args.start, "--to", args.end, "--tickers", *args.tickers, "--send")
    clean_env = environment(server, inbox, work / "clean")
    started = time.monotonic()
    clean = monitor("replay", *window, env=clean_env)
    assert clean.returncode == 0, clean.stderr[-2000:]
    say(f"clean replay: {time.monotonic() - started:.0f} s, {clean.stderr.splitlines()[-1]}")
    clean_sent = Counter(delivered_ids(inbox))
    inbox.messages.clear()

    server.chaos(args.rate, seed=args.seed, stall_s=1.5)
    requests_before = len(server.requests)
    chaos_env = environment(server, inbox, work / "chaos")
    started = time.monotonic()
    first = monitor("replay", *window, env=chaos_env)
    reruns = 0
    while True:  # what cron does: the daily job again, until nothing is pending or failed
        rerun = monitor("run", "--as-of", args.end, "--tickers", *args.tickers, env=chaos_env)
        reruns += 1
        if rerun.returncode == 0:
            break
        assert reruns < 30, rerun.stderr[-2000:]
    server.chaos(0.0)
    seconds = time.monotonic() - started
    chaos_requests = len(server.requests) - requests_before
    sent = Counter(delivered_ids(inbox))
    same_store = stored(work / "chaos/monitor.db") == stored(work / "clean/monitor.db")
    same_alerts = alerted(work / "chaos/monitor.db") == alerted(work / "clean/monitor.db")
    say(
        f"chaos replay (exit {first.returncode}) + {reruns} run(s): {seconds:.0f} s, "
        f"{chaos_requests} requests, faults injected {sum(server.injected.values())} "
        f"{dict(sorted(server.injected.items()))}"
    )
    say(
        f"  filings processed {len(stored(work / 'chaos/monitor.db')['run_filings'])}, "
        f"alerts sent {len(sent)} (clean {len(clean_sent)}), sent twice "
        f"{sum(1 for n in sent.values() if n > 1)}, store equal {same_store}, "
        f"alerted warnings equal {same_alerts} ({len(alerted(work / 'clean/monitor.db'))}), "
        f"max requests in any 1 s {server.max_requests_in_window(1.0)}"
    )
    assert same_store and same_alerts and max(sent.values(), default=1) == 1
    assert server.max_requests_in_window(1.0) <= 10


def kills(args: argparse.Namespace, server: EdgarTestServer, inbox: Inbox, work: Path) -> None:
    inbox.messages.clear()  # expected: just the clean run's alert, not the soak's
    env = environment(server, inbox, work / "kill-clean")
    for day in DAYS:
        assert monitor("run", "--as-of", day, "--tickers", "NVDA", env=env).returncode == 0
    expected = settled_state(work / "kill-clean/monitor.db")
    expected_ids = set(delivered_ids(inbox))
    rng = random.Random(args.seed)
    resent = 0
    for trial in range(args.kills):
        inbox.messages.clear()
        env = environment(server, inbox, work / f"kill-{trial}")
        assert monitor("run", "--as-of", DAYS[0], "--tickers", "NVDA", env=env).returncode == 0
        command = [sys.executable, "-m", "monitor", "run", "--tickers", "NVDA", "--as-of", DAYS[1]]
        delay = rng.uniform(0.3, 8.0)
        victim = subprocess.Popen(
            command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(delay)
        victim.send_signal(signal.SIGKILL)
        finished_first = victim.wait(timeout=60) != -signal.SIGKILL
        codes = []
        for day in DAYS[1:]:
            for _ in range(5):
                rerun = monitor("run", "--as-of", day, "--tickers", "NVDA", env=env)
                codes.append(rerun.returncode)
                if codes[-1] == 0:
                    break
        store = work / f"kill-{trial}/monitor.db"
        with sqlite3.connect(store) as db:
            integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        ids = Counter(delivered_ids(inbox))
        resent += sum(n - 1 for n in ids.values())
        state = settled_state(store)
        differ = [k for k in expected if state[k] != expected[k]]
        ok = not differ and set(ids) == expected_ids and integrity == "ok"
        say(
            f"kill {trial + 1:2d} at {delay:4.1f} s"
            f"{' (the run had finished)' if finished_first else ''}: "
            f"state equal {ok}{f' (differs: {differ})' if differ else ''}, alerts {dict(ids)}, "
            f"reruns exited {codes}"
        )
        assert ok
    say(f"kills: {args.kills} trials, all equal to the clean run; resent (same id) {resent}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--from", dest="start", default="2025-04-01")
    parser.add_argument("--to", dest="end", default="2025-06-30")
    parser.add_argument("--tickers", nargs="+", default=["NVDA", "AAPL", "TSLA", "BA"])
    parser.add_argument("--rate", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kills", type=int, default=20)
    args = parser.parse_args()
    mirror = Path(os.environ.get("MONITOR_EDGAR_MIRROR", REPO.parent / "shared/edgar"))
    server = EdgarTestServer(mirror)
    server.start()
    inbox = Inbox(free_port())
    inbox.start()
    try:
        with tempfile.TemporaryDirectory(prefix="soak-") as work:
            soak(args, server, inbox, Path(work))
            kills(args, server, inbox, Path(work))
    finally:
        inbox.stop()
        server.stop()


if __name__ == "__main__":
    main()
