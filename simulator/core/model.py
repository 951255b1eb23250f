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

    @property
    def has_deadline(self) -> bool:
        """States that turn FAILED when the pending timeout runs out."""
        return self in (MailFromStatus.PENDING, MailFromStatus.TEMPORARY_FAILURE)

    @property
    def is_checked(self) -> bool:
        """States that the scheduler keeps looking up; FAILED waits for a Put."""
        return self is not MailFromStatus.FAILED


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

    @property
    def domain(self) -> str:
        """The domain a MAIL FROM domain must sit under."""
        return self.name.rsplit("@", 1)[-1] if self.type is IdentityType.EMAIL_ADDRESS else self.name

    @property
    def verified(self) -> bool:
        return self.verification_status is VerificationStatus.SUCCESS


@dataclass(frozen=True)
class HistoryEntry:
    """One recorded transition (or noteworthy check) of a MAIL FROM configuration."""

    at: float
    from_status: MailFromStatus | None
    to_status: MailFromStatus | None
    event: str
    domain: str | None = None
    lookup: MxLookup | None = None
    detail: str | None = None

    def to_dict(self) -> dict:
        return {
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


@dataclass(frozen=True)
class Settings:
    """The timing knobs of SPEC §4, in seconds."""

    check_interval: float = 60.0
    pending_timeout: float = 259200.0
