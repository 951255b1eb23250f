"""How many API requests are being served at this moment.

The HTTP app counts each request while its view runs (not while a streamed body, such
as an event stream, is read). Background work that would compete with requests for the
interpreter -- sealing accepted mail (service/sealing.py) -- looks here and waits for a
quiet moment.
"""
from __future__ import annotations

import threading


class Activity:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight = 0

    def enter(self) -> None:
        with self._lock:
            self._in_flight += 1

    def leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    @property
    def in_flight(self) -> int:
        return self._in_flight
