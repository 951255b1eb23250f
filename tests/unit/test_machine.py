"""Every row of SPEC §4's table, fired through the pure machine with a fake clock value."""
import pytest

from simulator.core import machine
from simulator.core.machine import IllegalTransition, TRANSITIONS
from simulator.core.model import LookupOutcome, MailFromConfig, MailFromStatus as S, MxLookup, Settings

SETTINGS = Settings(check_interval=60, pending_timeout=3600)
T0 = 1_000_000.0

FOUND = MxLookup(LookupOutcome.FOUND, ("10 feedback-smtp.us-east-1.amazonses.com.",))
MISSING = MxLookup(LookupOutcome.MISSING, error="NXDOMAIN")
TRANSIENT = MxLookup(LookupOutcome.TRANSIENT, error="SERVFAIL")


def config(status: S, deadline: float | None = T0 + 3600, next_check: float | None = T0 + 60) -> MailFromConfig:
    return MailFromConfig("mail.example.com", status, T0, deadline if status in machine.WITH_DEADLINE else None,
                          next_check if status in machine.CHECKED else None)


@pytest.mark.parametrize("start, lookup, expected", [
    (S.PENDING, FOUND, S.SUCCESS),
    (S.PENDING, MISSING, S.PENDING),
    (S.PENDING, TRANSIENT, S.TEMPORARY_FAILURE),
    (S.TEMPORARY_FAILURE, FOUND, S.SUCCESS),
    (S.TEMPORARY_FAILURE, TRANSIENT, S.TEMPORARY_FAILURE),
    (S.TEMPORARY_FAILURE, MISSING, S.PENDING),
    (S.SUCCESS, FOUND, S.SUCCESS),
    (S.SUCCESS, MISSING, S.FAILED),
    (S.SUCCESS, TRANSIENT, S.TEMPORARY_FAILURE),
])
def test_a_check_outcome_moves_the_status_as_the_table_says(start, lookup, expected):
    updated, entry = machine.fire(config(start), lookup.outcome.value, T0 + 60, SETTINGS, lookup=lookup)
    assert updated.status is expected
    assert (entry.from_status, entry.to_status, entry.lookup) == (start, expected, lookup)


def test_pending_keeps_its_deadline_through_temporary_failure_and_back():
    c = config(S.PENDING)
    c, _ = machine.fire(c, "TRANSIENT", T0 + 60, SETTINGS, lookup=TRANSIENT)
    assert c.deadline == T0 + 3600
    c, _ = machine.fire(c, "MISSING", T0 + 120, SETTINGS, lookup=MISSING)
    assert (c.status, c.deadline) == (S.PENDING, T0 + 3600)


def test_success_turning_transient_starts_a_new_deadline():
    c, _ = machine.fire(config(S.SUCCESS), "TRANSIENT", T0 + 500, SETTINGS, lookup=TRANSIENT)
    assert (c.status, c.deadline) == (S.TEMPORARY_FAILURE, T0 + 500 + 3600)


def test_success_has_no_deadline_and_failed_has_no_further_checks():
    c, _ = machine.fire(config(S.PENDING), "FOUND", T0 + 60, SETTINGS, lookup=FOUND)
    assert c.deadline is None and c.next_check_at == T0 + 120
    c, _ = machine.fire(c, "MISSING", T0 + 120, SETTINGS, lookup=MISSING)
    assert c.status is S.FAILED and c.next_check_at is None


@pytest.mark.parametrize("start", [S.PENDING, S.TEMPORARY_FAILURE])
def test_the_deadline_fails_pending_and_temporary_failure(start):
    c, entry = machine.fire(config(start), machine.EXPIRE, T0 + 3600, SETTINGS)
    assert c.status is S.FAILED and entry.event == "DEADLINE_PASSED"


@pytest.mark.parametrize("start", list(S))
def test_a_put_restarts_any_state_as_pending_with_a_new_deadline(start):
    c, _ = machine.fire(config(start), machine.RESTART, T0 + 10, SETTINGS)
    assert (c.status, c.deadline, c.next_check_at) == (S.PENDING, T0 + 10 + 3600, T0 + 70)


@pytest.mark.parametrize("start, event", [
    (S.FAILED, "FOUND"), (S.FAILED, "MISSING"), (S.FAILED, "TRANSIENT"), (S.FAILED, machine.EXPIRE),
    (S.SUCCESS, machine.EXPIRE), (S.PENDING, "NOT_AN_EVENT"),
])
def test_an_illegal_event_raises_and_changes_nothing(start, event):
    before = config(start)
    with pytest.raises(IllegalTransition):
        machine.fire(before, event, T0 + 60, SETTINGS)
    assert before == config(start)  # frozen: the caller's config is untouched
    assert machine.next_status(start, "PUT") is S.PENDING  # the shared machine is still usable


def test_the_table_covers_every_state_and_only_put_leaves_failed():
    assert set(TRANSITIONS) == set(S)
    assert TRANSITIONS[S.FAILED] == {machine.RESTART: S.PENDING}


def test_catch_up_runs_checks_and_the_deadline_in_time_order():
    c = config(S.PENDING)
    c, entries = machine.catch_up(c, MISSING, T0 + 10 * 3600, SETTINGS)
    assert c.status is S.FAILED
    assert [e.event for e in entries] == ["MISSING", "DEADLINE_PASSED"]
    assert entries[-1].at == T0 + 3600


def test_catch_up_costs_a_few_steps_however_far_time_moves():
    c = config(S.PENDING)
    c, entries = machine.catch_up(c, MISSING, T0 + 3599, SETTINGS)
    assert c.status is S.PENDING and len(entries) == 1
    assert T0 + 3599 < c.next_check_at <= T0 + 3599 + 60


def test_catch_up_from_success_with_a_lasting_outage_ends_failed_after_a_fresh_timeout():
    c = config(S.SUCCESS)
    c, entries = machine.catch_up(c, TRANSIENT, T0 + 60 + 3600, SETTINGS)
    assert [e.to_status for e in entries] == [S.TEMPORARY_FAILURE, S.FAILED]
    assert entries[1].at == T0 + 60 + 3600


def test_catch_up_with_nothing_due_changes_nothing():
    c = config(S.PENDING)
    assert machine.catch_up(c, None, T0 + 30, SETTINGS) == (c, [])


def test_a_repeated_identical_check_is_not_recorded_twice():
    c, first = machine.catch_up(config(S.PENDING), MISSING, T0 + 60, SETTINGS)
    c, second = machine.catch_up(c, MISSING, T0 + 120, SETTINGS)
    assert len(first) == 1 and second == []


def test_the_diagram_is_drawn_from_the_table():
    diagram = machine.mermaid_diagram()
    for src, row in TRANSITIONS.items():
        for event, dst in row.items():
            assert f"{src.value} --> {dst.value}: {event}" in diagram
