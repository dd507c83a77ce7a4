"""Ingestion throughput on the demo generator's realistic mix (issue 4), all in one run.

    python -m bench.bench_ingest [--events 200000]

1. Produce N demo events to a fresh 6-partition topic.
2. Consumer alone, null sink: an in-process LogEmbedder (real Kafka fetch, parse, template,
   embed with the cached local model) whose sink drops the documents — events/s and CPU seconds.
3. Ceiling: the very documents of step 2 (vectors precomputed) bulk-indexed straight into a
   scratch index with the log-events mapping — events/s.
4. Full pipeline: a real consumer process on the topic (consume → parse → template → embed →
   bulk → catalog → commit) — events/s from its first to its last commit, and its peak RSS.
Needs the stack (`loglens stack up`). Writes the `ingest` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.record import machine, record_section, today
from consumers.log_embedder.consumer import LogEmbedder, tune_gc
from consumers.log_embedder.pipeline import IndexAction
from consumers.log_embedder.sink import ItemFailure, OpenSearchSink
from loglens.config import Settings, get_settings
from loglens.demo.generator import TrafficGenerator
from loglens.demo.producer import produce_events
from loglens.embedding import build_embedder
from loglens.embedding.cache import CachedEmbedder
from loglens.indices import index_templates
from loglens.kafka_admin import committed_total
from loglens.logging_setup import configure_logging
from loglens.mining import TemplateMiner
from loglens.opensearch_client import async_client


class CollectSink:
    """Keeps the documents (for the ceiling run) instead of indexing them."""

    def __init__(self) -> None:
        self.actions: list[IndexAction] = []

    async def write(self, actions: Any) -> list[ItemFailure]:
        self.actions.extend(actions)
        return []

    async def write_catalog(self, body: str) -> list[str]:
        return []


async def committed(settings: Settings, group: str, topic: str) -> int:
    return await committed_total(settings.kafka_bootstrap, group, topic)


@dataclass
class NullRun:
    wall: float
    cpu: float
    steady_events: int  # events committed after the first tenth (caches warm)
    steady_cpu: float
    embedder: CachedEmbedder
    actions: list[IndexAction]


async def null_sink_run(settings: Settings, topic: str, n: int) -> NullRun:
    s = settings.model_copy(update={"topic": topic, "consumer_group": f"null-{topic}"})
    embedder = CachedEmbedder(build_embedder(s))
    sink = CollectSink()
    worker = LogEmbedder(s, embedder, sink, miner=TemplateMiner())
    await worker.start()
    tune_gc()  # as the consumer process does (consumers/log_embedder/app.py)
    cpu0, t0 = time.process_time(), time.perf_counter()
    runner = asyncio.create_task(worker.run())
    mark: tuple[int, float] | None = None
    # The worker's own committed positions (the topic is fresh, so they sum to the records done):
    # asking the broker every poll would put the harness's admin clients into the measured CPU.
    while (done := worker.committed_records()) < n:
        if mark is None and done >= n // 10:
            mark = (done, time.process_time())
        await asyncio.sleep(0.2)
    end_cpu = time.process_time()
    wall, cpu = time.perf_counter() - t0, end_cpu - cpu0
    if mark is None:
        mark = (0, cpu0)
    worker.request_stop()
    await runner
    await worker.stop()
    return NullRun(wall, cpu, n - mark[0], end_cpu - mark[1], embedder, sink.actions)


async def ceiling_run(settings: Settings, actions: list[IndexAction], batch: int) -> float:
    """Bulk the documents as they are (vectors already made) into scratch indices split by day
    exactly as the consumer splits them into `log-events-YYYY.MM.DD`, each batch as the same
    number of concurrent bulk requests as the consumer sends; seconds until refreshed."""
    client = async_client(settings.model_copy(update={"opensearch_timeout_s": 300.0}))
    sink = OpenSearchSink(client, concurrency=settings.consumer_bulk_concurrency)
    prefix = f"bench-ceiling-{uuid.uuid4().hex[:8]}-"
    body = index_templates(settings)["loglens-log-events"]["template"]
    for day in sorted({a.index for a in actions}):
        await client.indices.create(
            index=prefix + day, body={"settings": body["settings"], "mappings": body["mappings"]}
        )
    try:
        t0 = time.perf_counter()
        for start in range(0, len(actions), batch):
            chunk = [
                IndexAction(prefix + a.index, a.doc_id, a.doc, a.record, a.vector_json)
                for a in actions[start : start + batch]
            ]
            if await sink.write(chunk):
                raise RuntimeError("ceiling bulk had item errors")
        await client.indices.refresh(index=prefix + "*")
        return time.perf_counter() - t0
    finally:
        await client.indices.delete(index=prefix + "*")
        await client.close()


def peak_rss_mib(pid: int) -> tuple[float, float]:
    values = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS", "VmHWM")):
                key, val = line.split(":")
                values[key] = int(val.split()[0]) / 1024
    return values.get("VmRSS", float("nan")), values.get("VmHWM", float("nan"))


async def full_pipeline_run(settings: Settings, topic: str, n: int) -> tuple[float, float, float]:
    group = f"full-{topic}"
    env = {
        **os.environ,
        "LOGLENS_TOPIC": topic,
        "LOGLENS_CONSUMER_GROUP": group,
        "LOGLENS_CONSUMER_METRICS_PORT": "0",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "consumers.log_embedder"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        first_seen = None
        while True:
            done = await committed(settings, group, topic)
            if done > 0 and first_seen is None:
                first_seen = (time.perf_counter(), done)
            if done >= n:
                break
            if proc.poll() is not None:
                raise RuntimeError("consumer exited")
            await asyncio.sleep(0.25)
        assert first_seen is not None
        wall = time.perf_counter() - first_seen[0]
        rss, hwm = peak_rss_mib(proc.pid)
        return (n - first_seen[1]) / wall, rss, hwm
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def warm_up_opensearch(settings: Settings, actions: list[IndexAction], n: int = 20_000) -> None:
    """Index some documents into a throwaway index first, so the ceiling is not measured on a
    cold JVM (JIT) while the full pipeline, which runs later, gets a warm one."""
    await ceiling_run(settings, actions[:n], settings.consumer_batch_max)


async def main_async(args: argparse.Namespace) -> int:
    settings = get_settings()
    configure_logging(settings.log_level, service="bench_ingest", build=settings.build)
    topic = f"bench-ingest-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])
    try:
        gen = TrafficGenerator(seed=42, start=datetime.now(UTC) - timedelta(hours=12), rate=50.0)
        t0 = time.perf_counter()
        sent = await produce_events(gen.events(args.events), settings.kafka_bootstrap, topic, progress=False)
        produce_s = time.perf_counter() - t0
        print(f"produced {sent} events in {produce_s:.1f}s")

        null = await null_sink_run(settings, topic, sent)
        embedder, actions = null.embedder, null.actions
        null_rate, per_core = sent / null.wall, sent / null.cpu
        steady_per_core = null.steady_events / null.steady_cpu
        calls_per_event = embedder.model_calls / sent
        print(
            f"null sink: {null_rate:.0f} ev/s wall, {per_core:.0f} ev/s per CPU-second "
            f"({steady_per_core:.0f} after the first tenth); "
            f"{embedder.model_calls} model calls, {len(embedder)} unique texts, hit ratio {embedder.hit_ratio:.4f}"
        )

        await warm_up_opensearch(settings, actions)
        ceiling_s = await ceiling_run(settings, actions, settings.consumer_batch_max)
        ceiling = len(actions) / ceiling_s
        print(
            f"ceiling (precomputed vectors, batch {settings.consumer_batch_max} as "
            f"{settings.consumer_bulk_concurrency} bulks): {ceiling:.0f} ev/s"
        )
        del actions

        full, rss, hwm = await full_pipeline_run(settings, topic, sent)
        print(
            f"full pipeline: {full:.0f} ev/s = {full / ceiling:.2f} of the ceiling; consumer RSS {rss:.0f} MiB "
            f"(peak {hwm:.0f} MiB)"
        )
    finally:
        await admin.delete_topics([topic])
        await admin.close()
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    record_section(
        "ingest",
        f"""## Ingestion throughput (issue 4)

`python -m bench.bench_ingest --events {args.events}` — {today()}, {machine()}.
Demo-traffic mix (seed 42, 5 services, ~100 message templates plus stack traces), 6 partitions,
Kafka + OpenSearch + consumer all on this machine; local MiniLM embedder behind the text cache;
batches of {settings.consumer_batch_max}, each sent as {settings.consumer_bulk_concurrency} concurrent bulk requests by both the
consumer and the ceiling loop. OpenSearch is warmed up (20,000 documents into a
throwaway index) before the ceiling. The null-sink figure includes the consumer's cold start: its
embedding cache starts empty, so every distinct text costs a model call (one-thread MiniLM).

| figure | value | goal |
|---|---:|---:|
| events | {sent:,} | ≥ 200,000 |
| ceiling: same docs, vectors precomputed, bulk-indexed directly (same daily split) | {ceiling:,.0f} ev/s | — |
| full pipeline (consume → parse → template → embed → bulk → catalog → commit) | {full:,.0f} ev/s | ≥ 2,000 |
| full pipeline / ceiling | {full / ceiling:.2f} | ≥ 0.8 |
| consumer alone, null sink (wall) | {null_rate:,.0f} ev/s | — |
| consumer alone, null sink, per CPU-second, whole run (cold start included) | {per_core:,.0f} ev/s | ≥ 15,000 |
| the same after the first tenth of the events (caches warm) | {steady_per_core:,.0f} ev/s | — |
| embedding model calls per event | {calls_per_event:.5f} | ≪ 1 |
| embedding cache hit ratio | {embedder.hit_ratio:.4f} | — |
| unique embedded texts | {len(embedder):,} | — |
| consumer RSS at the end / peak | {rss:.0f} / {hwm:.0f} MiB | < 1024 MiB |

(The null-sink run happens inside the benchmark process, peak RSS {own_peak:.0f} MiB including the
200k collected documents it keeps for the ceiling run.)
""",
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
