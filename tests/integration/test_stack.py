"""Integration tests of the real local stack (Kafka KRaft + OpenSearch with k-NN).

They call :func:`loglens.stack.manager.up` (idempotent: reuses running servers) and
never stop the stack, since other integration tests share it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from loglens.config import Settings, get_settings
from loglens.stack import kafka, manager, opensearch

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def settings() -> Settings:
    s = get_settings()
    manager.up(s, progress=False)
    return s


def test_status_reports_both_running(settings: Settings) -> None:
    st = manager.status(settings)
    assert st["all_up"] is True, st
    for name in ("kafka", "opensearch"):
        assert st[name]["state"] == "running"
        assert isinstance(st[name]["pid"], int)
    assert st["opensearch"]["health"] in ("green", "yellow")


def test_second_up_is_fast_and_reuses_pids(settings: Settings) -> None:
    before = manager.status(settings)
    t0 = time.monotonic()
    manager.up(settings, progress=False)
    elapsed = time.monotonic() - t0
    after = manager.status(settings)
    assert elapsed < 10, f"second up took {elapsed:.1f}s"
    assert after["kafka"]["pid"] == before["kafka"]["pid"]
    assert after["opensearch"]["pid"] == before["opensearch"]["pid"]


def test_topics_exist(settings: Settings) -> None:
    topics = kafka.describe_topics(settings, [settings.topic, settings.dlq_topic])
    assert topics.get(settings.topic) == settings.topic_partitions
    assert topics.get(settings.dlq_topic, 0) >= 1


def test_kafka_probe_roundtrip(settings: Settings) -> None:
    kafka.probe(settings, timeout_s=20)


def test_knn_plugin_loaded(settings: Settings) -> None:
    assert "opensearch-knn" in opensearch.plugins(settings)


@pytest.fixture
def knn_index(settings: Settings) -> Iterator[str]:
    name = f"loglens-stack-test-{uuid.uuid4().hex[:8]}"
    body: dict[str, Any] = {
        "settings": {"index": {"knn": True, "number_of_shards": 1, "number_of_replicas": 0}},
        "mappings": {
            "properties": {
                "msg": {"type": "keyword"},
                "vec": {
                    "type": "knn_vector",
                    "dimension": 4,
                    "method": {"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil"},
                },
            }
        },
    }
    opensearch.request(settings, "PUT", f"/{name}", body)
    try:
        yield name
    finally:
        opensearch.request(settings, "DELETE", f"/{name}")


def test_knn_index_and_query(settings: Settings, knn_index: str) -> None:
    docs = {
        "a": [1.0, 0.0, 0.0, 0.0],
        "b": [0.0, 1.0, 0.0, 0.0],
        "c": [0.9, 0.1, 0.0, 0.0],
    }
    for doc_id, vec in docs.items():
        opensearch.request(settings, "PUT", f"/{knn_index}/_doc/{doc_id}", {"msg": doc_id, "vec": vec})
    opensearch.request(settings, "POST", f"/{knn_index}/_refresh")
    mapping = opensearch.request(settings, "GET", f"/{knn_index}/_mapping")
    assert mapping[knn_index]["mappings"]["properties"]["vec"]["type"] == "knn_vector"
    res = opensearch.request(
        settings,
        "POST",
        f"/{knn_index}/_search",
        {"size": 2, "query": {"knn": {"vec": {"vector": [1.0, 0.05, 0.0, 0.0], "k": 2}}}},
    )
    hits = [h["_id"] for h in res["hits"]["hits"]]
    assert hits == ["a", "c"], res
