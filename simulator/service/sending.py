"""The facade's send path: every way a message comes in is composed, decided by the
one send decision (core/sending.py), sealed, recorded and relayed here.

A part of the facade (simulator/service/facade.py), which is the only path that
mutates state; the parts share its attributes (store, clock, ports, settings).
"""
from __future__ import annotations

from .. import mail
from ..core import mailauth, sending
from ..core import tags as tag_rules
from ..core.errors import BadRequestException
from ..core.model import Identity, MailFromDecision, Scope
from ..mail import templates

from .common import (
    BulkResult,
    MAX_BULK_ENTRIES,
    RELAY_NONE,
    RELAY_PENDING,
    VIA_V2,
    Attempt,
    quota_recipients,
)


class Sending:
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
        chain = self._identity_chain(scope, composed.from_address)
        attempt = self._attempt(scope, composed, written, chain, self.account_settings(scope)["sandbox"],
                                {"via": via, "template": template, "configuration_set": configuration_set},
                                _signer_ref(chain))
        self._commit(scope, [attempt])
        if isinstance(attempt.verdict, sending.Rejected):
            raise attempt.verdict.error
        return attempt.message_id

    def send_bulk_email(self, scope: Scope, *, from_address: str | None, template: dict, entries: list[dict],
                        reply_to: list[str] | None = None, default_tags: list[dict] | None = None,
                        configuration_set: str | None = None, via: str = VIA_V2,
                        max_bytes: int = mail.V2_MAX_MESSAGE_BYTES) -> list[BulkResult]:
        """One message per entry from one template (SendBulkEmail, SendBulkTemplatedEmail).

        `template` is `{TemplateName | TemplateArn | TemplateContent, TemplateData, Headers?,
        Attachments?}` (the defaults); each entry is `{"destination": {...}, "data": str | None,
        "tags": [...] | None, "headers": [...] | None}` (its ReplacementHeaders).
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
            headers = _bulk_headers(template.get("Headers"), entry.get("headers"))
            for member, value in (("Headers", headers), ("Attachments", template.get("Attachments"))):
                if value is not None:  # checked with the rest of the message, as SendEmail's
                    simple[member] = value
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
        signer = _signer_ref(chain)  # one sender: one signer for every entry
        attempts = [self._attempt(scope, composed, written, chain, sandbox, extra, signer) for composed in composed_all]
        self._commit(scope, attempts)
        return [BulkResult.of(attempt) for attempt in attempts]

    def _attempt(self, scope: Scope, composed: mail.ComposedMessage, written_from: str,
                 chain: list[Identity], sandbox: bool, extra: dict, signer: tuple | None) -> "Attempt":
        """One message through the send decision, with the outbox entry it leaves (if any); not
        sealed yet (service/sealing.py): `raw` is the MIME as composed, or empty (`composed.recipe`).
        `signer`: `_signer_ref(chain)`, the Easy DKIM signer an accepted message is sealed with."""
        message_id = mail.new_message_id()
        recipient_chains = {r: self._identity_chain(scope, r) for r in composed.destinations} if sandbox else None
        verdict = sending.decide(sending.SendFacts(written_from, composed.from_address, chain, scope.region,
                                                   message_id, sandbox, recipient_chains))
        now = self.now()
        if isinstance(verdict, sending.Rejected):
            if not verdict.recorded:
                return Attempt(message_id, composed, verdict, None, b"")
            entry = self._outbox_entry(scope, message_id, now, composed, verdict, None, MailFromDecision.REJECTED,
                                       extra)
            return Attempt(message_id, composed, verdict, entry, composed.mime_bytes)
        entry = self._outbox_entry(scope, message_id, now, composed, verdict, verdict.envelope_from, verdict.decision,
                                   extra)
        return Attempt(message_id, composed, verdict, entry, composed.mime_bytes, signer)

    def _commit(self, scope: Scope, attempts: list["Attempt"], sealed: bool = False) -> None:
        """Record every attempt that leaves an outbox entry in one write, then relay the accepted.

        Attempts are sealed first unless the simulator is busy (`_defer_sealing`): then each
        row keeps its plan, sealed later (service/sealing.py). `sealed`: they already are."""
        for attempt in attempts:
            if attempt.entry is None:  # refused before MAIL FROM was considered: nothing is recorded
                self._publish("rejected", account=scope.account, region=scope.region,
                              reason=attempt.verdict.error.message,
                              **{"from": attempt.composed.from_address, "message_id": None})
        recorded = [a for a in attempts if a.entry is not None]
        if not recorded:
            return
        deferred = not sealed and self._defer_sealing(len(recorded))
        if not sealed and not deferred:
            recorded = [self._sealed_attempt(a) for a in recorded]
        rows = [(a, self._relay_state(a), self._plan(a) if deferred else None) for a in recorded]
        self.store.write(lambda tx: self.store.add_outbox_many(
            tx, [(a.entry, relay, a.raw, quota_recipients(a), plan) for a, relay, plan in rows]))
        for attempt, relay, _ in rows:
            if deferred and isinstance(attempt.verdict, sending.Accepted):
                continue  # announced and relayed once sealed
            self._announce(attempt.entry, relay, attempt.raw)
        if deferred:
            self._count_unsealed(len(rows))

    def _relay_state(self, attempt: "Attempt") -> str:
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
        """Checked now; built now or when sealed (`mail.check_simple`)."""
        return mail.check_simple(from_address, destination, simple, reply_to,
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


def _bulk_headers(default: object, replacement: object) -> object:
    """The Template's Headers with an entry's ReplacementHeaders (the sesv2 model): a header
    both give takes the entry's value (names compared without case); the rest of each are
    kept. Anything malformed is passed on as it is, for the message checks to refuse."""
    if default is None or replacement is None:
        return replacement if default is None else default
    if not isinstance(default, list) or not isinstance(replacement, list):
        return default if not isinstance(default, list) else replacement

    def name(header: object) -> str | None:
        return header["Name"].lower() if isinstance(header, dict) and isinstance(header.get("Name"), str) else None

    replaced = {name(header) for header in replacement} - {None}
    return [header for header in default if name(header) not in replaced] + replacement


def _signer_ref(chain: list[Identity]) -> tuple[str, tuple[str, ...]] | None:
    """The domain identity whose Easy DKIM signs mail from the sender of `chain`, as a plan keeps it."""
    signer = mailauth.domain_signer(chain)
    return (signer.name, tuple(signer.dkim_tokens)) if signer is not None else None
