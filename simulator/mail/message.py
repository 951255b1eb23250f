"""The message being sent, whichever way it was given, and the limits SES puts on it."""
from __future__ import annotations

from dataclasses import dataclass

from ..core.errors import BadRequestException, MessageRejected

MAX_RECIPIENTS = 50  # To + Cc + Bcc, every API (SES quotas page)
V2_MAX_MESSAGE_BYTES = 40 * 1024 * 1024  # SES API v2
V1_MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # SES v1 SendRawEmail


@dataclass(frozen=True)
class ComposedMessage:
    """A message ready to send: who it is from, who gets it, and its MIME bytes.

    Addresses are plain (`local@domain`, domain lower-cased). `mime_bytes` uses
    CRLF line endings and never carries a Bcc header; the Message-ID, Date and
    Return-Path are added at send time (`stamp.delivered_mime`).

    `recipe`, when set, holds the `build_from_simple` arguments of a message not built yet
    (`compose.check_simple`): `mime_bytes` is empty until it is.
    """

    from_address: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    bcc: tuple[str, ...]
    subject: str | None
    mime_bytes: bytes
    recipe: dict | None = None

    @property
    def destinations(self) -> tuple[str, ...]:
        """Every envelope recipient, To then Cc then Bcc, each once."""
        return tuple(dict.fromkeys(self.to + self.cc + self.bcc))


def check_recipients(count: int, max_recipients: int) -> None:
    # Live SES: InvalidParameterValue "Recipient count exceeds 50." on v1, which
    # is v2's BadRequestException -- not MessageRejected.
    if count > max_recipients:
        raise BadRequestException(f"Recipient count exceeds {max_recipients}.")


def check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise MessageRejected(f"Message length is more than {max_bytes} bytes long: '{size}'.")
