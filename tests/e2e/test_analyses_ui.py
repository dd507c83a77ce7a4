"""The analyses view of the chat page in a real headless Chromium against the real AI service.

Events for two services unique to this run go through Kafka and the real consumer: a caller
("shop-…") whose requests time out calling a callee ("stock-…") that fails first in the same
traces. An analysis of the caller is created with POST /analyses, then the page must list it,
show its detail (suspected origin, timeline across services) and acknowledge it.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch

from loglens.config import Settings
from tests.conftest import ingest_through_pipeline
from tests.e2e.browser import launch

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
TRACES = 8

CALLER_STACK = (
    "org.springframework.web.client.ResourceAccessException: I/O error on POST request for "
    '"http://{callee}:8080/api/stock/reserve": Read timed out\n'
    "\tat org.springframework.web.client.RestTemplate.doExecute(RestTemplate.java:915)\n"
    "\tat com.acme.shop.client.StockClient.reserve(StockClient.java:41)\n"
    "\tat com.acme.shop.service.CheckoutService.checkout(CheckoutService.java:77)\n"
    "Caused by: java.net.SocketTimeoutException: Read timed out\n"
    "\tat java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:288)\n"
    "\t... 48 common frames omitted\n"
)
CALLEE_STACK = (
    "org.springframework.jdbc.CannotGetJdbcConnectionException: Failed to obtain JDBC Connection\n"
    "\tat org.springframework.jdbc.datasource.DataSourceUtils.getConnection(DataSourceUtils.java:84)\n"
    "\tat com.acme.stock.repo.StockRepository.reserve(StockRepository.java:33)\n"
    "Caused by: java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, "
    "request timed out after 3000ms.\n"
    "\tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)\n"
)


def letters(topic: str) -> str:
    """Letters only and unique to this run (service names must be lowercase letters, digits, '-')."""
    return "".join(chr(97 + int(c)) for c in topic if c.isdigit())


def api(base: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    req = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def services(
    stack: Settings, os_client: OpenSearch, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, str]:
    """Index a caller/callee failure pair through Kafka and the real consumer; return their names."""
    topic = f"ui-an-{datetime.now(UTC):%H%M%S%f}"
    tag = letters(topic)
    caller, callee = f"shop-{tag}", f"stock-{tag}"
    now = datetime.now(UTC)
    values: list[tuple[bytes | None, bytes]] = []
    for i in range(TRACES):
        start = now - timedelta(seconds=90 - 5 * i)
        trace = f"{0xAA0000 + i:x}{tag}"[:32].ljust(32, "0")
        values.append(
            (
                callee.encode(),
                json.dumps(
                    {
                        "@timestamp": start.isoformat(timespec="milliseconds"),
                        "service": callee,
                        "level": "ERROR",
                        "level_value": 40000,
                        "logger_name": "com.acme.stock.repo.StockRepository",
                        "thread_name": "http-nio-8080-exec-2",
                        "message": f"Reservation {500 + i} failed: could not get a database connection",
                        "stack_trace": CALLEE_STACK,
                        "traceId": trace,
                        "spanId": f"{2 * i + 1:016x}",
                    }
                ).encode(),
            )
        )
        values.append(
            (
                caller.encode(),
                json.dumps(
                    {
                        "@timestamp": (start + timedelta(milliseconds=3100)).isoformat(
                            timespec="milliseconds"
                        ),
                        "service": caller,
                        "level": "ERROR",
                        "level_value": 40000,
                        "logger_name": "com.acme.shop.service.CheckoutService",
                        "thread_name": "http-nio-8080-exec-7",
                        "message": f'Checkout {900 + i} failed: I/O error on POST request for "http://{callee}:8080/api/stock/reserve": Read timed out',
                        "stack_trace": CALLER_STACK.format(callee=callee),
                        "traceId": trace,
                        "spanId": f"{2 * i:016x}",
                    }
                ).encode(),
            )
        )

    ingest_through_pipeline(stack, os_client, topic, values, tmp_path_factory.mktemp("ui-an"))
    return caller, callee


def test_analyses_view_lists_shows_and_acknowledges_an_analysis(
    ai_service: str, services: tuple[str, str]
) -> None:
    from playwright.sync_api import expect, sync_playwright

    caller, callee = services
    analysis = api(ai_service, "POST", "/analyses", {"service": caller, "since": "1h"})
    analysis_id = analysis["id"]
    assert analysis["status"] == "open"

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page_errors: list[str] = []
            page.on("pageerror", lambda exc: page_errors.append(str(exc)))
            page.goto(f"{ai_service}/")
            expect(page.locator("#status")).to_have_text("ready", timeout=20_000)

            # Ask | Analyses: the chat is the default view, the tab switches.
            expect(page.locator("#question")).to_be_visible()
            page.click("#tab-analyses")
            expect(page.locator("#analyses-view")).to_be_visible()
            expect(page.locator("#question")).to_be_hidden()

            # The list, filtered to this run's caller service.
            page.fill("#an-service", caller)
            page.click("#an-refresh")
            row = page.locator(f'tr.analysis-row[data-id="{analysis_id}"]')
            expect(row).to_be_visible(timeout=15_000)
            expect(row).to_contain_text(caller)
            expect(row.locator(".status-badge")).to_have_text("open")
            page.screenshot(path=str(ARTIFACTS / "analyses-list.png"))

            # The detail: title, status, suspected origin ranked with reasons, a cross-service timeline.
            row.click()
            expect(page.locator("#an-title")).to_have_text(analysis["title"], timeout=15_000)
            expect(page.locator("#an-status-badge")).to_have_text("open")
            origins = page.locator("#an-origins > li")
            expect(origins.first).to_be_visible()
            assert origins.count() == len(analysis["suspected_origin"]) >= 1
            top = analysis["suspected_origin"][0] if analysis["suspected_origin"] else None
            assert top is not None
            expect(origins.first).to_contain_text(top["service"])
            for reason in top["reasons"]:
                expect(origins.first).to_contain_text(reason)
            timeline = page.locator("#an-timeline > li")
            expect(timeline.first).to_be_visible()
            assert timeline.count() == len(analysis["related"]["timeline"]) >= 2
            timeline_text = page.locator("#an-timeline").inner_text()
            assert caller in timeline_text and callee in timeline_text, "events of both services"
            # Time order, whatever order the API used.
            stamps = [
                t.get_attribute("title") or "" for t in page.locator("#an-timeline > li summary .ts").all()
            ]
            assert stamps == sorted(stamps)
            # Each event expands to its full message and id.
            first = timeline.first.locator("details")
            first.locator("summary").click()
            expect(first.locator("pre.tl-full")).to_be_visible()
            expect(first).to_contain_text(str(first.get_attribute("data-id")))
            expect(page.locator("#an-evidence code").first).to_be_visible()
            assert "null" not in page.locator("#analysis-detail").inner_text().split()

            # A trace opens inline: one request across both services.
            page.locator("button.trace-chip").first.click()
            trace_rows = page.locator("#an-trace table.trace tbody tr")
            expect(trace_rows.first).to_be_visible(timeout=15_000)
            expect(page.locator("#an-trace")).to_contain_text(callee)
            expect(page.locator("#an-trace")).to_contain_text(caller)

            # Acknowledge: the badge changes and the API agrees.
            page.click("#an-ack")
            expect(page.locator("#an-status-badge")).to_have_text("acknowledged", timeout=15_000)
            expect(page.locator("#an-ack")).to_be_disabled()
            assert api(ai_service, "GET", f"/analyses/{analysis_id}")["status"] == "acknowledged"
            page.locator("#analysis-detail").scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "analyses-ui.png"), full_page=True)

            # Back to the list (browser Back works too): the row shows the new status.
            page.click("#an-back")
            expect(row.locator(".status-badge")).to_have_text("acknowledged", timeout=15_000)

            # An unknown id shows the server's message, not a blank page.
            page.goto(f"{ai_service}/#analyses/does-not-exist")
            expect(page.locator("#analyses-error")).to_be_visible(timeout=15_000)
            assert page.locator("#analyses-error").inner_text().strip()
            assert page_errors == []
        finally:
            browser.close()
