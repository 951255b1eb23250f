"""Scenario files (SPEC §9): parse a YAML file into frozen step dataclasses and
reject anything the runner could not run, up front, with the file, the step and
the problem in the message. Pure: reads the botocore service models, never the network.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import yaml

SERVICES = ("sesv2", "pinpoint-email", "ses")
DEFAULT_REGION = "us-east-1"
DNS_FAULTS = ("timeout", "servfail", "refused", "none")
VERIFICATION_STATUSES = ("PENDING", "SUCCESS", "FAILED")
# The records the embedded zone serves (simulator/dns/zone.py SUPPORTED_TYPES).
DNS_TYPES = ("A", "AAAA", "CNAME", "MX", "NS", "TXT")

_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d+$")
_ACCOUNT = re.compile(r"^\d{12}$")
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?\s*[smhd]\s*)+$|^\d+(?:\.\d+)?$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_ERROR_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9.]*$")
MAX_ADVANCE = 10 * 365 * 86400  # what POST /_sim/clock/advance accepts


class ScenarioError(Exception):
    """A scenario file that cannot be run; the message names the file, the step and the problem."""

    def __init__(self, path: str, problem: str, step: int | None = None, line: int | None = None):
        self.path, self.problem, self.step, self.line = path, problem, step, line
        where = path
        if step is not None:
            where += f": step {step}"
            if line is not None:
                where += f" (line {line})"
        elif line is not None:
            where += f": line {line}"
        super().__init__(f"{where}: {problem}")


# --------------------------------------------------------------------------- steps


@dataclass(frozen=True, kw_only=True)
class Step:
    kind: ClassVar[str] = ""
    number: int
    line: int | None = None


@dataclass(frozen=True, kw_only=True)
class Call(Step):
    kind: ClassVar[str] = "call"
    service: str
    method: str  # boto3's snake_case name
    operation: str  # the model's name, e.g. PutEmailIdentityMailFromAttributes
    params: dict = field(default_factory=dict)
    expect: dict | None = None
    expect_error: str | None = None
    region: str | None = None
    account: str | None = None


@dataclass(frozen=True, kw_only=True)
class ExpectMailFrom(Step):
    kind: ClassVar[str] = "expect_mail_from"
    identity: str
    # Only the keys the file gave: status/domain may be None ("no MAIL FROM domain set").
    expected: dict = field(default_factory=dict)
    region: str | None = None
    account: str | None = None


@dataclass(frozen=True, kw_only=True)
class ExpectOutbox(Step):
    kind: ClassVar[str] = "expect_outbox"
    count: int | None = None
    last: dict | None = None
    region: str | None = None
    account: str | None = None


@dataclass(frozen=True, kw_only=True)
class DnsAdd(Step):
    kind: ClassVar[str] = "dns_add"
    name: str
    type: str
    value: str
    ttl: int | None = None


@dataclass(frozen=True, kw_only=True)
class DnsRemove(Step):
    kind: ClassVar[str] = "dns_remove"
    name: str
    type: str


@dataclass(frozen=True, kw_only=True)
class DnsFault(Step):
    kind: ClassVar[str] = "dns_fault"
    name: str
    fault: str  # timeout, servfail, refused or none


@dataclass(frozen=True, kw_only=True)
class Advance(Step):
    kind: ClassVar[str] = "advance"
    seconds: float
    text: str  # as written, for the report


@dataclass(frozen=True, kw_only=True)
class RunChecks(Step):
    kind: ClassVar[str] = "run_checks"
    identity: str | None = None
    region: str | None = None
    account: str | None = None


@dataclass(frozen=True, kw_only=True)
class SetVerification(Step):
    kind: ClassVar[str] = "set_verification"
    identity: str
    status: str
    region: str | None = None
    account: str | None = None


@dataclass(frozen=True, kw_only=True)
class SetSandbox(Step):
    kind: ClassVar[str] = "set_sandbox"
    sandbox: bool
    region: str | None = None
    account: str | None = None


@dataclass(frozen=True)
class Scenario:
    path: str
    name: str
    region: str
    steps: tuple[Step, ...]


# --------------------------------------------------------------------------- botocore models


@lru_cache(maxsize=None)
def service_model(service: str):
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


@lru_cache(maxsize=None)
def operations(service: str) -> dict[str, str]:
    """boto3 method name -> operation name, for every operation of the service."""
    from botocore import xform_name

    return {xform_name(name): name for name in service_model(service).operation_names}


def duration_seconds(value: Any) -> float:
    """Seconds from a number or "90s", "2m", "72h", "3d" (parts may be combined: "71h59m");
    ValueError with the reason."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if not _DURATION.match(text):
            raise ValueError(f"{value!r} is not a duration: use seconds, or a number with s, m, h or d "
                             "(90s, 2m, 72h, 3d, 71h59m)")
        seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _DURATION_PART.findall(text))
    else:
        raise ValueError(f"{value!r} is not a duration")
    if seconds != seconds or seconds < 0:
        raise ValueError(f"{value!r} is not a duration: time only moves forward")
    if seconds > MAX_ADVANCE:
        raise ValueError(f"{value!r} is longer than the simulator's limit of 10 years")
    return seconds


# --------------------------------------------------------------------------- parsing


class _StepParser:
    """Validates one step's mapping; every problem raises ScenarioError for this step."""

    def __init__(self, path: str, number: int, line: int | None, raw: dict):
        self.path, self.number, self.line, self.raw = path, number, line, raw

    def fail(self, problem: str) -> ScenarioError:
        return ScenarioError(self.path, problem, self.number, self.line)

    # -- shared checks
    def siblings(self, kind: str, allowed: tuple[str, ...]) -> None:
        unknown = [k for k in self.raw if k != kind and k not in allowed]
        if unknown:
            hint = f"; {kind} takes {', '.join(allowed)} beside it" if allowed else f"; {kind} takes no other keys"
            raise self.fail(f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
                            f"in the {kind} step{hint}")

    def mapping(self, kind: str, value: Any, required: tuple[str, ...], optional: tuple[str, ...]) -> dict:
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            raise self.fail(f"{kind} takes a mapping with {self._keys_text(required, optional)}, got {value!r}")
        unknown = [k for k in value if k not in required and k not in optional]
        if unknown:
            extra = ""
            if any(k in ("region", "account") for k in unknown) and "region" in self._step_keys(kind):
                extra = " (region and account go beside the step kind, not inside it)"
            raise self.fail(f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} in "
                            f"{kind}; it takes {self._keys_text(required, optional)}{extra}")
        missing = [k for k in required if k not in value]
        if missing:
            raise self.fail(f"{kind} is missing {', '.join(map(repr, missing))}")
        return value

    @staticmethod
    def _keys_text(required, optional) -> str:
        parts = list(required) + [f"{k}?" for k in optional]
        return "{" + ", ".join(parts) + "}" if parts else "{}"

    @staticmethod
    def _step_keys(kind: str) -> tuple[str, ...]:
        return _SIBLINGS.get(kind, ())

    def string(self, where: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{where} must be a non-empty string, got {value!r}")
        return value

    def scope(self) -> dict:
        scope = {}
        if "region" in self.raw:
            scope["region"] = check_region(self.raw["region"], self.fail)
        if "account" in self.raw:
            scope["account"] = check_account(self.raw["account"], self.fail)
        return scope

    # -- kinds
    def call(self) -> Call:
        self.siblings("call", _SIBLINGS["call"])
        target = self.raw["call"]
        if not isinstance(target, str) or "." not in target:
            raise self.fail(f"call must be <service>.<boto3 method> (e.g. sesv2.get_email_identity), got {target!r}")
        service, _, method = target.partition(".")
        if service not in SERVICES:
            raise self.fail(f"unknown service {service!r} in call {target!r}; use one of {', '.join(SERVICES)}")
        known = operations(service)
        if method not in known:
            close = _closest(method, known)
            hint = f"; did you mean {close}?" if close else ""
            raise self.fail(f"{service} has no boto3 method {method!r} (checked against the botocore "
                            f"{service} service model){hint}")
        operation = known[method]
        params = self.raw.get("with", {})
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise self.fail(f"with must be a mapping of {operation}'s parameters, got {params!r}")
        self._validate_params(service, operation, params)
        expect = self.raw.get("expect")
        if "expect" in self.raw and not isinstance(expect, dict):
            raise self.fail(f"expect must be a mapping (a subset of the response), got {expect!r}")
        if expect is not None:
            self._validate_expect(service, operation, expect)
        expect_error = self.raw.get("expect_error")
        if "expect_error" in self.raw:
            if not isinstance(expect_error, str) or not _ERROR_CODE.match(expect_error):
                raise self.fail(f"expect_error must be an error code such as NotFoundException, got {expect_error!r}")
            if expect is not None:
                raise self.fail("a call takes expect or expect_error, not both: an error has no response to match")
        return Call(number=self.number, line=self.line, service=service, method=method, operation=operation,
                    params=params, expect=expect, expect_error=expect_error, **self.scope())

    def _validate_params(self, service: str, operation: str, params: dict) -> None:
        from botocore.validate import ParamValidator

        shape = service_model(service).operation_model(operation).input_shape
        if shape is None:
            if params:
                raise self.fail(f"{operation} takes no parameters, got {', '.join(params)}")
            return
        report = ParamValidator().validate(params, shape)
        if report.has_errors():
            problems = report.generate_report().replace("\n", "; ")
            raise self.fail(f"with does not fit {service} {operation}: {problems}")

    def _validate_expect(self, service: str, operation: str, expect: dict) -> None:
        shape = service_model(service).operation_model(operation).output_shape
        problem = _shape_problem(shape, expect, "")
        if problem:
            raise self.fail(f"expect does not fit {service} {operation}'s response: {problem}")

    def expect_mail_from(self) -> ExpectMailFrom:
        self.siblings("expect_mail_from", _SIBLINGS["expect_mail_from"])
        body = self.mapping("expect_mail_from", self.raw["expect_mail_from"], ("identity",),
                            ("status", "domain", "behavior"))
        identity = self.string("expect_mail_from identity", body["identity"])
        expected: dict = {}
        if "status" in body:
            statuses = _enum("sesv2", "MailFromDomainStatus")
            if body["status"] is not None and body["status"] not in statuses:
                raise self.fail(f"expect_mail_from status {body['status']!r} is not one of "
                                f"{', '.join(statuses)} (or null for no MAIL FROM domain)")
            expected["status"] = body["status"]
        if "domain" in body:
            if body["domain"] is not None:
                self.string("expect_mail_from domain", body["domain"])
            expected["domain"] = body["domain"]
        if "behavior" in body:
            behaviors = _enum("sesv2", "BehaviorOnMxFailure")
            if body["behavior"] not in behaviors:
                raise self.fail(f"expect_mail_from behavior {body['behavior']!r} is not one of {', '.join(behaviors)}")
            expected["behavior"] = body["behavior"]
        return ExpectMailFrom(number=self.number, line=self.line, identity=identity, expected=expected, **self.scope())

    def expect_outbox(self) -> ExpectOutbox:
        self.siblings("expect_outbox", _SIBLINGS["expect_outbox"])
        body = self.mapping("expect_outbox", self.raw["expect_outbox"], (), ("count", "last"))
        if not body:
            raise self.fail("expect_outbox needs count, last or both")
        count = body.get("count")
        if "count" in body and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
            raise self.fail(f"expect_outbox count must be a whole number, got {count!r}")
        last = body.get("last")
        if "last" in body and (not isinstance(last, dict) or not last):
            raise self.fail(f"expect_outbox last must be a non-empty mapping (a subset of the newest entry), got {last!r}")
        return ExpectOutbox(number=self.number, line=self.line, count=count, last=last, **self.scope())

    def dns_add(self) -> DnsAdd:
        self.siblings("dns_add", ())
        body = self.mapping("dns_add", self.raw["dns_add"], ("name", "type", "value"), ("ttl",))
        record_type = self._dns_type("dns_add", body["type"])
        ttl = body.get("ttl")
        if "ttl" in body and (isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 0):
            raise self.fail(f"dns_add ttl must be a whole number of seconds, got {ttl!r}")
        value = body["value"]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        return DnsAdd(number=self.number, line=self.line, name=self.string("dns_add name", body["name"]),
                      type=record_type, value=self.string("dns_add value", value), ttl=ttl)

    def dns_remove(self) -> DnsRemove:
        self.siblings("dns_remove", ())
        body = self.mapping("dns_remove", self.raw["dns_remove"], ("name", "type"), ())
        return DnsRemove(number=self.number, line=self.line, name=self.string("dns_remove name", body["name"]),
                         type=self._dns_type("dns_remove", body["type"]))

    def _dns_type(self, kind: str, value: Any) -> str:
        if not isinstance(value, str) or value.upper() not in DNS_TYPES:
            raise self.fail(f"{kind} type {value!r} is not one of {', '.join(DNS_TYPES)}")
        return value.upper()

    def dns_fault(self) -> DnsFault:
        self.siblings("dns_fault", ())
        body = self.mapping("dns_fault", self.raw["dns_fault"], ("name", "fault"), ())
        fault = "none" if body["fault"] is None else body["fault"]
        if not isinstance(fault, str) or fault.lower() not in DNS_FAULTS:
            raise self.fail(f"dns_fault fault {fault!r} is not one of {', '.join(DNS_FAULTS)}")
        return DnsFault(number=self.number, line=self.line, name=self.string("dns_fault name", body["name"]),
                        fault=fault.lower())

    def advance(self) -> Advance:
        self.siblings("advance", ())
        value = self.raw["advance"]
        try:
            seconds = duration_seconds(value)
        except ValueError as exc:
            raise self.fail(f"advance: {exc}") from None
        return Advance(number=self.number, line=self.line, seconds=seconds, text=str(value))

    def run_checks(self) -> RunChecks:
        self.siblings("run_checks", _SIBLINGS["run_checks"])
        body = self.mapping("run_checks", self.raw["run_checks"], (), ("identity",))
        identity = self.string("run_checks identity", body["identity"]) if "identity" in body else None
        return RunChecks(number=self.number, line=self.line, identity=identity, **self.scope())

    def set_verification(self) -> SetVerification:
        self.siblings("set_verification", _SIBLINGS["set_verification"])
        body = self.mapping("set_verification", self.raw["set_verification"], ("identity", "status"), ())
        if body["status"] not in VERIFICATION_STATUSES:
            raise self.fail(f"set_verification status {body['status']!r} is not one of {', '.join(VERIFICATION_STATUSES)}")
        return SetVerification(number=self.number, line=self.line,
                               identity=self.string("set_verification identity", body["identity"]),
                               status=body["status"], **self.scope())

    def set_sandbox(self) -> SetSandbox:
        self.siblings("set_sandbox", _SIBLINGS["set_sandbox"])
        value = self.raw["set_sandbox"]
        if not isinstance(value, bool):
            raise self.fail(f"set_sandbox must be true or false, got {value!r}")
        return SetSandbox(number=self.number, line=self.line, sandbox=value, **self.scope())


# Keys each kind accepts beside itself.
_SCOPE = ("region", "account")
_SIBLINGS: dict[str, tuple[str, ...]] = {
    "call": ("with", "expect", "expect_error") + _SCOPE,
    "expect_mail_from": _SCOPE,
    "expect_outbox": _SCOPE,
    "dns_add": (),
    "dns_remove": (),
    "dns_fault": (),
    "advance": (),
    "run_checks": _SCOPE,
    "set_verification": _SCOPE,
    "set_sandbox": _SCOPE,
}
KINDS = tuple(_SIBLINGS)


def check_region(value: Any, fail) -> str:
    if not isinstance(value, str) or not _REGION.match(value):
        raise fail(f"region {value!r} is not a region name such as us-east-1")
    return value


def check_account(value: Any, fail) -> str:
    # YAML reads an unquoted 111122223333 as a number; accept it, but only as 12 digits.
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not _ACCOUNT.match(text):
        raise fail(f"account {value!r} is not a 12-digit account id (quote it: \"111122223333\")")
    return text


@lru_cache(maxsize=None)
def _enum(service: str, shape_name: str) -> tuple[str, ...]:
    return tuple(service_model(service).shape_for(shape_name).enum)


def _shape_problem(shape, expected: Any, path: str) -> str | None:
    """Why `expected` cannot describe a value of `shape` (an unknown member), or None."""
    if shape is None or expected is None:
        return None
    where = path or "the response"
    if shape.type_name == "structure":
        if not isinstance(expected, dict):
            return f"{where} is a structure, expected {expected!r}"
        for key, value in expected.items():
            if key == "ResponseMetadata" and not path:
                continue
            if key not in shape.members:
                members = ", ".join(shape.members) or "nothing"
                return f"{path + '.' if path else ''}{key} is not in it (members: {members})"
            problem = _shape_problem(shape.members[key], value, f"{path + '.' if path else ''}{key}")
            if problem:
                return problem
    elif shape.type_name == "list":
        if not isinstance(expected, list):
            return f"{where} is a list, expected {expected!r}"
        for index, item in enumerate(expected):
            problem = _shape_problem(shape.member, item, f"{where}[{index}]")
            if problem:
                return problem
    elif shape.type_name == "map":
        if not isinstance(expected, dict):
            return f"{where} is a map, expected {expected!r}"
        for key, value in expected.items():
            problem = _shape_problem(shape.value, value, f"{where}.{key}")
            if problem:
                return problem
    return None


def _closest(name: str, candidates) -> str | None:
    import difflib

    found = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.75)
    return found[0] if found else None


def _step_lines(text: str) -> list[int]:
    """The line number where each step starts, from YAML's node marks (best effort)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "steps" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def parse(text: str, path: str = "<scenario>") -> Scenario:
    """A Scenario from YAML text, or ScenarioError naming `path`, the step and the problem."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(path, f"not valid YAML: {problem}",
                            line=mark.line + 1 if mark is not None else None) from None
    if not isinstance(document, dict):
        raise ScenarioError(path, "a scenario is a mapping with name, steps and optionally region")
    unknown = [k for k in document if k not in ("name", "region", "steps")]
    if unknown:
        raise ScenarioError(path, f"unknown top-level key{'s' if len(unknown) > 1 else ''} "
                                  f"{', '.join(map(repr, unknown))}; a scenario has name, region? and steps")
    name = document.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ScenarioError(path, "name is required: one line saying what the scenario shows")
    region = DEFAULT_REGION
    if "region" in document:
        region = check_region(document["region"], lambda problem: ScenarioError(path, problem))
    raw_steps = document.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ScenarioError(path, "steps is required: a non-empty list of steps")
    lines = _step_lines(text)
    steps = []
    for index, raw in enumerate(raw_steps):
        number = index + 1
        line = lines[index] if index < len(lines) else None
        steps.append(parse_step(path, number, line, raw))
    return Scenario(path=path, name=name.strip(), region=region, steps=tuple(steps))


def parse_step(path: str, number: int, line: int | None, raw: Any) -> Step:
    if not isinstance(raw, dict) or not raw:
        raise ScenarioError(path, f"a step is a mapping with one of {', '.join(KINDS)}, got {raw!r}", number, line)
    kinds = [k for k in raw if k in _SIBLINGS]
    if len(kinds) > 1:
        raise ScenarioError(path, f"one step, one kind: found {', '.join(kinds)}", number, line)
    if not kinds:
        first = next(iter(raw))
        close = _closest(str(first), KINDS)
        hint = f"; did you mean {close}?" if close else ""
        raise ScenarioError(path, f"unknown step kind {first!r}; use one of {', '.join(KINDS)}{hint}", number, line)
    parser = _StepParser(path, number, line, raw)
    return getattr(parser, kinds[0])()


def load(path: str | Path) -> Scenario:
    """Read and parse one scenario file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(str(path), f"cannot read it: {exc}") from None
    return parse(text, str(path))


def collect(paths: list[str | Path]) -> list[Path]:
    """Scenario files from files and folders (a folder: its *.yaml and *.yml, sorted).

    Raises ScenarioError for a path that does not exist.
    """
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir()
                                if p.is_file() and p.suffix in (".yaml", ".yml")))
        elif path.is_file():
            files.append(path)
        else:
            raise ScenarioError(str(path), "no such file or folder")
    return files
