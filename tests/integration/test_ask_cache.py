"""The QA cache end to end: a repeated /ask is served from qa-cache; new events in its scope drop it."""

from __future__ import annotations

import json
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch

from loglens.config import Settings
from tests.conftest import count_topic_docs, produce_values, start_consumer, wait_until


def ask(base: str, body: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(
        f"{base}/ask", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def events(service: str, n: int, start: datetime) -> list[tuple[bytes, bytes]]:
    out = []
    for i in range(n):
        ev = {
            "@timestamp": (start + timedelta(seconds=i)).isoformat(timespec="milliseconds"),
            "service": service,
            "level": "ERROR",
            "logger_name": "com.acme.Billing",
            "message": f"Invoice {900 + i} could not be rendered",
        }
        out.append((service.encode(), json.dumps(ev).encode()))
    return out


async def test_repeat_is_cached_and_new_events_invalidate(
    stack: Settings, os_client: OpenSearch, ai_service: str, test_topic: str, tmp_path: Path
) -> None:
    service = "billing" + uuid.uuid4().hex[:6].translate(str.maketrans("0123456789", "ghijklmnop"))
    now = datetime.now(UTC)
    await produce_values(stack, test_topic, events(service, 5, now - timedelta(minutes=20)))
    consumer = start_consumer(stack, test_topic, tmp_path / "consumer.log")
    try:
        await wait_until(lambda: count_topic_docs(os_client, test_topic) >= 5, timeout=120)
        question = {"question": f"why can {service} not render invoices?", "service": service, "since": "1h"}
        first = ask(ai_service, question)
        assert first["cache"]["hit"] is False and first["citations"]
        os_client.indices.refresh(index="qa-cache")
        second = ask(ai_service, question)
        assert second["cache"]["hit"] is True
        assert second["cache"]["source_question"] == question["question"]
        assert second["answer"] == first["answer"]
        # New events of that service arrive: the consumer drops the cached answer.
        await produce_values(stack, test_topic, events(service, 3, now - timedelta(minutes=1)))
        await wait_until(lambda: count_topic_docs(os_client, test_topic) >= 8, timeout=120)
        await wait_until(lambda: "qa_cache_invalidated" in consumer.log_text(), timeout=30)
        os_client.indices.refresh(index="qa-cache")
        third = ask(ai_service, question)
        assert third["cache"]["hit"] is False
        assert "8 matching events" in third["answer"]
    finally:
        assert consumer.stop(timeout=20) == 0
