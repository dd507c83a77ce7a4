"""Pure per-batch logic of the consumer: records in, index actions and dead letters out.

No Kafka or OpenSearch here, so it is unit-tested with plain data; the consumer loop
(``consumer.py``) does the I/O around it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from loglens.embedding.base import Embedder
from loglens.embedding.cache import encode_vectors
from loglens.errors import BadEvent
from loglens.events import LogEvent, parse_stack_trace, resolve_service
from loglens.formats import Continuation, append_continuation, parse_value
from loglens.indices import events_index_for
from loglens.mining import TemplateMiner
from loglens.redaction import Redactor
from loglens.templates import mask, template_id_for


@dataclass(slots=True, frozen=True)
class SourceRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp_ms: int | None = None


@dataclass(slots=True)
class DeadLetter:
    record: SourceRecord
    stage: str
    reason: str
    error: str

    @property
    def record_id(self) -> str:
        return f"{self.record.topic}-{self.record.partition}-{self.record.offset}"

    def headers(self) -> list[tuple[str, bytes]]:
        """Original headers plus ours naming the stage, reason and source position."""
        ours = [
            ("loglens.stage", self.stage.encode()),
            ("loglens.reason", self.reason.encode()),
            ("loglens.error", self.error[:1000].encode("utf-8", "replace")),
            ("loglens.source.topic", self.record.topic.encode()),
            ("loglens.source.partition", str(self.record.partition).encode()),
            ("loglens.source.offset", str(self.record.offset).encode()),
        ]
        return [*self.record.headers, *ours]


@dataclass(slots=True)
class IndexAction:
    index: str
    doc_id: str
    doc: dict[str, Any]
    record: SourceRecord
    vector_json: str | None = None  # doc["vector"] already JSON-encoded (cached per text)


@dataclass(slots=True)
class BatchResult:
    actions: list[IndexAction] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    merged: list[SourceRecord] = field(default_factory=list)
    redactions: dict[str, int] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)


class ContinuationTracker:
    """The last event per (partition, key), so stack-trace lines sent in a later record can join it.

    Bounded (LRU). After a restart it is empty: a continuation without a known parent is indexed
    as an event of its own, flagged ``orphan_continuation`` — never dropped.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._last: OrderedDict[tuple[int, bytes | None], LogEvent] = OrderedDict()

    def get(self, partition: int, key: bytes | None) -> LogEvent | None:
        return self._last.get((partition, key))

    def put(self, partition: int, key: bytes | None, event: LogEvent) -> None:
        slot = (partition, key)
        self._last[slot] = event
        self._last.move_to_end(slot)
        while len(self._last) > self.max_entries:
            self._last.popitem(last=False)


def _orphan(record: SourceRecord, text: str, now: datetime) -> LogEvent:
    flags = ["orphan_continuation"]
    service = resolve_service([], record.key, record.headers, flags)
    timestamp = (
        datetime.fromtimestamp(record.timestamp_ms / 1000.0, tz=UTC)
        if record.timestamp_ms is not None
        else now
    )
    first = text.strip().split("\n", 1)[0]
    return LogEvent(
        timestamp=timestamp,
        service=service,
        level="ERROR",
        message=first,
        stack_trace=text,
        exception=parse_stack_trace(text),
        flags=flags,
        source_format="console",
    )


def _finish(event: LogEvent, miner: TemplateMiner | None) -> None:
    """Template identity from the message plus the exception class and top application frame.

    With a miner, the id hashes the cluster's first (stable) template text, so it never changes
    while the displayed template generalizes; without one, the regex-masked message is used.
    """
    exc = event.exception
    if miner is not None:
        match = miner.add(event.message)
        template, stable, params = match.template, match.stable_template or match.template, match.params
    else:
        template, params = mask(event.message)
        stable = template
    event.template = template
    event.params = params[:20]
    event.template_id = template_id_for(stable, exc.cls if exc else None, exc.top_app_frame if exc else None)


def _redact(event: LogEvent, redactor: Redactor, counts: dict[str, int]) -> None:
    """Secrets out of every text field before templating, embedding and storing."""

    def run(text: str) -> str:
        result = redactor.redact(text)
        for rule, n in result.counts.items():
            counts[rule] = counts.get(rule, 0) + n
        return result.text

    event.message = run(event.message)
    if event.stack_trace:
        event.stack_trace = run(event.stack_trace)
    if event.raw:
        event.raw = run(event.raw)
    exc = event.exception
    if exc is not None:
        exc.message = run(exc.message)
        for cause in exc.causes:
            cause["message"] = run(cause.get("message", ""))


def _locate(event: LogEvent, record: SourceRecord, raw_max_bytes: int) -> None:
    event.kafka_topic = record.topic
    event.kafka_partition = record.partition
    event.kafka_offset = record.offset
    value = record.value or b""
    event.raw = value[:raw_max_bytes].decode("utf-8", "replace")
    if len(value) > raw_max_bytes:
        event.flags.append("raw_truncated")


def transform(
    records: Sequence[SourceRecord],
    embedder: Embedder,
    *,
    raw_max_bytes: int,
    record_max_bytes: int = 1 << 20,
    now: datetime | None = None,
    tracker: ContinuationTracker | None = None,
    miner: TemplateMiner | None = None,
    redactor: Redactor | None = None,
) -> BatchResult:
    """Parse, template and embed a batch. Bad records become dead letters, never exceptions.

    Every record ends up in exactly one of: ``actions`` (indexed as its own event),
    ``dead_letters``, or ``merged`` (stack-trace lines joined onto an earlier event, which is
    then re-indexed under its own id).
    """
    now = now or datetime.now(UTC)
    tracker = tracker if tracker is not None else ContinuationTracker()
    result = BatchResult()
    events: list[tuple[LogEvent, SourceRecord]] = []
    in_batch: set[str] = set()
    for record in records:
        try:
            parsed = parse_value(
                record.value,
                key=record.key,
                headers=record.headers,
                record_timestamp_ms=record.timestamp_ms,
                max_bytes=record_max_bytes,
                now=now,
            )
        except BadEvent as bad:
            result.dead_letters.append(DeadLetter(record, bad.stage, bad.reason, bad.message))
            continue
        if isinstance(parsed, Continuation):
            parent = tracker.get(record.partition, record.key)
            if parent is not None:
                append_continuation(parent, parsed.text)
                result.merged.append(record)
                if parent.doc_id not in in_batch:  # indexed in an earlier batch: index it again
                    events.append((parent, record))
                    in_batch.add(parent.doc_id)
                continue
            event = _orphan(record, parsed.text, now)
        else:
            event = parsed
        _locate(event, record, raw_max_bytes)
        tracker.put(record.partition, record.key, event)
        events.append((event, record))
        in_batch.add(event.doc_id)
    for event, _ in events:
        if redactor is not None:
            _redact(event, redactor, result.redactions)
        _finish(event, miner)
        result.flags.extend(event.flags)
    if not events:
        return result
    vectors = encode_vectors(embedder, [event.embedding_text() for event, _ in events])
    for (event, record), vector in zip(events, vectors, strict=True):
        result.actions.append(
            IndexAction(
                index=events_index_for(event.timestamp),
                doc_id=event.doc_id,
                doc=event.to_doc(vector.values),
                record=record,
                vector_json=vector.json,
            )
        )
    return result
