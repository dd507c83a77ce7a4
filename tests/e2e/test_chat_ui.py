"""The chat page in a real headless Chromium against the real AI service and indexed events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from opensearchpy import OpenSearch

from loglens.config import Settings
from tests.conftest import ingest_through_pipeline
from tests.e2e.browser import launch

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"

STACK = (
    "org.springframework.web.client.ResourceAccessException: I/O error on POST request for "
    '"http://inventory:8080/api/stock/reserve": Read timed out\n'
    "\tat org.springframework.web.client.RestTemplate.doExecute(RestTemplate.java:915)\n"
    "\tat com.acme.order.client.InventoryClient.reserve(InventoryClient.java:58)\n"
    "\tat com.acme.order.service.OrderService.place(OrderService.java:91)\n"
    "Caused by: java.net.SocketTimeoutException: Read timed out\n"
    "\tat java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:288)\n"
    "\t... 48 common frames omitted\n"
)


def run_tag(topic: str) -> str:
    """Letters only (never masked as a variable), unique to this run, so the question finds its events."""
    return "run " + "".join(chr(97 + int(c)) for c in topic if c.isdigit())


@pytest.fixture(scope="module")
def indexed_topic(stack: Settings, os_client: OpenSearch, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Index a few order-service timeouts through Kafka and the real consumer."""
    topic = f"ui-{datetime.now(UTC):%H%M%S%f}"
    tag = run_tag(topic)
    now = datetime.now(UTC)
    values = []
    for i in range(12):
        event = {
            "@timestamp": (now - timedelta(seconds=60 - i)).isoformat(timespec="milliseconds"),
            "service": "order",
            "level": "ERROR",
            "level_value": 40000,
            "logger_name": "com.acme.order.service.OrderService",
            "thread_name": "http-nio-8080-exec-4",
            "message": f"Order {7000 + i} could not reserve stock: inventory timed out after 5000 ms ({tag})",
            "stack_trace": STACK,
            "traceId": f"{0xABC000 + i:032x}",
            "spanId": f"{i:016x}",
        }
        values.append((b"order", json.dumps(event).encode()))

    ingest_through_pipeline(stack, os_client, topic, values, tmp_path_factory.mktemp("ui"))
    return topic


def test_ask_in_the_browser_shows_streamed_answer_and_expandable_citation(
    ai_service: str, indexed_topic: str
) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(f"{ai_service}/")
            expect(page.locator("#status")).to_have_text("ready", timeout=20_000)
            tag = run_tag(indexed_topic)
            page.fill("#question", f"why does order fail to reserve stock from inventory in {tag}?")
            page.fill("#service", "order")
            page.select_option("#since", "1h")
            page.click("#ask-button")
            citations = page.locator("#citations li")
            expect(citations.first).to_be_visible(timeout=30_000)
            answer = page.locator("#answer").inner_text()
            assert "order" in answer and "[1]" in answer
            assert "ResourceAccessException" in answer
            # Expand this run's citation: the full event with a formatted stack trace.
            ours = page.locator("#citations details", has_text=tag).first
            ours.locator("summary").click()
            stack = ours.locator("pre.stack")
            expect(stack).to_be_visible()
            assert "Caused by: java.net.SocketTimeoutException" in stack.inner_text()
            page.screenshot(path=str(ARTIFACTS / "chat-ui.png"), full_page=True)
            # Asking the same again is served from the QA cache, and the page says so.
            page.wait_for_timeout(1500)  # the cache entry becomes searchable after a refresh
            page.click("#ask-button")
            badge = page.locator("#cache-badge")
            expect(badge).to_be_visible(timeout=20_000)
            assert tag in badge.inner_text()
            # A bad input shows a readable error, not a blank page.
            page.fill("#service", "not a service!")
            page.click("#ask-button")
            expect(page.locator("#error")).to_be_visible(timeout=10_000)
            assert "service" in page.locator("#error").inner_text()
        finally:
            browser.close()
