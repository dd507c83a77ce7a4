"""Semantic QA cache with two gates: question similarity AND exact resolved-scope match.

* Gate 1 — the cosine similarity of the question embeddings is ``>= threshold``
  (default :data:`DEFAULT_THRESHOLD`, calibrated by ``bench/bench_qa_cache.py`` on
  ``tests/evals/qa_cache_pairs.yaml``).
* Gate 2 — the :func:`~ai_service.cache.scope.scope_key` of the two questions is equal
  (same services, levels, exceptions, trace ids, bucketed absolute window, conversation,
  polarity, ``k``). Gate 2 is applied inside the nearest-neighbour search (a filter), so
  the best neighbour *within the scope* is compared with the threshold. On a miss a
  second, unfiltered search tells whether gate 2 refused an otherwise-close question
  (``loglens_qa_cache_gate2_rejections_total``).
* Gate 1b — :func:`minimal_pair`: an in-scope neighbour above the threshold is still refused
  when the two questions are a minimal pair (one content word substituted, or two
  exchanged: "breaker open" / "breaker close"), which sentence embeddings score 0.94-0.997.

Freshness: entries expire after ``ttl_s`` (checked in every search, expired entries purged
at most every ``purge_interval_s``), and :meth:`QACache.invalidate_for_events` removes
entries whose services and window cover newly indexed events (push invalidation by the
ingest side).

Store port :class:`QACacheStore`; adapters :class:`InMemoryQACacheStore` (tests, bench,
single process) and :class:`OpenSearchQACacheStore` (the shared ``qa-cache`` index).
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

import numpy as np
import structlog

from ai_service.cache.metrics import (
    ERRORS,
    GATE2_REJECTIONS,
    HITS,
    INVALIDATIONS,
    MINIMAL_PAIR_REJECTIONS,
    MISSES,
)
from ai_service.cache.scope import DEFAULT_BUCKET_S, Scope, detect_negation, scope_key
from loglens.indices import QA_CACHE_INDEX

DEFAULT_THRESHOLD: Final = 0.84
"""Cosine threshold of gate 1 for all-MiniLM-L6-v2 (see docs/qa-cache.md, calibration)."""
DEFAULT_TTL_S: Final = 600
ALL_SERVICES: Final = "*"
"""Stored in ``services`` for an entry whose scope is not restricted to services."""

log = structlog.get_logger(__name__)

# ---------------------------------------------------------------- gate 1b: minimal pairs
# A mean-pooled sentence embedding scores "when did the breaker open" / "... close" or
# "calls from order to payment" / "... from payment to order" at 0.94-0.997 cosine, above
# most true paraphrases. Such minimal pairs are caught lexically: same content words but
# one word substituted, or the same words in another order.
_WORD: Final = re.compile(r"[a-z0-9_]+")
_STOP: Final = frozenset(
    "a an the is are was were be been being do does did done has have had in on at of for to from by "
    "with and or any there me show list please give i my we our it its this that these those s "
    "what which service services svc app application logs log recently right now rn "
    "can could would should will just get got tell about all every each".split()
)
# Words that ask the same thing ("why ..." = "what causes ...", "number of" = "how many").
_SYNONYM: Final = {"why": "cause", "reason": "cause", "caus": "cause", "many": "count", "number": "count"}


def _stem(word: str) -> str:
    for suffix, repl, min_len in (
        ("ies", "y", 5),
        ("ing", "", 6),
        ("ion", "", 6),
        ("ed", "", 5),
        ("s", "", 4),
    ):
        if word.endswith(suffix) and len(word) >= min_len and not word.endswith("ss"):
            return word[: len(word) - len(suffix)] + repl
    return word


def content_words(question: str) -> list[str]:
    """Lower-cased, stemmed word tokens without stop words, in order."""
    stems = (_stem(w) for w in _WORD.findall(question.lower()) if w not in _STOP)
    return [_SYNONYM.get(w, w) for w in stems]


def _related(x: str, y: str) -> bool:
    """Same word family (a prefix of the other, or a 5-letter common prefix): not a contrast."""
    return x.startswith(y) or y.startswith(x) or (len(x) >= 5 and len(y) >= 5 and x[:5] == y[:5])


def minimal_pair(a: str, b: str) -> str | None:
    """Why ``a`` and ``b`` are a minimal pair that must not share an answer, or None.

    * ``"swap"``: the same (3 or more) content words with exactly two of them exchanged
      (direction: "order to payment" vs "payment to order");
    * ``"substitution"``: the same content words except exactly one word on each side,
      and the two are not of one family (open/close, first/last, producer/consumer).
    """
    wa, wb = content_words(a), content_words(b)
    if wa == wb:
        return None
    if len(wa) == len(wb) >= 3 and sorted(wa) == sorted(wb):
        if sum(1 for x, y in zip(wa, wb, strict=True) if x != y) == 2:
            return "swap"  # exactly two words exchanged
        return None
    sa, sb = set(wa), set(wb)
    only_a, only_b = sa - sb, sb - sa
    if len(only_a) == 1 and len(only_b) == 1 and (sa & sb or len(sa) == len(sb) == 1):
        (x,), (y,) = only_a, only_b
        if not _related(x, y):
            return "substitution"
    return None


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _iso(ts: datetime) -> str:
    return _utc(ts).isoformat()


def _parse(ts: str | None) -> datetime | None:
    return _utc(datetime.fromisoformat(ts)) if ts else None


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One cached answer. ``coverage_*`` is the event-time span the answer read (bucketed)."""

    id: str
    question: str
    scope_key: str
    scope: Scope
    response: dict[str, Any]
    created_at: datetime
    expires_at: datetime
    coverage_since: datetime | None
    coverage_until: datetime
    vector: list[float] = field(default_factory=list)
    """Empty when read back from OpenSearch (not fetched)."""

    @property
    def services(self) -> tuple[str, ...]:
        return self.scope.services or (ALL_SERVICES,)

    def covers(self, services: set[str], since: datetime, until: datetime) -> bool:
        """Would events of ``services`` (empty = unknown/any) in ``[since, until]`` change this answer?"""
        wanted = {s.strip().lower() for s in services}
        if wanted and ALL_SERVICES not in self.services and not wanted & set(self.services):
            return False
        if self.coverage_since is not None and self.coverage_since > _utc(until):
            return False
        return self.coverage_until > _utc(since)


@dataclass(frozen=True, slots=True)
class Neighbour:
    entry: CacheEntry
    similarity: float
    """Cosine similarity with the query vector."""


@dataclass(frozen=True, slots=True)
class CacheLookup:
    hit: bool
    similarity: float | None = None
    """Cosine similarity with the source question (hits only)."""
    source_question: str | None = None
    response: dict[str, Any] | None = None
    """The cached response with ``cache`` set to :meth:`cache_info` (hits only)."""
    gate2_rejected: bool = False
    """Miss although a cached question of another scope was above the threshold."""
    best_similarity: float | None = None
    """Diagnostics: similarity of the nearest in-scope neighbour, hit or not."""

    def cache_info(self) -> dict[str, Any]:
        """The ``cache`` object of ``AskResponse`` (``CacheInfo``)."""
        return {"hit": self.hit, "similarity": self.similarity, "source_question": self.source_question}


class QACacheStore(Protocol):
    """Port: where cached answers live and how the nearest one is found."""

    async def nearest(
        self, vector: Sequence[float], now: datetime, scope_key: str | None
    ) -> Neighbour | None:
        """The unexpired entry most similar to ``vector`` (only entries of ``scope_key`` unless None)."""
        ...

    async def put(self, entry: CacheEntry) -> None: ...

    async def purge_expired(self, now: datetime) -> int:
        """Delete entries with ``expires_at <= now``; return how many."""
        ...

    async def invalidate(self, services: set[str], since: datetime, until: datetime) -> int:
        """Delete entries that :meth:`CacheEntry.covers` the events; return how many."""
        ...


class InMemoryQACacheStore:
    """Brute-force cosine over a dict: unit tests, the benchmark, a single-process cache."""

    def __init__(self) -> None:
        self.entries: dict[str, CacheEntry] = {}

    def __len__(self) -> int:
        return len(self.entries)

    async def nearest(
        self, vector: Sequence[float], now: datetime, scope_key: str | None
    ) -> Neighbour | None:
        query = np.asarray(vector, dtype=np.float32)
        best: Neighbour | None = None
        for entry in self.entries.values():
            if entry.expires_at <= now or (scope_key is not None and entry.scope_key != scope_key):
                continue
            sim = float(np.dot(query, np.asarray(entry.vector, dtype=np.float32)))
            if best is None or sim > best.similarity:
                best = Neighbour(entry, sim)
        return best

    async def put(self, entry: CacheEntry) -> None:
        self.entries[entry.id] = entry

    async def purge_expired(self, now: datetime) -> int:
        expired = [i for i, e in self.entries.items() if e.expires_at <= now]
        for i in expired:
            del self.entries[i]
        return len(expired)

    async def invalidate(self, services: set[str], since: datetime, until: datetime) -> int:
        stale = [i for i, e in self.entries.items() if e.covers(services, since, until)]
        for i in stale:
            del self.entries[i]
        return len(stale)


class OpenSearchQACacheStore:
    """The ``qa-cache`` index: Lucene HNSW k-NN, cosinesimil; gate 2 is a k-NN ``filter``.

    ``client`` is an ``opensearchpy.AsyncOpenSearch``. Lucene's cosinesimil score is
    ``(1 + cos) / 2``; :meth:`nearest` returns the cosine. ``refresh`` is passed to writes
    (False in the service: an entry becomes visible within the 1 s refresh interval;
    tests use True). Deletions (bulk, by id) always refresh so an invalidated answer is never
    served again.
    """

    def __init__(self, client: Any, index: str = QA_CACHE_INDEX, k: int = 10, refresh: bool = False) -> None:
        self.client = client
        self.index = index
        self.k = k
        self.refresh = refresh

    @staticmethod
    def to_doc(entry: CacheEntry) -> dict[str, Any]:
        return {
            "question": entry.question,
            "scope_key": entry.scope_key,
            "scope": entry.scope.to_dict(),
            "response": entry.response,
            "created_at": _iso(entry.created_at),
            "expires_at": _iso(entry.expires_at),
            "services": list(entry.services),
            # Not in the index mapping (dynamic: false): kept in _source, filtered in Python.
            "coverage_since": _iso(entry.coverage_since) if entry.coverage_since else None,
            "coverage_until": _iso(entry.coverage_until),
            "vector": list(entry.vector),
        }

    @staticmethod
    def from_doc(doc_id: str, src: dict[str, Any]) -> CacheEntry:
        return CacheEntry(
            id=doc_id,
            question=str(src.get("question", "")),
            scope_key=str(src.get("scope_key", "")),
            scope=Scope.from_dict(src["scope"]),
            response=dict(src.get("response") or {}),
            created_at=_parse(src.get("created_at")) or datetime.now(UTC),
            expires_at=_parse(src.get("expires_at")) or datetime.now(UTC),
            coverage_since=_parse(src.get("coverage_since")),
            coverage_until=_parse(src.get("coverage_until")) or datetime.now(UTC),
        )

    def knn_query(self, vector: Sequence[float], now: datetime, scope_key: str | None) -> dict[str, Any]:
        filters: list[dict[str, Any]] = [{"range": {"expires_at": {"gt": _iso(now)}}}]
        if scope_key is not None:
            filters.append({"term": {"scope_key": scope_key}})
        return {
            "size": 1,
            "_source": {"excludes": ["vector"]},
            "query": {
                "knn": {
                    "vector": {
                        "vector": [float(x) for x in vector],
                        "k": self.k,
                        "filter": {"bool": {"filter": filters}},
                    }
                }
            },
        }

    async def nearest(
        self, vector: Sequence[float], now: datetime, scope_key: str | None
    ) -> Neighbour | None:
        resp = await self.client.search(index=self.index, body=self.knn_query(vector, now, scope_key))
        hits = resp.get("hits", {}).get("hits", [])
        if not hits:
            return None
        top = hits[0]
        cosine = 2.0 * float(top["_score"]) - 1.0
        return Neighbour(self.from_doc(str(top["_id"]), top["_source"]), cosine)

    async def put(self, entry: CacheEntry) -> None:
        await self.client.index(index=self.index, id=entry.id, body=self.to_doc(entry), refresh=self.refresh)

    async def _ids(self, query: dict[str, Any], fields: list[str] | bool = False) -> list[dict[str, Any]]:
        resp = await self.client.search(
            index=self.index,
            # the cache holds ttl_s worth of questions: far fewer than one page
            body={"size": 10_000, "_source": fields, "query": query},
        )
        hits: list[dict[str, Any]] = resp.get("hits", {}).get("hits", [])
        return hits

    async def _delete(self, ids: list[str]) -> int:
        """Bulk delete with refresh (the stack ships no reindex module, so no ``_delete_by_query``)."""
        if not ids:
            return 0
        actions = [{"delete": {"_index": self.index, "_id": i}} for i in ids]
        resp = await self.client.bulk(body=actions, refresh=True)
        return sum(1 for item in resp.get("items", []) if item.get("delete", {}).get("result") == "deleted")

    async def purge_expired(self, now: datetime) -> int:
        hits = await self._ids({"range": {"expires_at": {"lte": _iso(now)}}})
        return await self._delete([str(h["_id"]) for h in hits])

    async def invalidate(self, services: set[str], since: datetime, until: datetime) -> int:
        wanted = sorted({s.strip().lower() for s in services})
        query: dict[str, Any] = (
            {"terms": {"services": [*wanted, ALL_SERVICES]}} if wanted else {"match_all": {}}
        )
        hits = await self._ids(
            query, ["scope", "coverage_since", "coverage_until", "expires_at", "created_at"]
        )
        stale: list[str] = []
        for hit in hits:
            src = hit["_source"]
            entry = self.from_doc(str(hit["_id"]), {**src, "question": "", "scope_key": ""})
            if entry.covers(services, since, until):
                stale.append(str(hit["_id"]))
        return await self._delete(stale)


class QACache:
    """The cache service used by /ask (lookup before retrieval, store after answering)."""

    def __init__(
        self,
        store: QACacheStore,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        ttl_s: float = DEFAULT_TTL_S,
        bucket_s: int = DEFAULT_BUCKET_S,
        model: str = "",
        detect_negation_in_question: bool = True,
        count_gate2: bool = True,
        minimal_pair_guard: bool = True,
        purge_interval_s: float = 60.0,
    ) -> None:
        """``model``: the embedder name, salted into every key so other models' vectors never match."""
        if not -1.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be a cosine in [-1, 1], got {threshold}")
        self.backend = store
        self.threshold = threshold
        self.ttl = timedelta(seconds=ttl_s)
        self.bucket_s = bucket_s
        self.model = model
        self.detect_negation_in_question = detect_negation_in_question
        self.count_gate2 = count_gate2
        self.minimal_pair_guard = minimal_pair_guard
        self.purge_interval = timedelta(seconds=purge_interval_s)
        self._last_purge: datetime | None = None

    def effective_scope(self, question: str, scope: Scope) -> Scope:
        """The scope gate 2 compares: normalized, with negation detected in the question ORed in."""
        scope = scope.normalized()
        if self.detect_negation_in_question:
            scope = scope.with_negation(detect_negation(question))
        return scope

    def key_for(self, question: str, scope: Scope) -> str:
        return scope_key(self.effective_scope(question, scope), self.bucket_s, salt=self.model)

    async def _maybe_purge(self, now: datetime) -> None:
        if self._last_purge is not None and now - self._last_purge < self.purge_interval:
            return
        self._last_purge = now
        purged = await self.backend.purge_expired(now)
        if purged:
            INVALIDATIONS.labels(reason="ttl").inc(purged)

    async def lookup(
        self, question: str, vector: Sequence[float], scope: Scope, now: datetime
    ) -> CacheLookup:
        """Serve a cached answer only if both gates pass. Store failures count as a miss."""
        now = _utc(now)
        key = self.key_for(question, scope)
        try:
            await self._maybe_purge(now)
            best = await self.backend.nearest(vector, now, key)
            if (
                best is not None
                and best.similarity >= self.threshold
                and self.minimal_pair_guard
                and minimal_pair(question, best.entry.question) is not None
            ):
                MINIMAL_PAIR_REJECTIONS.inc()
                best = None
            if best is not None and best.similarity >= self.threshold:
                HITS.inc()
                similarity = round(best.similarity, 4)
                response = copy.deepcopy(best.entry.response)
                response["cache"] = {
                    "hit": True,
                    "similarity": similarity,
                    "source_question": best.entry.question,
                }
                return CacheLookup(
                    hit=True,
                    similarity=similarity,
                    source_question=best.entry.question,
                    response=response,
                    best_similarity=best.similarity,
                )
            MISSES.inc()
            gate2 = False
            if self.count_gate2:
                overall = await self.backend.nearest(vector, now, None)
                gate2 = (
                    overall is not None
                    and overall.similarity >= self.threshold
                    and overall.entry.scope_key != key
                )
                if gate2:
                    GATE2_REJECTIONS.inc()
            return CacheLookup(
                hit=False, gate2_rejected=gate2, best_similarity=best.similarity if best else None
            )
        except Exception as exc:  # fail open: the cache is an optimization
            ERRORS.labels(op="lookup").inc()
            log.warning("qa_cache_lookup_failed", error=str(exc))
            MISSES.inc()
            return CacheLookup(hit=False)

    async def store(
        self, question: str, vector: Sequence[float], scope: Scope, response: dict[str, Any], now: datetime
    ) -> str | None:
        """Cache ``response`` (a JSON-ready ``AskResponse`` dict) for ``question`` in ``scope``.

        Degraded answers are not cached. Returns the entry id, or None if not stored.
        """
        if response.get("degraded"):
            return None
        now = _utc(now)
        effective = self.effective_scope(question, scope)
        since, until = effective.coverage(self.bucket_s)
        body = {k: v for k, v in response.items() if k != "cache"}
        entry = CacheEntry(
            id=uuid.uuid4().hex,
            question=question,
            scope_key=scope_key(effective, self.bucket_s, salt=self.model),
            scope=effective,
            response=copy.deepcopy(body),
            created_at=now,
            expires_at=now + self.ttl,
            coverage_since=since,
            coverage_until=until,
            vector=[float(x) for x in vector],
        )
        try:
            await self.backend.put(entry)
        except Exception as exc:
            ERRORS.labels(op="store").inc()
            log.warning("qa_cache_store_failed", error=str(exc))
            return None
        return entry.id

    async def invalidate_for_events(self, services: set[str], since: datetime, until: datetime) -> int:
        """Delete cached answers that newly indexed events of ``services`` in ``[since, until]`` make stale.

        ``services`` empty = the events' services are unknown: every entry whose window
        overlaps is dropped. Called by the ingest side after a batch is indexed. Errors
        propagate (the caller should retry: a lost invalidation leaves a stale answer up
        to ``ttl_s``).
        """
        if _utc(since) > _utc(until):
            since, until = until, since
        removed = await self.backend.invalidate(services, since, until)
        if removed:
            INVALIDATIONS.labels(reason="events").inc(removed)
        return removed
