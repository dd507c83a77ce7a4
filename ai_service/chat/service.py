"""/ask logic: hybrid retrieval (BM25 + k-NN, fused), dedup by template, evidence-based answer.

No FastAPI here; the router adapts HTTP to this and the tests drive it with fakes.
"""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from ai_service.cache.qa_cache import QACache
from ai_service.cache.scope import Scope as CacheScope
from ai_service.chat.schemas import AskRequest, AskResponse, CacheInfo, Citation, Searched
from ai_service.chat.understanding import QuestionScope, understand
from ai_service.llm import Answerer, EvidenceItem, LLMUnavailable
from ai_service.search.opensearch_search import Hit, SearchFilters, TemplateMatch, TemplateStats
from loglens.embedding.base import Embedder
from loglens.embedding.cache import CachedEmbedder
from loglens.timewindow import Window, resolve_window


class SearchPort(Protocol):
    bm25_indices: tuple[str, ...]
    knn_indices: tuple[str, ...]

    async def bm25(self, text: str, filters: SearchFilters, k: int) -> list[Hit]: ...

    async def knn(self, vector: list[float], filters: SearchFilters, k: int) -> list[Hit]: ...

    async def template_stats(
        self, template_ids: list[str], filters: SearchFilters
    ) -> dict[str, TemplateStats]: ...

    async def template_matches(
        self, vector: list[float], filters: SearchFilters, k: int
    ) -> list[TemplateMatch]: ...

    async def examples(
        self, template_ids: list[str], question: str, filters: SearchFilters
    ) -> dict[str, Hit]: ...

    async def services(self) -> list[str]: ...

    async def last_deploy(self, services: list[str]) -> datetime | None: ...


@dataclass(slots=True)
class Group:
    """Hits of one template: the best one represents it, the rest count."""

    key: str
    best: Hit
    score: float
    hits: list[Hit] = field(default_factory=list)
    # Other lines of the template that BM25 ranked near the top and whose variable parts the
    # question names (a second block id, another of the asked user's logins): cited too.
    extra: list[Hit] = field(default_factory=list)

    def cited(self) -> list[Hit]:
        return [self.best, *self.extra]


def cited_hits(groups: Sequence[Group], limit: int) -> list[Hit]:
    out: list[Hit] = []
    for group in groups:
        for hit in group.cited():
            if len(out) < limit:
                out.append(hit)
    return out


@dataclass(slots=True)
class FusedTemplate:
    key: str
    score: float
    best: Hit | None  # None: BM25 did not find it; the line that best matches is fetched
    hits: list[Hit]


def template_key(hit: Hit) -> str:
    src = hit.source
    return str(src.get("template_id") or src.get("template") or src.get("message") or hit.id)


# Weight of the template catalog's k-NN similarity against BM25 in the fused template score;
# chosen on the LogQA train split (docs/benchmarks.md, `logqa`): 0.5–1.0 score alike, 3 is worse.
TEMPLATE_WEIGHT = 1.0


def hybrid_groups(
    bm25_hits: Sequence[Hit],
    knn_hits: Sequence[Hit],
    templates: Sequence[TemplateMatch] = (),
    template_weight: float = TEMPLATE_WEIGHT,
) -> list[FusedTemplate]:
    """Fuse at the template level by score, cite the most specific line of each template.

    Event vectors embed the template (variables masked), so k-NN tells *which kind* of event
    matches the question while BM25 tells *which line* (ids, hosts, numbers). A template scores

        its best line's BM25 score / the top BM25 score
        + ``template_weight`` × its k-NN similarity in the template catalog, min-max scaled
          over the templates returned (1 = the nearest, 0 = the farthest)

    A convex combination of normalised scores, not reciprocal rank fusion: ranks throw away how
    far ahead the first BM25 line is, so the one line naming the asked id (often twice the next
    line's score) got the vote of a line first by a hair and lost first place to any template the
    catalog liked better (LogQA HDFS: hybrid R@1 0.79 against BM25's 0.89). Each template is
    represented by its best BM25 line; templates BM25 did not find come back with ``best`` unset
    for the caller to fetch the template's line that best matches the question. k-NN event hits
    are copies of their template's vector, so which of its lines they return is arbitrary: they
    add no score, and their lines are only a last resort (``hits``) when that fetch finds none.
    """
    scores: dict[str, float] = {}
    members: OrderedDict[str, list[Hit]] = OrderedDict()
    bm25_best: dict[str, Hit] = {}

    top = bm25_hits[0].score if bm25_hits else 0.0
    for hit in bm25_hits:
        key = template_key(hit)
        if key not in bm25_best:
            bm25_best[key] = hit
            scores[key] = hit.score / top if top > 0 else 1.0
        members.setdefault(key, []).append(hit)
    for hit in knn_hits:
        key = template_key(hit)
        scores.setdefault(key, 0.0)
        if hit not in members.setdefault(key, []):
            members[key].append(hit)
    if templates:
        low = min(m.score for m in templates)
        spread = max(m.score for m in templates) - low
        for match in templates:
            similarity = (match.score - low) / spread if spread > 0 else 1.0
            scores[match.template_id] = scores.get(match.template_id, 0.0) + template_weight * similarity
    return [
        FusedTemplate(key, score, bm25_best.get(key), members.get(key, []))
        for key, score in sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    ]


EXTRA_BM25_RANK = 10  # a second line of a template is cited only if BM25 ranked it this high
EXTRA_PER_TEMPLATE = 2

# A token keeps dotted/dashed values whole ("28.0", "10.251.9.2", "blk_-42"), so the "0" of
# "28.0" never matches another line's "uid=0"; host:port and paths also give their parts.
_TOKEN = re.compile(r"\w+(?:[.:\-/@]\w+)*")
_PARTS = re.compile(r"[:/@]")


def _words(text: str) -> set[str]:
    tokens = _TOKEN.findall(text.lower())
    return set(tokens) | {part for token in tokens for part in _PARTS.split(token) if part}


def variable_words(hit: Hit) -> set[str]:
    """Words of the line's variable parts (ids, hosts, users, numbers): its ``params`` when the
    consumer stored them, else its message; minus its template's own words, so a value that is
    also a common word of the line ("invalid user user") does not count as named."""
    src = hit.source
    params = src.get("params")
    if isinstance(params, list) and params:
        found = {w for p in params for w in _words(str(p))}
    elif src.get("template"):
        found = _words(str(src.get("message", "")))
    else:
        return set()  # no template: nothing tells the variable parts apart
    return found - _words(str(src.get("template") or ""))


def _identities(hit: Hit) -> set[tuple[str, ...]]:
    """What makes two hits the same line for a reader: the same text, or the same Kafka record
    (the consumer's event and Logstash's raw copy of it)."""
    src = hit.source
    out: set[tuple[str, ...]] = {("message", str(src.get("message", "")))}
    kafka = src.get("kafka") or {}
    if isinstance(kafka, dict) and kafka.get("topic") is not None and kafka.get("offset") is not None:
        out.add(("kafka", str(kafka["topic"]), str(kafka.get("partition")), str(kafka["offset"])))
    return out


def finish_groups(
    fused: Sequence[FusedTemplate],
    examples: dict[str, Hit],
    limit: int,
    bm25_hits: Sequence[Hit] = (),
    question: str = "",
) -> list[Group]:
    """Keep the top templates that have a line to cite (BM25 line, fetched example, k-NN line).

    A line already cited (same text or same Kafka record) is not cited again, so a template whose
    line repeats one above is dropped. A template cites more of its lines only when the question
    names something in their variable parts (a user, a host, a block id) and BM25 ranked them near
    the top: then each such line is a different answer; without that they are the same event
    again and would only push other templates out of the citations.
    """
    top_bm25 = {id(h) for h in bm25_hits[:EXTRA_BM25_RANK]}
    asked = _words(question)
    seen: set[tuple[str, ...]] = set()
    groups: list[Group] = []
    for item in fused:
        best = item.best or examples.get(item.key) or (item.hits[0] if item.hits else None)
        if best is None:
            continue
        same = _identities(best)
        if same & seen:
            continue
        seen |= same
        extra: list[Hit] = []
        for hit in item.hits:
            if len(extra) >= EXTRA_PER_TEMPLATE:
                break
            if hit is best or id(hit) not in top_bm25 or not variable_words(hit) & asked:
                continue
            same = _identities(hit)
            if same & seen:
                continue
            seen |= same
            extra.append(hit)
        groups.append(Group(key=item.key, best=best, score=item.score, hits=item.hits or [best], extra=extra))
        if len(groups) >= limit:
            break
    return groups


def _short(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def citation_for(hit: Hit) -> Citation:
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
    groups: Sequence[Group],
    citations: Sequence[Citation],
    window: Window,
    filters: SearchFilters,
    stats: dict[str, TemplateStats] | None = None,
) -> str:
    """A deterministic answer built only from retrieved events; every line cites them as [n].

    Counts, first/last seen and services come from an aggregation over the whole window when
    ``stats`` has the template; otherwise from the retrieved hits alone (then marked "≥").
    """
    scope = _describe_scope(window, filters)
    if not groups:
        return f"No matching events {scope}."
    stats = stats or {}
    number = {(c.index, c.id): i + 1 for i, c in enumerate(citations)}

    def facts(group: Group) -> tuple[int, str, str | None, str | None, list[str]]:
        st = stats.get(group.key)
        if st is not None and st.count:
            return st.count, "", st.first_seen, st.last_seen, st.services
        first, last = _span(group.hits)
        services = sorted({str(h.source["service"]) for h in group.hits if h.source.get("service")})
        return len(group.hits), "≥", first, last, services

    known = {g.key: facts(g) for g in groups}
    all_services = sorted({svc for f in known.values() for svc in f[4]})
    total = sum(f[0] for f in known.values())
    lines = [
        f"{total} matching events in {len(groups)} distinct log templates {scope}"
        + (f", from {', '.join(all_services)}." if all_services else "."),
    ]
    best = groups[0].best.source
    when_where = f"{best.get('@timestamp', '')} {best.get('service', '')} {best.get('level', '')}"
    lines.append(f'Most relevant event: {when_where} "{_short(str(best.get("message", "")), 300)}" [1]')
    for group in groups[:6]:
        src = group.best.source
        ref = number.get((group.best.index, group.best.id))
        count, approx, first, last, services = known[group.key]
        label = src.get("template") or src.get("message") or ""
        when = (
            f", first {first}, last {last}" if first and first != last else (f", at {first}" if first else "")
        )
        where = ", ".join(services) or str(src.get("service", "?"))
        lines.append(
            f'- [{src.get("level", "?")}] {where}: "{_short(str(label), 160)}" ×{approx}{count}{when} [{ref}]'
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


class ConversationMemory:
    """The last resolved scope per conversation, so follow-ups keep it (bounded, expiring)."""

    def __init__(self, ttl: timedelta = timedelta(hours=2), max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._scopes: OrderedDict[str, tuple[QuestionScope, datetime]] = OrderedDict()

    def get(self, conversation_id: str | None, now: datetime) -> QuestionScope | None:
        if not conversation_id:
            return None
        entry = self._scopes.get(conversation_id)
        if entry is None or now - entry[1] > self.ttl:
            return None
        return entry[0]

    def put(self, conversation_id: str | None, scope: QuestionScope, now: datetime) -> None:
        if not conversation_id:
            return
        self._scopes[conversation_id] = (scope, now)
        self._scopes.move_to_end(conversation_id)
        while len(self._scopes) > self.max_entries:
            self._scopes.popitem(last=False)


DEFAULT_SPAN = timedelta(hours=24)


async def retrieve(
    search: SearchPort, question: str, vector: list[float], filters: SearchFilters, k: int, fetch: int
) -> list[Group]:
    """Hybrid retrieval: BM25 over events and raw logs, k-NN over events and templates, fused."""
    groups, _ = await retrieve_with_stats(search, question, vector, filters, k, fetch, with_stats=False)
    return groups


async def retrieve_with_stats(
    search: SearchPort,
    question: str,
    vector: list[float],
    filters: SearchFilters,
    k: int,
    fetch: int,
    with_stats: bool = True,
) -> tuple[list[Group], dict[str, TemplateStats]]:
    """:func:`retrieve` plus per-template stats, fetched alongside the example lines (one round
    trip instead of two after the fused ranking is known)."""
    bm25_hits, knn_hits, templates = await asyncio.gather(
        search.bm25(question, filters, fetch),
        search.knn(vector, filters, fetch),
        search.template_matches(vector, filters, k * 2),
    )
    fused = hybrid_groups(bm25_hits, knn_hits, templates)
    candidates = fused[: k * 2]
    missing = [f.key for f in candidates if f.best is None]

    async def no_examples() -> dict[str, Hit]:
        return {}

    async def no_stats() -> dict[str, TemplateStats]:
        return {}

    examples, stats = await asyncio.gather(
        search.examples(missing, question, filters) if missing else no_examples(),
        search.template_stats([f.key for f in candidates], filters)
        if with_stats and candidates
        else no_stats(),
    )
    return finish_groups(fused, examples, k, bm25_hits, question), stats


class AskService:
    def __init__(
        self,
        search: SearchPort,
        embedder: Embedder,
        default_k: int = 10,
        default_services: Sequence[str] = (),
        cache: QACache | None = None,
        answerer: Answerer | None = None,
    ) -> None:
        self.search = search
        # Questions repeat (the UI's retry, the cache's hit path): the same text is embedded once.
        self.embedder: Embedder = (
            embedder if isinstance(embedder, CachedEmbedder) else CachedEmbedder(embedder, 10_000)
        )
        self.cache = cache
        self.answerer = answerer
        self.default_k = default_k
        self.default_services = list(default_services)
        self.conversations = ConversationMemory()
        self._known: tuple[list[str], datetime] | None = None

    async def known_services(self, now: datetime) -> list[str]:
        """Service names seen in the indices (cached a minute) plus the configured ones."""
        if self._known is None or now - self._known[1] > timedelta(seconds=60):
            try:
                found = await self.search.services()
            except Exception:
                found = self._known[0] if self._known else []
            self._known = (sorted(set(found) | set(self.default_services)), now)
        return self._known[0]

    async def resolve(
        self, request: AskRequest, now: datetime
    ) -> tuple[QuestionScope, Window, SearchFilters]:
        scope = understand(request.question, await self.known_services(now), now)
        previous = self.conversations.get(request.conversation_id, now)
        if previous is not None:
            scope = scope.merged_with(previous)
        # Explicit request fields win over what the question says.
        if request.service:
            scope = replace(scope, services=(request.service,))
        if request.since or request.until:
            window = resolve_window(request.since, request.until, now)
        elif scope.since_deploy:
            deployed = await self.search.last_deploy(list(scope.services))
            window = Window(deployed or now - DEFAULT_SPAN, now)
            scope = replace(
                scope,
                notes=(
                    *scope.notes,
                    f"last deploy at {deployed.isoformat()}"
                    if deployed
                    else "no deploy found; used the last 24 hours",
                ),
            )
        elif scope.since is not None or scope.until is not None:
            window = Window(scope.since, scope.until or now)
        elif scope.trace_ids:
            window = Window(None, now)  # a trace is found wherever it is in time
        else:
            window = Window(now - DEFAULT_SPAN, now)
        self.conversations.put(request.conversation_id, scope, now)
        filters = SearchFilters(
            since=window.since,
            until=window.until,
            services=list(scope.services),
            levels=[] if scope.negated else list(scope.levels),
            trace_id=scope.trace_ids[0] if scope.trace_ids else None,
        )
        return scope, window, filters

    def cache_scope(self, request: AskRequest, scope: QuestionScope, window: Window) -> CacheScope:
        """Gate 2 compares this exactly. A follow-up also carries its conversation, so it never
        matches another conversation's question that happens to resolve alike."""
        return CacheScope(
            services=scope.services,
            levels=scope.levels,
            exceptions=scope.exceptions,
            trace_ids=scope.trace_ids,
            window_since=window.since,
            window_until=window.until,
            conversation_id=request.conversation_id if scope.follow_up else None,
            negated=scope.negated,
            k=request.k,
        )

    async def ask(self, request: AskRequest, now: datetime | None = None) -> AskResponse:
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        scope, window, filters = await self.resolve(request, now)
        k = request.k or self.default_k
        fetch = max(k * 3, 30)  # over-fetch so template dedup still leaves k distinct groups
        vector = (await asyncio.to_thread(self.embedder.embed, [request.question]))[0].tolist()
        cache_scope = self.cache_scope(request, scope, window)
        if self.cache is not None:
            found = await self.cache.lookup(request.question, vector, cache_scope, now)
            if found.hit and found.response is not None:
                return AskResponse.model_validate(found.response)
        response = await self.answer(request, vector, scope, window, filters, k, fetch, now)
        if self.cache is not None:
            await self.cache.store(
                request.question, vector, cache_scope, response.model_dump(mode="json", by_alias=True), now
            )
        return response

    async def answer(
        self,
        request: AskRequest,
        vector: list[float],
        scope: QuestionScope,
        window: Window,
        filters: SearchFilters,
        k: int,
        fetch: int,
        now: datetime,
    ) -> AskResponse:
        groups, stats = await retrieve_with_stats(self.search, request.question, vector, filters, k, fetch)
        citations = [citation_for(h) for h in cited_hits(groups, k)]
        response = AskResponse(
            answer=evidence_answer(groups, citations, window, filters, stats),
            citations=citations,
            searched=Searched(
                indices=sorted(set(self.search.bm25_indices) | set(self.search.knn_indices)),
                window=window.as_dict(),
                filters=_filters_echo(filters, scope),
                k=k,
            ),
            cache=CacheInfo(hit=False),
            model="evidence",
            degraded=False,
            generated_at=now,
        )
        if self.answerer is None or not citations:
            return response  # no LLM configured, or nothing to answer from: the evidence says so
        return await self._llm_answer(request.question, response, window, filters, stats)

    async def _llm_answer(
        self,
        question: str,
        response: AskResponse,
        window: Window,
        filters: SearchFilters,
        stats: dict[str, TemplateStats],
    ) -> AskResponse:
        """The LLM writes the answer from the same evidence; any failure keeps the evidence answer."""
        assert self.answerer is not None
        evidence = [evidence_item(c, stats) for c in response.citations]
        scope = _describe_scope(window, filters)
        try:
            llm = await self.answerer.answer(question, scope, evidence, response.answer)
        except LLMUnavailable as exc:
            return response.model_copy(update={"degraded": True, "degraded_reason": exc.reason})
        number = {c.id: i + 1 for i, c in enumerate(response.citations)}
        text = _ID_REF.sub(
            lambda m: f"[{number[m.group(1)]}]" if m.group(1) in number else m.group(0), llm.answer
        )
        return response.model_copy(
            update={
                "answer": text,
                "model": llm.model,
                "flagged": llm.flagged,
                "dropped_citations": llm.dropped_citations,
                "tokens": {"prompt": llm.prompt_tokens, "completion": llm.completion_tokens},
            }
        )


_ID_REF = re.compile(r"\[([^\[\]\s]+)\]")


def evidence_item(citation: Citation, stats: dict[str, TemplateStats]) -> EvidenceItem:
    """What the LLM sees of one cited event: the line, how often its template occurred, the exception."""
    ev = citation.event
    parts = [str(ev.get("message", ""))]
    st = stats.get(str(citation.template_id)) if citation.template_id else None
    if st is not None:
        parts.append(f"(this kind of event: {st.count}x between {st.first_seen} and {st.last_seen})")
    exc = ev.get("exception") or {}
    if exc.get("class"):
        chain = " <- caused by ".join(
            f"{c.get('class')}: {c.get('message', '')}" for c in exc.get("causes") or []
        )
        parts.append(f"exception: {chain or exc.get('class')}")
        frames = exc.get("frames") or []
        if frames:
            parts.append("at " + "; ".join(frames[:4]))
    return EvidenceItem(
        id=citation.id,
        timestamp=str(citation.timestamp or ""),
        service=str(citation.service or ""),
        level=str(citation.level or ""),
        text="\n".join(parts),
    )


def _filters_echo(filters: SearchFilters, scope: QuestionScope | None = None) -> dict[str, Any]:
    echo: dict[str, Any] = {
        "service": filters.services,
        "level": filters.levels,
        "trace_id": filters.trace_id,
    }
    if scope is not None:
        echo["exceptions"] = list(scope.exceptions)
        echo["time_phrase"] = scope.time_phrase
        echo["negated"] = scope.negated
        if scope.notes:
            echo["notes"] = list(scope.notes)
    return echo
