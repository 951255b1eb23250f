"""The `mailfrom_sim` fixture, used here exactly as a user's suite would (the plugin is
loaded by its `pytest11` entry point, not by our conftest)."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from simulator.testing import SimCallError

SIMPLE = {"Simple": {"Subject": {"Data": "hi"}, "Body": {"Text": {"Data": "hello"}}}}


def send(ses, sender="app@example.com"):
    return ses.send_email(FromEmailAddress=sender, Destination={"ToAddresses": ["u@example.org"]},
                          Content=SIMPLE)["MessageId"]


def reject_until_verified(ses, domain="example.com", mail_from="mail.example.com"):
    ses.create_email_identity(EmailIdentity=domain)
    ses.put_email_identity_mail_from_attributes(EmailIdentity=domain, MailFromDomain=mail_from,
                                                BehaviorOnMxFailure="REJECT_MESSAGE")


def test_the_plugin_is_loaded_by_its_entry_point(pytestconfig):
    assert pytestconfig.pluginmanager.get_plugin("mailfrom_sim") is not None


def test_publish_mail_from_turns_a_rejecting_sender_into_a_custom_envelope(mailfrom_sim):
    ses = mailfrom_sim.client("sesv2")
    reject_until_verified(ses)
    with pytest.raises(ClientError) as rejected:
        send(ses)
    assert rejected.value.response["Error"]["Code"] == "MailFromDomainNotVerifiedException"

    attributes = mailfrom_sim.publish_mail_from("example.com")

    assert attributes["MailFromDomainStatus"] == "SUCCESS"
    assert [(r["name"].rstrip("."), r["type"], r["value"].rstrip(".")) for r in mailfrom_sim.dns.records()] == [
        ("mail.example.com", "MX", "10 feedback-smtp.us-east-1.amazonses.com")]
    message_id = send(ses)
    newest, rejected_entry = mailfrom_sim.outbox()
    assert (newest["message_id"], newest["envelope_from"], newest["mail_from_decision"]) == (
        message_id, f"{message_id}@mail.example.com", "custom")
    assert rejected_entry["mail_from_decision"] == "rejected"


def test_publish_mail_from_is_idempotent_and_per_region(mailfrom_sim):
    ses = mailfrom_sim.client("sesv2", region="eu-west-1")
    reject_until_verified(ses)
    mailfrom_sim.publish_mail_from("example.com", region="eu-west-1")
    mailfrom_sim.publish_mail_from("example.com", region="eu-west-1")

    assert [r["value"].rstrip(".") for r in mailfrom_sim.dns.records()] == ["10 feedback-smtp.eu-west-1.amazonses.com"]
    assert mailfrom_sim.outbox() == [] and mailfrom_sim.outbox(region="eu-west-1") == []


def test_publish_mail_from_says_so_when_the_domain_cannot_turn_success(mailfrom_sim):
    ses = mailfrom_sim.client("sesv2")
    reject_until_verified(ses)
    mailfrom_sim.dns.add("mail.example.com", "MX", "20 mx.elsewhere.example")  # two MX records: MISSING

    with pytest.raises(SimCallError, match="PENDING after publishing"):
        mailfrom_sim.publish_mail_from("example.com")
    with pytest.raises(ValueError, match="no MAIL FROM domain"):
        ses.create_email_identity(EmailIdentity="plain.example")
        mailfrom_sim.publish_mail_from("plain.example")


def test_each_test_starts_from_an_empty_simulator(mailfrom_sim):
    # The tests above left identities, records and messages behind.
    assert mailfrom_sim.client("sesv2").list_email_identities()["EmailIdentities"] == []
    assert mailfrom_sim.dns.records() == [] and mailfrom_sim.outbox() == []
    assert mailfrom_sim.call("GET", "/clock")["offset"] == 0


def test_accounts_are_separate(mailfrom_sim):
    mailfrom_sim.client("sesv2", account="111111111111").create_email_identity(EmailIdentity="a.example")

    assert mailfrom_sim.client("sesv2", account="222222222222").list_email_identities()["EmailIdentities"] == []
    assert [i["IdentityName"] for i in mailfrom_sim.client("pinpoint-email", account="111111111111")
            .list_email_identities()["EmailIdentities"]] == ["a.example"]
    with pytest.raises(ValueError):
        mailfrom_sim.client("sesv2", account="not-an-account")


def test_dns_fault_and_advance_drive_the_state_machine(mailfrom_sim):
    ses = mailfrom_sim.client("sesv2")
    reject_until_verified(ses)
    mailfrom_sim.dns.fault("mail.example.com", "servfail")

    assert [c["lookup"]["outcome"] for c in mailfrom_sim.run_checks()] == ["TRANSIENT"]
    assert ses.get_email_identity(EmailIdentity="example.com")["MailFromAttributes"][
        "MailFromDomainStatus"] == "TEMPORARY_FAILURE"

    mailfrom_sim.dns.fault("mail.example.com", None)
    mailfrom_sim.dns.add("mail.example.com", "MX", "10 feedback-smtp.us-east-1.amazonses.com")
    assert mailfrom_sim.advance(60)["transitions"] == 1
    assert mailfrom_sim.mail_from_attributes("example.com")["MailFromDomainStatus"] == "SUCCESS"

    assert mailfrom_sim.dns.remove("mail.example.com") == 1
    mailfrom_sim.advance(60)
    assert mailfrom_sim.mail_from_attributes("example.com")["MailFromDomainStatus"] == "FAILED"
    assert mailfrom_sim.history("example.com")[-1]["to"] == "FAILED"


def test_nothing_is_checked_behind_the_tests_back(mailfrom_sim):
    ses = mailfrom_sim.client("sesv2")
    reject_until_verified(ses)
    mailfrom_sim.dns.add("mail.example.com", "MX", "10 feedback-smtp.us-east-1.amazonses.com")

    assert mailfrom_sim.mail_from_attributes("example.com")["MailFromDomainStatus"] == "PENDING"
    assert mailfrom_sim._runtime.options.scheduler is False  # so only advance/run_checks check
