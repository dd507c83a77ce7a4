"""Send log events to Kafka the way the Spring apps' Kafka appender would, or replay a file.

* :func:`produce_events` — dict events → compact JSON values keyed by ``service``;
* :func:`replay_file` — an NDJSON file, line by line, bytes as they are (a line that is
  not JSON is sent raw so the consumer's dead-letter path can be exercised);
* :func:`write_ndjson` — the same events to a file instead of Kafka.

``rate=None`` sends as fast as the broker acknowledges (sends are batched by the
client, at most ``max_in_flight`` records await their ack); a rate paces sends with a
token bucket. Both return the number of records the broker acknowledged (acks=all).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from loglens.errors import ConfigError, DependencyUnavailable, LogLensError
from loglens.progress import Progress

Record = tuple[bytes | None, bytes]  # (key, value)

DEFAULT_LINGER_MS = 10
DEFAULT_MAX_IN_FLIGHT = 1000
TOPIC_CHECK_TIMEOUT_S = 5.0


class TopicMissing(ConfigError):
    """The topic does not exist and the broker does not auto-create topics."""


class ProduceError(LogLensError):
    """Records were not acknowledged by Kafka (after the client's own retries)."""

    retriable = True

    def __init__(self, message: str, *, acked: int, failed: int) -> None:
        super().__init__(message, retriable=True)
        self.acked = acked
        self.failed = failed


def kafka_unreachable(bootstrap: str) -> DependencyUnavailable:
    return DependencyUnavailable(
        "kafka", f"cannot reach Kafka at {bootstrap} — start it with `loglens stack up`"
    )


def encode_event(event: dict[str, Any]) -> Record:
    """(key, value) of one event: key = service name, value = compact UTF-8 JSON."""
    service = event.get("service")
    key = service.encode() if isinstance(service, str) and service else None
    value = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
    return key, value


def record_from_line(line: bytes) -> Record:
    """(key, value) for one NDJSON line: the line as is; key from its ``service`` when it is JSON."""
    try:
        obj = json.loads(line)
    except ValueError:  # not JSON (or not UTF-8): sent raw, the consumer dead-letters it
        return None, line
    service = obj.get("service") if isinstance(obj, dict) else None
    return (service.encode() if isinstance(service, str) and service else None), line


def write_ndjson(path: str | Path | IO[str], events: Iterable[dict[str, Any]]) -> int:
    """Write events one compact JSON object per line; ``path`` may be an open text file ("-" = stdout)."""
    if isinstance(path, str | Path):
        if str(path) == "-":
            return _write_lines(sys.stdout, events)
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            return _write_lines(fh, events)
    return _write_lines(path, events)


def _write_lines(fh: IO[str], events: Iterable[dict[str, Any]]) -> int:
    n = 0
    for event in events:
        fh.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")))
        fh.write("\n")
        n += 1
    fh.flush()
    return n


class TokenBucket:
    """Paces ``take()`` calls to ``rate`` per second with a small burst allowance."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate / 20.0)  # ~50 ms worth of records
        self.tokens = 1.0
        self._last = time.monotonic()

    async def take(self, stop: asyncio.Event | None = None) -> bool:
        """Wait for one token; False when ``stop`` was set while waiting."""
        while True:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self._last) * self.rate)
            self._last = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return True
            if stop is not None and stop.is_set():
                return False
            await asyncio.sleep(min(0.25, (1.0 - self.tokens) / self.rate))


async def _aiter(items: Iterable[Record] | AsyncIterable[Record]) -> AsyncIterator[Record]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


async def _encoded(events: Iterable[dict[str, Any]] | AsyncIterable[dict[str, Any]]) -> AsyncIterator[Record]:
    if isinstance(events, AsyncIterable):
        async for event in events:
            yield encode_event(event)
    else:
        for event in events:
            yield encode_event(event)


async def produce_records(
    records: Iterable[Record] | AsyncIterable[Record],
    bootstrap: str,
    topic: str,
    rate: float | None = None,
    progress: bool = True,
    *,
    total: int | None = None,
    label: str = "produce",
    unit: str = "records",
    stop: asyncio.Event | None = None,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    linger_ms: int = DEFAULT_LINGER_MS,
    compression: str | None = None,
    client_id: str = "loglens-demo",
) -> int:
    """Send (key, value) records; returns how many Kafka acknowledged.

    Stops early (after flushing) when ``stop`` is set. Raises :class:`DependencyUnavailable`
    when the bootstrap servers cannot be reached and :class:`ProduceError` when records fail.
    """
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaConnectionError, KafkaError

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        linger_ms=linger_ms,
        compression_type=compression,
        max_batch_size=256 * 1024,
        request_timeout_ms=30_000,
    )
    # aiokafka logs every failed bootstrap / metadata attempt itself; the errors we raise say it once.
    client_log = logging.getLogger("aiokafka")
    level = client_log.level
    client_log.setLevel(logging.CRITICAL)
    try:
        try:
            await producer.start()
        except (KafkaConnectionError, OSError) as exc:
            await producer.stop()
            raise kafka_unreachable(bootstrap) from exc
        try:
            await asyncio.wait_for(producer.partitions_for(topic), TOPIC_CHECK_TIMEOUT_S)
        except (TimeoutError, KafkaError) as exc:
            await producer.stop()
            raise TopicMissing(
                f"topic {topic!r} does not exist on Kafka at {bootstrap} and the broker does not create it "
                "(`loglens stack up` creates the LogLens topics)"
            ) from exc
    finally:
        client_log.setLevel(level)

    acked = 0
    failed = 0
    first_error: BaseException | None = None
    bucket = TokenBucket(rate) if rate else None
    bar = Progress(label, total=total, unit=unit, enabled=progress)

    def _done(fut: asyncio.Future[Any]) -> None:
        nonlocal acked, failed, first_error
        if fut.cancelled():
            failed += 1
            return
        exc = fut.exception()
        if exc is None:
            acked += 1
            bar.update()
        else:
            failed += 1
            first_error = first_error or exc

    inflight: list[asyncio.Future[Any]] = []
    ok = False
    try:
        with bar:
            async for key, value in _aiter(records):
                if first_error is not None or (stop is not None and stop.is_set()):
                    break
                if bucket is not None and not await bucket.take(stop):
                    break
                try:
                    fut: asyncio.Future[Any] = await producer.send(topic, value=value, key=key)
                except KafkaError as exc:
                    failed += 1
                    first_error = first_error or exc
                    break
                fut.add_done_callback(_done)
                inflight.append(fut)
                if len(inflight) >= max_in_flight:
                    await asyncio.gather(*inflight, return_exceptions=True)
                    inflight.clear()
                    if first_error is not None:
                        break
            if inflight:
                await asyncio.gather(*inflight, return_exceptions=True)
                inflight.clear()
            ok = first_error is None
    finally:
        await producer.stop()  # flushes whatever is still batched
    if not ok and first_error is not None:
        raise ProduceError(
            f"{failed} record(s) to {topic} at {bootstrap} failed: "
            f"{type(first_error).__name__}: {first_error}",
            acked=acked,
            failed=failed,
        ) from first_error
    return acked


async def produce_events(
    events: Iterable[dict[str, Any]] | AsyncIterable[dict[str, Any]],
    bootstrap: str,
    topic: str,
    rate: float | None = None,
    progress: bool = True,
    *,
    total: int | None = None,
    stop: asyncio.Event | None = None,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    linger_ms: int = DEFAULT_LINGER_MS,
    compression: str | None = None,
) -> int:
    """Send log events (dicts) keyed by their ``service``; returns the number acknowledged."""
    return await produce_records(
        _encoded(events),
        bootstrap,
        topic,
        rate,
        progress,
        total=total,
        label=f"produce → {topic}",
        unit="events",
        stop=stop,
        max_in_flight=max_in_flight,
        linger_ms=linger_ms,
        compression=compression,
    )


def count_lines(path: str | Path) -> int:
    """Non-empty lines of a file (what :func:`replay_file` will send)."""
    n = 0
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                n += 1
    return n


def iter_file_records(path: str | Path) -> Iterator[Record]:
    with open(path, "rb") as fh:
        for raw in fh:
            line = raw.rstrip(b"\r\n")
            if line.strip():
                yield record_from_line(line)


async def replay_file(
    path: str | Path,
    bootstrap: str,
    topic: str,
    rate: float | None = None,
    progress: bool = True,
    *,
    stop: asyncio.Event | None = None,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
) -> int:
    """Send every non-empty line of an NDJSON file as one record; returns the number acknowledged."""
    total = count_lines(path)
    return await produce_records(
        iter_file_records(path),
        bootstrap,
        topic,
        rate,
        progress,
        total=total,
        label=f"replay {Path(path).name} → {topic}",
        stop=stop,
        max_in_flight=max_in_flight,
    )
