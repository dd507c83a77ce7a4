"""Compact JSON encoding for the hot paths (bulk bodies), with the standard library as a fallback."""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(obj: Any) -> str:
    """Compact JSON text of ``obj``; non-ASCII kept as UTF-8.

    orjson refuses what is not valid UTF-8 (a lone surrogate in a string read from a lenient
    record): those documents are encoded by the standard library with ``\\u`` escapes instead,
    so they are still indexed rather than failing the whole bulk request.
    """
    try:
        return orjson.dumps(obj).decode()
    except TypeError:
        return json.dumps(obj, separators=(",", ":"))
