"""Nothing lost, nothing twice: indexed + dead-lettered = produced, whatever fails on the way.

Each test produces realistic demo traffic with ~1% bad records to its own topic, runs real
consumer processes against the real stack, breaks something, and counts what came out.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from opensearchpy import OpenSearch

from loglens.config import Settings
from loglens.demo.generator import TrafficGenerator
from tests.conftest import (
    ServiceProcess,
    count_topic_docs,
    produce_values,
    read_dead_letters,
    start_consumer,
    wait_committed,
)

BAD_KINDS = [
    b"{not json at all",
    b"\xff\xfe\x00 not utf-8",
    b"",
    b"[1, 2, 3]",
    b"plain text that is not a Spring Boot log line",
    json.dumps({"message": "from the future", "@timestamp": "2099-01-01T00:00:00Z", "service": "x"}).encode(),
    json.dumps({"no_message": True, "@timestamp": "2026-01-01T00:00:00Z"}).encode(),
]


def mixed_traffic(n: int, seed: int, bad_every: int = 100) -> tuple[list[tuple[bytes | None, bytes]], int]:
    """n records: demo traffic with every ``bad_every``-th replaced by a poison record."""
    start = datetime.now(UTC) - timedelta(hours=3)
    gen = TrafficGenerator(seed=seed, start=start, rate=50.0)
    values: list[tuple[bytes | None, bytes]] = []
    bad = 0
    for i, event in enumerate(gen.events(n)):
        if i % bad_every == bad_every - 1:
            values.append((b"payment", BAD_KINDS[bad % len(BAD_KINDS)]))
            bad += 1
        else:
            values.append((str(event["service"]).encode(), json.dumps(event).encode()))
    return values, bad


async def make_topic(settings: Settings, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()


async def dead_letters(settings: Settings, topic: str, expected: int) -> list[tuple[int, int]]:
    """(partition, offset) of every committed dead letter whose source is ``topic``."""
    found = await read_dead_letters(settings, topic, expected)
    return [(int(h["loglens.source.partition"]), int(h["loglens.source.offset"])) for _, h in found]


def assert_accounted(
    os_client: OpenSearch, topic: str, produced: int, dead: list[tuple[int, int]], bad: int
) -> None:
    indexed = count_topic_docs(os_client, topic)
    assert len(dead) == len(set(dead)), "a dead letter was sent twice"
    assert len(dead) == bad, f"expected {bad} dead letters, got {len(dead)}"
    assert indexed + len(dead) == produced, f"indexed {indexed} + dead {len(dead)} != produced {produced}"


async def test_replay_50k_mixed_events(stack: Settings, os_client: OpenSearch, tmp_path: Path) -> None:
    topic = f"nl-50k-{int(time.time())}"
    await make_topic(stack, topic, 6)
    values, bad = mixed_traffic(50_000, seed=1)
    await produce_values(stack, topic, values)
    consumer = start_consumer(stack, topic, tmp_path / "consumer.log")
    try:
        await wait_committed(stack, f"g-{topic}", topic, len(values), timeout=600)
    finally:
        assert consumer.stop(timeout=20) == 0, consumer.log_text()[-2000:]
    assert_accounted(os_client, topic, len(values), await dead_letters(stack, topic, bad), bad)


async def test_sigkill_mid_stream_then_restart(
    stack: Settings, os_client: OpenSearch, tmp_path: Path
) -> None:
    topic = f"nl-kill-{int(time.time())}"
    await make_topic(stack, topic, 6)
    values, bad = mixed_traffic(20_000, seed=2)
    # Half before the kill, half after it: the consumer is fast enough to finish a topic
    # produced all at once before the poll below notices, so the kill could come too late.
    half = len(values) // 2
    await produce_values(stack, topic, values[:half])
    first = start_consumer(stack, topic, tmp_path / "c1.log")
    # Kill it hard once it has indexed some of the first half.
    deadline = time.monotonic() + 300
    while count_topic_docs(os_client, topic) < 3_000 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    first.proc.send_signal(signal.SIGKILL)
    first.stop()
    partial = count_topic_docs(os_client, topic)
    assert 0 < partial < len(values) - bad, f"kill came too late or too early ({partial})"
    await produce_values(stack, topic, values[half:])
    second = start_consumer(stack, topic, tmp_path / "c2.log")
    try:
        await wait_committed(stack, f"g-{topic}", topic, len(values), timeout=600)
    finally:
        assert second.stop(timeout=20) == 0
    assert_accounted(os_client, topic, len(values), await dead_letters(stack, topic, bad), bad)


async def test_opensearch_down_for_30s_mid_stream(
    stack: Settings, os_client: OpenSearch, tmp_path: Path
) -> None:
    from loglens.stack import manager, opensearch
    from loglens.stack.checks import stop_pid

    topic = f"nl-osdown-{int(time.time())}"
    await make_topic(stack, topic, 6)
    values, bad = mixed_traffic(20_000, seed=3)
    # A quarter before the outage, the rest while OpenSearch is down: records keep arriving
    # during the 30 s, however fast the consumer got through the first part.
    first_part = len(values) // 4
    await produce_values(stack, topic, values[:first_part])
    consumer = start_consumer(stack, topic, tmp_path / "consumer.log")
    try:
        deadline = time.monotonic() + 300
        while count_topic_docs(os_client, topic) < 2_000 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        pid = opensearch.recorded_pid(stack)
        assert pid is not None
        await asyncio.to_thread(stop_pid, pid, 60.0)
        await produce_values(stack, topic, values[first_part:])
        await asyncio.sleep(30)
        assert consumer.proc.poll() is None, "the consumer died while OpenSearch was down"
        assert "opensearch_unavailable" in consumer.log_text(), "the outage went unnoticed"
        await asyncio.to_thread(manager.up, stack, False)
        await wait_committed(stack, f"g-{topic}", topic, len(values), timeout=600)
    finally:
        assert consumer.stop(timeout=20) == 0, consumer.log_text()[-2000:]
    assert_accounted(os_client, topic, len(values), await dead_letters(stack, topic, bad), bad)


async def test_two_consumers_share_six_partitions(
    stack: Settings, os_client: OpenSearch, tmp_path: Path
) -> None:
    topic = f"nl-two-{int(time.time())}"
    await make_topic(stack, topic, 6)
    values, bad = mixed_traffic(20_000, seed=4)
    consumers: list[ServiceProcess] = [
        start_consumer(stack, topic, tmp_path / f"c{i}.log", LOGLENS_CONSUMER_BATCH_MAX="200")
        for i in range(2)
    ]
    try:
        await asyncio.sleep(3)  # both join the group before the records arrive
        await produce_values(stack, topic, values)
        await wait_committed(stack, f"g-{topic}", topic, len(values), timeout=600)
    finally:
        codes = [c.stop(timeout=20) for c in consumers]
    assert codes == [0, 0]
    # Both did real work: each logged an assignment with partitions.
    for c in consumers:
        assert "partitions_assigned" in c.log_text()
    assert_accounted(os_client, topic, len(values), await dead_letters(stack, topic, bad), bad)
