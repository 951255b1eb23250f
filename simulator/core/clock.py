"""Time as the simulator sees it: real time plus an offset that only moves forward.

Everything that asks "what time is it" takes a Clock, so tests and
`/_sim/clock/advance` move time without patching datetime.
"""
from __future__ import annotations

import functools
import math
import threading
import time
from typing import Callable, Protocol

# The most one `/_sim/clock/advance` (or a scenario's advance step) moves the clock: 10 years.
MAX_ADVANCE = 10 * 365 * 86400


class Clock(Protocol):
    def now(self) -> float: ...


# The latest moment the simulated clock may show: 9900-01-01T00:00:00Z. Well short of
# year 9999 (where dates stop formatting), leaving room for deadlines computed from now.
MAX_TIME = 250246627200.0


class SimClock:
    """Real time plus `offset` seconds; `advance` adds to the offset."""

    def __init__(self, offset: float = 0.0, source: Callable[[], float] = time.time):
        offset = float(offset)
        if not math.isfinite(offset) or offset < 0 or source() + offset > MAX_TIME:
            raise ValueError(f"the stored clock offset {offset!r} is not usable (reset the database)")
        self._offset = offset
        self._source = source
        self._lock = threading.Lock()

    @property
    def offset(self) -> float:
        return self._offset

    def now(self) -> float:
        return self._source() + self._offset

    def room(self) -> float:
        """How many seconds the clock may still be advanced."""
        return max(0.0, MAX_TIME - self.now())

    def advance(self, seconds: float) -> float:
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError("time only moves forward, by a finite number of seconds")
        if seconds > self.room():
            raise ValueError("the clock cannot pass 9900-01-01T00:00:00Z")
        with self._lock:
            self._offset += seconds
            return self.now()

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0


def rfc3339(ts: float) -> str:
    """UTC RFC 3339 with milliseconds, e.g. 2026-11-26T11:06:58.123Z."""
    whole = int(ts)
    ms = int(round((ts - whole) * 1000))
    if ms == 1000:
        whole, ms = whole + 1, 0
    return _seconds_text(whole) + f".{ms:03d}Z"


@functools.lru_cache(maxsize=256)
def _seconds_text(whole: int) -> str:
    # A sweep stamps thousands of events and history entries within the same few seconds.
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
