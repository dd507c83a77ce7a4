import json
from datetime import UTC, datetime, timedelta

import pytest

from loglens.errors import BadEvent
from loglens.events import LogEvent, normalize_level, parse_logstash_json, parse_stack_trace
from loglens.formats import parse_value

STACK = """org.springframework.web.client.ResourceAccessException: I/O error on POST request for "http://payment:8080/api/payments": Read timed out
\tat org.springframework.web.client.RestTemplate.doExecute(RestTemplate.java:915)
\tat com.acme.order.client.PaymentClient.charge(PaymentClient.java:42)
\tat com.acme.order.service.OrderService.place(OrderService.java:77)
Caused by: java.net.SocketTimeoutException: Read timed out
\tat java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:288)
\t... 42 common frames omitted
"""

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def logstash(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "@timestamp": "2026-11-25T13:59:58.123+00:00",
        "@version": "1",
        "message": "Order 4711 failed",
        "logger_name": "com.acme.order.service.OrderService",
        "thread_name": "http-nio-8080-exec-3",
        "level": "ERROR",
        "level_value": 40000,
        "stack_trace": STACK,
        "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
        "spanId": "00f067aa0ba902b7",
        "service": "order",
    }
    base.update(over)
    return base


def test_parse_stack_trace_extracts_class_chain_and_app_frame() -> None:
    info = parse_stack_trace(STACK)
    assert info is not None
    assert info.cls == "org.springframework.web.client.ResourceAccessException"
    assert [c["class"] for c in info.causes] == [
        "org.springframework.web.client.ResourceAccessException",
        "java.net.SocketTimeoutException",
    ]
    assert info.top_app_frame == "com.acme.order.client.PaymentClient.charge"
    assert info.frames[0].startswith("org.springframework.web.client.RestTemplate.doExecute")


def test_parse_logstash_json_maps_fields() -> None:
    ev = parse_logstash_json(logstash(), key=b"order", record_timestamp_ms=None, now=NOW)
    assert ev.service == "order"
    assert ev.level == "ERROR"
    assert ev.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert ev.exception is not None and ev.exception.cls.endswith("ResourceAccessException")
    assert ev.timestamp == datetime(2026, 11, 25, 13, 59, 58, 123000, tzinfo=UTC)
    assert ev.flags == []


def test_service_falls_back_to_kafka_key_then_flag() -> None:
    obj = logstash()
    del obj["service"]
    assert parse_logstash_json(obj, key=b"payment", record_timestamp_ms=None, now=NOW).service == "payment"
    ev = parse_logstash_json(obj, key=None, record_timestamp_ms=None, now=NOW)
    assert ev.service == "unknown" and "service_unknown" in ev.flags


def test_missing_timestamp_uses_record_time_with_flag() -> None:
    obj = logstash()
    del obj["@timestamp"]
    ms = int(NOW.timestamp() * 1000)
    ev = parse_logstash_json(obj, key=None, record_timestamp_ms=ms, now=NOW)
    assert ev.timestamp == NOW and "timestamp_from_kafka" in ev.flags


def test_future_timestamp_is_rejected() -> None:
    future = (NOW + timedelta(days=3)).isoformat()
    with pytest.raises(BadEvent) as err:
        parse_logstash_json(logstash(**{"@timestamp": future}), key=None, record_timestamp_ms=None, now=NOW)
    assert err.value.reason == "future_timestamp"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"", "empty"),
        (b"   ", "empty"),
        (b"{not json", "malformed_json"),
        (b"\xff\xfe\x00garbage", "bad_encoding"),
        (b"[1,2,3]", "not_an_object"),
        (b"x" * 2000, "too_large"),
    ],
)
def test_decode_reasons(value: bytes, reason: str) -> None:
    with pytest.raises(BadEvent) as err:
        parse_value(value, key=None, headers=(), record_timestamp_ms=None, max_bytes=1000, now=NOW)
    assert err.value.reason == reason


def test_decode_ok() -> None:
    ms = int(NOW.timestamp() * 1000)
    event = parse_value(
        json.dumps({"message": "x"}).encode(),
        key=None,
        headers=(),
        record_timestamp_ms=ms,
        max_bytes=100,
        now=NOW,
    )
    assert isinstance(event, LogEvent) and event.message == "x"


@pytest.mark.parametrize(
    ("level", "value", "expected"),
    [("warning", None, "WARN"), (None, 40000, "ERROR"), ("info", 20000, "INFO"), ("", None, "INFO")],
)
def test_normalize_level(level: object, value: object, expected: str) -> None:
    assert normalize_level(level, value) == expected
