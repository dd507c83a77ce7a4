"""Analyses against the real stack: demo traffic with the `npe-after-deploy` fault → Kafka →
consumer → OpenSearch, then a detection cycle, the API (in-process and the real AI service).

The detection runs in-process, scoped to this test's topic and writing to its own analyses
index, so other tests' data in the shared indices cannot change what it finds.
"""

from __future__ import annotations

import json
import random
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from opensearchpy import OpenSearch

from ai_service.analysis.router import router
from ai_service.analysis.service import AnalysisConfig, AnalysisService
from ai_service.analysis.store import OpenSearchAnalysisRepo, OpenSearchEventQueries
from ai_service.errors import install_error_handlers
from ai_service.security import Guard, RateLimiter
from loglens.config import Settings
from loglens.demo.generator import TrafficGenerator
from loglens.demo.producer import encode_event
from loglens.demo.scenarios import get_scenario
from loglens.events import parse_timestamp
from loglens.indices import index_templates
from loglens.opensearch_client import async_client
from tests.conftest import count_topic_docs, produce_values, start_consumer, wait_until

SCENARIO = "npe-after-deploy"


def demo_events(now: datetime, seed: int) -> list[dict[str, Any]]:
    """~11 minutes of shop traffic ending now; order 1.4.3 (green) goes live after 5 minutes."""
    gen = TrafficGenerator(
        seed=seed,
        start=now - timedelta(minutes=11),
        rate=2.0,
        scenarios=[SCENARIO],
        scenario_offset_s=300,
        scenario_rate=0.2,
    )
    out = []
    for event in gen:
        if parse_timestamp(event["@timestamp"]) > now:
            break
        out.append(event)
    return out


def http(method: str, url: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture()
async def indexed_demo(
    stack: Settings, os_client: OpenSearch, test_topic: str, tmp_path: Path
) -> AsyncIterator[list[dict[str, Any]]]:
    events = demo_events(datetime.now(UTC), seed=random.randrange(1, 2**31))
    await produce_values(stack, test_topic, [encode_event(e) for e in events])
    consumer = start_consumer(stack, test_topic, tmp_path / "consumer.log")
    try:
        await wait_until(lambda: count_topic_docs(os_client, test_topic) >= len(events), timeout=120)
    finally:
        assert consumer.stop(timeout=20) == 0, consumer.log_text()[-2000:]
    yield events


@pytest.fixture()
async def scoped_service(
    stack: Settings, os_client: OpenSearch, test_topic: str
) -> AsyncIterator[AnalysisService]:
    index = f"log-analyses-it-{uuid.uuid4().hex[:8]}"
    template = index_templates(stack)["loglens-log-analyses"]["template"]
    os_client.indices.create(
        index=index, body={"settings": template["settings"], "mappings": template["mappings"]}
    )
    client = async_client(stack)
    try:
        yield AnalysisService(
            OpenSearchEventQueries(client, scope=[{"term": {"kafka.topic": test_topic}}]),
            OpenSearchAnalysisRepo(client, index=index, state_index=index + "-state"),
            config=AnalysisConfig(),
        )
    finally:
        await client.close()
        os_client.indices.delete(index=f"{index}*", params={"ignore_unavailable": "true"})


def app_for(service: AnalysisService) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    app.state.analysis_service = service
    app.state.guard = Guard([], RateLimiter(0, 1))
    return app


async def test_npe_after_deploy_is_detected_analysed_and_reused(
    indexed_demo: list[dict[str, Any]], scoped_service: AnalysisService, ai_service: str
) -> None:
    scenario = get_scenario(SCENARIO)
    npe_events = [e for e in indexed_demo if scenario.matches(e["message"])]
    assert npe_events, "the scenario produced no fault events"

    # One detection cycle finds the NullPointerException as a new template of order, origin order.
    first = await scoped_service.run_cycle()
    assert first.created >= 1
    listing = await scoped_service.list_analyses(None, "1h", None, 50)
    analyses = [await scoped_service.get(s.id) for s in listing]
    npe = next(a for a in analyses if a.what.template and "NullPointerException" in a.what.template)
    assert npe.kind == "new_template"
    assert npe.suspected_origin[0].service == "order"
    assert npe.suspected_origin[0].template_id == npe.what.template_id
    assert any("only in green v1.4.3" in r for r in npe.suspected_origin[0].reasons)
    assert npe.where.versions == ["1.4.3"] and npe.where.slots == ["green"]
    assert any(s.startswith("roll back order to blue v1.4.2") for s in npe.next_steps), npe.next_steps
    assert npe.related.causes[0].class_ == "java.lang.NullPointerException"
    assert any("PricingService.applyDiscount" in f for f in npe.related.top_frames)
    assert {e.service for e in npe.related.timeline} >= {"order", "gateway"}
    stamps = [e.timestamp or "" for e in npe.related.timeline]
    assert stamps == sorted(stamps)
    assert npe.what.count == len(npe_events)

    # A second cycle reuses it: no new analysis for the same fingerprint.
    second = await scoped_service.run_cycle()
    assert second.created == 0
    assert len(await scoped_service.list_analyses(None, "1h", None, 50)) == len(listing)

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app_for(scoped_service)), base_url="http://t"
    ) as c:
        r = await c.patch(f"/analyses/{npe.id}", json={"status": "acknowledged", "note": "rolling back"})
        assert r.status_code == 200 and r.json()["status"] == "acknowledged"
        assert r.json()["notes"][-1]["text"] == "rolling back"
        r = await c.post("/analyses", json={"template_id": npe.what.template_id, "since": "1h"})
        assert r.status_code == 200 and r.json()["id"] == npe.id  # reuse, not a new analysis
        assert r.json()["status"] == "acknowledged" and r.json()["reuse"]["first_in"] == "green v1.4.3"
        r = await c.get("/templates", params={"new_since": "deploy", "service": "order"})
        assert r.status_code == 200
        found = [t for t in r.json()["templates"] if t["template_id"] == npe.what.template_id]
        assert found and found[0]["reason"] == "never seen before" and found[0]["services"] == ["order"]
        r = await c.get("/analyses/nope")
        assert r.status_code == 404 and r.json()["error"]["message"] == "no analysis with id nope"

    # The real AI service process: the trace timeline across services and an on-demand analysis.
    trace_id = npe_events[-1]["traceId"]
    status, trace = http("GET", f"{ai_service}/traces/{trace_id}")
    assert status == 200, trace
    assert trace["services"][:2] == ["order", "gateway"]
    assert [e["@timestamp"] for e in trace["events"]] == sorted(e["@timestamp"] for e in trace["events"])
    assert any(e["exception_class"] == "java.lang.NullPointerException" for e in trace["events"])
    status, made = http("POST", f"{ai_service}/analyses", {"trace_id": trace_id})
    assert status in (200, 201), made  # 200 when the service's own worker got there first
    assert made["suspected_origin"][0]["service"] == "order"
    status, again = http("POST", f"{ai_service}/analyses", {"trace_id": trace_id})
    assert status == 200 and again["id"] == made["id"]
    status, acked = http("PATCH", f"{ai_service}/analyses/{made['id']}", {"status": "acknowledged"})
    assert status == 200 and acked["status"] == "acknowledged"
    status, missing = http("GET", f"{ai_service}/traces/{uuid.uuid4().hex}")
    assert status == 404 and missing["error"]["code"] == "not_found"
