"""The domain's vocabulary: enums carrying the wire values, and frozen records.

Pure: nothing here imports Flask, dnspython, sqlite3 or any I/O module. The
v2/Pinpoint spelling is each enum's value; the SES v1 query spelling is `.v1`.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class MailFromStatus(StrEnum):
    PENDING = "PENDING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    TEMPORARY_FAILURE = "TEMPORARY_FAILURE"

    @property
    def v1(self) -> str:
        return _V1_STATUS[self]


_V1_STATUS = {
    MailFromStatus.PENDING: "Pending",
    MailFromStatus.SUCCESS: "Success",
    MailFromStatus.FAILED: "Failed",
    MailFromStatus.TEMPORARY_FAILURE: "TemporaryFailure",
}


class BehaviorOnMxFailure(StrEnum):
    USE_DEFAULT_VALUE = "USE_DEFAULT_VALUE"
    REJECT_MESSAGE = "REJECT_MESSAGE"

    @property
    def v1(self) -> str:
        return "UseDefaultValue" if self is BehaviorOnMxFailure.USE_DEFAULT_VALUE else "RejectMessage"

    @classmethod
    def from_v1(cls, value: str) -> "BehaviorOnMxFailure":
        for member in cls:
            if member.v1 == value:
                return member
        raise ValueError(value)


class IdentityType(StrEnum):
    EMAIL_ADDRESS = "EMAIL_ADDRESS"
    DOMAIN = "DOMAIN"


class VerificationStatus(StrEnum):
    PENDING = "PENDING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    TEMPORARY_FAILURE = "TEMPORARY_FAILURE"
    NOT_STARTED = "NOT_STARTED"

    @property
    def v1(self) -> str:
        return {
            "PENDING": "Pending",
            "SUCCESS": "Success",
            "FAILED": "Failed",
            "TEMPORARY_FAILURE": "TemporaryFailure",
            "NOT_STARTED": "NotStarted",
        }[self.value]


class LookupOutcome(StrEnum):
    """How one MX lookup of a MAIL FROM domain is classified (SPEC §4)."""

    FOUND = "FOUND"
    MISSING = "MISSING"
    TRANSIENT = "TRANSIENT"


class MailFromDecision(StrEnum):
    CUSTOM = "custom"
    DEFAULT = "default"
    REJECTED = "rejected"


@dataclass(frozen=True)
class MxLookup:
    """The result of one check: outcome, the MX answers seen, or the DNS error."""

    outcome: LookupOutcome
    answers: tuple[str, ...] = ()
    error: str | None = None
    spf: str | None = None  # advice only: the SPF TXT found, or None

    def to_dict(self) -> dict:
        return {
            "outcome": self.outcome.value,
            "answers": list(self.answers),
            "error": self.error,
            "spf": self.spf,
        }


class DnsStatus(StrEnum):
    """How one DNS query ended, as the lookup adapter saw it (a fact, not a verdict)."""

    ANSWER = "answer"  # records of the asked type, at the name or at the end of its CNAME chain
    NODATA = "nodata"  # the name exists (NOERROR) but holds no record of the asked type
    NXDOMAIN = "nxdomain"  # the name, or the end of its CNAME chain, does not exist
    BAD_NAME = "bad_name"  # not a name that can hold records at all: nothing was asked
    TIMEOUT = "timeout"  # no acceptable answer within the time allowed
    SERVFAIL = "servfail"
    REFUSED = "refused"
    MALFORMED = "malformed"  # an answer that makes no sense (CNAME loop, NXDOMAIN with records, bad wire)
    UNREACHABLE = "unreachable"  # the nameserver could not be reached (no route, nothing listening)
    ERROR = "error"  # anything else: another rcode, no resolver configured, a failure in the adapter


@dataclass(frozen=True, slots=True)
class DnsFacts:
    """What one DNS query (`name`, `rdtype`) found, for the verdicts (core/verdicts.py).

    Only the records of the asked type are filled: `mx` as distinct
    (preference, exchange as lower-case text with the final dot), sorted;
    `txt` as each record's strings joined (UTF-8, undecodable bytes replaced),
    distinct, sorted; `cname` as the targets of a CNAME query (lower-case,
    final dot). `canonical` is where a CNAME chain led, when it led elsewhere
    (for NXDOMAIN: the name that does not exist). `error` describes a failure
    (every status but ANSWER, NODATA and NXDOMAIN).
    """

    name: str  # as asked, without the final dot
    rdtype: str  # "MX", "TXT", "CNAME"
    status: DnsStatus
    mx: tuple[tuple[int, str], ...] = ()
    txt: tuple[str, ...] = ()
    cname: tuple[str, ...] = ()
    canonical: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class MailFromConfig:
    """A configured custom MAIL FROM domain and where its state machine stands.

    Times are POSIX seconds on the simulator's clock.
    """

    domain: str
    status: MailFromStatus
    status_since: float
    deadline: float | None  # when PENDING/TEMPORARY_FAILURE turns FAILED
    next_check_at: float | None  # None: no further checks (FAILED)
    last_lookup: MxLookup | None = None  # the latest check's result, for history de-duplication


class VerificationMethod(StrEnum):
    """How an identity proves it is its owner's (SPEC §12, `dns` verification mode)."""

    DKIM = "dkim"  # a domain: its three Easy DKIM CNAMEs resolve (SES v2)
    TXT = "txt"  # a domain: TXT _amazonses.<domain> holds the token (v1 VerifyDomainIdentity)
    LINK = "link"  # an email address: its owner opens the link in the verification message


@dataclass(frozen=True)
class VerificationCheck:
    """A domain identity's verification through DNS and where its state machine stands.

    The same fields as MailFromConfig, so one check engine drives both; `status`
    is the identity's verification status while the check exists.
    """

    domain: str
    method: VerificationMethod
    status: VerificationStatus
    status_since: float
    deadline: float | None
    next_check_at: float | None
    last_lookup: MxLookup | None = None


@dataclass(frozen=True)
class Scope:
    """Who is asking: state is isolated per (account, region), like AWS."""

    account: str = "000000000000"
    region: str = "us-east-1"


@dataclass(frozen=True)
class Identity:
    account: str
    region: str
    name: str  # lower-case for domains; the address as given (domain part lower-cased) for emails
    type: IdentityType
    verification_status: VerificationStatus
    created_at: float
    dkim_tokens: tuple[str, ...]
    behavior: BehaviorOnMxFailure = BehaviorOnMxFailure.USE_DEFAULT_VALUE
    mail_from: MailFromConfig | None = None
    verification: VerificationCheck | None = None  # a DNS verification under way (or done)
    verification_token: str | None = None  # an email address's link token until it is opened
    dkim_signing_enabled: bool = True  # PutEmailIdentityDkimAttributes SigningEnabled

    @property
    def dkim_status(self) -> VerificationStatus:
        """Easy DKIM's status: a domain's follows its verification (SES verifies a v2 domain
        through its DKIM records); an email address has no DKIM of its own."""
        if self.type is IdentityType.DOMAIN:
            return self.verification_status
        return VerificationStatus.NOT_STARTED

    @property
    def domain(self) -> str:
        """The domain a MAIL FROM domain must sit under."""
        return self.name.rsplit("@", 1)[-1] if self.type is IdentityType.EMAIL_ADDRESS else self.name

    @property
    def verified(self) -> bool:
        return self.verification_status is VerificationStatus.SUCCESS


CHECK_MAIL_FROM = "mail_from"
CHECK_VERIFICATION = "verification"


@dataclass(frozen=True)
class HistoryEntry:
    """One recorded transition (or noteworthy check) of a MAIL FROM configuration or of
    an identity's verification (`check`)."""

    at: float
    from_status: MailFromStatus | VerificationStatus | None
    to_status: MailFromStatus | VerificationStatus | None
    event: str
    domain: str | None = None
    lookup: MxLookup | None = None
    detail: str | None = None
    check: str = CHECK_MAIL_FROM

    def to_dict(self) -> dict:
        return {
            "check": self.check,
            "at": self.at,
            "from": self.from_status.value if self.from_status else None,
            "to": self.to_status.value if self.to_status else None,
            "event": self.event,
            "domain": self.domain,
            "outcome": self.lookup.outcome.value if self.lookup else None,
            "answers": list(self.lookup.answers) if self.lookup else [],
            "error": self.lookup.error if self.lookup else None,
            "spf": self.lookup.spf if self.lookup else None,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "HistoryEntry":
        """The inverse of `to_dict` (how the store keeps history)."""
        lookup = None
        if d.get("outcome"):
            lookup = MxLookup(LookupOutcome(d["outcome"]), tuple(d.get("answers") or ()), d.get("error"), d.get("spf"))
        check = d.get("check", CHECK_MAIL_FROM)
        status = VerificationStatus if check == CHECK_VERIFICATION else MailFromStatus
        return cls(d["at"], status(d["from"]) if d.get("from") else None,
                   status(d["to"]) if d.get("to") else None, d["event"], d.get("domain"), lookup,
                   d.get("detail"), check)


@dataclass(frozen=True)
class Settings:
    """The timing knobs of SPEC §4, in seconds."""

    check_interval: float = 60.0
    pending_timeout: float = 259200.0
    identity_verification: str = "instant"  # the default mode of every account: instant or dns
