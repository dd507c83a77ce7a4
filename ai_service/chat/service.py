"""/ask logic: hybrid retrieval (BM25 + k-NN, fused), dedup by template, evidence-based answer.

No FastAPI here; the router adapts HTTP to this and the tests drive it with fakes.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from ai_service.chat.schemas import AskRequest, AskResponse, CacheInfo, Citation, Searched
from ai_service.search.opensearch_search import Hit, SearchFilters
from loglens.embedding.base import Embedder
from loglens.timewindow import Window, resolve_window

RRF_K = 60  # the usual reciprocal-rank-fusion constant


class SearchPort(Protocol):
    bm25_indices: tuple[str, ...]
    knn_indices: tuple[str, ...]

    async def bm25(self, text: str, filters: SearchFilters, k: int) -> list[Hit]: ...

    async def knn(self, vector: list[float], filters: SearchFilters, k: int) -> list[Hit]: ...


@dataclass(slots=True)
class Group:
    """Hits of one template: the best one represents it, the rest count."""

    key: str
    best: Hit
    score: float
    hits: list[Hit] = field(default_factory=list)


def rrf_fuse(rankings: Sequence[Sequence[Hit]], k: int = RRF_K) -> list[tuple[Hit, float]]:
    scores: dict[tuple[str, str], float] = {}
    first: dict[tuple[str, str], Hit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking):
            key = (hit.index, hit.id)
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank + 1)
            first.setdefault(key, hit)
    ordered = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    return [(first[key], score) for key, score in ordered]


def group_by_template(fused: Sequence[tuple[Hit, float]]) -> list[Group]:
    groups: OrderedDict[str, Group] = OrderedDict()
    for hit, score in fused:
        src = hit.source
        key = str(src.get("template_id") or src.get("template") or src.get("message") or hit.id)
        group = groups.get(key)
        if group is None:
            groups[key] = Group(key=key, best=hit, score=score, hits=[hit])
        else:
            group.hits.append(hit)
    return list(groups.values())


def _short(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _citation(hit: Hit) -> Citation:
    src = hit.source
    exc = src.get("exception") or {}
    excerpt = str(src.get("message", ""))
    if exc.get("class"):
        excerpt = f"{excerpt} — {exc.get('class')}: {exc.get('message', '')}"
    return Citation.model_validate(
        {
            "id": hit.id,
            "index": hit.index,
            "@timestamp": src.get("@timestamp"),
            "service": src.get("service"),
            "level": src.get("level"),
            "template_id": src.get("template_id"),
            "excerpt": _short(excerpt),
            "event": src,
        }
    )


def _span(hits: Sequence[Hit]) -> tuple[str | None, str | None]:
    stamps = sorted(str(h.source["@timestamp"]) for h in hits if h.source.get("@timestamp"))
    return (stamps[0], stamps[-1]) if stamps else (None, None)


def _describe_scope(window: Window, filters: SearchFilters) -> str:
    w = window.as_dict()
    scope = f"between {w['since']} and {w['until']}" if w["since"] else f"up to {w['until']}"
    if filters.services:
        scope += f" for {', '.join(filters.services)}"
    return scope


def evidence_answer(
    groups: Sequence[Group], citations: Sequence[Citation], window: Window, filters: SearchFilters
) -> str:
    """A deterministic answer built only from retrieved events; every line cites them as [n]."""
    scope = _describe_scope(window, filters)
    if not groups:
        return f"No matching events {scope}."
    number = {(c.index, c.id): i + 1 for i, c in enumerate(citations)}
    total = sum(len(g.hits) for g in groups)
    services = sorted(
        {str(h.source.get("service")) for g in groups for h in g.hits if h.source.get("service")}
    )
    lines = [
        f"Found {total} matching events in {len(groups)} distinct log templates {scope}"
        + (f", from {', '.join(services)}." if services else ".")
    ]
    for group in groups[:5]:
        src = group.best.source
        ref = number.get((group.best.index, group.best.id))
        first, last = _span(group.hits)
        label = src.get("template") or src.get("message") or ""
        when = (
            f", first {first}, last {last}" if first and first != last else (f", at {first}" if first else "")
        )
        lines.append(
            f'- [{src.get("level", "?")}] {src.get("service", "?")}: "{_short(str(label), 160)}" '
            f"×{len(group.hits)}{when} [{ref}]"
        )
    for group in groups:
        exc = group.best.source.get("exception") or {}
        if exc.get("class"):
            ref = number.get((group.best.index, group.best.id))
            chain = " ← caused by ".join(
                f"{c.get('class')}" + (f": {_short(str(c.get('message')), 80)}" if c.get("message") else "")
                for c in (exc.get("causes") or [{"class": exc.get("class"), "message": exc.get("message")}])
            )
            frame = exc.get("top_app_frame")
            lines.append(f"Top exception: {chain}" + (f" (at {frame})" if frame else "") + f" [{ref}]")
            break
    return "\n".join(lines)


class AskService:
    def __init__(self, search: SearchPort, embedder: Embedder, default_k: int = 10) -> None:
        self.search = search
        self.embedder = embedder
        self.default_k = default_k

    async def ask(self, request: AskRequest, now: datetime | None = None) -> AskResponse:
        now = now or datetime.now(UTC)
        window = resolve_window(request.since, request.until, now)
        filters = SearchFilters(
            since=window.since,
            until=window.until,
            services=[request.service] if request.service else [],
        )
        k = request.k or self.default_k
        fetch = max(k * 3, 30)  # over-fetch so template dedup still leaves k distinct groups
        vector = (await asyncio.to_thread(self.embedder.embed, [request.question]))[0].tolist()
        bm25_hits, knn_hits = await asyncio.gather(
            self.search.bm25(request.question, filters, fetch),
            self.search.knn(vector, filters, fetch),
        )
        groups = group_by_template(rrf_fuse([bm25_hits, knn_hits]))[:k]
        citations = [_citation(g.best) for g in groups]
        return AskResponse(
            answer=evidence_answer(groups, citations, window, filters),
            citations=citations,
            searched=Searched(
                indices=sorted(set(self.search.bm25_indices) | set(self.search.knn_indices)),
                window=window.as_dict(),
                filters=_filters_echo(filters),
                k=k,
            ),
            cache=CacheInfo(hit=False),
            model="evidence",
            degraded=False,
            generated_at=now,
        )


def _filters_echo(filters: SearchFilters) -> dict[str, Any]:
    return {"service": filters.services, "level": filters.levels, "trace_id": filters.trace_id}
