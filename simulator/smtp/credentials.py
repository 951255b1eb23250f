"""SES SMTP passwords: derived from an IAM secret access key for one region with the
algorithm AWS documents in "Obtaining Amazon SES SMTP credentials" (SigV4's key
derivation with a fixed date, then a signature of "SendRawEmail", version byte 4).
"""
from __future__ import annotations

import base64
import hashlib
import hmac

_DATE = "11111111"  # fixed by the algorithm, not a real date
_SERVICE = "ses"
_TERMINAL = "aws4_request"
_MESSAGE = "SendRawEmail"
_VERSION = 0x04


def _sign(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def smtp_password(secret_access_key: str, region: str) -> str:
    """The SMTP password SES accepts in `region` for the key with this secret."""
    signature = ("AWS4" + secret_access_key).encode("utf-8")
    for part in (_DATE, region, _SERVICE, _TERMINAL, _MESSAGE):
        signature = _sign(signature, part)
    return base64.b64encode(bytes([_VERSION]) + signature).decode("ascii")


def password_matches(secret_access_key: str, region: str, password: str) -> bool:
    return hmac.compare_digest(smtp_password(secret_access_key, region).encode(), password.encode("utf-8"))
