from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from ai_service.chat.schemas import AskRequest
from ai_service.chat.service import (
    AskService,
    cited_hits,
    finish_groups,
    hybrid_groups,
    retrieve,
    template_key,
    variable_words,
)
from ai_service.deps import get_ask_service
from ai_service.main import create_app
from ai_service.search.opensearch_search import (
    Hit,
    SearchFilters,
    TemplateMatch,
    TemplateStats,
    bm25_query,
)
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

    def __init__(
        self,
        bm25: list[Hit],
        knn: list[Hit],
        templates: list[TemplateMatch] | None = None,
        examples: dict[str, Hit] | None = None,
    ) -> None:
        self._bm25, self._knn = bm25, knn
        self._templates, self._examples = templates or [], examples or {}
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

    async def template_matches(
        self, vector: list[float], filters: SearchFilters, k: int
    ) -> list[TemplateMatch]:
        return self._templates[:k]

    async def examples(
        self, template_ids: list[str], question: str, filters: SearchFilters
    ) -> dict[str, Hit]:
        return {t: self._examples[t] for t in template_ids if t in self._examples}

    async def last_deploy(self, services: list[str]) -> datetime | None:
        return datetime(2026, 11, 25, 13, 30, tzinfo=UTC)


def line(
    i: int, message: str, template: str, score: float, params: list[str] | None = None, **extra: object
) -> Hit:
    """A hit with a real-looking line: message, its template, its variable parts and BM25 score."""
    src: dict[str, object] = {
        "@timestamp": f"2026-11-25T13:{i:02d}:00.000Z",
        "service": "hdfs",
        "level": "INFO",
        "message": message,
        "template": template,
        "template_id": template[:12],
        **extra,
    }
    if params is not None:
        src["params"] = params
    return Hit(id=f"t-0-{i}", index="log-events-2026.11.25", score=score, source=src)


def test_catalog_similarity_breaks_near_ties_between_templates() -> None:
    a, b, c = hit(1, "A <*>"), hit(2, "B <*>"), hit(3, "C <*>")
    catalog = [
        TemplateMatch(template_key(c), 0.75),
        TemplateMatch(template_key(b), 0.5),
        TemplateMatch("D", 0.25),
    ]
    fused = hybrid_groups([a, b], [], catalog)
    # a and b tie on BM25 (1.0 each); b's catalog similarity scales to 0.5 → first. c: catalog
    # only (1.0, its line is fetched later), after a on the tie; D is the farthest: 0.
    assert [(f.key, f.score) for f in fused] == [
        (template_key(b), 1.5),
        (template_key(a), 1.0),
        (template_key(c), 1.0),
        ("D", 0.0),
    ]
    assert fused[0].best is b and fused[2].best is None


def test_a_line_far_ahead_on_bm25_is_not_outvoted_by_the_catalog() -> None:
    other = line(2, "Received block blk_7 of size 64", "Received block <*> of size <*>", 30.0)
    catalog = [
        TemplateMatch(template_key(other), 0.75),  # scales to 1.0
        TemplateMatch("Deleting blo", 0.625),  # the named line's template: 0.5
        TemplateMatch("far", 0.5),  # 0.0
    ]
    close = line(1, "Deleting block blk_-42 file /data/blk_-42", "Deleting block <*> file <*>", 40.0)
    # A modest BM25 lead loses to a much nearer template: 1.0 + 0.5 < 30/40 + 1.0.
    assert hybrid_groups([close, other], [], catalog)[0].key == template_key(other)
    # A line far ahead (it names the asked block; the other only shares "block") keeps first
    # place: 1.0 + 0.5 > 30/80 + 1.0. RRF gave both cases the same votes: ranks 1 and 2.
    named = line(1, "Deleting block blk_-42 file /data/blk_-42", "Deleting block <*> file <*>", 80.0)
    fused = hybrid_groups([named, other], [], catalog)
    assert fused[0].key == template_key(named) and fused[0].best is named


def test_knn_event_hits_give_no_votes_and_their_line_is_a_last_resort() -> None:
    bm = hit(1, "A <*>")
    only_knn = hit(2, "B <*>")
    fused = hybrid_groups([bm], [only_knn])
    assert [(f.key, f.score) for f in fused] == [(template_key(bm), 1.0), (template_key(only_knn), 0.0)]
    # Any line of B would have come back first (same vector): the one matching the question is
    # fetched instead, and the k-NN line is cited only when that fetch finds nothing.
    assert fused[1].best is None and fused[1].hits == [only_knn]
    better = hit(3, "B <*>")
    groups = finish_groups(fused, {template_key(only_knn): better}, 10)
    assert [g.best for g in groups] == [bm, better]
    assert [g.best for g in finish_groups(fused, {}, 10)] == [bm, only_knn]


def test_variable_words_come_from_params_without_the_template_words() -> None:
    tpl = "Failed password for invalid user <*> from <*> port <*> <*>"
    h = line(1, "Failed password for invalid user user from 10.0.0.1 port 22 ssh2", tpl, 1.0,
             ["user", "10.0.0.1", "22", "ssh2"])  # fmt: skip
    assert variable_words(h) == {"10.0.0.1", "22", "ssh2"}  # "user" is also a word of the template
    no_params = line(
        2, "Running task 5.0 in stage 29.0 (TID 1325)", "Running task <*> in stage <*> (TID <*>)", 1.0
    )
    assert variable_words(no_params) == {"5.0", "29.0", "1325"}
    raw = Hit(id="r", index="logs-2026.11.25", score=1.0, source={"message": "no template here"})
    assert variable_words(raw) == set()


def test_more_lines_of_a_template_are_cited_only_when_the_question_names_them() -> None:
    tpl = "Failed password for invalid user <*> from <*> port <*> <*>"
    test_lines = [
        line(i, f"Failed password for invalid user test from 10.0.0.{i} port 4{i} ssh2", tpl, 20.0,
             ["test", f"10.0.0.{i}", f"4{i}", "ssh2"])
        for i in range(1, 5)
    ]  # fmt: skip
    other = line(
        9,
        "Accepted password for fztu from 10.9.9.9 port 1 ssh2",
        "Accepted password for <*> from <*> port <*> <*>",
        5.0,
    )
    bm25 = [*test_lines, other]
    fused = hybrid_groups(bm25, [])
    named = finish_groups(fused, {}, 10, bm25, "which ports did user test fail on?")
    assert [h.id for h in cited_hits(named, 10)] == ["t-0-1", "t-0-2", "t-0-3", "t-0-9"]  # best + 2
    vague = finish_groups(fused, {}, 10, bm25, "which ports did a user fail on?")
    assert [h.id for h in cited_hits(vague, 10)] == ["t-0-1", "t-0-9"]  # same event again: not cited


def test_a_line_is_cited_once_even_from_two_indices_or_twice_in_the_logs() -> None:
    tpl = "Invalid user <*> from <*>"
    first = line(1, "Invalid user admin from 10.0.0.1", tpl, 9.0, ["admin", "10.0.0.1"],
                 kafka={"topic": "app-logs", "partition": 0, "offset": 7})  # fmt: skip
    same_text = line(2, "Invalid user admin from 10.0.0.1", tpl, 9.0, ["admin", "10.0.0.1"])
    # Logstash's copy of the same record in logs-*: no template, so it would be a group of its own.
    logstash = Hit(
        id="app-logs-0-7",
        index="logs-2026.11.25",
        score=8.0,
        source={
            "message": "Invalid user admin from 10.0.0.1 ",
            "kafka": {"topic": "app-logs", "partition": 0, "offset": 7},
        },
    )
    other = line(3, "Invalid user admin from 10.0.0.2", tpl, 9.0, ["admin", "10.0.0.2"])
    bm25 = [first, same_text, logstash, other]
    groups = finish_groups(hybrid_groups(bm25, []), {}, 10, bm25, "what did admin do?")
    assert [h.id for h in cited_hits(groups, 10)] == ["t-0-1", "t-0-3"]
    assert len(groups) == 1 and len(groups[0].hits) == 3  # the copies still count as the template's


async def test_retrieve_fills_catalog_only_templates_with_an_example_line() -> None:
    bm = hit(1, "A <*>")
    example = hit(2, "B <*>")
    search = FakeSearch(
        [bm], [], [TemplateMatch(template_key(example), 0.9)], {template_key(example): example}
    )
    groups = await retrieve(search, "b?", [0.0] * 384, SearchFilters(), 10, 30)
    # 1.0 (BM25) against 1.0 (catalog): a tie keeps BM25's line first; B's line is the example.
    assert [g.best for g in groups] == [bm, example]


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
