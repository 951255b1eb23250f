"""The facade: the only path that mutates the simulator's state.

Views, the scheduler, the clock control and the scenario runner all call this
class; it gathers facts through its ports (ports.py), applies the pure rules
(core/), and commits each change with its history entries in one write. It is
built whole by the composition root (runtime.py): nothing is plugged in later.
"""
from __future__ import annotations

import base64
import secrets
import threading
from dataclasses import replace

from . import __version__, mail
from .core import machine, mailauth, names, rules, sending
from .core.clock import MAX_ADVANCE, SimClock, rfc3339
from .core.errors import (
    AlreadyExistsException,
    Conflict,
    BadRequestException,
    InvalidNextTokenException,
    MessageRejected,
    NotFoundException,
    SimNotFound,
    ValidationError,
)
from .core.model import (
    BehaviorOnMxFailure,
    Identity,
    IdentityType,
    LookupOutcome,
    MailFromDecision,
    MxLookup,
    Scope,
    Settings,
    VerificationStatus,
)
from .nameserver.zone import DuplicateRecordError
from .ports import Authenticator, Lookup, Relay, Store, Zone

# Relay states of an outbox entry: "none" (not relayed), "pending", "delivered", "failed: <reason>".
RELAY_NONE, RELAY_PENDING = "none", "pending"


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
        authenticator: Authenticator | None = None,
    ):
        """`lookup` None: every check is TRANSIENT; `zone` None: the embedded DNS server is not
        in use; `relay` None: accepted mail is only stored; `authenticator` None: mail is neither
        DKIM-signed nor given authentication results."""
        self.store = store
        self.settings = settings
        self.clock = clock or SimClock(float(store.get_meta("clock_offset", "0") or 0))
        self.lookup = lookup
        self.zone = zone
        self.relay = relay
        self.dns_address = dns_address
        self.authenticator = authenticator
        self._sweep_lock = threading.Lock()
        if zone is not None:
            zone.load(store.dns_records(), store.dns_faults())

    def now(self) -> float:
        return self.clock.now()

    # --- identities ---------------------------------------------------------
    def create_identity(self, scope: Scope, raw_name: str) -> Identity:
        name, type_ = rules.validate_identity_name(raw_name)
        identity = Identity(
            account=scope.account, region=scope.region, name=name, type=type_,
            verification_status=VerificationStatus.SUCCESS, created_at=self.now(),
            dkim_tokens=tuple(_dkim_token() for _ in range(3)) if type_ is IdentityType.DOMAIN else (),
        )
        if not self.store.write(lambda tx: self.store.insert_identity(tx, identity)):
            raise AlreadyExistsException(f"Email identity {name} already exists.")
        return identity

    def ensure_identity(self, scope: Scope, raw_name: str) -> Identity:
        """The identity, created (verified) unless it exists: v1's Verify*Identity."""
        found = self.find_identities(scope, [raw_name]).get(raw_name)
        if found is not None:
            return found
        try:
            return self.create_identity(scope, raw_name)
        except AlreadyExistsException:  # a concurrent Verify won the race
            return self.get_identity(scope, raw_name)

    def get_identity(self, scope: Scope, raw_name: str) -> Identity:
        identity = self.store.get_identity(scope.account, scope.region, rules.identity_key(raw_name))
        if identity is None:
            raise NotFoundException(
                f"Email identity {raw_name} does not exist.",
                v1_message=f"Identity '{raw_name}' does not exist.",
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
        after = None
        if next_token:
            try:
                after = base64.urlsafe_b64decode(next_token.encode()).decode()
            except Exception:
                raise InvalidNextTokenException("The NextToken is not valid.") from None
        page = self.store.list_identities(scope.account, scope.region, after, page_size + 1, type_)
        token = None
        if len(page) > page_size:
            page = page[:page_size]
            token = base64.urlsafe_b64encode(page[-1].name.encode()).decode()
        return page, token

    def delete_identity(self, scope: Scope, raw_name: str) -> None:
        identity = self.get_identity(scope, raw_name)

        def delete(tx) -> None:
            self.store.delete_identity(tx, scope.account, scope.region, identity.name)
            self.store.delete_history(tx, scope.account, scope.region, identity.name)

        self.store.write(delete)
        if self.authenticator is not None:
            self.authenticator.forget(identity)

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
        return updated

    def set_verification(self, scope: Scope, raw_name: str, status: str) -> Identity:
        try:
            verification = VerificationStatus(status)
        except ValueError:
            allowed = ", ".join(s.value for s in VerificationStatus)
            raise ValidationError(f"status must be one of {allowed}") from None
        identity = self.get_identity(scope, raw_name)
        self.store.write(lambda tx: self.store.set_verification(tx, identity, verification))
        return replace(identity, verification_status=verification)

    def history(self, scope: Scope, raw_name: str) -> list[dict]:
        identity = self.get_identity(scope, raw_name)
        return [{**entry.to_dict(), "time": rfc3339(entry.at)}
                for entry in self.store.history(scope.account, scope.region, identity.name)]

    # --- checks and time ----------------------------------------------------
    def _apply_checks(self, work: list[tuple[Identity, MxLookup | None]], now: float,
                      force: bool) -> list[dict]:
        """Commit each check's outcome with its history entries, unless a Put changed it meanwhile."""
        results: list[dict] = []

        def apply(tx, chunk: list[tuple[Identity, MxLookup | None]]) -> None:
            for seen, lookup in chunk:
                config = seen.mail_from
                assert config is not None
                updated, entries = machine.catch_up(config, lookup, now, self.settings, force=force)
                if not self.store.update_mail_from_if_unchanged(tx, seen, replace(seen, mail_from=updated)):
                    continue  # deleted or Put meanwhile: the new config is checked on its own schedule
                self.store.add_history(tx, seen.account, seen.region, seen.name, entries)
                results.append({
                    "identity": seen.name, "account": seen.account, "region": seen.region,
                    "domain": config.domain, "from": config.status.value, "to": updated.status.value,
                    "lookup": lookup.to_dict() if lookup else None,
                    "transitions": [e.to_dict() for e in entries],
                })

        for start in range(0, len(work), 500):
            chunk = work[start:start + 500]
            self.store.write(lambda tx: apply(tx, chunk))
        return results

    def _lookups_for(self, identities: list[Identity], now: float, force: bool) -> list[tuple[Identity, MxLookup | None]]:
        """Look up each configuration that needs it, one lookup per (domain, region), all at once."""
        wanted: dict[tuple[str, str], None] = {}
        for identity in identities:
            config = identity.mail_from
            if config is not None and machine.needs_lookup(config, now, force):
                wanted[(config.domain, identity.region)] = None
        keys = list(wanted)
        answers = dict(zip(keys, self._lookup_all(keys))) if keys else {}
        return [(i, answers.get((i.mail_from.domain, i.region))) for i in identities if i.mail_from is not None]

    def _lookup_all(self, keys: list[tuple[str, str]]) -> list[MxLookup]:
        if self.lookup is None:
            return [MxLookup(LookupOutcome.TRANSIENT, error="no resolver is configured") for _ in keys]
        return self.lookup.lookup_many(keys)  # pipelined: far cheaper than a thread per lookup

    def run_due(self, now: float | None = None) -> list[dict]:
        """Run every check and deadline due by `now` (the scheduler's tick and the clock's advance)."""
        with self._sweep_lock:
            now = self.now() if now is None else now
            due = self.store.due_identities(now)
            if not due:
                return []
            return self._apply_checks(self._lookups_for(due, now, force=False), now, force=False)

    def run_checks(self, scope: Scope, raw_name: str | None = None) -> list[dict]:
        """Check now, whether due or not: every active configuration of the scope, or one identity's."""
        if raw_name is not None:
            identities = [self.get_identity(scope, raw_name)]
            if identities[0].mail_from is None:
                raise ValidationError(f"identity {identities[0].name} has no MAIL FROM domain set")
        else:
            identities = self.store.configured_identities(scope.account, scope.region)
        with self._sweep_lock:
            now = self.now()
            return self._apply_checks(self._lookups_for(identities, now, force=True), now, force=True)

    def advance(self, seconds: float) -> dict:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0 or seconds > MAX_ADVANCE:
            raise ValidationError(f"seconds must be a number from 0 to {MAX_ADVANCE}")
        with self._sweep_lock:
            offset = self.clock.offset + float(seconds)
            self.store.write(lambda tx: self.store.set_meta(tx, "clock_offset", repr(offset)))
            now = self.clock.advance(float(seconds))  # in memory only once the new offset is stored
        results = self.run_due(now)
        return {"now": now, "offset": self.clock.offset, "checked": len(results),
                "transitions": sum(len(r["transitions"]) for r in results)}

    # --- sending ------------------------------------------------------------
    def send_email(self, scope: Scope, *, from_address: str | None, destination: dict | None, content: dict,
                   reply_to: list[str] | None = None, max_bytes: int = mail.V2_MAX_MESSAGE_BYTES,
                   max_recipients: int = mail.MAX_RECIPIENTS, via: str = "api") -> str:
        """Send as SES would in the MAIL FROM state of this moment; returns the MessageId.

        A refusal under REJECT_MESSAGE is recorded in the outbox before it is raised.
        `via` is the path it came by (api-v2, api-pinpoint, api-v1, smtp), kept in the outbox.
        """
        composed = self._compose(from_address, destination, content, reply_to, max_bytes, max_recipients)
        message_id = mail.new_message_id()
        facts = self._send_facts(scope, composed.from_address, composed.destinations, message_id)
        verdict = sending.decide(facts)
        now = self.now()
        if isinstance(verdict, sending.Rejected):
            if verdict.recorded:
                self._record(scope, message_id, now, composed, verdict, None, MailFromDecision.REJECTED,
                             composed.mime_bytes, via)
            raise verdict.error
        stamped = mail.stamp_message(composed.mime_bytes, message_id, scope.region, now)
        authentication = None
        if self.authenticator is not None:  # DKIM-signed, and the receiver's Authentication-Results on top
            stamped, authentication = self.authenticator.seal(
                stamped, region=scope.region, signer=mailauth.domain_signer(facts.sender_chain),
                envelope_from=verdict.envelope_from)
        raw = mail.with_return_path(stamped, verdict.envelope_from)
        self._record(scope, message_id, now, composed, verdict, verdict.envelope_from, verdict.decision, raw, via,
                     authentication)
        if self.relay is not None:
            self.relay.submit(message_id, verdict.envelope_from, list(composed.destinations), raw)
        return message_id

    def _send_facts(self, scope: Scope, from_address: str, recipients, message_id: str) -> sending.SendFacts:
        """What the send decision needs to know, read from the store."""
        chain = self._identity_chain(scope, from_address)
        sandbox = self.account_settings(scope)["sandbox"]
        recipient_chains = {r: self._identity_chain(scope, r) for r in recipients} if sandbox else None
        return sending.SendFacts(from_address, from_address, chain, scope.region, message_id, sandbox,
                                 recipient_chains)

    def _identity_chain(self, scope: Scope, address: str) -> list[Identity]:
        """The existing identities that may authorise `address`, most specific first."""
        candidates = sending.sender_candidates(address)
        known = self.store.get_identities(scope.account, scope.region, candidates)
        return [known[name] for name in candidates if name in known]

    @staticmethod
    def _compose(from_address, destination, content, reply_to, max_bytes, max_recipients) -> mail.ComposedMessage:
        if not isinstance(content, dict) or sum(k in content for k in ("Simple", "Raw", "Template")) != 1:
            raise BadRequestException("Content must have exactly one of Simple, Raw or Template.")
        if "Template" in content:
            raise BadRequestException("Content.Template is not simulated by mailfrom-sim; send Simple or Raw content.")
        if "Simple" in content:
            return mail.build_from_simple(from_address, destination, content["Simple"], reply_to,
                                          max_bytes=max_bytes, max_recipients=max_recipients)
        raw = content["Raw"]
        data = raw.get("Data") if isinstance(raw, dict) else None
        if isinstance(data, str):  # both wire protocols carry the raw MIME as base64
            data = mail.decode_raw_base64(data)
        if not isinstance(data, (bytes, bytearray)):
            raise BadRequestException("Content.Raw.Data is required.")
        return mail.parse_raw(data, from_address, destination, max_bytes=max_bytes, max_recipients=max_recipients)

    def _record(self, scope: Scope, message_id: str, now: float, composed: mail.ComposedMessage,
                verdict: sending.SendVerdict, envelope_from: str | None, decision: MailFromDecision,
                raw: bytes, via: str, authentication: dict | None = None) -> None:
        entry = {
            "message_id": message_id, "account": scope.account, "region": scope.region,
            "from": composed.from_address, "destinations": list(composed.destinations),
            "subject": composed.subject, "envelope_from": envelope_from,
            "mail_from_decision": decision.value, "mail_from_identity": verdict.mail_from_identity,
            "mail_from_status": verdict.mail_from_status.value if verdict.mail_from_status else None,
            "reason": verdict.reason, "sending_identity": verdict.sending_identity,
            "sent_at": now, "via": via,
        }
        if authentication is not None:
            entry["authentication"] = authentication
        relay = RELAY_PENDING if (self.relay is not None and envelope_from) else RELAY_NONE
        self.store.write(lambda tx: self.store.add_outbox(tx, entry, relay, raw))

    def record_relay_result(self, message_id: str, relay_status: str) -> None:
        self.store.write(lambda tx: self.store.set_outbox_relay(tx, message_id, relay_status))

    def resume_pending_relays(self) -> int:
        """Hand the relay every accepted message a previous process had not delivered yet."""
        if self.relay is None:
            return 0
        pending = self.store.with_relay_state(RELAY_PENDING)
        for entry, raw in pending:
            self.relay.submit(entry["message_id"], entry["envelope_from"], entry["destinations"], raw)
        return len(pending)

    def outbox(self, scope: Scope, limit: int = 100) -> list[dict]:
        return [{**entry, "relay": relay, "sent_at": rfc3339(entry["sent_at"]),
                 "raw": raw.decode("utf-8", errors="replace")}
                for entry, relay, raw in self.store.outbox(scope.account, scope.region, limit)]

    def clear_outbox(self, scope: Scope | None = None) -> None:
        self.store.write(lambda tx: self.store.clear_outbox(tx, scope.account if scope else None,
                                                           scope.region if scope else None))

    # --- account settings -----------------------------------------------------
    def account_settings(self, scope: Scope) -> dict:
        return {"sandbox": False, **self.store.account_settings(scope.account, scope.region)}

    def set_account_settings(self, scope: Scope, sandbox: object) -> dict:
        if not isinstance(sandbox, bool):
            raise ValidationError("sandbox must be true or false")
        settings = {**self.account_settings(scope), "sandbox": sandbox}
        self.store.write(lambda tx: self.store.save_account_settings(tx, scope.account, scope.region, settings))
        return settings

    def account_summary(self, scope: Scope) -> dict:
        """Sandbox flag and send quota, as GetAccount and GetSendQuota report them."""
        sandbox = self.account_settings(scope)["sandbox"]
        return {
            "sandbox": sandbox,
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

    def add_dns_record(self, name: object, type_: object, value: object, ttl: object = 300) -> dict:
        zone = self._zone()
        try:
            record = zone.add(name, type_, value, ttl)  # validates; ZoneError is a ValueError
        except DuplicateRecordError as exc:
            raise Conflict(str(exc)) from None
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        try:
            self.store.write(lambda tx: self.store.add_dns_record(tx, record))
        except BaseException:
            zone.remove(record["id"])  # not stored, so not served either
            raise
        return record

    def remove_dns_record(self, record_id: str) -> None:
        zone = self._zone()
        if not any(r["id"] == record_id for r in zone.records()):
            raise SimNotFound(f"DNS record {record_id} does not exist")
        self.store.write(lambda tx: self.store.remove_dns_record(tx, record_id))
        zone.remove(record_id)

    def set_dns_fault(self, name: str, fault: object) -> dict:
        zone = self._zone()
        normalized = names.normalize_domain(name)
        before = zone.faults().get(normalized)
        try:
            zone.set_fault(normalized, fault)  # validates
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        try:
            self.store.write(lambda tx: self.store.set_dns_fault(tx, normalized, str(fault)))
        except BaseException:
            zone.set_fault(normalized, before) if before else zone.clear_fault(normalized)
            raise
        return {"name": normalized, "fault": fault}

    def clear_dns_fault(self, name: str) -> None:
        zone = self._zone()
        normalized = names.normalize_domain(name)
        if normalized not in zone.faults():
            raise SimNotFound(f"no fault is set for {normalized}")
        self.store.write(lambda tx: self.store.set_dns_fault(tx, normalized, None))
        zone.clear_fault(normalized)

    # --- everything -----------------------------------------------------------
    def reset(self) -> None:
        with self._sweep_lock:
            self.store.write(self.store.reset)
            self.clock.reset()  # in memory only once the store is empty
            if self.zone is not None:
                self.zone.clear()
            if self.authenticator is not None:
                self.authenticator.reset()

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
