"""What the facade's parts share: outbox and send constants, the records a send leaves,
and small helpers."""
from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass

from .. import mail
from ..core import checks, rules, sending, verdicts
from ..core.errors import (
    AwsError,
    ConfigurationSetDoesNotExist,
    TemplateDoesNotExist,
    BadRequestException,
    InvalidNextTokenException,
)
from ..core.model import Identity, LookupOutcome, MxLookup, Scope
from ..mail import templates


VERIFICATION_MODES = ("instant", "dns")
VERIFICATION_SENDER = "no-reply-aws@amazon.com"
REGION_NAMES = {
    "us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)", "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)", "eu-west-1": "Europe (Ireland)", "eu-west-2": "Europe (London)",
    "eu-central-1": "Europe (Frankfurt)", "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)", "ap-northeast-1": "Asia Pacific (Tokyo)",
}

# Relay states of an outbox entry: "none" (not relayed), "pending", "delivered", "failed: <reason>".
RELAY_NONE, RELAY_PENDING = "none", "pending"
# How a message came in (the outbox entry's `via`).
VIA_V2, VIA_PINPOINT, VIA_V1, VIA_SMTP = "api-v2", "api-pinpoint", "api-v1", "smtp"
VIA_VERIFICATION = "verification"  # SES's own verification message to an email address (SPEC §12)
MAX_BULK_ENTRIES = 50  # SES: up to 50 destinations per bulk call
NAMED_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # configuration set names (SES: 64 letters, digits, _ and -)


@dataclass(frozen=True)
class Attempt:
    """One message through the send decision: what was decided and what goes to the outbox."""

    message_id: str
    composed: mail.ComposedMessage
    verdict: sending.SendVerdict
    entry: dict | None  # None: nothing is recorded (an unverified sender or sandbox recipient)
    raw: bytes  # empty while the MIME is not built (`composed.recipe`)
    signer: tuple[str, tuple[str, ...]] | None = None  # the domain and tokens of a DKIM identity signing it


@dataclass(frozen=True)
class BulkResult:
    """One bulk entry's outcome; `status` in the v2 spelling (BulkEmailStatus)."""

    status: str
    message_id: str | None = None
    error: AwsError | None = None

    @classmethod
    def of(cls, attempt: Attempt) -> "BulkResult":
        verdict = attempt.verdict
        if isinstance(verdict, sending.Accepted):
            return cls("SUCCESS", attempt.message_id)
        if verdict.recorded:
            return cls("MAIL_FROM_DOMAIN_NOT_VERIFIED", None, verdict.error)
        return cls("MESSAGE_REJECTED", None, verdict.error)


def template_not_found(name: object) -> TemplateDoesNotExist:
    return TemplateDoesNotExist(f"Email template {name} does not exist.", v1_message=f"Template {name} does not exist.")


def configuration_set_not_found(name: object) -> ConfigurationSetDoesNotExist:
    return ConfigurationSetDoesNotExist(f"Configuration set <{name}> does not exist.",
                                        v1_message=f"Configuration set <{name}> does not exist.")


def template_content(row: dict) -> templates.TemplateContent:
    return templates.TemplateContent(row["subject"], row["text"], row["html"])


def template_name_from_arn(scope: Scope, arn: object) -> str:
    """The template an ARN names in this account and region (arn:aws:ses:REGION:ACCOUNT:template/NAME)."""
    parts = arn.split(":", 5) if isinstance(arn, str) else []
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "ses"] or not parts[5].startswith("template/"):
        raise BadRequestException(f"TemplateArn {arn!r} is not a template ARN.")
    name = parts[5][len("template/"):]
    if (parts[3], parts[4]) != (scope.region, scope.account):
        raise template_not_found(name)
    return name


def after_token(next_token: str | None, kind: str) -> str | None:
    """The last name of the previous page, from a NextToken of this simulator's form for the
    list `kind` (identities, templates, configuration_sets): another list's token is refused."""
    if not next_token:
        return None
    try:
        raw = base64.urlsafe_b64decode(next_token.encode())
        if base64.urlsafe_b64encode(raw).decode() != next_token:  # "@@@" decodes (to nothing) too
            raise ValueError(next_token)
        token_kind, separator, name = raw.decode().partition(":")
        if token_kind != kind or not separator:
            raise ValueError(next_token)
        return name
    except Exception:
        raise InvalidNextTokenException("The NextToken is not valid.") from None


def paged(rows: list, page_size: int, name_of, kind: str) -> tuple[list, str | None]:
    """A page of `page_size` from `page_size + 1` rows, and the token for the next one (or None):
    the list's `kind` and where the page ends, in base64."""
    if len(rows) <= page_size:
        return rows, None
    rows = rows[:page_size]
    return rows, base64.urlsafe_b64encode(f"{kind}:{name_of(rows[-1])}".encode()).decode()


def is_due(kind: checks.CheckKind, config, now: float) -> bool:
    due_at = kind.machine.due_at(config)
    return due_at is not None and due_at <= now


def quota_recipients(attempt: "Attempt") -> int:
    """What a message counts toward the sending quota: its recipients (To + Cc + Bcc, SPEC §10);
    SES's own verification messages count nothing."""
    return 0 if attempt.entry.get("via") == VIA_VERIFICATION else len(attempt.composed.destinations)


# The raw messages one outbox page carries at most (a page of five 39 MB messages was 204 MB).
OUTBOX_RAW_BUDGET = 8 * 1024 * 1024


def no_resolver_lookup() -> MxLookup:
    return MxLookup(LookupOutcome.TRANSIENT, error="no resolver is configured")


def _asked(kind: checks.CheckKind, identity: Identity) -> tuple:
    """What a check of this kind asks DNS for this identity: equal questions, equal answers."""
    config = kind.config(identity)
    if kind is checks.MAIL_FROM:
        return (config.domain, identity.region)
    if kind is checks.LINK:
        return ()  # a link asks DNS nothing
    return (tuple(verdicts.verification_questions(config.domain, identity.dkim_tokens)),
            rules.verification_token(identity))


def still_answers(kind: checks.CheckKind, seen: Identity, fresh: Identity | None, lookup: MxLookup | None,
                   now: float, force: bool) -> str | None:
    """None when the check made for `seen` applies to `fresh` (the identity as it is now);
    otherwise why not, for checks/run's `skipped`."""
    if fresh is None:
        return "deleted by a concurrent request"
    if kind.config(fresh) is None:
        return "its configuration was removed by a concurrent request"
    if _asked(kind, fresh) != _asked(kind, seen) or \
            kind.machine.needs_lookup(kind.config(fresh), now, force) != (lookup is not None):
        return "changed by a concurrent request"
    return None


def skipped_check(kind: checks.CheckKind, identity: Identity, reason: str) -> dict:
    return {"check": kind.name, "identity": identity.name, "account": identity.account, "region": identity.region,
            "domain": kind.config(identity).domain if kind.config(identity) is not None else None, "reason": reason}


def new_dkim_token() -> str:
    # 32 characters of lower-case base32, like the CNAME tokens SES hands out.
    return base64.b32encode(secrets.token_bytes(20)).decode().lower()


