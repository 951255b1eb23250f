"""The state machines of the DNS-driven checks: the only place that decides a status.

TRANSITIONS below is SPEC §4's MAIL FROM table as data, read top to bottom; an
identity's verification through DNS (SPEC §12) runs on the same table over the
verification statuses (VERIFICATION), on the same engine (CheckMachine). The
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
    CHECK_MAIL_FROM,
    CHECK_VERIFICATION,
    HistoryEntry,
    LookupOutcome,
    MailFromConfig,
    MailFromStatus,
    MxLookup,
    Settings,
    VerificationCheck,
    VerificationMethod,
    VerificationStatus,
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

# Which states the scheduler keeps looking up (FAILED waits for a Put), and which
# turn FAILED when the pending timeout runs out.
CHECKED: frozenset[MailFromStatus] = frozenset({PENDING, SUCCESS, TEMPORARY_FAILURE})
WITH_DEADLINE: frozenset[MailFromStatus] = frozenset({PENDING, TEMPORARY_FAILURE})


class IllegalTransition(Exception):
    """An event that the table does not allow in the current state."""


class _Cursor:
    """The single model the shared Machine moves; configs themselves stay frozen."""

    state: str


class CheckMachine:
    """One kind of DNS-driven check: its transition table, the states that are checked
    and that carry a deadline, and how a configuration moves through them.

    Generic over *what* is checked: a configuration is any frozen dataclass with
    `status`, `status_since`, `deadline`, `next_check_at` and `last_lookup`; the
    lookup outcomes FOUND, MISSING and TRANSIENT are events, with EXPIRE and RESTART.
    """

    def __init__(self, name: str, table: dict, checked: frozenset, with_deadline: frozenset, initial):
        self.name = name  # what history entries call this check
        self.table = table
        self.checked = checked
        self.with_deadline = with_deadline
        self.initial = initial
        self._status_type = type(initial)
        self._cursor = _Cursor()
        self._machine = Machine(
            model=self._cursor,
            states=[s.value for s in self._status_type],
            transitions=[
                {"trigger": event, "source": src.value, "dest": dst.value}
                for src, row in table.items()
                for event, dst in row.items()
            ],
            initial=initial.value,
            auto_transitions=False,
            ignore_invalid_triggers=False,
        )
        self._lock = threading.Lock()
        # (status, event) -> the status the Machine moved it to: the Machine decides each pair
        # once, and a sweep's thousands of checks reuse its answer (it has no conditions or
        # callbacks, so the same pair always moves the same way).
        self._moves: dict = {}

    def next_status(self, status, event: str):
        """The status the table moves `status` to on `event`; IllegalTransition if none."""
        moved = self._moves.get((status, event))
        if moved is None:
            moved = self._moves[(status, event)] = self._move(status, event)
        return moved

    def _move(self, status, event: str):
        """`next_status` asked of the transitions Machine."""
        with self._lock:
            self._machine.set_state(status.value, model=self._cursor)
            try:
                self._cursor.trigger(event)
            except (MachineError, AttributeError) as exc:
                raise IllegalTransition(f"event {event} is not allowed in state {status.value}") from exc
            return self._status_type(self._cursor.state)

    def deadline_of(self, config) -> float | None:
        """The deadline that is running, if the state carries one."""
        return config.deadline if config.status in self.with_deadline else None

    def deadline_passed(self, config, now: float) -> bool:
        """True once the running deadline, if any, is behind `now` (whether or not a sweep saw it)."""
        deadline = self.deadline_of(config)
        return deadline is not None and deadline <= now

    def due_at(self, config) -> float | None:
        """When something is next due for `config` (a check or its deadline); None: never."""
        times = [t for t in (config.next_check_at, self.deadline_of(config)) if t is not None]
        return min(times) if times else None

    def fire(self, config, event: str, now: float, settings: Settings, lookup: MxLookup | None = None,
             detail: str | None = None):
        """Apply one event at time `now`; returns the new config and its history entry.

        Raises IllegalTransition (and changes nothing) when the table forbids it.
        """
        new_status = self.next_status(config.status, event)
        if event == RESTART or (event == TRANSIENT and config.status not in self.with_deadline):
            deadline = now + settings.pending_timeout  # the timeout starts afresh
        elif new_status in self.with_deadline:
            deadline = config.deadline
        else:
            deadline = None
        changed = new_status is not config.status or event == RESTART
        updated = replace(
            config,
            status=new_status,
            status_since=now if changed else config.status_since,
            deadline=deadline,
            next_check_at=(now + settings.check_interval) if new_status in self.checked else None,
            last_lookup=lookup if lookup is not None else (None if event == RESTART else config.last_lookup),
        )
        entry = HistoryEntry(now, config.status, new_status, event, domain=config.domain, lookup=lookup,
                             detail=detail, check=self.name)
        return updated, entry

    def needs_lookup(self, config, now: float, force: bool = False) -> bool:
        """True when a check is due by `now` before the deadline (or, with `force`, whenever checked)."""
        if force:
            return config.status in self.checked
        check_at = config.next_check_at
        if check_at is None or check_at > now:
            return False
        deadline = self.deadline_of(config)
        return deadline is None or check_at < deadline

    def catch_up(self, config, lookup: MxLookup | None, now: float, settings: Settings, force: bool = False):
        """Run, in time order, every check and deadline due by `now`, with DNS answering `lookup`.

        DNS is taken as it is now for every check in the window (SPEC §5), so a run
        of checks that changes nothing is skipped arithmetically: the cost is a few
        steps per configuration however far `now` is. A repeated identical check is
        not written to history again. `force` makes a check due now (/_sim/checks/run).
        """
        if force and config.status in self.checked:
            config = replace(config, next_check_at=now)
        entries: list[HistoryEntry] = []
        for _ in range(16):  # each pass makes progress; the bound only guards a bug
            deadline = self.deadline_of(config)
            check_at = config.next_check_at
            if deadline is not None and deadline <= now and (check_at is None or deadline <= check_at):
                config, entry = self.fire(config, EXPIRE, deadline, settings, detail="pending timeout passed")
                entries.append(entry)
                continue
            if check_at is None or check_at > now:
                break
            if lookup is None:
                raise ValueError("a check is due but no lookup was given")
            before = config
            config, entry = self.fire(config, lookup.outcome.value, check_at, settings, lookup=lookup)
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

    def mermaid(self, start_label: str, notes: dict[str, str] | None = None,
                labels: dict[str, str] | None = None) -> str:
        """The state diagram, drawn from the table (`labels`: how to name an event on its edges)."""
        lines = ["stateDiagram-v2", f"    [*] --> {self.initial.value}: {start_label}"]
        for src, row in self.table.items():
            for event, dst in row.items():
                lines.append(f"    {src.value} --> {dst.value}: {(labels or {}).get(event, event)}")
        for state, note in (notes or {}).items():
            lines.append(f"    note right of {state}: {note}")
        return "\n".join(lines)


MAIL_FROM = CheckMachine(CHECK_MAIL_FROM, TRANSITIONS, CHECKED, WITH_DEADLINE, PENDING)


# An identity's verification through DNS (SPEC §12, `dns` mode) is a second kind of
# check on the same engine: the same table over the verification statuses.
def _same_table(status_type, restart_from: frozenset) -> dict:
    """TRANSITIONS over `status_type`, with RESTART only from the states in `restart_from`."""
    def s(state):
        return status_type(state.value)
    return {s(src): {event: s(dst) for event, dst in row.items() if event != RESTART or src in restart_from}
            for src, row in TRANSITIONS.items()}


# A verification restarts only from FAILED: v1 Verify*Identity again ("restart the
# verification process", as SES asks after a failure); while it runs, asking again changes nothing.
VERIFICATION_TRANSITIONS: dict[VerificationStatus, dict[str, VerificationStatus]] = _same_table(
    VerificationStatus, frozenset({FAILED}))
VERIFICATION = CheckMachine(
    CHECK_VERIFICATION, VERIFICATION_TRANSITIONS,
    frozenset(VerificationStatus(s.value) for s in CHECKED),
    frozenset(VerificationStatus(s.value) for s in WITH_DEADLINE),
    VerificationStatus.PENDING,
)
# An email address's verification link (SPEC §12): nothing to look up; the link expires
# 24 hours after the message is sent (FAILED, as on SES), and Verify*Identity sends a new one.
LINK_LIFETIME = 24 * 3600.0
LINK_VERIFICATION = CheckMachine(
    CHECK_VERIFICATION,
    {VerificationStatus.PENDING: {EXPIRE: VerificationStatus.FAILED}},  # a new link is a new check
    frozenset(),  # never looked up
    frozenset({VerificationStatus.PENDING}),
    VerificationStatus.PENDING,
)
MACHINES = {machine.name: machine for machine in (MAIL_FROM, VERIFICATION)}


def verification_machine(check: VerificationCheck) -> CheckMachine:
    """The machine a verification check runs on: an email link's, or a domain's DNS one."""
    return LINK_VERIFICATION if check.method is VerificationMethod.LINK else VERIFICATION


def next_status(status: MailFromStatus, event: str) -> MailFromStatus:
    return MAIL_FROM.next_status(status, event)


def start_verification(domain: str, method: VerificationMethod, now: float,
                       settings: Settings) -> tuple[VerificationCheck, HistoryEntry]:
    """A fresh DNS verification of a domain identity: PENDING with a new deadline."""
    check = VerificationCheck(domain, method, VerificationStatus.PENDING, now, now + settings.pending_timeout,
                              now + settings.check_interval)
    return check, HistoryEntry(now, None, VerificationStatus.PENDING, RESTART, domain=domain,
                               detail=f"verification started ({method.value})", check=CHECK_VERIFICATION)


def start_link_verification(domain: str, now: float) -> tuple[VerificationCheck, HistoryEntry]:
    """An email address's verification: PENDING until its link is opened, FAILED 24 h on."""
    check = VerificationCheck(domain, VerificationMethod.LINK, VerificationStatus.PENDING, now,
                              now + LINK_LIFETIME, None)
    return check, HistoryEntry(now, None, VerificationStatus.PENDING, RESTART, domain=domain,
                               detail="verification message sent (its link expires in 24 hours)",
                               check=CHECK_VERIFICATION)


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


fire = MAIL_FROM.fire
catch_up = MAIL_FROM.catch_up
needs_lookup = MAIL_FROM.needs_lookup
due_at = MAIL_FROM.due_at


def mermaid_diagram() -> str:
    """The MAIL FROM state diagram, drawn from TRANSITIONS, for the README."""
    return MAIL_FROM.mermaid("PUT with a domain", {FAILED.value: "no checks until the next PUT"})


def verification_mermaid_diagram() -> str:
    """The identity verification diagram (dns mode), drawn from its table, for the README."""
    return VERIFICATION.mermaid("identity created (dns mode)",
                                {"FAILED": "no further checks until v1 Verify*Identity asks again"},
                                {RESTART: "VERIFY (v1)"})
