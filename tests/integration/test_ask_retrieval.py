"""/ask retrieval on the real OpenSearch: the asked instance is cited, a template once unless named.

Lines in the style of HDFS go through Kafka → consumer → OpenSearch under a service of their own;
then :func:`retrieve` (what /ask cites) runs with the real search adapter and embedder.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from opensearchpy import OpenSearch

from ai_service.chat.service import cited_hits, retrieve
from ai_service.search.opensearch_search import OpenSearchSearch, SearchFilters
from loglens.config import Settings
from loglens.embedding import build_embedder
from loglens.opensearch_client import async_client
from tests.conftest import count_topic_docs, produce_values, start_consumer, wait_until


def block(i: int) -> str:
    return f"blk_-{7000000000000 + i * 7919}"


def lines() -> list[str]:
    out = []
    for i in range(12):
        out.append(f"Received block {block(i)} of size 67108864 from /10.250.{i}.{40 + i}")
        out.append(f"PacketResponder {i % 3} for block {block(i)} terminating")
    for i in range(6):
        out.append(f"Deleting block {block(i)} file /mnt/hadoop/dfs/data/current/subdir{i}/{block(i)}")
    return out


async def test_retrieval_cites_the_asked_instance_and_each_template_once(
    stack: Settings, os_client: OpenSearch, test_topic: str, tmp_path: Path
) -> None:
    service = "hdfs" + uuid.uuid4().hex[:6].translate(str.maketrans("0123456789", "ghijklmnop"))
    start = datetime.now(UTC) - timedelta(minutes=10)
    values = []
    for i, message in enumerate(lines()):
        event = {
            "@timestamp": (start + timedelta(seconds=i)).isoformat(timespec="milliseconds"),
            "service": service,
            "level": "INFO",
            "logger_name": "dfs.DataNode",
            "message": message,
        }
        values.append((service.encode(), json.dumps(event).encode()))
    await produce_values(stack, test_topic, values)
    consumer = start_consumer(stack, test_topic, tmp_path / "consumer.log")
    try:
        await wait_until(lambda: count_topic_docs(os_client, test_topic) >= len(values), timeout=180)
    finally:
        assert consumer.stop(timeout=20) == 0, consumer.log_text()[-2000:]
    os_client.indices.refresh(index="log-templates")

    embedder = build_embedder(stack)
    client = async_client(stack)
    search = OpenSearchSearch(client)
    filters = SearchFilters(services=[service])

    async def ask(question: str) -> list[str]:
        vector = embedder.embed([question])[0].tolist()
        groups = await retrieve(search, question, vector, filters, 10, 30)
        return [str(h.source["message"]) for h in cited_hits(groups, 10)]

    try:
        # The catalog's matches come with their similarity, best first, in this service's scope.
        vector = embedder.embed(["which block was deleted?"])[0].tolist()
        matches = await search.template_matches(vector, filters, 10)
        assert matches and [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)

        # A question naming one block: that block's line first, not another line of the template.
        cited = await ask(f"Where was the block {block(7)} received from?")
        assert cited[0] == f"Received block {block(7)} of size 67108864 from /10.250.7.47", cited

        # Naming no instance: one line per template, never the same kind of event three times.
        cited = await ask("What size were the received blocks?")
        received = [m for m in cited if m.startswith("Received block")]
        assert len(received) == 1 and len(set(cited)) == len(cited), cited

        # Naming two instances of one template: both lines are cited.
        cited = await ask(f"Where were {block(3)} and {block(5)} received from?")
        named = {f"Received block {block(i)} of size 67108864 from /10.250.{i}.{40 + i}" for i in (3, 5)}
        assert named <= set(cited), cited
    finally:
        await client.close()
