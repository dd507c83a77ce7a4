"""Event produced → searchable in OpenSearch: p50/p95 over N events (default 1,000).

Needs the stack (`loglens stack up`). Starts its own consumer process on a fresh topic,
produces events at a steady rate (asynchronous, batched sends like an application's Kafka
appender), and polls OpenSearch every 50 ms (an ids lookup of what is not seen yet) for which of
them are searchable (the index refreshes every 1 s, which bounds the figure from below).

    python -m bench.bench_e2e_latency [--events 1000] [--rate 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from opensearchpy.exceptions import NotFoundError

from bench.record import machine, percentile, record_section, today
from loglens.config import get_settings
from loglens.demo.generator import TrafficGenerator
from loglens.opensearch_client import sync_client


async def produce(
    topic: str, bootstrap: str, n: int, rate: float, sent: dict[str, float], gen: TrafficGenerator
) -> dict[str, float]:
    """Send n events paced at `rate`/s, as an application's Kafka appender does (asynchronous
    sends, batched for up to 5 ms); fill doc id → wall time the event was handed to the producer."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    pending: list[asyncio.Future[None]] = []

    def acked(t0: float) -> Callable[[asyncio.Future[Any]], None]:
        def done(fut: asyncio.Future[Any]) -> None:
            if not fut.cancelled() and fut.exception() is None:
                meta = fut.result()
                sent[f"{topic}-{meta.partition}-{meta.offset}"] = t0

        return done

    try:
        start = time.monotonic()
        for i, event in enumerate(gen.events(n)):
            target = start + i / rate
            delay = target - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            event["@timestamp"] = datetime.now(UTC).isoformat(timespec="milliseconds")
            t0 = time.time()
            fut = await producer.send(topic, json.dumps(event).encode(), key=event["service"].encode())
            fut.add_done_callback(acked(t0))
            pending.append(fut)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent


def poll_searchable(topic: str, sent: dict[str, float], expected: int, timeout: float) -> dict[str, float]:
    """First time each sent document is found: every 50 ms, an ids lookup of the documents sent
    (acknowledged) and not seen yet, so each poll costs about what is new."""
    client = sync_client(get_settings())
    seen: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(seen) < expected and time.monotonic() < deadline:
        unseen = [i for i in list(sent) if i not in seen][:10_000]
        if unseen:
            body = {"size": len(unseen), "_source": False, "query": {"ids": {"values": unseen}}}
            try:
                resp = client.search(index="log-events", body=body)
            except NotFoundError:
                resp = {"hits": {"hits": []}}
            now = time.time()
            for hit in resp["hits"]["hits"]:
                seen.setdefault(hit["_id"], now)
        time.sleep(0.05)
    client.close()
    return seen


async def main_async(args: argparse.Namespace) -> int:
    settings = get_settings()
    topic = f"bench-lat-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])
    env = {
        **os.environ,
        "LOGLENS_TOPIC": topic,
        "LOGLENS_CONSUMER_GROUP": f"g-{topic}",
        "LOGLENS_CONSUMER_METRICS_PORT": "0",
        "LOGLENS_CONSUMER_BATCH_TIMEOUT_MS": "50",
    }
    log_path = f"/tmp/{topic}-consumer.log"
    with open(log_path, "wb") as log_file:
        consumer = subprocess.Popen(
            [sys.executable, "-m", "consumers.log_embedder"],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        # Start producing only once the consumer owns its partitions (model loaded, group joined).
        deadline = time.monotonic() + 120
        while '"partitions": [0' not in open(log_path, errors="replace").read():
            if time.monotonic() > deadline or consumer.poll() is not None:
                raise RuntimeError(f"consumer not ready; see {log_path}")
            await asyncio.sleep(0.2)
        gen = TrafficGenerator(seed=11, start=datetime.now(UTC))
        if args.warmup:
            # Steady state: the consumer has met the traffic's templates (its embedding cache is
            # warm) before the measured events start.
            warm: dict[str, float] = {}
            await produce(topic, settings.kafka_bootstrap, args.warmup, args.rate, warm, gen)
            await asyncio.to_thread(poll_searchable, topic, warm, len(warm), 300)
        sent: dict[str, float] = {}
        poller = asyncio.create_task(asyncio.to_thread(poll_searchable, topic, sent, args.events, 300))
        await produce(topic, settings.kafka_bootstrap, args.events, args.rate, sent, gen)
        seen = await poller
    finally:
        consumer.terminate()
        consumer.wait(timeout=20)
        await admin.delete_topics([topic])
        await admin.close()
    lat = [(seen[i] - sent[i]) * 1000 for i in sent if i in seen]
    missing = len(sent) - len(lat)
    p50, p95 = percentile(lat, 50), percentile(lat, 95)
    print(f"events={len(sent)} searchable={len(lat)} missing={missing} p50={p50:.0f} ms p95={p95:.0f} ms")
    record_section(
        f"e2e-latency-{int(args.rate)}",
        f"""## Event produced → searchable at {args.rate:g} events/s

`python -m bench.bench_e2e_latency --events {args.events} --rate {args.rate:g} --warmup {args.warmup}` — {today()}, {machine()}.
One consumer process (local MiniLM embedder, batch timeout 50 ms), index refresh interval 1 s,
Kafka and OpenSearch on the same machine. The producer sends asynchronously at a steady rate,
batching for up to 5 ms like an application's Kafka appender. Latency = first poll (every 50 ms,
an ids lookup of the documents not seen yet) that finds the document minus the time it was
handed to the producer; the {args.warmup} warm-up events before are not counted.

| events | searchable | p50 | p95 | goal (at 1,000/s) |
|---:|---:|---:|---:|---:|
| {len(sent)} | {len(lat)} | {p50:.0f} ms | {p95:.0f} ms | p95 < 2,000 ms |
""",
    )
    return 0 if missing == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200.0, help="events per second")
    parser.add_argument("--warmup", type=int, default=2000, help="unmeasured events sent first")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
