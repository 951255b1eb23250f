"""`mailfrom-sim scenario run` as a user runs it: a child process, with its own private
simulator or against one already serving."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.scenarios.loader import collect, load
from tests.helpers import SimulatorProcess, aws_client

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-m", "simulator.cli", "scenario", "run", *args],
                          cwd=ROOT, capture_output=True, text=True, encoding="utf-8", env=env, timeout=300)


@pytest.fixture(scope="module")
def library_run() -> subprocess.CompletedProcess:
    return run_cli("scenarios/")


def test_the_library_passes_on_a_private_simulator(library_run):
    assert library_run.returncode == 0, library_run.stdout + library_run.stderr
    files = collect([SCENARIOS])
    assert library_run.stdout.rstrip().splitlines()[-1] == f"{len(files)} passed, 0 failed"


def test_it_prints_one_line_per_step_and_one_per_file(library_run):
    out = library_run.stdout
    for path in collect([SCENARIOS]):
        scenario = load(path)
        rel = f"scenarios/{path.name}"
        for step in scenario.steps:
            assert re.search(rf"^ *{step.number} ✓ {re.escape(step.kind)}\b", out, re.M), (rel, step.number)
        assert f"✓ {rel}: {len(scenario.steps)} steps passed" in out


def test_a_broken_scenario_exits_1_and_points_at_the_failing_step(tmp_path):
    source = (SCENARIOS / "flapping_mx.yaml").read_text()
    # The record vanishes, yet the copy claims the domain is still SUCCESS.
    broken = source.replace("  - expect_mail_from: {identity: example.com, status: FAILED}\n  - call: sesv2.send_email",
                            "  - expect_mail_from: {identity: example.com, status: SUCCESS}\n  - call: sesv2.send_email", 1)
    assert broken != source
    path = tmp_path / "flapping_mx_broken.yaml"
    path.write_text(broken)
    number = next(s.number for s in load(path).steps
                  if getattr(s, "expected", None) == {"status": "SUCCESS"} and s.number > 5)

    result = run_cli(str(path))

    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(rf"^ *{number} ✗ expect_mail_from example\.com status=SUCCESS: expected status SUCCESS, got FAILED$",
                     result.stdout, re.M), result.stdout
    assert f"✗ {path}: failed at step {number}" in result.stdout
    assert not re.search(rf"^ *{number + 1} [✓✗]", result.stdout, re.M), "steps after the failure must not run"
    assert result.stdout.rstrip().splitlines()[-1] == "0 passed, 1 failed"


def test_an_invalid_scenario_is_refused_before_it_runs(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("name: typo\nsteps:\n  - call: sesv2.create_email_identity\n    with: {EmailIdentity: example.com}\n"
                    "  - advance: soon\n")

    result = run_cli(str(path))

    assert result.returncode == 1
    assert f"{path}: step 2 (line 5): advance: 'soon' is not a duration" in result.stdout
    assert " ✓ call" not in result.stdout


def test_a_path_that_does_not_exist_exits_2(tmp_path):
    result = run_cli(str(tmp_path / "nothing.yaml"))

    assert result.returncode == 2
    assert "no such file or folder" in result.stderr


def test_endpoint_url_runs_against_a_running_simulator():
    server = SimulatorProcess("--db", ":memory:", "--dns-timeout", "0.5").start()
    try:
        result = run_cli("scenarios/mx_published_after_put.yaml", "scenarios/ses_v1_set_seen_through_v2.yaml",
                         "--endpoint-url", server.url)
    finally:
        server_output = server.stop()

    assert result.returncode == 0, result.stdout + result.stderr + server_output
    assert result.stdout.rstrip().splitlines()[-1] == "2 passed, 0 failed"


def test_endpoint_url_refuses_to_wipe_a_simulator_holding_identities_unless_reset_is_given():
    server = SimulatorProcess("--db", ":memory:", "--dns-timeout", "0.5").start()
    try:
        mine = aws_client("sesv2", server.url)
        mine.create_email_identity(EmailIdentity="keep.example")
        # Another account's identity counts too: reset would wipe every account and region.
        aws_client("sesv2", server.url, region="eu-west-1", account="111122223333").create_email_identity(
            EmailIdentity="other.example")

        refused = run_cli("scenarios/mx_published_after_put.yaml", "--endpoint-url", server.url)
        still_there = mine.get_email_identity(EmailIdentity="keep.example")["IdentityType"]

        allowed = run_cli("scenarios/mx_published_after_put.yaml", "--endpoint-url", server.url, "--reset")
        identities_after = mine.list_email_identities()["EmailIdentities"]
    finally:
        server_output = server.stop()

    assert refused.returncode == 2, refused.stdout + refused.stderr + server_output
    assert refused.stderr.splitlines() == [
        f"mailfrom-sim: the simulator at {server.url} holds 2 identities; every scenario starts by "
        "resetting it: add --reset to allow wiping it"]
    assert " ✓ " not in refused.stdout and "passed" not in refused.stdout
    assert still_there == "DOMAIN"

    assert allowed.returncode == 0, allowed.stdout + allowed.stderr + server_output
    assert allowed.stdout.rstrip().splitlines()[-1] == "1 passed, 0 failed"
    assert "keep.example" not in [i["IdentityName"] for i in identities_after]


def test_a_private_simulator_moves_time_only_when_a_step_does(tmp_path):
    """Nothing checks in the background: a check falling due half a second after `advance`
    waits for the next step that moves time, however long the steps in between take."""
    calls = "".join("  - call: sesv2.get_account\n" for _ in range(3000))  # seconds of real time
    path = tmp_path / "still_pending.yaml"
    path.write_text(
        "name: a check due while other steps run\nregion: us-east-1\nsteps:\n"
        "  - call: sesv2.create_email_identity\n    with: {EmailIdentity: example.com}\n"
        "  - call: sesv2.put_email_identity_mail_from_attributes\n"
        "    with: {EmailIdentity: example.com, MailFromDomain: mail.example.com}\n"
        "  - dns_add: {name: mail.example.com, type: MX, value: \"10 feedback-smtp.us-east-1.amazonses.com\"}\n"
        "  - advance: 59.5s\n" + calls +
        "  - expect_mail_from: {identity: example.com, status: PENDING}\n"
        "  - advance: 2s\n"
        "  - expect_mail_from: {identity: example.com, status: SUCCESS}\n")
    result = run_cli(str(path))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("url", ["notaurl", "", "http://[::1", "http://localhost:99999", "ftp://localhost"])
def test_a_bad_endpoint_url_is_named_not_a_traceback(url):
    result = run_cli("scenarios/region_isolation.yaml", "--endpoint-url", url)
    assert result.returncode == 2
    assert result.stderr.startswith(f"mailfrom-sim: --endpoint-url {url!r} is not a URL"), result.stderr
    assert "Traceback" not in result.stderr
