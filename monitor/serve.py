"""`monitor serve`: the daily job on a cron schedule, until SIGTERM or SIGINT.

APScheduler 3.x blocking scheduler; missed runs are coalesced into one, one instance at
a time, a run that starts late by at most `[schedule] misfire_grace_s` still runs. The
job takes the same lock as `monitor run`, `backfill` and `replay`, so a cron job and the
service never fetch at once. The first signal lets a running job finish (each filing is
its own transaction anyway); a second one exits at once.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Sequence
from datetime import datetime
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from monitor import daily
from monitor.errors import MonitorError
from monitor.models import EASTERN
from monitor.pipeline import LockError
from monitor.settings import Settings

logger = logging.getLogger(__name__)

_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab: 0 (and 7) = Sunday


def cron_trigger(expression: str, timezone: str) -> CronTrigger:
    """A standard 5-field crontab expression as an APScheduler 3 trigger.

    APScheduler 3 numbers weekdays from Monday = 0 where crontab has Sunday = 0, so its
    own `from_crontab` reads `1-5` as Tuesday to Saturday; weekday numbers become names."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"{expression!r}: a cron expression has 5 fields, not {len(fields)}")
    minute, hour, day, month, weekdays = fields
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=_weekday_names(weekdays),
        timezone=timezone,
    )


def _weekday_names(field: str) -> str:
    days: set[int] = set()
    for item in field.lower().split(","):
        span, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if span == "*":
            first, last = 0, 6
        else:
            low, _, high = span.partition("-")
            first = _weekday_number(low)
            last = _weekday_number(high) if high else (6 if step_text else first)
        if step < 1 or last < first:
            raise ValueError(f"day-of-week {field!r}: {item!r} is not a valid range")
        days.update(number % 7 for number in range(first, last + 1, step))
    if len(days) == 7:
        return "*"
    monday_first = sorted(days, key=lambda number: (number + 6) % 7)
    return ",".join(_CRON_DAYS[number] for number in monday_first)


def _weekday_number(text: str) -> int:
    if text in _CRON_DAYS:
        return _CRON_DAYS.index(text)
    if text.isdigit() and 0 <= int(text) <= 7:
        return int(text)  # 7 stays 7 so that 5-7 is a range; it is taken modulo 7
    raise ValueError(f"day-of-week {text!r}: use 0-7 (0 and 7 are Sunday) or sun-sat")


def serve(
    settings: Settings, *, tickers: Sequence[str] | None = None, run_now: bool = False
) -> int:
    """Run the daily job on `[schedule] cron` until a signal; 0 after a clean stop."""
    trigger = cron_trigger(settings.schedule.cron, settings.schedule.timezone)
    scheduler = BlockingScheduler(
        timezone=settings.schedule.timezone,
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": settings.schedule.misfire_grace_s,
        },
    )
    job = scheduler.add_job(
        _daily_job, trigger, args=(settings, tickers), id="daily", name="daily job"
    )
    if run_now:
        job.modify(next_run_time=datetime.now(EASTERN))
    signals_seen: list[int] = []

    def stop(number: int, frame: FrameType | None) -> None:
        signals_seen.append(number)
        if len(signals_seen) > 1:
            logger.warning("second %s: exiting now", signal.Signals(number).name)
            os._exit(128 + number)
        logger.info("%s: stopping; a running job finishes first", signal.Signals(number).name)
        # Not here: the signal may land while the scheduler's loop holds its Event's lock
        # (in wait() or clear()), and shutdown's Event.set() would then wait forever on a
        # lock this very thread holds. A thread of its own waits for the loop to let go.
        threading.Thread(target=scheduler.shutdown, kwargs={"wait": False}).start()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        logger.info(
            "serving: cron %r in %s; next run %s",
            settings.schedule.cron,
            settings.schedule.timezone,
            trigger.get_next_fire_time(None, datetime.now(EASTERN)),
        )
        scheduler.start()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    logger.info("stopped")
    return 0


def _daily_job(settings: Settings, tickers: Sequence[str] | None) -> None:
    """One scheduled run; its outcome is logged, never raised (the service goes on)."""
    now = datetime.now(EASTERN)
    try:
        result = daily.run_once(settings, now=now, tickers=tickers)
    except LockError as exc:
        logger.warning("scheduled run skipped: %s", exc)
        return
    except MonitorError as exc:
        logger.error("scheduled run failed: %s", exc)
        return
    logger.info(
        "scheduled run %s: %d new filing(s), %d processed, %d failed; digest %s; alert %s",
        now.date(),
        len(result.discovery.filings),
        result.report.processed,
        len(result.report.failed),
        result.digest,
        result.alert or "none",
    )
