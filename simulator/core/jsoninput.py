"""JSON from outside -- a request body, a template's TemplateData -- parsed so that no input
can exhaust the stack or bring in what JSON text cannot mean (SPEC §14): nesting deeper than
64, NaN / Infinity / numbers too large for a float, and lone surrogates (`"\\ud800"` parses,
but is no text) are each refused with the caller's error, naming the member. Pure: no I/O.
"""
from __future__ import annotations

import json
import math
import re

MAX_JSON_DEPTH = 64
_SURROGATE = re.compile("[\ud800-\udfff]")  # JSON's \ud800 escapes parse to these; no text may hold one


class _NonFinite:
    """What NaN, Infinity, -Infinity and numbers too large for a float parse to, so the
    walk below can name the member that held one."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


def _float(text: str):
    value = float(text)
    return value if math.isfinite(value) else _NonFinite(text)


_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"{}[]")
_INNERMOST = re.compile(rb"\{\}|\[\]")


def _shallow(raw: bytes) -> bool:
    """True if the JSON text's brackets nest at most MAX_JSON_DEPTH deep: each pass (at C
    speed) removes the innermost pairs. Brackets inside strings that do not pair up leave
    some behind: False, and the caller walks the parsed body instead."""
    brackets = raw.translate(None, _NOT_BRACKETS)
    for _ in range(MAX_JSON_DEPTH):
        if not brackets:
            return True
        brackets = _INNERMOST.sub(b"", brackets)
    return not brackets


def _refuse_unsafe(body, error: type[Exception], text_error: type[Exception], what: str, prefix: str) -> None:
    """Raise `error` naming the first member nested deeper than MAX_JSON_DEPTH or holding a
    non-finite number. Iterative, so no input can exhaust the stack."""
    stack = [(body, prefix, 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, _NonFinite):
            raise error(f"{path or what}: {value.text} is not a finite number.")
        if isinstance(value, str):
            found = _SURROGATE.search(value)
            if found:
                raise text_error(f"{path}: a lone surrogate (\\u{ord(found[0]):04x}) is not Unicode text.")
            continue
        if isinstance(value, dict) and any(_SURROGATE.search(key) for key in value):
            raise text_error(f"{path or what}: a member name holds a lone surrogate, which is not Unicode text.")
        if isinstance(value, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise error(f"{path or what}: JSON is nested deeper than {MAX_JSON_DEPTH} levels.")
            if isinstance(value, dict):
                children = ((f"{path}.{key}" if path else key, item) for key, item in value.items())
            else:
                children = ((f"{path}[{index}]", item) for index, item in enumerate(value))
            stack.extend((item, child, depth + 1) for child, item in children)


class _Unsafe(Exception):
    """A non-finite number met while parsing: the parse starts again to name its member."""


def _refuse_constant(text: str):
    raise _Unsafe(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Unsafe(text)
    return value


# Decoders made once: json.loads with hooks builds a new one on every call (~1.5 us). The fast
# one stops at the first non-finite number; the other keeps it (_NonFinite) for the walk below,
# which names the member that held it.
_FAST = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)
_NAMING = json.JSONDecoder(parse_constant=_NonFinite, parse_float=_float)


def loads_object(raw: bytes | str, error: type[Exception], text_error: type[Exception] | None = None,
                 what: str = "The request body", prefix: str = "") -> dict:
    """The JSON object `raw` holds; anything else raises `error` (its message starting with
    `what`), as do non-finite numbers and nesting deeper than MAX_JSON_DEPTH. A lone surrogate
    (well-formed JSON, but no text) raises `text_error` (default `error`), naming the member
    (`prefix` before its path)."""
    unsafe = False
    try:
        if isinstance(raw, str):
            text, raw = raw, raw.encode("utf-8", "surrogatepass")
        else:  # as json.loads reads bytes
            text = raw.decode(json.detect_encoding(raw), "surrogatepass")
        try:
            body = _FAST.decode(text)
        except _Unsafe:
            body, unsafe = _NAMING.decode(text), True
    except RecursionError:
        raise error(f"{what} is nested deeper than {MAX_JSON_DEPTH} levels.") from None
    except (ValueError, UnicodeError):
        raise error(f"{what} is not valid JSON.") from None
    if not isinstance(body, dict):
        raise error(f"{what} must be a JSON object.")
    # The walk finds nothing in a body without a non-finite number, without a \u escape or UTF-8's
    # 0xED lead byte (surrogates pass through decoding), not UTF-16/32 (NULs in its first
    # bytes) and whose brackets nest no deeper than the limit (certainly not if there are fewer).
    if (unsafe or b"\\u" in raw or b"\xed" in raw or b"\x00" in raw[:4]
            or (raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and not _shallow(raw))):
        _refuse_unsafe(body, error, text_error or error, what, prefix)
    return body
