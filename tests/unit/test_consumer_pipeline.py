"""The consumer's delivery pipeline: batch N+1's bulk overlaps batch N's catalog update and
commit, while catalog updates and commits stay in fetch order and never outrun a failure.

Logic only: the sink and the Kafka commit are fakes that record the order of events; the real
consumer runs against real Kafka/OpenSearch in tests/integration/test_nothing_lost.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime

from aiokafka.errors import KafkaConnectionError
from aiokafka.structs import TopicPartition

from consumers.log_embedder import consumer as consumer_module
from consumers.log_embedder.consumer import LogEmbedder, _CommitOnRevoke, _Prepared
from consumers.log_embedder.pipeline import DeadLetter, IndexAction, SourceRecord, transform
from consumers.log_embedder.sink import ItemFailure
from loglens.config import Settings
from loglens.embedding.cache import CachedEmbedder
from loglens.embedding.hashing import HashingEmbedder

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def batch(n: int, first_offset: int) -> _Prepared:
    records = [
        SourceRecord(
            "app-logs",
            0,
            first_offset + i,
            b"order",
            json.dumps(
                {"@timestamp": "2026-11-25T13:00:00Z", "message": f"Order {i} placed", "service": "order"}
            ).encode(),
            (),
            int(NOW.timestamp() * 1000),
        )
        for i in range(n)
    ]
    result = transform(records, HashingEmbedder(), raw_max_bytes=1000, now=NOW)
    return _Prepared(n, result, 0.0, 0.0)


class Recorder:
    """Sink + commit fake: logs ("bulk-start"/"bulk-end"/"catalog"/"commit", first offset)."""

    def __init__(self, bulk_s: float = 0.05, catalog_s: float = 0.05) -> None:
        self.events: list[tuple[str, int]] = []
        self.bulk_s, self.catalog_s = bulk_s, catalog_s
        self.commit_ok: dict[int, bool] = {}
        self.worker: LogEmbedder | None = None

    async def write(self, actions: Sequence[IndexAction]) -> list[ItemFailure]:
        first = actions[0].record.offset
        self.events.append(("bulk-start", first))
        await asyncio.sleep(self.bulk_s)
        self.events.append(("bulk-end", first))
        return []

    async def write_catalog(self, body: str) -> list[str]:
        await asyncio.sleep(self.catalog_s)
        return []

    async def send_commit(self, dead: Sequence[DeadLetter], offsets: dict[TopicPartition, int]) -> None:
        """One commit attempt; a failing one is Kafka unreachable while a stop is requested."""
        first = min(offsets.values()) - 10
        self.events.append(("commit", first))
        if not self.commit_ok.get(first, True):
            assert self.worker is not None
            self.worker.request_stop()
            raise KafkaConnectionError("broker unreachable")


def worker_for(rec: Recorder) -> LogEmbedder:
    worker = LogEmbedder(Settings(), CachedEmbedder(HashingEmbedder()), rec)
    worker._send_commit = rec.send_commit  # type: ignore[method-assign]
    rec.worker = worker
    return worker


async def feed(worker: LogEmbedder, firsts: Sequence[int]) -> bool:
    """What ``run`` does per fetched batch, for batches of 10 records starting at ``firsts``."""
    for first in firsts:
        if not await worker._indexing_done():
            return False
        worker._start_delivery(batch(10, first), {TopicPartition("app-logs", 0): first + 10})
    return await worker._drain()


async def test_next_bulk_overlaps_the_previous_commit_and_commits_stay_in_order() -> None:
    rec = Recorder()
    worker = worker_for(rec)
    assert await feed(worker, [0, 10, 20])
    commits = [first for kind, first in rec.events if kind == "commit"]
    assert commits == [0, 10, 20]
    # batch 10's bulk started before batch 0 committed (it ran during batch 0's catalog update)
    assert rec.events.index(("bulk-start", 10)) < rec.events.index(("commit", 0))
    # ... but only after batch 0's bulk had finished: one bulk at a time
    assert rec.events.index(("bulk-end", 0)) < rec.events.index(("bulk-start", 10))
    # every commit follows its own bulk
    for first in commits:
        assert rec.events.index(("bulk-end", first)) < rec.events.index(("commit", first))
    assert worker.committed_records() == 30


async def test_a_batch_whose_predecessor_failed_is_not_committed() -> None:
    rec = Recorder()
    rec.commit_ok[0] = False  # e.g. stopping while Kafka was unreachable
    worker = worker_for(rec)
    assert not await feed(worker, [0, 10, 20])
    assert [first for kind, first in rec.events if kind == "commit"] == [0]
    assert worker.committed_records() == 0
    assert worker._inflight is None  # nothing left running


async def test_stop_during_a_bulk_retry_waits_for_the_predecessor_to_commit() -> None:
    rec = Recorder(catalog_s=0.3)

    worker = worker_for(rec)
    calls = 0
    real_write = rec.write

    async def write(actions: Sequence[IndexAction]) -> list[ItemFailure]:
        nonlocal calls
        calls += 1
        if calls > 1:  # OpenSearch went away after the first bulk
            raise ConnectionError("connection refused")
        return await real_write(actions)

    rec.write = write  # type: ignore[method-assign]
    task = asyncio.create_task(feed(worker, [0, 10]))
    await asyncio.sleep(0.1)  # batch 10 is now retrying its bulk; batch 0 is in its catalog update
    worker.request_stop()
    assert not await task
    # batch 0 finished and committed even though batch 10 gave up; batch 10 was not committed
    assert [first for kind, first in rec.events if kind == "commit"] == [0]
    assert worker.committed_records() == 10


class FakeConsumer:
    """Just enough of AIOKafkaConsumer for the pause bookkeeping and the keep-alive poll."""

    def __init__(self, returns: dict[TopicPartition, list[object]] | None = None) -> None:
        self.assigned = {TopicPartition("app-logs", p) for p in range(3)}
        self.paused: set[TopicPartition] = set()
        self.returns = returns or {}
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.polls = 0

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def pause(self, *tps: TopicPartition) -> None:
        self.paused |= set(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self.paused -= set(tps)

    async def getmany(self, timeout_ms: int = 0) -> dict[TopicPartition, list[object]]:
        self.polls += 1
        assert self.paused == self.assigned, "polled with a partition not paused"
        got, self.returns = self.returns, {}
        return got

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))


async def test_holds_nest_and_partitions_resume_only_when_the_last_one_ends() -> None:
    worker = worker_for(Recorder())
    consumer = FakeConsumer()
    worker.consumer = consumer  # type: ignore[assignment]
    worker._hold()
    worker._hold()
    assert consumer.paused == consumer.assigned
    worker._release()
    assert consumer.paused == consumer.assigned  # another stage still waits
    worker._release()
    assert consumer.paused == set()


async def test_retry_sleep_polls_only_paused_partitions_and_puts_back_any_record() -> None:
    from types import SimpleNamespace

    tp = TopicPartition("app-logs", 1)
    consumer = FakeConsumer({tp: [SimpleNamespace(offset=42), SimpleNamespace(offset=43)]})
    worker = worker_for(Recorder())
    worker.consumer = consumer  # type: ignore[assignment]
    assert not await worker._sleep_or_stop(0.01)  # the fake asserts every partition is paused
    assert consumer.polls == 1
    assert consumer.seeks == [(tp, 42)]  # the records go back to the run loop, none is dropped
    assert consumer.paused == set()  # nothing else held them: resumed after the sleep


def commits(rec: Recorder) -> list[int]:
    return [first for kind, first in rec.events if kind == "commit"]


async def test_a_revoke_during_drain_still_waits_for_the_batch_to_commit() -> None:
    rec = Recorder(catalog_s=0.2)
    worker = worker_for(rec)
    assert await worker._indexing_done()
    worker._start_delivery(batch(10, 0), {TopicPartition("app-logs", 0): 10})
    drain = asyncio.create_task(worker._drain())  # the run loop found nothing new to fetch
    await asyncio.sleep(0.01)
    await _CommitOnRevoke(worker).on_partitions_revoked(set())
    assert commits(rec) == [0], "the revoke returned before the batch in delivery committed"
    assert await drain
    assert worker.handovers == 1 and not worker.revoking


async def test_no_commit_after_a_revoke_ended_but_a_batch_started_later_commits() -> None:
    rec = Recorder(catalog_s=0.2)
    worker = worker_for(rec)
    tp = TopicPartition("app-logs", 0)
    worker._start_delivery(batch(10, 0), {tp: 10})
    await asyncio.sleep(0.1)  # batch 0 is in its catalog update
    worker.handovers += 1  # a revoke gave up waiting for it and the partitions moved
    assert await worker._indexing_done()
    worker._start_delivery(batch(10, 10), {tp: 20})  # fetched after the new assignment
    assert await worker._drain()
    assert commits(rec) == [10]  # batch 0 left to the partitions' owner, batch 10 committed
    assert worker.committed_records() == 20


async def test_a_revoke_that_times_out_leaves_the_retrying_batch_uncommitted(monkeypatch: object) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setattr(consumer_module, "REVOKE_WAIT_S", 0.2)
    rec = Recorder()
    worker = worker_for(rec)
    down = True
    real_write = rec.write

    async def write(actions: Sequence[IndexAction]) -> list[ItemFailure]:
        if down:
            raise ConnectionError("connection refused")
        return await real_write(actions)

    rec.write = write  # type: ignore[method-assign]
    worker._start_delivery(batch(10, 0), {TopicPartition("app-logs", 0): 10})
    await asyncio.sleep(0.05)
    await _CommitOnRevoke(worker).on_partitions_revoked(set())  # gives up after 0.2 s
    down = False  # OpenSearch is back: the bulk succeeds on its next try
    assert await worker._drain()  # dropped, not stopped
    assert ("bulk-end", 0) in rec.events and commits(rec) == []
    assert worker.committed_records() == 0
