"""API keys, rate limits, body limits, CORS and the internal metrics port."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ai_service.chat.service import AskService
from ai_service.deps import get_ask_service
from ai_service.main import create_app
from ai_service.security import RateLimiter
from loglens.config import Settings
from loglens.embedding.hashing import HashingEmbedder
from tests.unit.test_ask_service import FakeSearch, hit


def client_for(**settings: object) -> TestClient:
    app = create_app(Settings(**settings), embedder=HashingEmbedder())  # type: ignore[arg-type]
    search = FakeSearch([hit(1, "Payment <*> declined")], [])
    app.dependency_overrides[get_ask_service] = lambda: AskService(search, HashingEmbedder())
    return TestClient(app)


def test_api_key_required_when_configured() -> None:
    c = client_for(api_keys="k-one,k-two")
    r = c.post("/ask", json={"question": "payments?"})
    assert r.status_code == 401 and "X-API-Key" in r.json()["error"]["message"]
    assert c.post("/ask", json={"question": "payments?"}, headers={"X-API-Key": "nope"}).status_code == 401
    assert c.post("/ask", json={"question": "payments?"}, headers={"X-API-Key": "k-two"}).status_code == 200
    assert c.get("/healthz").status_code == 200  # health stays open
    assert c.get("/metrics").status_code == 200


def test_keys_from_a_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "keys"
    secret.write_text("file-key\n\n")
    c = client_for(api_keys_file=secret)
    assert c.post("/ask", json={"question": "x?"}, headers={"X-API-Key": "file-key"}).status_code == 200
    assert c.post("/ask", json={"question": "x?"}).status_code == 401


def test_rate_limit_per_key_with_retry_after() -> None:
    c = client_for(api_keys="a,b", rate_limit_per_min=6, rate_limit_burst=2)
    codes = [c.post("/ask", json={"question": "q"}, headers={"X-API-Key": "a"}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    r = c.post("/ask", json={"question": "q"}, headers={"X-API-Key": "a"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert r.json()["error"]["code"] == "rate_limited"
    # another key has its own bucket
    assert c.post("/ask", json={"question": "q"}, headers={"X-API-Key": "b"}).status_code == 200


def test_rate_limiter_refills() -> None:
    limiter = RateLimiter(per_min=60, burst=1)
    assert limiter.check("x", now=0.0) == 0.0
    assert limiter.check("x", now=0.1) > 0
    assert limiter.check("x", now=1.2) == 0.0


def test_body_too_large_gets_413() -> None:
    c = client_for(max_body_bytes=200)
    r = c.post("/ask", json={"question": "x" * 500})
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"


@pytest.mark.parametrize(
    ("origin", "allowed"), [("https://ops.acme.example", True), ("https://evil.example", False)]
)
def test_cors_allow_list(origin: str, allowed: bool) -> None:
    c = client_for(cors_origins="https://ops.acme.example")
    r = c.options("/ask", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
    assert (r.headers.get("access-control-allow-origin") == origin) is allowed


def test_metrics_moved_to_internal_port() -> None:
    c = client_for(metrics_port=19999)
    assert c.get("/metrics").status_code == 404
