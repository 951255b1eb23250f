"""Who a caller is: the account an access key id stands for (SPEC §2), and the
credentials file of `--auth strict --credentials FILE` (SPEC §14), read by every
edge that authenticates (SigV4 on the HTTP API, SMTP AUTH).

A JSON object mapping each access key id to its secret and account:

    {"AKIDEXAMPLE": {"secret": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "account": "123456789012"}}

In strict mode a request's account is the one its access key maps to, never the key
id itself. Loading never half-succeeds: any problem is one ValueError naming it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

DEFAULT_ACCOUNT = "000000000000"


def account_for_access_key(access_key_id: str) -> str:
    """Without --auth strict: a 12-digit access key id is the account id; any other key
    maps to 000000000000."""
    if len(access_key_id) == 12 and access_key_id.isascii() and access_key_id.isdigit():
        return access_key_id
    return DEFAULT_ACCOUNT


@dataclass(frozen=True)
class Credential:
    access_key: str
    secret: str
    account: str


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def parse_credentials(text: str, source: str = "credentials") -> dict[str, Credential]:
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{source}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not data:
        raise ValueError(f'{source}: must be a JSON object {{"ACCESS_KEY_ID": {{"secret": ..., "account": ...}}}}')
    credentials = {}
    for key, entry in data.items():
        if not key or not key.isascii() or not key.isalnum():
            raise ValueError(f"{source}: access key id {key!r} must be letters and digits")
        if not isinstance(entry, dict) or not isinstance(entry.get("secret"), str) or not entry["secret"]:
            raise ValueError(f"{source}: {key} needs a non-empty string \"secret\"")
        account = entry.get("account")
        if not (isinstance(account, str) and len(account) == 12 and account.isdigit()):
            raise ValueError(f"{source}: {key} needs an \"account\" of 12 digits")
        credentials[key] = Credential(key, entry["secret"], account)
    return credentials


def load_credentials(path: str) -> dict[str, Credential]:
    """The file at `path`, parsed; ValueError (with the reason) if it cannot be used."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"--credentials {path}: {exc}") from None
    return parse_credentials(text, f"--credentials {path}")
