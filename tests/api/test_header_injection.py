"""MIME header injection through SendEmail (SPEC §14 "Input"), through real boto3 clients.

A line break (CR, LF, VT, FF, FS, GS, RS, NEL, LS, PS) or a lone surrogate in any
header field -- plain, or inside an RFC 2047 encoded word -- is refused with a 400 in
the caller's protocol whose message names the field, and nothing reaches the outbox.
"""
from __future__ import annotations

import base64

import pytest
from botocore.exceptions import ClientError


VICTIM = "Bcc: victim@example.net"
CRLF_Q = "=?utf-8?q?a=0D=0ABcc:_victim@example.net?="  # an encoded word hiding CRLF
CRLF_B = "=?utf-8?b?" + base64.b64encode(f"a\r\n{VICTIM}".encode()).decode() + "?="
NEL_Q = "=?utf-8?q?a=C2=85Bcc:_victim@example.net?="  # U+0085 in UTF-8
TO = {"ToAddresses": ["user@example.org"]}
SIMPLE = {"Subject": {"Data": "hello"}, "Body": {"Text": {"Data": "hi there"}}}
LINE_BREAKS = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # every break str.splitlines() knows
BREAK_NAMES = ["CR", "LF", "VT", "FF", "FS", "GS", "RS", "NEL", "LS", "PS"]


def outbox(control) -> list[dict]:
    return control.ok("GET", "/_sim/outbox")["messages"]


@pytest.fixture
def ready(sesv2, control):
    """example.com verified and one clean message accepted: the setup sends, so a
    refusal below is the injected field's doing. Returns the outbox as it stands."""
    sesv2.create_email_identity(EmailIdentity="example.com")
    sesv2.send_email(FromEmailAddress="app@example.com", Destination=TO, Content={"Simple": SIMPLE})
    before = outbox(control)
    assert len(before) == 1
    return before


def refused(call, code: str, field: str) -> str:
    with pytest.raises(ClientError) as excinfo:
        call()
    response = excinfo.value.response
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (code, 400)
    message = response["Error"]["Message"]
    assert field in message, message
    return message


def simple(subject="hello", **extra) -> dict:
    return {"Simple": {"Subject": {"Data": subject}, "Body": {"Text": {"Data": "hi there"}}, **extra}}


# --------------------------------------------------------------------------- SES v2 (and Pinpoint)

V2_CASES = {
    "From, CRLF in a quoted name": ({"FromEmailAddress": f'"a\r\n{VICTIM}" <app@example.com>'}, "FromEmailAddress"),
    "From, CRLF in a Q encoded word": ({"FromEmailAddress": f"{CRLF_Q} <app@example.com>"}, "FromEmailAddress"),
    "From, CRLF in a B encoded word": ({"FromEmailAddress": f"{CRLF_B} <app@example.com>"}, "FromEmailAddress"),
    "From, NEL in an encoded word": ({"FromEmailAddress": f"{NEL_Q} <app@example.com>"}, "FromEmailAddress"),
    "From, encoded word inside an encoded word": (
        {"FromEmailAddress": "=?utf-8?q?" + CRLF_Q.replace("=", "=3D").replace("?", "=3F") + "?= <app@example.com>"},
        "FromEmailAddress"),
    "From, lone surrogate": ({"FromEmailAddress": "\ud800 <app@example.com>"}, "FromEmailAddress"),
    "To, CRLF in a Q encoded word": ({"Destination": {"ToAddresses": [f"{CRLF_Q} <user@example.org>"]}},
                                     "Destination.ToAddresses"),
    "Cc, LF in a quoted name": ({"Destination": {**TO, "CcAddresses": [f'"a\n{VICTIM}" <c@example.org>']}},
                                "Destination.CcAddresses"),
    "Bcc, CRLF in a B encoded word": ({"Destination": {**TO, "BccAddresses": [f"{CRLF_B} <b@example.org>"]}},
                                      "Destination.BccAddresses"),
    "Reply-To, CRLF": ({"ReplyToAddresses": [f'"a\r\n{VICTIM}" <r@example.com>']}, "ReplyToAddresses"),
    "Subject, CRLF in an encoded word": ({"Content": simple(CRLF_Q)}, "Subject"),
    "Subject, lone surrogate": ({"Content": simple("hi \ud800")}, "Subject"),
    "Headers value, CRLF": ({"Content": simple(Headers=[{"Name": "X-Campaign", "Value": f"a\r\n{VICTIM}"}])},
                            "X-Campaign"),
    "Headers value, CRLF in an encoded word": (
        {"Content": simple(Headers=[{"Name": "X-Campaign", "Value": CRLF_Q}])}, "X-Campaign"),
    "Headers name, CRLF": ({"Content": simple(Headers=[{"Name": f"X-A\r\n{VICTIM}\r\nX-B", "Value": "v"}])},
                           "Headers"),
    "Attachment file name, CRLF": (
        {"Content": simple(Attachments=[{"FileName": f"a.txt\r\n{VICTIM}", "RawContent": b"x"}])},
        "Attachments.FileName"),
    "Raw From header, CRLF in an encoded word": (
        {"FromEmailAddress": None, "Destination": None, "Content": {"Raw": {"Data": (
            f"From: {CRLF_Q} <app@example.com>\r\nTo: user@example.org\r\nSubject: x\r\n\r\nbody\r\n").encode()}}},
        "From header"),
    "Raw To header, CRLF in a B encoded word": (
        {"Destination": None, "Content": {"Raw": {"Data": (
            f"From: app@example.com\r\nTo: {CRLF_B} <user@example.org>\r\nSubject: x\r\n\r\nbody\r\n").encode()}}},
        "To header"),
    "Raw Reply-To header, CRLF in an encoded word": (
        {"Content": {"Raw": {"Data": (
            f"From: app@example.com\r\nReply-To: {CRLF_Q} <r@example.com>\r\nSubject: x\r\n\r\nbody\r\n").encode()}}},
        "Reply-To header"),
    "Raw custom header, CRLF in a B encoded word": (
        {"Content": {"Raw": {"Data": (
            f"From: app@example.com\r\nX-Campaign: {CRLF_B}\r\nSubject: x\r\n\r\nbody\r\n").encode()}}},
        "X-Campaign header"),
    "Raw From header the request's FromEmailAddress overrides": (
        {"Content": {"Raw": {"Data": (
            f"From: {CRLF_Q} <app@example.com>\r\nTo: user@example.org\r\nSubject: x\r\n\r\nbody\r\n").encode()}}},
        "From header"),
    "Raw Subject header, NEL in an encoded word": (
        {"Content": {"Raw": {"Data": (
            f"From: app@example.com\r\nTo: user@example.org\r\nSubject: {NEL_Q}\r\n\r\nbody\r\n").encode()}}},
        "Subject header"),
}


def _v2_send(client, overrides: dict):
    request = {"FromEmailAddress": "app@example.com", "Destination": TO, "Content": {"Simple": SIMPLE}, **overrides}
    return client.send_email(**{key: value for key, value in request.items() if value is not None})


@pytest.mark.parametrize("case", V2_CASES)
def test_v2_refuses_injection_naming_the_field(ready, sesv2, control, case):
    overrides, field = V2_CASES[case]
    refused(lambda: _v2_send(sesv2, overrides), "BadRequestException", field)
    assert outbox(control) == ready


@pytest.mark.parametrize("breaker", LINE_BREAKS, ids=BREAK_NAMES)
def test_v2_refuses_every_line_break_in_the_subject(ready, sesv2, control, breaker):
    refused(lambda: _v2_send(sesv2, {"Content": simple(f"Hello{breaker}{VICTIM}")}), "BadRequestException", "Subject")
    assert outbox(control) == ready


@pytest.mark.parametrize("breaker", LINE_BREAKS, ids=BREAK_NAMES)
def test_v2_refuses_every_line_break_in_a_display_name(ready, sesv2, control, breaker):
    overrides = {"FromEmailAddress": f"Ann{breaker}{VICTIM} <app@example.com>"}
    refused(lambda: _v2_send(sesv2, overrides), "BadRequestException", "FromEmailAddress")
    assert outbox(control) == ready


def test_pinpoint_refuses_injection_the_same_way(ready, pinpoint, control):
    refused(lambda: _v2_send(pinpoint, {"FromEmailAddress": f"{CRLF_Q} <app@example.com>"}),
            "BadRequestException", "FromEmailAddress")
    assert outbox(control) == ready


# --------------------------------------------------------------------------- SES v1 query API


def _v1_send(ses, source="app@example.com", to=("user@example.org",), reply_to=(), subject="hello"):
    return ses.send_email(Source=source, Destination={"ToAddresses": list(to)}, ReplyToAddresses=list(reply_to),
                          Message={"Subject": {"Data": subject}, "Body": {"Text": {"Data": "hi there"}}})


V1_CASES = {
    "Source, CRLF in a quoted name": ({"source": f'"a\r\n{VICTIM}" <app@example.com>'}, "Source"),
    "Source, CRLF in a Q encoded word": ({"source": f"{CRLF_Q} <app@example.com>"}, "Source"),
    "To, CRLF in a B encoded word": ({"to": [f"{CRLF_B} <user@example.org>"]}, "Destination.ToAddresses"),
    "Reply-To, NEL in an encoded word": ({"reply_to": [f"{NEL_Q} <r@example.com>"]}, "ReplyToAddresses"),
    "Subject, CRLF in an encoded word": ({"subject": CRLF_Q}, "Message.Subject"),
}


@pytest.mark.parametrize("case", V1_CASES)
def test_v1_refuses_injection_naming_the_field(ready, ses, control, case):
    overrides, field = V1_CASES[case]
    refused(lambda: _v1_send(ses, **overrides), "InvalidParameterValue", field)
    assert outbox(control) == ready


@pytest.mark.parametrize("breaker", LINE_BREAKS, ids=BREAK_NAMES)
def test_v1_refuses_every_line_break_in_the_subject(ready, ses, control, breaker):
    refused(lambda: _v1_send(ses, subject=f"Hello{breaker}{VICTIM}"), "InvalidParameterValue", "Message.Subject")
    assert outbox(control) == ready


def test_v1_raw_refuses_an_injected_from_header(ready, ses, control):
    raw = f"From: {CRLF_B} <app@example.com>\r\nTo: user@example.org\r\nSubject: x\r\n\r\nbody\r\n".encode()
    refused(lambda: ses.send_raw_email(RawMessage={"Data": raw}), "InvalidParameterValue", "From header")
    assert outbox(control) == ready


def test_clean_encoded_words_are_still_accepted(ready, sesv2, ses, control):
    """The guard reads encoded words; it does not refuse them."""
    sesv2.send_email(FromEmailAddress="=?utf-8?q?J=C3=B6rg?= <app@example.com>", Destination=TO,
                     Content=simple("=?utf-8?q?Gr=C3=BC=C3=9Fe?=", Headers=[{"Name": "X-Word", "Value": "=?utf-8?q?x?="}]))
    _v1_send(ses, source="=?utf-8?b?SsO2cmc=?= <app@example.com>", subject="Grüße")
    assert len(outbox(control)) == len(ready) + 2
