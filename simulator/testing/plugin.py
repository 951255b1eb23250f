"""The pytest plugin (entry point `pytest11`): the `mailfrom_sim` fixture.

    def test_reject_until_published(mailfrom_sim):
        ses = mailfrom_sim.client("sesv2")
        ...
        mailfrom_sim.publish_mail_from("example.com")

One simulator per test session, started on first use on free ports (API and
embedded DNS) with an in-memory store, and reset before every test that asks for
it. Checks run only when a test calls `advance()` or `run_checks()`: nothing
changes behind a test's back. Override the session fixture
`mailfrom_sim_options` (a dict of `Options` fields) in a conftest.py to change
that, e.g. `{"pending_timeout": 3600}`.

In-process, not a child process: the simulator is the same `Runtime` that
`mailfrom-sim serve` runs, started on threads of the test process. That starts
in a fraction of a second, needs no readiness polling, and cannot outlive
a killed test run as an orphan; tests still reach it only over real HTTP and
real DNS on loopback. pytest-xdist runs each worker as its own process with its
own session, so every worker gets its own simulator on its own ports, and tests
in different workers never see each other's state.

This module imports nothing but pytest at import time: it is loaded into every
pytest run in an environment where mailfrom-sim is installed.
"""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def mailfrom_sim_options() -> dict:
    """`Options` fields for the session's simulator (override in a conftest.py)."""
    return {}


@pytest.fixture(scope="session")
def mailfrom_sim_session(mailfrom_sim_options):
    from .kit import MailFromSim

    sim = MailFromSim.start(**mailfrom_sim_options)
    yield sim
    sim.stop()


@pytest.fixture
def mailfrom_sim(mailfrom_sim_session):
    """A running mailfrom-sim, emptied for this test (see `simulator.testing.MailFromSim`)."""
    mailfrom_sim_session.reset()
    return mailfrom_sim_session
