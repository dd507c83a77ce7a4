"""A real Spring Boot app (examples/spring-app) logs through logback → Kafka → our consumer → OpenSearch.

Builds the fat jar with Maven when it is missing or older than its sources, starts it with
`java -jar` on a free port, pointed at this test's fresh topic, calls its endpoints and checks
what LogLens stored: service fields from the encoder's customFields, the parsed exception and
its `Caused by:` chain, masked templates and the traceId/spanId that Micrometer Tracing put in
the MDC (including one taken from an incoming W3C `traceparent` header).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError

from loglens.config import Settings
from tests.conftest import ServiceProcess, free_port, service_env, start_consumer, wait_http, wait_until

REPO = Path(__file__).resolve().parents[2]
APP_DIR = REPO / "examples" / "spring-app"
JAR = APP_DIR / "target" / "orders-demo.jar"
SERVICE = "orders-demo"
HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")

pytestmark = pytest.mark.integration


def _newest_source_mtime() -> float:
    sources = [APP_DIR / "pom.xml", *(p for p in (APP_DIR / "src").rglob("*") if p.is_file())]
    return max(p.stat().st_mtime for p in sources)


def _build_jar() -> Path:
    """`mvn package` when the jar is missing or older than pom.xml/src; fail with Maven's output."""
    if JAR.exists() and JAR.stat().st_mtime >= _newest_source_mtime():
        return JAR
    mvn = shutil.which("mvn")
    if mvn is None or shutil.which("java") is None:
        pytest.fail("examples/spring-app needs `mvn` and `java` (JDK 17+) on PATH to build orders-demo.jar")
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [mvn, "-B", "-q", "-DskipTests", "package"],
            cwd=APP_DIR,
            capture_output=True,
            text=True,
            timeout=900,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"mvn package timed out after {exc.timeout}s:\n{str(exc.stdout)[-4000:]}")
    if proc.returncode != 0 or not JAR.exists():
        pytest.fail(
            f"mvn package failed (exit {proc.returncode}) after {time.monotonic() - started:.0f}s:\n"
            f"{(proc.stdout + proc.stderr)[-6000:]}"
        )
    return JAR


@pytest.fixture(scope="module")
def orders_jar() -> Path:
    return _build_jar()


def _http(
    method: str, url: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def _topic_events(client: OpenSearch, topic: str) -> list[dict[str, Any]]:
    try:
        client.indices.refresh(index="log-events")
        resp = client.search(
            index="log-events",
            body={
                "size": 500,
                "query": {"term": {"kafka.topic": topic}},
                "sort": [{"@timestamp": "asc"}],
            },
        )
    except NotFoundError:  # the alias appears with the first event ever indexed
        return []
    return [hit["_source"] for hit in resp["hits"]["hits"]]


def _one(events: list[dict[str, Any]], message: str, level: str) -> dict[str, Any]:
    found = [e for e in events if e.get("message") == message and e.get("level") == level]
    assert len(found) == 1, f"{level} {message!r}: {len(found)} events; messages: " + repr(
        [(e.get("level"), e.get("message")) for e in events]
    )
    return found[0]


async def test_spring_app_logs_reach_opensearch_through_kafka(
    stack: Settings, os_client: OpenSearch, test_topic: str, tmp_path: Path, orders_jar: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = ServiceProcess(
        ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-jar", str(orders_jar)],
        service_env(stack, SERVER_PORT=str(port), LOGLENS_TOPIC=test_topic, APP_ENV="dev", APP_SLOT="blue"),
        tmp_path / "orders-demo.log",
    )
    consumer: ServiceProcess | None = None
    incoming_trace = secrets.token_hex(16)
    try:
        await asyncio.to_thread(wait_http, f"{base}/actuator/health", 120, app)

        # An upstream caller's W3C trace context: the app must continue that trace.
        traceparent = f"00-{incoming_trace}-{secrets.token_hex(8)}-01"
        status, order = await asyncio.to_thread(
            _http, "GET", f"{base}/api/orders/42", None, {"traceparent": traceparent}
        )
        assert status == 200 and order["id"] == 42 and order["customerId"] == 7042, order
        status, created = await asyncio.to_thread(
            _http, "POST", f"{base}/api/orders", {"customerId": 7, "total": 12.5}
        )
        assert status == 201 and created["status"] == "NEW", created
        status, problem = await asyncio.to_thread(_http, "GET", f"{base}/api/orders/42/fail")
        assert status == 500 and problem["detail"] == "Payment declined for order 42", problem

        consumer = start_consumer(stack, test_topic, tmp_path / "consumer.log")

        def arrived() -> bool:
            messages = {(e.get("level"), e.get("message")) for e in _topic_events(os_client, test_topic)}
            return {
                ("INFO", "Fetching order 42 for customer 7042"),
                ("INFO", "Charging order 42 for customer 7042"),
                ("ERROR", "Order 42 failed"),
            } <= messages

        try:
            await wait_until(arrived, timeout=180, interval=1.0)
        except AssertionError:
            raise AssertionError(
                f"events did not reach OpenSearch.\n--- app ---\n{app.log_text()[-3000:]}"
                f"\n--- consumer ---\n{consumer.log_text()[-3000:]}"
            ) from None
    finally:
        app.stop()
        if consumer is not None:
            consumer.stop(timeout=20)

    events = _topic_events(os_client, test_topic)
    assert all(e["service"] == SERVICE for e in events), {e["service"] for e in events}

    # The app's own startup lines went to Kafka too (no request → no trace id).
    started = [e for e in events if str(e.get("message", "")).startswith("Started OrdersDemoApplication")]
    assert started and "trace_id" not in started[0], started

    # ERROR from the @RestControllerAdvice: exception parsed, cause chain kept, id masked.
    err = _one(events, "Order 42 failed", "ERROR")
    assert (err["env"], err["version"], err["slot"]) == ("dev", "1.0.0", "blue"), err
    assert err["logger"] == "com.acme.orders.web.OrderErrorHandler"
    assert err["template"] == "Order <*> failed" and "42" in err["params"], err
    assert "Caused by: java.net.SocketTimeoutException: Read timed out" in err["stack_trace"]
    assert err["exception"]["class"] == "com.acme.orders.web.OrderFailedException"
    assert err["exception"]["message"] == "Payment declined for order 42"
    assert [c["class"] for c in err["exception"]["causes"]] == [
        "com.acme.orders.web.OrderFailedException",
        "java.net.SocketTimeoutException",
    ]
    assert err["exception"]["top_app_frame"] == "com.acme.orders.web.OrderController.fail"
    assert HEX32.match(err["trace_id"]) and HEX16.match(err["span_id"]), err

    # The INFO line of the same /fail request shares the ERROR's trace id.
    charging = _one(events, "Charging order 42 for customer 7042", "INFO")
    assert charging["trace_id"] == err["trace_id"]

    # INFO for GET /api/orders/42 continues the incoming traceparent's trace.
    info = _one(events, "Fetching order 42 for customer 7042", "INFO")
    assert info["template"] == "Fetching order <*> for customer <*>", info
    assert info["logger"] == "com.acme.orders.web.OrderController"
    assert info["trace_id"] == incoming_trace
    assert HEX16.match(info["span_id"]) and info["trace_id"] != err["trace_id"]
    assert "exception" not in info and "stack_trace" not in info

    created_event = [e for e in events if str(e.get("message", "")).startswith("Created order")]
    assert created_event and HEX32.match(created_event[0]["trace_id"]), created_event
