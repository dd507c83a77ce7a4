"""The normalized log event and the parsers that turn Kafka records into it.

Field names follow the contract in ARCHITECTURE.md (``@timestamp``, ``service``, ``level``,
``exception.class`` ...). Parsing is plain-Python and allocation-light because the
consumer runs it for every record.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from loglens.errors import BadEvent
from loglens.templates import mask

LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
_LEVEL_ALIASES = {"WARNING": "WARN", "ERR": "ERROR", "CRITICAL": "FATAL", "SEVERE": "ERROR", "FINE": "DEBUG"}
_LEVEL_BY_VALUE = {
    5000: "TRACE",
    10000: "DEBUG",
    20000: "INFO",
    30000: "WARN",
    40000: "ERROR",
    50000: "FATAL",
}

# "java.lang.IllegalStateException: boom" / "Caused by: x.y.Z: msg" / "\tat a.b.C.m(C.java:12)"
_EXC_HEAD = re.compile(r"^(?:Caused by: )?([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+)(?::\s?(.*))?$")
_FRAME = re.compile(r"^\s*at\s+([\w$.<>/]+)\(([^)]*)\)")
_FRAMEWORK_PREFIXES = (
    "java.",
    "javax.",
    "jakarta.",
    "jdk.",
    "sun.",
    "com.sun.",
    "org.springframework.",
    "org.apache.",
    "org.hibernate.",
    "com.zaxxer.",
    "io.netty.",
    "reactor.",
    "io.github.resilience4j.",
    "feign.",
    "kotlin.",
    "scala.",
    "com.fasterxml.",
    "io.micrometer.",
    "org.eclipse.",
    "io.undertow.",
)
MAX_FRAMES = 8
FUTURE_TOLERANCE = timedelta(days=1)


@dataclass(slots=True)
class ExceptionInfo:
    cls: str
    message: str
    frames: list[str]
    causes: list[dict[str, str]]  # outermost first: [{"class":..., "message":...}]
    top_app_frame: str | None


@dataclass(slots=True)
class LogEvent:
    timestamp: datetime
    service: str
    level: str
    message: str
    logger: str = ""
    thread: str = ""
    env: str | None = None
    version: str | None = None
    slot: str | None = None
    host: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    exception: ExceptionInfo | None = None
    stack_trace: str | None = None
    tags: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    source_format: str = "logstash"
    template_id: str | None = None
    template: str | None = None
    params: list[str] = field(default_factory=list)
    kafka_topic: str | None = None
    kafka_partition: int | None = None
    kafka_offset: int | None = None
    raw: str = ""

    @property
    def doc_id(self) -> str:
        """Deterministic id so a replay of the same record overwrites, never duplicates."""
        return f"{self.kafka_topic}-{self.kafka_partition}-{self.kafka_offset}"

    def embedding_text(self) -> str:
        """What gets embedded: the template plus the exception, with variables masked.

        Masking the exception message too keeps the text identical across repeats of the same
        failure, so the embedding cache answers them without a model call.
        """
        parts = [self.level, self.service, (self.template or self.message)[:300]]
        if self.exception is not None:
            masked, _ = mask(self.exception.message[:300])
            parts.append(f"{self.exception.cls}: {masked}"[:200])
            for cause in self.exception.causes[1:3]:
                parts.append(f"caused by {cause['class']}")
        return " | ".join(parts)

    def to_doc(self, vector: list[float] | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "@timestamp": self.timestamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "service": self.service,
            "env": self.env,
            "version": self.version,
            "slot": self.slot,
            "host": self.host,
            "level": self.level,
            "logger": self.logger,
            "thread": self.thread,
            "message": self.message,
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "template_id": self.template_id,
            "template": self.template,
            "params": self.params,
            "tags": self.tags,
            "flags": self.flags,
            "source_format": self.source_format,
            "kafka": {
                "topic": self.kafka_topic,
                "partition": self.kafka_partition,
                "offset": self.kafka_offset,
            },
            "raw": self.raw,
        }
        if self.exception is not None:
            doc["exception"] = {
                "class": self.exception.cls,
                "message": self.exception.message,
                "frames": self.exception.frames,
                "causes": self.exception.causes,
                "top_app_frame": self.exception.top_app_frame,
            }
        if self.stack_trace:
            doc["stack_trace"] = self.stack_trace
        if vector is not None:
            doc["vector"] = vector
        return {k: v for k, v in doc.items() if v is not None}


def normalize_level(value: Any, level_value: Any = None) -> str:
    if isinstance(value, str) and value:
        up = value.strip().upper()
        up = _LEVEL_ALIASES.get(up, up)
        if up in LEVELS:
            return up
    if isinstance(level_value, int) and level_value in _LEVEL_BY_VALUE:
        return _LEVEL_BY_VALUE[level_value]
    return "INFO" if value in (None, "") else str(value).upper()[:10]


def parse_timestamp(value: Any) -> datetime:
    """ISO-8601 string (with Z or offset) or epoch millis/seconds → aware UTC datetime."""
    if isinstance(value, int | float):
        seconds = value / 1000.0 if value > 1e11 else float(value)
        return datetime.fromtimestamp(seconds, tz=UTC)
    if not isinstance(value, str) or not value:
        raise ValueError("no timestamp")
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    ts = datetime.fromisoformat(text)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC)


def is_framework_frame(frame: str) -> bool:
    return frame.startswith(_FRAMEWORK_PREFIXES)


def parse_stack_trace(text: str) -> ExceptionInfo | None:
    """Pull the exception class, message, top frames and the ``Caused by:`` chain from a Java trace."""
    if not text:
        return None
    lines = text.splitlines()
    causes: list[dict[str, str]] = []
    frames: list[str] = []
    top_app_frame: str | None = None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        frame = _FRAME.match(line)
        if frame:
            name = frame.group(1)
            if not causes or len(causes) == 1:
                if len(frames) < MAX_FRAMES:
                    frames.append(f"{name}({frame.group(2)})")
                if top_app_frame is None and not is_framework_frame(name):
                    top_app_frame = name
            continue
        if i == 0 or stripped.startswith("Caused by:"):
            head = _EXC_HEAD.match(stripped)
            if head:
                causes.append({"class": head.group(1), "message": (head.group(2) or "")[:500]})
    if not causes:
        return None
    first = causes[0]
    return ExceptionInfo(
        cls=first["class"],
        message=first["message"],
        frames=frames,
        causes=causes,
        top_app_frame=top_app_frame,
    )


def _str_or_none(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def resolve_timestamp(
    raw_ts: Any, record_timestamp_ms: int | None, now: datetime, flags: list[str]
) -> datetime:
    """The event's own time; the Kafka record time (flagged) when it has none."""
    if raw_ts is None or raw_ts == "":
        if record_timestamp_ms is None:
            raise BadEvent("parse", "missing_timestamp", "event has no timestamp and no record time")
        flags.append("timestamp_from_kafka")
        return datetime.fromtimestamp(record_timestamp_ms / 1000.0, tz=UTC)
    try:
        timestamp = parse_timestamp(raw_ts)
    except (ValueError, TypeError, OverflowError) as exc:
        raise BadEvent("parse", "bad_timestamp", f"unparseable timestamp {raw_ts!r}: {exc}") from exc
    if timestamp - now > FUTURE_TOLERANCE:
        raise BadEvent(
            "parse", "future_timestamp", f"timestamp {timestamp.isoformat()} is more than 1 day ahead"
        )
    return timestamp


SERVICE_HEADERS = ("service", "service.name", "spring.application.name", "app")


def resolve_service(
    candidates: Sequence[Any],
    key: bytes | None,
    headers: Sequence[tuple[str, bytes]],
    flags: list[str],
) -> str:
    """Service name from the record itself, then the Kafka key, then a header — never guessed."""
    for value in candidates:
        text = _str_or_none(value)
        if text:
            return text
    if key:
        return key.decode("utf-8", "replace")
    for name, value in headers:
        if name in SERVICE_HEADERS and value:
            return value.decode("utf-8", "replace")
    flags.append("service_unknown")
    return "unknown"


def _exception_from_fields(
    stack_text: str | None, error_type: Any, error_message: Any
) -> ExceptionInfo | None:
    info = parse_stack_trace(stack_text) if stack_text else None
    if info is None and isinstance(error_type, str) and error_type:
        message = str(error_message or "")
        info = ExceptionInfo(error_type, message, [], [{"class": error_type, "message": message}], None)
    return info


def _tags(value: Any) -> list[str]:
    return [str(t) for t in value] if isinstance(value, list) else []


def parse_logstash_json(
    obj: dict[str, Any],
    *,
    key: bytes | None,
    record_timestamp_ms: int | None,
    now: datetime | None = None,
    headers: Sequence[tuple[str, bytes]] = (),
) -> LogEvent:
    """logstash-logback-encoder JSON, and Spring Boot's structured ``logstash`` format (same shape)."""
    flags: list[str] = []
    message = obj.get("message")
    if not isinstance(message, str):
        raise BadEvent("parse", "missing_message", "event has no string 'message' field")
    service = resolve_service(
        [obj.get("service"), obj.get("app"), obj.get("application"), obj.get("spring.application.name")],
        key,
        headers,
        flags,
    )
    timestamp = resolve_timestamp(
        obj.get("@timestamp", obj.get("timestamp")), record_timestamp_ms, now or datetime.now(UTC), flags
    )
    stack = obj.get("stack_trace")
    stack_text = stack if isinstance(stack, str) and stack else None
    return LogEvent(
        timestamp=timestamp,
        service=service,
        level=normalize_level(obj.get("level"), obj.get("level_value")),
        message=message,
        logger=str(obj.get("logger_name", obj.get("logger", "")) or ""),
        thread=str(obj.get("thread_name", obj.get("thread", "")) or ""),
        env=_str_or_none(obj.get("env")),
        version=_str_or_none(obj.get("version")),
        slot=_str_or_none(obj.get("slot")),
        host=_str_or_none(obj.get("host") or obj.get("HOSTNAME")),
        trace_id=_str_or_none(obj.get("traceId") or obj.get("trace_id")),
        span_id=_str_or_none(obj.get("spanId") or obj.get("span_id")),
        exception=parse_stack_trace(stack_text) if stack_text else None,
        stack_trace=stack_text,
        tags=_tags(obj.get("tags")),
        flags=flags,
        source_format="logstash",
    )
