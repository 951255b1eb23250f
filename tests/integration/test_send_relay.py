"""End to end: boto3 SendEmail -> simulator process -> real SMTP server (aiosmtpd).
The envelope the SMTP server receives must be the outbox's envelope_from."""
import time

import pytest
from botocore.exceptions import ClientError

from tests.helpers import SimControl, SimulatorProcess, aws_client
from tests.integration.test_smtp_relay import free_port, smtp_server

MAIL = "mail.example.com"
CONTENT = {"Simple": {"Subject": {"Data": "hi"}, "Body": {"Text": {"Data": "hello"}}}}


@pytest.fixture(scope="module")
def smtp():
    with smtp_server() as running:
        yield running


@pytest.fixture(scope="module")
def relayed(smtp):
    controller, _ = smtp
    process = SimulatorProcess("--db", ":memory:", "--dns-timeout", "0.5",
                               "--smtp-relay", f"127.0.0.1:{controller.port}").start()
    yield process
    process.stop()


@pytest.fixture
def sim(relayed, smtp):
    control = SimControl(relayed.url)
    control.ok("POST", "/_sim/reset")
    smtp[1].envelopes.clear()
    sesv2 = aws_client("sesv2", relayed.url)
    sesv2.create_email_identity(EmailIdentity="example.com")
    return sesv2, control, smtp[1]


def wait_relay(control, message_id: str) -> dict:
    deadline = time.time() + 10
    while time.time() < deadline:
        entry = next(m for m in control.ok("GET", "/_sim/outbox")["messages"] if m["message_id"] == message_id)
        if entry["relay"] != "pending":
            return entry
        time.sleep(0.05)
    raise AssertionError(f"relay never finished for {message_id}")


def send(sesv2):
    return sesv2.send_email(FromEmailAddress="app@example.com", Content=CONTENT,
                            Destination={"ToAddresses": ["a@example.org"], "CcAddresses": ["b@example.org"]})["MessageId"]


def test_success_is_delivered_with_the_custom_mail_from(sim):
    sesv2, control, handler = sim
    sesv2.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain=MAIL,
                                                  BehaviorOnMxFailure="REJECT_MESSAGE")
    control.add_mx(MAIL)
    control.ok("POST", "/_sim/checks/run", {})
    entry = wait_relay(control, send(sesv2))
    assert entry["relay"] == "delivered" and entry["envelope_from"].endswith("@" + MAIL)
    [envelope] = handler.envelopes
    assert envelope["mail_from"] == entry["envelope_from"]
    assert envelope["rcpt_tos"] == ["a@example.org", "b@example.org"]
    assert b"Subject: hi" in envelope["content"]


def test_use_default_value_is_delivered_from_amazonses(sim):
    sesv2, control, handler = sim
    sesv2.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain=MAIL,
                                                  BehaviorOnMxFailure="USE_DEFAULT_VALUE")
    control.ok("PUT", f"/_sim/dns/faults/{MAIL}", {"fault": "servfail"})
    control.ok("POST", "/_sim/checks/run", {})
    message_id = send(sesv2)
    entry = wait_relay(control, message_id)
    assert handler.envelopes[0]["mail_from"] == entry["envelope_from"] == f"{message_id}@amazonses.com"
    assert entry["mail_from_status"] == "TEMPORARY_FAILURE"


def test_reject_message_delivers_nothing(sim):
    sesv2, control, handler = sim
    sesv2.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain=MAIL,
                                                  BehaviorOnMxFailure="REJECT_MESSAGE")
    with pytest.raises(ClientError) as excinfo:
        send(sesv2)
    assert excinfo.value.response["Error"]["Code"] == "MailFromDomainNotVerifiedException"
    assert control.ok("GET", "/_sim/outbox")["messages"][0]["relay"] == "none"
    # The relay delivers in order: once a later accepted message has arrived, a (wrong)
    # delivery of the rejected one would have arrived before it.
    sesv2.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain=MAIL,
                                                  BehaviorOnMxFailure="USE_DEFAULT_VALUE")
    accepted = wait_relay(control, send(sesv2))
    assert [e["mail_from"] for e in handler.envelopes] == [accepted["envelope_from"]]


def test_a_failing_relay_is_recorded_and_the_message_kept():
    process = SimulatorProcess("--db", ":memory:", "--smtp-relay", f"127.0.0.1:{free_port()}").start()
    try:
        sesv2, control = aws_client("sesv2", process.url), SimControl(process.url)
        sesv2.create_email_identity(EmailIdentity="example.com")
        message_id = send(sesv2)
        entry = wait_relay(control, message_id)
        assert entry["relay"].startswith("failed: ") and entry["raw"]
    finally:
        process.stop()


def test_an_undelivered_message_is_delivered_after_a_restart(tmp_path, smtp):
    controller, handler = smtp
    handler.envelopes.clear()
    db = str(tmp_path / "sim.db")
    dead_port = free_port()
    first = SimulatorProcess("--db", db, "--smtp-relay", f"127.0.0.1:{dead_port}").start()
    sesv2 = aws_client("sesv2", first.url)
    sesv2.create_email_identity(EmailIdentity="example.com")
    message_id = send(sesv2)
    first.stop("kill")  # killed while the relay is still retrying
    second = SimulatorProcess("--db", db, "--smtp-relay", f"127.0.0.1:{controller.port}").start()
    try:
        entry = wait_relay(SimControl(second.url), message_id)
        assert entry["relay"] == "delivered"
        assert handler.envelopes[0]["mail_from"] == entry["envelope_from"]
    finally:
        second.stop()
