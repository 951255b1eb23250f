"""The in-process event bus behind `GET /_sim/events`, the dashboard and the logs.

The facade publishes what happened (`transition`, `check`, `sent`, `rejected`,
`relay`, `identity`, `dns`, `clock`, `reset`) after it is committed. Each event
gets the next integer id; its JSON body is serialised once, when first wanted (by a
stream or a log line): a sweep publishes an event per check, mostly read by nobody.

- A ring buffer keeps the last `history` events (1,000 by default) so that a
  client reconnecting with `Last-Event-ID` gets what it missed.
- Each subscriber has a bounded queue. A publisher never waits for a
  subscriber: when a subscriber's queue is full, that subscriber is DROPPED
  (its stream ends; it reconnects with `Last-Event-ID` and is replayed from the
  ring buffer). Dropping the client rather than its oldest events means a
  client never sees a silent gap in the ids it is given.
- Listeners are plain callables run in the publisher's thread, in id order
  (the logger is one); they must be quick and must not raise.
"""
from __future__ import annotations

import json
import threading
import time
from collections import deque
from typing import Callable, Iterable

KINDS = ("transition", "check", "sent", "rejected", "relay", "identity", "dns", "clock", "outbox", "reset")


class Event:
    """One published event. `body` (`data` as JSON) and `frame` (the Server-Sent Events
    frame, the same for every subscriber) are built on first use and kept; `data` is
    not to be changed once published."""

    __slots__ = ("id", "kind", "data", "_body", "_frame")

    def __init__(self, id: int, kind: str, data: dict) -> None:
        self.id, self.kind, self.data = id, kind, data
        self._body: str | None = None
        self._frame: bytes | None = None

    @classmethod
    def make(cls, id: int, kind: str, data: dict) -> "Event":
        return cls(id, kind, data)

    @property
    def body(self) -> str:
        # Unlocked: two threads racing here compute the same text, and either one is kept.
        if self._body is None:
            self._body = json.dumps(self.data, default=str, separators=(",", ":"))
        return self._body

    @property
    def frame(self) -> bytes:
        if self._frame is None:
            self._frame = f"id: {self.id}\nevent: {self.kind}\ndata: {self.body}\n\n".encode()
        return self._frame

    def __repr__(self) -> str:
        return f"Event(id={self.id}, kind={self.kind!r}, data={self.data!r})"


class Subscription:
    """One subscriber's bounded queue; `get` blocks until an event, a timeout or the end."""

    def __init__(self, bus: "EventBus", limit: int):
        self._bus = bus
        self._limit = limit
        self._queue: deque[Event] = deque()
        self._cond = threading.Condition(threading.Lock())
        self.closed = False
        self.dropped = False  # True when it fell `limit` events behind and was cut off

    def _push(self, event: Event) -> bool:
        with self._cond:
            if self.closed:
                return False
            if len(self._queue) >= self._limit:
                self.dropped = self.closed = True
                self._queue.clear()
                self._cond.notify_all()
                return False
            self._queue.append(event)
            self._cond.notify()
            return True

    def _extend(self, events: Iterable[Event]) -> None:
        with self._cond:
            self._queue.extend(events)

    def get_batch(self, timeout: float | None = None, limit: int = 256) -> list[Event]:
        """The queued events (at most `limit`), waiting up to `timeout` for one;
        [] on timeout or once closed (then `closed` is True)."""
        with self._cond:
            if not self._queue and not self.closed:
                self._cond.wait(timeout)
            batch = []
            while self._queue and len(batch) < limit:
                batch.append(self._queue.popleft())
            return batch

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()
        self._bus._unsubscribe(self)

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class EventBus:
    def __init__(self, history: int = 1000, queue_limit: int = 1000, clock: Callable[[], float] = time.time):
        if history < 1 or queue_limit < 1:
            raise ValueError("history and queue_limit must be positive")
        self._lock = threading.Lock()
        self._ring: deque[Event] = deque(maxlen=history)
        self._subscribers: list[Subscription] = []
        self._listeners: list[Callable[[Event], None]] = []
        self._next_id = 1
        self._queue_limit = queue_limit
        self._clock = clock
        self.closed = False

    @property
    def last_id(self) -> int:
        return self._next_id - 1

    def publish(self, kind: str, data: dict) -> int:
        """Record and fan out one event; returns its id. Never blocks on a subscriber."""
        if kind not in KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        with self._lock:  # ids, ring order, fan-out order and listener order all agree
            event = Event.make(self._next_id, kind, data)
            self._next_id += 1
            self._ring.append(event)
            subscribers = self._subscribers
            for subscriber in subscribers:
                if not subscriber._push(event):
                    self._subscribers = [s for s in self._subscribers if not s.closed]
            for listener in self._listeners:
                listener(event)
        return event.id

    def subscribe(self, last_event_id: int | None = None) -> Subscription:
        """A new subscription. With `last_event_id`, the events after it that the ring
        still holds come first (all of them if that id is from an earlier process)."""
        subscription = Subscription(self, self._queue_limit)
        with self._lock:
            if self.closed:
                subscription.closed = True
                return subscription
            if last_event_id is not None:
                if last_event_id > self.last_id:  # ids restarted (a new process): replay everything
                    last_event_id = 0
                subscription._extend(e for e in self._ring if e.id > last_event_id)
            self._subscribers = [*self._subscribers, subscription]
        return subscription

    def _unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscribers = [s for s in self._subscribers if s is not subscription]

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def add_listener(self, listener: Callable[[Event], None]) -> None:
        with self._lock:
            self._listeners = [*self._listeners, listener]

    def remove_listener(self, listener: Callable[[Event], None]) -> None:
        with self._lock:
            self._listeners = [x for x in self._listeners if x is not listener]

    def recent(self, limit: int = 50) -> list[Event]:
        with self._lock:
            return list(self._ring)[-limit:]

    def close(self) -> None:
        """End every stream (shutdown); later subscriptions start closed."""
        with self._lock:
            self.closed = True
            subscribers, self._subscribers = self._subscribers, []
        for subscriber in subscribers:
            with subscriber._cond:
                subscriber.closed = True
                subscriber._cond.notify_all()
