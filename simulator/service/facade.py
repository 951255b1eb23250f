"""The facade: the only path that mutates the simulator's state.

Views, the scheduler, the clock control and the scenario runner all call this
class; it gathers facts through its ports (ports.py), applies the pure rules
(core/), and commits each change with its history entries in one write. It is
built whole by the composition root (runtime.py): nothing is plugged in later.
"""
from __future__ import annotations

import secrets
import threading
from dataclasses import replace

from .. import __version__, mail
from ..core import machine, rules, sending
from ..core import mailauth as core_mailauth
from ..core import tags as tag_rules
from ..core.clock import SimClock, rfc3339
from ..core.errors import (
    AlreadyExistsException,
    BadRequestException,
    NotFoundException,
    SimNotFound,
    ValidationError,
)
from ..activity import Activity
from ..events import EventBus
from ..core.model import (
    CHECK_VERIFICATION,
    BehaviorOnMxFailure,
    HistoryEntry,
    Identity,
    IdentityType,
    MailFromDecision,
    Scope,
    Settings,
    VerificationMethod,
    VerificationStatus,
)
from ..ports import Authenticator, Lookup, Relay, Store, Zone
from ..sweeplock import SweepLock

from .common import (
    REGION_NAMES,
    VERIFICATION_MODES,
    VERIFICATION_SENDER,
    VIA_VERIFICATION,
    Attempt,
    after_token,
    new_dkim_token,
    paged,
)
from .catalog import Catalog
from .checks import Checks
from .outbox import Outbox
from .sealing import Sealing
from .sending import Sending
from .zone import DnsZone


class Simulator(Checks, Sending, Sealing, Catalog, Outbox, DnsZone):
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
        activity: Activity | None = None,
    ):
        """`lookup` None: every check is TRANSIENT; `zone` None: the embedded DNS server is not
        in use; `relay` None: accepted mail is only stored; `authenticator` None: mail is neither
        DKIM-signed nor given authentication results; `activity`: the API requests being served
        (sealing waits for them, service/sealing.py), none if not given."""
        self.store = store
        self.events = events if events is not None else EventBus()
        self.settings = settings
        self.clock = clock or SimClock(float(store.get_meta("clock_offset", "0") or 0))
        self.lookup = lookup
        self.zone = zone
        self.relay = relay
        self.dns_address = dns_address
        self.authenticator = authenticator
        self.activity = activity if activity is not None else Activity()
        self._init_sealing()
        self._sweeps = SweepLock()  # one sweep at a time; see simulator/sweeplock.py
        self._dns_lock = threading.Lock()
        if zone is not None:
            zone.load((), store.dns_faults())  # the records it reads from the store, per name

    def now(self) -> float:
        return self.clock.now()

    # --- identities ---------------------------------------------------------
    def create_identity(self, scope: Scope, raw_name: str, *, tags: list[dict] | None = None,
                        configuration_set: str | None = None, link_base: str = "",
                        method: VerificationMethod = VerificationMethod.DKIM,
                        dkim_signing_attributes: object = None) -> Identity:
        """A new identity; its tags are stored with it. A configuration set that does not
        exist refuses the whole call: nothing is created.

        In the account's `instant` verification mode it is verified at once (SPEC §6); in
        `dns` mode (§12) a domain starts PENDING and is checked through DNS (`method`: its
        DKIM CNAMEs, or v1's TXT token), and an email address starts PENDING with a
        verification message in the outbox whose link (under `link_base`) verifies it.
        """
        tags = tag_rules.validate_resource(tags)
        name, type_ = rules.validate_identity_name(raw_name)
        core_mailauth.check_signing_attributes(dkim_signing_attributes, type_)
        self._require_configuration_set(scope, configuration_set)
        now = self.now()
        identity = Identity(
            account=scope.account, region=scope.region, name=name, type=type_,
            verification_status=VerificationStatus.SUCCESS, created_at=now,
            dkim_tokens=tuple(new_dkim_token() for _ in range(3)) if type_ is IdentityType.DOMAIN else (),
        )
        history = []
        if self.account_settings(scope)["identity_verification"] == "dns":
            if type_ is IdentityType.DOMAIN:
                check, entry = machine.start_verification(name, method, now, self.settings)
                identity = replace(identity, verification=check, verification_status=check.status)
                history.append(entry)
            else:
                check, entry = machine.start_link_verification(identity.domain, now)
                identity = replace(identity, verification=check, verification_status=check.status,
                                   verification_token=secrets.token_urlsafe(24))
                history.append(entry)
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
            self._commit(scope, [message], sealed=True)  # SES's own message, stamped as it is made
        return identity

    def _verification_message(self, identity: Identity, link_base: str) -> "Attempt":
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
        composed = mail.build_from_simple(VERIFICATION_SENDER, {"ToAddresses": [identity.name]}, simple)
        message_id = mail.new_message_id()
        verdict = sending.ses_own_message(message_id, identity.region)
        envelope_from = verdict.envelope_from
        now = self.now()
        entry = self._outbox_entry(Scope(identity.account, identity.region), message_id, now, composed, verdict,
                                   envelope_from, MailFromDecision.DEFAULT,
                                   {"via": VIA_VERIFICATION, "template": None, "configuration_set": None,
                                    "verification_link": link})
        raw = mail.delivered_mime(composed, message_id, identity.region, now, envelope_from)
        return Attempt(message_id, composed, verdict, entry, raw)

    def verify_email_link(self, token: str) -> Identity:
        """Open an email address's verification link: it becomes verified (once)."""
        identity = self.store.identity_with_token(token) if token else None
        if identity is None:
            raise SimNotFound("this verification link is not valid (or was used already)")
        check = identity.verification
        if identity.verification_status is VerificationStatus.FAILED or (
                check is not None and machine.LINK_VERIFICATION.deadline_passed(check, self.now())):
            # Past its 24 hours, even before the sweep that turns the address FAILED has run.
            raise SimNotFound("this verification link has expired (24 hours after it was sent): "
                              "VerifyEmailIdentity sends a new one")
        updated = replace(identity, verification_status=VerificationStatus.SUCCESS, verification_token=None,
                          verification=None)
        entry = HistoryEntry(self.now(), identity.verification_status, VerificationStatus.SUCCESS, "LINK_OPENED",
                             domain=identity.domain, detail="verification link opened", check=CHECK_VERIFICATION)

        if not self._write_verification(identity, updated, entry):
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
        through its `_amazonses` TXT token in `dns` mode); one that exists is verified again
        where SES would (`_verify_again`)."""
        while True:  # a concurrent Verify may create it, and a concurrent Delete remove it again
            found = self.find_identities(scope, [raw_name]).get(raw_name)
            if found is not None:
                restarted = self._verify_again(scope, found, link_base)
                if restarted is None:
                    continue  # changed meanwhile: look again
                return restarted
            try:
                return self.create_identity(scope, raw_name, link_base=link_base, method=VerificationMethod.TXT)
            except AlreadyExistsException:
                continue

    def _verify_again(self, scope: Scope, identity: Identity, link_base: str = "") -> Identity | None:
        """Verify*Identity on an identity it exists for. A domain whose DNS verification FAILED
        starts again, PENDING with a new deadline: SES asks for the verification to be restarted
        from the beginning. An email address not verified yet gets a new verification message
        (a new link, valid 24 hours), as VerifyEmailIdentity sends one each time. Anything else
        comes back as it is. None: the identity changed meanwhile."""
        check = identity.verification
        message = None
        if check is not None and check.method is VerificationMethod.LINK:
            restarted, entry = machine.start_link_verification(identity.domain, self.now())
            updated = replace(identity, verification=restarted, verification_status=restarted.status,
                              verification_token=secrets.token_urlsafe(24))
            message = self._verification_message(updated, link_base)
        elif check is not None and check.status is VerificationStatus.FAILED:
            restarted, entry = machine.VERIFICATION.fire(check, machine.RESTART, self.now(), self.settings,
                                                         detail="verification restarted (Verify*Identity)")
            updated = replace(identity, verification=restarted, verification_status=restarted.status)
        else:
            return identity

        if not self._write_verification(identity, updated, entry):
            return None
        self._publish_transitions(scope.account, scope.region, identity.name, [entry.to_dict()])
        if message is not None:
            self._commit(scope, [message], sealed=True)  # SES's own message, stamped as it is made
        return updated

    def _write_verification(self, seen: Identity, updated: Identity, entry: HistoryEntry) -> bool:
        """Commit a change to `seen`'s verification with its history entry; False (nothing
        written) if the identity changed meanwhile: a compare-and-set, as a check's."""
        def write(tx) -> bool:
            if not self.store.update_check_if_unchanged(tx, CHECK_VERIFICATION, seen, updated):
                return False
            self.store.add_history(tx, seen.account, seen.region, seen.name, [entry])
            return True

        return self.store.write(write)

    @property
    def dkim_key_length(self) -> str:
        """The model's DkimSigningKeyLength of the keys this simulator signs with."""
        bits = self.authenticator.key_bits if self.authenticator is not None else 2048
        return f"RSA_{bits}_BIT"

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
        page = self.store.list_identities(scope.account, scope.region, after_token(next_token, "identities"),
                                         page_size + 1, type_)
        return paged(page, page_size, lambda identity: identity.name, "identities")

    def delete_identity(self, scope: Scope, raw_name: str) -> None:
        identity = self.get_identity(scope, raw_name)
        self.settle()  # its DKIM keys go: what it sent is signed first

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

    # --- everything -----------------------------------------------------------
    def reset(self) -> None:
        with self._sweeps.control(interrupt_any=True), self._seal_cv:
            with self._dns_lock:
                self.store.write(self.store.reset)
                self.clock.reset()  # in memory only once the store is empty
                if self.zone is not None:
                    self.zone.clear()
                if self.authenticator is not None:
                    self.authenticator.reset()
                self._recount_unsealed()  # the outbox is empty; a send committed meanwhile is counted
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
            "sealing": {"waiting": self._unsealed},  # acknowledged, not sealed yet (service/sealing.py)
        }


__all__ = ["Simulator"]
