"""Mail: the message being sent, from request to mailbox.

- ids: MessageIds and the Message-ID header
- addresses: the one address parser and validator
- headers: what a header field may hold (no injection), raw header blocks
- message: ComposedMessage and SES's limits
- compose: Simple content → MIME (the standard `email` package)
- parse: Raw content
- stamp: the headers added on the way (Message-ID, Date, Return-Path)

Pure: stdlib `email` and the core's errors only; no sockets, no clock.
"""
from .compose import build_from_simple, check_simple
from .ids import new_message_id
from .message import MAX_RECIPIENTS, V1_MAX_MESSAGE_BYTES, V2_MAX_MESSAGE_BYTES, ComposedMessage
from .parse import decode_raw_base64, parse_raw
from .stamp import delivered_mime, stamp_message, with_return_path

__all__ = [
    "ComposedMessage",
    "MAX_RECIPIENTS",
    "V1_MAX_MESSAGE_BYTES",
    "V2_MAX_MESSAGE_BYTES",
    "build_from_simple",
    "check_simple",
    "decode_raw_base64",
    "delivered_mime",
    "new_message_id",
    "parse_raw",
    "stamp_message",
    "with_return_path",
]
