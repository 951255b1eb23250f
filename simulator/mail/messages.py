"""The message being sent: MessageIds, address validation, composing MIME from
SendEmail's Simple content, reading Raw content, and the headers added on delivery.

Pure: stdlib `email` and friends only; no sockets, no clock (times are passed in).
"""
from __future__ import annotations

import base64
import binascii
import codecs
import quopri
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from email import policy as email_policy
from email.header import Header, decode_header, make_header
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import formataddr

from . import mime_fast
from .mime_fast import encoded_subject, header_line

__all__ = [
    "ComposedMessage",
    "MAX_RECIPIENTS",
    "MessageError",
    "V1_MAX_MESSAGE_BYTES",
    "V2_MAX_MESSAGE_BYTES",
    "build_from_simple",
    "decode_raw_base64",
    "default_mail_from_domain",
    "delivered_mime",
    "message_id_header",
    "new_message_id",
    "parse_address",
    "parse_address_list",
    "parse_raw",
    "stamp_message",
    "with_return_path",
]

MAX_RECIPIENTS = 50  # To + Cc + Bcc, every API (SES quotas page)
V2_MAX_MESSAGE_BYTES = 40 * 1024 * 1024  # SES API v2
V1_MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # SES v1 SendRawEmail
MAX_ADDRESS_LENGTH = 320  # 64 local + "@" + 255 domain (RFC 3696 errata)
MAX_CUSTOM_HEADERS = 15  # sesv2 MessageHeaderList.max

# SES's "header fields" page: these may appear at most once in a message.
_SINGLE_OCCURRENCE_HEADERS = frozenset(
    name.lower()
    for name in (
        "Accept-Language acceptLanguage Archived-At Auto-Submitted Bounces-to Comments "
        "Content-Alternative Content-Base Content-Class Content-Description "
        "Content-Disposition Content-Duration Content-ID Content-Language Content-Length "
        "Content-Location Content-MD5 Content-Transfer-Encoding Content-Type Date "
        "Delivered-To Disposition-Notification-Options Disposition-Notification-To "
        "DKIM-Signature DomainKey-Signature Errors-To From Importance In-Reply-To Keywords "
        "List-Archive List-Help List-Id List-Owner List-Post List-Subscribe List-Unsubscribe "
        "List-Unsubscribe-Post Message-Context Message-ID MIME-Version Organization "
        "Original-From Original-Message-ID Original-Recipient Original-Subject Precedence "
        "Priority References Reply-To Return-Path Return-Receipt-To Sender Solicitation "
        "Sensitivity Subject Thread-Index Thread-Topic User-Agent VBR-Info"
    ).split()
)

# SES "automatically applies its own Message-ID and Date headers" (SendRawEmail docs).
# Lower-case bytes: `_replace_headers` compares them with the raw field names.
_HEADERS_SES_OVERWRITES = frozenset({b"message-id", b"date"})
_RETURN_PATH = frozenset({b"return-path"})  # the receiving MTA's, replacing any sent

_CRLF = b"\r\n"
_SMTP_POLICY = email_policy.compat32.clone(linesep="\r\n")


# --------------------------------------------------------------------------- errors


class MessageError(ValueError):
    """Bad SendEmail/SendRawEmail input.

    `code` is the v2/Pinpoint error code (`BadRequestException` or
    `MessageRejected`); `v1_code` is how the SES v1 query API spells it.
    Messages copy live SES's wording where it is known.
    """

    _V1_CODES = {"BadRequestException": "InvalidParameterValue", "MessageRejected": "MessageRejected"}

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def v1_code(self) -> str:
        return self._V1_CODES.get(self.code, self.code)


def _bad_request(message: str) -> MessageError:
    return MessageError("BadRequestException", message)


def _rejected(message: str) -> MessageError:
    return MessageError("MessageRejected", message)


# --------------------------------------------------------------------------- ids and names


def new_message_id() -> str:
    """An id shaped like SES's: `0100` + 12 hex digits + `-` + UUID + `-000000`."""
    return f"0100{secrets.token_hex(6)}-{uuid.uuid4()}-000000"


def default_mail_from_domain(region: str) -> str:
    """The MAIL FROM domain SES uses when no custom one applies."""
    return "amazonses.com" if region == "us-east-1" else f"{region}.amazonses.com"


def message_id_header(message_id: str, region: str) -> str:
    """The Message-ID header value SES stamps on what it sends."""
    host = "email.amazonses.com" if region == "us-east-1" else f"{region}.amazonses.com"
    return f"<{message_id}@{host}>"


# --------------------------------------------------------------------------- addresses

# RFC 5322 atext, plus "." which the dot rules below police.
_LOCAL_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+")
_DOMAIN_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN_NAME = re.compile(rf"{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*")  # every label a _DOMAIN_LABEL
# What almost every domain looks like. Such a domain has no whitespace, controls,
# "[" or non-ASCII, so the checks for those can be skipped (they are per-character
# Python loops, a good part of SendEmail's time).
_PLAIN_DOMAIN = re.compile(r"[A-Za-z0-9.-]+")


def parse_address(text: str) -> tuple[str, str]:
    """Split `Name <local@domain>` (or a bare `local@domain`) into (display name, address).

    The display name comes back decoded (RFC 2047 encoded words included), "" when
    absent. The address's domain is lower-cased; a non-ASCII (IDN) domain is
    converted to its Punycode form, as SES requires; a non-ASCII local part is
    refused because SES does not support SMTPUTF8. Malformed input raises
    MessageError BadRequestException with javax.mail-style wording, which is what
    SES answers (e.g. "Missing final '@domain'").
    """
    if not isinstance(text, str):
        raise _bad_request("Illegal address")
    candidate = text.strip()
    # Without "(" there is no comment, and _strip_comments would return the text as is.
    candidate, comment = _strip_comments(candidate) if "(" in candidate else (candidate, "")
    if not candidate:
        raise _bad_request("Empty address")
    display = ""
    if candidate.endswith(">"):
        opening = candidate.rfind("<")
        if opening < 0:
            raise _bad_request("Missing '<'")
        display = _decode_display_name(candidate[:opening].strip())
        addr_spec = candidate[opening + 1 : -1].strip()
    elif "<" in candidate:
        raise _bad_request("Missing '>'")
    else:
        addr_spec = candidate
    return display or comment, _validate_addr_spec(addr_spec)


def parse_address_list(value: str) -> list[tuple[str, str]]:
    """Parse an address-list header value (`a@x, "B, Jr" <b@y>, group: c@z;`).

    Empty members and empty groups (`undisclosed-recipients:;`) yield nothing.
    """
    return [parse_address(member) for member in _split_address_list(value)]


def _validate_addr_spec(addr: str) -> str:
    if len(addr) > MAX_ADDRESS_LENGTH:
        raise _bad_request(f"Address is longer than {MAX_ADDRESS_LENGTH} characters")
    if "@" not in addr:
        raise _bad_request("Missing final '@domain'")
    local, domain = addr.rsplit("@", 1)
    _validate_local_part(local)
    return f"{local}@{_normalise_domain(domain)}"


def _validate_local_part(local: str) -> None:
    # An all-atext local part (the usual one) is non-empty, ASCII, free of
    # whitespace and controls and unquoted: only the dot rules apply to it.
    atext = _LOCAL_ATEXT.fullmatch(local) is not None
    if not atext:
        if not local:
            raise _bad_request("Missing local name")
        if not local.isascii():
            raise _bad_request("Local address contains non-ASCII characters (SMTPUTF8 is not supported)")
        if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in local):
            if not (_is_quoted(local) and "\r" not in local and "\n" not in local):
                raise _bad_request("Local address contains control or whitespace")
        if _is_quoted(local):
            return
    if local.startswith("."):
        raise _bad_request("Local address starts with dot")
    if local.endswith("."):
        raise _bad_request("Local address ends with dot")
    if ".." in local:
        raise _bad_request("Local address contains dot-dot")
    if not atext:
        raise _bad_request("Local address contains illegal character")


def _normalise_domain(domain: str) -> str:
    if not domain:
        raise _bad_request("Missing domain")
    if not _PLAIN_DOMAIN.fullmatch(domain):
        if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in domain):
            raise _bad_request("Domain contains control or whitespace")
        if domain.startswith("["):
            raise _bad_request("Domain literals are not supported")
    if domain.startswith("."):
        raise _bad_request("Domain starts with dot")
    if domain.endswith("."):
        raise _bad_request("Domain ends with dot")
    if ".." in domain:
        raise _bad_request("Domain contains dot-dot")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise _bad_request("Domain contains illegal character") from None
    domain = domain.lower()
    if len(domain) > 253:
        raise _bad_request("Domain is longer than 253 characters")
    if not _DOMAIN_NAME.fullmatch(domain):
        raise _bad_request("Domain contains illegal character")
    return domain


def _is_quoted(local: str) -> bool:
    return len(local) >= 2 and local.startswith('"') and local.endswith('"')


def _decode_display_name(raw: str) -> str:
    if len(raw) >= 2 and raw.startswith('"') and raw.endswith('"'):
        raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
    if "=?" not in raw:
        return raw
    try:
        return str(make_header(decode_header(raw)))
    except (ValueError, LookupError, UnicodeError):
        return raw  # an undecodable display name is cosmetic, not an error


def _strip_comments(text: str) -> tuple[str, str]:
    """Remove (comments) outside quotes and angle brackets; return the rest and the first comment."""
    kept: list[str] = []
    comments: list[str] = []
    depth = 0
    in_quotes = False
    escaped = False
    current_comment: list[str] = []
    for ch in text:
        if escaped:
            (current_comment if depth else kept).append(ch)
            escaped = False
            continue
        if ch == "\\" and (in_quotes or depth):
            escaped = True
            if not depth:
                kept.append(ch)
            continue
        if depth:
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    comments.append("".join(current_comment).strip())
                    current_comment = []
                    continue
            current_comment.append(ch)
            continue
        if ch == '"':
            in_quotes = not in_quotes
        elif ch == "(" and not in_quotes:
            depth = 1
            continue
        kept.append(ch)
    return "".join(kept).strip(), next((c for c in comments if c), "")


def _split_address_list(value: str) -> list[str]:
    members: list[str] = []
    current: list[str] = []
    in_quotes = in_angle = False
    comment_depth = 0
    escaped = False
    for ch in value:
        if escaped:
            current.append(ch)
            escaped = False
            continue
        if ch == "\\" and (in_quotes or comment_depth):
            current.append(ch)
            escaped = True
            continue
        if comment_depth:
            comment_depth += {"(": 1, ")": -1}.get(ch, 0)
        elif in_quotes:
            in_quotes = ch != '"'
        elif ch == '"':
            in_quotes = True
        elif ch == "(":
            comment_depth = 1
        elif ch == "<":
            in_angle = True
        elif ch == ">":
            in_angle = False
        elif not in_angle and ch in ",;":
            members.append("".join(current))
            current = []
            continue
        elif not in_angle and ch == ":":
            current = []  # a group's display name: its members follow
            continue
        current.append(ch)
    members.append("".join(current))
    return [m.strip() for m in members if _strip_comments(m)[0]]


# --------------------------------------------------------------------------- the composed message


@dataclass(frozen=True)
class ComposedMessage:
    """A message ready to send: who it is from, who gets it, and its MIME bytes.

    Addresses are plain (`local@domain`, domain lower-cased). `mime_bytes` uses
    CRLF line endings and never carries a Bcc header; the Message-ID, Date and
    Return-Path are added at send time (`delivered_mime`).
    """

    from_address: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    bcc: tuple[str, ...]
    subject: str | None
    mime_bytes: bytes

    @property
    def destinations(self) -> tuple[str, ...]:
        """Every envelope recipient, To then Cc then Bcc, each once."""
        return tuple(dict.fromkeys(self.to + self.cc + self.bcc))


def build_from_simple(
    from_address: str | None,
    destination: dict | None,
    simple: dict,
    reply_to: list[str] | None = None,
    *,
    max_bytes: int = V2_MAX_MESSAGE_BYTES,
    max_recipients: int = MAX_RECIPIENTS,
    boundary: str | None = None,
) -> ComposedMessage:
    """Compose the MIME message SES would build from `Content.Simple` (sesv2 `Message`).

    `simple` is `{Subject: {Data, Charset?}, Body: {Text?, Html?}, Headers?: [{Name, Value}],
    Attachments?: [...]}`; v1 query callers convert their members to this form.
    Text and Html together give multipart/alternative; attachments wrap the body in
    multipart/mixed. Without a Charset, ASCII stays us-ascii and anything else is
    sent as UTF-8 **(choice)**. A Body with neither Text nor Html gives an empty
    text/plain part **(choice)**.

    Errors (MessageError): no From → BadRequestException "Missing required header
    'From'."; no recipient → BadRequestException "Missing required header 'To'.";
    a malformed address anywhere → BadRequestException (see `parse_address`); more
    than `max_recipients` → BadRequestException "Recipient count exceeds 50." (live
    SES's v1 InvalidParameterValue); Headers breaking the sesv2 model's rules or
    repeating a once-only header → BadRequestException; larger than `max_bytes` →
    MessageRejected "Message length is more than N bytes long: 'SIZE'.".

    `boundary` fixes the multipart/alternative boundary (tests use it to compare
    renderings); by default each message gets a fresh random one.

    Rendering: the common shape (no attachments, short header lines, a simple
    Subject) is written directly by `mime_fast`; the rest goes through the `email`
    package. Both give the same bytes (tests/unit/test_messages_fast_path.py).
    """
    if not from_address:
        raise _bad_request("Missing required header 'From'.")
    from_display, sender = parse_address(from_address)
    displayed = _destination_displayed(destination)
    to, cc, bcc = (tuple(addr for _, addr in pairs) for pairs in displayed)
    if not (to or cc or bcc):
        raise _bad_request("Missing required header 'To'.")  # live SES's wording, as for Raw
    _check_recipients(len(to) + len(cc) + len(bcc), max_recipients)
    replies = [parse_address(address) for address in (reply_to or [])]
    if not isinstance(simple, dict):
        raise _bad_request("Content.Simple must be a structure")
    subject_content = _content(simple.get("Subject"), "Subject")
    body = simple.get("Body")
    if not isinstance(body, dict):
        raise _bad_request("Missing required parameter Body")

    # Validation happens in the same order whichever way the message is rendered,
    # so a bad request gets the same error either way.
    parts = _text_parts(body)
    attachments = [_attachment_part(attachment) for attachment in simple.get("Attachments") or []]

    subject = subject_content["Data"].replace("\r\n", " ").replace("\r", " ").replace("\n", " ")
    subject_charset = subject_content.get("Charset")
    # Header order mirrors SES's: From, To, Cc, Reply-To, Subject, then MIME headers.
    addressed = [("From", _format_address(from_display, sender))]
    for name, pairs in (("To", displayed[0]), ("Cc", displayed[1]), ("Reply-To", replies)):
        if pairs:
            addressed.append((name, ", ".join(_format_address(*pair) for pair in pairs)))
    subject_value = _encode_header_text(subject, subject_charset)
    custom = _custom_headers(simple.get("Headers"), {name.lower() for name, _ in addressed} | {
        "subject", "mime-version", "content-type", "content-transfer-encoding"})

    mime_bytes = None
    if not attachments:
        mime_bytes = _render_fast(addressed, subject, subject_charset, custom, parts, boundary)
    if mime_bytes is None:
        headers = addressed + [("Subject", subject_value)] + custom
        mime_bytes = _render_email(headers, parts, attachments, boundary)
    _check_size(len(mime_bytes), max_bytes)
    return ComposedMessage(sender, to, cc, bcc, subject, mime_bytes)


def _render_fast(
    addressed: list[tuple[str, str]],
    subject: str,
    subject_charset: str | None,
    custom: list[tuple[str, str]],
    parts: list[mime_fast.TextPart],
    boundary: str | None,
) -> bytes | None:
    """The message written directly (see `mime_fast`), or None where only the
    `email` package is sure to get it right."""
    lines: list[str | None] = [header_line(name, value) for name, value in addressed]
    if subject.isascii():
        lines.append(header_line("Subject", subject))
    else:
        word = encoded_subject(subject, subject_charset)
        lines.append(None if word is None else f"Subject: {word}\r\n")
    lines.extend(header_line(name, value) for name, value in custom)
    if None in lines:
        return None
    return mime_fast.render(lines, parts, boundary)


def _render_email(
    headers: list[tuple[str, object]],
    parts: list[mime_fast.TextPart],
    attachments: list[MIMENonMultipart],
    boundary: str | None,
) -> bytes:
    """The message as the `email` package writes it (compat32 folding, CRLF)."""
    mime: MIMENonMultipart | MIMEMultipart
    if len(parts) == 1:
        mime = _text_part(parts[0])
    else:
        mime = MIMEMultipart("alternative", boundary=boundary)
        for part in parts:
            mime.attach(_text_part(part))
    if attachments:
        mixed = MIMEMultipart("mixed")
        mixed.attach(mime)
        for attachment in attachments:
            mixed.attach(attachment)
        mime = mixed

    for part in mime.walk():
        del part["MIME-Version"]  # MIMEBase puts one on every part; it belongs on the message only
    body_headers = list(mime.items())
    for name in list(mime.keys()):
        del mime[name]
    for name, value in headers + [("MIME-Version", "1.0")] + body_headers:
        mime[name] = value
    return _to_crlf(mime.as_bytes(policy=_SMTP_POLICY))


def parse_raw(
    data: bytes,
    from_address: str | None,
    destination: dict | None,
    *,
    max_bytes: int = V2_MAX_MESSAGE_BYTES,
    max_recipients: int = MAX_RECIPIENTS,
) -> ComposedMessage:
    """Read `Content.Raw` (already base64-decoded) the way SES does.

    - Recipients: the Destination's addresses when it has any (v1 callers pass
      `Destinations` as `{"ToAddresses": [...]}`), otherwise the To, Cc and Bcc headers.
    - From: the argument (v2 FromEmailAddress, v1 Source) when given, otherwise the
      From header; neither → BadRequestException "Missing required header 'From'."
      (live SES: InvalidParameterValue with that text).
    - No recipient anywhere → BadRequestException "Missing required header 'To'." —
      what live SES answers (v1 InvalidParameterValue), rather than MessageRejected.
    - A header SES allows only once, present twice → BadRequestException
      "Duplicate header '<Name>'.".
    - The Bcc header and SES's X-SES-* control headers are removed from what is
      delivered, as SES does; every other byte is kept, line endings become CRLF.
    - Larger than `max_bytes` → MessageRejected (v2: 40 MB; pass V1_MAX_MESSAGE_BYTES
      for v1's 10 MB).
    """
    if not isinstance(data, (bytes, bytearray)):
        raise _bad_request("RawMessage.Data must be bytes")
    _check_size(len(data), max_bytes)
    fields, body = _split_header_block(_to_crlf(bytes(data)))
    _check_duplicates(fields)

    if from_address:
        _, sender = parse_address(from_address)
    else:
        from_values = [f.value for f in fields if f.key == "from"]
        senders = parse_address_list(from_values[0]) if from_values else []
        if not senders:
            raise _bad_request("Missing required header 'From'.")
        sender = senders[0][1]

    to, cc, bcc = _destination_addresses(destination)
    if not (to or cc or bcc):
        to, cc, bcc = (
            tuple(addr for f in fields if f.key == key for _, addr in parse_address_list(f.value))
            for key in ("to", "cc", "bcc")
        )
    if not (to or cc or bcc):
        raise _bad_request("Missing required header 'To'.")
    _check_recipients(len(to) + len(cc) + len(bcc), max_recipients)

    subjects = [f.value for f in fields if f.key == "subject"]
    subject = _decode_header_text(subjects[0]) if subjects else None
    delivered = [f for f in fields if f.key != "bcc" and not f.key.startswith("x-ses-")]
    mime_bytes = b"".join(f.raw for f in delivered) + _CRLF + body
    return ComposedMessage(sender, to, cc, bcc, subject, mime_bytes)


def decode_raw_base64(data: str | bytes) -> bytes:
    """Decode RawMessage.Data as it arrives on the wire (line breaks tolerated)."""
    try:
        compact = re.sub(rb"\s+", b"", data.encode("ascii") if isinstance(data, str) else bytes(data))
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError, TypeError, AttributeError):
        raise _bad_request("Invalid base64 encoding of RawMessage.Data") from None


# --------------------------------------------------------------------------- send-time headers


def stamp_message(mime_bytes: bytes, message_id: str, region: str, sent_at: float) -> bytes:
    """Set SES's own Message-ID and Date, overwriting any the sender supplied."""
    return _replace_headers(mime_bytes, _HEADERS_SES_OVERWRITES, _stamp(message_id, region, sent_at))


def with_return_path(mime_bytes: bytes, envelope_from: str) -> bytes:
    """Prepend `Return-Path: <envelope sender>` as the receiving MTA does at final
    delivery (RFC 5321 §4.4), dropping any Return-Path the sender put in."""
    return _replace_headers(mime_bytes, _RETURN_PATH, _return_path(envelope_from))


def delivered_mime(
    message: ComposedMessage, message_id: str, region: str, sent_at: float, envelope_from: str
) -> bytes:
    """The message as a recipient's mailbox stores it: stamped by SES, Return-Path added.

    The same bytes as `with_return_path(stamp_message(...), envelope_from)`, with
    the header block read once instead of twice.
    """
    return _replace_headers(
        message.mime_bytes,
        _HEADERS_SES_OVERWRITES | _RETURN_PATH,
        _return_path(envelope_from) + _stamp(message_id, region, sent_at),
    )


def _stamp(message_id: str, region: str, sent_at: float) -> bytes:
    date = _rfc5322_date(datetime.fromtimestamp(sent_at, timezone.utc))
    return f"Date: {date}\r\nMessage-ID: {message_id_header(message_id, region)}\r\n".encode("ascii")


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _rfc5322_date(moment: datetime) -> str:
    """`email.utils.format_datetime` for a UTC datetime, in a third of its time
    (it goes through timetuple() and strftime("%z"))."""
    return "%s, %02d %s %04d %02d:%02d:%02d +0000" % (
        _DAYS[moment.weekday()], moment.day, _MONTHS[moment.month - 1], moment.year,
        moment.hour, moment.minute, moment.second,
    )


def _return_path(envelope_from: str) -> bytes:
    return f"Return-Path: <{envelope_from}>\r\n".encode("ascii")


# --------------------------------------------------------------------------- helpers: checks


def _destination_addresses(destination: dict | None) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(addr for _, addr in pairs) for pairs in _destination_displayed(destination))


def _destination_displayed(destination: dict | None) -> tuple[list[tuple[str, str]], ...]:
    """(display name, address) pairs for To, Cc and Bcc, each parsed once."""
    if destination is None:
        return [], [], []
    if not isinstance(destination, dict):
        raise _bad_request("Destination must be a structure")
    return tuple(_displayed(destination, key) for key in ("ToAddresses", "CcAddresses", "BccAddresses"))


def _displayed(destination: dict | None, key: str) -> list[tuple[str, str]]:
    addresses = (destination or {}).get(key) or []
    if isinstance(addresses, str) or not isinstance(addresses, (list, tuple)):
        raise _bad_request(f"Destination.{key} must be a list of addresses")
    return [parse_address(address) for address in addresses]


def _check_recipients(count: int, max_recipients: int) -> None:
    # Live SES: InvalidParameterValue "Recipient count exceeds 50." on v1, which
    # is v2's BadRequestException — not MessageRejected.
    if count > max_recipients:
        raise _bad_request(f"Recipient count exceeds {max_recipients}.")


def _check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise _rejected(f"Message length is more than {max_bytes} bytes long: '{size}'.")


def _check_duplicates(fields: list[_Field]) -> None:
    seen: set[str] = set()
    for field in fields:
        if field.key in _SINGLE_OCCURRENCE_HEADERS:
            if field.key in seen:
                raise _bad_request(f"Duplicate header '{field.name}'.")
            seen.add(field.key)


# --------------------------------------------------------------------------- helpers: composing

_HEADER_NAME = re.compile(r"[!-9;-~]{1,126}")  # sesv2 MessageHeaderName pattern
_HEADER_VALUE = re.compile(r"[ -~]{1,995}")  # sesv2 MessageHeaderValue pattern


def _content(content: object, member: str) -> dict:
    if not isinstance(content, dict):
        raise _bad_request(f"Missing required parameter {member}")
    if not isinstance(content.get("Data"), str):
        raise _bad_request(f"Missing required parameter {member}.Data")
    charset = content.get("Charset")
    if charset is not None:
        if not isinstance(charset, str):
            raise _bad_request(f"{member}.Charset must be a string")
        try:
            codecs.lookup(charset)
        except LookupError:
            raise _bad_request(f"Unknown charset '{charset}' in {member}.Charset") from None
    return content


def _text_parts(body: dict) -> list[mime_fast.TextPart]:
    """The Text then Html part, validated and transfer-encoded; [] becomes one empty text/plain."""
    parts = [
        _text_body(_content(body[member], f"Body.{member}"), subtype, f"Body.{member}")
        for member, subtype in (("Text", "plain"), ("Html", "html"))
        if body.get(member) is not None
    ]
    return parts or [_text_body({"Data": ""}, "plain", "Body.Text")]


def _text_body(content: dict, subtype: str, member: str) -> mime_fast.TextPart:
    text = content["Data"].replace("\r\n", "\n").replace("\r", "\n")
    charset = content.get("Charset") or ("us-ascii" if text.isascii() else "utf-8")
    try:
        encoded = text.encode(charset)
    except UnicodeEncodeError:
        raise _bad_request(f"{member}.Data cannot be encoded in charset '{charset}'") from None
    # RFC 5322's 998-octet line limit; a body that short overall needs no per-line look.
    if encoded.isascii() and (len(encoded) <= 998 or all(len(line) <= 998 for line in encoded.split(b"\n"))):
        return mime_fast.TextPart(subtype, charset, "7bit", encoded.decode("ascii"))
    return mime_fast.TextPart(subtype, charset, "quoted-printable", quopri.encodestring(encoded).decode("ascii"))


def _text_part(text: mime_fast.TextPart) -> MIMENonMultipart:
    part = MIMENonMultipart("text", text.subtype, charset=text.charset)
    part["Content-Transfer-Encoding"] = text.transfer_encoding
    part.set_payload(text.payload)
    return part


# A fixed table rather than `mimetypes`, which reads the host's /etc/mime.types.
_CONTENT_TYPES = {
    "csv": "text/csv", "gif": "image/gif", "htm": "text/html", "html": "text/html",
    "ics": "text/calendar", "jpeg": "image/jpeg", "jpg": "image/jpeg", "json": "application/json",
    "pdf": "application/pdf", "png": "image/png", "svg": "image/svg+xml", "txt": "text/plain",
    "xml": "application/xml", "zip": "application/zip",
}
_ATTACHMENT_ENCODINGS = {"BASE64": "base64", "QUOTED_PRINTABLE": "quoted-printable", "SEVEN_BIT": "7bit"}


def _attachment_part(attachment: object) -> MIMENonMultipart:
    if not isinstance(attachment, dict) or not attachment.get("FileName"):
        raise _bad_request("Missing required parameter Attachments.FileName")
    raw = attachment.get("RawContent")
    if isinstance(raw, str):  # still base64, as a blob arrives in JSON
        raw = decode_raw_base64(raw)
    if not isinstance(raw, (bytes, bytearray)):
        raise _bad_request("Missing required parameter Attachments.RawContent")
    filename = attachment["FileName"]
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    content_type = attachment.get("ContentType") or _CONTENT_TYPES.get(extension, "application/octet-stream")
    maintype, _, subtype = content_type.partition("/")
    if not maintype or not subtype:
        raise _bad_request(f"Invalid attachment ContentType '{content_type}'")
    encoding = _ATTACHMENT_ENCODINGS.get(attachment.get("ContentTransferEncoding") or "BASE64")
    if encoding is None:
        raise _bad_request("Attachments.ContentTransferEncoding must be one of BASE64, QUOTED_PRINTABLE, SEVEN_BIT")
    disposition = (attachment.get("ContentDisposition") or "ATTACHMENT").lower()
    if disposition not in ("attachment", "inline"):
        raise _bad_request("Attachments.ContentDisposition must be one of ATTACHMENT, INLINE")

    part = MIMENonMultipart(maintype, subtype)
    part.add_header("Content-Disposition", disposition, filename=filename)
    if attachment.get("ContentId"):
        part["Content-ID"] = f"<{attachment['ContentId'].strip('<>')}>"
    if attachment.get("ContentDescription"):
        part["Content-Description"] = attachment["ContentDescription"]
    part["Content-Transfer-Encoding"] = encoding
    if encoding == "base64":
        payload = base64.encodebytes(bytes(raw)).decode("ascii")
    elif encoding == "quoted-printable":
        payload = quopri.encodestring(bytes(raw)).decode("ascii")
    else:
        if not bytes(raw).isascii():
            raise _bad_request("SEVEN_BIT attachment content must be 7-bit ASCII")
        payload = bytes(raw).decode("ascii")
    part.set_payload(payload)
    return part


def _custom_headers(headers: object, already_set: set[str]) -> list[tuple[str, str]]:
    """Validate `Message.Headers` against the sesv2 model and SES's once-only list."""
    if headers is None:
        return []
    if not isinstance(headers, list):
        raise _bad_request("Headers must be a list")
    if len(headers) > MAX_CUSTOM_HEADERS:
        raise _bad_request(f"Headers can contain no more than {MAX_CUSTOM_HEADERS} headers")
    seen = set(already_set)
    custom: list[tuple[str, str]] = []
    for header in headers:
        name = header.get("Name") if isinstance(header, dict) else None
        value = header.get("Value") if isinstance(header, dict) else None
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise _bad_request(f"Invalid header name '{name}'")
        if not isinstance(value, str) or not _HEADER_VALUE.fullmatch(value) or len(name) + len(value) > 996:
            raise _bad_request(f"Invalid value for header '{name}'")
        key = name.lower()
        if key in _SINGLE_OCCURRENCE_HEADERS and key in seen:
            raise _bad_request(f"Duplicate header '{name}'.")
        seen.add(key)
        custom.append((name, value))
    return custom


def _format_address(display: str, address: str) -> str:
    return formataddr((display, address), charset="utf-8") if display else address


def _encode_header_text(text: str, charset: str | None) -> str | Header:
    if text.isascii():
        return text
    try:
        return Header(text, charset or "utf-8")
    except (LookupError, UnicodeError):
        raise _bad_request(f"Subject cannot be encoded in charset '{charset}'") from None


def _decode_header_text(value: str) -> str:
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError, UnicodeError):
        return value


# --------------------------------------------------------------------------- helpers: raw bytes


@dataclass(frozen=True)
class _Field:
    """One header field as it appears in the message, folding kept."""

    name: str
    raw: bytes  # every line of the field, each ending in CRLF

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def value(self) -> str:
        unfolded = self.raw.split(b":", 1)[1].replace(b"\r\n", b"")
        return unfolded.decode("utf-8", errors="replace").strip()


_RAW_HEADER_NAME = re.compile(rb"[!-9;-~]+")


def _to_crlf(data: bytes) -> bytes:
    return re.sub(rb"\r?\n", _CRLF, data)


def _split_header_block(data: bytes) -> tuple[list[_Field], bytes]:
    """Split CRLF message bytes into header fields and body, byte for byte.

    A line that is neither a header nor a continuation ends the header block
    even without the blank separator line (as Python's parser does), so odd
    input degrades into a message without that header rather than an error.
    """
    fields: list[tuple[str, list[bytes]]] = []
    position = 0
    body = b""
    while position < len(data):
        end = data.find(_CRLF, position)
        line, following = (data[position:], len(data)) if end < 0 else (data[position:end], end + 2)
        if line == b"":
            body = data[following:]
            break
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1][1].append(line)
        else:
            colon = line.find(b":")
            name = line[:colon].rstrip(b" \t") if colon >= 0 else b""
            if colon == 0:
                raise _bad_request("Empty header names are illegal.")
            if colon < 0 or not _RAW_HEADER_NAME.fullmatch(name):
                body = data[position:]
                break
            fields.append((name.decode("ascii"), [line]))
        position = following
    return [_Field(name, b"".join(line + _CRLF for line in lines)) for name, lines in fields], body


# The header block as _split_header_block reads it: fields, each a first line that
# is a name (printable ASCII but ":"), optional blanks and a colon, then any
# continuation lines (starting with a blank). A line runs to the first CRLF, or to
# the end of the data; a lone CR or LF is part of the line. The loops are
# possessive: nothing here ever needs to backtrack, and it keeps the scan linear.
_LINE = rb"[^\r]*+(?:\r(?!\n)[^\r]*+)*+(?:\r\n|\Z)"
_FIELD = re.compile(rb"([!-9;-~]+)[ \t]*:" + _LINE + rb"(?:[ \t]" + _LINE + rb")*+")
_HEADER_BLOCK = re.compile(rb"(?:[!-9;-~]+[ \t]*:" + _LINE + rb"(?:[ \t]" + _LINE + rb")*+)*+")


def _replace_headers(data: bytes, drop: frozenset[bytes], prefix: bytes) -> bytes:
    """`prefix`, then the header fields of `data` except those named in `drop`
    (lower-case bytes), then CRLF and the body.

    Byte for byte what splitting with `_split_header_block`, filtering the fields
    and joining `f.raw` gives; this runs on every message sent, so it reads the
    block with one regex and keeps it whole unless a field must go.
    """
    end = _HEADER_BLOCK.match(data).end()
    head = data[:end]
    if head and not head.endswith(_CRLF):
        head += _CRLF  # the block ran to the end of the data; _Field.raw ends every line with CRLF
    # Every field starts the block or follows a CRLF, so a field named in `drop`
    # cannot hide from this test; a false hit ("Date-Extra:") only costs the loop.
    lowered = _CRLF + head.lower()
    if any(_CRLF + name in lowered for name in drop):
        head = b"".join(f.group(0) for f in _FIELD.finditer(head) if f.group(1).lower() not in drop)
    if data.startswith(_CRLF, end):
        body = data[end + 2:]
    elif data.startswith(b":", end):
        raise _bad_request("Empty header names are illegal.")
    else:
        body = data[end:]  # a line that is no header ends the block (or there is no body at all)
    return b"".join((prefix, head, _CRLF, body))
