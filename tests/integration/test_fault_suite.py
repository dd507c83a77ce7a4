"""A few cases of the fault-scenario suite (tests/evals/fault_scenarios.yaml) with floors.

The same machinery as `python -m bench.bench_analyses` (bench/analyses_eval.py): shared fault-free
history, each case on its own topic through Kafka and the consumer's pipeline into the real
OpenSearch, the real detection cycles on a simulated 10 s clock, scoped to the case's topics and
writing to their own analyses index. Floors: the expected template is analysed within 2 minutes
of the first fault event and the expected origin ranks first; the repeated fault maps to the
same analysis.
"""

from __future__ import annotations

import time

from opensearchpy import OpenSearch

from bench.analyses_eval import Indexer, load_cases, load_history, run_case, timeline_end
from loglens.config import Settings
from loglens.opensearch_client import async_client

# A callee whose failure the caller and the gateway also alert on; a new deploy's NPE; a fault
# reached through Kafka in a single service.
CASES = ("db-pool-default", "npe-blue-2.0.0", "redis-timeout-default")


async def test_fault_suite_subset_ranks_the_origin_first(stack: Settings, os_client: OpenSearch) -> None:
    started = time.monotonic()
    cases = {c.name: c for c in load_cases()}
    client = async_client(stack)
    indexer = Indexer(stack, client)
    failures: list[str] = []
    try:
        end = timeline_end()
        history, _ = await load_history(indexer, end)
        for name in CASES:
            r = await run_case(cases[name], indexer, client, stack, history, end)
            if r.analysis is None:
                failures.append(f"{name}: expected template never analysed ({len(r.raised)} others)")
                continue
            if not r.top1:
                reasons = {o.service: o.reasons for o in r.analysis.suspected_origin}
                failures.append(f"{name}: origin {r.origins} (expected {r.case.expected_origin}) {reasons}")
            if r.delay_s is None or r.delay_s > 120:
                failures.append(f"{name}: detected after {r.delay_s} s")
            if r.reused is not True:
                failures.append(f"{name}: repeat not reused: {r.repeat_note}")
    finally:
        await indexer.cleanup()
        await client.close()
    assert not failures, failures
    assert time.monotonic() - started < 90
