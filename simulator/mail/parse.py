"""Raw content: the sender's own MIME, read the way SES reads it."""
from __future__ import annotations

import base64
import binascii
import re
from email.errors import HeaderParseError
from email.header import decode_header, make_header

from ..core.errors import BadRequestException
from .addresses import destination_addresses, parse_address, parse_address_list
from .headers import CRLF, SINGLE_OCCURRENCE_HEADERS, RawField, check_field, split_header_block, to_crlf
from .message import MAX_RECIPIENTS, V2_MAX_MESSAGE_BYTES, ComposedMessage, check_recipients, check_size


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
    - A header field whose text (encoded words decoded) holds a line break, any
      of them, not only the address fields and Subject → BadRequestException naming
      the header (SPEC §14: a downstream reader would see a new field there).
    - The Bcc header and SES's X-SES-* control headers are removed from what is
      delivered, as SES does; every other byte is kept, line endings become CRLF.
    - Larger than `max_bytes` → MessageRejected (v2: 40 MB; pass V1_MAX_MESSAGE_BYTES
      for v1's 10 MB).
    """
    if not isinstance(data, (bytes, bytearray)):
        raise BadRequestException("RawMessage.Data must be bytes")
    check_size(len(data), max_bytes)
    fields, body = split_header_block(to_crlf(bytes(data)))
    _check_duplicates(fields)
    for field in fields:
        check_field(field.value, f"{field.name} header")

    if from_address:
        _, sender = parse_address(from_address, "FromEmailAddress")
    else:
        from_values = [f.value for f in fields if f.key == "from"]
        senders = parse_address_list(from_values[0], "From header") if from_values else []
        if not senders:
            raise BadRequestException("Missing required header 'From'.")
        sender = senders[0][1]

    to, cc, bcc = destination_addresses(destination)
    if not (to or cc or bcc):
        to, cc, bcc = (
            tuple(addr for f in fields if f.key == key for _, addr in parse_address_list(f.value, f"{f.name} header"))
            for key in ("to", "cc", "bcc")
        )
    if not (to or cc or bcc):
        raise BadRequestException("Missing required header 'To'.")
    check_recipients(len(to) + len(cc) + len(bcc), max_recipients)

    subjects = [f for f in fields if f.key == "subject"]
    subject = None
    if subjects:
        subject = _decode_header_text(subjects[0].value)
    delivered = [f for f in fields if f.key != "bcc" and not f.key.startswith("x-ses-")]
    mime_bytes = b"".join(f.raw for f in delivered) + CRLF + body
    return ComposedMessage(sender, to, cc, bcc, subject, mime_bytes)


def decode_raw_base64(data: str | bytes, member: str = "RawMessage.Data") -> bytes:
    """Decode a blob as it arrives on the wire (line breaks tolerated); `member` names it."""
    try:
        compact = re.sub(rb"\s+", b"", data.encode("ascii") if isinstance(data, str) else bytes(data))
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError, TypeError, AttributeError):
        raise BadRequestException(f"Invalid base64 encoding of {member}") from None


def _check_duplicates(fields: list[RawField]) -> None:
    seen: set[str] = set()
    for field in fields:
        if field.key in SINGLE_OCCURRENCE_HEADERS:
            if field.key in seen:
                raise BadRequestException(f"Duplicate header '{field.name}'.")
            seen.add(field.key)


def _decode_header_text(value: str) -> str:
    try:
        return str(make_header(decode_header(value)))
    except (HeaderParseError, ValueError, LookupError, UnicodeError):
        return value
