"""Every input format on app-logs, on real-looking samples of what Spring Boot emits."""

import json
from datetime import UTC, datetime

import pytest

from consumers.log_embedder.pipeline import ContinuationTracker, SourceRecord, transform
from loglens.embedding.hashing import HashingEmbedder
from loglens.errors import BadEvent
from loglens.events import LogEvent
from loglens.formats import Continuation, detect_json_format, parse_value

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
TRACE = (
    "java.lang.IllegalStateException: Payment declined for order 42\n"
    "\tat com.acme.payment.PaymentService.charge(PaymentService.java:87)\n"
    "\tat org.springframework.aop.framework.ReflectiveMethodInvocation.proceed(ReflectiveMethodInvocation.java:186)\n"
    "Caused by: java.net.SocketTimeoutException: Read timed out\n"
    "\tat java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:288)\n"
    "\t... 42 common frames omitted"
)


def parse(value: str | bytes, key: bytes | None = None) -> LogEvent | Continuation:
    raw = value.encode() if isinstance(value, str) else value
    return parse_value(raw, key=key, headers=(), record_timestamp_ms=None, max_bytes=1 << 20, now=NOW)


def event(value: str | bytes, key: bytes | None = None) -> LogEvent:
    result = parse(value, key)
    assert isinstance(result, LogEvent)
    return result


def test_ecs_flat_dotted_keys_boot_34() -> None:
    ev = event(
        json.dumps(
            {
                "@timestamp": "2026-11-25T13:15:00.067462556Z",
                "log.level": "ERROR",
                "process.pid": 39599,
                "process.thread.name": "http-nio-8080-exec-1",
                "service.name": "payment",
                "service.version": "1.4.2",
                "service.environment": "prod",
                "service.node.name": "payment-7f9c",
                "log.logger": "com.acme.payment.PaymentService",
                "message": "Charge failed",
                "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
                "spanId": "00f067aa0ba902b7",
                "error.type": "java.lang.IllegalStateException",
                "error.message": "Payment declined for order 42",
                "error.stack_trace": TRACE,
                "ecs.version": "8.11",
            }
        )
    )
    assert (ev.source_format, ev.service, ev.level, ev.version, ev.env) == (
        "ecs",
        "payment",
        "ERROR",
        "1.4.2",
        "prod",
    )
    assert ev.thread == "http-nio-8080-exec-1" and ev.logger == "com.acme.payment.PaymentService"
    assert ev.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert ev.exception is not None and ev.exception.causes[1]["class"] == "java.net.SocketTimeoutException"


def test_ecs_nested() -> None:
    ev = event(
        json.dumps(
            {
                "@timestamp": "2026-11-25T13:15:00Z",
                "log": {"level": "WARN", "logger": "com.acme.Inv"},
                "process": {"pid": 1, "thread": {"name": "main"}},
                "service": {"name": "inventory"},
                "message": "Slow query",
                "ecs": {"version": "8.11"},
            }
        )
    )
    assert (ev.source_format, ev.service, ev.level, ev.thread) == ("ecs", "inventory", "WARN", "main")


def test_ecs_error_fields_without_stack_still_give_exception() -> None:
    ev = event(
        json.dumps(
            {
                "@timestamp": "2026-11-25T13:15:00Z",
                "log.level": "ERROR",
                "service.name": "x",
                "message": "m",
                "error.type": "java.io.IOException",
                "error.message": "disk",
            }
        )
    )
    assert ev.exception is not None and ev.exception.cls == "java.io.IOException"


def test_spring_structured_logstash_format() -> None:
    ev = event(
        json.dumps(
            {
                "@timestamp": "2026-11-25T15:15:00.111037681+02:00",
                "@version": "1",
                "message": "Started OrdersApplication in 3.2 seconds",
                "logger_name": "com.acme.OrdersApplication",
                "thread_name": "main",
                "level": "INFO",
                "level_value": 20000,
            }
        ),
        key=b"order",
    )
    assert ev.source_format == "logstash" and ev.service == "order"
    assert ev.timestamp == datetime(2026, 11, 25, 13, 15, 0, 111037, tzinfo=UTC)


def test_gelf_with_full_message_stack_trace() -> None:
    ev = event(
        json.dumps(
            {
                "version": "1.1",
                "short_message": "Charge failed",
                "timestamp": 1764075600.123,
                "level": 3,
                "_level_name": "ERROR",
                "_process_pid": 16597,
                "_process_thread_name": "http-nio-8080-exec-2",
                "host": "payment",
                "_log_logger": "com.acme.payment.PaymentService",
                "_service_version": "1.4.3",
                "_traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
                "full_message": "Charge failed\n\n" + TRACE,
            }
        )
    )
    assert (ev.source_format, ev.service, ev.level, ev.version) == ("gelf", "payment", "ERROR", "1.4.3")
    assert ev.stack_trace is not None and ev.stack_trace.startswith("java.lang.IllegalStateException")
    assert ev.exception is not None and ev.exception.top_app_frame == "com.acme.payment.PaymentService.charge"
    assert ev.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_gelf_syslog_level_without_name() -> None:
    ev = event(
        json.dumps({"version": "1.1", "short_message": "x", "timestamp": 1764075600, "level": 4, "host": "a"})
    )
    assert ev.level == "WARN"


@pytest.mark.parametrize(
    "obj,fmt",
    [
        ({"short_message": "x", "version": "1.1"}, "gelf"),
        ({"log.level": "INFO", "message": "x"}, "ecs"),
        ({"log": {"level": "INFO"}, "message": "x"}, "ecs"),
        ({"message": "x", "level": "INFO"}, "logstash"),
    ],
)
def test_detect_json_format(obj: dict[str, object], fmt: str) -> None:
    assert detect_json_format(obj) == fmt


BOOT3_LINE = (
    "2026-11-25T13:59:58.123+01:00  INFO 4242 --- [orders] [nio-8080-exec-1] "
    "[4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7] c.a.o.web.OrderController        : "
    "Received POST /api/orders for customer 4711"
)
BOOT2_LINE = (
    "2026-11-25 13:59:58.123 ERROR 4242 --- [nio-8080-exec-3] c.a.o.service.OrderService               : "
    "Order 42 failed"
)


def test_console_boot3_with_app_and_correlation() -> None:
    ev = event(BOOT3_LINE, key=b"ignored-when-app-present")
    assert (ev.source_format, ev.service, ev.level, ev.thread) == (
        "console",
        "orders",
        "INFO",
        "nio-8080-exec-1",
    )
    assert ev.logger == "c.a.o.web.OrderController"
    assert ev.message == "Received POST /api/orders for customer 4711"
    assert ev.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736" and ev.span_id == "00f067aa0ba902b7"
    assert ev.timestamp == datetime(2026, 11, 25, 12, 59, 58, 123000, tzinfo=UTC)


def test_console_boot2_multiline_stack_in_one_record() -> None:
    ev = event(BOOT2_LINE + "\n" + TRACE + "\n", key=b"order")
    assert ev.service == "order" and ev.level == "ERROR" and ev.message == "Order 42 failed"
    assert ev.exception is not None and ev.exception.cls == "java.lang.IllegalStateException"
    assert ev.exception.causes[-1]["class"] == "java.net.SocketTimeoutException"


def test_console_continuation_and_unrecognized() -> None:
    assert isinstance(parse("\tat com.acme.X.y(X.java:1)\n\tat com.acme.Z.w(Z.java:2)"), Continuation)
    assert isinstance(parse("Caused by: java.io.IOException: x"), Continuation)
    assert isinstance(
        parse("java.lang.NullPointerException: null\n\tat com.acme.A.b(A.java:3)"), Continuation
    )
    with pytest.raises(BadEvent) as err:
        parse("hello world, this is not a log line")
    assert err.value.reason == "unrecognized_format"


def rec(offset: int, value: str, key: bytes = b"order", partition: int = 0) -> SourceRecord:
    return SourceRecord("app-logs", partition, offset, key, value.encode(), (), int(NOW.timestamp() * 1000))


def test_stack_trace_split_across_records_is_joined_in_one_batch() -> None:
    lines = TRACE.split("\n")
    records = [
        rec(0, BOOT2_LINE),
        rec(1, "\n".join(lines[:3])),
        rec(2, "\n".join(lines[3:])),
        rec(3, BOOT3_LINE),
    ]
    result = transform(records, HashingEmbedder(), raw_max_bytes=4096, now=NOW)
    assert len(result.actions) == 2 and len(result.merged) == 2 and not result.dead_letters
    doc = result.actions[0].doc
    assert result.actions[0].doc_id == "app-logs-0-0"
    assert doc["exception"]["class"] == "java.lang.IllegalStateException"
    assert [c["class"] for c in doc["exception"]["causes"]] == [
        "java.lang.IllegalStateException",
        "java.net.SocketTimeoutException",
    ]
    assert "joined_continuation" in doc["flags"]


def test_continuation_in_a_later_batch_reindexes_the_parent_under_its_own_id() -> None:
    tracker = ContinuationTracker()
    first = transform([rec(0, BOOT2_LINE)], HashingEmbedder(), raw_max_bytes=4096, now=NOW, tracker=tracker)
    assert "exception" not in first.actions[0].doc
    second = transform([rec(1, TRACE)], HashingEmbedder(), raw_max_bytes=4096, now=NOW, tracker=tracker)
    assert [a.doc_id for a in second.actions] == ["app-logs-0-0"]  # same id: overwrite, not a new doc
    assert second.actions[0].doc["exception"]["class"] == "java.lang.IllegalStateException"
    assert len(second.merged) == 1


def test_continuation_of_another_partition_or_key_does_not_join() -> None:
    tracker = ContinuationTracker()
    transform(
        [rec(0, BOOT2_LINE, key=b"order")], HashingEmbedder(), raw_max_bytes=4096, now=NOW, tracker=tracker
    )
    result = transform(
        [rec(5, TRACE, key=b"payment")], HashingEmbedder(), raw_max_bytes=4096, now=NOW, tracker=tracker
    )
    doc = result.actions[0].doc
    assert result.actions[0].doc_id == "app-logs-0-5" and "orphan_continuation" in doc["flags"]
    assert doc["service"] == "payment" and doc["exception"]["class"] == "java.lang.IllegalStateException"


def test_every_record_is_accounted_for() -> None:
    records = [
        rec(0, BOOT2_LINE),
        rec(1, TRACE),
        rec(2, "garbage line"),
        rec(3, "{bad json"),
        rec(4, json.dumps({"message": "m", "@timestamp": "2026-11-25T10:00:00Z"})),
    ]
    result = transform(records, HashingEmbedder(), raw_max_bytes=4096, now=NOW)
    assert len(result.actions) + len(result.dead_letters) + len(result.merged) == len(records)


@pytest.mark.parametrize(
    "body",
    [
        b'{"@timestamp":"2026-11-25T13:00:00Z","message":"ratio NaN","level":"INFO","service":"s","score":NaN}',
        b'{"@timestamp":"2026-11-25T13:00:00Z","message":"big","service":"s","n":123456789012345678901234567890}',
    ],
)
def test_json_that_only_the_lenient_parser_accepts_is_still_indexed(body: bytes) -> None:
    """The fast parser refuses NaN and integers beyond 64 bits; Python's json reads them."""
    event = parse_value(body, key=None, headers=(), record_timestamp_ms=None, max_bytes=1 << 20, now=NOW)
    assert isinstance(event, LogEvent) and event.service == "s"


def test_malformed_json_still_names_the_position() -> None:
    with pytest.raises(BadEvent) as err:
        parse_value(
            b'{"message": "x",}', key=None, headers=(), record_timestamp_ms=None, max_bytes=99, now=NOW
        )
    assert err.value.reason == "malformed_json" and "line 1 column" in err.value.message
