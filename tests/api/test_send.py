"""SendEmail through real boto3 clients: SPEC §6, with every MAIL FROM state reached through real DNS."""
import base64
import json
import re
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from tests.api.test_identities import error_of

MAIL = "mail.example.com"
SIMPLE = {"Simple": {"Subject": {"Data": "hello"}, "Body": {"Text": {"Data": "hi there"}}}}
TO = {"ToAddresses": ["user@example.org"]}
MESSAGE_ID = re.compile(r"^0100[0-9a-f]{12}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-000000$")


def send(client, sender="app@example.com", **overrides):
    return client.send_email(**{"FromEmailAddress": sender, "Destination": TO, "Content": SIMPLE, **overrides})


def outbox(control, **scope):
    query = "&".join(f"{k}={v}" for k, v in scope.items())
    return control.ok("GET", "/_sim/outbox" + (f"?{query}" if query else ""))["messages"]


def configure(sesv2, behavior, identity="example.com", domain=MAIL):
    sesv2.put_email_identity_mail_from_attributes(EmailIdentity=identity, MailFromDomain=domain,
                                                  BehaviorOnMxFailure=behavior)


def reach(state, control):
    """Drive mail.example.com's configuration to `state` through the embedded DNS server."""
    if state == "SUCCESS":
        control.add_mx(MAIL)
        control.ok("POST", "/_sim/checks/run", {})
    elif state == "TEMPORARY_FAILURE":
        control.ok("PUT", f"/_sim/dns/faults/{MAIL}", {"fault": "servfail"})
        control.ok("POST", "/_sim/checks/run", {})
    elif state == "FAILED":
        control.ok("POST", "/_sim/clock/advance", {"seconds": 259200 + 60})


@pytest.fixture
def domain(sesv2):
    sesv2.create_email_identity(EmailIdentity="example.com")
    return sesv2


def test_without_a_mail_from_domain_the_default_envelope_is_used(domain, control):
    message_id = send(domain)["MessageId"]
    assert MESSAGE_ID.match(message_id)
    [entry] = outbox(control)
    assert entry["envelope_from"] == f"{message_id}@amazonses.com"
    assert (entry["mail_from_decision"], entry["mail_from_identity"], entry["mail_from_status"]) == ("default", None, None)
    assert entry["raw"].startswith(f"Return-Path: <{message_id}@amazonses.com>\r\n")
    assert (entry["from"], entry["destinations"], entry["subject"], entry["relay"]) == (
        "app@example.com", ["user@example.org"], "hello", "none")


def test_outside_us_east_1_the_default_carries_the_region(client_for, control):
    eu = client_for("sesv2", region="eu-west-1")
    eu.create_email_identity(EmailIdentity="example.com")
    message_id = send(eu)["MessageId"]
    assert outbox(control, region="eu-west-1")[0]["envelope_from"] == f"{message_id}@eu-west-1.amazonses.com"


def test_success_sends_from_the_custom_domain(domain, control):
    configure(domain, "REJECT_MESSAGE")
    reach("SUCCESS", control)
    message_id = send(domain)["MessageId"]
    entry = outbox(control)[0]
    assert (entry["envelope_from"], entry["mail_from_decision"], entry["mail_from_status"]) == (
        f"{message_id}@{MAIL}", "custom", "SUCCESS")


@pytest.mark.parametrize("state", ["PENDING", "TEMPORARY_FAILURE", "FAILED"])
def test_use_default_value_falls_back_while_not_success(domain, control, state):
    configure(domain, "USE_DEFAULT_VALUE")
    reach(state, control)
    assert domain.get_email_identity(EmailIdentity="example.com")["MailFromAttributes"]["MailFromDomainStatus"] == state
    message_id = send(domain)["MessageId"]
    entry = outbox(control)[0]
    assert (entry["envelope_from"], entry["mail_from_decision"], entry["mail_from_status"]) == (
        f"{message_id}@amazonses.com", "default", state)


@pytest.mark.parametrize("state", ["PENDING", "TEMPORARY_FAILURE", "FAILED"])
def test_reject_message_refuses_while_not_success_and_records_the_attempt(domain, control, state):
    configure(domain, "REJECT_MESSAGE")
    reach(state, control)
    with pytest.raises(ClientError) as excinfo:
        send(domain)
    assert error_of(excinfo) == ("MailFromDomainNotVerifiedException", 400)
    [entry] = outbox(control)
    assert (entry["envelope_from"], entry["mail_from_decision"], entry["mail_from_status"]) == (None, "rejected", state)
    assert domain.get_account()["SendQuota"]["SentLast24Hours"] == 0


def test_an_email_identity_overrides_its_domain(domain, control):
    configure(domain, "USE_DEFAULT_VALUE")
    reach("SUCCESS", control)
    domain.create_email_identity(EmailIdentity="app@example.com")
    configure(domain, "REJECT_MESSAGE", identity="app@example.com", domain="bounce.example.com")
    with pytest.raises(ClientError) as excinfo:
        send(domain)
    assert error_of(excinfo)[0] == "MailFromDomainNotVerifiedException"
    assert outbox(control)[0]["mail_from_identity"] == "app@example.com"
    send(domain, sender="other@example.com")
    assert outbox(control)[0]["mail_from_decision"] == "custom"


def test_a_parent_domain_identity_authorises_and_decides_for_a_subdomain_sender(domain, control):
    configure(domain, "USE_DEFAULT_VALUE")
    reach("SUCCESS", control)
    message_id = send(domain, sender="app@news.example.com")["MessageId"]
    assert outbox(control)[0]["envelope_from"] == f"{message_id}@{MAIL}"


def test_an_unverified_sender_is_rejected(sesv2, control):
    with pytest.raises(ClientError) as excinfo:
        send(sesv2, sender="app@unknown.com")
    assert error_of(excinfo) == ("MessageRejected", 400)
    assert excinfo.value.response["Error"]["Message"] == (
        "Email address is not verified. The following identities failed the check in region US-EAST-1: app@unknown.com")
    sesv2.create_email_identity(EmailIdentity="unknown.com")
    control.ok("PUT", "/_sim/identities/unknown.com/verification", {"status": "PENDING"})
    with pytest.raises(ClientError):
        send(sesv2, sender="app@unknown.com")
    assert outbox(control) == []


def test_the_sandbox_requires_verified_recipients(domain, control):
    control.ok("PUT", "/_sim/account", {"sandbox": True})
    with pytest.raises(ClientError) as excinfo:
        send(domain)
    assert error_of(excinfo) == ("MessageRejected", 400) and "user@example.org" in str(excinfo.value)
    domain.create_email_identity(EmailIdentity="user@example.org")
    send(domain)
    assert len(outbox(control)) == 1


def test_raw_content_takes_recipients_from_the_headers_and_hides_bcc(domain, control):
    mime = (b"From: app@example.com\r\nTo: a@example.org\r\nBcc: secret@example.org\r\nSubject: raw one\r\n\r\nbody\r\n")
    message_id = domain.send_email(Content={"Raw": {"Data": mime}})["MessageId"]
    entry = outbox(control)[0]
    assert entry["destinations"] == ["a@example.org", "secret@example.org"] and entry["subject"] == "raw one"
    assert "secret@example.org" not in entry["raw"] and entry["raw"].startswith(f"Return-Path: <{message_id}@")


def test_html_and_text_become_multipart_alternative(domain, control):
    send(domain, Content={"Simple": {"Subject": {"Data": "Grüße", "Charset": "UTF-8"}, "Body": {
        "Text": {"Data": "plain"}, "Html": {"Data": "<b>rich</b>"}}}})
    entry = outbox(control)[0]
    assert "multipart/alternative" in entry["raw"] and entry["subject"] == "Grüße"


def test_pinpoint_sends_through_the_same_rules(pinpoint, control):
    pinpoint.create_email_identity(EmailIdentity="example.com")
    message_id = send(pinpoint)["MessageId"]
    assert outbox(control)[0]["message_id"] == message_id


def test_the_quota_counts_recipients_not_messages(domain):
    # SPEC §10: To + Cc + Bcc, as the SES API reference counts them (one message to three counts 3).
    send(domain)
    send(domain, Destination={"ToAddresses": ["a@example.org"], "CcAddresses": ["b@example.org"],
                              "BccAddresses": ["c@example.org"]})
    assert domain.get_account()["SendQuota"]["SentLast24Hours"] == 4


@pytest.mark.parametrize("overrides, code", [
    ({"FromEmailAddress": "not-an-address"}, "BadRequestException"),
    ({"Destination": {"ToAddresses": ["bad address@@x"]}}, "BadRequestException"),
    ({"Destination": {}}, "BadRequestException"),
    ({"Destination": {"ToAddresses": [f"u{i}@example.org" for i in range(51)]}}, "BadRequestException"),
    ({"Content": {"Raw": {"Data": b"Subject: no recipients\r\n\r\nbody"}}, "Destination": {}}, "BadRequestException"),
])
def test_bad_sends_are_refused_and_nothing_is_stored(domain, control, overrides, code):
    with pytest.raises(ClientError) as excinfo:
        send(domain, **overrides)
    assert error_of(excinfo) == (code, 400)
    assert outbox(control) == []


def _post(endpoint, body: bytes):
    request = urllib.request.Request(endpoint + "/v2/email/outbound-emails", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.headers


def test_non_base64_raw_data_is_a_bad_request(domain, endpoint, control):
    status, headers = _post(endpoint, json.dumps({"Content": {"Raw": {"Data": "***not base64***"}}}).encode())
    assert (status, headers["x-amzn-ErrorType"]) == (400, "BadRequestException")
    assert outbox(control) == []


def test_a_message_over_40_mb_is_rejected(domain, endpoint, control):
    mime = b"From: app@example.com\r\nTo: a@example.org\r\nSubject: big\r\n\r\n" + b"x" * (41 * 1024 * 1024)
    body = json.dumps({"Content": {"Raw": {"Data": base64.b64encode(mime).decode()}}}).encode()
    status, headers = _post(endpoint, body)
    assert (status, headers["x-amzn-ErrorType"]) == (400, "MessageRejected")
    assert outbox(control) == []


def test_a_large_message_is_stored_and_read_back_byte_for_byte(domain, endpoint, control, sesv2):
    """Messages over the store's large-blob size are written in place (not bound): same bytes back."""
    body_text = b"".join(b"line %07d of a large message\r\n" % n for n in range(80_000))  # ~2.6 MB
    mime = b"From: app@example.com\r\nTo: a@example.org\r\nSubject: big\r\n\r\n" + body_text
    message_id = sesv2.send_email(Content={"Raw": {"Data": mime}})["MessageId"]
    status, _ = _post(endpoint, json.dumps({"Content": {"Raw": {"Data": base64.b64encode(mime).decode()}}}).encode())
    assert status == 200
    with urllib.request.urlopen(f"{control.url}/_sim/outbox/{message_id}/raw", timeout=60) as response:
        stored = response.read()
    assert stored.endswith(body_text)
    assert len([m for m in outbox(control) if m["subject"] == "big"]) == 2
