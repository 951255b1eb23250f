"""The headers a message gains on its way: SES's Message-ID and Date, and the
receiving MTA's Return-Path."""
from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime

from ..core.mailauth import AUTHSERV_ID
from .headers import CRLF, split_header_block
from .ids import message_id_header
from .message import ComposedMessage

# SES "automatically applies its own Message-ID and Date headers" (SendRawEmail docs).
_HEADERS_SES_OVERWRITES = frozenset({"message-id", "date"})
_RETURN_PATH = frozenset({"return-path"})  # the receiving MTA's, replacing any sent


def stamp_message(mime_bytes: bytes, message_id: str, region: str, sent_at: float) -> bytes:
    """Set SES's own Message-ID and Date, overwriting any the sender supplied. Any
    Authentication-Results field the sender wrote claiming the simulated receiver's
    authserv-id goes too, as that receiver removes it (RFC 8601 §5) before adding its own:
    a sender cannot forge the verdict a test reads."""
    date = format_datetime(datetime.fromtimestamp(sent_at, timezone.utc))
    stamp = f"Date: {date}\r\nMessage-ID: {message_id_header(message_id, region)}\r\n"
    return _replace_headers(mime_bytes, _HEADERS_SES_OVERWRITES, stamp.encode("ascii"), also=_claims_our_results)


def with_return_path(mime_bytes: bytes, envelope_from: str) -> bytes:
    """Prepend `Return-Path: <envelope sender>` as the receiving MTA does at final
    delivery (RFC 5321 §4.4), dropping any Return-Path the sender put in."""
    return _replace_headers(mime_bytes, _RETURN_PATH, f"Return-Path: <{envelope_from}>\r\n".encode("ascii"))


def _claims_our_results(field) -> bool:
    """An Authentication-Results field naming the simulated receiver's authserv-id."""
    if field.key != "authentication-results":
        return False
    authserv_id = field.value.split(";", 1)[0].split()  # "mailfrom-sim" or "mailfrom-sim 1" (a version)
    return bool(authserv_id) and authserv_id[0].lower() == AUTHSERV_ID


def delivered_mime(
    message: ComposedMessage, message_id: str, region: str, sent_at: float, envelope_from: str
) -> bytes:
    """The message as a recipient's mailbox stores it: stamped by SES, Return-Path added."""
    return with_return_path(stamp_message(message.mime_bytes, message_id, region, sent_at), envelope_from)


def _replace_headers(data: bytes, drop: frozenset[str], prefix: bytes, also=lambda field: False) -> bytes:
    """`prefix`, then the header fields of `data` except those named in `drop`
    (lower-case) or that `also` picks, then the blank line and the body, every other
    byte kept."""
    fields, body = split_header_block(data)
    return b"".join([prefix, *(field.raw for field in fields if field.key not in drop and not also(field)),
                     CRLF, body])
