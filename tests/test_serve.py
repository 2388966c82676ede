"""`monitor serve`: the cron trigger, and the service as a process that runs the job,
shares the lock, and stops cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.pipeline import job_lock
from monitor.serve import cron_trigger
from tests.test_cli import REPO, run_monitor

NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("weekdays", "after", "fires"),
    [
        # crontab's 1-5 is Monday to Friday (APScheduler 3's own from_crontab reads it as
        # Tuesday to Saturday): from Friday 08:00 the next run is Monday 07:00.
        ("1-5", datetime(2026, 11, 27, 8), datetime(2026, 11, 30, 7)),
        ("1-5", datetime(2026, 11, 30, 6), datetime(2026, 11, 30, 7)),
        ("0", datetime(2026, 11, 27, 8), datetime(2026, 11, 29, 7)),  # 0 is Sunday
        ("7", datetime(2026, 11, 27, 8), datetime(2026, 11, 29, 7)),  # so is 7
        ("5-7", datetime(2026, 11, 27, 8), datetime(2026, 11, 28, 7)),
        ("sat,sun", datetime(2026, 11, 26, 8), datetime(2026, 11, 28, 7)),
        ("*/2", datetime(2026, 11, 29, 8), datetime(2026, 12, 1, 7)),  # Sun, Tue, Thu, Sat
        ("*", datetime(2026, 11, 27, 8), datetime(2026, 11, 28, 7)),
    ],
)
def test_cron_weekdays_mean_what_crontab_means(
    weekdays: str, after: datetime, fires: datetime
) -> None:
    trigger = cron_trigger(f"0 7 * * {weekdays}", "America/New_York")
    next_time = trigger.get_next_fire_time(None, after.replace(tzinfo=NEW_YORK))
    assert next_time == fires.replace(tzinfo=NEW_YORK)


def test_a_weekday_out_of_range_is_a_configuration_error(tmp_path: Path) -> None:
    bad = run_monitor("serve", env={"MONITOR_SCHEDULE_CRON": "0 7 * * 1-8"})
    assert bad.returncode == 2
    assert "MONITOR_SCHEDULE_CRON" in bad.stderr and "day-of-week" in bad.stderr


def start_service(tmp_path: Path, mirror: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")} | {
        "MONITOR_EDGAR_MIRROR": str(mirror),
        "MONITOR_STORE_PATH": str(tmp_path / "monitor.db"),
        "MONITOR_OUTPUT_DIR": str(tmp_path / "out"),
        "MONITOR_EDGAR_CACHE_DIR": str(tmp_path / "cache"),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "serve", "--tickers", "NVDA", *args],
        env=env, cwd=REPO, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def read_until(service: subprocess.Popen[str], needle: str, timeout_s: float = 60) -> str:
    """The service's log up to the first line containing `needle`."""
    assert service.stderr is not None
    seen = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = service.stderr.readline()
        if not line and service.poll() is not None:
            break
        seen.append(line)
        if needle in line:
            return "".join(seen)
    service.kill()
    raise AssertionError(f"no {needle!r} in the service's log:\n{''.join(seen)}")


def stop(service: subprocess.Popen[str], number: signal.Signals) -> tuple[int, str]:
    service.send_signal(number)
    _, rest = service.communicate(timeout=30)
    return service.returncode, rest


def test_the_service_runs_the_job_and_stops_on_sigterm(tmp_path: Path, mirror: Path) -> None:
    service = start_service(tmp_path, mirror, "--run-now")
    log = read_until(service, "scheduled run")
    assert "serving: cron '0 7 * * 1-5' in America/New_York; next run" in log
    assert "0 failed" in log
    today = datetime.now(NEW_YORK).date()
    assert (tmp_path / f"out/digests/{today}.csv").exists()  # the job wrote the day's digest
    status, rest = stop(service, signal.SIGTERM)
    assert status == 0 and "SIGTERM: stopping" in rest and "stopped" in rest


def test_the_service_skips_a_run_while_another_job_holds_the_lock(
    tmp_path: Path, mirror: Path
) -> None:
    with job_lock(tmp_path / "monitor.db"):
        service = start_service(tmp_path, mirror, "--run-now")
        log = read_until(service, "scheduled run")
    assert "scheduled run skipped: another monitor job holds" in log
    assert service.poll() is None  # the service goes on to the next scheduled run
    status, rest = stop(service, signal.SIGINT)
    assert status == 0 and "SIGINT: stopping" in rest
    assert not (tmp_path / "out/digests").exists()
