import json
from datetime import UTC, datetime

from consumers.log_embedder.pipeline import SourceRecord, transform
from consumers.log_embedder.sink import bulk_body, classify_bulk_response
from loglens.embedding.cache import CachedEmbedder
from loglens.embedding.hashing import HashingEmbedder

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def rec(offset: int, value: bytes | None, key: bytes | None = b"order") -> SourceRecord:
    return SourceRecord("app-logs", 2, offset, key, value, (("h", b"v"),), int(NOW.timestamp() * 1000))


def good(msg: str = "Order 1 placed") -> bytes:
    return json.dumps(
        {
            "@timestamp": "2026-11-25T13:00:00Z",
            "message": msg,
            "level": "INFO",
            "service": "order",
            "logger_name": "com.acme.Order",
        }
    ).encode()


def test_transform_splits_good_and_bad_and_counts_all() -> None:
    records = [
        rec(0, good()),
        rec(1, b"{oops"),
        rec(2, b""),
        rec(3, good("Order 2 placed")),
        rec(4, b"\xff\xfe"),
        rec(5, json.dumps({"no": "message"}).encode()),
    ]
    result = transform(records, HashingEmbedder(), raw_max_bytes=1000, now=NOW)
    assert len(result.actions) + len(result.dead_letters) == len(records)
    assert [a.doc_id for a in result.actions] == ["app-logs-2-0", "app-logs-2-3"]
    assert sorted(d.reason for d in result.dead_letters) == sorted(
        ["malformed_json", "empty", "bad_encoding", "missing_message"]
    )
    doc = result.actions[0].doc
    assert result.actions[0].index == "log-events-2026.11.25"
    assert len(doc["vector"]) == 384
    assert doc["kafka"] == {"topic": "app-logs", "partition": 2, "offset": 0}
    # both messages share one template → same id
    assert result.actions[0].doc["template_id"] == result.actions[1].doc["template_id"]


def test_dead_letter_headers_name_stage_reason_and_source() -> None:
    result = transform([rec(7, b"{oops")], HashingEmbedder(), raw_max_bytes=1000, now=NOW)
    headers = dict(result.dead_letters[0].headers())
    assert headers["loglens.reason"] == b"malformed_json"
    assert headers["loglens.stage"] == b"decode"
    assert headers["loglens.source.offset"] == b"7"
    assert headers["loglens.source.partition"] == b"2"
    assert headers["h"] == b"v"  # original headers kept


def test_raw_is_capped_and_flagged() -> None:
    result = transform([rec(0, good("x" * 3000))], HashingEmbedder(), raw_max_bytes=500, now=NOW)
    doc = result.actions[0].doc
    assert len(doc["raw"]) == 500 and "raw_truncated" in doc["flags"]


def test_embedding_cache_makes_repeats_free() -> None:
    cached = CachedEmbedder(HashingEmbedder())
    records = [rec(i, good(f"Order {i} placed")) for i in range(100)]
    transform(records, cached, raw_max_bytes=1000, now=NOW)
    transform(
        [rec(200 + i, good(f"Order {i} placed")) for i in range(100)], cached, raw_max_bytes=1000, now=NOW
    )
    assert cached.model_calls == 1  # one template → one model call, second batch all hits
    assert len(cached) == 1


def test_bulk_body_and_failure_classification() -> None:
    result = transform([rec(0, good()), rec(1, good())], HashingEmbedder(), raw_max_bytes=1000, now=NOW)
    body = bulk_body(result.actions)
    lines = body.strip().split("\n")
    assert json.loads(lines[0]) == {"index": {"_index": "log-events-2026.11.25", "_id": "app-logs-2-0"}}
    response = {
        "errors": True,
        "items": [
            {"index": {"status": 429, "error": {"type": "es_rejected_execution_exception"}}},
            {"index": {"status": 400, "error": {"type": "mapper_parsing_exception"}}},
        ],
    }
    failures = classify_bulk_response(result.actions, response)
    assert [(f.status, f.retriable) for f in failures] == [(429, True), (400, False)]


def test_secrets_are_redacted_before_template_embedding_and_storage() -> None:
    from loglens.redaction import Redactor

    secret = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
    value = json.dumps(
        {
            "@timestamp": "2026-11-25T13:00:00Z",
            "service": "payment",
            "level": "ERROR",
            "message": f"Login for jane.doe@example.com failed with password=hunter2 key={secret}",
            "stack_trace": "java.lang.IllegalStateException: token=abcDEF123456ghiJKL\n\tat a.B.c(B.java:1)",
        }
    ).encode()
    embedded: list[str] = []

    class Spy(HashingEmbedder):
        def embed(self, texts):  # type: ignore[no-untyped-def]
            embedded.extend(texts)
            return super().embed(texts)

    result = transform([rec(0, value)], Spy(), raw_max_bytes=4096, now=NOW, redactor=Redactor())
    doc = result.actions[0].doc
    for field in ("message", "raw", "template", "stack_trace"):
        text = str(doc[field])
        assert "jane.doe@example.com" not in text and "hunter2" not in text and secret not in text, field
    assert "abcDEF123456ghiJKL" not in doc["exception"]["message"]
    assert not any("hunter2" in t or "jane.doe" in t for t in embedded)
    assert result.redactions.get("email") == 2  # message and raw
    assert result.redactions.get("secret_kv", 0) >= 2


def test_bulk_body_with_cached_vector_json_is_the_document() -> None:
    """The vector's JSON is spliced in from the per-text cache; the line must still be the doc."""
    embedder = CachedEmbedder(HashingEmbedder())
    records = [rec(0, good("Order 1 placed")), rec(1, good("Order 2 placed"))]
    first = transform(records, embedder, raw_max_bytes=1000, now=NOW)
    again = transform([rec(2, good("Order 3 placed"))], embedder, raw_max_bytes=1000, now=NOW)
    actions = first.actions + again.actions
    assert all(a.vector_json is not None for a in actions)
    assert actions[0].doc["vector"] is actions[2].doc["vector"]  # one cached list per text
    lines = bulk_body(actions).splitlines()
    for action, line in zip(actions, lines[1::2], strict=True):
        assert json.loads(line) == action.doc
    assert (embedder.model_calls, embedder.misses, embedder.hits) == (1, 2, 1)


def test_dumps_with_vector_edge_cases() -> None:
    from loglens.embedding.cache import dumps_with_vector

    assert json.loads(dumps_with_vector({"vector": [1.0]}, "[2.0]")) == {"vector": [2.0]}
    assert json.loads(dumps_with_vector({"a": "é", "vector": [1.0]}, "[0.5]")) == {"a": "é", "vector": [0.5]}
    assert json.loads(dumps_with_vector({"a": 1}, "[0.5]")) == {"a": 1}  # no vector key: left as is
    assert json.loads(dumps_with_vector({"a": 1, "vector": [3.0]}, None)) == {"a": 1, "vector": [3.0]}


def test_cached_embedder_embed_matches_inner_and_counts() -> None:
    inner = HashingEmbedder()
    cached = CachedEmbedder(inner, max_entries=2)
    texts = ["a b", "c d", "a b", "e f"]
    out = cached.embed(texts)
    assert out.shape == (4, inner.dim)
    assert (out == inner.embed(texts)).all()
    assert (cached.hits, cached.misses, cached.model_calls) == (0, 4, 1)  # in-batch repeats are misses
    assert len(cached) == 2  # bounded


def test_jsonfast_falls_back_for_lone_surrogates() -> None:
    from loglens import jsonfast

    assert json.loads(jsonfast.dumps({"m": "ok é", "n": [1, 2.5]})) == {"m": "ok é", "n": [1, 2.5]}
    text = jsonfast.dumps({"m": "bad \ud800 half"})
    assert "\\ud800" in text and json.loads(text) == {"m": "bad \ud800 half"}


def test_split_even_keeps_order_and_covers_every_action() -> None:
    from consumers.log_embedder.sink import split_even

    result = transform(
        [rec(i, good(f"Order {i} placed")) for i in range(7)], HashingEmbedder(), raw_max_bytes=1000, now=NOW
    )
    actions = result.actions
    for parts in (1, 2, 3, 7, 10):
        chunks = split_even(actions, parts)
        assert [a for c in chunks for a in c] == list(actions)
        assert len(chunks) == min(parts, 7)
        assert all(chunks) and max(map(len, chunks)) - min(map(len, chunks)) <= 1


class _BulkClient:
    """Answers each bulk request with its own items; fails the request whose body holds ``fail_on``."""

    def __init__(self, status_of: dict[str, int], fail_on: str | None = None) -> None:
        self.status_of, self.fail_on = status_of, fail_on
        self.bodies: list[str] = []
        self.in_flight = self.max_in_flight = 0

    async def bulk(self, body: str, refresh: bool = False) -> dict[str, object]:
        import asyncio

        self.bodies.append(body)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        if self.fail_on is not None and self.fail_on in body:
            raise ConnectionError("connection refused")
        ids = [json.loads(line)["index"]["_id"] for line in body.strip().split("\n")[::2]]
        items = [{"index": {"_id": i, "status": self.status_of.get(i, 201)}} for i in ids]
        return {"errors": any(self.status_of.get(i, 201) >= 300 for i in ids), "items": items}


async def test_sink_sends_parts_at_once_and_maps_failures_to_their_actions() -> None:
    from consumers.log_embedder.sink import OpenSearchSink

    result = transform(
        [rec(i, good(f"Order {i} placed")) for i in range(6)], HashingEmbedder(), raw_max_bytes=1000, now=NOW
    )
    client = _BulkClient({"app-logs-2-1": 429, "app-logs-2-4": 400})
    failures = await OpenSearchSink(client, concurrency=2).write(result.actions)
    assert len(client.bodies) == 2 and client.max_in_flight == 2
    assert [(f.action.doc_id, f.status, f.retriable) for f in failures] == [
        ("app-logs-2-1", 429, True),
        ("app-logs-2-4", 400, False),
    ]


async def test_sink_raises_when_any_part_fails_in_transport_after_all_parts_ran() -> None:
    import pytest

    from consumers.log_embedder.sink import OpenSearchSink

    result = transform(
        [rec(i, good(f"Order {i} placed")) for i in range(6)], HashingEmbedder(), raw_max_bytes=1000, now=NOW
    )
    client = _BulkClient({}, fail_on='"app-logs-2-5"')
    with pytest.raises(ConnectionError):
        await OpenSearchSink(client, concurrency=3).write(result.actions)
    assert len(client.bodies) == 3 and client.in_flight == 0
