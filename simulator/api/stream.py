"""`GET /_sim/events`: the event bus as Server-Sent Events (SPEC §13).

Each frame is `id: <n>`, `event: <kind>`, `data: <json>`. A reconnecting client
sends `Last-Event-ID` (or `?last_event_id=`) and first gets what it missed
that the bus still holds. A comment line goes out every `SSE_KEEPALIVE` seconds
so proxies keep the connection and a vanished client is noticed.

A stream holds one of the HTTP server's app threads for as long as it is open, so
streams are capped (`SSE_STREAMS`, default 32): the runtime gives the server that
many threads on top of the API's, so open streams never starve the API. Beyond the
cap the answer is 503 in the /_sim envelope.
"""
from __future__ import annotations

import threading
import time

from flask import Blueprint, Response, current_app, request

from ..core.errors import ValidationError
from .control import envelope_error, render_error
from .guard import guard_control
from .wire import sim

bp = Blueprint("events", __name__, url_prefix="/_sim")
bp.before_request(guard_control)  # same-site only, and the --control-token, as all of /_sim
bp.register_error_handler(Exception, render_error)  # the /_sim envelope, as the control plane

# A stream learns that its client left only when a write fails, so this is also how long
# a closed stream can hold its slot (a reloaded dashboard leaves one behind each time).
KEEPALIVE_SECONDS = 5.0
# After sending, a stream waits this long before it looks again, so a burst of
# events goes out as one write instead of a wake-up and a write per event per client.
COALESCE_SECONDS = 0.2
DEFAULT_STREAMS = 32
_slots_lock = threading.Lock()


def _slots() -> threading.BoundedSemaphore:
    extensions = current_app.extensions
    with _slots_lock:
        if "mailfrom_sim_sse_slots" not in extensions:
            extensions["mailfrom_sim_sse_slots"] = threading.BoundedSemaphore(
                current_app.config.get("SSE_STREAMS", DEFAULT_STREAMS))
        return extensions["mailfrom_sim_sse_slots"]


def _last_event_id() -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    if raw is None or raw.strip() == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError("Last-Event-ID must be an integer event id") from None
    if value < 0:
        raise ValidationError("Last-Event-ID must be an integer event id")
    return value


@bp.get("/events")
def events() -> Response:
    last_event_id = _last_event_id()
    slots = _slots()
    if not slots.acquire(blocking=False):
        response = envelope_error("UNAVAILABLE", "too many open event streams; close one or try again later", 503)
        response.headers["Retry-After"] = "5"
        return response
    subscription = sim().events.subscribe(last_event_id)
    keepalive = float(current_app.config.get("SSE_KEEPALIVE", KEEPALIVE_SECONDS))
    coalesce = float(current_app.config.get("SSE_COALESCE", COALESCE_SECONDS))
    released = threading.Event()

    def release() -> None:
        if not released.is_set():
            released.set()
            subscription.close()
            slots.release()

    def stream():
        try:
            yield b"retry: 1000\n: mailfrom-sim events\n\n"
            while True:
                batch = subscription.get_batch(keepalive)
                if batch:
                    yield b"".join(event.frame for event in batch)
                    if coalesce > 0 and not subscription.closed:
                        time.sleep(coalesce)
                elif subscription.closed:  # shutting down, or dropped for falling behind
                    return
                else:
                    yield b": keep-alive\n\n"
        finally:
            release()

    response = Response(stream(), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    response.call_on_close(release)  # also when the body was never iterated
    return response
