"""The facade: the only path that mutates the simulator's state.

Views, the scheduler, the clock control and the scenario runner all call this
class; it gathers facts through its ports (ports.py), applies the pure rules
(core/), and commits each change with its history entries in one write. It is
built whole by the composition root (runtime.py): nothing is plugged in later.
"""
from __future__ import annotations

import base64
import logging
import math
import re
import secrets
import threading
from dataclasses import dataclass, replace

from . import __version__, mail
from .core import checks, machine, mailauth, names, rules, sending, verdicts
from .core import tags as tag_rules
from .core.clock import MAX_ADVANCE, MAX_TIME, SimClock, rfc3339
from .core.errors import (
    AlreadyExistsException,
    AwsError,
    ConfigurationSetAlreadyExists,
    ConfigurationSetDoesNotExist,
    TemplateAlreadyExists,
    TemplateDoesNotExist,
    Conflict,
    BadRequestException,
    InvalidNextTokenException,
    NotFoundException,
    SimNotFound,
    ValidationError,
)
from .events import EventBus
from .core.model import (
    CHECK_VERIFICATION,
    BehaviorOnMxFailure,
    HistoryEntry,
    Identity,
    IdentityType,
    LookupOutcome,
    MailFromDecision,
    MxLookup,
    Scope,
    Settings,
    VerificationMethod,
    VerificationStatus,
)
from .mail import templates
from .nameserver.zone import DuplicateRecordError
from .ports import Authenticator, Lookup, Relay, Store, Zone
from .sweeplock import SweepLock

log = logging.getLogger("mailfrom_sim.checks")

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
_NAMED_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # configuration set names (SES: 64 letters, digits, _ and -)


@dataclass(frozen=True)
class _Attempt:
    """One message through the send decision: what was decided and what goes to the outbox."""

    message_id: str
    composed: mail.ComposedMessage
    verdict: sending.SendVerdict
    entry: dict | None  # None: nothing is recorded (an unverified sender or sandbox recipient)
    raw: bytes


@dataclass(frozen=True)
class BulkResult:
    """One bulk entry's outcome; `status` in the v2 spelling (BulkEmailStatus)."""

    status: str
    message_id: str | None = None
    error: AwsError | None = None

    @classmethod
    def of(cls, attempt: _Attempt) -> "BulkResult":
        verdict = attempt.verdict
        if isinstance(verdict, sending.Accepted):
            return cls("SUCCESS", attempt.message_id)
        if verdict.recorded:
            return cls("MAIL_FROM_DOMAIN_NOT_VERIFIED", None, verdict.error)
        return cls("MESSAGE_REJECTED", None, verdict.error)


def _template_not_found(name: object) -> TemplateDoesNotExist:
    return TemplateDoesNotExist(f"Email template {name} does not exist.", v1_message=f"Template {name} does not exist.")


def _configuration_set_not_found(name: object) -> ConfigurationSetDoesNotExist:
    return ConfigurationSetDoesNotExist(f"Configuration set <{name}> does not exist.",
                                        v1_message=f"Configuration set <{name}> does not exist.")


def _template_content(row: dict) -> templates.TemplateContent:
    return templates.TemplateContent(row["subject"], row["text"], row["html"])


def _template_name_from_arn(scope: Scope, arn: object) -> str:
    """The template an ARN names in this account and region (arn:aws:ses:REGION:ACCOUNT:template/NAME)."""
    parts = arn.split(":", 5) if isinstance(arn, str) else []
    if len(parts) != 6 or parts[0] != "arn" or not parts[5].startswith("template/"):
        raise BadRequestException(f"TemplateArn {arn!r} is not a template ARN.")
    name = parts[5][len("template/"):]
    if (parts[3], parts[4]) != (scope.region, scope.account):
        raise _template_not_found(name)
    return name


def _after(next_token: str | None) -> str | None:
    """The last name of the previous page, from a NextToken this simulator handed out."""
    if not next_token:
        return None
    try:
        return base64.urlsafe_b64decode(next_token.encode()).decode()
    except Exception:
        raise InvalidNextTokenException("The NextToken is not valid.") from None


def _paged(rows: list, page_size: int, name_of) -> tuple[list, str | None]:
    """A page of `page_size` from `page_size + 1` rows, and the token for the next one (or None)."""
    if len(rows) <= page_size:
        return rows, None
    rows = rows[:page_size]
    return rows, base64.urlsafe_b64encode(name_of(rows[-1]).encode()).decode()


def _due(kind: checks.CheckKind, config, now: float) -> bool:
    due_at = kind.machine.due_at(config)
    return due_at is not None and due_at <= now


def _quota_recipients(attempt: "_Attempt") -> int:
    """What a message counts toward the sending quota: its recipients (To + Cc + Bcc, SPEC §10);
    SES's own verification messages count nothing."""
    return 0 if attempt.entry.get("via") == VIA_VERIFICATION else len(attempt.composed.destinations)


# The raw messages one outbox page carries at most (a page of five 39 MB messages was 204 MB).
OUTBOX_RAW_BUDGET = 8 * 1024 * 1024


def _no_resolver() -> MxLookup:
    return MxLookup(LookupOutcome.TRANSIENT, error="no resolver is configured")


def _asked(kind: checks.CheckKind, identity: Identity) -> tuple:
    """What a check of this kind asks DNS for this identity: equal questions, equal answers."""
    config = kind.config(identity)
    if kind is checks.MAIL_FROM:
        return (config.domain, identity.region)
    return tuple(verdicts.verification_questions(config.domain, config.method, identity.dkim_tokens,
                                                 rules.verification_token(identity)))


def _still_answers(kind: checks.CheckKind, seen: Identity, fresh: Identity | None, lookup: MxLookup | None,
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


def _skip(kind: checks.CheckKind, identity: Identity, reason: str) -> dict:
    return {"check": kind.name, "identity": identity.name, "account": identity.account, "region": identity.region,
            "domain": kind.config(identity).domain if kind.config(identity) is not None else None, "reason": reason}


def _dkim_token() -> str:
    # 32 characters of lower-case base32, like the CNAME tokens SES hands out.
    return base64.b32encode(secrets.token_bytes(20)).decode().lower()


class Simulator:
    def __init__(
        self,
        store: Store,
        settings: Settings = Settings(),
        *,
        lookup: Lookup | None = None,
        zone: Zone | None = None,
        relay: Relay | None = None,
        dns_address: str | None = None,
        clock: SimClock | None = None,
        events: EventBus | None = None,
        authenticator: Authenticator | None = None,
    ):
        """`lookup` None: every check is TRANSIENT; `zone` None: the embedded DNS server is not
        in use; `relay` None: accepted mail is only stored; `authenticator` None: mail is neither
        DKIM-signed nor given authentication results."""
        self.store = store
        self.events = events if events is not None else EventBus()
        self.settings = settings
        self.clock = clock or SimClock(float(store.get_meta("clock_offset", "0") or 0))
        self.lookup = lookup
        self.zone = zone
        self.relay = relay
        self.dns_address = dns_address
        self.authenticator = authenticator
        self._sweeps = SweepLock()  # one sweep at a time; see simulator/sweeplock.py
        self._dns_lock = threading.Lock()
        if zone is not None:
            zone.load(store.dns_records(), store.dns_faults())

    def now(self) -> float:
        return self.clock.now()

    # --- identities ---------------------------------------------------------
    def create_identity(self, scope: Scope, raw_name: str, *, tags: list[dict] | None = None,
                        configuration_set: str | None = None, link_base: str = "",
                        method: VerificationMethod = VerificationMethod.DKIM) -> Identity:
        """A new identity; its tags are stored with it. A configuration set that does not
        exist refuses the whole call: nothing is created.

        In the account's `instant` verification mode it is verified at once (SPEC §6); in
        `dns` mode (§12) a domain starts PENDING and is checked through DNS (`method`: its
        DKIM CNAMEs, or v1's TXT token), and an email address starts PENDING with a
        verification message in the outbox whose link (under `link_base`) verifies it.
        """
        tags = tag_rules.validate(tags, "Key", "Value")
        name, type_ = rules.validate_identity_name(raw_name)
        self._require_configuration_set(scope, configuration_set)
        now = self.now()
        identity = Identity(
            account=scope.account, region=scope.region, name=name, type=type_,
            verification_status=VerificationStatus.SUCCESS, created_at=now,
            dkim_tokens=tuple(_dkim_token() for _ in range(3)) if type_ is IdentityType.DOMAIN else (),
        )
        history = []
        if self.account_settings(scope)["identity_verification"] == "dns":
            if type_ is IdentityType.DOMAIN:
                check, entry = machine.start_verification(name, method, now, self.settings)
                identity = replace(identity, verification=check, verification_status=check.status)
                history.append(entry)
            else:
                identity = replace(identity, verification_status=VerificationStatus.PENDING,
                                   verification_token=secrets.token_urlsafe(24))
        message = self._verification_message(identity, link_base) if identity.verification_token else None

        def insert(tx) -> bool:
            if not self.store.insert_identity(tx, identity):
                return False
            self.store.set_identity_tags(tx, scope.account, scope.region, name, tags)
            self.store.add_history(tx, scope.account, scope.region, name, history)
            return True

        if not self.store.write(insert):
            raise AlreadyExistsException(f"Email identity <{name}> already exist.")  # sic, as AWS (SPEC §16)
        self._publish("identity", action="created", account=scope.account, region=scope.region, identity=name,
                      verification=identity.verification_status.value)
        if message is not None:
            self._commit(scope, [message])
        return identity

    def _verification_message(self, identity: Identity, link_base: str) -> "_Attempt":
        """The message SES sends an email address to verify it, holding the link that does."""
        link = f"{link_base.rstrip('/')}/_sim/verify/{identity.verification_token}"
        region = identity.region
        simple = {
            "Subject": {"Data": f"Amazon Web Services \u2013 Email Address Verification Request in region "
                                f"{REGION_NAMES.get(region, region)}"},
            "Body": {"Text": {"Data": (
                "Dear Amazon Web Services Customer,\n\n"
                f"We have received a request to authorize this email address for use with Amazon SES in region "
                f"{REGION_NAMES.get(region, region)}. If you requested this verification, please go to the "
                f"following URL to confirm that you are authorized to use this email address:\n\n{link}\n\n"
                "Your request will not be processed unless you confirm the address using this URL. This link "
                "expires 24 hours after your original verification request.\n\n"
                "Sincerely,\nThe Amazon Web Services Team\n")}},
        }
        composed = self._composed_simple(VERIFICATION_SENDER, {"ToAddresses": [identity.name]}, simple, None,
                                         mail.V2_MAX_MESSAGE_BYTES, mail.MAX_RECIPIENTS)
        message_id = mail.new_message_id()
        envelope_from = sending.default_mail_from(message_id, identity.region)
        verdict = sending.Accepted(envelope_from, MailFromDecision.DEFAULT, "amazon.com", None, None,
                                   "the verification message SES sends")
        now = self.now()
        entry = self._outbox_entry(Scope(identity.account, identity.region), message_id, now, composed, verdict,
                                   envelope_from, MailFromDecision.DEFAULT,
                                   {"via": VIA_VERIFICATION, "template": None, "configuration_set": None,
                                    "verification_link": link})
        raw = mail.delivered_mime(composed, message_id, identity.region, now, envelope_from)
        return _Attempt(message_id, composed, verdict, entry, raw)

    def verify_email_link(self, token: str) -> Identity:
        """Open an email address's verification link: it becomes verified (once)."""
        identity = self.store.identity_with_token(token) if token else None
        if identity is None:
            raise SimNotFound("this verification link is not valid (or was used already)")
        updated = replace(identity, verification_status=VerificationStatus.SUCCESS, verification_token=None)
        entry = HistoryEntry(self.now(), identity.verification_status, VerificationStatus.SUCCESS, "LINK_OPENED",
                             domain=identity.domain, detail="verification link opened", check=CHECK_VERIFICATION)

        def verify(tx) -> bool:
            if not self.store.update_check_if_unchanged(tx, CHECK_VERIFICATION, identity, updated):
                return False
            self.store.add_history(tx, identity.account, identity.region, identity.name, [entry])
            return True

        if not self.store.write(verify):
            raise SimNotFound("this verification link is not valid (or was used already)")
        self._publish("identity", action="verification", account=identity.account, region=identity.region,
                      identity=identity.name, verification=VerificationStatus.SUCCESS.value)
        return updated

    def set_dkim_signing(self, scope: Scope, raw_name: str, enabled: object) -> Identity:
        """PutEmailIdentityDkimAttributes: whether mail from the identity is signed with its own DKIM key."""
        if not isinstance(enabled, bool):
            raise BadRequestException("SigningEnabled must be true or false.")
        identity = self.get_identity(scope, raw_name)
        self.store.write(lambda tx: self.store.set_dkim_signing(tx, identity, enabled))
        return replace(identity, dkim_signing_enabled=enabled)

    def identity_tags(self, identity: Identity) -> list[dict]:
        return self.store.identity_tags(identity.account, identity.region, identity.name)

    def ensure_identity(self, scope: Scope, raw_name: str, link_base: str = "") -> Identity:
        """The identity, created unless it exists: v1's Verify*Identity (a domain verifies
        through its `_amazonses` TXT token in `dns` mode)."""
        found = self.find_identities(scope, [raw_name]).get(raw_name)
        if found is not None:
            return found
        try:
            return self.create_identity(scope, raw_name, link_base=link_base, method=VerificationMethod.TXT)
        except AlreadyExistsException:  # a concurrent Verify won the race
            return self.get_identity(scope, raw_name)

    def get_identity(self, scope: Scope, raw_name: str) -> Identity:
        identity = self.store.get_identity(scope.account, scope.region, rules.identity_key(raw_name))
        if identity is None:
            raise NotFoundException(
                f"Email identity {raw_name} does not exist.",
                v1_message=f"Identity <{raw_name}> does not exist.",  # SPEC §16
            )
        return identity

    def find_identities(self, scope: Scope, raw_names: list[str]) -> dict[str, Identity]:
        """The identities that exist among `raw_names`, keyed by the name as asked."""
        keys = {raw: rules.identity_key(raw) for raw in raw_names}
        found = self.store.get_identities(scope.account, scope.region, list(set(keys.values())))
        return {raw: found[key] for raw, key in keys.items() if key in found}

    def list_identities(self, scope: Scope, page_size: int | None, next_token: str | None,
                        type_: IdentityType | None = None, max_page: int = 1000) -> tuple[list[Identity], str | None]:
        if page_size is None:
            page_size = max_page
        if not isinstance(page_size, int) or isinstance(page_size, bool) or not 1 <= page_size <= max_page:
            raise BadRequestException(f"PageSize must be an integer from 1 to {max_page}.")
        page = self.store.list_identities(scope.account, scope.region, _after(next_token), page_size + 1, type_)
        return _paged(page, page_size, lambda identity: identity.name)

    def delete_identity(self, scope: Scope, raw_name: str) -> None:
        identity = self.get_identity(scope, raw_name)

        def delete(tx) -> None:
            self.store.delete_identity(tx, scope.account, scope.region, identity.name)
            self.store.delete_history(tx, scope.account, scope.region, identity.name)
            self.store.set_identity_tags(tx, scope.account, scope.region, identity.name, None)

        self.store.write(delete)
        if self.authenticator is not None:
            self.authenticator.forget(identity)
        self._publish("identity", action="deleted", account=scope.account, region=scope.region, identity=identity.name)

    def put_mail_from(self, scope: Scope, raw_name: str, mail_from_domain: str | None,
                      behavior: BehaviorOnMxFailure | None) -> Identity:
        behavior = behavior or BehaviorOnMxFailure.USE_DEFAULT_VALUE  # a Put replaces; AWS's default
        # Optimistic first: the rules run outside the writer and the write is a
        # compare-and-set. If another write to this identity came in between, the
        # second try reads and writes inside the writer's transaction.
        identity = self.get_identity(scope, raw_name)
        updated, entries = rules.apply_put(identity, mail_from_domain, behavior, self.now(), self.settings)

        def write(tx) -> None:
            nonlocal identity, updated, entries
            if not self.store.update_mail_from_if_unchanged(tx, identity, updated):
                identity = self.get_identity(scope, raw_name)  # the writer thread's connection is `tx`
                updated, entries = rules.apply_put(identity, mail_from_domain, behavior, self.now(), self.settings)
                if not self.store.update_mail_from_if_unchanged(tx, identity, updated):
                    raise RuntimeError("an identity changed inside the write transaction")
            self.store.add_history(tx, scope.account, scope.region, updated.name, entries)

        self.store.write(write)
        self._publish_transitions(scope.account, scope.region, updated.name, [e.to_dict() for e in entries])
        return updated

    def set_verification(self, scope: Scope, raw_name: str, status: str) -> Identity:
        try:
            verification = VerificationStatus(status)
        except ValueError:
            allowed = ", ".join(s.value for s in VerificationStatus)
            raise ValidationError(f"status must be one of {allowed}") from None
        identity = self.get_identity(scope, raw_name)
        self.store.write(lambda tx: self.store.set_verification(tx, identity, verification))
        self._publish("identity", action="verification", account=scope.account, region=scope.region,
                      identity=identity.name, verification=verification.value)
        return replace(identity, verification_status=verification)

    def history(self, scope: Scope, raw_name: str) -> list[dict]:
        identity = self.get_identity(scope, raw_name)
        return [{**entry.to_dict(), "time": rfc3339(entry.at)}
                for entry in self.store.history(scope.account, scope.region, identity.name)]

    # --- checks and time ----------------------------------------------------
    def _apply_checks(self, work: list[tuple[checks.CheckKind, Identity, MxLookup | None]], now: float,
                      force: bool, skipped: list[dict] | None = None) -> list[dict]:
        """Commit each check's outcome with its history entries, unless a Put changed it meanwhile.

        With `skipped` (checks/run): a configuration changed meanwhile is read again and the
        check applied to it when its lookup still answers it (same names asked); otherwise it
        is listed in `skipped` with the reason, never left out silently."""
        results: list[dict] = []

        def apply(tx, chunk: list[tuple[checks.CheckKind, Identity, MxLookup | None]]) -> None:
            for kind, seen, lookup in chunk:
                config = kind.config(seen)
                updated, entries = kind.machine.catch_up(config, lookup, now, self.settings, force=force)
                if not self.store.update_check_if_unchanged(tx, kind.name, seen, kind.with_config(seen, updated)):
                    if skipped is None:
                        continue  # deleted or Put meanwhile: the new config is checked on its own schedule
                    fresh = self.store.get_identity(seen.account, seen.region, seen.name)  # `tx`'s thread
                    reason = _still_answers(kind, seen, fresh, lookup, now, force)
                    if reason is not None:
                        skipped.append(_skip(kind, seen, reason))
                        continue
                    seen, config = fresh, kind.config(fresh)
                    updated, entries = kind.machine.catch_up(config, lookup, now, self.settings, force=force)
                    if not self.store.update_check_if_unchanged(tx, kind.name, seen, kind.with_config(seen, updated)):
                        skipped.append(_skip(kind, seen, "changed by a concurrent request"))
                        continue
                self.store.add_history(tx, seen.account, seen.region, seen.name, entries)
                results.append({
                    "check": kind.name, "identity": seen.name, "account": seen.account, "region": seen.region,
                    "domain": config.domain, "from": config.status.value, "to": updated.status.value,
                    "lookup": lookup.to_dict() if lookup else None,
                    "transitions": [e.to_dict() for e in entries],
                })

        for start in range(0, len(work), 500):
            chunk = work[start:start + 500]
            self.store.write(lambda tx: apply(tx, chunk))
        self._publish_checks(results)
        return results

    def _lookups_for(self, identities: list[Identity], now: float, force: bool, cancel: threading.Event | None = None
                     ) -> tuple[list[tuple[checks.CheckKind, Identity, MxLookup | None]],
                                list[tuple[checks.CheckKind, Identity]]]:
        """Every configuration of every kind among `identities`, with its lookup when a check is due
        (all of a kind's lookups at once, pipelined; one MX lookup per (domain, region)); and
        apart, those whose lookup was not made (the sweep's deadline or `cancel` came first),
        which stay due."""
        work = [(kind, identity) for kind in checks.KINDS for identity in identities
                if kind.config(identity) is not None and (force or _due(kind, kind.config(identity), now))]
        due = [(kind, identity) for kind, identity in work
               if kind.machine.needs_lookup(kind.config(identity), now, force)]
        answers = self._mx_lookups([i for kind, i in due if kind is checks.MAIL_FROM], cancel)
        answers.update(self._verification_lookups([i for kind, i in due if kind is checks.VERIFICATION], cancel))
        checked, not_checked = [], []
        for kind, identity in work:
            key = (kind.name, identity.account, identity.region, identity.name)
            if key in answers and answers[key] is None:
                not_checked.append((kind, identity))  # asked for, not looked up
            else:
                checked.append((kind, identity, answers.get(key)))
        return checked, not_checked

    def _mx_lookups(self, identities: list[Identity], cancel: threading.Event | None) -> dict[tuple, MxLookup | None]:
        keys = list(dict.fromkeys((i.mail_from.domain, i.region) for i in identities))
        if self.lookup is None:
            found = {key: _no_resolver() for key in keys}
        else:  # pipelined: far cheaper than a thread each
            found = dict(zip(keys, self.lookup.lookup_many(keys, cancel=cancel))) if keys else {}
        return {(checks.MAIL_FROM.name, i.account, i.region, i.name): found[(i.mail_from.domain, i.region)]
                for i in identities}

    def _verification_lookups(self, identities: list[Identity],
                              cancel: threading.Event | None) -> dict[tuple, MxLookup | None]:
        questions = {i.name: verdicts.verification_questions(i.verification.domain, i.verification.method,
                                                             i.dkim_tokens, rules.verification_token(i))
                     for i in identities}
        asked = list(dict.fromkeys(q for qs in questions.values() for q in qs))
        if self.lookup is None:
            return {(checks.VERIFICATION.name, i.account, i.region, i.name): _no_resolver() for i in identities}
        facts = dict(zip(asked, self.lookup.resolve_many(asked, cancel=cancel))) if asked else {}
        answers: dict[tuple, MxLookup | None] = {}
        for i in identities:
            found = [facts[q] for q in questions[i.name]]
            answers[(checks.VERIFICATION.name, i.account, i.region, i.name)] = None if None in found else \
                verdicts.verification_verdict(i.verification.method, i.dkim_tokens, rules.verification_token(i), found)
        return answers

    def run_due(self, now: float | None = None, *, scheduled: bool = False) -> list[dict]:
        """Run every check and deadline due by `now` (the scheduler's tick and the clock's advance).

        `scheduled` (the scheduler's tick): skip if a sweep is running, and give way to
        any control-plane call. A check whose lookup the sweep did not get to stays due."""
        with (self._sweeps.scheduled() if scheduled else self._sweeps.control()) as cancel:
            if cancel is None:
                return []  # a sweep is running; the next tick catches up
            now = self.now() if now is None else now
            due = self.store.due_identities(now)
            if not due:
                return []
            work, not_checked = self._lookups_for(due, now, False, cancel)
            if not_checked:
                log.info("check sweep: %d due configuration(s) not looked up this time (%s); they stay due",
                         len(not_checked), "interrupted" if cancel.is_set() else "the sweep's deadline passed")
            return self._apply_checks(work, now, force=False)

    def run_checks(self, scope: Scope, raw_name: str | None = None) -> list[dict]:
        """Check now, whether due or not: every active configuration of the scope, or one identity's."""
        return self.check_now(scope, raw_name)["checks"]

    def check_now(self, scope: Scope, raw_name: str | None = None) -> dict:
        """`run_checks` with what it could not check: {"checks": [...], "skipped": [{"check",
        "identity", "account", "region", "domain", "reason"}]} -- a configuration a concurrent
        request changed so that the lookup no longer answers it, deleted meanwhile, or not
        looked up (interrupted by a reset or stop, or the sweep's deadline passed)."""
        if raw_name is not None:
            identity = self.get_identity(scope, raw_name)
            if not any(kind.config(identity) is not None for kind in checks.KINDS):
                raise ValidationError(f"identity {identity.name} has no MAIL FROM domain set")
        with self._sweeps.control() as cancel:
            # Read under the lock: a scheduled sweep cannot change them between the read and the write.
            if raw_name is not None:
                identities = [self.get_identity(scope, raw_name)]
            else:
                identities = self.store.configured_identities(scope.account, scope.region)
            now = self.now()
            work, not_checked = self._lookups_for(identities, now, True, cancel)
            reason = ("not checked: interrupted by a reset or stop" if cancel.is_set()
                      else "not checked: the sweep's deadline passed before its lookup")
            skipped = [_skip(kind, identity, reason) for kind, identity in not_checked]
            return {"checks": self._apply_checks(work, now, True, skipped), "skipped": skipped}

    def advance(self, seconds: float) -> dict:
        if (isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds)
                or not 0 <= seconds <= MAX_ADVANCE):
            raise ValidationError(f"seconds must be a number from 0 to {MAX_ADVANCE}")
        with self._sweeps.control():
            if seconds > self.clock.room():
                raise ValidationError(f"seconds: the clock cannot pass {rfc3339(MAX_TIME)} "
                                      f"({self.clock.room():.0f} seconds from now)")
            offset = self.clock.offset + float(seconds)
            self.store.write(lambda tx: self.store.set_meta(tx, "clock_offset", repr(offset)))
            now = self.clock.advance(float(seconds))  # in memory only once the new offset is stored
        self._publish("clock", now=rfc3339(now), offset=self.clock.offset, advanced=seconds)
        results = self.run_due(now)
        return {"now": now, "offset": self.clock.offset, "checked": len(results),
                "transitions": sum(len(r["transitions"]) for r in results)}

    def stop_sweeps(self) -> None:
        """Shutting down: the running sweep stops looking up, and later ones look nothing up."""
        self._sweeps.close()

    # --- sending ------------------------------------------------------------
    # Every path -- SendEmail (Simple, Raw, Template), SendBulkEmail, the v1 sends and
    # SMTP -- composes its messages, then `_attempt` decides each through the one send
    # decision (core/sending.py) and `_commit` records and relays them.
    def send_email(self, scope: Scope, *, from_address: str | None, destination: dict | None, content: dict,
                   reply_to: list[str] | None = None, max_bytes: int = mail.V2_MAX_MESSAGE_BYTES,
                   max_recipients: int = mail.MAX_RECIPIENTS, via: str = VIA_V2,
                   configuration_set: str | None = None, tags: list[dict] | None = None) -> str:
        """Send as SES would in the MAIL FROM state of this moment; returns the MessageId.

        `content` has one of Simple, Raw or Template (by TemplateName, TemplateArn or inline
        TemplateContent, with TemplateData). Tags are checked before anything else, then the
        configuration set; a refusal under REJECT_MESSAGE is recorded before it is raised.
        """
        tag_rules.validate(tags)
        self._require_configuration_set(scope, configuration_set)
        composed, template = self._compose(scope, from_address, destination, content, reply_to, max_bytes,
                                           max_recipients)
        written = from_address.strip() if from_address else composed.from_address
        attempt = self._attempt(scope, composed, written, self._identity_chain(scope, composed.from_address),
                                self.account_settings(scope)["sandbox"],
                                {"via": via, "template": template, "configuration_set": configuration_set})
        self._commit(scope, [attempt])
        if isinstance(attempt.verdict, sending.Rejected):
            raise attempt.verdict.error
        return attempt.message_id

    def send_bulk_email(self, scope: Scope, *, from_address: str | None, template: dict, entries: list[dict],
                        reply_to: list[str] | None = None, default_tags: list[dict] | None = None,
                        configuration_set: str | None = None, via: str = VIA_V2,
                        max_bytes: int = mail.V2_MAX_MESSAGE_BYTES) -> list[BulkResult]:
        """One message per entry from one template (SendBulkEmail, SendBulkTemplatedEmail).

        `template` is `{TemplateName | TemplateArn | TemplateContent, TemplateData}` (the default
        data); each entry is `{"destination": {...}, "data": str | None, "tags": [...] | None}`.
        Bad input anywhere (tags, the set, the template, any entry's data or rendering) refuses
        the whole call and sends nothing, and so does an unverified sender (MessageRejected).
        Otherwise each entry is decided on its own: sent, refused by its MAIL FROM domain
        (recorded as rejected) or, in the sandbox, rejected for an unverified recipient.
        """
        if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_BULK_ENTRIES:
            raise BadRequestException(f"The number of bulk email entries must be from 1 to {MAX_BULK_ENTRIES}.")
        tag_rules.validate(default_tags)
        for entry in entries:
            tag_rules.validate(entry.get("tags"))
        self._require_configuration_set(scope, configuration_set)
        name, content = self._template_for(scope, template)
        default_data = templates.parse_data(template.get("TemplateData", "{}"))
        composed_all = []
        for entry in entries:
            data = default_data if entry.get("data") is None else templates.parse_data(
                entry["data"], "ReplacementTemplateData")
            simple = templates.as_simple(templates.render(content, data))
            composed_all.append(self._composed_simple(from_address, entry.get("destination"), simple, reply_to,
                                                      max_bytes, mail.MAX_RECIPIENTS))
        sender = composed_all[0].from_address
        written = from_address.strip() if from_address else sender
        chain = self._identity_chain(scope, sender)
        sender_check = sending.decide(sending.SendFacts(written, sender, chain, scope.region, ""))
        if isinstance(sender_check, sending.Rejected) and not sender_check.recorded:
            raise sender_check.error  # the sender is not verified: the whole call is refused
        sandbox = self.account_settings(scope)["sandbox"]
        extra = {"via": via, "template": name, "configuration_set": configuration_set}
        attempts = [self._attempt(scope, composed, written, chain, sandbox, extra) for composed in composed_all]
        self._commit(scope, attempts)
        return [BulkResult.of(attempt) for attempt in attempts]

    def _attempt(self, scope: Scope, composed: mail.ComposedMessage, written_from: str,
                 chain: list[Identity], sandbox: bool, extra: dict) -> "_Attempt":
        """One message through the send decision, with the outbox entry it leaves (if any)."""
        message_id = mail.new_message_id()
        recipient_chains = {r: self._identity_chain(scope, r) for r in composed.destinations} if sandbox else None
        verdict = sending.decide(sending.SendFacts(written_from, composed.from_address, chain, scope.region,
                                                   message_id, sandbox, recipient_chains))
        now = self.now()
        if isinstance(verdict, sending.Rejected):
            if not verdict.recorded:
                return _Attempt(message_id, composed, verdict, None, b"")
            entry = self._outbox_entry(scope, message_id, now, composed, verdict, None, MailFromDecision.REJECTED,
                                       extra)
            return _Attempt(message_id, composed, verdict, entry, composed.mime_bytes)
        stamped = mail.stamp_message(composed.mime_bytes, message_id, scope.region, now)
        entry = self._outbox_entry(scope, message_id, now, composed, verdict, verdict.envelope_from, verdict.decision,
                                   extra)
        if self.authenticator is not None:  # DKIM-signed, and the receiver's Authentication-Results on top
            stamped, entry["authentication"] = self.authenticator.seal(
                stamped, region=scope.region, signer=mailauth.domain_signer(chain),
                envelope_from=verdict.envelope_from)
        return _Attempt(message_id, composed, verdict, entry, mail.with_return_path(stamped, verdict.envelope_from))

    def _commit(self, scope: Scope, attempts: list["_Attempt"]) -> None:
        """Record every attempt that leaves an outbox entry in one write, then relay the accepted."""
        for attempt in attempts:
            if attempt.entry is None:  # refused before MAIL FROM was considered: nothing is recorded
                self._publish("rejected", account=scope.account, region=scope.region,
                              reason=attempt.verdict.error.message,
                              **{"from": attempt.composed.from_address, "message_id": None})
        recorded = [(a, self._relay_state(a)) for a in attempts if a.entry is not None]
        if not recorded:
            return
        self.store.write(lambda tx: [self.store.add_outbox(tx, a.entry, relay, a.raw, _quota_recipients(a))
                                     for a, relay in recorded])
        for attempt, relay in recorded:
            accepted = isinstance(attempt.verdict, sending.Accepted)
            self._publish("sent" if accepted else "rejected", **attempt.entry, relay=relay)
            if relay == RELAY_PENDING:
                self.relay.submit(attempt.message_id, attempt.verdict.envelope_from,
                                  list(attempt.composed.destinations), attempt.raw)

    def _relay_state(self, attempt: "_Attempt") -> str:
        accepted = isinstance(attempt.verdict, sending.Accepted)
        return RELAY_PENDING if (self.relay is not None and accepted) else RELAY_NONE

    def _identity_chain(self, scope: Scope, address: str) -> list[Identity]:
        """The existing identities that may authorise `address`, most specific first."""
        candidates = sending.sender_candidates(address)
        known = self.store.get_identities(scope.account, scope.region, candidates)
        return [known[name] for name in candidates if name in known]

    def _compose(self, scope: Scope, from_address, destination, content, reply_to, max_bytes,
                 max_recipients) -> tuple[mail.ComposedMessage, str | None]:
        """The message to send, and the name of the template it was rendered from (or None)."""
        if not isinstance(content, dict) or sum(k in content for k in ("Simple", "Raw", "Template")) != 1:
            raise BadRequestException("Content must have exactly one of Simple, Raw or Template.")
        if "Simple" in content:
            return self._composed_simple(from_address, destination, content["Simple"], reply_to, max_bytes,
                                         max_recipients), None
        if "Template" in content:
            spec = content["Template"]
            if not isinstance(spec, dict):
                raise BadRequestException("Content.Template must be a structure.")
            name, template = self._template_for(scope, spec)
            simple = templates.as_simple(templates.render(template, templates.parse_data(spec.get("TemplateData",
                                                                                                  "{}"))))
            for member in ("Headers", "Attachments"):
                if spec.get(member) is not None:
                    simple[member] = spec[member]
            return self._composed_simple(from_address, destination, simple, reply_to, max_bytes,
                                         max_recipients), name
        raw = content["Raw"]
        data = raw.get("Data") if isinstance(raw, dict) else None
        if isinstance(data, str):  # both wire protocols carry the raw MIME as base64
            data = mail.decode_raw_base64(data)
        if not isinstance(data, (bytes, bytearray)):
            raise BadRequestException("Content.Raw.Data is required.")
        return mail.parse_raw(data, from_address, destination, max_bytes=max_bytes, max_recipients=max_recipients), None

    @staticmethod
    def _composed_simple(from_address, destination, simple, reply_to, max_bytes,
                         max_recipients) -> mail.ComposedMessage:
        return mail.build_from_simple(from_address, destination, simple, reply_to,
                                      max_bytes=max_bytes, max_recipients=max_recipients)

    @staticmethod
    def _outbox_entry(scope: Scope, message_id: str, now: float, composed: mail.ComposedMessage,
                      verdict: sending.SendVerdict, envelope_from: str | None, decision: MailFromDecision,
                      extra: dict) -> dict:
        return {
            "message_id": message_id, "account": scope.account, "region": scope.region,
            "from": composed.from_address, "destinations": list(composed.destinations),
            "subject": composed.subject, "envelope_from": envelope_from,
            "mail_from_decision": decision.value, "mail_from_identity": verdict.mail_from_identity,
            "mail_from_status": verdict.mail_from_status.value if verdict.mail_from_status else None,
            "reason": verdict.reason, "sending_identity": verdict.sending_identity,
            "sent_at": now, **extra,
        }

    # --- templates and configuration sets ----------------------------------------
    def create_template(self, scope: Scope, name: object, content: templates.TemplateContent,
                        tags: list[dict] | None = None) -> None:
        tags = tag_rules.validate(tags, "Key", "Value")
        name = templates.validate_name(name)
        templates.validate(name, content)
        row = {"name": name, "created_at": self.now(), "subject": content.subject, "text": content.text,
               "html": content.html, "tags": tags}
        if not self.store.write(lambda tx: self.store.insert_named(tx, "templates", scope.account, scope.region,
                                                                    row)):
            raise TemplateAlreadyExists(f"Email template {name} already exists.",
                                        v1_message=f"Template {name} already exists.")

    def update_template(self, scope: Scope, name: object, content: templates.TemplateContent) -> None:
        name = self.get_template(scope, name)["name"]
        templates.validate(name, content)
        row = {"name": name, "subject": content.subject, "text": content.text, "html": content.html}
        if not self.store.write(lambda tx: self.store.update_template(tx, scope.account, scope.region, row)):
            raise _template_not_found(name)  # deleted meanwhile

    def get_template(self, scope: Scope, name: object) -> dict:
        return self._get_named("templates", scope, name, _template_not_found)

    def delete_template(self, scope: Scope, name: object) -> None:
        self._delete_named("templates", scope, name, _template_not_found)

    def list_templates(self, scope: Scope, page_size: int | None, next_token: str | None,
                       max_page: int = 100) -> tuple[list[dict], str | None]:
        return self._list_named("templates", scope, page_size, next_token, max_page)

    def test_render_template(self, scope: Scope, name: object, data: object) -> str:
        """TestRender*: the stored template rendered with `data`, as MIME text."""
        content = _template_content(self.get_template(scope, name))
        return templates.render_mime(templates.render(content, templates.parse_data(data)))

    def _template_for(self, scope: Scope, spec: dict) -> tuple[str | None, templates.TemplateContent]:
        """The template a send names (TemplateName or TemplateArn) or carries (TemplateContent)."""
        given = [k for k in ("TemplateName", "TemplateArn", "TemplateContent") if spec.get(k) is not None]
        if len(given) != 1:
            raise BadRequestException("Specify exactly one of TemplateName, TemplateArn or TemplateContent.")
        if given[0] == "TemplateContent":
            inline = spec["TemplateContent"]
            if not isinstance(inline, dict):
                raise BadRequestException("TemplateContent must be a structure.")
            content = templates.TemplateContent(inline.get("Subject"), inline.get("Text"), inline.get("Html"))
            templates.validate("(inline)", content)
            return None, content
        name = spec["TemplateName"] if given[0] == "TemplateName" else _template_name_from_arn(scope, spec["TemplateArn"])
        return name, _template_content(self.get_template(scope, name))

    def template_arn(self, scope: Scope, name: str) -> str:
        return f"arn:aws:ses:{scope.region}:{scope.account}:template/{name}"

    def create_configuration_set(self, scope: Scope, name: object, tags: list[dict] | None = None) -> None:
        tags = tag_rules.validate(tags, "Key", "Value")
        if not isinstance(name, str) or not _NAMED_RE.match(name):
            raise BadRequestException(
                f"Invalid configuration set name {name!r}: up to 64 ASCII letters, digits, '_' or '-'.")
        row = {"name": name, "created_at": self.now(), "tags": tags}
        if not self.store.write(lambda tx: self.store.insert_named(tx, "configuration_sets", scope.account,
                                                                    scope.region, row)):
            raise ConfigurationSetAlreadyExists(f"Configuration set <{name}> already exists.",
                                                v1_message=f"Configuration set <{name}> already exists.")

    def get_configuration_set(self, scope: Scope, name: object) -> dict:
        return self._get_named("configuration_sets", scope, name, _configuration_set_not_found)

    def delete_configuration_set(self, scope: Scope, name: object) -> None:
        self._delete_named("configuration_sets", scope, name, _configuration_set_not_found)

    def list_configuration_sets(self, scope: Scope, page_size: int | None, next_token: str | None,
                                max_page: int = 1000) -> tuple[list[dict], str | None]:
        return self._list_named("configuration_sets", scope, page_size, next_token, max_page)

    def _require_configuration_set(self, scope: Scope, name: str | None) -> None:
        """A request that names a configuration set needs it to exist (SPEC §10)."""
        if name is not None:
            self.get_configuration_set(scope, name)

    def _get_named(self, table: str, scope: Scope, name: object, not_found) -> dict:
        found = self.store.get_named(table, scope.account, scope.region, name) if isinstance(name, str) else None
        if found is None:
            raise not_found(name)
        return found

    def _delete_named(self, table: str, scope: Scope, name: object, not_found) -> None:
        if not isinstance(name, str) or not self.store.write(
                lambda tx: self.store.delete_named(tx, table, scope.account, scope.region, name)):
            raise not_found(name)

    def _list_named(self, table: str, scope: Scope, page_size: int | None, next_token: str | None,
                    max_page: int) -> tuple[list[dict], str | None]:
        if page_size is None:
            page_size = max_page
        if not isinstance(page_size, int) or isinstance(page_size, bool) or not 1 <= page_size <= max_page:
            raise BadRequestException(f"PageSize must be an integer from 1 to {max_page}.")
        rows = self.store.list_named(table, scope.account, scope.region, _after(next_token), page_size + 1)
        return _paged(rows, page_size, lambda row: row["name"])

    def record_relay_result(self, message_id: str, relay_status: str) -> None:
        self.store.write(lambda tx: self.store.set_outbox_relay(tx, message_id, relay_status))
        self._publish("relay", message_id=message_id, relay=relay_status)

    def resume_pending_relays(self) -> int:
        """Hand the relay every accepted message a previous process had not delivered yet."""
        if self.relay is None:
            return 0
        pending = self.store.with_relay_state(RELAY_PENDING)
        for entry, raw in pending:
            self.relay.submit(entry["message_id"], entry["envelope_from"], entry["destinations"], raw)
        return len(pending)

    def _stored_message(self, message_id: str) -> tuple[dict, str, bytes]:
        found = self.store.outbox_entry(message_id)
        if found is None:
            raise SimNotFound(f"message {message_id} is not in the outbox")
        return found

    def raw_message(self, message_id: str) -> bytes:
        """The message as stored (as relayed, for accepted mail)."""
        return self._stored_message(message_id)[2]

    def requeue_relay(self, message_id: str) -> dict:
        """Hand a message whose delivery failed (or was never relayed) to the relay again."""
        entry, relay, raw = self._stored_message(message_id)
        if self.relay is None:
            raise ValidationError("no SMTP relay is configured (--smtp-relay)")
        if not entry.get("envelope_from"):
            raise ValidationError(f"message {message_id} was rejected: there is nothing to relay")
        if relay != RELAY_NONE and not relay.startswith("failed"):
            raise Conflict(f"message {message_id} is {relay}, not failed: it is not sent again")
        self.store.write(lambda tx: self.store.set_outbox_relay(tx, message_id, RELAY_PENDING))
        self.relay.submit(message_id, entry["envelope_from"], entry["destinations"], raw)
        return {"message_id": message_id, "relay": RELAY_PENDING, "previous": relay}

    def outbox(self, scope: Scope, limit: int = 100) -> list[dict]:
        return self.outbox_page(scope, limit)["messages"]

    def outbox_page(self, scope: Scope, limit: int = 100, before: int | None = None,
                    raw_budget: int = OUTBOX_RAW_BUDGET) -> dict:
        """Newest first. The raw messages of one page stay within `raw_budget` bytes: an entry
        past it has `raw` null and `raw_omitted` true (GET /_sim/outbox/{id}/raw serves it).
        `next` (when more entries are older) is the `before` of the next page."""
        rows = self.store.outbox(scope.account, scope.region, limit + 1, before, raw_budget)
        messages = [{**entry, "relay": relay, "sent_at": rfc3339(entry["sent_at"]),
                     "raw": raw.decode("utf-8", errors="replace") if raw is not None else None,
                     "raw_size": size, **({"raw_omitted": True} if raw is None else {})}
                    for _, entry, relay, raw, size in rows[:limit]]
        return {"messages": messages, "next": str(rows[limit - 1][0]) if len(rows) > limit else None}

    def clear_outbox(self, scope: Scope | None = None) -> None:
        self.store.write(lambda tx: self.store.clear_outbox(tx, scope.account if scope else None,
                                                           scope.region if scope else None))

    # --- account settings -----------------------------------------------------
    def account_settings(self, scope: Scope) -> dict:
        return {"sandbox": False, "identity_verification": self.settings.identity_verification,
                **self.store.account_settings(scope.account, scope.region)}

    def set_account_settings(self, scope: Scope, sandbox: object = None, identity_verification: object = None) -> dict:
        """Sandbox on or off; identity verification `instant` or `dns` (for identities created from now on)."""
        if sandbox is None and identity_verification is None:
            raise ValidationError("give sandbox (true or false) and/or identity_verification (instant or dns)")
        if sandbox is not None and not isinstance(sandbox, bool):
            raise ValidationError("sandbox must be true or false")
        if identity_verification is not None and identity_verification not in VERIFICATION_MODES:
            raise ValidationError("identity_verification must be instant or dns")
        changes = {"sandbox": sandbox, "identity_verification": identity_verification}
        settings = {**self.account_settings(scope), **{k: v for k, v in changes.items() if v is not None}}
        self.store.write(lambda tx: self.store.save_account_settings(tx, scope.account, scope.region, settings))
        return settings

    def account_summary(self, scope: Scope) -> dict:
        """Sandbox flag and send quota, as GetAccount and GetSendQuota report them."""
        settings = self.account_settings(scope)
        sandbox = settings["sandbox"]
        return {
            "sandbox": sandbox, "identity_verification": settings["identity_verification"],
            "max_24_hour_send": 200.0 if sandbox else 50000.0,
            "max_send_rate": 1.0 if sandbox else 14.0,
            "sent_last_24_hours": float(self.store.count_sent_since(scope.account, scope.region, self.now() - 86400,
                                                                    MailFromDecision.REJECTED.value)),
        }

    # --- DNS zone -------------------------------------------------------------
    def _zone(self):
        if self.zone is None:
            raise ValidationError("the embedded DNS server is not in use (--resolver is not embedded)")
        return self.zone

    def dns_records(self) -> list[dict]:
        return self._zone().records()

    def dns_faults(self) -> dict[str, str]:
        return self._zone().faults()

    # Each change is stored first and reaches the zone (and so the DNS server) only once
    # committed; `_dns_lock` keeps what was checked against the zone true until then.
    def add_dns_record(self, name: object, type_: object, value: object, ttl: object = 300) -> dict:
        zone = self._zone()
        with self._dns_lock:
            try:
                record = zone.prepare(name, type_, value, ttl)  # validates; ZoneError is a ValueError
            except DuplicateRecordError as exc:
                raise Conflict(str(exc)) from None
            except ValueError as exc:
                raise ValidationError(str(exc)) from None
            self.store.write(lambda tx: self.store.add_dns_record(tx, record))
            added = zone.add(record["name"], record["type"], record["value"], record["ttl"], record["id"])
        self._publish("dns", action="added", record=added)
        return added

    def remove_dns_record(self, record_id: str) -> None:
        zone = self._zone()
        with self._dns_lock:
            if not any(r["id"] == record_id for r in zone.records()):
                raise SimNotFound(f"DNS record {record_id} does not exist")
            self.store.write(lambda tx: self.store.remove_dns_record(tx, record_id))
            zone.remove(record_id)
        self._publish("dns", action="removed", id=record_id)

    def set_dns_fault(self, name: str, fault: object) -> dict:
        zone = self._zone()
        try:
            normalized, _ = zone.check_fault(names.normalize_domain(name), fault)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        with self._dns_lock:
            self.store.write(lambda tx: self.store.set_dns_fault(tx, normalized, str(fault)))
            zone.set_fault(normalized, fault)
        self._publish("dns", action="fault", name=normalized, fault=fault)
        return {"name": normalized, "fault": fault}

    def clear_dns_fault(self, name: str) -> None:
        zone = self._zone()
        normalized = names.normalize_domain(name)
        with self._dns_lock:
            if normalized not in zone.faults():
                raise SimNotFound(f"no fault is set for {normalized}")
            self.store.write(lambda tx: self.store.set_dns_fault(tx, normalized, None))
            zone.clear_fault(normalized)
        self._publish("dns", action="fault", name=normalized, fault=None)

    # --- everything -----------------------------------------------------------
    def reset(self) -> None:
        with self._sweeps.control(interrupt_any=True):
            with self._dns_lock:
                self.store.write(self.store.reset)
                self.clock.reset()  # in memory only once the store is empty
                if self.zone is not None:
                    self.zone.clear()
                if self.authenticator is not None:
                    self.authenticator.reset()
        self._publish("reset")

    # --- events (SSE, dashboard, logs) ------------------------------------------
    def _publish(self, kind: str, **data) -> None:
        """Tell the event bus what was just committed; `time` is the simulated clock's."""
        self.events.publish(kind, {"time": rfc3339(self.now()), **data})

    def _publish_transitions(self, account: str, region: str, identity: str, entries: list[dict]) -> None:
        for entry in entries:
            if entry["from"] != entry["to"]:
                self._publish("transition", account=account, region=region, identity=identity,
                              **{**entry, "at": rfc3339(entry["at"])})

    def _publish_checks(self, results: list[dict]) -> None:
        for result in results:
            self._publish("check", **{k: v for k, v in result.items() if k != "transitions"})
            self._publish_transitions(result["account"], result["region"], result["identity"], result["transitions"])

    def health(self) -> dict:
        now = self.now()
        return {
            "status": "ok", "version": __version__, "dns": self.dns_address,
            "clock": {"now": now, "iso": rfc3339(now), "offset": self.clock.offset},
            "settings": {"check_interval": self.settings.check_interval,
                         "pending_timeout": self.settings.pending_timeout},
            "identities": self.store.total_identities(),
        }


__all__ = ["Simulator"]
