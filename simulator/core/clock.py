"""Time as the simulator sees it: real time plus an offset that only moves forward.

Everything that asks "what time is it" takes a Clock, so tests and
`/_sim/clock/advance` move time without patching datetime.
"""
from __future__ import annotations

import threading
import time
from typing import Callable, Protocol

# The most one `/_sim/clock/advance` (or a scenario's advance step) moves the clock: 10 years.
MAX_ADVANCE = 10 * 365 * 86400


class Clock(Protocol):
    def now(self) -> float: ...


class SimClock:
    """Real time plus `offset` seconds; `advance` adds to the offset."""

    def __init__(self, offset: float = 0.0, source: Callable[[], float] = time.time):
        self._offset = float(offset)
        self._source = source
        self._lock = threading.Lock()

    @property
    def offset(self) -> float:
        return self._offset

    def now(self) -> float:
        return self._source() + self._offset

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("time only moves forward")
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
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{ms:03d}Z"
