"""Pure message handling: ids, addresses, Simple → MIME, Raw parsing, limits, delivery headers."""
from __future__ import annotations

import base64
import email
import re
from contextlib import contextmanager
from email import policy

import pytest

from simulator import mail
from simulator.core.errors import AwsError, BadRequestException, MessageRejected
from simulator.mail import build_from_simple, decode_raw_base64, delivered_mime, new_message_id, parse_raw
from simulator.mail.addresses import parse_address, parse_address_list
from simulator.mail.stamp import stamp_message, with_return_path

MESSAGE_ID = re.compile(r"^0100[0-9a-f]{12}-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}-000000$")


def simple(text: str | None = "hello", html: str | None = None, subject: str = "Hi", **extra) -> dict:
    body = {}
    if text is not None:
        body["Text"] = {"Data": text}
    if html is not None:
        body["Html"] = {"Data": html}
    return {"Subject": {"Data": subject}, "Body": body, **extra}


def parsed(mime_bytes: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(mime_bytes, policy=policy.default)


@contextmanager
def raises(code: str, match: str):
    """pytest.raises for the core's AWS errors that also checks the error code."""
    with pytest.raises(AwsError, match=match) as info:
        yield info
    assert info.value.code == code


# --------------------------------------------------------------------------- ids and names


def test_message_ids_look_like_ses_ids():
    assert MESSAGE_ID.match(new_message_id())


def test_message_ids_are_unique():
    assert len({new_message_id() for _ in range(2000)}) == 2000


def test_public_api_is_declared():
    assert set(mail.__all__) <= set(dir(mail))
    assert "parse_raw" in mail.__all__ and "build_from_simple" in mail.__all__


# --------------------------------------------------------------------------- addresses


def test_parse_address_splits_display_name_and_lowercases_the_domain():
    assert parse_address("Ann Example <Ann.X@Example.COM>") == ("Ann Example", "Ann.X@example.com")


def test_parse_address_accepts_a_bare_address():
    assert parse_address("  user@example.org ") == ("", "user@example.org")


def test_parse_address_decodes_quoted_and_encoded_display_names():
    assert parse_address('"Doe, Jane" <jane@example.com>') == ("Doe, Jane", "jane@example.com")
    assert parse_address("=?utf-8?q?J=C3=B6rg?= <j@example.com>") == ("Jörg", "j@example.com")


def test_parse_address_converts_an_idn_domain_to_punycode():
    assert parse_address("a@Bücher.de") == ("", "a@xn--bcher-kva.de")


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("user", "Missing final '@domain'"),
        ("@example.com", "Missing local name"),
        ("user@", "Missing domain"),
        ("us er@example.com", "Local address contains control or whitespace"),
        ("user@exa mple.com", "Domain contains control or whitespace"),
        (".user@example.com", "Local address starts with dot"),
        ("us..er@example.com", "Local address contains dot-dot"),
        ("us,er@example.com", "Local address contains illegal character"),
        ("user@.example.com", "Domain starts with dot"),
        ("user@example..com", "Domain contains dot-dot"),
        ("user@exa_mple.com", "Domain contains illegal character"),
        ("user@-example.com", "Domain contains illegal character"),
        ("user@[192.0.2.1]", "Domain literals are not supported"),
        ("jörg@example.com", "non-ASCII"),
        ("Ann <ann@example.com", "Missing '>'"),
        ("a" * 310 + "@example.com", "longer than 320"),
        ("", "Empty address"),
    ],
)
def test_parse_address_refuses_malformed_addresses(address, message):
    with raises("BadRequestException", re.escape(message)):
        parse_address(address)


def test_parse_address_list_handles_quotes_groups_and_empty_members():
    value = '"Doe, Jane" <jane@example.com>, team: a@x.org, b@y.org;, undisclosed-recipients:;, c@z.org,'
    assert [addr for _, addr in parse_address_list(value)] == [
        "jane@example.com", "a@x.org", "b@y.org", "c@z.org",
    ]


# --------------------------------------------------------------------------- Simple content


def test_text_only_message_is_a_single_text_plain_part():
    composed = build_from_simple("app@example.com", {"ToAddresses": ["u@example.org"]}, simple("hello"))

    message = parsed(composed.mime_bytes)
    assert message.get_content_type() == "text/plain"
    assert message.get_content().strip() == "hello"
    assert message["From"] == "app@example.com"
    assert message["To"] == "u@example.org"
    assert message["Subject"] == "Hi"
    assert message["MIME-Version"] == "1.0"


def test_text_and_html_make_multipart_alternative():
    composed = build_from_simple(
        "app@example.com", {"ToAddresses": ["u@example.org"]}, simple("plain", "<p>rich</p>")
    )

    message = parsed(composed.mime_bytes)
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message.get_body(("html",)).get_content().strip() == "<p>rich</p>"


def test_the_alternative_boundary_can_be_pinned():
    composed = build_from_simple(
        "app@example.com", {"ToAddresses": ["u@example.org"]}, simple("plain", "<p>rich</p>"), boundary="pinned"
    )

    assert parsed(composed.mime_bytes).get_boundary() == "pinned"
    assert composed.mime_bytes.endswith(b"\r\n--pinned--\r\n")


def test_charset_is_honoured_for_subject_and_body():
    content = {
        "Subject": {"Data": "Grüße", "Charset": "ISO-8859-1"},
        "Body": {"Html": {"Data": "<p>Grüße</p>", "Charset": "ISO-8859-1"}},
    }
    composed = build_from_simple("app@example.com", {"ToAddresses": ["u@example.org"]}, content)

    message = parsed(composed.mime_bytes)
    assert message.get_content_charset() == "iso-8859-1"
    assert message.get_content().strip() == "<p>Grüße</p>"
    assert message["Subject"] == "Grüße"
    assert b"=?iso-8859-1?" in composed.mime_bytes
    assert composed.subject == "Grüße"


def test_non_ascii_without_charset_is_sent_as_utf8():
    composed = build_from_simple("app@example.com", {"ToAddresses": ["u@example.org"]}, simple("Straße"))

    message = parsed(composed.mime_bytes)
    assert message.get_content_charset() == "utf-8"
    assert message.get_content().strip() == "Straße"


def test_unknown_charset_is_a_bad_request():
    content = {"Subject": {"Data": "x"}, "Body": {"Text": {"Data": "x", "Charset": "no-such-charset"}}}
    with raises("BadRequestException", "Unknown charset"):
        build_from_simple("app@example.com", {"ToAddresses": ["u@example.org"]}, content)


@pytest.mark.parametrize("charset", ["hex", "rot13", "base64"])
def test_a_codec_that_does_not_encode_text_is_not_a_charset(charset):
    content = {"Subject": {"Data": "x"}, "Body": {"Text": {"Data": "x", "Charset": charset}}}
    with raises("BadRequestException", "Unknown charset"):
        build_from_simple("app@example.com", {"ToAddresses": ["u@example.org"]}, content)


def test_a_custom_header_may_repeat_to():
    content = simple(Headers=[{"Name": "To", "Value": "other@example.net"}])
    composed = build_from_simple("app@example.com", {"ToAddresses": ["u@example.org"]}, content)
    assert parsed(composed.mime_bytes).get_all("To") == ["u@example.org", "other@example.net"]
    assert composed.destinations == ("u@example.org",)


def test_custom_headers_are_added():
    content = simple(Headers=[{"Name": "X-Campaign", "Value": "spring"}, {"Name": "List-Unsubscribe", "Value": "<mailto:u@x.org>"}])
    composed = build_from_simple("app@example.com", {"ToAddresses": ["u@example.org"]}, content)

    message = parsed(composed.mime_bytes)
    assert message["X-Campaign"] == "spring"
    assert message["List-Unsubscribe"] == "<mailto:u@x.org>"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ({"Name": "Bad:Name", "Value": "x"}, "Invalid header name"),
        ({"Name": "X-Ok", "Value": "line\r\nInjected: yes"}, "Invalid value"),
        ({"Name": "Subject", "Value": "again"}, "Duplicate header 'Subject'"),
    ],
)
def test_invalid_custom_headers_are_bad_requests(header, message):
    with raises("BadRequestException", message):
        build_from_simple("app@example.com", {"ToAddresses": ["u@example.org"]}, simple(Headers=[header]))


def test_more_than_fifteen_custom_headers_is_a_bad_request():
    headers = [{"Name": f"X-H{n}", "Value": "v"} for n in range(16)]
    with raises("BadRequestException", "no more than 15"):
        build_from_simple("app@example.com", {"ToAddresses": ["u@example.org"]}, simple(Headers=headers))


def test_recipients_are_split_by_kind_and_bcc_never_appears_in_the_message():
    composed = build_from_simple(
        "Sender <app@example.com>",
        {"ToAddresses": ["Ann <a@x.org>"], "CcAddresses": ["c@x.org"], "BccAddresses": ["hidden@x.org"]},
        simple(),
        ["replies@example.com"],
    )

    assert composed.from_address == "app@example.com"
    assert (composed.to, composed.cc, composed.bcc) == (("a@x.org",), ("c@x.org",), ("hidden@x.org",))
    assert composed.destinations == ("a@x.org", "c@x.org", "hidden@x.org")
    message = parsed(composed.mime_bytes)
    assert message["To"] == "Ann <a@x.org>"
    assert message["Cc"] == "c@x.org"
    assert message["Reply-To"] == "replies@example.com"
    assert message["Bcc"] is None
    assert b"hidden@x.org" not in composed.mime_bytes


def test_duplicate_recipients_are_delivered_once():
    composed = build_from_simple(
        "app@example.com", {"ToAddresses": ["a@x.org"], "CcAddresses": ["a@X.org"]}, simple()
    )
    assert composed.destinations == ("a@x.org",)


def test_composed_message_uses_crlf_line_endings():
    composed = build_from_simple("app@example.com", {"ToAddresses": ["u@example.org"]}, simple("a\nb\r\nc"))
    assert b"\n" not in composed.mime_bytes.replace(b"\r\n", b"")


def test_attachments_make_multipart_mixed():
    content = simple(Attachments=[{"FileName": "report.pdf", "RawContent": b"%PDF-1.4"}])
    composed = build_from_simple("app@example.com", {"ToAddresses": ["u@example.org"]}, content)

    message = parsed(composed.mime_bytes)
    assert message.get_content_type() == "multipart/mixed"
    attachment = next(message.iter_attachments())
    assert attachment.get_filename() == "report.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == b"%PDF-1.4"


def test_an_attachment_that_is_not_base64_is_named():
    content = simple(Attachments=[{"FileName": "a.txt", "RawContent": "!!not base64!!"}])
    with raises("BadRequestException", "Invalid base64 encoding of Attachments.RawContent"):
        build_from_simple("app@example.com", {"ToAddresses": ["u@example.org"]}, content)


def test_simple_without_from_is_a_bad_request():
    with raises("BadRequestException", "Missing required header 'From'"):
        build_from_simple(None, {"ToAddresses": ["u@example.org"]}, simple())


def test_simple_without_recipients_is_a_bad_request():
    with raises("BadRequestException", "Missing required header 'To'"):
        build_from_simple("app@example.com", {"ToAddresses": []}, simple())


def test_simple_with_a_malformed_recipient_rejects_the_whole_message():
    with raises("BadRequestException", "Missing final '@domain'"):
        build_from_simple("app@example.com", {"ToAddresses": ["ok@example.org", "broken"]}, simple())


def test_simple_without_subject_is_a_bad_request():
    with raises("BadRequestException", "Subject"):
        build_from_simple("app@example.com", {"ToAddresses": ["u@example.org"]}, {"Body": {"Text": {"Data": "x"}}})


# --------------------------------------------------------------------------- limits


def test_fifty_recipients_are_allowed_and_fifty_one_are_not():
    fifty = {"ToAddresses": [f"u{n}@example.org" for n in range(25)], "BccAddresses": [f"b{n}@example.org" for n in range(25)]}
    assert len(build_from_simple("app@example.com", fifty, simple()).destinations) == 50

    fifty["CcAddresses"] = ["one-too-many@example.org"]
    with raises("BadRequestException", r"Recipient count exceeds 50\."):
        build_from_simple("app@example.com", fifty, simple())


def test_too_many_recipients_in_raw_headers_is_a_bad_request():
    to = ", ".join(f"u{n}@example.org" for n in range(51)).encode()
    with raises("BadRequestException", "Recipient count exceeds 50"):
        parse_raw(b"From: a@example.com\r\nTo: " + to + b"\r\n\r\nbody", None, None)


def test_oversize_simple_message_is_rejected():
    with raises("MessageRejected", "Message length is more than 1000 bytes long"):
        build_from_simple("app@example.com", {"ToAddresses": ["u@example.org"]}, simple("x" * 2000), max_bytes=1000)


def test_oversize_raw_message_is_rejected():
    data = b"From: a@example.com\r\nTo: b@example.org\r\n\r\n" + b"x" * 100
    with raises("MessageRejected", "Message length is more than 100 bytes long"):
        parse_raw(data, None, None, max_bytes=100)


def test_size_limits_match_ses():
    assert mail.V2_MAX_MESSAGE_BYTES == 40 * 1024 * 1024
    assert mail.V1_MAX_MESSAGE_BYTES == 10 * 1024 * 1024


# --------------------------------------------------------------------------- Raw content

RAW = (
    b"From: Ann <ann@Example.com>\n"
    b"To: bob@example.org, \"Carol, C\" <carol@example.org>\n"
    b"Cc: dave@example.org\n"
    b"Bcc: secret@example.org\n"
    b"X-SES-CONFIGURATION-SET: default\n"
    b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\n"
    b"Content-Type: text/plain; charset=utf-8\n"
    b"\n"
    b"Hello\n"
)


def test_raw_recipients_come_from_the_headers_when_no_destination_is_given():
    composed = parse_raw(RAW, None, None)

    assert composed.from_address == "ann@example.com"
    assert composed.to == ("bob@example.org", "carol@example.org")
    assert composed.cc == ("dave@example.org",)
    assert composed.bcc == ("secret@example.org",)
    assert composed.destinations == ("bob@example.org", "carol@example.org", "dave@example.org", "secret@example.org")
    assert composed.subject == "Grüße"


def test_raw_bcc_and_ses_control_headers_are_stripped_from_what_is_delivered():
    composed = parse_raw(RAW, None, None)

    assert b"secret@example.org" not in composed.mime_bytes
    assert b"X-SES-" not in composed.mime_bytes
    message = parsed(composed.mime_bytes)
    assert message["Bcc"] is None
    assert message["Cc"] == "dave@example.org"
    assert message.get_content().strip() == "Hello"


def test_raw_bytes_are_kept_with_crlf_line_endings():
    composed = parse_raw(RAW, None, None)

    assert composed.mime_bytes.endswith(b"\r\n\r\nHello\r\n")
    assert b"\n" not in composed.mime_bytes.replace(b"\r\n", b"")
    assert composed.mime_bytes.startswith(b"From: Ann <ann@Example.com>\r\n")


def test_raw_destination_overrides_the_headers():
    composed = parse_raw(RAW, None, {"ToAddresses": ["only@example.net"]})
    assert composed.destinations == ("only@example.net",)


def test_raw_from_argument_overrides_the_from_header():
    composed = parse_raw(RAW, "Sender <sender@example.net>", None)
    assert composed.from_address == "sender@example.net"


def test_raw_without_from_is_a_bad_request():
    with raises("BadRequestException", r"Missing required header 'From'\."):
        parse_raw(b"To: b@example.org\r\nSubject: x\r\n\r\nbody", None, None)


def test_raw_from_argument_makes_the_from_header_optional():
    composed = parse_raw(b"To: b@example.org\r\n\r\nbody", "a@example.com", None)
    assert composed.from_address == "a@example.com"


def test_raw_without_any_recipient_is_a_bad_request():
    with raises("BadRequestException", r"Missing required header 'To'\."):
        parse_raw(b"From: a@example.com\r\nSubject: x\r\n\r\nbody", None, None)


def test_raw_with_only_bcc_recipients_is_accepted():
    composed = parse_raw(b"From: a@example.com\r\nBcc: b@example.org\r\n\r\nbody", None, None)
    assert composed.destinations == ("b@example.org",)
    assert b"Bcc" not in composed.mime_bytes


def test_raw_with_a_malformed_recipient_header_is_a_bad_request():
    with raises("BadRequestException", "Missing final '@domain'"):
        parse_raw(b"From: a@example.com\r\nTo: good@example.org, nobody\r\n\r\nbody", None, None)


def test_raw_with_a_duplicated_once_only_header_is_a_bad_request():
    with raises("BadRequestException", r"Duplicate header 'Subject'\."):
        parse_raw(b"From: a@example.com\r\nTo: b@example.org\r\nSubject: 1\r\nSubject: 2\r\n\r\nx", None, None)


def test_raw_with_an_empty_header_name_is_a_bad_request():
    with raises("BadRequestException", "Empty header names are illegal"):
        parse_raw(b"From: a@example.com\r\n: nameless\r\n\r\nx", None, None)


def test_raw_folded_headers_are_unfolded_for_reading_and_kept_for_delivery():
    data = b"From: a@example.com\r\nTo: b@example.org,\r\n c@example.org\r\nSubject: a long\r\n\tsubject\r\n\r\nx"
    composed = parse_raw(data, None, None)

    assert composed.to == ("b@example.org", "c@example.org")
    assert composed.subject == "a long\tsubject"
    assert b"To: b@example.org,\r\n c@example.org\r\n" in composed.mime_bytes


def test_decode_raw_base64_accepts_wire_data_with_line_breaks():
    encoded = base64.encodebytes(RAW).decode()  # wrapped every 76 characters
    assert decode_raw_base64(encoded) == RAW


@pytest.mark.parametrize("data", ["not base64!", "QUJ", "QUJDRA", "ä"])
def test_decode_raw_base64_refuses_invalid_input(data):
    with raises("BadRequestException", "Invalid base64"):
        decode_raw_base64(data)


# --------------------------------------------------------------------------- delivery headers


def test_return_path_is_prepended_as_a_receiving_mta_would():
    mime = b"From: a@example.com\r\nTo: b@example.org\r\n\r\nbody\r\n"
    delivered = with_return_path(mime, "0100abc@mail.example.com")

    assert delivered == b"Return-Path: <0100abc@mail.example.com>\r\n" + mime


def test_return_path_replaces_one_the_sender_supplied():
    mime = b"Return-Path: <forged@evil.example>\r\nFrom: a@example.com\r\n\r\nbody"
    delivered = with_return_path(mime, "x@amazonses.com")

    assert delivered.count(b"Return-Path") == 1
    assert delivered.startswith(b"Return-Path: <x@amazonses.com>\r\n")


def test_stamp_sets_ses_message_id_and_date_overwriting_the_senders():
    mime = b"Message-ID: <mine@client>\r\nDate: yesterday\r\nFrom: a@example.com\r\n\r\nbody"
    stamped = parsed(stamp_message(mime, "0100abc-def-000000", "us-east-1", 0))

    assert stamped["Message-ID"] == "<0100abc-def-000000@email.amazonses.com>"
    assert stamped["Date"] == "Thu, 01 Jan 1970 00:00:00 +0000"
    assert len(stamped.get_all("Message-ID")) == 1 and len(stamped.get_all("Date")) == 1


def test_delivered_mime_is_stamped_and_carries_the_envelope_sender():
    composed = build_from_simple("app@example.com", {"ToAddresses": ["u@example.org"]}, simple())
    message_id = new_message_id()
    delivered = delivered_mime(composed, message_id, "eu-west-1", 1_700_000_000, f"{message_id}@eu-west-1.amazonses.com")

    message = parsed(delivered)
    assert delivered.startswith(b"Return-Path: <" + message_id.encode() + b"@eu-west-1.amazonses.com>\r\n")
    assert message["Message-ID"] == f"<{message_id}@eu-west-1.amazonses.com>"
    assert message.get_content().strip() == "hello"


def test_errors_are_the_core_aws_errors_with_their_v1_spelling():
    with pytest.raises(BadRequestException) as bad:
        parse_address("user")
    assert bad.value.query_code == "InvalidParameterValue"
    with pytest.raises(MessageRejected) as rejected:
        parse_raw(b"From: a@example.com\r\nTo: b@example.org\r\n\r\n" + b"x" * 100, None, None, max_bytes=100)
    assert rejected.value.query_code == "MessageRejected"


def test_a_multipart_boundary_is_never_one_of_the_parts_lines(monkeypatch):
    # The first boundary drawn is written as a line in the text part; the next is used.
    from simulator.mail import compose

    draws = iter([1, 2])
    monkeypatch.setattr(compose.random, "randrange", lambda _: next(draws))
    first, second = (f"==============={n:019d}==" for n in (1, 2))
    text = f"before\n--{first}\nafter\n"
    message = build_from_simple("a@example.com", {"ToAddresses": ["b@example.org"]},
                                {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": text}, "Html": {"Data": "<p>h</p>"}}})
    parsed = email.message_from_bytes(message.mime_bytes, policy=policy.default)
    assert parsed.get_boundary() == second
    parts = [part.get_content() for part in parsed.iter_parts()]
    assert parts[0].replace("\r\n", "\n") == text and parts[1].strip() == "<p>h</p>"
