"""Header fields: what may appear in one, and reading a raw header block.

`check_field` is the one guard against header injection (SPEC §14 "Input"): a
value that would end its field early -- a line break, plain or inside an RFC 2047
encoded word -- or that is not valid Unicode is refused, naming the field.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from email import policy as email_policy
from email.errors import HeaderParseError
from email.header import decode_header

from ..core.errors import BadRequestException

# Every character str.splitlines() breaks on. The `email` package splits header
# values there, so any of them in a value would start a new header line.
LINE_BREAKS = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_LINE_BREAK = re.compile(f"[{LINE_BREAKS}]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# An encoded word can decode to another ("=?utf-8?q?=3D=3Futf-8...?="), and the
# `email` package decodes a display name again when it renders an address.
_MAX_DECODING_DEPTH = 4

# How the query API names the fields the rest-json APIs call otherwise.
_V1_FIELD_NAMES = {"FromEmailAddress": "Source", "Subject": "Message.Subject"}


def one_line(value: str) -> str:
    """`value` with every line break (any of LINE_BREAKS) made a space: safe as one header field."""
    return _LINE_BREAK.sub(" ", value)


# SES's "header fields" page: these may appear at most once in a message.
SINGLE_OCCURRENCE_HEADERS = frozenset(
    name.lower()
    for name in (
        "Accept-Language acceptLanguage Archived-At Auto-Submitted Bounces-to Comments "
        "Content-Alternative Content-Base Content-Class Content-Description "
        "Content-Disposition Content-Duration Content-ID Content-Language Content-Length "
        "Content-Location Content-MD5 Content-Transfer-Encoding Content-Type Date "
        "Delivered-To Disposition-Notification-Options Disposition-Notification-To "
        "DKIM-Signature DomainKey-Signature Errors-To From Importance In-Reply-To Keywords "
        "List-Archive List-Help List-Id List-Owner List-Post List-Subscribe List-Unsubscribe "
        "List-Unsubscribe-Post Message-Context Message-ID MIME-Version Organization "
        "Original-From Original-Message-ID Original-Recipient Original-Subject Precedence "
        "Priority References Reply-To Return-Path Return-Receipt-To Sender Solicitation "
        "Sensitivity Subject Thread-Index Thread-Topic User-Agent VBR-Info"
    ).split()
)


def bad_field(field: str, problem: str) -> BadRequestException:
    """A BadRequestException naming `field` as each API spells it."""
    return BadRequestException(f"{field} {problem}", f"{_V1_FIELD_NAMES.get(field, field)} {problem}")


def check_field(text: str, field: str) -> None:
    """Refuse header text that could break out of its field.

    Refused: a lone surrogate (not encodable, so never sendable), and any line
    break -- CR, LF, VT, FF, FS, GS, RS, NEL, LS, PS -- in the text or in what its
    encoded words decode to, read both as `email.header.decode_header` and as the
    `email` package's default policy read them, a few levels deep.
    """
    if _SURROGATE.search(text):
        raise bad_field(field, "contains a lone surrogate, which is not valid Unicode.")
    pending, seen = [text], set()
    for _ in range(_MAX_DECODING_DEPTH + 1):
        if not pending:
            return
        if any(_LINE_BREAK.search(value) for value in pending):
            raise bad_field(field, "contains a line break, which is not allowed in a header field "
                                   "(not even inside an encoded word).")
        seen.update(pending)
        pending = [decoded for value in pending if "=?" in value for decoded in _decodings(value)
                   if decoded not in seen]
    if pending:
        raise bad_field(field, "nests encoded words too deeply.")


def _decodings(value: str) -> set[str]:
    """`value` with its encoded words decoded, as each of the `email` package's parsers sees it."""
    found = set()
    try:
        found.add("".join(_chunk_text(chunk, charset) for chunk, charset in decode_header(value)))
    except HeaderParseError:  # e.g. bad base64: compat32 gives up where the default policy goes on
        pass
    try:
        found.add(str(email_policy.default.header_factory("Subject", value)))
    except Exception:  # noqa: BLE001 -- a parser bug on hostile input; decode_header's view still counts
        pass
    return found


def _chunk_text(chunk: str | bytes, charset: str | None) -> str:
    if isinstance(chunk, str):
        return chunk
    try:
        return chunk.decode(charset or "ascii", errors="replace")
    except LookupError:  # an unknown charset: Latin-1 shows every byte, C1 NEL included
        return chunk.decode("latin-1")


# --------------------------------------------------------------------------- raw header blocks

CRLF = b"\r\n"
_RAW_HEADER_NAME = re.compile(rb"[!-9;-~]+")


def to_crlf(data: bytes) -> bytes:
    return re.sub(rb"\r?\n", CRLF, data)


@dataclass(frozen=True)
class RawField:
    """One header field as it appears in the message, folding kept."""

    name: str
    raw: bytes  # every line of the field, each ending in CRLF

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def value(self) -> str:
        unfolded = self.raw.split(b":", 1)[1].replace(CRLF, b"")
        return unfolded.decode("utf-8", errors="replace").strip()


def split_header_block(data: bytes) -> tuple[list[RawField], bytes]:
    """Split CRLF message bytes into header fields and body, byte for byte.

    A line that is neither a header nor a continuation ends the header block
    even without the blank separator line (as Python's parser does), so odd
    input degrades into a message without that header rather than an error.
    """
    fields: list[tuple[str, list[bytes]]] = []
    position = 0
    body = b""
    while position < len(data):
        end = data.find(CRLF, position)
        line, following = (data[position:], len(data)) if end < 0 else (data[position:end], end + 2)
        if line == b"":
            body = data[following:]
            break
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1][1].append(line)
        else:
            colon = line.find(b":")
            name = line[:colon].rstrip(b" \t") if colon >= 0 else b""
            if colon == 0:
                raise BadRequestException("Empty header names are illegal.")
            if colon < 0 or not _RAW_HEADER_NAME.fullmatch(name):
                body = data[position:]
                break
            fields.append((name.decode("ascii"), [line]))
        position = following
    return [RawField(name, b"".join(line + CRLF for line in lines)) for name, lines in fields], body
