"""The simulator's log lines: one INFO line per status transition, send decision and
relay result, written by a listener on the event bus, so the facade itself never
logs. `serve --log-level` and `--log-format text|json` configure them.
"""
from __future__ import annotations

import json
import logging
import sys
import time

from .events import Event

log = logging.getLogger("mailfrom_sim")

# A transition's `check` -> what its line calls the check, and the DNS answers it shows.
_CHECK_WORDS = {"mail_from": ("MAIL FROM", "MX"), "verification": ("verification", "records")}

# kind -> (level, how the event reads as one line)
_LINES = {
    "transition": (logging.INFO, lambda d: (
        f"{d['identity']} [{d['account']}/{d['region']}] {_CHECK_WORDS[d.get('check') or 'mail_from'][0]} "
        f"{d.get('domain') or '-'}: {d['from'] or '(none)'} -> {d['to'] or '(none)'} on {d['event']}"
        + (f" ({_CHECK_WORDS[d.get('check') or 'mail_from'][1]}: {', '.join(d['answers'])})" if d.get("answers") else "")
        + (f" ({d['error']})" if d.get("error") else ""))),
    "sent": (logging.INFO, lambda d: (
        f"sent {d['message_id']} from {d['from']} [{d['account']}/{d['region']}]: "
        f"envelope {d['envelope_from']} ({d['mail_from_decision']}: {d.get('reason') or '-'})")),
    "rejected": (logging.INFO, lambda d: (
        f"rejected {d.get('message_id') or 'send'} from {d['from']} [{d['account']}/{d['region']}]: "
        f"{d.get('reason') or '-'}")),
    "relay": (logging.INFO, lambda d: f"relay {d['message_id']}: {d['relay']}"),
    "check": (logging.DEBUG, lambda d: (
        f"check {d['domain']} for {d['identity']}: {(d.get('lookup') or {}).get('outcome')} "
        f"{d['from']} -> {d['to']}")),
    "identity": (logging.DEBUG, lambda d: f"identity {d['identity']} {d['action']}"),
    "dns": (logging.DEBUG, lambda d: f"dns {d['action']} {json.dumps({k: v for k, v in d.items() if k != 'time'})}"),
    "clock": (logging.DEBUG, lambda d: f"clock advanced {d['advanced']} s to {d['now']}"),
    "reset": (logging.INFO, lambda d: "reset: everything emptied"),
}


def log_event(event: Event) -> None:
    """An event-bus listener: the event as one log line, its fields attached for JSON output."""
    level, render = _LINES.get(event.kind, (logging.DEBUG, lambda d: event.body))
    if log.isEnabledFor(level):
        log.log(level, render(event.data), extra={"event_kind": event.kind, "event_id": event.id,
                                                  "event_fields": event.data})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
        }
        if hasattr(record, "event_kind"):
            payload.update({"event": record.event_kind, "event_id": record.event_id})
            payload.update({k: v for k, v in record.event_fields.items() if k not in payload})
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def configure(level: str = "INFO", fmt: str = "text", stream=None) -> None:
    """Root logging for `serve`: one handler on stderr, in the chosen format."""
    if fmt not in LOG_FORMATS:
        raise ValueError(f"--log-format must be one of {', '.join(LOG_FORMATS)}")
    if level.upper() not in LOG_LEVELS:
        raise ValueError(f"--log-level must be one of {', '.join(LOG_LEVELS)}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Libraries' chatter is not the simulator's story: granian announces its worker,
    # transitions narrates every state callback.
    for noisy in ("_granian", "granian", "transitions", "mail.log"):  # mail.log: aiosmtpd, per connection
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
