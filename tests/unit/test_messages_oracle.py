"""What `build_from_simple` and `parse_raw` write, read back with the `email` package
as the oracle: headers, bodies, charsets, structure and attachments must come back
as they were given. Inputs are generated from a fixed seed, so a failure names a
case that reproduces.
"""
from __future__ import annotations

import base64
import codecs
import email
import random
from email import policy
from email.message import EmailMessage

import pytest

from simulator.core.errors import BadRequestException
from simulator.mail import build_from_simple, parse_raw

SEED = 20261126
LINE_BREAKS = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # every break str.splitlines() knows
CASES = 300

SUBJECTS = [
    "", " ", "Hi", "Your order has shipped", "hi ", " leading", "a\tb", "100% = 1/1; ok, fine",
    "Grüße", "Grüße aus Köln", "Überweisung bestätigt – danke!", "日本語の件名", "emoji 🎉 party",
    "naïve café", "_under_score ü", "s" * 90, "word " * 30, "ü" * 40,
]
BODY_LINES = [
    "Hello", "", "  indented", "trailing space ", "tab\tin line", "=equals= sign", ".", "From me",
    "Grüße", "日本", "€uro", "x" * 80, "z" * 1200, "<p>rich</p>", "--boundary-ish", "\x0bvt", "nel\x85",
]
ADDRESSES = ["app@example.com", "u@example.org", "ops+tag@mail.example.net", "a@x.org", "Ann.X@example.com"]
NAMES = ["", "Ann", "Ann Example", "Doe, Jane", 'Say "hi"', "Jörg Müller", "Team (ops)", "x" * 90]
CUSTOM_HEADERS = [
    ("X-Campaign", "spring"), ("List-Unsubscribe", "<mailto:unsub@example.com>"), ("X-Tab", "a b  c"),
    ("X-Long", "v" * 200), ("X-Longer", "w " * 60), ("Date", "yesterday"), ("X-Word", "=?utf-8?q?J=C3=B6rg?="),
]
BODY_CHARSETS = [None, None, None, "UTF-8", "ISO-8859-1", "us-ascii", "latin-1", "utf8"]
SUBJECT_CHARSETS = [None, None, "UTF-8", "ISO-8859-1", "windows-1252"]
ATTACHMENTS = [
    {"FileName": "report.pdf", "RawContent": b"%PDF-1.4\n\x00\xff binary"},
    {"FileName": "notes.txt", "RawContent": b"plain text\nlines\n", "ContentTransferEncoding": "SEVEN_BIT"},
    {"FileName": "résumé.bin", "RawContent": bytes(range(256)), "ContentTransferEncoding": "QUOTED_PRINTABLE"},
    {"FileName": "logo.png", "RawContent": b"\x89PNG\r\n", "ContentDisposition": "INLINE", "ContentId": "logo"},
]


def _address(rng: random.Random) -> tuple[str, str, str]:
    """(as sent, display name, address)."""
    address, name = rng.choice(ADDRESSES), rng.choice(NAMES)
    if not name:
        return address, "", address
    quoted = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"' if any(c in name for c in ',"()') else name
    return f"{quoted} <{address}>", name, address


def _body(rng: random.Random) -> str:
    return rng.choice(["\n", "\r\n", "\r"]).join(rng.choice(BODY_LINES) for _ in range(rng.randint(0, 6)))


def _encodable(text: str, charset: str | None) -> bool:
    try:
        text.encode(charset or "utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _case(rng: random.Random) -> dict:
    sender = _address(rng)
    kinds = {kind: [_address(rng) for _ in range(rng.randint(0, 3))] for kind in ("To", "Cc", "Bcc")}
    if not any(kinds.values()):
        kinds["To"] = [_address(rng)]
    replies = [_address(rng) for _ in range(rng.choice([0, 0, 1, 2]))]
    subject, subject_charset = rng.choice(SUBJECTS), rng.choice(SUBJECT_CHARSETS)
    if not _encodable(subject, subject_charset):
        subject_charset = None
    texts = {}
    for member in rng.choice([["Text"], ["Html"], ["Text", "Html"], ["Text", "Html"]]):
        data, charset = _body(rng), rng.choice(BODY_CHARSETS)
        texts[member] = {"Data": data, **({"Charset": charset} if charset and _encodable(data, charset) else {})}
    custom = rng.sample(CUSTOM_HEADERS, rng.randint(0, 3))
    attachments = rng.sample(ATTACHMENTS, rng.choice([0, 0, 1, 2]))
    return {"sender": sender, "kinds": kinds, "replies": replies, "subject": (subject, subject_charset),
            "texts": texts, "custom": custom, "attachments": attachments}


def _compose(case: dict, boundary: str | None = None):
    simple = {"Subject": {"Data": case["subject"][0], **({"Charset": case["subject"][1]} if case["subject"][1] else {})},
              "Body": case["texts"]}
    if case["custom"]:
        simple["Headers"] = [{"Name": name, "Value": value} for name, value in case["custom"]]
    if case["attachments"]:
        simple["Attachments"] = case["attachments"]
    destination = {f"{kind}Addresses": [sent for sent, _, _ in pairs] for kind, pairs in case["kinds"].items()}
    return build_from_simple(case["sender"][0], destination, simple, [sent for sent, _, _ in case["replies"]],
                             boundary=boundary)


def _same_charset(written: str, asked: str) -> bool:
    return codecs.lookup(written).name == codecs.lookup(asked).name


def _check_text_part(part: EmailMessage, content: dict) -> None:
    data = content["Data"]
    asked = content.get("Charset") or ("us-ascii" if data.isascii() else "utf-8")
    assert _same_charset(part.get_content_charset(), asked)
    assert part["Content-Transfer-Encoding"] in ("7bit", "quoted-printable")
    expected = data.replace("\r\n", "\n").replace("\r", "\n")
    content = part.get_content().replace("\r\n", "\n")  # the parser keeps the wire's CRLF
    assert content == (expected if expected.endswith("\n") else expected + "\n")


@pytest.mark.parametrize("index", range(CASES))
def test_composed_messages_read_back_as_given(index):
    rng = random.Random(SEED * 1000 + index)
    case = _case(rng)
    composed = _compose(case)
    mime = composed.mime_bytes

    assert b"\n" not in mime.replace(b"\r\n", b"") and b"\r" not in mime.replace(b"\r\n", b"")
    assert all(len(line) <= 998 for line in mime.split(b"\r\n"))
    message = email.message_from_bytes(mime, policy=policy.default)
    assert message.defects == []

    # Exactly these header fields, each once (custom names may repeat a standard one).
    expected_names = ["From"] + [k for k in ("To", "Cc") if case["kinds"][k]] + (["Reply-To"] if case["replies"] else [])
    expected_names += ["Subject"] + [name for name, _ in case["custom"]] + ["MIME-Version", "Content-Type"]
    if not case["attachments"] and len(case["texts"]) == 1:
        expected_names.append("Content-Transfer-Encoding")
    assert sorted(message.keys()) == sorted(expected_names)

    def pairs(name):
        return [(a.display_name, a.addr_spec) for a in message[name].addresses] if message[name] is not None else []

    assert pairs("From") == [case["sender"][1:]]
    assert pairs("To") == [p[1:] for p in case["kinds"]["To"]]
    assert pairs("Cc") == [p[1:] for p in case["kinds"]["Cc"]]
    assert pairs("Reply-To") == [p[1:] for p in case["replies"]]
    assert message["Bcc"] is None
    subject, charset = case["subject"]
    assert message["Subject"].strip() == subject.strip()  # whitespace at the ends is folding's
    if charset and not subject.isascii():
        assert f"=?{charset.lower()}?".encode() in mime.lower()
    raw_headers = email.message_from_bytes(mime, policy=policy.compat32)
    for name, value in case["custom"]:  # written as given: no re-encoding, no re-parsing
        assert value.strip() in [v.replace("\r\n", "").strip() for v in raw_headers.get_all(name)]
    assert message["MIME-Version"] == "1.0"

    body = message
    if case["attachments"]:
        assert message.get_content_type() == "multipart/mixed"
        body, *attachments = message.iter_parts()
        assert len(attachments) == len(case["attachments"])
        for part, given in zip(attachments, case["attachments"]):
            assert part.get_filename() == given["FileName"]
            assert part.get_content_disposition() == given.get("ContentDisposition", "ATTACHMENT").lower()
            content = part.get_payload(decode=True)
            if given.get("ContentTransferEncoding") == "SEVEN_BIT":  # text lines: CRLF on the wire
                content = content.replace(b"\r\n", b"\n")
            assert content == given["RawContent"]
            if given.get("ContentId"):
                assert part["Content-ID"] == f"<{given['ContentId']}>"
    if len(case["texts"]) == 2:
        assert body.get_content_type() == "multipart/alternative"
        plain, html = body.iter_parts()
        assert (plain.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
        _check_text_part(plain, case["texts"]["Text"])
        _check_text_part(html, case["texts"]["Html"])
    else:
        [(member, content)] = case["texts"].items()
        assert body.get_content_type() == ("text/plain" if member == "Text" else "text/html")
        _check_text_part(body, content)

    assert composed.subject == subject
    assert composed.destinations == tuple(dict.fromkeys(p[2] for k in ("To", "Cc", "Bcc") for p in case["kinds"][k]))


def test_a_pinned_boundary_is_the_alternatives_boundary():
    case = _case(random.Random(SEED))
    case["texts"] = {"Text": {"Data": "plain"}, "Html": {"Data": "<p>rich</p>"}}
    case["attachments"] = [ATTACHMENTS[0]]
    message = email.message_from_bytes(_compose(case, boundary="pinned").mime_bytes, policy=policy.default)
    assert next(message.iter_parts()).get_boundary() == "pinned"


@pytest.mark.parametrize("breaker", list(LINE_BREAKS))
@pytest.mark.parametrize("where", ["subject", "sender", "to", "reply"])
def test_a_line_break_in_any_header_field_is_refused(breaker, where):
    case = _case(random.Random(SEED))
    sneaky = f"a{breaker}Bcc: victim@example.net"
    if where == "subject":
        case["subject"] = (sneaky, None)
    elif where == "sender":
        case["sender"] = (f"{sneaky} <app@example.com>", "", "")
    elif where == "to":
        case["kinds"]["To"] = [(f'"{sneaky}" <u@example.org>', "", "")]
    else:
        case["replies"] = [(f"=?utf-8?b?{base64.b64encode(sneaky.encode()).decode()}?= <r@x.org>", "", "")]
    field = {"subject": "Subject", "sender": "FromEmailAddress", "to": "Destination.ToAddresses",
             "reply": "ReplyToAddresses"}[where]
    with pytest.raises(BadRequestException, match=f"^{field} contains a line break"):
        _compose(case)


def _raw_with_attachment() -> tuple[bytes, bytes]:
    message = EmailMessage()
    message["From"] = "Ann <ann@example.com>"
    message["To"] = "bob@example.org"
    message["Bcc"] = "secret@example.org"
    message["Subject"] = "Grüße mit Anhang"
    message.set_content("Hallo,\nanbei.\n")
    message.add_alternative("<p>Hallo</p>\n", subtype="html")
    payload = bytes(range(256)) * 3
    message.add_attachment(payload, maintype="application", subtype="octet-stream", filename="daten.bin")
    return message.as_bytes(), payload


def test_raw_content_keeps_every_part_and_attachment():
    data, payload = _raw_with_attachment()
    composed = parse_raw(data, None, None)
    message = email.message_from_bytes(composed.mime_bytes, policy=policy.default)

    assert message["Bcc"] is None and b"secret@example.org" not in composed.mime_bytes
    assert message["Subject"] == composed.subject == "Grüße mit Anhang"
    assert [p.get_content_type() for p in message.walk()] == [
        "multipart/mixed", "multipart/alternative", "text/plain", "text/html", "application/octet-stream"]
    attachment = next(message.iter_attachments())
    assert attachment.get_filename() == "daten.bin" and attachment.get_content() == payload
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == "Hallo,\nanbei.\n"
    original = email.message_from_bytes(data, policy=policy.default)
    def payloads(parsed):
        return [p.get_payload().replace("\r\n", "\n") for p in parsed.walk() if not p.is_multipart()]

    assert payloads(message) == payloads(original)
