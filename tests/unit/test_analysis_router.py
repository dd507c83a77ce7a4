"""HTTP validation of /analyses, /templates, /traces: 404 and 422 messages a person can act on."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from ai_service.analysis.router import router
from ai_service.analysis.service import AnalysisService
from ai_service.errors import install_error_handlers
from ai_service.security import Guard, RateLimiter
from tests.unit.test_analysis_service import NOW, Clock, FakeRepo, make, npe_world


@pytest.fixture()
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    service: AnalysisService = make(npe_world(), FakeRepo(), Clock(NOW))
    app.state.analysis_service = service
    app.state.guard = Guard(["k1"], RateLimiter(0, 1))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t", headers={"X-API-Key": "k1"}
    ) as c:
        yield c


async def test_unknown_analysis_is_404_with_the_id(client: httpx.AsyncClient) -> None:
    r = await client.get("/analyses/abc123")
    assert r.status_code == 404
    assert r.json() == {"error": {"code": "not_found", "message": "no analysis with id abc123"}}
    r = await client.patch("/analyses/abc123", json={"status": "acknowledged"})
    assert r.status_code == 404


async def test_bad_since_says_the_accepted_forms(client: httpx.AsyncClient) -> None:
    for path in ("/analyses?since=yesterday-ish", "/templates?new_since=soonish"):
        r = await client.get(path)
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "invalid_request"
        assert (
            "'15m', '2h', '1d'" in r.json()["error"]["message"] and "ISO-8601" in r.json()["error"]["message"]
        )


async def test_post_needs_exactly_one_target(client: httpx.AsyncClient) -> None:
    r = await client.post("/analyses", json={})
    assert r.status_code == 422
    assert 'give one of {"template_id": ...}, {"trace_id": ...}' in r.json()["error"]["message"]
    r = await client.post("/analyses", json={"template_id": "a", "trace_id": "b"})
    assert r.status_code == 422 and "only one of" in r.json()["error"]["message"]
    r = await client.post("/analyses", json={"service": "order"})
    assert r.status_code == 422 and '"since" is required with "service"' in r.json()["error"]["message"]
    r = await client.post("/analyses", json={"service": "order", "since": "whenever"})
    assert r.status_code == 422 and "'15m', '2h', '1d'" in r.json()["error"]["message"]


async def test_bad_status_and_empty_patch_are_422(client: httpx.AsyncClient) -> None:
    r = await client.get("/analyses?status=closed")
    assert r.status_code == 422 and "status" in r.json()["error"]["message"]
    r = await client.patch("/analyses/x", json={})
    assert r.status_code == 422 and 'give "status"' in r.json()["error"]["message"]
    r = await client.patch("/analyses/x", json={"status": "done"})
    assert r.status_code == 422


async def test_post_creates_201_then_reuses_200_and_lists_it(client: httpx.AsyncClient) -> None:
    r = await client.post("/analyses", json={"trace_id": "trace2"})
    assert r.status_code == 201
    body = r.json()
    assert set(body) >= {"id", "fingerprint", "kind", "what", "where", "related", "suspected_origin", "reuse"}
    r2 = await client.post("/analyses", json={"template_id": "npe", "since": "1d"})
    assert r2.status_code == 200 and r2.json()["id"] == body["id"]
    listing = (await client.get("/analyses", params={"limit": 5})).json()["analyses"]
    assert [a["id"] for a in listing] == [body["id"]]
    assert set(listing[0]) == {
        "id",
        "kind",
        "status",
        "title",
        "service",
        "count",
        "first_seen",
        "last_seen",
        "updated_at",
    }
    r3 = await client.patch(f"/analyses/{body['id']}", json={"status": "acknowledged", "note": "on it"})
    assert r3.status_code == 200 and r3.json()["notes"][0]["text"] == "on it"


async def test_unknown_trace_is_404_and_a_known_one_is_a_timeline(client: httpx.AsyncClient) -> None:
    r = await client.get("/traces/nope")
    assert r.status_code == 404 and r.json()["error"]["message"] == "no events with trace id nope"
    r = await client.get("/traces/trace1")
    assert r.status_code == 200 and r.json()["services"] == ["order"]
    assert r.json()["events"][0]["exception_class"] == "java.lang.NullPointerException"


async def test_routes_need_the_api_key(client: httpx.AsyncClient) -> None:
    r = await client.get("/analyses", headers={"X-API-Key": "wrong"})
    assert r.status_code == 401
