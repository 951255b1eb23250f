"""The JSON the store keeps for every outbox row (its entry and, until it is sealed, its
plan), written and read by orjson, with the standard library's `json` for what orjson
refuses.

Why not `json` alone: a bulk send writes 50 rows in one request, and `json` took ~9.5 µs
to write an entry with its plan and ~6 µs to read them back (`bench_bulk.py`'s entries,
measured in-process); orjson takes ~0.8 and ~2 µs. What orjson refuses goes to `json`,
so nothing that was stored before cannot be stored or read now:
- text holding a lone surrogate (a header decoded with `surrogateescape`), integers past
  64 bits: written by `json` (with its \\u escapes);
- rows `json` wrote that orjson will not parse (a lone surrogate's escape, NaN): read
  by `json`.
orjson writes non-ASCII text as UTF-8 and no spaces; `json` reads either.
"""
from __future__ import annotations

import json

import orjson

__all__ = ["dumps", "loads"]


def dumps(value) -> str:
    try:
        return orjson.dumps(value).decode("utf-8")
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value)


def loads(text: str | bytes):
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
