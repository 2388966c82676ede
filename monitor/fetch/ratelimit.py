"""One request budget for the whole process: SEC allows at most 10 requests per second."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

MAX_RATE_PER_S = 10.0
WINDOW_S = 1.1  # over one second, so jitter between us and SEC never makes 11 in a second


class RateLimiter:
    """Spaces requests at least 1/rate apart and keeps any window of WINDOW_S under the rate.

    Thread-safe; every EdgarClient in the process shares `PROCESS_RATE_LIMITER`, so
    several clients (or threads) together still stay within the budget.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._sent: deque[float] = deque(maxlen=int(MAX_RATE_PER_S))

    def wait(self, rate_per_s: float) -> float:
        """Block until one more request fits the budget; return the seconds waited."""
        rate = min(rate_per_s, MAX_RATE_PER_S)
        per_window = max(1, math.floor(rate))
        with self._lock:
            now = self._clock()
            delay = 0.0
            if self._sent:
                delay = self._sent[-1] + 1.0 / rate - now
            if len(self._sent) >= per_window:
                delay = max(delay, self._sent[-per_window] + WINDOW_S - now)
            if delay > 0:
                self._sleep(delay)
                now = self._clock()
            self._sent.append(now)
            return max(delay, 0.0)


PROCESS_RATE_LIMITER = RateLimiter()
