"""Analyses logic: detect, analyse once, reuse by fingerprint, notify once. No FastAPI here.

The store is reached through the :mod:`ai_service.analysis.store` Protocols, so the tests drive
this with in-memory fakes and again against the real OpenSearch.

Idempotency: an analysis' document id is its fingerprint, created with ``op_type=create``;
every later write is conditional (``if_seq_no``/``if_primary_term``) and re-read on conflict, so
two AI service processes (blue and green) or a restart never duplicate or lose an update.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from ai_service.analysis import metrics
from ai_service.analysis.builder import (
    Evidence,
    TemplateSummary,
    build_analysis,
    evidence_items,
    fingerprint_of,
    iso,
    render_text,
)
from ai_service.analysis.detection import (
    ALERT_LEVELS,
    DEFAULT_THRESHOLDS,
    Detection,
    Thresholds,
    deployment_label,
    detect_error_ratio,
    detect_new_templates,
    detect_spikes,
    merge_detections,
    novelty_reason,
    top_error_template,
)
from ai_service.analysis.schemas import (
    Analysis,
    AnalysisSummary,
    CreateAnalysis,
    Note,
    PatchAnalysis,
    TemplateView,
    TraceEvent,
    TraceView,
)
from ai_service.analysis.store import AnalysisRepo, Doc, EventFilter, EventQueries, StoredAnalysis
from ai_service.analysis.webhook import WebhookError, WebhookSender, slack_payload
from ai_service.llm import Answerer, LLMUnavailable
from loglens.errors import LogLensError
from loglens.events import parse_timestamp
from loglens.timewindow import ACCEPTED_FORMS, parse_point, resolve_window

log = structlog.get_logger("ai_service.analysis")

AUTO_KINDS = ("new_template", "spike", "error_ratio")
WORKER_STATE_ID = "analysis-worker"
WRITE_ATTEMPTS = 5


class AnalysisNotFound(LogLensError):
    """Nothing to show: no such analysis, trace or events."""


class InvalidInput(LogLensError, ValueError):
    """A request value a person has to fix."""


@dataclass(frozen=True, slots=True)
class AnalysisConfig:
    ttl_s: float = 3600.0  # re-analyse a reused analysis after this long
    lookback_s: float = 86400.0  # history a template is "new" against; deployments found in it
    active_window_s: float = 900.0  # a new template must occur within this
    series_window_s: float = 3600.0  # 1-minute buckets for spikes and error ratios
    ratio_window_s: float = 900.0  # recent window of the per-service error ratios in an analysis
    max_per_cycle: int = 20  # analyses ensured per detection cycle (bounded work)
    evidence_events: int = 10
    max_traces: int = 5
    related_margin_s: float = 600.0  # trace events looked up this long before the oldest evidence event
    related_limit: int = 200
    trace_limit: int = 500
    on_demand_span_s: float = 86400.0  # default window of POST /analyses {template_id}
    notify_window_s: float = 3600.0  # notifications are retried for analyses this young
    regrow_after_s: float = 60.0  # an analysis whose events doubled is rebuilt after this long


@dataclass(frozen=True, slots=True)
class Target:
    kind: str
    service: str
    template_id: str
    since: datetime | None
    until: datetime
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class CycleResult:
    detections: int
    created: int
    reused: int
    notified: int
    seconds: float


def _now() -> datetime:
    return datetime.now(UTC)


def _parse(ts: Any) -> datetime | None:
    if not ts:
        return None
    try:
        return parse_timestamp(str(ts))
    except (ValueError, TypeError):
        return None


def to_doc(analysis: Analysis, primary_service: str, meta: dict[str, Any]) -> Doc:
    """The stored document: indexed fields for filters + the API body as an unindexed object."""
    origins = [o.service for o in analysis.suspected_origin]
    return {
        "fingerprint": analysis.fingerprint,
        "kind": analysis.kind,
        "status": analysis.status,
        "title": analysis.title,
        "service": origins[0] if origins else primary_service,
        "primary_service": primary_service,
        "services": sorted({*analysis.where.services, *origins, primary_service}),
        "template_id": analysis.what.template_id,
        "template": analysis.what.template,
        "level": analysis.what.level,
        "version": analysis.where.versions[0] if analysis.where.versions else None,
        "slot": analysis.where.slots[0] if analysis.where.slots else None,
        "created_at": analysis.created_at,
        "updated_at": analysis.updated_at,
        "first_seen": analysis.what.first_seen,
        "last_seen": analysis.what.last_seen,
        "count": analysis.what.count,
        "analysed_at": meta.get("analysed_at"),
        "analysed_count": meta.get("analysed_count"),
        "resolved_at": meta.get("resolved_at"),
        "notified_at": meta.get("notified_at"),
        "body": analysis.dump(),
    }


def from_doc(doc: Doc) -> Analysis:
    return Analysis.model_validate(doc["body"])


def summary_of(doc: Doc) -> AnalysisSummary:
    a = from_doc(doc)
    return AnalysisSummary(
        id=a.id,
        kind=a.kind,
        status=a.status,
        title=a.title,
        service=doc.get("service"),
        count=a.what.count,
        first_seen=a.what.first_seen,
        last_seen=a.what.last_seen,
        updated_at=a.updated_at,
    )


def _meta(doc: Doc) -> dict[str, Any]:
    return {k: doc.get(k) for k in ("analysed_at", "analysed_count", "resolved_at", "notified_at")}


def refreshed(doc: Doc, summary: TemplateSummary | None, now: datetime) -> Doc | None:
    """The document with counts/last_seen brought up to date (reopened when a resolved one
    has events after its resolution), or None when nothing changed."""
    analysis = from_doc(doc)
    meta = _meta(doc)
    changed = False
    if summary is not None and summary.count:
        last = iso(summary.last_seen)
        if summary.count != analysis.reuse.seen or last != analysis.what.last_seen:
            analysis.reuse.seen = summary.count
            analysis.what.last_seen = last
            analysis.what.count = max(analysis.what.count, summary.count)
            changed = True
        resolved_at = _parse(meta.get("resolved_at"))
        if (
            analysis.status == "resolved"
            and summary.last_seen is not None
            and (resolved_at is None or summary.last_seen > resolved_at)
        ):
            analysis.status = "open"
            analysis.notes.append(
                Note(at=iso(now) or "", text=f"reopened: seen again at {last} after it was resolved")
            )
            meta["resolved_at"] = None
            metrics.REOPENED.inc()
            changed = True
    if not changed:
        return None
    analysis.updated_at = iso(now) or analysis.updated_at
    return to_doc(analysis, str(doc.get("primary_service") or doc.get("service")), meta)


class AnalysisService:
    def __init__(
        self,
        events: EventQueries,
        repo: AnalysisRepo,
        *,
        answerer: Answerer | None = None,
        webhook: WebhookSender | None = None,
        config: AnalysisConfig | None = None,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.events = events
        self.repo = repo
        self.answerer = answerer
        self.webhook = webhook
        self.config = config or AnalysisConfig()
        self.thresholds = thresholds
        self.clock = clock

    # ------------------------------------------------------------------ reads

    async def list_analyses(
        self, service: str | None, since: str | None, status: str | None, limit: int
    ) -> list[AnalysisSummary]:
        since_ts = self._point(since, "since") if since else None
        docs = await self.repo.search(service, since_ts, status, limit)
        return [summary_of(d) for d in docs]

    async def get(self, analysis_id: str) -> Analysis:
        stored = await self.repo.get(analysis_id)
        if stored is None:
            raise AnalysisNotFound(f"no analysis with id {analysis_id}")
        return from_doc(stored.doc)

    async def trace(self, trace_id: str) -> TraceView:
        events = await self.events.events(
            EventFilter(trace_ids=(trace_id,)), self.config.trace_limit, newest_first=False
        )
        if not events:
            raise AnalysisNotFound(f"no events with trace id {trace_id}")
        events.sort(key=lambda e: (str(e.get("@timestamp") or ""), str(e["id"])))
        return TraceView(
            trace_id=trace_id,
            services=list(dict.fromkeys(str(e.get("service")) for e in events if e.get("service"))),
            first=events[0].get("@timestamp"),
            last=events[-1].get("@timestamp"),
            events=[
                TraceEvent.model_validate(
                    {
                        "id": e["id"],
                        "@timestamp": e.get("@timestamp"),
                        "service": e.get("service"),
                        "level": e.get("level"),
                        "message": str(e.get("message", ""))[:1000],
                        "span_id": e.get("span_id"),
                        "exception_class": (e.get("exception") or {}).get("class"),
                        "template_id": e.get("template_id"),
                    }
                )
                for e in events
            ],
        )

    async def templates(self, new_since: str, service: str | None) -> list[TemplateView]:
        now = self.clock()
        lookback = now - timedelta(seconds=self.config.lookback_s)
        deployments = await self.events.deployments(lookback, now, [service] if service else [])
        if new_since.strip().lower() == "deploy":
            by_service: dict[str, list[datetime]] = {}
            for d in deployments:
                by_service.setdefault(d.service, []).append(d.first_seen)
            switches = [max(v) for v in by_service.values() if len(v) >= 2]
            if not switches:
                return []  # no deploy or slot switch within the lookback
            since = max(switches)
        else:
            since = self._point(new_since, "new_since")
        active = await self.events.active_templates(since, now, 500)
        pairs = await self.events.template_pairs(lookback, now, active, service)
        grouped: dict[str, list[Any]] = {}
        for p in pairs:
            grouped.setdefault(p.template_id, []).append(p)
        out: list[TemplateView] = []
        for template_id, stats in grouped.items():
            reasons = []
            for svc in dict.fromkeys(p.service for p in stats):
                own = [p for p in stats if p.service == svc]
                reason = novelty_reason(own, [d for d in deployments if d.service == svc], since)
                if reason:
                    reasons.append(reason)
            if not reasons:
                continue
            out.append(
                TemplateView(
                    template_id=template_id,
                    template=next((p.template for p in stats if p.template), None),
                    services=sorted({p.service for p in stats}),
                    levels=sorted({p.level for p in stats}),
                    first_seen=iso(min(p.first_seen for p in stats)),
                    last_seen=iso(max(p.last_seen for p in stats)),
                    count=sum(p.count for p in stats if p.last_seen >= since),
                    new_since=iso(since) or "",
                    reason=reasons[0],
                )
            )
        return sorted(out, key=lambda t: str(t.first_seen), reverse=True)

    # ------------------------------------------------------------------ writes

    async def create(self, request: CreateAnalysis) -> tuple[Analysis, bool]:
        now = self.clock()
        target = await self._target(request, now)
        return await self.ensure(target, now)

    async def patch(self, analysis_id: str, change: PatchAnalysis) -> Analysis:
        now = self.clock()

        def apply(doc: Doc) -> Doc:
            analysis = from_doc(doc)
            meta = _meta(doc)
            if change.status is not None and change.status != analysis.status:
                analysis.status = change.status
                meta["resolved_at"] = iso(now) if change.status == "resolved" else None
            if change.note:
                analysis.notes.append(Note(at=iso(now) or "", text=change.note))
            analysis.updated_at = iso(now) or analysis.updated_at
            return to_doc(analysis, str(doc.get("primary_service") or doc.get("service")), meta)

        doc = await self._update(analysis_id, apply)
        if doc is None:
            raise AnalysisNotFound(f"no analysis with id {analysis_id}")
        return from_doc(doc)

    async def ensure(self, target: Target, now: datetime) -> tuple[Analysis, bool]:
        """The analysis of ``target``: reused when its fingerprint is known (and fresh), else built.

        Returns (analysis, created).
        """
        flt = EventFilter(
            service=target.service, template_id=target.template_id, since=target.since, until=target.until
        )
        events = await self.events.events(flt, self.config.evidence_events)
        if not events:
            raise AnalysisNotFound(
                f"no events of template {target.template_id} in {target.service} "
                f"between {iso(target.since)} and {iso(target.until)}"
            )
        fp = fingerprint_of(target.service, target.template_id, events)
        stored = await self.repo.get(fp)
        if stored is not None and not self._stale(stored.doc, now):
            metrics.REUSED.labels(kind=str(stored.doc.get("kind"))).inc()
            return await self._refresh(fp, stored, now), False
        analysis = await self._analyse(target, fp, events, now)
        if stored is None:
            meta = {"analysed_at": iso(now), "analysed_count": analysis.what.count}
            if await self.repo.create(fp, to_doc(analysis, target.service, meta)):
                metrics.ANALYSES.labels(kind=analysis.kind).inc()
                log.info("analysis_created", id=fp, kind=analysis.kind, service=target.service)
                if analysis.kind in AUTO_KINDS:
                    await self.notify(fp, now)
                return analysis, True
            stored = await self.repo.get(fp)  # another process created it first: reuse theirs
            if stored is None:
                raise AnalysisNotFound(f"analysis {fp} vanished while being created")
            return await self._refresh(fp, stored, now), False

        def reanalysed(doc: Doc) -> Doc:
            previous = from_doc(doc)
            fresh = analysis.model_copy(
                update={
                    "kind": previous.kind,
                    "status": previous.status,
                    "created_at": previous.created_at,
                    "notes": previous.notes,
                    "reuse": previous.reuse.model_copy(update={"seen": analysis.what.count}),
                }
            )
            meta = {**_meta(doc), "analysed_at": iso(now), "analysed_count": analysis.what.count}
            return to_doc(fresh, target.service, meta)

        doc = await self._update(fp, reanalysed)
        return (from_doc(doc) if doc else analysis), False

    # ------------------------------------------------------------------ detection

    async def detect(self, now: datetime) -> list[Detection]:
        cfg, th = self.config, self.thresholds
        lookback = now - timedelta(seconds=cfg.lookback_s)
        active_since = now - timedelta(seconds=cfg.active_window_s)
        series_since = now - timedelta(seconds=cfg.series_window_s)
        active = await self.events.active_templates(active_since, now, 500)
        pairs = await self.events.template_pairs(lookback, now, active)
        deployments = await self.events.deployments(lookback, now, sorted({p.service for p in pairs}))
        found: list[Detection] = detect_new_templates(pairs, deployments, active_since, th)
        series = await self.events.template_series(series_since, now)
        found += detect_spikes(series, th)
        for det in detect_error_ratio(await self.events.service_series(series_since, now), th):
            top = top_error_template(series, det.service, th.recent_buckets)
            if top is not None:
                found.append(
                    replace(det, template_id=top.template_id, template=top.template, level=top.level)
                )
        for det in found:
            metrics.DETECTIONS.labels(kind=det.kind).inc()
        return merge_detections(found, cfg.max_per_cycle)

    async def run_cycle(self, now: datetime | None = None) -> CycleResult:
        """One bounded pass: detect, ensure an analysis per detection, send pending notifications."""
        started = time.perf_counter()
        now = now or self.clock()
        detections = await self.detect(now)
        created = reused = 0
        since = now - timedelta(seconds=self.config.series_window_s)
        for det in detections:
            if det.template_id is None:
                continue
            target = Target(det.kind, det.service, det.template_id, since, now, det.reason)
            try:
                _, was_created = await self.ensure(target, now)
            except AnalysisNotFound:
                continue
            created += was_created
            reused += not was_created
        notified = await self.notify_pending(now)
        seconds = time.perf_counter() - started
        result = CycleResult(len(detections), created, reused, notified, seconds)
        await self.repo.save_state(
            WORKER_STATE_ID,
            {"last_cycle_at": iso(now), "detections": len(detections), "created": created, "reused": reused},
        )
        return result

    # ------------------------------------------------------------------ notifications

    async def notify(self, analysis_id: str, now: datetime) -> bool:
        """Send the webhook for one analysis at most once across processes (claim, then send)."""
        if self.webhook is None:
            return False
        stored = await self.repo.get(analysis_id)
        if stored is None or stored.doc.get("notified_at"):
            return False
        stamp = iso(now)
        claimed = {**stored.doc, "notified_at": stamp}
        if not await self.repo.replace(analysis_id, claimed, stored.seq_no, stored.primary_term):
            return False  # someone else changed or claimed it; they (or the next cycle) handle it
        try:
            await self.webhook.send(slack_payload(from_doc(stored.doc)))
        except WebhookError as exc:
            metrics.WEBHOOK.labels(outcome="failed").inc()
            log.warning("analysis_webhook_failed", id=analysis_id, error=exc.message)

            def release(doc: Doc) -> Doc | None:
                return {**doc, "notified_at": None} if doc.get("notified_at") == stamp else None

            await self._update(analysis_id, release)  # a later cycle tries again
            return False
        metrics.WEBHOOK.labels(outcome="sent").inc()
        return True

    async def notify_pending(self, now: datetime) -> int:
        if self.webhook is None:
            return 0
        since = now - timedelta(seconds=self.config.notify_window_s)
        sent = 0
        for analysis_id in await self.repo.pending_notifications(AUTO_KINDS, since, 10):
            sent += await self.notify(analysis_id, now)
        return sent

    # ------------------------------------------------------------------ internals

    def _point(self, text: str, name: str) -> datetime:
        try:
            return parse_point(text, self.clock())
        except ValueError as exc:
            raise InvalidInput(f"{name}: cannot read {text!r}; use {ACCEPTED_FORMS}") from exc

    def _stale(self, doc: Doc, now: datetime) -> bool:
        """Re-analyse after the TTL, or early when an analysis made from thin evidence (detected
        while the fault was just starting, or mid-ingestion) has since at least doubled."""
        analysed = _parse(doc.get("analysed_at"))
        if analysed is None:
            return True
        age = (now - analysed).total_seconds()
        if age > self.config.ttl_s:
            return True
        analysed_count = int(doc.get("analysed_count") or 0)
        return age >= self.config.regrow_after_s and int(doc.get("count") or 0) >= max(2 * analysed_count, 2)

    async def _update(
        self, analysis_id: str, change: Callable[[Doc], Doc | None], first: StoredAnalysis | None = None
    ) -> Doc | None:
        """Read-modify-write with optimistic concurrency; returns the stored doc (None: not found)."""
        stored = first
        for _ in range(WRITE_ATTEMPTS):
            if stored is None:
                stored = await self.repo.get(analysis_id)
                if stored is None:
                    return None
            doc = change(stored.doc)
            if doc is None:
                return stored.doc
            if await self.repo.replace(analysis_id, doc, stored.seq_no, stored.primary_term):
                return doc
            stored = None  # lost a race: read again and re-apply
        raise LogLensError(f"analysis {analysis_id} kept changing; gave up after {WRITE_ATTEMPTS} tries")

    async def _refresh(self, fp: str, stored: StoredAnalysis, now: datetime) -> Analysis:
        doc = stored.doc
        template_id = doc.get("template_id")
        service = str(doc.get("primary_service") or doc.get("service"))
        since = _parse(from_doc(doc).reuse.since)
        summary = await self.events.summary(service, str(template_id), since, now) if template_id else None
        updated = await self._update(fp, lambda d: refreshed(d, summary, now), stored)
        return from_doc(updated or doc)

    async def _target(self, request: CreateAnalysis, now: datetime) -> Target:
        if request.trace_id:
            events = await self.events.events(
                EventFilter(trace_ids=(request.trace_id,)), self.config.trace_limit, newest_first=False
            )
            if not events:
                raise AnalysisNotFound(f"no events with trace id {request.trace_id}")
            alerts = [e for e in events if e.get("level") in ALERT_LEVELS and e.get("template_id")]
            errors = [e for e in alerts if e.get("level") != "WARN"]
            pick = min(errors or alerts or events, key=lambda e: str(e.get("@timestamp") or ""))
            if not pick.get("template_id"):
                raise AnalysisNotFound(f"trace {request.trace_id} has no templated events to analyse")
            first = _parse(events[0].get("@timestamp")) or now
            last = _parse(events[-1].get("@timestamp")) or now
            return Target(
                "on_demand",
                str(pick["service"]),
                str(pick["template_id"]),
                first - timedelta(hours=1),
                min(now, last + timedelta(hours=1)),
                f"asked for trace {request.trace_id}",
            )
        span = timedelta(seconds=self.config.on_demand_span_s)
        try:
            window = resolve_window(request.since, request.until, now, default_span=span)
        except ValueError as exc:
            raise InvalidInput(f"{exc}; use {ACCEPTED_FORMS}") from exc
        since = window.since or now - span
        if request.template_id:
            services = await self.events.top_services(request.template_id, since, window.until)
            if not services:
                raise AnalysisNotFound(
                    f"no events of template {request.template_id} "
                    f"between {iso(since)} and {iso(window.until)}"
                )
            return Target("on_demand", services[0], request.template_id, since, window.until)
        assert request.service is not None  # the request model guarantees one target
        template_id = await self.events.top_template(request.service, since, window.until)
        if template_id is None:
            raise AnalysisNotFound(
                f"no WARN/ERROR events of {request.service} between {iso(since)} and {iso(window.until)}"
            )
        return Target("on_demand", request.service, template_id, since, window.until)

    async def _analyse(self, target: Target, fp: str, events: list[Doc], now: datetime) -> Analysis:
        summary = await self.events.summary(target.service, target.template_id, target.since, target.until)
        if summary is None:
            summary = _summary_from(target, events)
        traced = [e for e in events if e.get("trace_id")]
        trace_ids = tuple(dict.fromkeys(str(e["trace_id"]) for e in traced))[: self.config.max_traces]
        related = (
            await self.events.events(
                self._related_filter(
                    trace_ids, [e for e in traced if str(e["trace_id"]) in trace_ids], target
                ),
                self.config.related_limit,
                newest_first=False,
            )
            if trace_ids
            else []
        )
        lookback = now - timedelta(seconds=self.config.lookback_s)
        deployments = await self.events.deployments(lookback, target.until, [target.service])
        services = sorted({str(e["service"]) for e in related if e.get("service")} | {target.service})
        ratio_until = summary.last_seen or target.until
        ratio_since = max(
            summary.first_seen or ratio_until, ratio_until - timedelta(seconds=self.config.ratio_window_s)
        )
        if ratio_since >= ratio_until:
            ratio_since = ratio_until - timedelta(minutes=1)
        ratios = await self.events.error_ratios(services, ratio_since, ratio_until)
        evidence = Evidence(
            kind=target.kind,
            summary=summary,
            window_since=target.since,
            window_until=target.until,
            events=events,
            related=related,
            deployments=[d for d in deployments if d.service == target.service],
            error_ratios=ratios,
            reason=target.reason,
        )
        analysis = build_analysis(evidence, fp, now)
        if target.reason:  # why the detector (or the caller) picked it, on the primary service
            for origin in analysis.suspected_origin:
                if origin.service == target.service:
                    origin.reasons.insert(0, target.reason)
        return await self._narrate(analysis, [*events, *related])

    def _related_filter(
        self, trace_ids: tuple[str, ...], traced: Sequence[Doc], target: Target
    ) -> EventFilter:
        """Events of the evidence's traces, from ``related_margin_s`` before the oldest of those
        evidence events (callees fail *before* the caller logs: a 30 s pool timeout, a 10 s read
        timeout ...) up to the analysis window's end (a cycle never sees events after its now)."""
        stamps = [t for t in (_parse(e.get("@timestamp")) for e in traced) if t]
        margin = timedelta(seconds=self.config.related_margin_s)
        since = min(stamps) - margin if stamps else None
        return EventFilter(trace_ids=trace_ids, since=since, until=target.until)

    async def _narrate(self, analysis: Analysis, events: Sequence[Doc]) -> Analysis:
        """An LLM narrative from the evidence only; any failure leaves the structured analysis as is."""
        if self.answerer is None:
            return analysis
        question = f"What is the most likely root cause of: {analysis.title}? What should on-call do?"
        scope = f"between {analysis.what.window.since} and {analysis.what.window.until}"
        try:
            answer = await self.answerer.answer(
                question, scope, evidence_items(events), render_text(analysis)
            )
        except LLMUnavailable as exc:
            metrics.NARRATIVES.labels(outcome=exc.reason).inc()
            return analysis
        except Exception as exc:  # a narrative is optional: never fail the analysis for it
            metrics.NARRATIVES.labels(outcome="error").inc()
            log.warning("analysis_narrative_failed", error=str(exc)[:200])
            return analysis
        metrics.NARRATIVES.labels(outcome="ok").inc()
        return analysis.model_copy(update={"narrative": answer.answer, "narrative_model": answer.model})


def _summary_from(target: Target, events: Sequence[Doc]) -> TemplateSummary:
    stamps = sorted(t for t in (_parse(e.get("@timestamp")) for e in events) if t)
    return TemplateSummary(
        service=target.service,
        template_id=target.template_id,
        template=next((str(e["template"]) for e in events if e.get("template")), None),
        level=next((str(e["level"]) for e in events if e.get("level")), None),
        count=len(events),
        first_seen=stamps[0] if stamps else None,
        last_seen=stamps[-1] if stamps else None,
        hosts=sorted({str(e["host"]) for e in events if e.get("host")}),
        versions=sorted({str(e["version"]) for e in events if e.get("version")}),
        slots=sorted({str(e["slot"]) for e in events if e.get("slot")}),
        services=[target.service],
        by_pair={},
    )


__all__ = [
    "AUTO_KINDS",
    "AnalysisConfig",
    "AnalysisNotFound",
    "AnalysisService",
    "CycleResult",
    "InvalidInput",
    "Target",
    "deployment_label",
    "from_doc",
    "refreshed",
    "to_doc",
]
