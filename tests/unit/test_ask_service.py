from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from ai_service.chat.schemas import AskRequest
from ai_service.chat.service import AskService, hybrid_groups, template_key
from ai_service.deps import get_ask_service
from ai_service.main import create_app
from ai_service.search.opensearch_search import Hit, SearchFilters, TemplateStats, bm25_query
from loglens.embedding.hashing import HashingEmbedder

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def hit(i: int, template: str, service: str = "payment", level: str = "ERROR", exc: bool = False) -> Hit:
    src: dict[str, object] = {
        "@timestamp": f"2026-11-25T13:{i:02d}:00.000Z",
        "service": service,
        "level": level,
        "message": f"{template.replace('<*>', str(i))}",
        "template": template,
        "template_id": template[:8],
    }
    if exc:
        src["exception"] = {
            "class": "java.sql.SQLTransientConnectionException",
            "message": "pool timeout",
            "causes": [{"class": "java.sql.SQLTransientConnectionException", "message": "pool"}],
            "top_app_frame": "com.acme.payment.PaymentService.charge",
        }
    return Hit(id=f"app-logs-0-{i}", index="log-events-2026.11.25", score=1.0, source=src)


class FakeSearch:
    bm25_indices = ("log-events", "logs-*")
    knn_indices = ("log-events",)

    def __init__(self, bm25: list[Hit], knn: list[Hit]) -> None:
        self._bm25, self._knn = bm25, knn
        self.filters: list[SearchFilters] = []

    async def bm25(self, text: str, filters: SearchFilters, k: int) -> list[Hit]:
        self.filters.append(filters)
        return self._bm25[:k]

    async def knn(self, vector: list[float], filters: SearchFilters, k: int) -> list[Hit]:
        assert len(vector) == 384
        return self._knn[:k]

    async def template_stats(
        self, template_ids: list[str], filters: SearchFilters
    ) -> dict[str, TemplateStats]:
        return {}

    async def services(self) -> list[str]:
        return ["payment", "inventory", "order"]

    async def knn_templates(self, vector: list[float], filters: SearchFilters, k: int) -> list[str]:
        return []

    async def examples(
        self, template_ids: list[str], question: str, filters: SearchFilters
    ) -> dict[str, Hit]:
        return {}

    async def last_deploy(self, services: list[str]) -> datetime | None:
        return datetime(2026, 11, 25, 13, 30, tzinfo=UTC)


def test_rrf_prefers_templates_ranked_by_both() -> None:
    a, b, c = hit(1, "A <*>"), hit(2, "B <*>"), hit(3, "C <*>")
    fused = hybrid_groups([a, b], [], [template_key(c), template_key(b)])
    assert fused[0].key == template_key(b) and fused[0].best is b


def test_group_by_template_dedups() -> None:
    hits = [hit(i, "Pool timeout after <*>ms") for i in range(5)] + [hit(9, "Other <*>")]
    groups = hybrid_groups(hits, [])
    assert [len(g.hits) for g in groups] == [5, 1]


async def test_ask_builds_cited_answer_with_scope() -> None:
    bm25 = [hit(i, "Connection is not available, request timed out after <*>ms", exc=True) for i in range(6)]
    knn = [hit(20, "Payment <*> declined", level="WARN")]
    search = FakeSearch(bm25, knn)
    service = AskService(search, HashingEmbedder())
    resp = await service.ask(
        AskRequest(question="why are payments failing?", service="payment", since="1h"), NOW
    )
    assert resp.citations and resp.citations[0].service == "payment"
    assert "×≥6" in resp.answer and "[1]" in resp.answer
    assert "SQLTransientConnectionException" in resp.answer
    assert resp.searched.window["since"] == "2026-11-25T13:00:00Z"
    assert resp.searched.filters["service"] == ["payment"]
    assert search.filters[0].services == ["payment"]


async def test_ask_with_nothing_found_says_so() -> None:
    service = AskService(FakeSearch([], []), HashingEmbedder())
    resp = await service.ask(AskRequest(question="anything about inventory?", service="inventory"), NOW)
    assert resp.citations == []
    assert resp.answer.startswith("No matching events") and "inventory" in resp.answer


def test_bm25_query_never_uses_query_string() -> None:
    q = bm25_query('service:payment OR {"match_all":{}} *', SearchFilters(), 10)
    text = str(q)
    assert "query_string" not in text and "simple_query_string" not in text
    assert q["query"]["bool"]["must"][0]["multi_match"]["query"].startswith("service:payment")


@pytest.fixture()
def client() -> TestClient:
    app = create_app(embedder=HashingEmbedder())
    search = FakeSearch([hit(1, "Payment <*> declined")], [])
    app.dependency_overrides[get_ask_service] = lambda: AskService(search, HashingEmbedder())
    return TestClient(app)  # no lifespan: no OpenSearch client is made


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "question"),
        ({"question": "   "}, "question"),
        ({"question": "x" * 5000}, "question"),
        ({"question": "ok", "service": "pay ment; drop"}, "service"),
        ({"question": "ok", "since": "banana o'clock"}, "ISO-8601"),
        ({"question": "ok", "bogus": 1}, "bogus"),
    ],
)
def test_bad_requests_get_422_saying_what_to_fix(
    client: TestClient, body: dict[str, object], fragment: str
) -> None:
    r = client.post("/ask", json=body)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "invalid_request" and fragment in err["message"]


def test_ask_json_and_stream(client: TestClient) -> None:
    r = client.post("/ask", json={"question": "payments declined?"})
    assert r.status_code == 200
    assert r.json()["citations"][0]["@timestamp"].startswith("2026-11-25")
    r = client.post("/ask", json={"question": "payments declined?", "stream": True})
    assert r.headers["content-type"].startswith("text/event-stream")
    events = [line.split(": ", 1)[1] for line in r.text.splitlines() if line.startswith("event: ")]
    assert events[0] == "meta" and "answer" in events and events[-2:] == ["citations", "done"]


def test_unknown_route_has_json_error(client: TestClient) -> None:
    r = client.get("/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


async def test_question_scope_drives_filters_and_follow_ups() -> None:
    search = FakeSearch([hit(1, "Payment <*> declined")], [])
    service = AskService(search, HashingEmbedder())
    resp = await service.ask(
        AskRequest(question="why are payments failing since 12:00?", conversation_id="c1"), NOW
    )
    f = search.filters[-1]
    assert f.services == ["payment"] and f.levels == ["ERROR", "WARN"]
    assert f.since == datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert resp.searched.filters["time_phrase"] == "since 12:00"
    await service.ask(AskRequest(question="and what about inventory?", conversation_id="c1"), NOW)
    f = search.filters[-1]
    assert f.services == ["inventory"] and f.since == datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    # another conversation does not inherit it
    await service.ask(AskRequest(question="and what about inventory?", conversation_id="c2"), NOW)
    assert search.filters[-1].since == NOW - timedelta(hours=24)


async def test_since_last_deploy_and_trace_and_explicit_fields() -> None:
    search = FakeSearch([hit(1, "Payment <*> declined")], [])
    service = AskService(search, HashingEmbedder())
    resp = await service.ask(AskRequest(question="new errors since the last deploy?"), NOW)
    assert search.filters[-1].since == datetime(2026, 11, 25, 13, 30, tzinfo=UTC)
    assert "last deploy" in resp.searched.filters["notes"][0]
    await service.ask(AskRequest(question="what happened in trace 4bf92f3577b34da6a3ce929d0e0e4736?"), NOW)
    assert (
        search.filters[-1].trace_id == "4bf92f3577b34da6a3ce929d0e0e4736" and search.filters[-1].since is None
    )
    await service.ask(AskRequest(question="payments failing since 12:00?", service="order", since="15m"), NOW)
    assert search.filters[-1].services == ["order"] and search.filters[-1].since == NOW - timedelta(
        minutes=15
    )


async def test_qa_cache_serves_repeats_and_paraphrases_but_not_other_scopes() -> None:
    from ai_service.cache.qa_cache import InMemoryQACacheStore, QACache
    from loglens.embedding.minilm import MiniLMEmbedder

    embedder = MiniLMEmbedder()
    search = FakeSearch([hit(1, "Payment <*> declined")], [])
    cache = QACache(InMemoryQACacheStore(), model=embedder.name)
    service = AskService(search, embedder, cache=cache)
    first = await service.ask(AskRequest(question="why are payments failing?", since="1h"), NOW)
    assert first.cache.hit is False
    calls = len(search.filters)
    again = await service.ask(AskRequest(question="why are payments failing?", since="1h"), NOW)
    assert again.cache.hit is True and again.cache.source_question == "why are payments failing?"
    assert again.answer == first.answer and len(search.filters) == calls  # no search at all
    para = await service.ask(AskRequest(question="why is payment failing?", since="1h"), NOW)
    assert para.cache.hit is True and (para.cache.similarity or 0) >= 0.84
    other = await service.ask(
        AskRequest(question="why are payments failing?", service="order", since="1h"), NOW
    )
    assert other.cache.hit is False
    later = await service.ask(AskRequest(question="why are payments failing?", since="2h"), NOW)
    assert later.cache.hit is False
    negated = await service.ask(AskRequest(question="why are payments not failing?", since="1h"), NOW)
    assert negated.cache.hit is False
