"""Every step kind of a scenario file (SPEC §9), each in one class: the keys it takes
(a pydantic model, unknown keys refused), its line in the report and what it does
against a simulator. Adding a kind is adding a class here; the loader finds it by its
`kind` and scenarios/README.md documents it.
"""
from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import Field, ValidationInfo, field_validator, model_validator

from ..core.model import VerificationStatus
from ..core.names import normalize_domain
from ..core.verdicts import dkim_target
from ..models import SERVICES, enum_values, operations, service_model
from ..nameserver.zone import FAULTS, SUPPORTED_TYPES
from .matching import MISSING, StepFailed, mismatch, show, wildcard_match
from .schema import (
    Duration,
    ErrorCode,
    Flag,
    NonEmptyMapping,
    ResponseSubset,
    Schema,
    Scoped,
    Seconds,
    Step,
    Text,
    WholeNumber,
    check,
    closest,
    duration_seconds,
    one_of,
    problem,
)

if TYPE_CHECKING:
    from .loader import Scenario
    from .runner import Runner

OUTBOX_LIMIT = 10000  # the most GET /_sim/outbox returns
DNS_FAULTS = FAULTS + ("none",)  # none clears the name's fault
# What a scenario may set an identity's verification to (unverified senders).
VERIFICATION_STATUSES = tuple(s.value for s in VerificationStatus)  # what PUT /_sim/.../verification takes

DnsType = Annotated[str, one_of(SUPPORTED_TYPES, normalize=lambda v: v.upper())]


# --------------------------------------------------------------------------- AWS calls


class Call(Scoped):
    """`call: <service>.<boto3 method>`: one call through a real boto3 client, its name,
    parameters and expected response members checked against the botocore model."""

    kind: ClassVar[str] = "call"
    call: str
    params: dict = Field(default_factory=dict, alias="with")
    expect: ResponseSubset = None
    expect_error: ErrorCode = None

    @field_validator("call", mode="before")
    @classmethod
    def _target(cls, target: Any) -> str:
        if not isinstance(target, str) or "." not in target:
            raise problem(f"must be <service>.<boto3 method> (e.g. sesv2.get_email_identity), got {target!r}")
        service, _, method = target.partition(".")
        if service not in SERVICES:
            raise problem(f"unknown service {service!r} in call {target!r}; use one of {', '.join(SERVICES)}", True)
        if method not in operations(service):
            close = closest(method, operations(service))
            hint = f"; did you mean {close}?" if close else ""
            raise problem(f"{service} has no boto3 method {method!r} (checked against the botocore "
                          f"{service} service model){hint}", True)
        return target

    @field_validator("params", mode="before")
    @classmethod
    def _params(cls, params: Any, info: ValidationInfo) -> dict:
        if params is None:
            return {}
        if not isinstance(params, dict):
            target = info.data.get("call", "")
            service, _, method = target.partition(".")
            operation = operations(service).get(method, "the operation") if service in SERVICES else "the operation"
            raise problem(f"must be a mapping of {operation}'s parameters, got {params!r}")
        return params

    @model_validator(mode="after")
    def _against_the_model(self) -> "Call":
        from botocore.validate import ParamValidator

        operation = service_model(self.service).operation_model(self.operation)
        if operation.input_shape is None:
            if self.params:
                raise problem(f"{self.operation} takes no parameters, got {', '.join(self.params)}", True)
        else:
            report = ParamValidator().validate(self.params, operation.input_shape)
            if report.has_errors():
                problems = report.generate_report().replace("\n", "; ")
                raise problem(f"with does not fit {self.service} {self.operation}: {problems}", True)
        if self.expect is not None:
            found = _shape_problem(operation.output_shape, self.expect, "")
            if found:
                raise problem(f"expect does not fit {self.service} {self.operation}'s response: {found}", True)
            if self.expect_error is not None:
                raise problem("a call takes expect or expect_error, not both: an error has no response to match", True)
        return self

    @property
    def service(self) -> str:
        return self.call.partition(".")[0]

    @property
    def method(self) -> str:
        """boto3's snake_case name."""
        return self.call.partition(".")[2]

    @property
    def operation(self) -> str:
        """The model's name, e.g. PutEmailIdentityMailFromAttributes."""
        return operations(self.service)[self.method]

    def describe(self, scenario: "Scenario") -> str:
        return f"call {self.call}" + (f" -> {self.expect_error}" if self.expect_error else "") + self.scope_text(scenario)

    def run(self, runner: "Runner", scenario: "Scenario") -> None:
        response, error = runner.aws(self.service, self.method, self.params, *self.scope(scenario))
        if error is not None:
            code = error.response.get("Error", {}).get("Code", "?")
            message = error.response.get("Error", {}).get("Message", "")
            if self.expect_error is None:
                raise StepFailed(f"failed with {code}: {message}")
            if code != self.expect_error:
                raise StepFailed(f"expected error {self.expect_error}, got {code}: {message}")
            return
        body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
        if self.expect_error is not None:
            raise StepFailed(f"expected error {self.expect_error}, got success: {show(body)}")
        if self.expect is not None:
            found = mismatch({k: v for k, v in self.expect.items() if k != "ResponseMetadata"}, body)
            if found:
                raise StepFailed(found)


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
            found = _shape_problem(shape.members[key], value, f"{path + '.' if path else ''}{key}")
            if found:
                return found
    elif shape.type_name == "list":
        if not isinstance(expected, list):
            return f"{where} is a list, expected {expected!r}"
        for index, item in enumerate(expected):
            found = _shape_problem(shape.member, item, f"{where}[{index}]")
            if found:
                return found
    elif shape.type_name == "map":
        if not isinstance(expected, dict):
            return f"{where} is a map, expected {expected!r}"
        for key, value in expected.items():
            found = _shape_problem(shape.value, value, f"{where}.{key}")
            if found:
                return found
    return None


class ExpectMailFrom(Scoped):
    """Compares GetEmailIdentity's MailFromAttributes (through sesv2)."""

    kind: ClassVar[str] = "expect_mail_from"

    class Body(Schema):
        identity: Text
        # null: no MAIL FROM domain set
        status: Annotated[str | None, one_of(lambda: enum_values("sesv2", "MailFromDomainStatus"),
                                             " (or null for no MAIL FROM domain)", nullable=True)] = None
        domain: Text | None = None
        behavior: Annotated[str | None, one_of(lambda: enum_values("sesv2", "BehaviorOnMxFailure"))] = None

    expect_mail_from: Body
    FIELDS: ClassVar[dict[str, str]] = {"status": "MailFromDomainStatus", "domain": "MailFromDomain",
                                        "behavior": "BehaviorOnMxFailure"}

    @property
    def identity(self) -> str:
        return self.expect_mail_from.identity

    @property
    def expected(self) -> dict:
        """Only the keys the file gave: status/domain may be None ("no MAIL FROM domain set")."""
        return self.expect_mail_from.model_dump(include=set(self.FIELDS), exclude_unset=True)

    def describe(self, scenario: "Scenario") -> str:
        wanted = " ".join(f"{k}={v if v is not None else 'none'}" for k, v in self.expected.items())
        return f"expect_mail_from {self.identity}" + (f" {wanted}" if wanted else "") + self.scope_text(scenario)

    def run(self, runner: "Runner", scenario: "Scenario") -> None:
        response, error = runner.aws("sesv2", "get_email_identity", {"EmailIdentity": self.identity},
                                     *self.scope(scenario))
        if error is not None:
            err = error.response.get("Error", {})
            raise StepFailed(f"GetEmailIdentity failed with {err.get('Code', '?')}: {err.get('Message', '')}")
        attributes = response.get("MailFromAttributes") or {}
        problems = []
        for key, wanted in self.expected.items():
            got = attributes.get(self.FIELDS[key], MISSING)
            if wanted is None:
                if got is not MISSING and got is not None:
                    problems.append(f"expected no {key}, got {show(got)}")
            elif got is MISSING or not isinstance(got, str) or not wildcard_match(wanted, got):
                problems.append(f"expected {key} {wanted}, got {show(got) if got is not MISSING else 'none'}")
        if problems:
            raise StepFailed("; ".join(problems))


# --------------------------------------------------------------------------- the /_sim control plane


class ExpectOutbox(Scoped):
    """GET /_sim/outbox of the step's account and region: a count, the newest entry."""

    kind: ClassVar[str] = "expect_outbox"

    class Body(Schema):
        count: WholeNumber = None
        last: NonEmptyMapping = None

        @model_validator(mode="after")
        def _something(self):
            if not self.model_fields_set:
                raise problem("expect_outbox needs count, last or both", True)
            return self

    expect_outbox: Body

    @property
    def count(self) -> int | None:
        return self.expect_outbox.count

    @property
    def last(self) -> dict | None:
        return self.expect_outbox.last

    def describe(self, scenario: "Scenario") -> str:
        parts = []
        if self.count is not None:
            parts.append(f"count={self.count}")
        if self.last is not None:
            shown = [f"{k}={show(v)}" for k, v in list(self.last.items())[:2]]
            more = len(self.last) - len(shown)
            parts.append("last: " + ", ".join(shown) + (f" (+{more} more)" if more > 0 else ""))
        return "expect_outbox " + " ".join(parts) + self.scope_text(scenario)

    def run(self, runner: "Runner", scenario: "Scenario") -> None:
        messages = runner.control.call("GET", "/_sim/outbox", limit=str(OUTBOX_LIMIT),
                                       **self.sim_query(scenario)).get("messages", [])
        if self.count is not None and len(messages) != self.count:
            newest = f"; newest: {_outbox_summary(messages[0])}" if messages else ""
            raise StepFailed(f"expected {self.count} message(s) in the outbox, got {len(messages)}{newest}")
        if self.last is not None:
            if not messages:
                raise StepFailed("expected a newest message in the outbox, got an empty outbox")
            found = mismatch(self.last, messages[0])
            if found:
                raise StepFailed(f"last {found}")


def _outbox_summary(entry: dict) -> str:
    return (f"{entry.get('from')} -> {', '.join(entry.get('destinations') or [])}, "
            f"{entry.get('mail_from_decision')}, envelope {entry.get('envelope_from')}")


class DnsAdd(Step):
    """Adds a record to the embedded zone."""

    kind: ClassVar[str] = "dns_add"

    class Body(Schema):
        name: Text
        type: DnsType
        # An unquoted number (an A record's 1, a TXT's 5) is its text.
        value: Text
        ttl: Seconds = None

        @field_validator("value", mode="before")
        @classmethod
        def _number_as_text(cls, value: Any) -> Any:
            return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value

    dns_add: Body

    def describe(self, scenario: "Scenario") -> str:
        return f"dns_add {self.dns_add.name} {self.dns_add.type} {self.dns_add.value}"

    def run(self, runner: "Runner", scenario: "Scenario") -> None:
        runner.control.call("POST", "/_sim/dns/records", self.dns_add.model_dump(exclude_none=True))


class DnsRemove(Step):
    """Removes every record with that name and type; fails if there is none."""

    kind: ClassVar[str] = "dns_remove"

    class Body(Schema):
        name: Text
        type: DnsType

    dns_remove: Body

    def describe(self, scenario: "Scenario") -> str:
        return f"dns_remove {self.dns_remove.name} {self.dns_remove.type}"

    def run(self, runner: "Runner", scenario: "Scenario") -> None:
        name, record_type = normalize_domain(self.dns_remove.name), self.dns_remove.type
        records = runner.control.call("GET", "/_sim/dns/records").get("records", [])
        matching = [r for r in records
                    if normalize_domain(r.get("name", "")) == name and r.get("type", "").upper() == record_type]
        if not matching:
            raise StepFailed(f"no {record_type} record for {self.dns_remove.name} in the zone")
        for record in matching:
            runner.control.call("DELETE", f"/_sim/dns/records/{urllib.parse.quote(record['id'], safe='')}")


class DnsFault(Step):
    """Makes the embedded DNS server misbehave for a name (and its subdomains); none clears."""

    kind: ClassVar[str] = "dns_fault"

    class Body(Schema):
        name: Text
        fault: Annotated[str, one_of(DNS_FAULTS, normalize=str.lower)]

        @field_validator("fault", mode="before")
        @classmethod
        def _null_clears(cls, value: Any) -> Any:
            return "none" if value is None else value

    dns_fault: Body

    @property
    def fault(self) -> str:
        return self.dns_fault.fault

    def describe(self, scenario: "Scenario") -> str:
        return f"dns_fault {self.dns_fault.name} {self.fault}"

    def run(self, runner: "Runner", scenario: "Scenario") -> None:
        runner.control.call("PUT", f"/_sim/dns/faults/{urllib.parse.quote(self.dns_fault.name, safe='')}",
                            {"fault": self.fault})


class Advance(Step):
    """Moves the simulated clock; every check and deadline that falls due runs."""

    kind: ClassVar[str] = "advance"
    label: ClassVar[str] = "advance:"
    advance: Duration  # as written, for the report

    @property
    def seconds(self) -> float:
        return duration_seconds(self.advance)

    @property
    def text(self) -> str:
        return str(self.advance)

    def describe(self, scenario: "Scenario") -> str:
        return f"advance {self.text}"

    def run(self, runner: "Runner", scenario: "Scenario") -> None:
        runner.control.call("POST", "/_sim/clock/advance", {"seconds": self.seconds})


class RunChecks(Scoped):
    """Checks now, whether due or not: every active configuration, or one identity's."""

    kind: ClassVar[str] = "run_checks"

    class Body(Schema):
        identity: Text = None

    run_checks: Body

    @property
    def identity(self) -> str | None:
        return self.run_checks.identity

    def describe(self, scenario: "Scenario") -> str:
        return "run_checks" + (f" {self.identity}" if self.identity else "") + self.scope_text(scenario)

    def run(self, runner: "Runner", scenario: "Scenario") -> None:
        runner.control.call("POST", "/_sim/checks/run", self.run_checks.model_dump(exclude_none=True),
                            **self.sim_query(scenario))


class SetVerification(Scoped):
    """Sets an identity's verification status (unverified senders)."""

    kind: ClassVar[str] = "set_verification"

    class Body(Schema):
        identity: Text
        status: Annotated[str, one_of(VERIFICATION_STATUSES)]

    set_verification: Body

    def describe(self, scenario: "Scenario") -> str:
        return f"set_verification {self.set_verification.identity} {self.set_verification.status}" + \
            self.scope_text(scenario)

    def run(self, runner: "Runner", scenario: "Scenario") -> None:
        identity = urllib.parse.quote(self.set_verification.identity, safe="@")
        runner.control.call("PUT", f"/_sim/identities/{identity}/verification",
                            {"status": self.set_verification.status}, **self.sim_query(scenario))


class SetSandbox(Scoped):
    """Puts the account (in that region) in or out of the sandbox."""

    kind: ClassVar[str] = "set_sandbox"
    set_sandbox: Flag

    def describe(self, scenario: "Scenario") -> str:
        return f"set_sandbox {str(self.set_sandbox).lower()}" + self.scope_text(scenario)

    def run(self, runner: "Runner", scenario: "Scenario") -> None:
        runner.control.call("PUT", "/_sim/account", {"sandbox": self.set_sandbox}, **self.sim_query(scenario))


class SetIdentityVerification(Scoped):
    """How the account verifies identities created from now on (SPEC §12): instant or dns."""

    kind: ClassVar[str] = "set_identity_verification"
    set_identity_verification: Annotated[str, one_of(("instant", "dns"))]

    def describe(self, scenario: "Scenario") -> str:
        return f"set_identity_verification {self.set_identity_verification}" + self.scope_text(scenario)

    def run(self, runner: "Runner", scenario: "Scenario") -> None:
        runner.control.call("PUT", "/_sim/account", {"identity_verification": self.set_identity_verification},
                            **self.sim_query(scenario))


class IdentityBody(Schema):
    """The body of a step about one identity: `{identity: NAME}`."""

    identity: Text


class PublishDkim(Scoped):
    """Publishes a domain identity's three Easy DKIM CNAMEs (its tokens, from GetEmailIdentity)
    in the embedded zone, as its owner would to verify it."""

    kind: ClassVar[str] = "publish_dkim"
    publish_dkim: IdentityBody

    def describe(self, scenario: "Scenario") -> str:
        return f"publish_dkim {self.publish_dkim.identity}" + self.scope_text(scenario)

    def run(self, runner: "Runner", scenario: "Scenario") -> None:
        region, account = self.scope(scenario)
        domain = self.publish_dkim.identity
        response, error = runner.aws("sesv2", "get_email_identity", {"EmailIdentity": domain}, region, account)
        if error is not None:
            raise StepFailed(f"GetEmailIdentity failed with {error.response.get('Error', {}).get('Code', '?')}")
        tokens = response.get("DkimAttributes", {}).get("Tokens") or []
        if not tokens:
            raise StepFailed(f"{domain} has no DKIM tokens (is it a domain identity?)")
        for token in tokens:
            runner.control.call("POST", "/_sim/dns/records", {"name": f"{token}._domainkey.{domain}",
                                                              "type": "CNAME", "value": dkim_target(token)})


class OpenVerificationLink(Scoped):
    """Opens the link in the newest verification message sent to an email address, as its
    owner would (SPEC §12)."""

    kind: ClassVar[str] = "open_verification_link"
    open_verification_link: IdentityBody

    def describe(self, scenario: "Scenario") -> str:
        return f"open_verification_link {self.open_verification_link.identity}" + self.scope_text(scenario)

    def run(self, runner: "Runner", scenario: "Scenario") -> None:
        address = self.open_verification_link.identity
        messages = runner.control.call("GET", "/_sim/outbox", limit=str(OUTBOX_LIMIT),
                                       **self.sim_query(scenario)).get("messages", [])
        for message in messages:  # newest first
            link = message.get("verification_link")
            if link and message.get("destinations") == [address]:
                runner.control.call("GET", urllib.parse.urlsplit(link).path)
                return
        raise StepFailed(f"no verification message to {address} in the outbox")


class SmtpSend(Scoped):
    """Sends one message through the SES SMTP interface (SPEC §11): STARTTLS, AUTH PLAIN
    with the step's account as the user name, MAIL FROM, RCPT TO, DATA. `expect_code` is
    the final reply's code (250 accepted, 554 refused, ...); without it, 250 is required."""

    kind: ClassVar[str] = "smtp_send"

    class Body(Schema):
        sender: Text = Field(alias="from")
        to: Annotated[list[Text], check(lambda v: isinstance(v, list) and bool(v),
                                        "must list at least one recipient, got {value}")]
        subject: str = "hello"
        body: str = "hello"

    smtp_send: Body
    expect_code: Annotated[int, check(lambda v: isinstance(v, int) and not isinstance(v, bool) and 200 <= v <= 599,
                                      "must be an SMTP reply code from 200 to 599, got {value}")] | None = None

    def describe(self, scenario: "Scenario") -> str:
        expected = f" -> {self.expect_code}" if self.expect_code not in (None, 250) else ""
        return f"smtp_send {self.smtp_send.sender} -> {', '.join(self.smtp_send.to)}{expected}" + \
            self.scope_text(scenario)

    def run(self, runner: "Runner", scenario: "Scenario") -> None:
        import smtplib
        import ssl

        smtp = runner.control.call("GET", "/_sim/health").get("smtp") or {}
        if not smtp.get("address"):
            raise StepFailed("the simulator serves no SMTP interface (--smtp-port off)")
        host, _, port = smtp["address"].rpartition(":")
        host = host.strip("[]")  # an IPv6 address is shown bracketed
        region, account = self.scope(scenario)
        if region != smtp.get("region"):
            raise StepFailed(f"the SMTP interface serves {smtp.get('region')}, not {region} (one region per port)")
        body = self.smtp_send
        message = (f"From: {body.sender}\r\nTo: {', '.join(body.to)}\r\nSubject: {body.subject}\r\n\r\n"
                   f"{body.body}\r\n")
        tls = ssl.create_default_context()
        tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE  # the simulator's self-signed certificate
        code, reply = 250, b""
        try:
            with smtplib.SMTP(host, int(port), timeout=60) as client:
                client.starttls(context=tls)
                client.login(account or "testing", "testing")
                client.sendmail(body.sender, body.to, message.encode())
        except smtplib.SMTPResponseException as error:
            code, reply = error.smtp_code, error.smtp_error
        except (smtplib.SMTPException, OSError) as error:
            raise StepFailed(f"SMTP failed: {error}") from None
        wanted = 250 if self.expect_code is None else self.expect_code
        if code != wanted:
            raise StepFailed(f"expected SMTP {wanted}, got {code} {reply.decode(errors='replace')}")
