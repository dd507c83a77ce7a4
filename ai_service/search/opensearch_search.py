"""Search adapter over OpenSearch: BM25 and k-NN queries, built from typed filters only.

User text only ever goes into a ``multi_match`` ``query`` value (never ``query_string``),
so Lucene syntax or query DSL in a question is just words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from loglens.indices import EVENTS_ALIAS, LOGSTASH_INDEX_PATTERN, TEMPLATES_INDEX

_SOURCE_FIELDS = [
    "@timestamp",
    "service",
    "level",
    "logger",
    "thread",
    "message",
    "template",
    "template_id",
    "params",
    "trace_id",
    "span_id",
    "exception",
    "stack_trace",
    "version",
    "slot",
    "host",
    "env",
    "kafka",
]


@dataclass(slots=True)
class SearchFilters:
    since: datetime | None = None
    until: datetime | None = None
    services: list[str] = field(default_factory=list)
    levels: list[str] = field(default_factory=list)
    trace_id: str | None = None

    def to_clauses(self) -> list[dict[str, Any]]:
        clauses: list[dict[str, Any]] = []
        if self.since or self.until:
            rng: dict[str, str] = {}
            if self.since:
                rng["gte"] = self.since.isoformat()
            if self.until:
                rng["lte"] = self.until.isoformat()
            clauses.append({"range": {"@timestamp": rng}})
        if self.services:
            clauses.append({"terms": {"service": self.services}})
        if self.levels:
            clauses.append({"terms": {"level": self.levels}})
        if self.trace_id:
            clauses.append({"term": {"trace_id": self.trace_id}})
        return clauses


@dataclass(slots=True)
class Hit:
    id: str
    index: str
    score: float
    source: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TemplateMatch:
    """A template near the question in the template catalog, with its k-NN score."""

    template_id: str
    score: float


@dataclass(slots=True)
class TemplateStats:
    """One template's facts over the whole filtered window (not just the retrieved hits)."""

    count: int
    first_seen: str | None
    last_seen: str | None
    services: list[str]


def template_stats_query(template_ids: list[str], filters: SearchFilters) -> dict[str, Any]:
    return {
        "size": 0,
        "query": {"bool": {"filter": [*filters.to_clauses(), {"terms": {"template_id": template_ids}}]}},
        "aggs": {
            "t": {
                "terms": {"field": "template_id", "size": len(template_ids)},
                "aggs": {
                    "first": {"min": {"field": "@timestamp"}},
                    "last": {"max": {"field": "@timestamp"}},
                    "services": {"terms": {"field": "service", "size": 20}},
                },
            }
        },
    }


def bm25_query(text: str, filters: SearchFilters, k: int) -> dict[str, Any]:
    return {
        "size": k,
        "_source": _SOURCE_FIELDS,
        "query": {
            "bool": {
                "must": [
                    {
                        "multi_match": {
                            "query": text,
                            "fields": [
                                "message^2",
                                "template",
                                "exception.message",
                                "exception.class^2",
                                "stack_trace^0.5",
                                "service",
                                "logger",
                            ],
                            "type": "best_fields",
                            "operator": "or",
                            "lenient": True,
                        }
                    }
                ],
                "filter": filters.to_clauses(),
            }
        },
    }


def knn_query(vector: list[float], filters: SearchFilters, k: int) -> dict[str, Any]:
    clauses = filters.to_clauses()
    knn: dict[str, Any] = {"vector": vector, "k": k}
    if clauses:
        # Lucene engine applies the filter during the HNSW search (efficient filtering).
        knn["filter"] = {"bool": {"filter": clauses}}
    return {"size": k, "_source": _SOURCE_FIELDS, "query": {"knn": {"vector": knn}}}


def _hits(response: dict[str, Any]) -> list[Hit]:
    return [
        Hit(id=h["_id"], index=h["_index"], score=float(h.get("_score") or 0.0), source=h.get("_source", {}))
        for h in response.get("hits", {}).get("hits", [])
    ]


class OpenSearchSearch:
    """BM25 over ``log-events`` + ``logs-*``; k-NN over ``log-events``."""

    bm25_indices: tuple[str, ...] = (EVENTS_ALIAS, LOGSTASH_INDEX_PATTERN)
    knn_indices: tuple[str, ...] = (EVENTS_ALIAS, TEMPLATES_INDEX)

    def __init__(self, client: Any) -> None:
        self.client = client

    async def bm25(self, text: str, filters: SearchFilters, k: int) -> list[Hit]:
        response = await self.client.search(
            index=",".join(self.bm25_indices),
            body=bm25_query(text, filters, k),
            params={"ignore_unavailable": "true", "allow_no_indices": "true"},
        )
        return _hits(response)

    async def knn(self, vector: list[float], filters: SearchFilters, k: int) -> list[Hit]:
        response = await self.client.search(
            index=",".join(self.knn_indices),
            body=knn_query(vector, filters, k),
            params={"ignore_unavailable": "true", "allow_no_indices": "true"},
        )
        return _hits(response)

    async def template_stats(
        self, template_ids: list[str], filters: SearchFilters
    ) -> dict[str, TemplateStats]:
        response = await self.client.search(
            index=EVENTS_ALIAS,
            body=template_stats_query(template_ids, filters),
            params={"ignore_unavailable": "true", "allow_no_indices": "true"},
        )
        out: dict[str, TemplateStats] = {}
        for bucket in response.get("aggregations", {}).get("t", {}).get("buckets", []):
            out[bucket["key"]] = TemplateStats(
                count=int(bucket["doc_count"]),
                first_seen=bucket["first"].get("value_as_string"),
                last_seen=bucket["last"].get("value_as_string"),
                services=[b["key"] for b in bucket["services"]["buckets"]],
            )
        return out

    async def template_matches(
        self, vector: list[float], filters: SearchFilters, k: int
    ) -> list[TemplateMatch]:
        """Templates nearest to the question, among templates seen in the filters' scope, with
        their similarity (cosine, as the k-NN score (1 + cos) / 2), best first."""
        if filters.trace_id:
            return []  # the catalog knows nothing about traces
        clauses: list[dict[str, Any]] = []
        if filters.services:
            clauses.append({"terms": {"services": filters.services}})
        if filters.levels:
            clauses.append({"terms": {"levels": filters.levels}})
        if filters.since:
            clauses.append({"range": {"last_seen": {"gte": filters.since.isoformat()}}})
        if filters.until:
            clauses.append({"range": {"first_seen": {"lte": filters.until.isoformat()}}})
        knn: dict[str, Any] = {"vector": vector, "k": k}
        if clauses:
            knn["filter"] = {"bool": {"filter": clauses}}
        response = await self.client.search(
            index=TEMPLATES_INDEX,
            body={"size": k, "_source": ["template_id"], "query": {"knn": {"vector": knn}}},
            params={"ignore_unavailable": "true", "allow_no_indices": "true"},
        )
        return [
            TemplateMatch(str(h["_source"].get("template_id", h["_id"])), float(h.get("_score") or 0.0))
            for h in response.get("hits", {}).get("hits", [])
        ]

    async def examples(
        self, template_ids: list[str], question: str, filters: SearchFilters
    ) -> dict[str, Hit]:
        """For each template, its line in scope that best matches the question (one msearch)."""
        lines: list[dict[str, Any]] = []
        for template_id in template_ids:
            lines.append({"index": EVENTS_ALIAS, "ignore_unavailable": True, "allow_no_indices": True})
            lines.append(
                {
                    "size": 1,
                    "_source": _SOURCE_FIELDS,
                    "query": {
                        "bool": {
                            "filter": [*filters.to_clauses(), {"term": {"template_id": template_id}}],
                            "should": [
                                {
                                    "multi_match": {
                                        "query": question,
                                        "fields": ["message", "exception.message"],
                                    }
                                }
                            ],
                        }
                    },
                    "sort": ["_score", {"@timestamp": "desc"}],
                }
            )
        response = await self.client.msearch(body=lines)
        out: dict[str, Hit] = {}
        for template_id, part in zip(template_ids, response.get("responses", []), strict=False):
            hits = _hits(part) if "hits" in part else []
            if hits:
                out[template_id] = hits[0]
        return out

    async def services(self) -> list[str]:
        response = await self.client.search(
            index=EVENTS_ALIAS,
            body={"size": 0, "aggs": {"s": {"terms": {"field": "service", "size": 200}}}},
            params={"ignore_unavailable": "true", "allow_no_indices": "true"},
        )
        return [b["key"] for b in response.get("aggregations", {}).get("s", {}).get("buckets", [])]

    async def last_deploy(self, services: list[str]) -> datetime | None:
        """When the newest (version, slot) pair first logged: the last deploy or blue/green switch."""
        clauses: list[dict[str, Any]] = [{"exists": {"field": "version"}}]
        if services:
            clauses.append({"terms": {"service": services}})
        response = await self.client.search(
            index=EVENTS_ALIAS,
            body={
                "size": 0,
                "query": {"bool": {"filter": clauses}},
                "aggs": {
                    "v": {
                        "multi_terms": {
                            "terms": [{"field": "version"}, {"field": "slot", "missing": "-"}],
                            "size": 50,
                            "order": {"first": "desc"},
                        },
                        "aggs": {"first": {"min": {"field": "@timestamp"}}},
                    }
                },
            },
            params={"ignore_unavailable": "true", "allow_no_indices": "true"},
        )
        buckets = response.get("aggregations", {}).get("v", {}).get("buckets", [])
        if len(buckets) < 2:  # one version only: nothing was deployed within the data
            return None
        value = buckets[0]["first"].get("value")
        return datetime.fromtimestamp(value / 1000, tz=UTC) if value else None

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except Exception:
            return False
