"""Variable masking and template identity (first cut; the Drain-style miner grows from here).

A template is the message with its variable parts replaced by ``<*>``; its id is a
stable hash of the template plus the exception class and the top application frame,
so the same log statement gets the same id in every process and after every restart.
"""

from __future__ import annotations

import functools
import hashlib
import re

# Order matters: the most specific shapes first so a UUID is not eaten as numbers.
_MASKS: list[tuple[str, re.Pattern[str]]] = [
    ("json", re.compile(r"\{[^{}]*\"[^{}]*\":[^{}]*\}")),
    ("uuid", re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")),
    ("email", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    ("url", re.compile(r"\bhttps?://[^\s\"']+")),
    ("ip", re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b")),
    ("quoted", re.compile(r"'[^'\s]{1,80}'|\"[^\"\s]{1,80}\"")),
    ("hex", re.compile(r"\b(?:0x)?[0-9a-fA-F]*[0-9][0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\b|\b[0-9a-fA-F]{12,}\b")),
    ("duration", re.compile(r"\b\d+(?:\.\d+)?\s?(?:ms|s|sec|seconds|min|m|h|ns|us|µs)\b")),
    ("number", re.compile(r"(?<![\w.])[-+]?\d+(?:[.,]\d+)*(?![\w.])|\b\d+\b")),
]
_WILDCARD = "<*>"


def mask(message: str) -> tuple[str, list[str]]:
    """Return (template, params): the message with variables replaced by ``<*>`` and the values."""
    params: list[str] = []
    text = message if len(message) <= 2000 else message[:2000]

    def _sub(match: re.Match[str]) -> str:
        params.append(match.group(0))
        return _WILDCARD

    for _, pattern in _MASKS:
        text = pattern.sub(_sub, text)
    # Collapse runs of wildcards that came from one value split by punctuation.
    text = re.sub(r"(?:<\*>[\s,;:/_-]*){2,}<\*>", _WILDCARD, text)
    return text, params[:20]


@functools.lru_cache(maxsize=65_536)  # pure; called once per event with few distinct arguments
def template_id_for(template: str, exception_class: str | None, top_frame: str | None) -> str:
    h = hashlib.blake2b(digest_size=8)
    h.update(template.encode("utf-8", "replace"))
    h.update(b"\x00")
    h.update((exception_class or "").encode())
    h.update(b"\x00")
    h.update((top_frame or "").encode())
    return h.hexdigest()
