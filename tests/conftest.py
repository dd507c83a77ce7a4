"""Shared fixtures: the real Kafka + OpenSearch started by `loglens stack up`, service processes.

Each test run gets its own topic and consumer group so runs never see each other's
records; the indices are the real shared ones and tests filter on their own topic.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from opensearchpy import OpenSearch

from loglens.config import Settings, get_settings
from loglens.kafka_admin import committed_total as kafka_committed_total
from loglens.opensearch_client import sync_client

ROOT = Path(__file__).resolve().parents[1]
START_HINT = "start it with `loglens stack up` (scripts/test.sh does this)"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = str(item.fspath)
        if "tests/integration/" in path:
            item.add_marker(pytest.mark.integration)
        elif "tests/e2e/" in path:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Settings:
    """The stack must be up; if it is not, bring it up (idempotent) — never skip."""
    from loglens.stack import manager

    manager.up(settings, progress=False)
    return settings


@pytest.fixture(scope="session")
def os_client(stack: Settings) -> Iterator[OpenSearch]:
    client = sync_client(stack)
    if not client.ping():
        pytest.fail(f"OpenSearch at {stack.opensearch_url} is not reachable; {START_HINT}")
    from loglens.indices import install_index_templates_sync

    install_index_templates_sync(stack)
    yield client
    client.close()


@pytest.fixture()
async def test_topic(stack: Settings) -> AsyncIterator[str]:
    """A fresh topic (3 partitions) for one test."""
    name = f"it-{uuid.uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])
        yield name
        await admin.delete_topics([name])
    finally:
        await admin.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def service_env(settings: Settings, **over: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "LOGLENS_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "LOGLENS_OPENSEARCH_URL": settings.opensearch_url,
        }
    )
    env.update(over)
    return env


class ServiceProcess:
    def __init__(self, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def wait_http(url: str, timeout: float, proc: ServiceProcess | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.proc.poll() is not None:
            raise AssertionError(f"process exited early:\n{proc.log_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(
        f"{url} not ready after {timeout}s" + (f":\n{proc.log_text()[-3000:]}" if proc else "")
    )


@pytest.fixture(scope="session")
def ai_service(
    stack: Settings, os_client: OpenSearch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A real AI service process on a free port, talking to the real OpenSearch."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("ai") / "ai-service.log"
    proc = ServiceProcess(
        [sys.executable, "-m", "ai_service.main"], service_env(stack, LOGLENS_API_PORT=str(port)), log_path
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/readyz", 120, proc)
        yield base
    finally:
        proc.stop()


async def wait_until(predicate: object, timeout: float, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


async def produce_values(settings: Settings, topic: str, values: list[tuple[bytes | None, bytes]]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in values:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


def count_topic_docs(client: OpenSearch, topic: str) -> int:
    from opensearchpy.exceptions import NotFoundError

    try:
        client.indices.refresh(index="log-events")
        resp = client.count(index="log-events", body={"query": {"term": {"kafka.topic": topic}}})
    except NotFoundError:  # the alias appears with the first event
        return 0
    return int(resp["count"])


def start_consumer(settings: Settings, topic: str, log_path: Path, **env: str) -> ServiceProcess:
    values = {
        "LOGLENS_TOPIC": topic,
        "LOGLENS_CONSUMER_GROUP": f"g-{topic}",
        "LOGLENS_CONSUMER_METRICS_PORT": "0",
    }
    values.update(env)
    return ServiceProcess(
        [sys.executable, "-m", "consumers.log_embedder"], service_env(settings, **values), log_path
    )


async def committed_total(settings: Settings, group: str, topic: str) -> int:
    return await kafka_committed_total(settings.kafka_bootstrap, group, topic)


async def read_dead_letters(
    settings: Settings, source_topic: str, expected: int, timeout: float = 60
) -> list[Any]:
    """Committed dead letters whose source is ``source_topic``: (record, headers) pairs. Reads one
    quiet poll past ``expected`` so a duplicate would show up."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        settings.dlq_topic,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        isolation_level="read_committed",
    )
    await consumer.start()
    found: list[Any] = []
    try:
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for r in records:
                    headers = dict(r.headers or ())
                    if headers.get("loglens.source.topic") == source_topic.encode():
                        found.append((r, headers))
            if len(found) >= expected:
                quiet += 1
                if quiet >= 2:
                    break
    finally:
        await consumer.stop()
    return found


async def wait_committed(settings: Settings, group: str, topic: str, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    total = 0
    while time.monotonic() < deadline:
        total = await committed_total(settings, group, topic)
        if total >= expected:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"group {group} committed {total} of {expected} records within {timeout}s")


def ingest_through_pipeline(
    settings: Settings,
    os_client: OpenSearch,
    topic: str,
    values: list[tuple[bytes | None, bytes]],
    log_dir: Path,
) -> None:
    """Create ``topic``, produce ``values`` and run a real consumer until all are indexed."""

    async def run() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        finally:
            await admin.close()
        await produce_values(settings, topic, values)
        consumer = start_consumer(settings, topic, log_dir / "consumer.log")
        try:
            await wait_until(lambda: count_topic_docs(os_client, topic) >= len(values), timeout=120)
        finally:
            consumer.stop()

    asyncio.run(run())
