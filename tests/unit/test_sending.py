"""The one send decision (SPEC §6 steps 1-3), pure: facts in, verdict out."""
from dataclasses import replace

import pytest

from simulator.core import rules, sending
from simulator.core.errors import MailFromDomainNotVerifiedException, MessageRejected
from simulator.core.model import (
    BehaviorOnMxFailure as B, Identity, IdentityType, MailFromDecision, MailFromStatus as S, Settings,
    VerificationStatus,
)
from simulator.core.sending import Accepted, Rejected, SendFacts

SETTINGS = Settings(check_interval=60, pending_timeout=3600)


def identity(name="example.com", type_=IdentityType.DOMAIN, behavior=B.USE_DEFAULT_VALUE,
             verification=VerificationStatus.SUCCESS):
    return Identity("000000000000", "us-east-1", name, type_, verification, 0.0, (), behavior, None)


def _configured(status, behavior, name="example.com"):
    base, _ = rules.apply_put(identity(name, behavior=behavior), "mail." + name, behavior, 0.0, SETTINGS)
    return replace(base, mail_from=replace(base.mail_from, status=status))


def decide(chain, message_id="m1", region="us-east-1", **facts):
    return sending.decide(SendFacts("app@example.com", "app@example.com", chain, region, message_id, **facts))


def test_sender_candidates_go_from_the_address_to_parent_domains():
    assert sending.sender_candidates("app@a.Example.com") == ["app@a.example.com", "a.example.com", "example.com"]


def test_success_uses_the_custom_domain():
    verdict = decide([_configured(S.SUCCESS, B.REJECT_MESSAGE)], "0100abc")
    assert isinstance(verdict, Accepted)
    assert (verdict.decision, verdict.envelope_from) == (MailFromDecision.CUSTOM, "0100abc@mail.example.com")


@pytest.mark.parametrize("status", [S.PENDING, S.TEMPORARY_FAILURE, S.FAILED])
def test_not_success_falls_back_or_rejects_by_behavior(status):
    fallback = decide([_configured(status, B.USE_DEFAULT_VALUE)], region="eu-west-1")
    assert isinstance(fallback, Accepted) and fallback.envelope_from == "m1@eu-west-1.amazonses.com"
    refused = decide([_configured(status, B.REJECT_MESSAGE)])
    assert isinstance(refused, Rejected) and isinstance(refused.error, MailFromDomainNotVerifiedException)
    assert refused.recorded and (refused.mail_from_identity, refused.mail_from_status) == ("example.com", status)


def test_no_mail_from_anywhere_is_the_default_and_us_east_1_has_no_region_label():
    verdict = decide([identity()])
    assert (verdict.decision, verdict.envelope_from, verdict.mail_from_identity) == (
        MailFromDecision.DEFAULT, "m1@amazonses.com", None)


def test_the_most_specific_identity_with_a_mail_from_domain_decides():
    email = identity("app@example.com", IdentityType.EMAIL_ADDRESS)
    verdict = decide([email, _configured(S.PENDING, B.REJECT_MESSAGE)])
    assert isinstance(verdict, Rejected) and verdict.sending_identity == "app@example.com"
    assert verdict.mail_from_identity == "example.com"


def test_an_unverified_sender_is_message_rejected_and_not_recorded():
    verdict = decide([identity(verification=VerificationStatus.PENDING)])
    assert isinstance(verdict, Rejected) and isinstance(verdict.error, MessageRejected) and not verdict.recorded
    assert verdict.error.message.endswith("in region US-EAST-1: app@example.com")


def test_in_the_sandbox_every_recipient_needs_a_verified_identity():
    chains = {"ok@example.org": [identity("example.org")], "no@example.net": []}
    verdict = decide([identity()], sandbox=True, recipient_chains=chains)
    assert isinstance(verdict, Rejected) and verdict.error.message.endswith(": no@example.net")
    assert isinstance(decide([identity()], sandbox=False, recipient_chains=chains), Accepted)


def test_ses_own_message_goes_from_amazon_with_the_default_mail_from():
    verdict = sending.ses_own_message("0100abc", "eu-west-1")
    assert isinstance(verdict, sending.Accepted)
    assert verdict.envelope_from == sending.default_mail_from("0100abc", "eu-west-1")
    assert (verdict.decision, verdict.sending_identity, verdict.mail_from_identity) == (
        MailFromDecision.DEFAULT, "amazon.com", None)
