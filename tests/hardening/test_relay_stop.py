"""Relay mail across a clean stop, by hand re-queueing, and the raw message (SPEC §14),
with the real process and a real SMTP server (aiosmtpd)."""
import json
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from tests.helpers import SimControl, SimulatorProcess, aws_client
from tests.integration.test_send_relay import send, wait_relay
from tests.integration.test_smtp_relay import free_port, smtp_server


@pytest.fixture
def smtp():
    with smtp_server() as running:
        yield running


def test_a_clean_stop_keeps_undelivered_mail_for_the_next_start(tmp_path, smtp):
    controller, handler = smtp
    db = str(tmp_path / "sim.db")
    first = SimulatorProcess("--db", db, "--smtp-relay", f"127.0.0.1:{free_port()}").start()  # nobody listens
    sesv2 = aws_client("sesv2", first.url)
    sesv2.create_email_identity(EmailIdentity="example.com")
    message_ids = [send(sesv2) for _ in range(3)]
    first.stop("term")  # SIGTERM: a clean stop while the relay is failing and retrying
    second = SimulatorProcess("--db", db, "--smtp-relay", f"127.0.0.1:{controller.port}").start()
    try:
        control = SimControl(second.url)
        entries = [wait_relay(control, message_id) for message_id in message_ids]
        assert [e["relay"] for e in entries] == ["delivered"] * 3
        assert sorted(e["mail_from"] for e in handler.envelopes) == sorted(e["envelope_from"] for e in entries)
    finally:
        second.stop()


def raw(url: str, message_id: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(f"{url}/_sim/outbox/{message_id}/raw", timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def test_a_failed_message_is_requeued_by_hand_and_its_raw_message_served(smtp):
    controller, handler = smtp
    process = SimulatorProcess("--db", ":memory:", "--smtp-relay", f"127.0.0.1:{controller.port}").start()
    try:
        sesv2, control = aws_client("sesv2", process.url), SimControl(process.url)
        sesv2.create_email_identity(EmailIdentity="example.com")
        handler.refuse = {"a@example.org": "550 5.1.1 No such user", "b@example.org": "550 5.1.1 No such user"}
        message_id = send(sesv2)
        assert wait_relay(control, message_id)["relay"].startswith("failed: recipients refused")
        assert handler.envelopes == []

        status, content_type, body = raw(process.url, message_id)
        assert status == 200 and content_type == "message/rfc822" and b"Subject: hi" in body

        handler.refuse = {}
        answer = control.ok("POST", f"/_sim/outbox/{message_id}/relay")
        assert answer["relay"] == "pending" and answer["previous"].startswith("failed")
        assert wait_relay(control, message_id)["relay"] == "delivered"
        [envelope] = handler.envelopes
        assert envelope["content"].replace(b"\r\n", b"\n").rstrip() == body.replace(b"\r\n", b"\n").rstrip()

        status, answer = control.call("POST", f"/_sim/outbox/{message_id}/relay")  # delivered: never again
        assert status == 409 and answer["error"]["code"] == "CONFLICT"
        status, answer = control.call("POST", "/_sim/outbox/no-such-message/relay")
        assert status == 404 and answer["error"]["code"] == "NOT_FOUND"
        status, content_type, body = raw(process.url, "no-such-message")
        assert status == 404 and json.loads(body)["error"]["code"] == "NOT_FOUND"
        assert len(handler.envelopes) == 1

        sesv2.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain="mail.example.com",
                                                      BehaviorOnMxFailure="REJECT_MESSAGE")
        with pytest.raises(ClientError):
            send(sesv2)
        rejected = control.ok("GET", "/_sim/outbox")["messages"][0]
        status, answer = control.call("POST", f"/_sim/outbox/{rejected['message_id']}/relay")
        assert status == 400 and "was rejected" in answer["error"]["message"]
    finally:
        process.stop()


def test_requeue_needs_a_relay(sesv2, control):
    sesv2.create_email_identity(EmailIdentity="example.com")
    status, answer = control.call("POST", f"/_sim/outbox/{send(sesv2)}/relay")
    assert status == 400 and "no SMTP relay" in answer["error"]["message"]
