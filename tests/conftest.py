"""Shared fixtures: one live simulator per session (real HTTP on an ephemeral port,
real embedded DNS on loopback), reset before each test that uses it."""
from __future__ import annotations

import pytest

from simulator.runtime import Options, Runtime
from tests.helpers import SimControl, aws_client


@pytest.fixture(scope="session")
def runtime():
    rt = Runtime(Options(port=0, dns_port=0, db=":memory:", check_interval=60, pending_timeout=259200,
                          dns_timeout=0.5, smtp_port=0)).start()
    yield rt
    rt.stop()


@pytest.fixture
def live(runtime):
    runtime.simulator.reset()
    return runtime


@pytest.fixture
def endpoint(live) -> str:
    return live.url


@pytest.fixture
def control(live) -> SimControl:
    return SimControl(live.url)


@pytest.fixture
def sesv2(endpoint):
    return aws_client("sesv2", endpoint)


@pytest.fixture
def pinpoint(endpoint):
    return aws_client("pinpoint-email", endpoint)


@pytest.fixture
def ses(endpoint):
    return aws_client("ses", endpoint)


@pytest.fixture
def client_for(endpoint):
    def make(service: str, region: str = "us-east-1", account: str | None = None):
        return aws_client(service, endpoint, region, account)
    return make
