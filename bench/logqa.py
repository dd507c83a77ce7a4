"""LogQA retrieval and answer evaluation, shared by ``bench/bench_logqa.py`` and the eval test.

Each system's 2k log lines go through the real pipeline (Kafka → consumer → OpenSearch) once,
under service ``logqa-<system>`` on topic ``logqa-<system>``; then every question is asked with
BM25 only, k-NN only and the hybrid the product uses (RRF, then one citation per template).
The evidence of a question is any event whose message is its ``RawLog`` line.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ai_service.chat.service import citation_for, cited_hits, evidence_answer, retrieve
from ai_service.search.opensearch_search import Hit, OpenSearchSearch, SearchFilters
from loglens.config import Settings
from loglens.embedding.base import Embedder
from loglens.timewindow import Window

SYSTEMS = ("HDFS", "OpenSSH", "Spark")
MODES = ("bm25", "knn", "hybrid")
KS = (1, 5, 10)
FETCH = 50


def datasets_dir() -> Path:
    env = os.environ.get("LOGLENS_DATASETS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "datasets"


def load_qa(system: str, split: str) -> list[dict[str, str]]:
    """``train`` or ``val`` (Spark has no val upstream: its last 15% of train is used)."""
    base = datasets_dir() / "logqa" / system
    if system == "Spark" and split in ("val", "train"):
        items = [json.loads(x) for x in (base / "qa.json.train").read_text().splitlines() if x.strip()]
        cut = int(len(items) * 0.85)
        return items[cut:] if split == "val" else items[:cut]
    return [json.loads(x) for x in (base / f"qa.json.{split}").read_text().splitlines() if x.strip()]


def load_lines(system: str) -> list[dict[str, str]]:
    path = datasets_dir() / "logqa" / system / f"{system}_2k.log_structured.csv"
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def service_of(system: str) -> str:
    return f"logqa-{system.lower()}"


def events_for(system: str) -> list[dict[str, Any]]:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    events = []
    for i, row in enumerate(load_lines(system)):
        level = (row.get("Level") or "INFO").upper()
        events.append(
            {
                "@timestamp": (base + timedelta(seconds=i)).isoformat(timespec="milliseconds"),
                "service": service_of(system),
                "level": {"WARNING": "WARN"}.get(level, level),
                "logger_name": row.get("Component", ""),
                "message": row["Content"],
            }
        )
    return events


def _count(settings: Settings, topic: str) -> int:
    from opensearchpy.exceptions import NotFoundError

    from loglens.opensearch_client import sync_client

    client = sync_client(settings)
    try:
        client.indices.refresh(index="log-events")
        return int(
            client.count(index="log-events", body={"query": {"term": {"kafka.topic": topic}}})["count"]
        )
    except NotFoundError:
        return 0
    finally:
        client.close()


async def ensure_indexed(settings: Settings, system: str, log_dir: Path) -> str:
    """Index the system's lines through Kafka and a real consumer process, once (ids are stable)."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    topic = service_of(system)
    events = events_for(system)
    if _count(settings, topic) >= len(events):
        return topic
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
            producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
            await producer.start()
            try:
                for event in events:
                    await producer.send(topic, json.dumps(event).encode(), key=event["service"].encode())
                await producer.flush()
            finally:
                await producer.stop()
    finally:
        await admin.close()
    env = {
        **os.environ,
        "LOGLENS_TOPIC": topic,
        "LOGLENS_CONSUMER_GROUP": f"g-{topic}",
        "LOGLENS_CONSUMER_METRICS_PORT": "0",
    }
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / f"{topic}-consumer.log", "wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "consumers.log_embedder"],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 300
        while _count(settings, topic) < len(events):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"indexing {system} did not finish; see {log_dir}")
            await asyncio.sleep(1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return topic


@dataclass
class Scores:
    n: int = 0
    hits_at: dict[int, int] = field(default_factory=lambda: {k: 0 for k in KS})
    rr_sum: float = 0.0

    def add(self, rank: int | None) -> None:
        self.n += 1
        if rank is not None:
            self.rr_sum += 1.0 / rank
            for k in KS:
                if rank <= k:
                    self.hits_at[k] += 1

    def recall(self, k: int) -> float:
        return self.hits_at[k] / self.n if self.n else 0.0

    @property
    def mrr(self) -> float:
        return self.rr_sum / self.n if self.n else 0.0


def first_rank(hits: Sequence[Hit], evidence: str) -> int | None:
    for i, hit in enumerate(hits, 1):
        if hit.source.get("message") == evidence:
            return i
    return None


@dataclass
class SystemResult:
    system: str
    questions: int
    scores: dict[str, Scores]
    answer_contains: int


async def evaluate(client: Any, embedder: Embedder, system: str, qa: list[dict[str, str]]) -> SystemResult:
    search = OpenSearchSearch(client)
    filters = SearchFilters(services=[service_of(system)])
    scores = {mode: Scores() for mode in MODES}
    contains = 0
    vectors = await asyncio.to_thread(embedder.embed, [item["Question"] for item in qa])
    for item, vector in zip(qa, vectors, strict=True):
        bm25, knn = await asyncio.gather(
            search.bm25(item["Question"], filters, FETCH), search.knn(vector.tolist(), filters, FETCH)
        )
        groups = await retrieve(search, item["Question"], vector.tolist(), filters, 10, FETCH)
        scores["bm25"].add(first_rank(bm25, item["RawLog"]))
        scores["knn"].add(first_rank(knn, item["RawLog"]))
        scores["hybrid"].add(first_rank(cited_hits(groups, 10), item["RawLog"]))
        top = groups[:10]
        citations = [citation_for(h) for h in cited_hits(top, 10)]
        answer = evidence_answer(top, citations, Window(None, datetime.now(UTC)), filters, {})
        if item["Answer"].lower() in answer.lower():
            contains += 1
    return SystemResult(system, len(qa), scores, contains)
