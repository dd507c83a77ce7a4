"""One flow through every real part: Kafka → consumer process → OpenSearch → k-NN and /ask."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch

from loglens.config import Settings
from loglens.embedding import build_embedder
from tests.conftest import (
    committed_total,
    count_topic_docs,
    produce_values,
    read_dead_letters,
    start_consumer,
    wait_committed,
    wait_until,
)

STACK = (
    "java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, "
    "request timed out after 30000ms.\n"
    "\tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)\n"
    "\tat com.acme.payment.service.PaymentService.charge(PaymentService.java:87)\n"
    "\tat org.springframework.aop.framework.ReflectiveMethodInvocation.proceed(ReflectiveMethodInvocation.java:186)\n"
)


def make_events(n: int, now: datetime, tag: str = "") -> list[dict[str, Any]]:
    """``tag`` (letters only, so never masked) makes this run's templates its own."""
    events = []
    for i in range(n):
        ts = (now - timedelta(seconds=n - i)).isoformat(timespec="milliseconds")
        trace = f"{i:032x}"
        if i % 10 == 0:
            events.append(
                {
                    "@timestamp": ts,
                    "@version": "1",
                    "service": "payment",
                    "level": "ERROR",
                    "level_value": 40000,
                    "logger_name": "com.acme.payment.service.PaymentService",
                    "thread_name": f"http-nio-8080-exec-{i % 8}",
                    "message": f"Payment {1000 + i} failed: could not obtain JDBC connection{tag}",
                    "stack_trace": STACK,
                    "traceId": trace,
                    "spanId": f"{i:016x}",
                }
            )
        else:
            events.append(
                {
                    "@timestamp": ts,
                    "@version": "1",
                    "service": "order",
                    "level": "INFO",
                    "level_value": 20000,
                    "logger_name": "com.acme.order.web.OrderController",
                    "thread_name": f"http-nio-8080-exec-{i % 8}",
                    "message": f"Received POST /api/orders for customer {4000 + i}",
                    "traceId": trace,
                    "spanId": f"{i:016x}",
                }
            )
    return events


async def test_events_flow_to_opensearch_with_vectors_and_are_found(
    stack: Settings, os_client: OpenSearch, ai_service: str, test_topic: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    tag = " run " + "".join(chr(97 + int(c, 16)) for c in test_topic[3:])
    events = make_events(60, now, tag)
    bad = [b"{this is not json", b"\xff\xfe not utf-8"]
    await produce_values(
        stack,
        test_topic,
        [(ev["service"].encode(), json.dumps(ev).encode()) for ev in events] + [(b"payment", v) for v in bad],
    )
    group = f"g-{test_topic}"
    consumer = start_consumer(stack, test_topic, tmp_path / "consumer.log")
    try:
        await wait_until(lambda: count_topic_docs(os_client, test_topic) >= len(events), timeout=180)
        dead = await read_dead_letters(stack, test_topic, expected=len(bad))
    finally:
        started = time.monotonic()
        code = consumer.stop(timeout=20)
        stop_seconds = time.monotonic() - started
    log_text = consumer.log_text()
    assert code == 0, log_text[-3000:]
    assert stop_seconds < 10, f"SIGTERM took {stop_seconds:.1f}s"

    # Nothing lost, nothing twice: indexed + dead-lettered == produced, one doc per offset.
    assert count_topic_docs(os_client, test_topic) == len(events)
    assert sorted(h["loglens.reason"] for _, h in dead) == [b"bad_encoding", b"malformed_json"]

    # Offsets committed for everything handled.
    assert await committed_total(stack, group, test_topic) == len(events) + len(bad)

    # Stored with its vector (384-d), template and exception fields.
    resp = os_client.search(
        index="log-events",
        body={
            "size": 1,
            "query": {
                "bool": {"filter": [{"term": {"kafka.topic": test_topic}}, {"term": {"level": "ERROR"}}]}
            },
        },
    )
    doc = resp["hits"]["hits"][0]["_source"]
    assert len(doc["vector"]) == 384
    assert doc["exception"]["class"] == "java.sql.SQLTransientConnectionException"
    assert doc["exception"]["top_app_frame"] == "com.acme.payment.service.PaymentService.charge"
    assert doc["template"].startswith("Payment <*> failed")
    assert resp["hits"]["hits"][0]["_id"].startswith(f"{test_topic}-")

    # The template catalog counts each template once per event.
    template_id = doc["template_id"]
    os_client.indices.refresh(index="log-templates")
    entry = os_client.get(index="log-templates", id=template_id)["_source"]
    assert entry["count"] == 6 and entry["services"] == ["payment"] and entry["levels"] == ["ERROR"]
    assert entry["exception_class"] == "java.sql.SQLTransientConnectionException"
    assert len(entry["example_ids"]) == 5 and len(entry["vector"]) == 384

    # Re-delivery (a second group reads the same records again): no new documents, no double counts.
    again = start_consumer(
        stack, test_topic, tmp_path / "consumer2.log", LOGLENS_CONSUMER_GROUP=f"g2-{test_topic}"
    )
    try:
        await wait_committed(stack, f"g2-{test_topic}", test_topic, len(events) + len(bad), timeout=120)
    finally:
        assert again.stop(timeout=20) == 0, again.log_text()[-2000:]
    assert count_topic_docs(os_client, test_topic) == len(events)
    os_client.indices.refresh(index="log-templates")
    assert os_client.get(index="log-templates", id=template_id)["_source"]["count"] == 6

    # A k-NN query with the embedding of a paraphrase finds the payment errors first.
    embedder = build_embedder(stack)
    query_vec = embedder.embed(["payment could not get a database connection"])[0].tolist()
    knn = os_client.search(
        index="log-events",
        body={
            "size": 5,
            "query": {
                "knn": {
                    "vector": {"vector": query_vec, "k": 5, "filter": {"term": {"kafka.topic": test_topic}}}
                }
            },
        },
    )
    top = knn["hits"]["hits"][0]["_source"]
    assert top["service"] == "payment" and top["level"] == "ERROR"

    # /ask on the real AI service cites those events.
    body = json.dumps(
        {
            "question": f"why are payments failing with JDBC connection errors in{tag}?",
            "service": "payment",
            "since": "2h",
        }
    ).encode()
    req = urllib.request.Request(f"{ai_service}/ask", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        answer = json.loads(r.read())
    cited = [c for c in answer["citations"] if c["id"].startswith(f"{test_topic}-")]
    assert cited, answer
    assert cited[0]["service"] == "payment"
    assert "SQLTransientConnectionException" in answer["answer"]
    assert answer["searched"]["filters"]["service"] == ["payment"]
