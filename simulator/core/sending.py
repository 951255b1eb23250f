"""The one send decision (SPEC §6 steps 1-3), for every path that sends.

Facts in -- the identities that may authorise the sender (most specific first),
the sandbox flag with each recipient's identities, the MessageId and region --
and a verdict out: accepted with its envelope sender, or rejected with the
error to answer, whether the attempt is recorded, and the identity that decided.
Pure: the facade gathers the facts and acts on the verdict.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .errors import AwsError, MailFromDomainNotVerifiedException, MessageRejected
from .model import BehaviorOnMxFailure, Identity, MailFromDecision, MailFromStatus
from .names import normalize_domain


@dataclass(frozen=True)
class SendFacts:
    from_address: str  # as written, display name included (AWS quotes it so)
    sender_address: str  # the bare address the identities are looked up for
    sender_chain: Sequence[Identity]  # existing identities for sender_candidates(sender), most specific first
    region: str
    message_id: str
    sandbox: bool = False
    recipient_chains: Mapping[str, Sequence[Identity]] | None = None  # in the sandbox: each recipient's identities


@dataclass(frozen=True)
class Accepted:
    envelope_from: str
    decision: MailFromDecision  # CUSTOM or DEFAULT
    sending_identity: str
    mail_from_identity: str | None  # the identity whose MAIL FROM settings decided, None when none is set
    mail_from_status: MailFromStatus | None
    reason: str


@dataclass(frozen=True)
class Rejected:
    error: AwsError  # what the caller is answered
    recorded: bool  # True: the attempt goes to the outbox as rejected (a MAIL FROM refusal)
    sending_identity: str | None = None
    mail_from_identity: str | None = None
    mail_from_status: MailFromStatus | None = None
    reason: str = ""


SendVerdict = Accepted | Rejected


def sender_candidates(address: str) -> list[str]:
    """Identities that may authorise `address`, most specific first (SES inheritance)."""
    local, _, domain = address.rpartition("@")
    domain = normalize_domain(domain)
    labels = domain.split(".")
    return [f"{local}@{domain}"] + [".".join(labels[i:]) for i in range(len(labels) - 1)]


def default_mail_from(message_id: str, region: str) -> str:
    host = "amazonses.com" if region == "us-east-1" else f"{region}.amazonses.com"
    return f"{message_id}@{host}"


def _not_verified(region: str, addresses: str) -> MessageRejected:
    return MessageRejected("Email address is not verified. The following identities failed the check in region "
                           f"{region.upper()}: {addresses}")


def ses_own_message(message_id: str, region: str) -> Accepted:
    """The verdict on a message SES itself sends (an address's verification message): no
    identity of the account is asked; it goes from amazon.com with SES's default MAIL FROM."""
    return Accepted(default_mail_from(message_id, region), MailFromDecision.DEFAULT, "amazon.com", None, None,
                    "the verification message SES sends")


def decide(facts: SendFacts) -> SendVerdict:
    """Whether SES sends this message now, and with which envelope sender."""
    sender = next((i for i in facts.sender_chain if i.verified), None)
    if sender is None:
        return Rejected(_not_verified(facts.region, facts.from_address), recorded=False)
    if facts.sandbox:
        failed = [recipient for recipient, chain in (facts.recipient_chains or {}).items()
                  if not any(i.verified for i in chain)]
        if failed:
            return Rejected(_not_verified(facts.region, ", ".join(failed)), recorded=False,
                            sending_identity=sender.name)
    deciding = next((i for i in facts.sender_chain if i.mail_from is not None), None)
    if deciding is None:
        return Accepted(default_mail_from(facts.message_id, facts.region), MailFromDecision.DEFAULT, sender.name,
                        None, None, "no custom MAIL FROM domain is set")
    config = deciding.mail_from
    assert config is not None
    if config.status is MailFromStatus.SUCCESS:
        return Accepted(f"{facts.message_id}@{config.domain}", MailFromDecision.CUSTOM, sender.name,
                        deciding.name, config.status, f"{config.domain} is SUCCESS")
    if deciding.behavior is BehaviorOnMxFailure.USE_DEFAULT_VALUE:
        return Accepted(default_mail_from(facts.message_id, facts.region), MailFromDecision.DEFAULT, sender.name,
                        deciding.name, config.status,
                        f"{config.domain} is {config.status.value}; USE_DEFAULT_VALUE")
    error = MailFromDomainNotVerifiedException(
        f"The MAIL FROM domain {config.domain} of identity {deciding.name} is {config.status.value}; "
        "BehaviorOnMxFailure is REJECT_MESSAGE, so the message was not sent.",
        v1_message=f"Mail-From domain {config.domain} for identity {deciding.name} is not verified "
        f"(status {config.status.v1}).",
    )
    return Rejected(error, recorded=True, sending_identity=sender.name, mail_from_identity=deciding.name,
                    mail_from_status=config.status,
                    reason=f"REJECT_MESSAGE while {config.domain} is {config.status.value}")
