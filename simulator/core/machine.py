"""The MAIL FROM state machine: the only place that decides a configuration's status.

TRANSITIONS below is SPEC §4's table as data, read top to bottom; the
`transitions` library enforces it (auto_transitions=False, so nothing bypasses
the table) and the README's diagram is generated from it (`mermaid_diagram`).
Deadlines and check times are set here too, so a status and its timers always
change together.
"""
from __future__ import annotations

import math
import threading
from dataclasses import replace

from transitions import Machine, MachineError

from .model import (
    HistoryEntry,
    LookupOutcome,
    MailFromConfig,
    MailFromStatus,
    MxLookup,
    Settings,
)

PENDING = MailFromStatus.PENDING
SUCCESS = MailFromStatus.SUCCESS
FAILED = MailFromStatus.FAILED
TEMPORARY_FAILURE = MailFromStatus.TEMPORARY_FAILURE

# Events. The three check outcomes are events named after LookupOutcome values.
FOUND = LookupOutcome.FOUND.value
MISSING = LookupOutcome.MISSING.value
TRANSIENT = LookupOutcome.TRANSIENT.value
EXPIRE = "DEADLINE_PASSED"  # the pending timeout ran out
RESTART = "PUT"  # a Put with a new domain, or the same domain while FAILED

# from status -> {event -> to status}. A missing event is illegal in that state.
TRANSITIONS: dict[MailFromStatus, dict[str, MailFromStatus]] = {
    PENDING: {
        FOUND: SUCCESS,
        MISSING: PENDING,
        TRANSIENT: TEMPORARY_FAILURE,  # deadline kept
        EXPIRE: FAILED,
        RESTART: PENDING,  # new deadline
    },
    TEMPORARY_FAILURE: {
        FOUND: SUCCESS,
        TRANSIENT: TEMPORARY_FAILURE,
        MISSING: PENDING,  # deadline kept (choice)
        EXPIRE: FAILED,
        RESTART: PENDING,
    },
    SUCCESS: {
        FOUND: SUCCESS,
        MISSING: FAILED,  # "the record no longer exists"
        TRANSIENT: TEMPORARY_FAILURE,  # new deadline
        RESTART: PENDING,
    },
    FAILED: {
        RESTART: PENDING,  # no checks until the next Put
    },
}

class IllegalTransition(Exception):
    """An event that the table does not allow in the current state."""


class _Cursor:
    """The single model the shared Machine moves; configs themselves stay frozen."""

    state: str


class _Decider:
    def __init__(self) -> None:
        self._cursor = _Cursor()
        self._machine = Machine(
            model=self._cursor,
            states=[s.value for s in MailFromStatus],
            transitions=[
                {"trigger": event, "source": src.value, "dest": dst.value}
                for src, row in TRANSITIONS.items()
                for event, dst in row.items()
            ],
            initial=PENDING.value,
            auto_transitions=False,
            ignore_invalid_triggers=False,
        )
        self._lock = threading.Lock()

    def next_status(self, status: MailFromStatus, event: str) -> MailFromStatus:
        with self._lock:
            self._machine.set_state(status.value, model=self._cursor)
            try:
                self._cursor.trigger(event)
            except (MachineError, AttributeError) as exc:
                raise IllegalTransition(f"event {event} is not allowed in state {status.value}") from exc
            return MailFromStatus(self._cursor.state)


_decider = _Decider()


def next_status(status: MailFromStatus, event: str) -> MailFromStatus:
    """The status the table moves `status` to on `event`; IllegalTransition if none."""
    return _decider.next_status(status, event)


def start(domain: str, now: float, settings: Settings) -> tuple[MailFromConfig, HistoryEntry]:
    """A fresh configuration for a Put with a domain: PENDING with a new deadline."""
    config = MailFromConfig(
        domain=domain,
        status=PENDING,
        status_since=now,
        deadline=now + settings.pending_timeout,
        next_check_at=now + settings.check_interval,
    )
    return config, HistoryEntry(now, None, PENDING, RESTART, domain=domain, detail="MAIL FROM domain set")


def fire(
    config: MailFromConfig,
    event: str,
    now: float,
    settings: Settings,
    lookup: MxLookup | None = None,
    detail: str | None = None,
) -> tuple[MailFromConfig, HistoryEntry]:
    """Apply one event at time `now`; returns the new config and its history entry.

    Raises IllegalTransition (and changes nothing) when the table forbids it.
    """
    new_status = next_status(config.status, event)
    if event == RESTART or (event == TRANSIENT and config.status is SUCCESS):  # the timeout starts afresh
        deadline = now + settings.pending_timeout
    elif new_status.has_deadline:
        deadline = config.deadline
    else:
        deadline = None
    changed = new_status is not config.status or event == RESTART
    updated = replace(
        config,
        status=new_status,
        status_since=now if changed else config.status_since,
        deadline=deadline,
        next_check_at=(now + settings.check_interval) if new_status.is_checked else None,
        last_lookup=lookup if lookup is not None else (None if event == RESTART else config.last_lookup),
    )
    entry = HistoryEntry(now, config.status, new_status, event, domain=config.domain, lookup=lookup, detail=detail)
    return updated, entry


def needs_lookup(config: MailFromConfig, now: float) -> bool:
    """True when the next thing due by `now` is a check (not the deadline)."""
    check_at = config.next_check_at
    if check_at is None or check_at > now:
        return False
    deadline = config.deadline if config.status.has_deadline else None
    return deadline is None or check_at < deadline


def is_due(config: MailFromConfig, now: float) -> bool:
    if config.next_check_at is not None and config.next_check_at <= now:
        return True
    return config.status.has_deadline and config.deadline is not None and config.deadline <= now


def catch_up(
    config: MailFromConfig,
    lookup: MxLookup | None,
    now: float,
    settings: Settings,
) -> tuple[MailFromConfig, list[HistoryEntry]]:
    """Run, in time order, every check and deadline due by `now`, with DNS answering `lookup`.

    DNS is taken as it is now for every check in the window (SPEC §5), so a run
    of checks that changes nothing is skipped arithmetically: the cost is a few
    steps per configuration however far `now` is. A repeated identical check is
    not written to history again.
    """
    entries: list[HistoryEntry] = []
    for _ in range(16):  # each pass makes progress; the bound only guards a bug
        deadline = config.deadline if config.status.has_deadline else None
        check_at = config.next_check_at
        if deadline is not None and deadline <= now and (check_at is None or deadline <= check_at):
            config, entry = fire(config, EXPIRE, deadline, settings, detail="pending timeout passed")
            entries.append(entry)
            continue
        if check_at is None or check_at > now:
            break
        if lookup is None:
            raise ValueError("a check is due but no lookup was given")
        before = config
        config, entry = fire(config, lookup.outcome.value, check_at, settings, lookup=lookup)
        if config.status is not before.status or before.last_lookup != lookup:
            entries.append(entry)
        if config.status is before.status:
            # Every further check before the horizon repeats this one: skip them.
            horizon = now if deadline is None else min(now, deadline)
            repeats = math.floor((horizon - check_at) / settings.check_interval)
            if deadline is not None and check_at + repeats * settings.check_interval >= deadline:
                repeats -= 1  # a check falling on the deadline comes after it
            if repeats > 0:
                config = replace(config, next_check_at=check_at + (repeats + 1) * settings.check_interval)
    return config, entries


def mermaid_diagram() -> str:
    """The state diagram, drawn from TRANSITIONS, for the README."""
    lines = ["stateDiagram-v2", f"    [*] --> {PENDING.value}: PUT with a domain"]
    for src, row in TRANSITIONS.items():
        for event, dst in row.items():
            lines.append(f"    {src.value} --> {dst.value}: {event}")
    lines.append("    note right of FAILED: no checks until the next PUT")
    return "\n".join(lines)
