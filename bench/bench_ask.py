"""/ask latency and throughput on the indexed events (issue 5).

    python -m bench.bench_ask [--questions 60] [--clients 8] [--seconds 20]

Starts a real AI service process (evidence answerer, QA cache on) on a free port and measures:
- cache misses: distinct questions (each asked once) — p50/p95;
- cache hits: the same questions asked again — p50/p95;
- the bare OpenSearch queries one miss issues (BM25, k-NN over templates, k-NN over events,
  template stats) timed directly in the same run — p50/p95, and the ratio miss / bare;
- sustained requests/s with N concurrent clients (mix of repeats and new questions).
Needs the stack and ≥ 200,000 events in `log-events` (run bench_ingest first). Writes the `ask`
section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx

from ai_service.search.opensearch_search import OpenSearchSearch, SearchFilters
from bench.record import machine, percentile, record_section, today
from loglens.config import get_settings
from loglens.embedding import build_embedder
from loglens.opensearch_client import async_client

SUBJECTS = [
    ("payment", "failing"), ("payment", "timing out"), ("order", "failing"), ("inventory", "slow"),
    ("gateway", "returning 500"), ("notification", "not sending"), ("payment", "throwing exceptions"),
    ("order", "retrying"), ("inventory", "out of stock errors"), ("gateway", "rejecting JWTs"),
]  # fmt: skip
FORMS = [
    "why is {s} {p}?", "what is going on with {s}, it keeps {p}", "{s} {p} since 2h — cause?",
    "show me why {s} is {p} in the last hour", "is {s} {p} because of the database?",
    "root cause of {s} {p}", "which errors explain {s} {p}?",
]  # fmt: skip


def questions(n: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < n:
        s, p = rng.choice(SUBJECTS)
        out.add(rng.choice(FORMS).format(s=s, p=p) + f" (case {rng.randint(1, 10_000)})")
    return sorted(out)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def timed_ask(client: httpx.AsyncClient, question: str) -> tuple[float, bool]:
    t0 = time.perf_counter()
    r = await client.post("/ask", json={"question": question, "since": "24h"})
    r.raise_for_status()
    return (time.perf_counter() - t0) * 1000, bool(r.json()["cache"]["hit"])


async def bare_queries(qs: list[str]) -> list[float]:
    settings = get_settings()
    embedder = build_embedder(settings)
    client = async_client(settings)
    search = OpenSearchSearch(client)
    now = datetime.now(UTC)
    filters = SearchFilters(since=now - timedelta(hours=24), until=now)
    out = []
    try:
        for q in qs:
            vector = embedder.embed([q])[0].tolist()
            t0 = time.perf_counter()
            bm25, _knn, templates = await asyncio.gather(
                search.bm25(q, filters, 30),
                search.knn(vector, filters, 30),
                search.template_matches(vector, filters, 20),
            )
            keys = list(
                dict.fromkeys(
                    [str(h.source.get("template_id")) for h in bm25[:10]]
                    + [m.template_id for m in templates[:5]]
                )
            )
            await search.template_stats(keys[:10], filters)
            out.append((time.perf_counter() - t0) * 1000)
    finally:
        await client.close()
    return out


async def main_async(args: argparse.Namespace) -> int:
    settings = get_settings()
    total = await _count(settings)
    port = free_port()
    env = {
        **os.environ,
        "LOGLENS_API_PORT": str(port),
        "LOGLENS_RATE_LIMIT_PER_MIN": "0",
        "LOGLENS_ANALYSIS_WORKER_ENABLED": "false",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "ai_service.main"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            for _ in range(240):
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.5)
            qs = questions(args.questions)
            for q in questions(5, seed=99):  # warm-up
                await timed_ask(client, q)
            miss = [await timed_ask(client, q) for q in qs]
            await asyncio.sleep(1.5)  # let the cache entries become searchable (refresh 1 s)
            hit = [await timed_ask(client, q) for q in qs]
            bare = await bare_queries(qs)
            # Sustained load: N clients, half repeats (hits), half new questions (misses).
            fresh = iter(questions(5000, seed=123))
            done: list[float] = []
            stop_at = time.monotonic() + args.seconds

            async def worker(i: int) -> None:
                rng = random.Random(i)
                while time.monotonic() < stop_at:
                    q = rng.choice(qs) if rng.random() < 0.5 else next(fresh)
                    ms, _ = await timed_ask(client, q)
                    done.append(ms)

            t0 = time.monotonic()
            await asyncio.gather(*(worker(i) for i in range(args.clients)))
            rps = len(done) / (time.monotonic() - t0)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    miss_ms = [m for m, h in miss if not h]
    hit_ms = [m for m, h in hit if h]
    ratio = percentile(miss_ms, 50) / percentile(bare, 50)
    print(
        f"events {total:,}; miss n={len(miss_ms)} p50 {percentile(miss_ms, 50):.0f} p95 {percentile(miss_ms, 95):.0f} ms; "
        f"hit n={len(hit_ms)} p50 {percentile(hit_ms, 50):.1f} p95 {percentile(hit_ms, 95):.1f} ms; bare p50 {percentile(bare, 50):.0f} "
        f"p95 {percentile(bare, 95):.0f} ms; miss/bare {ratio:.2f}; {rps:.1f} req/s at {args.clients} clients "
        f"(p95 {percentile(done, 95):.0f} ms)"
    )
    record_section(
        "ask",
        f"""## /ask latency and throughput (issue 5)

`python -m bench.bench_ask --questions {args.questions} --clients {args.clients} --seconds {args.seconds}` —
{today()}, {machine()}. {total:,} events in `log-events`; a real AI service process (evidence answerer,
QA cache on), questions over the last 24 h; the same machine runs Kafka and OpenSearch.

| figure | p50 | p95 | goal |
|---|---:|---:|---|
| cache miss, evidence answer ({len(miss_ms)} distinct questions) | {percentile(miss_ms, 50):.0f} ms | {percentile(miss_ms, 95):.0f} ms | p95 ≤ 300 ms |
| cache hit ({len(hit_ms)} repeats) | {percentile(hit_ms, 50):.1f} ms | {percentile(hit_ms, 95):.1f} ms | p95 ≤ 30 ms |
| the bare OpenSearch queries of one miss, timed directly | {percentile(bare, 50):.0f} ms | {percentile(bare, 95):.0f} ms | — |
| miss / bare queries (p50) | {ratio:.2f} | | — |
| {args.clients} concurrent clients, half repeats, {args.seconds} s | {rps:.1f} req/s | p95 {percentile(done, 95):.0f} ms | — |
""",
    )
    return 0


async def _count(settings: object) -> int:
    client = async_client(get_settings())
    try:
        return int((await client.count(index="log-events"))["count"])
    finally:
        await client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
