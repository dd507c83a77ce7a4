"""Pure per-batch logic of the consumer: records in, index actions and dead letters out.

No Kafka or OpenSearch here, so it is unit-tested with plain data; the consumer loop
(``consumer.py``) does the I/O around it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from loglens.embedding.base import Embedder
from loglens.errors import BadEvent
from loglens.events import LogEvent, decode_record, parse_logstash_json
from loglens.indices import events_index_for
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


@dataclass(slots=True)
class BatchResult:
    actions: list[IndexAction] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)


def parse_record(record: SourceRecord, *, raw_max_bytes: int, now: datetime) -> LogEvent:
    obj = decode_record(record.value, max_bytes=max(raw_max_bytes * 8, 1 << 20))
    event = parse_logstash_json(obj, key=record.key, record_timestamp_ms=record.timestamp_ms, now=now)
    event.kafka_topic = record.topic
    event.kafka_partition = record.partition
    event.kafka_offset = record.offset
    assert record.value is not None  # decode_record rejected empty values
    raw = record.value[:raw_max_bytes].decode("utf-8", "replace")
    event.raw = raw
    if len(record.value) > raw_max_bytes:
        event.flags.append("raw_truncated")
    template, params = mask(event.message)
    exc = event.exception
    event.template = template
    event.params = params
    event.template_id = template_id_for(
        template, exc.cls if exc else None, exc.top_app_frame if exc else None
    )
    return event


def transform(
    records: Sequence[SourceRecord],
    embedder: Embedder,
    *,
    raw_max_bytes: int,
    now: datetime | None = None,
) -> BatchResult:
    """Parse, template and embed a batch. Bad records become dead letters, never exceptions."""
    now = now or datetime.now(UTC)
    result = BatchResult()
    events: list[tuple[LogEvent, SourceRecord]] = []
    for record in records:
        try:
            event = parse_record(record, raw_max_bytes=raw_max_bytes, now=now)
        except BadEvent as bad:
            result.dead_letters.append(DeadLetter(record, bad.stage, bad.reason, bad.message))
            continue
        events.append((event, record))
        result.flags.extend(event.flags)
    if not events:
        return result
    vectors = embedder.embed([event.embedding_text() for event, _ in events])
    for (event, record), vector in zip(events, vectors, strict=True):
        result.actions.append(
            IndexAction(
                index=events_index_for(event.timestamp),
                doc_id=event.doc_id,
                doc=event.to_doc(vector.tolist()),
                record=record,
            )
        )
    return result
