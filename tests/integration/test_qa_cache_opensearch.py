"""The QA cache against the real ``qa-cache`` index: store, hit, gate-2 rejection, expiry, invalidation.

The index is shared: every test uses its own uuid service name (in the scope and in the
question text) and deletes its entries at the end.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from opensearchpy import OpenSearch

from ai_service.cache import OpenSearchQACacheStore, QACache, Scope
from loglens.config import Settings
from loglens.embedding import MiniLMEmbedder
from loglens.indices import QA_CACHE_INDEX
from loglens.opensearch_client import async_client

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture()
async def store(os_client: OpenSearch, stack: Settings) -> AsyncIterator[OpenSearchQACacheStore]:
    client = async_client(stack)
    try:
        yield OpenSearchQACacheStore(client, refresh=True)
    finally:
        await client.close()


@pytest.fixture()
def service(os_client: OpenSearch) -> Any:
    name = f"it-svc-{uuid.uuid4().hex[:10]}"
    yield name
    hits = os_client.search(
        index=QA_CACHE_INDEX, body={"size": 1000, "_source": False, "query": {"term": {"services": name}}}
    )["hits"]["hits"]
    if hits:  # no _delete_by_query: the stack ships without the reindex module
        os_client.bulk(
            body=[{"delete": {"_index": QA_CACHE_INDEX, "_id": h["_id"]}} for h in hits], refresh=True
        )


def scope_for(service: str, now: datetime, **kw: Any) -> Scope:
    return Scope(
        services=(service,),
        levels=kw.pop("levels", ()),
        exceptions=(),
        trace_ids=(),
        window_since=now - timedelta(minutes=15),
        window_until=now,
        **kw,
    )


def vec(embedder: MiniLMEmbedder, text: str) -> list[float]:
    out: list[float] = embedder.embed([text])[0].tolist()
    return out


async def test_round_trip_hit_and_gate2_rejection(
    store: OpenSearchQACacheStore, embedder: MiniLMEmbedder, service: str
) -> None:
    cache = QACache(store, model=embedder.name)
    now = datetime.now(UTC)
    question = f"why is the {service} service failing?"
    miss = await cache.lookup(question, vec(embedder, question), scope_for(service, now), now)
    assert not miss.hit

    entry_id = await cache.store(
        question, vec(embedder, question), scope_for(service, now), {"answer": "pool"}, now
    )
    assert entry_id is not None
    paraphrase = f"what is causing the {service} service failures"
    hit = await cache.lookup(paraphrase, vec(embedder, paraphrase), scope_for(service, now), now)
    assert hit.hit, hit
    assert hit.source_question == question
    assert hit.similarity is not None and hit.similarity >= cache.threshold
    assert hit.response is not None and hit.response["answer"] == "pool" and hit.response["cache"]["hit"]

    # same question, other level: gate 2 refuses, and the unfiltered search notices
    other = await cache.lookup(
        question, vec(embedder, question), scope_for(service, now, levels=("WARN",)), now
    )
    assert not other.hit and other.gate2_rejected


async def test_expired_entries_are_not_served_and_purged(
    store: OpenSearchQACacheStore, embedder: MiniLMEmbedder, service: str, os_client: OpenSearch
) -> None:
    cache = QACache(store, model=embedder.name, ttl_s=60, purge_interval_s=0)
    then = datetime.now(UTC) - timedelta(minutes=5)
    question = f"HikariCP pool timeouts in {service}"
    await cache.store(question, vec(embedder, question), scope_for(service, then), {"answer": "old"}, then)
    assert (await cache.lookup(question, vec(embedder, question), scope_for(service, then), then)).hit
    later = then + timedelta(seconds=61)
    assert not (await cache.lookup(question, vec(embedder, question), scope_for(service, then), later)).hit
    left = os_client.count(index=QA_CACHE_INDEX, body={"query": {"term": {"services": service}}})["count"]
    assert left == 0  # purged by the lookup


async def test_invalidation_by_new_events(
    store: OpenSearchQACacheStore, embedder: MiniLMEmbedder, service: str
) -> None:
    cache = QACache(store, model=embedder.name)
    now = datetime.now(UTC)
    question = f"errors in {service} in the last 15 minutes"
    await cache.store(question, vec(embedder, question), scope_for(service, now), {"answer": "x"}, now)
    # events of another service or long before the window change nothing
    assert await cache.invalidate_for_events({f"{service}-other"}, now - timedelta(minutes=1), now) == 0
    assert await cache.invalidate_for_events({service}, now - timedelta(days=2), now - timedelta(days=1)) == 0
    assert (await cache.lookup(question, vec(embedder, question), scope_for(service, now), now)).hit
    # new events of this service inside the window drop the entry
    assert await cache.invalidate_for_events({service}, now - timedelta(seconds=5), now) == 1
    assert not (await cache.lookup(question, vec(embedder, question), scope_for(service, now), now)).hit
