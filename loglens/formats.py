"""Every input format accepted on ``app-logs``, detected per record.

* logstash-logback-encoder JSON and Spring Boot structured ``logstash`` (``events.parse_logstash_json``)
* Spring Boot structured ``ecs``: nested (``{"log": {"level": ...}}``) and flat dotted keys
  (``"log.level"``, Boot 3.4)
* Spring Boot structured ``gelf`` (``short_message``, ``full_message`` with the stack trace)
* plain Spring Boot console lines (default pattern, Boot 2.x and 3.x), where one record may carry a
  multi-line stack trace, and a record holding only stack-trace lines continues the previous event

Anything else is a :class:`BadEvent` with a reason, so it lands in the dead-letter topic.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from loglens.errors import BadEvent
from loglens.events import (
    LogEvent,
    _exception_from_fields,
    _str_or_none,
    _tags,
    normalize_level,
    parse_logstash_json,
    parse_stack_trace,
    resolve_service,
    resolve_timestamp,
)

# GELF carries syslog severities.
_SYSLOG_LEVELS = {0: "FATAL", 1: "FATAL", 2: "FATAL", 3: "ERROR", 4: "WARN", 5: "INFO", 6: "INFO", 7: "DEBUG"}

# 2026-11-25T14:02:11.123+01:00  INFO 4242 --- [orders] [nio-8080-exec-1] [trace-span] c.a.OrderCtl : msg
_CONSOLE = re.compile(
    r"^(?P<ts>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?)\s+"
    r"(?P<level>TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL)\s+"
    r"(?P<pid>\d+)\s+---\s+"
    r"(?:\[(?P<app>[^\]]*)\]\s+(?=\[))?"
    r"\[\s*(?P<thread>[^\]]*?)\s*\]\s+"
    r"(?:\[(?P<corr>[^\]]*)\]\s+)?"
    r"(?P<logger>[\w$.\[\]/-]+)\s*:\s(?P<msg>.*)$"
)
_CORRELATION = re.compile(r"^\s*([0-9a-fA-F]{32})[-,]([0-9a-fA-F]{16})\s*$")
_CONTINUATION = re.compile(
    r"^(?:\s+at\s|\s*\.\.\.\s\d+\s(?:more|common frames omitted)|Caused by:\s|\s*Suppressed:\s)"
)
# "java.lang.IllegalStateException: boom" as the first line of a record that carries the trace.
_EXCEPTION_HEAD = re.compile(r"^[a-z][\w$]*(?:\.[\w$]+)+(?:Exception|Error|Throwable)(?::\s.*)?$")


@dataclass(slots=True)
class Continuation:
    """A record that holds only stack-trace lines: it belongs to the previous event of its source."""

    text: str


def _path(obj: dict[str, Any], dotted: str) -> Any:
    """``obj["log.level"]`` (flat, Boot 3.4) or ``obj["log"]["level"]`` (nested)."""
    if dotted in obj:
        return obj[dotted]
    node: Any = obj
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def parse_ecs_json(
    obj: dict[str, Any],
    *,
    key: bytes | None,
    record_timestamp_ms: int | None,
    now: datetime,
    headers: Sequence[tuple[str, bytes]] = (),
) -> LogEvent:
    flags: list[str] = []
    message = obj.get("message")
    if not isinstance(message, str):
        raise BadEvent("parse", "missing_message", "ECS event has no string 'message' field")
    service = resolve_service([_path(obj, "service.name")], key, headers, flags)
    timestamp = resolve_timestamp(obj.get("@timestamp"), record_timestamp_ms, now, flags)
    stack = _path(obj, "error.stack_trace")
    stack_text = stack if isinstance(stack, str) and stack else None
    return LogEvent(
        timestamp=timestamp,
        service=service,
        level=normalize_level(_path(obj, "log.level")),
        message=message,
        logger=str(_path(obj, "log.logger") or ""),
        thread=str(_path(obj, "process.thread.name") or ""),
        env=_str_or_none(_path(obj, "service.environment")),
        version=_str_or_none(_path(obj, "service.version")),
        slot=_str_or_none(obj.get("slot")),
        host=_str_or_none(_path(obj, "service.node.name") or _path(obj, "host.name")),
        trace_id=_str_or_none(obj.get("traceId") or _path(obj, "trace.id")),
        span_id=_str_or_none(obj.get("spanId") or _path(obj, "span.id")),
        exception=_exception_from_fields(stack_text, _path(obj, "error.type"), _path(obj, "error.message")),
        stack_trace=stack_text,
        tags=_tags(obj.get("tags")),
        flags=flags,
        source_format="ecs",
    )


def parse_gelf_json(
    obj: dict[str, Any],
    *,
    key: bytes | None,
    record_timestamp_ms: int | None,
    now: datetime,
    headers: Sequence[tuple[str, bytes]] = (),
) -> LogEvent:
    flags: list[str] = []
    message = obj.get("short_message")
    if not isinstance(message, str):
        raise BadEvent("parse", "missing_message", "GELF event has no string 'short_message' field")
    # Spring Boot puts the application name in `host` (logging.structured.gelf.host).
    service = resolve_service([obj.get("_service_name"), obj.get("host")], key, headers, flags)
    timestamp = resolve_timestamp(obj.get("timestamp"), record_timestamp_ms, now, flags)
    full = obj.get("full_message")
    stack_text = obj.get("_error_stack_trace")
    if not (isinstance(stack_text, str) and stack_text) and isinstance(full, str):
        # full_message = "<message>\n\n<stack trace>"
        stack_text = full.split("\n\n", 1)[1] if "\n\n" in full else None
    stack_text = stack_text if isinstance(stack_text, str) and stack_text.strip() else None
    level_name = obj.get("_level_name")
    level_num = obj.get("level")
    level = (
        normalize_level(level_name)
        if isinstance(level_name, str)
        else _SYSLOG_LEVELS.get(level_num, "INFO")
        if isinstance(level_num, int)
        else "INFO"
    )
    return LogEvent(
        timestamp=timestamp,
        service=service,
        level=level,
        message=message,
        logger=str(obj.get("_log_logger") or ""),
        thread=str(obj.get("_process_thread_name") or ""),
        env=_str_or_none(obj.get("_service_environment") or obj.get("_env")),
        version=_str_or_none(obj.get("_service_version")),
        slot=_str_or_none(obj.get("_slot")),
        host=_str_or_none(obj.get("_service_node_name") or obj.get("host")),
        trace_id=_str_or_none(obj.get("_traceId") or obj.get("_trace_id")),
        span_id=_str_or_none(obj.get("_spanId") or obj.get("_span_id")),
        exception=_exception_from_fields(stack_text, obj.get("_error_type"), obj.get("_error_message")),
        stack_trace=stack_text,
        flags=flags,
        source_format="gelf",
    )


def detect_json_format(obj: dict[str, Any]) -> str:
    if "short_message" in obj and ("version" in obj or "host" in obj):
        return "gelf"
    if "ecs.version" in obj or "log.level" in obj or isinstance(obj.get("ecs"), dict):
        return "ecs"
    if isinstance(obj.get("log"), dict) and "level" in obj["log"]:
        return "ecs"
    return "logstash"


def parse_console(
    text: str,
    *,
    key: bytes | None,
    record_timestamp_ms: int | None,
    now: datetime,
    headers: Sequence[tuple[str, bytes]] = (),
) -> LogEvent | Continuation:
    lines = text.rstrip("\r\n").split("\n")
    head = _CONSOLE.match(lines[0].rstrip("\r"))
    if head is None:
        if _CONTINUATION.match(lines[0]) or _EXCEPTION_HEAD.match(lines[0].strip()):
            return Continuation(text.rstrip("\n"))
        raise BadEvent(
            "parse",
            "unrecognized_format",
            "record is neither JSON nor a Spring Boot console line: " + lines[0][:120],
        )
    flags: list[str] = []
    app = head.group("app")
    service = resolve_service([app.strip() if app else None], key, headers, flags)
    timestamp = resolve_timestamp(head.group("ts").replace(",", "."), record_timestamp_ms, now, flags)
    trace_id = span_id = None
    corr = head.group("corr")
    if corr:
        found = _CORRELATION.match(corr)
        if found:
            trace_id, span_id = found.group(1).lower(), found.group(2).lower()
    stack_text = "\n".join(lines[1:]).strip("\n") or None
    return LogEvent(
        timestamp=timestamp,
        service=service,
        level=normalize_level(head.group("level")),
        message=head.group("msg"),
        logger=head.group("logger"),
        thread=head.group("thread"),
        trace_id=trace_id,
        span_id=span_id,
        exception=parse_stack_trace(stack_text) if stack_text else None,
        stack_trace=stack_text,
        flags=flags,
        source_format="console",
    )


def parse_value(
    value: bytes | None,
    *,
    key: bytes | None,
    headers: Sequence[tuple[str, bytes]],
    record_timestamp_ms: int | None,
    max_bytes: int,
    now: datetime | None = None,
) -> LogEvent | Continuation:
    """One Kafka record value → a :class:`LogEvent` (or a stack-trace continuation)."""
    now = now or datetime.now(UTC)
    if value is None or not value.strip():
        raise BadEvent("decode", "empty", "record value is empty")
    if len(value) > max_bytes:
        raise BadEvent("decode", "too_large", f"record is {len(value)} bytes, cap is {max_bytes}")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadEvent("decode", "bad_encoding", f"record is not UTF-8: {exc}") from exc
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped.startswith(("{", "[")):
        return parse_console(
            text.lstrip("\ufeff\r\n"),
            key=key,
            record_timestamp_ms=record_timestamp_ms,
            now=now,
            headers=headers,
        )
    try:
        obj = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        try:  # what the fast parser refuses but Python's accepts: NaN, lone surrogates, huge ints
            obj = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise BadEvent("decode", "malformed_json", f"record is not valid JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise BadEvent("decode", "not_an_object", f"JSON value is a {type(obj).__name__}, not an object")
    fmt = detect_json_format(obj)
    if fmt == "gelf":
        return parse_gelf_json(
            obj, key=key, record_timestamp_ms=record_timestamp_ms, now=now, headers=headers
        )
    if fmt == "ecs":
        return parse_ecs_json(obj, key=key, record_timestamp_ms=record_timestamp_ms, now=now, headers=headers)
    return parse_logstash_json(
        obj, key=key, record_timestamp_ms=record_timestamp_ms, now=now, headers=headers
    )


def append_continuation(event: LogEvent, text: str) -> None:
    """Join stack-trace lines that arrived in a later record onto their event."""
    event.stack_trace = f"{event.stack_trace}\n{text}" if event.stack_trace else text
    event.exception = parse_stack_trace(event.stack_trace)
    if "joined_continuation" not in event.flags:
        event.flags.append("joined_continuation")
