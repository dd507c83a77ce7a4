"""The consume → transform → bulk → DLQ → commit loop.

Offsets are committed only after every record of a batch is either indexed or in the
dead-letter topic, and document ids are topic-partition-offset, so a crash at any point
re-delivers work that then overwrites itself: nothing lost, nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import gc
import random
import signal
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import ConnectionTimeout, TransportError

from ai_service.cache.qa_cache import QACache
from consumers.log_embedder import metrics
from consumers.log_embedder.catalog import catalog_bulk_body, collect_updates
from consumers.log_embedder.miner_state import save_miner, snapshot
from consumers.log_embedder.pipeline import (
    BatchResult,
    ContinuationTracker,
    DeadLetter,
    IndexAction,
    SourceRecord,
    transform,
)
from consumers.log_embedder.sink import EventSink
from loglens.config import Settings
from loglens.embedding.cache import CachedEmbedder
from loglens.errors import DependencyUnavailable
from loglens.mining import TemplateMiner
from loglens.redaction import Redactor

log = structlog.get_logger("log_embedder")

MAX_BACKOFF_S = 15.0
# A revoke waits this long for the batches in delivery to commit: longer than the producer's
# transaction timeout (15 s), so a commit already under way has ended, one way or the other.
REVOKE_WAIT_S = 20.0
KEEP_ALIVE_POLL_S = 1.0


class _Outcome(enum.Enum):
    """How a batch's delivery ended."""

    COMMITTED = "committed"
    DROPPED = "dropped"  # a revoke ended meanwhile: left uncommitted for the partitions' owner
    STOPPED = "stopped"  # stop requested (or a predecessor stopped): left uncommitted


@dataclass(slots=True)
class _Prepared:
    records: int
    result: BatchResult
    t_start: float
    t_ready: float
    t_io: float = 0.0  # bulk started
    t_indexed: float = 0.0  # bulk done


def tune_gc() -> None:
    """Garbage-collector settings for the consumer process (call once, after the model is loaded).

    Each event allocates a few dozen short-lived containers, nearly all freed by reference
    counting; with the default thresholds the cyclic collector still ran every 700 allocations and
    rescanned the long-lived model, miner and caches. Freezing what exists at start and collecting
    less often took about a quarter off the per-event CPU (bench/bench_ingest.py).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 1_000)


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, OSConnectionError | ConnectionTimeout | asyncio.TimeoutError | OSError):
        return True
    if isinstance(exc, TransportError):
        status = exc.status_code
        return not isinstance(status, int) or status in (429, 500, 502, 503, 504)
    return False


def _backoff(attempt: int, base: float = 0.5) -> float:
    """Capped exponential backoff before retry number ``attempt`` (1, 2, ...)."""
    return float(min(MAX_BACKOFF_S, base * 2 ** min(attempt, 6)))


def _unavailable_delay(exc: BaseException, attempt: int, stage: str) -> float:
    """Backoff (with jitter) before the next try at OpenSearch; logged and shown in the metrics."""
    metrics.OPENSEARCH_UP.set(0)
    delay = _backoff(attempt) * (0.5 + random.random() / 2)
    log.warning("opensearch_unavailable", stage=stage, error=str(exc)[:200], retry_in_s=round(delay, 2))
    return delay


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, worker: LogEmbedder) -> None:
        self.worker = worker

    async def on_partitions_revoked(self, revoked: Any) -> None:
        # A batch prepared from records fetched before this point must not be delivered: its
        # partitions may now belong to another consumer, which re-reads them from the committed
        # offsets (so would this one). The continuation tracker starts over for the same reason.
        worker = self.worker
        worker.tracker = ContinuationTracker()
        worker.revoking = True
        try:
            # Commit done work before the partitions move: the batches in delivery (if any)
            # finish and commit. Should that take too long (OpenSearch down), they are left to
            # the new owner: once this returns, no batch started before it commits (the
            # ``handovers`` fence); the new owner re-reads them from the committed offsets and
            # they overwrite themselves (deterministic ids, offset-exact catalog).
            task = worker._inflight
            if task is not None and not task.done():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(task), timeout=REVOKE_WAIT_S)
        finally:
            worker.handovers += 1
            worker.revoking = False
        log.info("partitions_revoked", partitions=sorted(tp.partition for tp in revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        log.info("partitions_assigned", partitions=sorted(tp.partition for tp in assigned))


class LogEmbedder:
    def __init__(
        self,
        settings: Settings,
        embedder: CachedEmbedder,
        sink: EventSink,
        miner: TemplateMiner | None = None,
        state_client: Any = None,
        state_every_s: float = 30.0,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.sink = sink
        self.miner = miner
        self.redactor = Redactor.from_settings(settings)
        self.qa_cache: QACache | None = None  # answers about the scope of new events get dropped
        self._pending_span: dict[str, tuple[datetime, datetime]] = {}
        self._inflight: asyncio.Task[_Outcome] | None = None  # the newest batch in delivery
        self._indexed: asyncio.Future[None] | None = None  # set when that batch is indexed
        self._holds = 0  # stages waiting for a dependency; partitions are paused while > 0
        self.handovers = 0  # revocations done; a batch started before one is not committed
        self.revoking = False  # inside the revoke listener (a Kafka poll would wait for the rejoin)
        self._last_invalidation = 0.0
        self.state_client = state_client
        self.state_every_s = state_every_s
        self._last_state_save = time.monotonic()
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self.stopping = asyncio.Event()
        self._position: dict[TopicPartition, int] = {}
        self.tracker = ContinuationTracker()
        self.indexed = 0
        self.dead_lettered = 0
        self.merged = 0

    async def start(self) -> None:
        s = self.settings
        self.producer = AIOKafkaProducer(
            bootstrap_servers=s.kafka_bootstrap,
            acks="all",
            linger_ms=5,
            transactional_id=f"{s.consumer_group}-{uuid.uuid4().hex[:12]}",
            transaction_timeout_ms=15_000,
        )
        await self.producer.start()
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=s.kafka_bootstrap,
            group_id=s.consumer_group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=s.consumer_batch_max,
            fetch_max_bytes=16 * 1024 * 1024,
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        self.consumer.subscribe([s.topic], listener=_CommitOnRevoke(self))
        await self.consumer.start()
        log.info("consumer_started", topic=s.topic, group=s.consumer_group, embedder=self.embedder.name)

    async def stop(self) -> None:
        if self.consumer is not None:
            await self.save_state()
            await self.consumer.stop()
        if self.producer is not None:
            await self.producer.stop()
        log.info("consumer_stopped", indexed=self.indexed, dead_lettered=self.dead_lettered)

    @property
    def rebalances(self) -> int:
        """Revocations begun; a batch fetched before one is dropped, not delivered."""
        return self.handovers + self.revoking

    def committed_records(self) -> int:
        """Sum of the committed next-offsets of the partitions this worker has handled."""
        return sum(self._position.values())

    def request_stop(self) -> None:
        self.stopping.set()

    async def run(self) -> None:
        """Fetch → prepare → index → catalog + commit, as a pipeline over consecutive batches.

        While batch N is bulk-indexed, batch N+1 is prepared; once N is indexed (and N-1
        committed), N+1's bulk starts while N updates the catalog and commits. OpenSearch so
        always has event bulks to work on, and the consumer's own steps hide behind them. At
        most three batches are held (one finishing, one indexing, one prepared: memory stays
        bounded); catalog updates and commits happen strictly in fetch order, each only after
        its own batch was indexed.
        """
        assert self.consumer is not None
        try:
            while not self.stopping.is_set():
                batches = await self.consumer.getmany(
                    timeout_ms=self.settings.consumer_batch_timeout_ms,
                    max_records=self.settings.consumer_batch_max,
                )
                if not batches:
                    if not await self._drain():
                        break
                    self._update_lag()
                    await self._invalidate_answers()  # flush what the throttle held back
                    continue
                records = [
                    SourceRecord(
                        topic=r.topic,
                        partition=r.partition,
                        offset=r.offset,
                        key=r.key,
                        value=r.value,
                        headers=tuple(r.headers or ()),
                        timestamp_ms=r.timestamp,
                    )
                    for recs in batches.values()
                    for r in recs
                ]
                offsets = {tp: recs[-1].offset + 1 for tp, recs in batches.items()}
                generation = self.rebalances
                prepared = await self.prepare(records)
                if prepared is None or not await self._indexing_done():
                    break  # stopping while a dependency was down: abandon, Kafka re-delivers
                if self.rebalances != generation:
                    log.info("batch_dropped_after_rebalance", records=len(records))
                    continue  # uncommitted: re-read from the committed offsets by the partitions' owner
                self._start_delivery(prepared, offsets)
        finally:
            await self._drain()

    def _start_delivery(self, prepared: _Prepared, offsets: dict[TopicPartition, int]) -> None:
        """Deliver ``prepared`` behind the batch in delivery; call after :meth:`_indexing_done`."""
        indexed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        delivery = self._deliver_and_note(prepared, offsets, self._inflight, indexed, self.handovers)
        self._inflight = asyncio.create_task(delivery)
        self._indexed = indexed

    async def _deliver_and_note(
        self,
        prepared: _Prepared,
        offsets: dict[TopicPartition, int],
        previous: asyncio.Task[_Outcome] | None,
        indexed: asyncio.Future[None],
        generation: int,
    ) -> _Outcome:
        """Index this batch (while ``previous`` finishes), then, after ``previous`` is done,
        update the catalog and commit. ``indexed`` is set once both the bulk and ``previous``
        are done, so the next batch's bulk never overtakes an unfinished predecessor. Nothing
        is committed after a predecessor stopped, nor after a revoke ended since this batch
        started (``generation`` is the ``handovers`` count then)."""
        try:
            ok, index_dead = await self._index_stage(prepared)
        finally:
            # Whatever happened here, the predecessor is awaited: it may be mid-commit.
            before = _Outcome.COMMITTED if previous is None else await previous
            if not indexed.done():
                indexed.set_result(None)
        if not ok or before is _Outcome.STOPPED:
            return _Outcome.STOPPED
        outcome = await self._finish_stage(prepared, offsets, index_dead, generation)
        if outcome is not _Outcome.COMMITTED:
            return outcome
        self._position.update(offsets)
        self._update_lag()
        await self._invalidate_answers()
        if time.monotonic() - self._last_state_save > self.state_every_s:
            await self.save_state()
        return _Outcome.COMMITTED

    def _fenced(self, generation: int | None, records: int) -> bool:
        """True if a revoke ended since the batch started: its partitions may have moved."""
        if generation is None or generation == self.handovers:
            return False
        log.info("batch_dropped_after_rebalance", records=records, stage="commit")
        return True

    async def _drain(self) -> bool:
        """Wait for every batch in delivery (if any). False if one stopped before committing.

        The newest task stays visible in ``_inflight`` while awaited, so a revoke meanwhile
        waits for it too."""
        task = self._inflight
        if task is None:
            return True
        try:
            return await task is not _Outcome.STOPPED
        finally:
            if self._inflight is task:
                self._inflight = self._indexed = None

    async def _indexing_done(self) -> bool:
        """Wait until the batch in delivery is indexed and its predecessor committed (the next
        bulk may start). False if it stopped before that."""
        task, indexed = self._inflight, self._indexed
        if task is None or indexed is None:
            return True
        waiters: list[asyncio.Future[Any]] = [task, indexed]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if task.done() and task.result() is _Outcome.STOPPED:
            return await self._drain()  # stopped: False, with nothing left running
        return True

    def _note_span(self, actions: Sequence[IndexAction]) -> None:
        if self.qa_cache is None:
            return
        # Per service, the earliest and latest event; first per batch as strings (to_doc writes
        # one fixed ISO-8601 UTC form, so string order is time order), parsed once per service.
        lows: dict[str, str] = {}
        highs: dict[str, str] = {}
        for action in actions:
            service = str(action.doc.get("service"))
            stamp = str(action.doc["@timestamp"])
            if service not in lows or stamp < lows[service]:
                lows[service] = stamp
            if service not in highs or stamp > highs[service]:
                highs[service] = stamp
        for service, low in lows.items():
            lo = datetime.fromisoformat(low.replace("Z", "+00:00"))
            hi = datetime.fromisoformat(highs[service].replace("Z", "+00:00"))
            old_lo, old_hi = self._pending_span.get(service, (lo, hi))
            self._pending_span[service] = (min(lo, old_lo), max(hi, old_hi))

    async def _invalidate_answers(self, every_s: float = 1.0) -> None:
        """Drop cached answers whose scope the new events fall into (at most once a second)."""
        if self.qa_cache is None or not self._pending_span:
            return
        if time.monotonic() - self._last_invalidation < every_s:
            return
        self._last_invalidation = time.monotonic()
        spans, self._pending_span = self._pending_span, {}
        since = min(lo for lo, _ in spans.values())
        until = max(hi for _, hi in spans.values())
        try:
            dropped = await self.qa_cache.invalidate_for_events(set(spans), since, until)
        except Exception as exc:  # the entries still expire by TTL; try again with the next batch
            log.warning("qa_cache_invalidation_failed", error=str(exc)[:200])
            for service, (lo, hi) in spans.items():
                old = self._pending_span.get(service, (lo, hi))
                self._pending_span[service] = (min(lo, old[0]), max(hi, old[1]))
            return
        if dropped:
            log.info("qa_cache_invalidated", entries=dropped, services=sorted(spans))

    async def save_state(self) -> None:
        """Snapshot the template miner so ids survive restarts (best effort, retried next time)."""
        self._last_state_save = time.monotonic()
        if self.miner is None or self.state_client is None:
            return
        try:
            state_json = await asyncio.to_thread(snapshot, self.miner)
            await save_miner(self.state_client, self.settings.consumer_group, state_json)
        except Exception as exc:
            log.warning("miner_state_save_failed", error=str(exc)[:200])

    async def handle_batch(
        self, records: Sequence[SourceRecord], offsets: dict[TopicPartition, int] | None = None
    ) -> bool:
        """Index or dead-letter every record, then commit. False if we stopped before finishing."""
        prepared = await self.prepare(records)
        return prepared is not None and await self.deliver(prepared, offsets or {})

    async def prepare(self, records: Sequence[SourceRecord]) -> _Prepared | None:
        """Parse, template, redact and embed (in a worker thread). None if we stopped meanwhile."""
        metrics.CONSUMED.inc(len(records))
        t_start = time.perf_counter()
        hits0, misses0, calls0 = self.embedder.hits, self.embedder.misses, self.embedder.model_calls
        attempt = 0
        while True:
            try:
                result = await asyncio.to_thread(
                    transform,
                    records,
                    self.embedder,
                    raw_max_bytes=self.settings.raw_max_bytes,
                    record_max_bytes=self.settings.record_max_bytes,
                    tracker=self.tracker,
                    miner=self.miner,
                    redactor=self.redactor,
                )
                break
            except DependencyUnavailable as exc:  # the embedding endpoint is down: wait, keep the batch
                attempt += 1
                metrics.BULK_RETRIES.labels(cause="embedder").inc()
                delay = _backoff(attempt)
                log.warning("embedder_unavailable", error=str(exc)[:200], retry_in_s=delay)
                if await self._sleep_or_stop(delay):
                    return None
        if self.miner is not None:
            metrics.TEMPLATES_TOTAL.set(self.miner.cluster_count())
        metrics.MERGED.inc(len(result.merged))
        self.merged += len(result.merged)
        for rule, count in result.redactions.items():
            metrics.REDACTIONS.labels(rule=rule).inc(count)
        metrics.EMBED_CACHE_HITS.inc(self.embedder.hits - hits0)
        metrics.EMBED_CACHE_MISSES.inc(self.embedder.misses - misses0)
        metrics.EMBED_CALLS.inc(self.embedder.model_calls - calls0)
        for flag in result.flags:
            metrics.FLAGGED.labels(flag=flag).inc()
        return _Prepared(len(records), result, t_start, time.perf_counter())

    async def deliver(self, prepared: _Prepared, offsets: dict[TopicPartition, int]) -> bool:
        """Bulk-index, update the catalog, then commit dead letters + offsets in one transaction."""
        ok, index_dead = await self._index_stage(prepared)
        return ok and await self._finish_stage(prepared, offsets, index_dead) is _Outcome.COMMITTED

    async def _index_stage(self, prepared: _Prepared) -> tuple[bool, list[DeadLetter]]:
        prepared.t_io = time.perf_counter()
        ok, index_dead = await self._index_with_retry(prepared.result.actions)
        prepared.t_indexed = time.perf_counter()
        return ok, index_dead

    async def _finish_stage(
        self,
        prepared: _Prepared,
        offsets: dict[TopicPartition, int],
        index_dead: list[DeadLetter],
        generation: int | None = None,
    ) -> _Outcome:
        """Catalog update, then dead letters + offsets committed in one transaction (unless
        fenced by a revoke: see :meth:`_fenced`)."""
        if self._fenced(generation, prepared.records):
            return _Outcome.DROPPED
        result = prepared.result
        t_start, t_index, t_io = prepared.t_start, prepared.t_ready, prepared.t_io
        t_catalog = time.perf_counter()
        dead = list(result.dead_letters)
        dead.extend(index_dead)
        failed_ids = {d.record_id for d in index_dead}
        indexed = [a for a in result.actions if a.doc_id not in failed_ids]
        self._note_span(indexed)
        if not await self._update_catalog(indexed):
            return _Outcome.STOPPED
        t_commit = time.perf_counter()
        committed = await self._commit(dead, offsets, generation, prepared.records)
        metrics.BATCH_SECONDS.observe(time.perf_counter() - t_start)
        log.debug(
            "batch",
            records=prepared.records,
            transform_ms=round((t_index - t_start) * 1000),
            wait_ms=round((t_io - t_index) * 1000),
            index_ms=round((prepared.t_indexed - t_io) * 1000),
            catalog_wait_ms=round((t_catalog - prepared.t_indexed) * 1000),
            catalog_ms=round((t_commit - t_catalog) * 1000),
            commit_ms=round((time.perf_counter() - t_commit) * 1000),
        )
        return committed

    async def _update_catalog(self, actions: Sequence[IndexAction]) -> bool:
        """Template catalog after the events: retried like the bulk, exact under re-delivery."""
        updates = collect_updates(actions)
        if not updates:
            return True
        body = catalog_bulk_body(updates)
        attempt = 0
        while True:
            try:
                errors = await self.sink.write_catalog(body)
                metrics.OPENSEARCH_UP.set(1)
            except Exception as exc:
                if not _is_transient(exc):
                    raise
                attempt += 1
                if await self._sleep_or_stop(_unavailable_delay(exc, attempt, "catalog")):
                    return False
                continue
            for error in errors:
                metrics.CATALOG_ERRORS.inc()
                log.warning("catalog_update_failed", error=error)
            metrics.TEMPLATES_UPDATED.inc(len(updates))
            return True

    async def _index_with_retry(self, actions: list[IndexAction]) -> tuple[bool, list[DeadLetter]]:
        pending = actions
        dead: list[DeadLetter] = []
        attempt = 0
        paused = False
        try:
            while pending:
                try:
                    failures = await self.sink.write(pending)
                    metrics.OPENSEARCH_UP.set(1)
                except Exception as exc:
                    if not _is_transient(exc):
                        raise
                    metrics.BULK_RETRIES.labels(cause="transport").inc()
                    if not paused:
                        # Hold the partitions: no new fetches (memory stays bounded) while we wait.
                        self._hold()
                        paused = True
                    attempt += 1
                    if await self._sleep_or_stop(_unavailable_delay(exc, attempt, "bulk")):
                        return False, dead
                    continue
                self.indexed += len(pending) - len(failures)
                failed = {id(f.action) for f in failures}
                by_level = Counter(str(a.doc.get("level", "?")) for a in pending if id(a) not in failed)
                for level, count in by_level.items():
                    metrics.EVENTS_BY_LEVEL.labels(level=level).inc(count)
                metrics.INDEXED.inc(len(pending) - len(failures))
                retry = [f.action for f in failures if f.retriable]
                for f in failures:
                    if not f.retriable:
                        dead.append(DeadLetter(f.action.record, "index", f"status_{f.status}", f.error))
                if retry:
                    metrics.BULK_RETRIES.labels(cause="item").inc(len(retry))
                    attempt += 1
                    if await self._sleep_or_stop(_backoff(attempt, base=0.2)):
                        return False, dead
                pending = retry
            return True, dead
        finally:
            if paused:
                self._release()
                log.info("opensearch_recovered")

    def _hold(self) -> None:
        """Pause every assigned partition until the matching :meth:`_release` (holds nest:
        several stages may be waiting for a dependency at once)."""
        self._holds += 1
        if self.consumer is not None:
            self.consumer.pause(*self.consumer.assignment())

    def _release(self) -> None:
        self._holds -= 1
        if self._holds == 0 and self.consumer is not None:
            self.consumer.resume(*self.consumer.assignment())

    async def _sleep_or_stop(self, delay: float) -> bool:
        """Sleep with the partitions held, keeping the group membership alive; True if a stop
        was requested meanwhile."""
        self._hold()
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=delay)
            return True
        except TimeoutError:
            await self._keep_alive_poll()
            return False
        finally:
            self._release()

    async def _keep_alive_poll(self) -> None:
        """Poll with every partition paused: fetches nothing, tells the group we are alive.

        Only the run loop may take records: should a poll here ever return some (a partition
        resumed meanwhile), they are put back by seeking to them, never dropped.
        """
        if self.consumer is None or self.revoking:
            return  # during a rebalance a poll waits for the new assignment: heartbeats suffice
        self.consumer.pause(*self.consumer.assignment())  # also partitions assigned since the hold
        try:
            # Bounded: should a rebalance start meanwhile, the poll would wait for its end.
            got = await asyncio.wait_for(self.consumer.getmany(timeout_ms=0), timeout=KEEP_ALIVE_POLL_S)
        except TimeoutError:
            return
        for tp, recs in got.items():
            if recs:
                self.consumer.seek(tp, recs[0].offset)
                log.warning("keep_alive_poll_returned_records", partition=tp.partition, records=len(recs))

    async def _commit(
        self,
        dead: Sequence[DeadLetter],
        offsets: dict[TopicPartition, int],
        generation: int | None = None,
        records: int = 0,
    ) -> _Outcome:
        """Dead letters and the batch's offsets in one Kafka transaction: both land or neither.

        A crash before the commit re-delivers the batch; its dead letters from the aborted
        transaction are invisible to read_committed readers, so none appears twice. Each
        attempt first checks the revoke fence (:meth:`_fenced`).
        """
        attempt = 0
        while True:
            if self._fenced(generation, records):
                return _Outcome.DROPPED
            try:
                await self._send_commit(dead, offsets)
                break
            except (TimeoutError, KafkaConnectionError, KafkaTimeoutError) as exc:
                attempt += 1
                log.warning("commit_retry", error=str(exc)[:200])
                if await self._sleep_or_stop(_backoff(attempt)):
                    return _Outcome.STOPPED
        for letter in dead:
            metrics.DLQ.labels(stage=letter.stage, reason=letter.reason).inc()
            log.info(
                "dead_lettered",
                reason=letter.reason,
                stage=letter.stage,
                partition=letter.record.partition,
                offset=letter.record.offset,
            )
        self.dead_lettered += len(dead)
        return _Outcome.COMMITTED

    async def _send_commit(self, dead: Sequence[DeadLetter], offsets: dict[TopicPartition, int]) -> None:
        """One attempt: the dead letters and the offsets in one Kafka transaction."""
        assert self.producer is not None
        async with self.producer.transaction():
            for letter in dead:
                await self.producer.send(
                    self.settings.dlq_topic,
                    value=letter.record.value or b"",
                    key=letter.record.key,
                    headers=letter.headers(),
                )
            if offsets:
                await self.producer.send_offsets_to_transaction(offsets, self.settings.consumer_group)

    def _update_lag(self) -> None:
        if self.consumer is None:
            return
        for tp in self.consumer.assignment():
            high = self.consumer.highwater(tp)
            pos = self._position.get(tp)
            if high is None or pos is None:
                continue
            metrics.LAG.labels(partition=str(tp.partition)).set(max(0, high - pos))


def install_signal_handlers(worker: LogEmbedder) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.request_stop)
