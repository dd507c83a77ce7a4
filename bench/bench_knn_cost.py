"""What the k-NN vector costs OpenSearch at indexing: the same demo documents bulk-indexed with
their real vectors (most events share their template's vector), with unique random vectors, and
with no vector at all.

    python -m bench.bench_knn_cost [--events 80000]

Documents come from the real pipeline logic (parse → template → redact → embed) run in-process;
indexing goes through `bench.bench_ingest.ceiling_run` (scratch indices, same daily split, same
mapping). Needs the stack. Writes the `knn-cost` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np

from bench.bench_ingest import ceiling_run, warm_up_opensearch
from bench.record import machine, record_section, today
from consumers.log_embedder.pipeline import ContinuationTracker, IndexAction, SourceRecord, transform
from loglens.config import get_settings
from loglens.demo.generator import TrafficGenerator
from loglens.demo.producer import encode_event
from loglens.embedding import build_embedder
from loglens.embedding.cache import CachedEmbedder
from loglens.mining import TemplateMiner
from loglens.redaction import Redactor


def demo_actions(n: int) -> list[IndexAction]:
    settings = get_settings()
    gen = TrafficGenerator(seed=42, start=datetime.now(UTC) - timedelta(hours=12), rate=50.0)
    now_ms = int(time.time() * 1000)
    records = []
    for i, event in enumerate(gen.events(n)):
        key, value = encode_event(event)
        records.append(SourceRecord("bench", i % 6, i, key, value, (), now_ms))
    embedder = CachedEmbedder(build_embedder(settings))
    miner, tracker, redactor = TemplateMiner(), ContinuationTracker(), Redactor.from_settings(settings)
    actions: list[IndexAction] = []
    for start in range(0, n, 500):
        actions += transform(
            records[start : start + 500],
            embedder,
            raw_max_bytes=settings.raw_max_bytes,
            tracker=tracker,
            miner=miner,
            redactor=redactor,
        ).actions
    return actions


def variant(actions: list[IndexAction], mode: str) -> list[IndexAction]:
    if mode == "real":
        return actions
    rng = np.random.default_rng(1)
    out = []
    for action in actions:
        doc = {k: v for k, v in action.doc.items() if k != "vector"}
        vector_json = None
        if mode == "unique":
            row = rng.standard_normal(len(action.doc["vector"]))
            values = np.round(row / np.linalg.norm(row), 5).tolist()
            doc["vector"], vector_json = values, json.dumps(values)
        out.append(replace(action, doc=doc, vector_json=vector_json))
    return out


async def main_async(args: argparse.Namespace) -> int:
    settings = get_settings()
    actions = demo_actions(args.events)
    distinct = len({a.vector_json for a in actions})
    await warm_up_opensearch(settings, actions)
    rows = []
    for label, mode in (
        ("real vectors (shared per template)", "real"),
        ("unique random vectors", "unique"),
        ("no vector field", "none"),
    ):
        docs = variant(actions, mode)
        seconds = await ceiling_run(settings, docs, settings.consumer_batch_max)
        rows.append((label, len(docs) / seconds))
        print(f"{label}: {len(docs) / seconds:.0f} docs/s")
    table = "\n".join(f"| {label} | {rate:,.0f} docs/s |" for label, rate in rows)
    record_section(
        "knn-cost",
        f"""## What the k-NN vector costs OpenSearch at indexing

`python -m bench.bench_knn_cost --events {args.events}` — {today()}, {machine()}.
{len(actions):,} demo documents ({distinct} distinct vectors), batches of {settings.consumer_batch_max} as
{settings.consumer_bulk_concurrency} concurrent bulk requests (as the consumer sends them),
Lucene HNSW (m 16, ef_construction 128), refresh 1 s, after a 20,000-document warm-up.

| documents indexed with | rate |
|---|---:|
{table}

Building the HNSW graph is almost all of OpenSearch's indexing work here; it bounds the full
pipeline (see `ingest`).
""",
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=80_000)
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
