"""QA cache: scope key, the two gates (+ minimal-pair guard), TTL, invalidation, metrics, adapter."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from prometheus_client import REGISTRY

from ai_service.cache import (
    DEFAULT_THRESHOLD,
    InMemoryQACacheStore,
    OpenSearchQACacheStore,
    QACache,
    Scope,
    detect_negation,
    scope_key,
)
from ai_service.cache.qa_cache import minimal_pair
from bench.bench_qa_cache import PAIRS_PATH, load_pairs
from loglens.embedding import MiniLMEmbedder

NOW = datetime(2026, 3, 2, 10, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def scope(
    services: Sequence[str] = ("payment",),
    span: timedelta | None = timedelta(minutes=15),
    at: datetime = NOW,
    **kw: Any,
) -> Scope:
    return Scope(
        services=tuple(services),
        levels=tuple(kw.pop("levels", ())),
        exceptions=tuple(kw.pop("exceptions", ())),
        trace_ids=tuple(kw.pop("trace_ids", ())),
        window_since=at - span if span else None,
        window_until=at,
        **kw,
    )


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels or None) or 0.0


class Harness:
    def __init__(self, embedder: MiniLMEmbedder, **kw: Any) -> None:
        self.embedder = embedder
        self.store = InMemoryQACacheStore()
        self.cache = QACache(self.store, model=embedder.name, **kw)

    def vec(self, text: str) -> list[float]:
        out: list[float] = self.embedder.embed([text])[0].tolist()
        return out

    async def put(self, question: str, sc: Scope, now: datetime = NOW, **resp: Any) -> str | None:
        body = {"answer": f"answer to {question}", **resp}
        return await self.cache.store(question, self.vec(question), sc, body, now)

    async def ask(self, question: str, sc: Scope, now: datetime = NOW) -> Any:
        return await self.cache.lookup(question, self.vec(question), sc, now)


# ------------------------------------------------------------------ scope key
def test_scope_key_normalizes_order_case_and_exception_package() -> None:
    a = scope(
        ("Payment", "order"), exceptions=("java.sql.SQLTransientConnectionException",), levels=("warning",)
    )
    b = scope(("order", "payment"), exceptions=("SQLTransientConnectionException",), levels=("WARN",))
    assert scope_key(a) == scope_key(b)


def test_scope_key_buckets_the_window() -> None:
    base = scope(at=NOW)  # 09:46 .. 10:01 -> buckets 09:45 .. 10:00
    assert scope_key(base) == scope_key(scope(at=NOW + timedelta(minutes=3)))  # same bucket
    assert scope_key(base) != scope_key(scope(at=NOW + timedelta(minutes=5)))  # next bucket
    assert scope_key(base) != scope_key(scope(span=timedelta(hours=1)))  # other span
    assert scope_key(base) != scope_key(scope(span=None))  # all time


@pytest.mark.parametrize(
    "other",
    [
        {"services": ("order",)},
        {"levels": ("ERROR",)},
        {"exceptions": ("NullPointerException",)},
        {"trace_ids": ("4bf92f3577b34da6a3ce929d0e0e4736",)},
        {"conversation_id": "c-1"},
        {"negated": True},
        {"k": 5},
    ],
)
def test_scope_key_changes_with_every_field(other: dict[str, Any]) -> None:
    assert scope_key(scope()) != scope_key(scope(**other))


def test_scope_key_salt_separates_models() -> None:
    assert scope_key(scope(), salt="minilm") != scope_key(scope(), salt="hashing")


def test_scope_round_trips_through_dict() -> None:
    s = scope(levels=("ERROR",), trace_ids=("abc",), conversation_id="c-9", negated=True, k=3).normalized()
    assert Scope.from_dict(s.to_dict()) == s


@pytest.mark.parametrize(
    ("question", "negated"),
    [
        ("which services are NOT failing", True),
        ("which services aren't logging anything", True),
        ("errors in all services except gateway", True),
        ("traces without errors", True),
        ("which services had no errors", True),
        ("which pods never restarted", True),
        ("which services are failing", False),
        ("why is payment slow?", False),
        ("count of HikariCP timeouts in order", False),
    ],
)
def test_detect_negation(question: str, negated: bool) -> None:
    assert detect_negation(question) is negated


def test_minimal_pair_guard() -> None:
    assert (
        minimal_pair("when did the circuit breaker open", "when did the circuit breaker close")
        == "substitution"
    )
    assert (
        minimal_pair("latency of calls from order to payment", "latency of calls from payment to order")
        == "swap"
    )
    assert minimal_pair("why is order failing?", "WHY IS ORDER FAILING") is None
    assert minimal_pair("show all errors", "list every error") is None
    assert minimal_pair("how many refunds failed", "number of failed refunds") is None


# ------------------------------------------------------------------ gates
@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("why is order failing?", "WHY IS ORDER FAILING"),
        (
            "why is inventory throwing NullPointerException",
            "root cause of the NullPointerExceptions in inventory",
        ),
        ("Why is the payment service failing?", "what is causing the payment service failures"),
        ("TimeoutException while sending to kafka in payment", "payment service kafka send timeouts"),
        (
            "is payment running out of HikariCP connections",
            "Is the Hikari connection pool exhausted in payment?",
        ),
    ],
)
async def test_paraphrases_with_the_same_scope_hit(embedder: MiniLMEmbedder, a: str, b: str) -> None:
    h = Harness(embedder)
    await h.put(a, scope())
    result = await h.ask(b, scope(at=NOW + timedelta(minutes=2)))
    assert result.hit, result
    assert result.source_question == a
    assert result.similarity is not None and result.similarity >= DEFAULT_THRESHOLD
    assert result.response is not None and result.response["answer"] == f"answer to {a}"
    assert result.response["cache"] == {"hit": True, "similarity": result.similarity, "source_question": a}


@pytest.mark.parametrize(
    ("question_b", "scope_b"),
    [
        ("payment errors in the last 15 minutes", scope(("order",))),  # service
        ("payment errors in the last 15 minutes", scope(span=timedelta(hours=1))),  # window span
        ("payment errors in the last 15 minutes", scope(at=NOW + timedelta(minutes=20))),  # window bucket
        ("payment errors in the last 15 minutes", scope(trace_ids=("0af7651916cd43dd8448eb211c80319c",))),
        ("payment errors in the last 15 minutes", scope(levels=("WARN",))),
        ("payment errors in the last 15 minutes", scope(conversation_id="c-2")),
        ("payment errors in the last 15 minutes", scope(k=3)),
    ],
)
async def test_same_question_other_scope_misses_and_counts_gate2(
    embedder: MiniLMEmbedder, question_b: str, scope_b: Scope
) -> None:
    h = Harness(embedder)
    await h.put("payment errors in the last 15 minutes", scope())
    before = metric("loglens_qa_cache_gate2_rejections_total")
    result = await h.ask(question_b, scope_b)
    assert not result.hit and result.response is None
    assert result.gate2_rejected
    assert metric("loglens_qa_cache_gate2_rejections_total") == before + 1


async def test_negated_question_never_hits_its_positive_twin(embedder: MiniLMEmbedder) -> None:
    h = Harness(embedder, threshold=-1.0)  # gate 1 disabled: only gate 2 protects
    everywhere = scope(services=(), span=timedelta(hours=1))
    await h.put("which services are failing", everywhere)
    # the extractor forgot the negation: the cache detects it in the question itself
    assert not (await h.ask("which services are NOT failing", everywhere)).hit
    assert not (await h.ask("which services are failing", scope((), timedelta(hours=1), negated=True))).hit
    assert (await h.ask("which services are failing", everywhere)).hit


async def test_minimal_pair_with_same_scope_misses(embedder: MiniLMEmbedder) -> None:
    h = Harness(embedder)
    await h.put("when did the circuit breaker open in gateway?", scope(("gateway",)))
    before = metric("loglens_qa_cache_minimal_pair_rejections_total")
    result = await h.ask("when did the circuit breaker close in gateway?", scope(("gateway",)))
    assert not result.hit
    assert metric("loglens_qa_cache_minimal_pair_rejections_total") == before + 1


async def test_labelled_scope_differences_never_hit_even_without_gate1(embedder: MiniLMEmbedder) -> None:
    """Every `different` pair of the eval set that differs in scope misses whatever the threshold."""
    pairs = [p for p in load_pairs() if p.label == "different" and p.diff != "meaning"]
    assert len(pairs) >= 80
    vectors = embedder.embed([p.a.text for p in pairs] + [p.b.text for p in pairs])
    for i, p in enumerate(pairs):
        cache = QACache(InMemoryQACacheStore(), threshold=-1.0, minimal_pair_guard=False, model=embedder.name)
        await cache.store(p.a.text, vectors[i].tolist(), p.a.scope, {"answer": "x"}, p.a.asked_at)
        result = await cache.lookup(p.b.text, vectors[len(pairs) + i].tolist(), p.b.scope, p.b.asked_at)
        assert not result.hit, p.id


def test_labelled_set_is_large_balanced_and_well_formed() -> None:
    pairs = load_pairs(PAIRS_PATH)
    assert len(pairs) >= 200
    same = sum(p.same for p in pairs)
    assert 0.4 <= same / len(pairs) <= 0.6
    assert len({p.id for p in pairs}) == len(pairs)
    for p in pairs:
        assert p.label in {"same", "different"}
        if p.same:  # paraphrases carry identical scopes (up to the bucket)
            assert scope_key(p.a.scope) == scope_key(p.b.scope), p.id
        else:
            assert p.diff, p.id
            assert (scope_key(p.a.scope) == scope_key(p.b.scope)) == (p.diff == "meaning"), p.id


# ------------------------------------------------------------------ freshness
async def test_ttl_expiry_and_purge(embedder: MiniLMEmbedder) -> None:
    h = Harness(embedder, ttl_s=600, purge_interval_s=0)  # purge on every lookup
    await h.put("why is payment failing?", scope())
    assert (await h.ask("why is payment failing?", scope(), NOW + timedelta(seconds=599))).hit
    before = metric("loglens_qa_cache_invalidations_total", reason="ttl")
    later = NOW + timedelta(seconds=601)
    result = await h.ask("why is payment failing?", scope(at=NOW), later)
    assert not result.hit
    assert len(h.store) == 0  # purged at lookup
    assert metric("loglens_qa_cache_invalidations_total", reason="ttl") == before + 1


async def test_invalidation_by_new_events(embedder: MiniLMEmbedder) -> None:
    h = Harness(embedder)
    await h.put("payment errors", scope(("payment",)))  # 09:45 .. 10:05 coverage
    await h.put("order errors", scope(("order",)))
    await h.put("all errors", scope(()))  # every service
    await h.put(
        "payment errors yesterday", scope(("payment",), span=timedelta(hours=1), at=NOW - timedelta(days=1))
    )
    before = metric("loglens_qa_cache_invalidations_total", reason="events")
    removed = await h.cache.invalidate_for_events({"payment"}, NOW - timedelta(seconds=30), NOW)
    assert removed == 2  # "payment errors" and "all errors"
    assert sorted(e.question for e in h.store.entries.values()) == [
        "order errors",
        "payment errors yesterday",
    ]
    assert metric("loglens_qa_cache_invalidations_total", reason="events") == before + 2
    assert not (await h.ask("payment errors", scope(("payment",)))).hit
    # an event later in the same bucket still makes a relative window stale
    await h.put("payment errors", scope(("payment",)))
    assert (
        await h.cache.invalidate_for_events(
            {"payment"}, NOW + timedelta(minutes=3), NOW + timedelta(minutes=3)
        )
        == 1
    )
    # events of an unknown service invalidate every overlapping entry
    assert await h.cache.invalidate_for_events(set(), NOW - timedelta(minutes=1), NOW) == 1  # "order errors"


# ------------------------------------------------------------------ metrics and robustness
async def test_hit_and_miss_metrics(embedder: MiniLMEmbedder) -> None:
    h = Harness(embedder)
    hits, misses = metric("loglens_qa_cache_hits_total"), metric("loglens_qa_cache_misses_total")
    assert not (await h.ask("why is payment failing?", scope())).hit
    await h.put("why is payment failing?", scope())
    assert (await h.ask("why is payment failing?", scope())).hit
    assert metric("loglens_qa_cache_hits_total") == hits + 1
    assert metric("loglens_qa_cache_misses_total") == misses + 1


async def test_degraded_answers_are_not_cached_and_cache_field_is_dropped(embedder: MiniLMEmbedder) -> None:
    h = Harness(embedder)
    assert await h.put("why is payment failing?", scope(), degraded=True) is None
    assert len(h.store) == 0
    await h.put("why is payment failing?", scope(), cache={"hit": False})
    (entry,) = h.store.entries.values()
    assert "cache" not in entry.response


class BrokenStore(InMemoryQACacheStore):
    async def nearest(self, vector: Sequence[float], now: datetime, scope_key: str | None) -> Any:
        raise ConnectionError("opensearch down")


async def test_store_failure_is_a_miss(embedder: MiniLMEmbedder) -> None:
    cache = QACache(BrokenStore(), model=embedder.name)
    before = metric("loglens_qa_cache_errors_total", op="lookup")
    vec = embedder.embed(["x"])[0].tolist()
    assert not (await cache.lookup("x", vec, scope(), NOW)).hit
    assert metric("loglens_qa_cache_errors_total", op="lookup") == before + 1


# ------------------------------------------------------------------ OpenSearch adapter (fake client)
class FakeClient:
    def __init__(self, score: float) -> None:
        self.score = score
        self.bodies: list[dict[str, Any]] = []

    async def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        self.bodies.append(body)
        entry_scope = scope().normalized()
        src = {
            "question": "q",
            "scope_key": "k1",
            "scope": entry_scope.to_dict(),
            "response": {"answer": "a"},
            "created_at": NOW.isoformat(),
            "expires_at": (NOW + timedelta(minutes=10)).isoformat(),
            "coverage_until": NOW.isoformat(),
        }
        return {"hits": {"hits": [{"_id": "e1", "_score": self.score, "_source": src}]}}


async def test_opensearch_adapter_filters_on_scope_key_and_converts_score() -> None:
    client = FakeClient(score=0.95)  # lucene cosinesimil: (1 + cos) / 2
    store = OpenSearchQACacheStore(client)
    found = await store.nearest(list(np.ones(4) / 2), NOW, "k1")
    assert found is not None and found.similarity == pytest.approx(0.9)
    knn = client.bodies[0]["query"]["knn"]["vector"]
    filters = knn["filter"]["bool"]["filter"]
    assert {"term": {"scope_key": "k1"}} in filters
    assert any("range" in f and "expires_at" in f["range"] for f in filters)
    await store.nearest([0.5] * 4, NOW, None)
    assert all(
        "term" not in f for f in client.bodies[1]["query"]["knn"]["vector"]["filter"]["bool"]["filter"]
    )
