"""Who a caller is: the account an access key id stands for, and the configured keys
`--credentials FILE` supplies for `--auth strict` (SPEC §2, §11, §14).

The file is JSON mapping each access key id to its secret and account:

    {"AKIAEXAMPLE": {"secret": "wJalr...", "account": "111122223333"}}

Every edge that authenticates (SMTP AUTH today, SigV4 on the HTTP API later) reads
it through `load_credentials`, so both accept the same file.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

DEFAULT_ACCOUNT = "000000000000"


def account_for_access_key(access_key_id: str) -> str:
    """A 12-digit access key id is the account id; any other key maps to 000000000000."""
    if len(access_key_id) == 12 and access_key_id.isascii() and access_key_id.isdigit():
        return access_key_id
    return DEFAULT_ACCOUNT


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    secret: str
    account: str


def load_credentials(path: str) -> dict[str, Credential]:
    """Read a credentials file; a file that is not as documented raises ValueError saying why."""
    try:
        with open(path, encoding="utf-8") as handle:
            raw = json.load(handle)
    except OSError as exc:
        raise ValueError(f"--credentials {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ValueError(f"--credentials {path}: not valid JSON ({exc})") from None
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"--credentials {path}: expected a JSON object mapping access key ids to "
                         '{"secret": ..., "account": ...}')
    credentials = {}
    for key, entry in raw.items():
        if not key or not isinstance(entry, dict):
            raise ValueError(f"--credentials {path}: entry {key!r} must be an object with secret and account")
        secret, account = entry.get("secret"), entry.get("account", account_for_access_key(key))
        if not isinstance(secret, str) or not secret:
            raise ValueError(f"--credentials {path}: entry {key!r} has no secret")
        if not (isinstance(account, str) and len(account) == 12 and account.isascii() and account.isdigit()):
            raise ValueError(f"--credentials {path}: entry {key!r}: account must be 12 digits")
        credentials[key] = Credential(key, secret, account)
    return credentials
