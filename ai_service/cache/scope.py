"""The resolved scope of a question and its cache key (gate 2 of the QA cache).

Two questions may share a cached answer only if everything that changes the answer,
other than the wording, is identical: the services, levels, exception classes and trace
ids the question is about, its absolute time window (bucketed), its conversation, its
polarity (``negated``) and the answer-affecting request options (``k``). The
question-scope extractor builds a :class:`Scope`; :func:`scope_key` hashes it.

Normalization (so equal scopes written differently hash equally):

* services, trace ids: stripped, lower-cased, de-duplicated, sorted;
* levels: upper-cased (``WARNING`` -> ``WARN``), sorted;
* exceptions: the simple class name (``java.sql.SQLTransientConnectionException`` ->
  ``SQLTransientConnectionException``), sorted;
* window: ``since`` and ``until`` in UTC, each floored to a ``bucket_s`` bucket (default
  5 minutes), so "last 15 minutes" asked twice within a bucket matches but another span
  or a later bucket does not. ``since=None`` means "from the beginning".

Negation: "which services are NOT failing" asks for the complement of "which services
are failing", and a sentence embedder puts the two within ~0.95 cosine. Polarity is
therefore a scope field, never left to the similarity threshold: the extractor sets
``negated`` and the cache also runs :func:`detect_negation` on the raw question and ORs
the two, so a missed negation in the extractor cannot make the twins share a key.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

KEY_VERSION: Final = "v1"
DEFAULT_BUCKET_S: Final = 300

_LEVEL_ALIASES: Final = {"WARNING": "WARN", "ERR": "ERROR", "FATAL": "ERROR", "CRITICAL": "ERROR"}

# Words that turn a question into its complement (absence, exclusion, negated predicate).
_NEGATION: Final = re.compile(
    r"\b(?:not|no|never|none|nothing|nobody|neither|nor|without|except|excluding|exclude|excludes|"
    r"besides|unaffected|non|cannot)\b"
    r"|n't\b|n’t\b"
    r"|\b(?:other than|apart from|aside from|free of|absence of|lack of)\b",
    re.IGNORECASE,
)


def detect_negation(question: str) -> bool:
    """True if the question contains a negation / exclusion marker ("not", "n't", "without", "except", ...).

    Deliberately broad: a false positive only costs a cache miss, a false negative could
    serve the answer of the opposite question.
    """
    return _NEGATION.search(question) is not None


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def floor_ts(ts: datetime, bucket_s: int) -> datetime:
    """``ts`` in UTC floored to a multiple of ``bucket_s`` seconds since the epoch."""
    ts = _utc(ts)
    epoch = int(ts.timestamp())
    return datetime.fromtimestamp(epoch - epoch % bucket_s, tz=UTC)


def _simple_class(name: str) -> str:
    return name.strip().rsplit(".", 1)[-1]


def _norm(values: tuple[str, ...] | list[str], fn: Any) -> tuple[str, ...]:
    return tuple(sorted({v for v in (fn(x) for x in values) if v}))


@dataclass(frozen=True)
class Scope:
    """What a question is about, resolved to absolute values (built by the scope extractor)."""

    services: tuple[str, ...]
    """Empty = all services."""
    levels: tuple[str, ...]
    exceptions: tuple[str, ...]
    trace_ids: tuple[str, ...]
    window_since: datetime | None
    window_until: datetime
    conversation_id: str | None = None
    negated: bool = False
    k: int | None = None
    """Answer-affecting request option: the number of citations asked for (``None`` = default)."""

    def normalized(self) -> Scope:
        """The same scope with every field in canonical form (see the module docstring)."""
        return replace(
            self,
            services=_norm(self.services, lambda s: s.strip().lower()),
            levels=_norm(self.levels, lambda s: _LEVEL_ALIASES.get(s.strip().upper(), s.strip().upper())),
            exceptions=_norm(self.exceptions, _simple_class),
            trace_ids=_norm(self.trace_ids, lambda s: s.strip().lower()),
            window_since=_utc(self.window_since) if self.window_since else None,
            window_until=_utc(self.window_until),
            conversation_id=self.conversation_id or None,
        )

    def with_negation(self, negated: bool) -> Scope:
        return self if self.negated or not negated else replace(self, negated=True)

    def bucketed_window(self, bucket_s: int = DEFAULT_BUCKET_S) -> tuple[datetime | None, datetime]:
        """(floored since, floored until): the window part of the key."""
        since = floor_ts(self.window_since, bucket_s) if self.window_since else None
        return since, floor_ts(self.window_until, bucket_s)

    def coverage(self, bucket_s: int = DEFAULT_BUCKET_S) -> tuple[datetime | None, datetime]:
        """The event-time span any question with this key can read: [floor(since), floor(until) + bucket).

        A relative window ("last 15 minutes") asked later in the same bucket reaches up to the
        end of the bucket, so events up to there make a cached answer stale.
        """
        since, until = self.bucketed_window(bucket_s)
        return since, until + timedelta(seconds=bucket_s)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored next to the cached answer)."""
        return {
            "services": list(self.services),
            "levels": list(self.levels),
            "exceptions": list(self.exceptions),
            "trace_ids": list(self.trace_ids),
            "window_since": self.window_since.isoformat() if self.window_since else None,
            "window_until": self.window_until.isoformat(),
            "conversation_id": self.conversation_id,
            "negated": self.negated,
            "k": self.k,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scope:
        since = data.get("window_since")
        return cls(
            services=tuple(data.get("services") or ()),
            levels=tuple(data.get("levels") or ()),
            exceptions=tuple(data.get("exceptions") or ()),
            trace_ids=tuple(data.get("trace_ids") or ()),
            window_since=datetime.fromisoformat(since) if since else None,
            window_until=datetime.fromisoformat(str(data["window_until"])),
            conversation_id=data.get("conversation_id"),
            negated=bool(data.get("negated", False)),
            k=data.get("k"),
        )


def scope_key(scope: Scope, bucket_s: int = DEFAULT_BUCKET_S, *, salt: str = "") -> str:
    """Stable hex key of the normalized scope with the window floored to ``bucket_s`` buckets.

    ``salt`` separates key spaces that must never mix (the cache passes the embedder name,
    so vectors of another model are never compared with the query).
    """
    if bucket_s <= 0:
        raise ValueError(f"bucket_s must be > 0, got {bucket_s}")
    s = scope.normalized()
    since, until = s.bucketed_window(bucket_s)
    canonical = {
        "v": KEY_VERSION,
        "salt": salt,
        "bucket_s": bucket_s,
        "services": s.services,
        "levels": s.levels,
        "exceptions": s.exceptions,
        "trace_ids": s.trace_ids,
        "since": since.isoformat() if since else None,
        "until": until.isoformat(),
        "conversation_id": s.conversation_id,
        "negated": s.negated,
        "k": s.k,
    }
    blob = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]
