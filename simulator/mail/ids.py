"""Message ids: the MessageId SES answers with, and the Message-ID header it stamps."""
from __future__ import annotations

import secrets
import uuid


def new_message_id() -> str:
    """An id shaped like SES's: `0100` + 12 hex digits + `-` + UUID + `-000000`."""
    return f"0100{secrets.token_hex(6)}-{uuid.uuid4()}-000000"


def message_id_header(message_id: str, region: str) -> str:
    """The Message-ID header value SES stamps on what it sends."""
    host = "email.amazonses.com" if region == "us-east-1" else f"{region}.amazonses.com"
    return f"<{message_id}@{host}>"
