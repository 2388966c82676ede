"""The reliability soak behind scripts/soak (see README "Reliability")."""

from __future__ import annotations

import argparse
import csv
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
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


def digest_rows(out: Path) -> Counter[tuple[str, ...]]:
    """Every row of every day's digest, less its run date: a filing that faults delayed
    is in a later day's digest, but in one, once, with the same content."""
    rows: Counter[tuple[str, ...]] = Counter()
    for path in sorted((out / "digests").glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            rows.update(tuple(row[1:]) for row in list(csv.reader(handle))[1:])
    return rows


def replay(
    args: argparse.Namespace, work: Path, *, rate: float
) -> tuple[Inbox, EdgarTestServer, float, int, int]:
    """The replay over the window against a server of its own failing `rate` of requests,
    then the daily job again until it exits 0; (inbox, server, seconds, first exit, reruns)."""
    server, inbox = EdgarTestServer(args.mirror), Inbox(free_port())
    server.start()
    inbox.start()
    window = ("--from", args.start, "--to", args.end, "--tickers", *args.tickers, "--send")
    env = environment(server, inbox, work)
    server.chaos(rate, seed=args.seed, stall_s=1.5)
    started = time.monotonic()
    first = monitor("replay", *window, env=env).returncode
    reruns = 0
    while rate:  # what cron does: the daily job again, until nothing is pending or failed
        rerun = monitor("run", "--as-of", args.end, "--tickers", *args.tickers, env=env)
        reruns += 1
        if rerun.returncode == 0:
            break
        assert reruns < 30, rerun.stderr[-2000:]
    assert first == 0 or rate, f"the clean replay exited {first}"
    seconds = time.monotonic() - started
    server.chaos(0.0)
    return inbox, server, seconds, first, reruns


def soak(args: argparse.Namespace, work: Path) -> None:
    with ThreadPoolExecutor(2) as pool:  # side by side: each against its own server
        clean_run = pool.submit(replay, args, work / "clean", rate=0.0)
        chaos_run = pool.submit(replay, args, work / "chaos", rate=args.rate)
        clean_inbox, clean_server, clean_s, _, _ = clean_run.result()
        inbox, server, seconds, first, reruns = chaos_run.result()
    for running in (clean_inbox, inbox, clean_server, server):
        running.stop()
    clean_db, chaos_db = work / "clean/monitor.db", work / "chaos/monitor.db"
    clean_sent, sent = Counter(delivered_ids(clean_inbox)), Counter(delivered_ids(inbox))
    say(
        f"clean replay {args.start}..{args.end} of {' '.join(args.tickers)}: {clean_s:.0f} s, "
        f"{len(clean_server.requests)} requests, "
        f"{len(stored(clean_db)['run_filings'])} filings processed, "
        f"{len(clean_sent)} alerts, {sum(digest_rows(work / 'clean/out').values())} digest rows"
    )
    say(
        f"chaos replay (exit {first}) + {reruns} run(s): {seconds:.0f} s, "
        f"{len(server.requests)} requests, faults injected {sum(server.injected.values())} "
        f"{dict(sorted(server.injected.items()))}"
    )
    same_store = stored(chaos_db) == stored(clean_db)
    same_alerts = alerted(chaos_db) == alerted(clean_db)
    same_digests = digest_rows(work / "chaos/out") == digest_rows(work / "clean/out")
    with sqlite3.connect(chaos_db) as db:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    say(
        f"  filings processed {len(stored(chaos_db)['run_filings'])}, "
        f"alerts sent {len(sent)} (clean {len(clean_sent)}), sent twice "
        f"{sum(1 for n in sent.values() if n > 1)}, store equal {same_store}, "
        f"digest rows equal {same_digests}, "
        f"alerted warnings equal {same_alerts} ({len(alerted(clean_db))}), "
        f"integrity {integrity}, max requests in any 1 s "
        f"{server.max_requests_in_window(1.0)} (clean {clean_server.max_requests_in_window(1.0)})"
    )
    assert same_store and same_alerts and same_digests and integrity == "ok"
    assert max(sent.values(), default=1) == 1
    assert server.max_requests_in_window(1.0) <= 10


def kills(args: argparse.Namespace, work: Path) -> None:
    server, inbox = EdgarTestServer(args.mirror), Inbox(free_port())
    server.start()
    inbox.start()
    try:
        _kills(args, server, inbox, work)
    finally:
        inbox.stop()
        server.stop()


def _kills(args: argparse.Namespace, server: EdgarTestServer, inbox: Inbox, work: Path) -> None:
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
    args.mirror = Path(os.environ.get("MONITOR_EDGAR_MIRROR", REPO.parent / "shared/edgar"))
    with tempfile.TemporaryDirectory(prefix="soak-") as work, ThreadPoolExecutor(2) as pool:
        # The kill trials use days of their own: they run beside the soak, not after it.
        jobs = [pool.submit(soak, args, Path(work)), pool.submit(kills, args, Path(work))]
        for job in jobs:
            job.result()


if __name__ == "__main__":
    main()
