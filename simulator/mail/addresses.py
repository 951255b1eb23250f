"""The one address parser and validator: `Name <local@domain>` as SES reads it.

Malformed input raises BadRequestException with javax.mail-style wording, which
is what SES answers (e.g. "Missing final '@domain'"); text that would break out
of its header field is refused naming the field (`headers.check_field`).
"""
from __future__ import annotations

import re
from functools import lru_cache
from email.errors import HeaderParseError
from email.header import decode_header, make_header

from ..core.errors import BadRequestException
from .headers import check_field

MAX_ADDRESS_LENGTH = 320  # 64 local + "@" + 255 domain (RFC 3696 errata)

# RFC 5322 atext, plus "." which the dot rules below police.
_LOCAL_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+")
_DOMAIN_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN_NAME = re.compile(rf"{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*")  # every label a _DOMAIN_LABEL
# What almost every domain looks like. Such a domain has no whitespace, controls,
# "[" or non-ASCII, so the checks for those can be skipped (they are per-character
# Python loops, a good part of SendEmail's time).
_PLAIN_DOMAIN = re.compile(r"[A-Za-z0-9.-]+")


def parse_address(text: str, field: str = "address") -> tuple[str, str]:
    """Split `Name <local@domain>` (or a bare `local@domain`) into (display name, address).

    The display name comes back decoded (RFC 2047 encoded words included), "" when
    absent. The address's domain is lower-cased; a non-ASCII (IDN) domain is
    converted to its Punycode form, as SES requires; a non-ASCII local part is
    refused because SES does not support SMTPUTF8. `field` names the request
    member or header the text came from, for the header-injection refusal.
    """
    if not isinstance(text, str):
        raise BadRequestException("Illegal address")
    return _parse_address(text, field)


@lru_cache(maxsize=8192)
def _parse_address(text: str, field: str) -> tuple[str, str]:
    """`parse_address` of a string: a pure function, kept for the addresses a sender uses
    again and again (its own, its usual recipients). A refusal is not kept."""
    check_field(text, field)
    candidate = text.strip()
    # Without "(" there is no comment, and _strip_comments would return the text as is.
    candidate, comment = _strip_comments(candidate) if "(" in candidate else (candidate, "")
    if not candidate:
        raise BadRequestException("Empty address")
    display = ""
    if candidate.endswith(">"):
        opening = candidate.rfind("<")
        if opening < 0:
            raise BadRequestException("Missing '<'")
        display = _decode_display_name(candidate[:opening].strip())
        addr_spec = candidate[opening + 1 : -1].strip()
    elif "<" in candidate:
        raise BadRequestException("Missing '>'")
    else:
        addr_spec = candidate
    return display or comment, _validate_addr_spec(addr_spec)


def parse_address_list(value: str, field: str = "address list") -> list[tuple[str, str]]:
    """Parse an address-list header value (`a@x, "B, Jr" <b@y>, group: c@z;`).

    Empty members and empty groups (`undisclosed-recipients:;`) yield nothing.
    """
    check_field(value, field)  # whole, so that no member split can cut an encoded word apart
    return [parse_address(member, field) for member in _split_address_list(value)]


def destination_addresses(destination: dict | None) -> tuple[tuple[str, ...], ...]:
    """The plain To, Cc and Bcc addresses of a `Destination`."""
    return tuple(tuple(addr for _, addr in pairs) for pairs in destination_displayed(destination))


def destination_displayed(destination: dict | None) -> tuple[list[tuple[str, str]], ...]:
    """(display name, address) pairs for a `Destination`'s To, Cc and Bcc, each parsed once."""
    if destination is None:
        return [], [], []
    if not isinstance(destination, dict):
        raise BadRequestException("Destination must be a structure")
    return tuple(_displayed(destination, key) for key in ("ToAddresses", "CcAddresses", "BccAddresses"))


def _displayed(destination: dict, key: str) -> list[tuple[str, str]]:
    addresses = destination.get(key) or []
    if isinstance(addresses, str) or not isinstance(addresses, (list, tuple)):
        raise BadRequestException(f"Destination.{key} must be a list of addresses")
    return [parse_address(address, f"Destination.{key}") for address in addresses]


def _validate_addr_spec(addr: str) -> str:
    if len(addr) > MAX_ADDRESS_LENGTH:
        raise BadRequestException(f"Address is longer than {MAX_ADDRESS_LENGTH} characters")
    if "@" not in addr:
        raise BadRequestException("Missing final '@domain'")
    local, domain = addr.rsplit("@", 1)
    _validate_local_part(local)
    return f"{local}@{_normalise_domain(domain)}"


def _validate_local_part(local: str) -> None:
    # An all-atext local part (the usual one) is non-empty, ASCII, free of
    # whitespace and controls and unquoted: only the dot rules apply to it.
    atext = _LOCAL_ATEXT.fullmatch(local) is not None
    if not atext:
        if not local:
            raise BadRequestException("Missing local name")
        if not local.isascii():
            raise BadRequestException("Local address contains non-ASCII characters (SMTPUTF8 is not supported)")
        if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in local):
            if not (_is_quoted(local) and "\r" not in local and "\n" not in local):
                raise BadRequestException("Local address contains control or whitespace")
        if _is_quoted(local):
            return
    if local.startswith("."):
        raise BadRequestException("Local address starts with dot")
    if local.endswith("."):
        raise BadRequestException("Local address ends with dot")
    if ".." in local:
        raise BadRequestException("Local address contains dot-dot")
    if not atext:
        raise BadRequestException("Local address contains illegal character")


def _normalise_domain(domain: str) -> str:
    if not domain:
        raise BadRequestException("Missing domain")
    if not _PLAIN_DOMAIN.fullmatch(domain):
        if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in domain):
            raise BadRequestException("Domain contains control or whitespace")
        if domain.startswith("["):
            raise BadRequestException("Domain literals are not supported")
    if domain.startswith("."):
        raise BadRequestException("Domain starts with dot")
    if domain.endswith("."):
        raise BadRequestException("Domain ends with dot")
    if ".." in domain:
        raise BadRequestException("Domain contains dot-dot")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise BadRequestException("Domain contains illegal character") from None
    domain = domain.lower()
    if len(domain) > 253:
        raise BadRequestException("Domain is longer than 253 characters")
    if not _DOMAIN_NAME.fullmatch(domain):
        raise BadRequestException("Domain contains illegal character")
    return domain


def _is_quoted(local: str) -> bool:
    return len(local) >= 2 and local.startswith('"') and local.endswith('"')


def _decode_display_name(raw: str) -> str:
    if len(raw) >= 2 and raw.startswith('"') and raw.endswith('"'):
        raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
    if "=?" not in raw:
        return raw
    try:
        return str(make_header(decode_header(raw)))
    except (HeaderParseError, ValueError, LookupError, UnicodeError):
        return raw  # an undecodable display name is cosmetic, not an error


def _strip_comments(text: str) -> tuple[str, str]:
    """Remove (comments) outside quotes and angle brackets; return the rest and the first comment."""
    kept: list[str] = []
    comments: list[str] = []
    depth = 0
    in_quotes = False
    escaped = False
    current_comment: list[str] = []
    for ch in text:
        if escaped:
            (current_comment if depth else kept).append(ch)
            escaped = False
            continue
        if ch == "\\" and (in_quotes or depth):
            escaped = True
            if not depth:
                kept.append(ch)
            continue
        if depth:
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    comments.append("".join(current_comment).strip())
                    current_comment = []
                    continue
            current_comment.append(ch)
            continue
        if ch == '"':
            in_quotes = not in_quotes
        elif ch == "(" and not in_quotes:
            depth = 1
            continue
        kept.append(ch)
    return "".join(kept).strip(), next((c for c in comments if c), "")


def _split_address_list(value: str) -> list[str]:
    members: list[str] = []
    current: list[str] = []
    in_quotes = in_angle = False
    comment_depth = 0
    escaped = False
    for ch in value:
        if escaped:
            current.append(ch)
            escaped = False
            continue
        if ch == "\\" and (in_quotes or comment_depth):
            current.append(ch)
            escaped = True
            continue
        if comment_depth:
            comment_depth += {"(": 1, ")": -1}.get(ch, 0)
        elif in_quotes:
            in_quotes = ch != '"'
        elif ch == '"':
            in_quotes = True
        elif ch == "(":
            comment_depth = 1
        elif ch == "<":
            in_angle = True
        elif ch == ">":
            in_angle = False
        elif not in_angle and ch in ",;":
            members.append("".join(current))
            current = []
            continue
        elif not in_angle and ch == ":":
            current = []  # a group's display name: its members follow
            continue
        current.append(ch)
    members.append("".join(current))
    return [m.strip() for m in members if _strip_comments(m)[0]]


