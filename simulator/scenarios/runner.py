"""Runs scenario files against a simulator: AWS calls through real boto3 clients,
everything else through the /_sim control plane over HTTP. Each scenario starts
from a reset simulator and stops at its first failing step.

`main(paths, endpoint_url)` is `mailfrom-sim scenario run`; with no endpoint it
starts a private simulator in this process and stops it afterwards.
"""
from __future__ import annotations

import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from ..core.names import normalize_domain
from . import loader
from .loader import (
    Advance,
    Call,
    DnsAdd,
    DnsFault,
    DnsRemove,
    ExpectMailFrom,
    ExpectOutbox,
    RunChecks,
    Scenario,
    ScenarioError,
    SetSandbox,
    SetVerification,
    Step,
)

DEFAULT_ACCOUNT = "000000000000"  # what the simulator maps any non-numeric access key to
OUTBOX_LIMIT = 10000
_MISSING = object()


class StepFailed(Exception):
    """The step did not do what the scenario says; the message says what came instead."""


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


# --------------------------------------------------------------------------- matching


def wildcard_match(pattern: str, text: str) -> bool:
    """fnmatch with only `*` special: any run of characters, including none."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, text, re.DOTALL) is not None


def show(value: Any) -> str:
    if value is _MISSING:
        return "nothing"
    if value is None:
        return "null"
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_.@*:/+-]+", value):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        text = json.dumps(value, default=str)
        return text if len(text) <= 300 else text[:297] + "..."
    return repr(value)


def mismatch(expected: Any, actual: Any, path: str = "") -> str | None:
    """Why `actual` does not contain `expected` (a subset match), or None.

    Mappings: every expected key must match (null also matches an absent key).
    Lists: same length, element by element, each a subset match.
    Strings: `*` wildcards; a datetime or bytes value is compared as text.
    """
    where = f"{path}: " if path else ""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{where}expected a mapping, got {show(actual)}"
        for key, value in expected.items():
            sub = f"{path}.{key}" if path else str(key)
            if key not in actual:
                if value is None:
                    continue
                return f"{sub}: expected {show(value)}, got nothing"
            problem = mismatch(value, actual[key], sub)
            if problem:
                return problem
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{where}expected a list, got {show(actual)}"
        if len(expected) != len(actual):
            return f"{where}expected {len(expected)} item(s), got {len(actual)}: {show(actual)}"
        for index, (item, got) in enumerate(zip(expected, actual)):
            problem = mismatch(item, got, f"{path}[{index}]")
            if problem:
                return problem
        return None
    if expected is None:
        return None if actual is None else f"{where}expected nothing, got {show(actual)}"
    if isinstance(expected, str):
        text = actual
        if isinstance(actual, datetime):
            text = actual.isoformat()
        elif isinstance(actual, (bytes, bytearray)):
            text = bytes(actual).decode("utf-8", errors="replace")
        if isinstance(text, str) and wildcard_match(expected, text):
            return None
        return f"{where}expected {show(expected)}, got {show(actual)}"
    if isinstance(expected, bool) or isinstance(actual, bool):
        return None if expected is actual else f"{where}expected {show(expected)}, got {show(actual)}"
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return None if expected == actual else f"{where}expected {show(expected)}, got {show(actual)}"
    return None if expected == actual else f"{where}expected {show(expected)}, got {show(actual)}"


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
        import boto3

        self.endpoint_url = endpoint_url
        self._session = boto3.session.Session()
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


# --------------------------------------------------------------------------- steps


def describe(step: Step, scenario: Scenario) -> str:
    """The step as one line of the report."""
    where = _scope_text(step, scenario)
    if isinstance(step, Call):
        text = f"call {step.service}.{step.method}"
        if step.expect_error:
            text += f" -> {step.expect_error}"
        return text + where
    if isinstance(step, ExpectMailFrom):
        wanted = " ".join(f"{k}={v if v is not None else 'none'}" for k, v in step.expected.items())
        return f"expect_mail_from {step.identity}" + (f" {wanted}" if wanted else "") + where
    if isinstance(step, ExpectOutbox):
        parts = []
        if step.count is not None:
            parts.append(f"count={step.count}")
        if step.last is not None:
            shown = [f"{k}={show(v)}" for k, v in list(step.last.items())[:2]]
            more = len(step.last) - len(shown)
            parts.append("last: " + ", ".join(shown) + (f" (+{more} more)" if more > 0 else ""))
        return "expect_outbox " + " ".join(parts) + where
    if isinstance(step, DnsAdd):
        return f"dns_add {step.name} {step.type} {step.value}"
    if isinstance(step, DnsRemove):
        return f"dns_remove {step.name} {step.type}"
    if isinstance(step, DnsFault):
        return f"dns_fault {step.name} {step.fault}"
    if isinstance(step, Advance):
        return f"advance {step.text}"
    if isinstance(step, RunChecks):
        return "run_checks" + (f" {step.identity}" if step.identity else "") + where
    if isinstance(step, SetVerification):
        return f"set_verification {step.identity} {step.status}" + where
    if isinstance(step, SetSandbox):
        return f"set_sandbox {str(step.sandbox).lower()}" + where
    return step.kind


def _scope_text(step: Step, scenario: Scenario) -> str:
    parts = []
    region = getattr(step, "region", None)
    account = getattr(step, "account", None)
    if region and region != scenario.region:
        parts.append(f"region {region}")
    if account:
        parts.append(f"account {account}")
    return f" ({', '.join(parts)})" if parts else ""


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
            text = describe(step, scenario)
            try:
                try:
                    self.execute(step, scenario)
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

    # -- one step
    def execute(self, step: Step, scenario: Scenario) -> None:
        handler = getattr(self, "_" + step.kind)
        handler(step, scenario)

    @staticmethod
    def _scope(step: Step, scenario: Scenario) -> tuple[str, str | None]:
        return getattr(step, "region", None) or scenario.region, getattr(step, "account", None)

    def _sim_scope(self, step: Step, scenario: Scenario) -> dict[str, str]:
        region, account = self._scope(step, scenario)
        return {"account": account or DEFAULT_ACCOUNT, "region": region}

    def _aws(self, service: str, method: str, params: dict, region: str, account: str | None):
        """(response, None) or (None, ClientError); anything else fails the step."""
        from botocore.exceptions import BotoCoreError, ClientError

        client = self.clients.get(service, region, account)
        try:
            return getattr(client, method)(**params), None
        except ClientError as error:
            return None, error
        except BotoCoreError as error:
            raise StepFailed(f"{type(error).__name__}: {error}") from None

    def _call(self, step: Call, scenario: Scenario) -> None:
        region, account = self._scope(step, scenario)
        response, error = self._aws(step.service, step.method, step.params, region, account)
        if error is not None:
            code = error.response.get("Error", {}).get("Code", "?")
            message = error.response.get("Error", {}).get("Message", "")
            if step.expect_error is None:
                raise StepFailed(f"failed with {code}: {message}")
            if code != step.expect_error:
                raise StepFailed(f"expected error {step.expect_error}, got {code}: {message}")
            return
        if step.expect_error is not None:
            body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
            raise StepFailed(f"expected error {step.expect_error}, got success: {show(body)}")
        if step.expect is not None:
            expected = {k: v for k, v in step.expect.items() if k != "ResponseMetadata"}
            actual = {k: v for k, v in response.items() if k != "ResponseMetadata"}
            problem = mismatch(expected, actual)
            if problem:
                raise StepFailed(problem)

    def _expect_mail_from(self, step: ExpectMailFrom, scenario: Scenario) -> None:
        region, account = self._scope(step, scenario)
        response, error = self._aws("sesv2", "get_email_identity", {"EmailIdentity": step.identity}, region, account)
        if error is not None:
            err = error.response.get("Error", {})
            raise StepFailed(f"GetEmailIdentity failed with {err.get('Code', '?')}: {err.get('Message', '')}")
        attributes = response.get("MailFromAttributes") or {}
        fields = {"status": "MailFromDomainStatus", "domain": "MailFromDomain", "behavior": "BehaviorOnMxFailure"}
        problems = []
        for key, wanted in step.expected.items():
            got = attributes.get(fields[key], _MISSING)
            if wanted is None:
                if got is not _MISSING and got is not None:
                    problems.append(f"expected no {key}, got {show(got)}")
            elif got is _MISSING or not isinstance(got, str) or not wildcard_match(wanted, got):
                problems.append(f"expected {key} {wanted}, got {show(got) if got is not _MISSING else 'none'}")
        if problems:
            raise StepFailed("; ".join(problems))

    def _expect_outbox(self, step: ExpectOutbox, scenario: Scenario) -> None:
        messages = self.control.call("GET", "/_sim/outbox", limit=str(OUTBOX_LIMIT),
                                     **self._sim_scope(step, scenario)).get("messages", [])
        if step.count is not None and len(messages) != step.count:
            newest = f"; newest: {_outbox_summary(messages[0])}" if messages else ""
            raise StepFailed(f"expected {step.count} message(s) in the outbox, got {len(messages)}{newest}")
        if step.last is not None:
            if not messages:
                raise StepFailed("expected a newest message in the outbox, got an empty outbox")
            problem = mismatch(step.last, messages[0])
            if problem:
                raise StepFailed(f"last {problem}")

    def _dns_add(self, step: DnsAdd, scenario: Scenario) -> None:
        body: dict = {"name": step.name, "type": step.type, "value": step.value}
        if step.ttl is not None:
            body["ttl"] = step.ttl
        self.control.call("POST", "/_sim/dns/records", body)

    def _dns_remove(self, step: DnsRemove, scenario: Scenario) -> None:
        wanted = normalize_domain(step.name)
        records = self.control.call("GET", "/_sim/dns/records").get("records", [])
        matching = [r for r in records if normalize_domain(r.get("name", "")) == wanted and r.get("type", "").upper() == step.type]
        if not matching:
            raise StepFailed(f"no {step.type} record for {step.name} in the zone")
        for record in matching:
            self.control.call("DELETE", f"/_sim/dns/records/{urllib.parse.quote(record['id'], safe='')}")

    def _dns_fault(self, step: DnsFault, scenario: Scenario) -> None:
        self.control.call("PUT", f"/_sim/dns/faults/{urllib.parse.quote(step.name, safe='')}", {"fault": step.fault})

    def _advance(self, step: Advance, scenario: Scenario) -> None:
        self.control.call("POST", "/_sim/clock/advance", {"seconds": step.seconds})

    def _run_checks(self, step: RunChecks, scenario: Scenario) -> None:
        body = {"identity": step.identity} if step.identity is not None else {}
        self.control.call("POST", "/_sim/checks/run", body, **self._sim_scope(step, scenario))

    def _set_verification(self, step: SetVerification, scenario: Scenario) -> None:
        self.control.call("PUT", f"/_sim/identities/{urllib.parse.quote(step.identity, safe='@')}/verification",
                          {"status": step.status}, **self._sim_scope(step, scenario))

    def _set_sandbox(self, step: SetSandbox, scenario: Scenario) -> None:
        self.control.call("PUT", "/_sim/account", {"sandbox": step.sandbox}, **self._sim_scope(step, scenario))


def _outbox_summary(entry: dict) -> str:
    return (f"{entry.get('from')} -> {', '.join(entry.get('destinations') or [])}, "
            f"{entry.get('mail_from_decision')}, envelope {entry.get('envelope_from')}")


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


def main(paths: list[str], endpoint_url: str | None = None) -> int:
    """`mailfrom-sim scenario run`: exit 0 only if every scenario passes (2: nothing to run)."""
    out = sys.stdout
    try:
        files = loader.collect(paths)
    except ScenarioError as exc:
        print(f"mailfrom-sim: {exc}", file=sys.stderr)
        return 2
    if not files:
        print(f"mailfrom-sim: no scenario files (*.yaml, *.yml) in {' '.join(map(str, paths))}", file=sys.stderr)
        return 2
    runtime = None
    if endpoint_url is None:
        from ..runtime import Options, Runtime

        try:
            runtime = Runtime(Options(port=0, dns_port=0, db=":memory:", dns_timeout=0.5)).start()
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
