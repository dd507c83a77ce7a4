"""LogQA retrieval and answer evaluation, shared by ``bench/bench_logqa.py`` and the eval test.

Each system's 2k log lines go through the real pipeline (Kafka → consumer → OpenSearch) once,
under service ``logqa-<system>`` on topic ``logqa-<system>``; then every question is asked with
BM25 only, k-NN only and the hybrid the product uses (:func:`ai_service.chat.service.retrieve`,
i.e. what ``/ask`` cites).

Two ways to count a hit, both for every mode:

- *exact*: an event whose message is the question's ``RawLog`` line;
- *equivalent*: that, or another line of the same LogPAI template (the dataset's ``EventId``)
  that the question cannot tell apart from the ``RawLog``: wherever a variable part of the
  ``RawLog`` holds words of the question, the line's same part holds the same ones.
  "What is the blockMap updated to?" names no block and no host, so its gold line is one of 300
  ``addStoredBlock`` lines picked by the annotators; every other one answers it as well. "What
  stage was task 5.0 in?" still needs a ``task 5.0`` line, "... blk_-42 ..." that very block.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import re
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
START = datetime(2026, 1, 1, tzinfo=UTC)  # the lines are stamped one second apart from here
# The answer's scope names its window's end: a fixed one keeps "contains" the same run to run
# (with the clock in it, a gold answer such as "20" could match the time of day).
WINDOW = Window(None, START + timedelta(days=1))


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


@dataclass(frozen=True, slots=True)
class LogLine:
    """A line as the dataset parsed it: its LogPAI template id and the values of its ``<*>``."""

    event_id: str
    params: tuple[str, ...]


def parse_line(content: str, event_id: str, template: str) -> LogLine:
    pattern = "^" + "(.*?)".join(re.escape(part) for part in template.split("<*>")) + "$"
    found = re.match(pattern, content, re.S)
    if found is None:  # never on these datasets; such a line is only ever equal to itself
        return LogLine(f"{event_id}:{content}", ())
    return LogLine(event_id, tuple(found.groups()))


def parsed_lines(system: str) -> dict[str, LogLine]:
    """Each distinct line's template and variable values, from the dataset's own parse (its
    ``EventId`` and ``EventTemplate`` columns), not LogLens's miner."""
    return {
        row["Content"]: parse_line(row["Content"], row["EventId"], row["EventTemplate"])
        for row in load_lines(system)
    }


def service_of(system: str) -> str:
    return f"logqa-{system.lower()}"


def events_for(system: str) -> list[dict[str, Any]]:
    base = START
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


_WORD = re.compile(r"\d+(?:\.\d+)+|[a-z0-9]+")


def words(text: str) -> set[str]:
    """Lower-case alphanumeric words, dotted numbers kept whole ("5.0" is not "15.0", an IP is
    one word); "blk_-42" gives "blk" and "42", as LogPAI's template may keep "blk_" as text."""
    return set(_WORD.findall(text.lower()))


def equivalent(question: str, evidence: str, message: str, lines: dict[str, LogLine]) -> bool:
    """``message`` answers ``question`` as well as the gold ``evidence`` line does: it is that line,
    or a line of the same template whose variable values hold the question's words wherever the
    evidence's do. For "What stage was task 5.0 in?" and gold "Finished task 5.0 in stage 29.0":
    "task 5.0 in stage 28.0" and "task 5.0 in stage 5.0" are equivalent, "task 15.0 in stage
    5.0" is not; for "What is the blockMap updated to?" every ``addStoredBlock`` line is."""
    if message == evidence:
        return True
    gold, other = lines.get(evidence), lines.get(message)
    if gold is None or other is None or gold.event_id != other.event_id:
        return False
    asked = words(question)
    for gold_value, other_value in zip(gold.params, other.params, strict=True):
        named = asked & words(gold_value)
        if named and named != asked & words(other_value):
            return False
    return True


def first_equivalent_rank(
    hits: Sequence[Hit], question: str, evidence: str, lines: dict[str, LogLine]
) -> int | None:
    for i, hit in enumerate(hits, 1):
        if equivalent(question, evidence, str(hit.source.get("message", "")), lines):
            return i
    return None


@dataclass
class SystemResult:
    system: str
    questions: int
    scores: dict[str, Scores]  # exact line
    answer_contains: int
    equivalent: dict[str, Scores] = field(default_factory=dict)  # exact or equivalent line
    ambiguous: int = 0  # questions whose RawLog has other, equivalent lines in the data
    bm25_missed_unambiguous: int = 0  # the others that BM25's top 5 misses (exact line)


def equivalent_lines(question: str, evidence: str, lines: dict[str, LogLine]) -> int:
    """How many distinct indexed lines answer the question as well as its ``RawLog``."""
    return sum(1 for line in lines if equivalent(question, evidence, line, lines))


async def evaluate(client: Any, embedder: Embedder, system: str, qa: list[dict[str, str]]) -> SystemResult:
    search = OpenSearchSearch(client)
    filters = SearchFilters(services=[service_of(system)])
    scores = {mode: Scores() for mode in MODES}
    equiv = {mode: Scores() for mode in MODES}
    lines = parsed_lines(system)
    contains = ambiguous = missed_unambiguous = 0
    vectors = await asyncio.to_thread(embedder.embed, [item["Question"] for item in qa])
    for item, vector in zip(qa, vectors, strict=True):
        bm25, knn = await asyncio.gather(
            search.bm25(item["Question"], filters, FETCH), search.knn(vector.tolist(), filters, FETCH)
        )
        groups = await retrieve(search, item["Question"], vector.tolist(), filters, 10, FETCH)
        ranked = {"bm25": bm25, "knn": knn, "hybrid": cited_hits(groups, 10)}
        for mode, hits in ranked.items():
            scores[mode].add(first_rank(hits, item["RawLog"]))
            equiv[mode].add(first_equivalent_rank(hits, item["Question"], item["RawLog"], lines))
        bm25_rank = first_rank(bm25, item["RawLog"])
        if equivalent_lines(item["Question"], item["RawLog"], lines) > 1:
            ambiguous += 1
        elif bm25_rank is None or bm25_rank > 5:
            missed_unambiguous += 1
        top = groups[:10]
        citations = [citation_for(h) for h in cited_hits(top, 10)]
        answer = evidence_answer(top, citations, WINDOW, filters, {})
        if item["Answer"].lower() in answer.lower():
            contains += 1
    return SystemResult(system, len(qa), scores, contains, equiv, ambiguous, missed_unambiguous)
