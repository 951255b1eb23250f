"""What a step compares: the subset match of `expect` and `expect_outbox.last`, the
`*` wildcard, and how a value is shown in a failure. Pure."""
from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

MISSING = object()


class StepFailed(Exception):
    """The step did not do what the scenario says; the message says what came instead."""


def wildcard_match(pattern: str, text: str) -> bool:
    """fnmatch with only `*` special: any run of characters, including none."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, text, re.DOTALL) is not None


def show(value: Any) -> str:
    if value is MISSING:
        return "nothing"
    if value is None:
        return "null"
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_.@*:/+-]+", value):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        text = json.dumps(value, default=str)
        return text if len(text) <= 300 else text[:297] + "..."
    return repr(value)


def mismatch(expected: Any, actual: Any, path: str = "") -> str | None:
    """Why `actual` does not contain `expected` (a subset match), or None.

    Mappings: every expected key must match (null also matches an absent key).
    Lists: same length, element by element, each a subset match.
    Strings: `*` wildcards; a datetime or bytes value is compared as text.
    """
    where = f"{path}: " if path else ""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{where}expected a mapping, got {show(actual)}"
        for key, value in expected.items():
            sub = f"{path}.{key}" if path else str(key)
            if key not in actual:
                if value is None:
                    continue
                return f"{sub}: expected {show(value)}, got nothing"
            problem = mismatch(value, actual[key], sub)
            if problem:
                return problem
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{where}expected a list, got {show(actual)}"
        if len(expected) != len(actual):
            return f"{where}expected {len(expected)} item(s), got {len(actual)}: {show(actual)}"
        for index, (item, got) in enumerate(zip(expected, actual)):
            problem = mismatch(item, got, f"{path}[{index}]")
            if problem:
                return problem
        return None
    if expected is None:
        return None if actual is None else f"{where}expected nothing, got {show(actual)}"
    if isinstance(expected, str):
        text = actual
        if isinstance(actual, datetime):
            text = actual.isoformat()
        elif isinstance(actual, (bytes, bytearray)):
            text = bytes(actual).decode("utf-8", errors="replace")
        if isinstance(text, str) and wildcard_match(expected, text):
            return None
        return f"{where}expected {show(expected)}, got {show(actual)}"
    if isinstance(expected, bool) or isinstance(actual, bool):
        return None if expected is actual else f"{where}expected {show(expected)}, got {show(actual)}"
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return None if expected == actual else f"{where}expected {show(expected)}, got {show(actual)}"
    return None if expected == actual else f"{where}expected {show(expected)}, got {show(actual)}"
