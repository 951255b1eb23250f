"""Render the common SendEmail message straight to bytes, or decline.

`messages.build_from_simple` composes with the stdlib `email` package (MIME objects,
`Header` folding, a compat32 generator with CRLF line endings). That is most of a
SendEmail call's CPU time, and almost all of it is spent proving that short header
lines need no folding. This module writes the same bytes with string formatting for
the shapes where the `email` package's output is simple to state:

- every header line, `Name: value`, is printable ASCII (tab allowed) and at most 78
  characters: `Header.encode` then emits it unchanged (it folds only past 78);
- a non-ASCII Subject in UTF-8 or ISO-8859-1 whose RFC 2047 encoded word fits
  `Header`'s first line: one `=?charset?q|b?...?=` word, encoded as `Charset` would;
- Text and/or Html parts with the transfer encoding `messages` already chose, the
  payload's line endings made CRLF as the generator's `_write_lines` does;
- Text and Html together: multipart/alternative, laid out as the generator does.

Everything else (attachments, headers that need folding, other charsets in the
Subject, control characters) returns None and the caller uses the `email` package.
tests/unit/test_messages_fast_path.py renders generated inputs both ways and compares
the bytes; keep that test in step with any change here.

Pure: no I/O; `new_boundary` draws from `random` exactly as the `email` package does.
"""
from __future__ import annotations

import random
import re
import sys
from email import base64mime, quoprimime
from typing import NamedTuple

__all__ = ["TextPart", "encoded_subject", "header_line", "new_boundary", "render"]

# compat32's max_line_length: `Header.encode` leaves a field alone while
# len("Name: value") <= 78, and folds it once longer.
MAX_UNFOLDED = 78

# Values `Header.encode` is known to pass through untouched when short enough:
# printable ASCII, space and tab. Anything else (controls, DEL, the characters
# str.splitlines breaks on, non-ASCII) goes to the `email` package.
_PLAIN_VALUE = re.compile(r"[\t -~]*")

# str.splitlines() breaks on these; `Header.encode` splits the Subject there.
_LINE_BREAKS = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")

# Subject charsets whose encoded word is simple: `email.charset.CHARSETS` gives
# UTF-8 the shorter of Q and B, ISO-8859-1 always Q; both are their own output
# codec and stateless, so the word for the whole Subject is the one `Header` builds.
_SUBJECT_CHARSETS = {"utf-8": "shortest", "iso-8859-1": "q"}
_RFC2047_CHROME = 7  # len("=?") + len("?q?") + len("?=")

# The `email` package's generator breaks lines on each of these (`NLCRE`).
_NLCRE = re.compile(r"\r\n|\r|\n")

# RFC 2046 bcharsnospace. Such a boundary makes `boundary="..."` one token with
# no folding whitespace, so the Content-Type folds at "; " only (see _multipart_type).
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,./:=?-]+")
_BOUNDARY_DIGITS = "%%0%dd" % len(repr(sys.maxsize - 1))  # as email.generator's _fmt


class TextPart(NamedTuple):
    """A text/* body part as `messages` decided it. The payload is ASCII (7bit
    text, or quopri's output) with its line ends not yet made CRLF: LF, except
    where an unusual charset's bytes hold a CR."""

    subtype: str  # "plain" or "html"
    charset: str  # as given (case kept), or "us-ascii"/"utf-8" when none was
    transfer_encoding: str  # "7bit" or "quoted-printable"
    payload: str


def header_line(name: str, value: str) -> str | None:
    """`Name: value` + CRLF when compat32 would write it unfolded and unchanged, else None."""
    if len(name) + len(value) + 2 > MAX_UNFOLDED or not _PLAIN_VALUE.fullmatch(value):
        return None
    return f"{name}: {value}\r\n"


def encoded_subject(subject: str, charset: str | None) -> str | None:
    """The Subject's value as `Header(subject, charset or "utf-8")` encodes it, or None.

    Only for a non-ASCII Subject that `messages` has already checked encodes in the
    charset. `Header` has no field name here, so its first line may take all 78
    characters: the word alone must fit, whatever "Subject: " adds.
    """
    codec = (charset or "utf-8").lower()
    choice = _SUBJECT_CHARSETS.get(codec)
    if choice is None or _LINE_BREAKS.search(subject):
        return None
    raw = subject.encode(codec)
    room = MAX_UNFOLDED - len(codec) - _RFC2047_CHROME  # what Charset.header_encode_lines allows
    q_length, b_length = quoprimime.header_length(raw), base64mime.header_length(raw)
    if choice == "shortest" and b_length < q_length:  # a tie goes to Q, as in Charset._get_encoder
        return base64mime.header_encode(raw, codec) if b_length <= room else None
    return quoprimime.header_encode(raw, codec) if q_length <= room else None


def new_boundary(text: bytes) -> str:
    """A multipart boundary made as `email.generator.Generator._make_boundary` makes it:
    the same random draw, format and uniqueness check against the rendered parts."""
    boundary = "=" * 15 + _BOUNDARY_DIGITS % random.randrange(sys.maxsize) + "=="
    candidate, counter = boundary, 0
    while _is_delimiter_in(text, candidate):
        candidate = f"{boundary}.{counter}"
        counter += 1
    return candidate


def _is_delimiter_in(text: bytes, boundary: str) -> bool:
    # The generator's test is re.search(rb"^--B(--)?$", text, re.MULTILINE), a
    # pattern compiled afresh for every message (~0.1 ms). This is the same test:
    # "--B" at the start of the text or after a LF, then the end of a line (the
    # end of the text or a LF), directly or after "--".
    needle = b"--" + boundary.encode("ascii")
    start = text.find(needle)
    while start >= 0:
        if start == 0 or text[start - 1] == 0x0A:
            end = start + len(needle)
            if _line_ends(text, end) or (text.startswith(b"--", end) and _line_ends(text, end + 2)):
                return True
        start = text.find(needle, start + 1)
    return False


def _line_ends(text: bytes, index: int) -> bool:
    """Whether a MULTILINE "$" matches at `index`."""
    return index == len(text) or text[index] == 0x0A


def render(headers: list[str], parts: list[TextPart], boundary: str | None = None) -> bytes | None:
    """The whole message: `headers` (finished lines, CRLF-terminated), then MIME-Version
    and the body. One part is the message body itself; two make multipart/alternative
    with `boundary` (None: a fresh one from `new_boundary`). None if a part's
    Content-Type would need folding or the boundary is not a plain token."""
    rendered = []
    for part in parts:
        part_headers = _part_headers(part)
        if part_headers is None:
            return None
        rendered.append(part_headers + "\r\n" + _crlf(part.payload))
    head = "".join(headers) + "MIME-Version: 1.0\r\n"
    if len(rendered) == 1:
        return (head + rendered[0]).encode("ascii")

    bodies = [text.encode("ascii") for text in rendered]
    if boundary is None:
        boundary = new_boundary(b"\r\n".join(bodies))
    elif not _BOUNDARY.fullmatch(boundary):
        return None
    delimiter = f"\r\n--{boundary}\r\n".encode("ascii")
    return b"".join((
        f"{head}Content-Type: {_multipart_type(boundary)}\r\n\r\n--{boundary}\r\n".encode("ascii"),
        delimiter.join(bodies),
        f"\r\n--{boundary}--\r\n".encode("ascii"),
    ))


def _part_headers(part: TextPart) -> str | None:
    # MIMENonMultipart(..., charset=X) writes the parameter quoted, escaping " and
    # \. `messages` only passes charsets that codecs.lookup knows, but a name that
    # would need escaping or folding is left to the `email` package.
    if '"' in part.charset or "\\" in part.charset:
        return None
    content_type = header_line("Content-Type", f'text/{part.subtype}; charset="{part.charset}"')
    if content_type is None:
        return None
    return f"{content_type}Content-Transfer-Encoding: {part.transfer_encoding}\r\n"


def _multipart_type(boundary: str) -> str:
    # `Header.encode` sees two tokens, "multipart/alternative;" and
    # 'boundary="..."'; past 78 characters it breaks after the ";" and indents
    # the second with one space. The generator's boundary (36 characters) always
    # takes the second form.
    value = f'multipart/alternative; boundary="{boundary}"'
    if len("Content-Type: ") + len(value) <= MAX_UNFOLDED:
        return value
    return f'multipart/alternative;\r\n boundary="{boundary}"'


def _crlf(payload: str) -> str:
    # The generator writes a text payload line by line with CRLF, breaking at
    # CRLF, CR or LF; the common payload has LFs only, and str.replace is faster.
    return payload.replace("\n", "\r\n") if "\r" not in payload else _NLCRE.sub("\r\n", payload)
