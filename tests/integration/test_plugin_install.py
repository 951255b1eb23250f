"""The testing kit as a user gets it: build the package, install the wheel into a fresh
virtual environment (dependencies from this machine's package index), and run a suite
that uses only the `mailfrom_sim` fixture -- the README's example among them; no
conftest, nothing from this repo --
once plainly and once under pytest-xdist with two workers.

Slow (a venv and an install, ~30 s here): marked `slow`, still run by `make test`.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

EXAMPLE = textwrap.dedent('''
    import os

    import pytest
    from botocore.exceptions import ClientError

    SIMPLE = {"Simple": {"Subject": {"Data": "hi"}, "Body": {"Text": {"Data": "hello"}}}}


    def record(sim, name):
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        with open(os.path.join(os.environ["EXAMPLE_RECORD"], name), "w") as out:
            out.write(f"{worker} {sim.endpoint_url}")


    def send(ses):
        return ses.send_email(FromEmailAddress="app@example.com",
                              Destination={"ToAddresses": ["user@example.org"]}, Content=SIMPLE)["MessageId"]


    def test_custom_mail_from_once_the_mx_is_published(mailfrom_sim):
        record(mailfrom_sim, "first")
        ses = mailfrom_sim.client("sesv2")
        ses.create_email_identity(EmailIdentity="example.com")
        ses.put_email_identity_mail_from_attributes(
            EmailIdentity="example.com", MailFromDomain="mail.example.com", BehaviorOnMxFailure="REJECT_MESSAGE")
        with pytest.raises(ClientError) as rejected:
            send(ses)
        assert rejected.value.response["Error"]["Code"] == "MailFromDomainNotVerifiedException"

        mailfrom_sim.publish_mail_from("example.com")
        message_id = send(ses)

        newest = mailfrom_sim.outbox()[0]
        assert newest["message_id"] == message_id
        assert newest["envelope_from"] == f"{message_id}@mail.example.com"
        assert newest["mail_from_decision"] == "custom"
''')

# The README's example, as a user would paste it.
README_EXAMPLE = re.search(r"```python\n(# test_mail_from.py\n.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)

# A second file, so that `--dist loadfile` gives each xdist worker one.
ISOLATION = textwrap.dedent('''
    from test_example import record


    def test_starts_empty(mailfrom_sim):
        record(mailfrom_sim, "second")
        assert mailfrom_sim.client("sesv2").list_email_identities()["EmailIdentities"] == []
        assert mailfrom_sim.outbox() == [] and mailfrom_sim.dns.records() == []
''')


def run(args: list, cwd: Path, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=env)


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("kit-install")
    # Build from a copy so the checkout gets no build/ or egg-info of ours.
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "simulator", source / "simulator", ignore=shutil.ignore_patterns("__pycache__"))

    probe = run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", work / "probe", "pytest-xdist"],
                work, timeout=120)
    if probe.returncode != 0:
        pytest.skip(f"the package index is unreachable: {probe.stderr.strip().splitlines()[-1:]}")

    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", work / "dist", source], work)
    assert built.returncode == 0, built.stderr
    [wheel] = (work / "dist").glob("mailfrom_sim-*.whl")

    env_dir = work / "venv"
    made = run([sys.executable, "-m", "venv", env_dir], work)
    assert made.returncode == 0, made.stderr
    python = env_dir / "bin" / "python"
    installed = run([python, "-m", "pip", "install", "-q", wheel, "pytest", "pytest-xdist"], work)
    assert installed.returncode == 0, installed.stderr
    return env_dir


def run_example(venv: Path, tmp_path: Path, *pytest_args: str) -> tuple[subprocess.CompletedProcess, dict]:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_example.py").write_text(EXAMPLE)
    (suite / "test_later.py").write_text(ISOLATION)
    (suite / "test_mail_from.py").write_text(README_EXAMPLE)
    recorded = tmp_path / "recorded"
    recorded.mkdir()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PYTHON", "PYTEST", "VIRTUAL_ENV", "AWS_"))}
    env["EXAMPLE_RECORD"] = str(recorded)
    result = run([venv / "bin" / "python", "-m", "pytest", "-p", "no:cacheprovider", "-v", *pytest_args],
                 suite, env=env, timeout=180)
    return result, {path.name: path.read_text().split() for path in recorded.iterdir()}


def test_the_installed_package_is_the_wheel_not_this_checkout(venv, tmp_path):
    where = run([venv / "bin" / "python", "-c", "import simulator.testing.plugin as p; print(p.__file__)"], tmp_path)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(venv)


def test_an_example_suite_runs_with_only_the_fixture(venv, tmp_path):
    result, recorded = run_example(venv, tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
    assert "test_mail_from.py::test_rejected_until_the_mx_record_is_published PASSED" in result.stdout
    assert recorded["first"] == recorded["second"]  # one simulator for the session


def test_each_xdist_worker_gets_its_own_simulator(venv, tmp_path):
    result, recorded = run_example(venv, tmp_path, "-n", "2", "--dist", "loadfile")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
    (worker_a, url_a), (worker_b, url_b) = recorded["first"], recorded["second"]
    assert {worker_a, worker_b} == {"gw0", "gw1"}
    assert url_a != url_b
