"""Simple content: the MIME message SES builds from `Content.Simple`, rendered by
the standard `email` package (EmailMessage, the SMTP policy: CRLF, 78 columns)."""
from __future__ import annotations

import random
import re
import sys
from typing import NamedTuple
from email import policy as email_policy
from email.errors import HeaderParseError
from email.header import Header
from email.message import EmailMessage, MIMEPart
from email.utils import formataddr

from ..core.errors import BadRequestException
from .addresses import destination_displayed, parse_address
from .headers import SINGLE_OCCURRENCE_HEADERS, check_field
from .message import MAX_RECIPIENTS, V2_MAX_MESSAGE_BYTES, ComposedMessage, check_recipients, check_size
from .parse import decode_raw_base64

MAX_CUSTOM_HEADERS = 15  # sesv2 MessageHeaderList.max
_HEADER_NAME = re.compile(r"[!-9;-~]{1,126}")  # sesv2 MessageHeaderName pattern
_HEADER_VALUE = re.compile(r"[ -~]{1,995}")  # sesv2 MessageHeaderValue pattern


class _Policy(email_policy.EmailPolicy):
    """The SMTP policy (CRLF, 78 columns) without its one-To-header rule: a custom
    header may repeat To, Cc or Bcc, which SES does not limit (its once-only list)."""

    def header_max_count(self, name):
        return None


_POLICY = _Policy(linesep="\r\n")

# A fixed table rather than `mimetypes`, which reads the host's /etc/mime.types.
_CONTENT_TYPES = {
    "csv": "text/csv", "gif": "image/gif", "htm": "text/html", "html": "text/html",
    "ics": "text/calendar", "jpeg": "image/jpeg", "jpg": "image/jpeg", "json": "application/json",
    "pdf": "application/pdf", "png": "image/png", "svg": "image/svg+xml", "txt": "text/plain",
    "xml": "application/xml", "zip": "application/zip",
}
_ATTACHMENT_ENCODINGS = {"BASE64": "base64", "QUOTED_PRINTABLE": "quoted-printable", "SEVEN_BIT": "7bit"}


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

    Errors (all BadRequestException unless said): no From → "Missing required header
    'From'."; no recipient → "Missing required header 'To'."; a malformed address
    anywhere (see `addresses.parse_address`); more than `max_recipients` →
    "Recipient count exceeds 50." (live SES's v1 InvalidParameterValue); Headers
    breaking the sesv2 model's rules or repeating a once-only header; a line break
    or lone surrogate in any header field, encoded words decoded → the field named
    (SPEC §14); larger than `max_bytes` → MessageRejected "Message length is more
    than N bytes long: 'SIZE'.".

    `boundary` fixes the multipart/alternative boundary (tests pin it); by default
    each message gets a fresh one, in the `email` package's form (`_boundary`).
    """
    prepared = _prepare(from_address, destination, simple, reply_to, max_recipients)
    return _render(prepared, max_bytes, boundary)


def check_simple(
    from_address: str | None,
    destination: dict | None,
    simple: dict,
    reply_to: list[str] | None = None,
    *,
    max_bytes: int = V2_MAX_MESSAGE_BYTES,
    max_recipients: int = MAX_RECIPIENTS,
) -> ComposedMessage:
    """Every check `build_from_simple` makes, without building the MIME when it need not.

    A message with no attachment whose size cannot reach `max_bytes` (`_size_bound`) comes
    back with empty `mime_bytes` and `recipe` set: `build_from_simple(**recipe)` makes it
    later and cannot fail. Any other message is built now, its size checked exactly. This
    lets a send be acknowledged before its MIME is made (service/sealing.py); the `email`
    package's rendering is most of an unsigned send's cost.
    """
    prepared = _prepare(from_address, destination, simple, reply_to, max_recipients)
    if prepared.attachments or _size_bound(prepared) > max_bytes:
        return _render(prepared, max_bytes, None)
    recipe = {"from_address": from_address, "destination": destination, "simple": simple, "reply_to": reply_to,
              "max_bytes": max_bytes, "max_recipients": max_recipients}
    return ComposedMessage(prepared.sender[1], *prepared.recipients, prepared.subject, b"", recipe)


class _Prepared(NamedTuple):
    """A checked Content.Simple, ready to render."""

    sender: tuple[str, str]
    recipients: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]
    addressed: list[tuple[str, list[tuple[str, str]]]]
    subject: str
    subject_header: "_HeaderText"
    custom: list[tuple[str, str]]
    texts: list[tuple[dict, str]]
    attachments: list[MIMEPart]


def _prepare(from_address, destination, simple, reply_to, max_recipients) -> _Prepared:
    if not from_address:
        raise BadRequestException("Missing required header 'From'.")
    sender_pair = parse_address(from_address, "FromEmailAddress")
    to_pairs, cc_pairs, bcc_pairs = destination_displayed(destination)
    to, cc, bcc = (tuple(addr for _, addr in pairs) for pairs in (to_pairs, cc_pairs, bcc_pairs))
    if not (to or cc or bcc):
        raise BadRequestException("Missing required header 'To'.")  # live SES's wording, as for Raw
    check_recipients(len(to) + len(cc) + len(bcc), max_recipients)
    replies = [parse_address(address, "ReplyToAddresses") for address in (reply_to or [])]
    if not isinstance(simple, dict):
        raise BadRequestException("Content.Simple must be a structure")
    subject_content = _content(simple.get("Subject"), "Subject")
    body = simple.get("Body")
    if not isinstance(body, dict):
        raise BadRequestException("Missing required parameter Body")
    texts = _text_bodies(body)
    attachments = [_attachment_part(attachment) for attachment in simple.get("Attachments") or []]

    subject = subject_content["Data"]
    check_field(subject, "Subject")
    subject_header = _HeaderText.of("Subject", subject, subject_content.get("Charset"))
    # Header order mirrors SES's: From, To, Cc, Reply-To, Subject, then MIME headers.
    addressed = [(name, pairs) for name, pairs in (
        ("From", [sender_pair]), ("To", to_pairs), ("Cc", cc_pairs), ("Reply-To", replies)) if pairs]
    custom = _custom_headers(simple.get("Headers"), {name.lower() for name, _ in addressed} | {
        "subject", "mime-version", "content-type", "content-transfer-encoding"})
    return _Prepared(sender_pair, (to, cc, bcc), addressed, subject, subject_header, custom, texts, attachments)


def _size_bound(prepared: _Prepared) -> int:
    """More bytes than the rendered message can take (attachments aside). Every character
    of a header or body is at most 4 UTF-8 bytes, each at most 3 characters encoded
    (quoted-printable =XX, or an encoded word's Q) before folding, which adds at most 3
    bytes per 60 (CRLF and a space, or "=" CRLF); 16 bytes a character is well above.
    The fixed part covers header names, MIME headers and boundaries."""
    characters = (sum(len(name) + 2 + sum(len(d) + len(a) + 6 for d, a in pairs)
                      for name, pairs in prepared.addressed)
                  + len(prepared.subject) + sum(len(n) + len(v) + 2 for n, v in prepared.custom)
                  + sum(len(text) for _, text in prepared.texts))
    return 4096 + 16 * characters


def _render(prepared: _Prepared, max_bytes: int, boundary: str | None) -> ComposedMessage:
    message = EmailMessage(policy=_POLICY)
    for name, pairs in prepared.addressed:
        message[name] = _HeaderText(name, ", ".join(_format_address(*pair) for pair in pairs))
    message["Subject"] = prepared.subject_header
    for name, value in prepared.custom:
        message[name] = _HeaderText(name, value)
    message["MIME-Version"] = "1.0"
    texts = prepared.texts
    if len(texts) == 1:
        message.set_content(texts[0][1], **texts[0][0])
    else:
        message.make_alternative(boundary=boundary or _boundary(texts))
        for options, text in texts:
            part = MIMEPart(policy=_POLICY)
            part.set_content(text, **options)
            message.attach(part)
    if prepared.attachments:
        message.make_mixed()
        for attachment in prepared.attachments:
            message.attach(attachment)
    mime_bytes = message.as_bytes()
    check_size(len(mime_bytes), max_bytes)
    return ComposedMessage(prepared.sender[1], *prepared.recipients, prepared.subject, mime_bytes)


def _boundary(texts: list[tuple[dict, str]]) -> str:
    """A multipart/alternative boundary in the `email` package's own form, found in none of
    the parts. Left to the generator, it is checked with a regular expression compiled
    for each message (~0.05 ms, a tenth of building one). A text that cannot hold
    it cannot hold it as a line either: quoted-printable writes "=" as "=3D"."""
    while True:
        boundary = f"==============={random.randrange(sys.maxsize):019d}=="
        if not any(boundary in text for _, text in texts):
            return boundary


class _HeaderText(str):
    """A header field as `email.header.Header` writes it: printable ASCII as given,
    other text as RFC 2047 encoded words in the charset asked for, folded at 78.

    The default policy would re-encode every value in UTF-8 (losing Subject.Charset),
    re-parse a custom header by its name (emptying an unparseable custom Date,
    turning a long word into encoded words) and re-fold address lists (see
    `_format_address`). It stores and writes as given an object with a matching
    `name` and a `fold` method (`EmailPolicy.header_store_parse`).
    """

    name: str
    _header: Header

    def __new__(cls, name: str, text: str, charset: str | None = None) -> "_HeaderText":
        header = super().__new__(cls, text)
        header.name = name
        header._header = Header(text, charset, header_name=name)
        if charset is not None:  # fail here, not while rendering, if the charset cannot take the text
            header._header.encode()
        return header

    @classmethod
    def of(cls, name: str, text: str, charset: str | None) -> "_HeaderText":
        """ASCII text plain; other text encoded in `charset` (UTF-8 when none)."""
        try:
            return cls(name, text) if text.isascii() else cls(name, text, charset or "utf-8")
        except (LookupError, UnicodeError, HeaderParseError):
            raise BadRequestException(f"{name} cannot be encoded in charset '{charset}'") from None

    def fold(self, *, policy) -> str:
        return f"{self.name}: {self._header.encode(linesep=policy.linesep)}{policy.linesep}"


def _format_address(display: str, address: str) -> str:
    # Not headerregistry.Address: CPython 3.11's default policy can fold an address
    # list's separating comma into an encoded word ("=?utf-8?q?=2C?="), merging two
    # recipients; formataddr's encoded words folded by `Header` at ", " cannot.
    return formataddr((display, address), charset="utf-8") if display else address


def _content(content: object, member: str) -> dict:
    if not isinstance(content, dict):
        raise BadRequestException(f"Missing required parameter {member}")
    if not isinstance(content.get("Data"), str):
        raise BadRequestException(f"Missing required parameter {member}.Data")
    charset = content.get("Charset")
    if charset is not None:
        if not isinstance(charset, str):
            raise BadRequestException(f"{member}.Charset must be a string")
        try:
            "".encode(charset)  # a codec that exists and encodes text (not "hex", "rot13", ...)
        except (LookupError, ValueError):
            raise BadRequestException(f"Unknown charset '{charset}' in {member}.Charset") from None
    return content


def _text_bodies(body: dict) -> list[tuple[dict, str]]:
    """`set_content` options and text for the Text then Html part; none gives one empty text/plain."""
    texts = [
        _text_body(_content(body[member], f"Body.{member}"), subtype, f"Body.{member}")
        for member, subtype in (("Text", "plain"), ("Html", "html"))
        if body.get(member) is not None
    ]
    return texts or [_text_body({"Data": ""}, "plain", "Body.Text")]


def _text_body(content: dict, subtype: str, member: str) -> tuple[dict, str]:
    text = content["Data"]
    charset = content.get("Charset") or ("us-ascii" if text.isascii() else "utf-8")
    try:
        encoded = text.encode(charset)
    except UnicodeError:  # UnicodeEncodeError, or e.g. idna's "label too long"
        raise BadRequestException(f"{member}.Data cannot be encoded in charset '{charset}'") from None
    # 7bit while the text is ASCII within RFC 5322's 998-octet lines, else quoted-printable.
    seven_bit = encoded.isascii() and all(len(line) <= 998 for line in encoded.splitlines())
    options = {"subtype": subtype, "charset": charset, "cte": "7bit" if seven_bit else "quoted-printable"}
    return options, text


def _attachment_part(attachment: object) -> MIMEPart:
    if not isinstance(attachment, dict) or not attachment.get("FileName"):
        raise BadRequestException("Missing required parameter Attachments.FileName")
    raw = attachment.get("RawContent")
    if isinstance(raw, str):  # still base64, as a blob arrives in JSON
        raw = decode_raw_base64(raw, "Attachments.RawContent")
    if not isinstance(raw, (bytes, bytearray)):
        raise BadRequestException("Missing required parameter Attachments.RawContent")
    for member in ("FileName", "ContentType", "ContentId", "ContentDescription"):
        if attachment.get(member) is not None:
            if not isinstance(attachment[member], str):
                raise BadRequestException(f"Attachments.{member} must be a string")
            check_field(attachment[member], f"Attachments.{member}")
    filename = attachment["FileName"]
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    content_type = attachment.get("ContentType") or _CONTENT_TYPES.get(extension, "application/octet-stream")
    maintype, _, subtype = content_type.partition("/")
    if not maintype or not subtype or maintype.lower() == "multipart":
        raise BadRequestException(f"Invalid attachment ContentType '{content_type}'")
    encoding = _ATTACHMENT_ENCODINGS.get(attachment.get("ContentTransferEncoding") or "BASE64")
    if encoding is None:
        raise BadRequestException(
            "Attachments.ContentTransferEncoding must be one of BASE64, QUOTED_PRINTABLE, SEVEN_BIT")
    disposition = (attachment.get("ContentDisposition") or "ATTACHMENT").lower()
    if disposition not in ("attachment", "inline"):
        raise BadRequestException("Attachments.ContentDisposition must be one of ATTACHMENT, INLINE")
    if encoding == "7bit" and not bytes(raw).isascii():
        raise BadRequestException("SEVEN_BIT attachment content must be 7-bit ASCII")

    part = MIMEPart(policy=_POLICY)
    content_id = f"<{attachment['ContentId'].strip('<>')}>" if attachment.get("ContentId") else None
    try:
        part.set_content(bytes(raw), maintype, subtype, cte=encoding, disposition=disposition,
                         filename=filename, cid=content_id)
        if attachment.get("ContentDescription"):
            part["Content-Description"] = attachment["ContentDescription"]
    except (ValueError, TypeError, HeaderParseError):
        raise BadRequestException(f"Invalid attachment '{filename}'") from None
    return part


def _custom_headers(headers: object, already_set: set[str]) -> list[tuple[str, str]]:
    """Validate `Message.Headers` against the sesv2 model and SES's once-only list."""
    if headers is None:
        return []
    if not isinstance(headers, list):
        raise BadRequestException("Headers must be a list")
    if len(headers) > MAX_CUSTOM_HEADERS:
        raise BadRequestException(f"Headers can contain no more than {MAX_CUSTOM_HEADERS} headers")
    seen = set(already_set)
    custom: list[tuple[str, str]] = []
    for header in headers:
        name = header.get("Name") if isinstance(header, dict) else None
        value = header.get("Value") if isinstance(header, dict) else None
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise BadRequestException(f"Invalid header name {name!r} in Headers")  # repr: no raw line breaks
        if not isinstance(value, str) or not _HEADER_VALUE.fullmatch(value) or len(name) + len(value) > 996:
            raise BadRequestException(f"Invalid value for header '{name}' in Headers")
        check_field(value, f"Headers value of '{name}'")  # printable ASCII, but its encoded words may not be
        key = name.lower()
        if key in SINGLE_OCCURRENCE_HEADERS and key in seen:
            raise BadRequestException(f"Duplicate header '{name}'.")
        seen.add(key)
        custom.append((name, value))
    return custom
