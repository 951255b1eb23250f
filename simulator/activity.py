"""How many API requests are being served at this moment.

The HTTP app counts each request while its view runs (not while a streamed body, such
as an event stream, is read); the SMTP interface counts each message while it stores it. Background work that would compete with requests for the
interpreter -- sealing accepted mail (service/sealing.py) -- looks here and waits for a
quiet moment.
"""
from __future__ import annotations

import threading
import time


class Activity:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight = 0
        self._last = 0.0  # monotonic time a request last came or went

    def enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self._last = time.monotonic()

    def leave(self) -> None:
        with self._lock:
            self._in_flight -= 1
            self._last = time.monotonic()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def quiet_for(self) -> float:
        """Seconds since the last request ended, none being served now (0 while one is). Under
        load a moment with no request in flight is common -- the server is reading the next --
        and no sign of quiet."""
        return 0.0 if self._in_flight else time.monotonic() - self._last
