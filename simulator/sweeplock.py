"""One check sweep at a time, without letting a slow sweep hold anyone for long (SPEC §14).

The holder of a `SweepLock` gets a cancel Event, which its DNS lookups watch
(`MxResolver.lookup_many(cancel=...)`): a waiting caller sets it to make the
sweep stop asking and finish with what it has. Who may interrupt whom:
- a scheduled sweep yields to any control-plane call (checks/run, advance,
  reset) and to a stop; a scheduler tick never waits: it skips if one runs;
- a control-plane sweep (checks/run, advance) is interrupted only by a reset
  or a stop; another control-plane call waits for it at most `wait` seconds
  and then gets a 409 CONFLICT (it is bounded anyway: batches have a deadline);
- after `close()` every sweep starts cancelled.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator

from .core.errors import Conflict

# How long a control-plane call waits for a sweep it may not interrupt.
SWEEP_LOCK_WAIT = 30.0
_POLL_SECONDS = 0.05


class SweepLock:
    def __init__(self, wait: float = SWEEP_LOCK_WAIT) -> None:
        self.wait = wait
        self._lock = threading.Lock()
        self._holder: tuple[threading.Event, bool] | None = None  # (its cancel, may a control call interrupt it)
        self._closed = False
        self._state = threading.Lock()  # `_closed` and `_holder` change together

    @contextmanager
    def scheduled(self) -> Iterator[threading.Event | None]:
        """For a scheduler tick: the cancel Event, or None when a sweep is running already."""
        if not self._lock.acquire(blocking=False):
            yield None
            return
        with self._held(interruptible=True) as cancel:
            yield cancel

    @contextmanager
    def control(self, *, interrupt_any: bool = False) -> Iterator[threading.Event]:
        """For a control-plane call: interrupts a scheduled sweep (any sweep with
        `interrupt_any`, as a reset does) and waits for the lock at most `wait` seconds."""
        give_up = time.monotonic() + self.wait
        while True:
            holder = self._holder
            if holder is not None and (interrupt_any or holder[1]):
                holder[0].set()
            if self._lock.acquire(timeout=_POLL_SECONDS):
                break
            if time.monotonic() >= give_up:
                raise Conflict(f"a check sweep started by another request is still running after {self.wait:.0f} "
                               "seconds; try again")
        with self._held(interruptible=False) as cancel:
            yield cancel

    @contextmanager
    def _held(self, *, interruptible: bool) -> Iterator[threading.Event]:
        """The lock is already taken: publish the holder's cancel, and release at the end."""
        cancel = threading.Event()
        with self._state:
            if self._closed:
                cancel.set()
            self._holder = (cancel, interruptible)
        try:
            yield cancel
        finally:
            self._holder = None
            self._lock.release()

    def close(self) -> None:
        """Stopping: the running sweep stops asking, and every later one starts cancelled."""
        with self._state:
            self._closed = True
            if self._holder is not None:
                self._holder[0].set()
