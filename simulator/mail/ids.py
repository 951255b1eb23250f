"""Message ids: the MessageId SES answers with, and the Message-ID header it stamps."""
from __future__ import annotations

import random
import uuid

# Ids must be unique, not secret: a generator seeded from os.urandom once, rather than a
# read of os.urandom per id -- a system call that hands the interpreter to another thread,
# which under load cost a send more than the id itself.
_random = random.Random()


def random_uuid() -> uuid.UUID:
    """A random (version 4) UUID."""
    return uuid.UUID(int=_random.getrandbits(128), version=4)


def new_message_id() -> str:
    """An id shaped like SES's: `0100` + 12 hex digits + `-` + UUID + `-000000`."""
    return f"0100{_random.getrandbits(48):012x}-{random_uuid()}-000000"


def message_id_header(message_id: str, region: str) -> str:
    """The Message-ID header value SES stamps on what it sends."""
    host = "email.amazonses.com" if region == "us-east-1" else f"{region}.amazonses.com"
    return f"<{message_id}@{host}>"
