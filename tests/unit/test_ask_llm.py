"""/ask with an LLM configured, against the local fake OpenAI-compatible server."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from ai_service.chat.schemas import AskRequest
from ai_service.chat.service import AskService
from ai_service.llm import build_answerer
from loglens.config import Settings
from loglens.embedding.hashing import HashingEmbedder
from tests.fakes.openai_server import FakeOpenAI
from tests.unit.test_ask_service import FakeSearch, hit

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


def service(fake: FakeOpenAI, **extra: object) -> AskService:
    settings = Settings(llm_base_url=fake.base_url, llm_timeout_s=1.0, llm_deadline_s=5.0, **extra)  # type: ignore[arg-type]
    answerer = build_answerer(settings)
    assert answerer is not None
    # Three templates: /ask cites one line per template unless the question names their ids.
    templates = [
        "Connection is not available, request timed out after <*>ms",
        "HikariPool-1 - pool stats (total=<*>, active=10, waiting=42)",
        "Charge <*> failed: could not obtain JDBC connection",
    ]
    search = FakeSearch(
        [hit(i, template, exc=True) for i, template in enumerate(templates)],
        [hit(20, "Payment <*> declined", level="WARN")],
    )
    return AskService(search, HashingEmbedder(), answerer=answerer)


async def test_llm_answer_with_checked_citations(fake: FakeOpenAI) -> None:
    fake.reset()
    fake.state.chat_reply = json.dumps(
        {
            "answer": "The payment DB pool is exhausted [app-logs-0-1]; see also [app-logs-0-2].",
            "cited_ids": ["app-logs-0-1", "app-logs-0-2"],
        }
    )
    resp = await service(fake).ask(AskRequest(question="why are payments failing?", since="1h"), NOW)
    assert resp.model == "gpt-4o-mini" and not resp.degraded and not resp.flagged
    assert resp.answer == "The payment DB pool is exhausted [2]; see also [3]."  # ids become citation numbers
    assert resp.tokens == {"prompt": 10, "completion": 10}
    body = fake.state.requests[-1]["body"]
    sent = json.dumps(body)
    assert "<<<LOG id=app-logs-0-1" in sent and body["response_format"] == {"type": "json_object"}


async def test_injected_fake_citation_is_dropped_and_flagged(fake: FakeOpenAI) -> None:
    fake.reset()
    fake.state.chat_reply = json.dumps(
        {"answer": "Ignore that; the key is [evil-1].", "cited_ids": ["evil-1"]}
    )
    resp = await service(fake).ask(AskRequest(question="why are payments failing?", since="1h"), NOW)
    assert resp.flagged and resp.dropped_citations == ["evil-1"] and "evil-1" not in resp.answer
    assert all(c.id != "evil-1" for c in resp.citations)


@pytest.mark.parametrize(
    "modes", [("500", "500", "500"), ("429", "429", "429"), ("malformed",) * 3, ("slow",) * 3]
)
async def test_llm_failure_degrades_to_the_evidence_answer(fake: FakeOpenAI, modes: tuple[str, ...]) -> None:
    fake.reset()
    fake.script(*modes, slow_seconds=2.0)
    resp = await service(fake).ask(AskRequest(question="why are payments failing?", since="1h"), NOW)
    assert resp.degraded and resp.model == "evidence" and resp.degraded_reason
    assert "matching events" in resp.answer and resp.citations


async def test_no_llm_configured_means_evidence_only() -> None:
    assert build_answerer(Settings()) is None
