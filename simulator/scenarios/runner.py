"""Runs scenario files against a simulator: AWS calls through real boto3 clients,
everything else through the /_sim control plane over HTTP. Each scenario starts
from a reset simulator and stops at its first failing step.

`main(paths, endpoint_url)` is `mailfrom-sim scenario run`; with no endpoint it
starts a private simulator in this process and stops it afterwards.
"""
from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from . import loader
from .loader import Scenario, ScenarioError
from .matching import StepFailed, mismatch, show, wildcard_match

__all__ = ["Runner", "ScenarioResult", "StepFailed", "main", "mismatch", "run_paths", "show", "wildcard_match"]


@dataclass
class ScenarioResult:
    path: str
    name: str
    steps_total: int
    steps_passed: int = 0
    failed_step: int | None = None
    failure: str | None = None  # "<file>: step N (<step>): <problem>"
    lines: list[str] = field(default_factory=list)
    seconds: float = 0.0  # wall-clock time the run took

    @property
    def passed(self) -> bool:
        return self.failure is None

    @property
    def report(self) -> str:
        """Every line printed for this scenario, then the failure: what a test shows."""
        return "\n".join(self.lines + ([self.failure] if self.failure else []))


# --------------------------------------------------------------------------- the two channels


class Control:
    """The /_sim control plane over HTTP, unwrapping its {"success", "data"} envelope."""

    def __init__(self, endpoint_url: str):
        self.url = endpoint_url.rstrip("/")

    def call(self, method: str, path: str, body: dict | None = None, **query: str) -> dict:
        url = self.url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                payload = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            try:
                payload = json.loads(error.read() or b"{}")
            except ValueError:
                raise StepFailed(f"{method} {path} answered HTTP {error.code}") from None
        except (urllib.error.URLError, OSError) as error:
            raise StepFailed(f"cannot reach the simulator at {self.url}: {getattr(error, 'reason', error)}") from None
        except ValueError:
            raise StepFailed(f"{method} {path} did not answer JSON") from None
        if not isinstance(payload, dict) or payload.get("success") is not True:
            error = payload.get("error", {}) if isinstance(payload, dict) else {}
            raise StepFailed(f"{method} {path} failed: {error.get('code', '?')}: {error.get('message', payload)}")
        return payload.get("data") or {}


class Clients:
    """boto3 clients per (service, region, account), made once and reused across scenarios."""

    def __init__(self, endpoint_url: str):
        from ..models import boto3_session

        self.endpoint_url = endpoint_url
        self._session = boto3_session()
        self._clients: dict[tuple[str, str, str | None], Any] = {}

    def get(self, service: str, region: str, account: str | None):
        key = (service, region, account)
        client = self._clients.get(key)
        if client is None:
            from botocore.config import Config

            client = self._session.client(
                service, endpoint_url=self.endpoint_url, region_name=region,
                aws_access_key_id=account or "testing", aws_secret_access_key="testing",
                config=Config(retries={"total_max_attempts": 1, "mode": "standard"},
                              connect_timeout=10, read_timeout=60),
            )
            self._clients[key] = client
        return client


# --------------------------------------------------------------------------- running


class Runner:
    """Runs scenarios against one simulator endpoint, printing one line per step to `out`."""

    def __init__(self, endpoint_url: str, out: TextIO | None = None):
        self.endpoint_url = endpoint_url
        self.control = Control(endpoint_url)
        self.clients = Clients(endpoint_url)
        self.out = out
        self._ok, self._fail = _marks(out)

    def _print(self, result: ScenarioResult | None, line: str) -> None:
        if result is not None:
            result.lines.append(line)
        if self.out is not None:
            print(line, file=self.out, flush=True)

    def run_file(self, path: str | Path) -> ScenarioResult:
        try:
            scenario = loader.load(path)
        except ScenarioError as exc:
            result = ScenarioResult(str(path), "", 0, failed_step=exc.step, failure=str(exc))
            self._print(None, f"{path}")
            self._print(None, f"  {self._fail} {exc}")
            return result
        return self.run(scenario)

    def run(self, scenario: Scenario) -> ScenarioResult:
        started = time.monotonic()
        result = self._run(scenario)
        result.seconds = time.monotonic() - started
        return result

    def _run(self, scenario: Scenario) -> ScenarioResult:
        result = ScenarioResult(scenario.path, scenario.name, len(scenario.steps))
        self._print(result, f"{scenario.path}: {scenario.name}")
        try:
            self.control.call("POST", "/_sim/reset")
        except StepFailed as exc:
            result.failed_step = 0
            result.failure = f"{scenario.path}: reset before step 1: {exc}"
            self._print(result, f"  {self._fail} reset: {exc}")
            return result
        for step in scenario.steps:
            text = step.describe(scenario)
            try:
                try:
                    step.run(self, scenario)
                except StepFailed:
                    raise
                except Exception as exc:  # a surprise in the runner or a client: fail this scenario, not the run
                    raise StepFailed(f"unexpected {type(exc).__name__}: {exc}") from exc
            except StepFailed as exc:
                self._print(result, f"{step.number:>3} {self._fail} {text}: {exc}")
                result.failed_step = step.number
                line = f" (line {step.line})" if step.line else ""
                result.failure = f"{scenario.path}: step {step.number}{line}: {text}: {exc}"
                return result
            self._print(result, f"{step.number:>3} {self._ok} {text}")
            result.steps_passed += 1
        return result

    # -- what steps use
    def aws(self, service: str, method: str, params: dict, region: str, account: str | None):
        """(response, None) or (None, ClientError); anything else fails the step."""
        from botocore.exceptions import BotoCoreError, ClientError

        client = self.clients.get(service, region, account)
        try:
            return getattr(client, method)(**params), None
        except ClientError as error:
            return None, error
        except BotoCoreError as error:
            raise StepFailed(f"{type(error).__name__}: {error}") from None


def _marks(out: TextIO | None) -> tuple[str, str]:
    """✓ and ✗ where the output can show them, else ok / FAIL."""
    encoding = getattr(out, "encoding", None) or "utf-8"
    try:
        "✓✗".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return "ok", "FAIL"
    return "✓", "✗"


# --------------------------------------------------------------------------- command line


def run_paths(paths: list[str | Path], endpoint_url: str, out: TextIO | None = sys.stdout) -> list[ScenarioResult]:
    """Run every scenario file found in `paths` against `endpoint_url`."""
    runner = Runner(endpoint_url, out)
    results = []
    for path in loader.collect(paths):
        result = runner.run_file(path)
        results.append(result)
        if out is not None:
            if result.passed:
                print(f"{runner._ok} {result.path}: {result.steps_total} steps passed ({result.seconds:.1f} s)", file=out)
            else:
                at = f"step {result.failed_step}" if result.failed_step else "loading"
                print(f"{runner._fail} {result.path}: failed at {at}", file=out)
            print(file=out, flush=True)
    return results


def timing_note(health: dict) -> str | None:
    """A warning when the simulator's timing is not what the scenarios count on (SPEC defaults)."""
    settings = health.get("settings") or {}
    interval, timeout = settings.get("check_interval"), settings.get("pending_timeout")
    if interval in (None, 60) and timeout in (None, 259200):
        return None
    return (f"note: this simulator checks every {interval:g} s with a {timeout:g} s pending timeout; "
            "the scenarios' advance steps assume 60 s and 259200 s (72 h)")


def endpoint_problem(endpoint_url: str) -> str | None:
    """Why `endpoint_url` cannot name a simulator, or None: it must be http(s)://HOST[:PORT]."""
    try:
        parts = urllib.parse.urlsplit(endpoint_url)
        parts.port  # noqa: B018 -- a bad port raises here
    except ValueError as exc:
        return f"is not a URL: {exc}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not a URL of the form http://HOST:PORT"
    return None


def reset_refusal(health: dict, endpoint_url: str) -> str | None:
    """Why a simulator someone else is using must not be reset, or None: it holds identities."""
    held = health.get("identities")
    if held == 0:
        return None
    what = (f"holds {held} identit{'y' if held == 1 else 'ies'}" if isinstance(held, int)
            else "does not say how many identities it holds")
    return (f"the simulator at {endpoint_url} {what}; every scenario starts by resetting it: "
            "add --reset to allow wiping it")


def main(paths: list[str], endpoint_url: str | None = None, reset: bool = False) -> int:
    """`mailfrom-sim scenario run`: exit 0 only if every scenario passes (2: nothing to run,
    or `endpoint_url` is a simulator holding identities and `reset` was not given)."""
    out = sys.stdout
    try:
        files = loader.collect(paths)
    except ScenarioError as exc:
        print(f"mailfrom-sim: {exc}", file=sys.stderr)
        return 2
    if not files:
        print(f"mailfrom-sim: no scenario files (*.yaml, *.yml) in {' '.join(map(str, paths))}", file=sys.stderr)
        return 2
    problem = endpoint_problem(endpoint_url) if endpoint_url is not None else None
    if problem:
        print(f"mailfrom-sim: --endpoint-url {endpoint_url!r} {problem}", file=sys.stderr)
        return 2
    runtime = None
    if endpoint_url is None:
        from ..runtime import Options, Runtime

        try:
            runtime = Runtime(Options(port=0, dns_port=0, db=":memory:", dns_timeout=0.5, smtp_port=0,
                                      scheduler=False)).start()  # time moves only when a step moves it
        except (ValueError, OSError) as exc:
            print(f"mailfrom-sim: cannot start a simulator: {exc}", file=sys.stderr)
            return 2
        endpoint_url = runtime.url
    try:
        try:
            health = Control(endpoint_url).call("GET", "/_sim/health")
        except StepFailed as exc:
            print(f"mailfrom-sim: {exc}", file=sys.stderr)
            return 2
        refusal = None if runtime is not None or reset else reset_refusal(health, endpoint_url)
        if refusal:
            print(f"mailfrom-sim: {refusal}", file=sys.stderr)
            return 2
        note = timing_note(health)
        if note:
            print(note, file=out)
        results = run_paths(files, endpoint_url, out)
    finally:
        if runtime is not None:
            runtime.stop()
    passed = sum(r.passed for r in results)
    failed = len(results) - passed
    for result in results:
        if not result.passed:
            print(f"FAILED {result.failure}", file=out)
    print(f"{passed} passed, {failed} failed", file=out, flush=True)
    return 0 if failed == 0 else 1
