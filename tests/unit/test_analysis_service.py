"""The analyses service with in-memory fakes: reuse by fingerprint, reopen, TTL, idempotent
creation across two processes, webhook sent once (to a real local HTTP server), LLM optional."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
import pytest

from ai_service.analysis.builder import TemplateSummary
from ai_service.analysis.detection import Deployment, PairStat, Series, ServiceSeries
from ai_service.analysis.schemas import CreateAnalysis, PatchAnalysis
from ai_service.analysis.service import AnalysisConfig, AnalysisNotFound, AnalysisService, Target
from ai_service.analysis.store import Doc, EventFilter, StoredAnalysis
from ai_service.analysis.webhook import HttpWebhook
from ai_service.llm import EvidenceItem, LLMAnswer, LLMUnavailable
from loglens.events import parse_timestamp

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
NPE = {
    "class": "java.lang.NullPointerException",
    "causes": [{"class": "java.lang.NullPointerException", "message": "coupon is null"}],
    "frames": ["com.acme.order.service.PricingService.applyDiscount(PricingService.java:64)"],
    "top_app_frame": "com.acme.order.service.PricingService.applyDiscount",
}


def npe_event(i: int, at: datetime, version: str = "1.4.3") -> dict[str, Any]:
    return {
        "id": f"t-0-{i}",
        "@timestamp": at.isoformat().replace("+00:00", "Z"),
        "service": "order",
        "level": "ERROR",
        "message": "Request processing failed: NullPointerException",
        "template": "Request processing failed: NullPointerException",
        "template_id": "npe",
        "trace_id": f"trace{i}",
        "version": version,
        "slot": "green",
        "exception": NPE,
    }


@dataclass
class FakeEvents:
    docs: list[dict[str, Any]] = field(default_factory=list)
    pairs: list[PairStat] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)

    def _match(self, e: dict[str, Any], flt: EventFilter) -> bool:
        t = parse_timestamp(e["@timestamp"])
        return (
            (flt.service is None or e["service"] == flt.service)
            and (flt.template_id is None or e.get("template_id") == flt.template_id)
            and (not flt.trace_ids or e.get("trace_id") in flt.trace_ids)
            and (flt.since is None or t >= flt.since)
            and (flt.until is None or t <= flt.until)
        )

    async def active_templates(self, since: datetime, until: datetime, limit: int) -> list[str]:
        return sorted({p.template_id for p in self.pairs})

    async def template_pairs(
        self, since: datetime, until: datetime, template_ids: Sequence[str], service: str | None = None
    ) -> list[PairStat]:
        return [p for p in self.pairs if p.template_id in template_ids]

    async def deployments(
        self, since: datetime, until: datetime, services: Sequence[str] = ()
    ) -> list[Deployment]:
        return [
            Deployment("order", "1.4.2", "blue", NOW - timedelta(days=1), NOW),
            Deployment("order", "1.4.3", "green", NOW - timedelta(minutes=30), NOW),
        ]

    async def template_series(self, since: datetime, until: datetime) -> list[Series]:
        return self.series

    async def service_series(self, since: datetime, until: datetime) -> list[ServiceSeries]:
        return []

    async def summary(
        self, service: str, template_id: str, since: datetime | None, until: datetime
    ) -> TemplateSummary | None:
        hits = [
            e
            for e in self.docs
            if self._match(e, EventFilter(service, template_id, since=since, until=until))
        ]
        if not hits:
            return None
        stamps = sorted(parse_timestamp(e["@timestamp"]) for e in hits)
        pairs: dict[tuple[str | None, str | None], int] = {}
        for e in hits:
            pairs[(e["version"], e["slot"])] = pairs.get((e["version"], e["slot"]), 0) + 1
        return TemplateSummary(
            service,
            template_id,
            hits[0]["template"],
            "ERROR",
            len(hits),
            stamps[0],
            stamps[-1],
            versions=sorted({e["version"] for e in hits}),
            slots=["green"],
            services=[service],
            by_pair=pairs,
        )

    async def events(self, flt: EventFilter, size: int, newest_first: bool = True) -> list[Doc]:
        hits = sorted(
            (e for e in self.docs if self._match(e, flt)), key=lambda e: e["@timestamp"], reverse=newest_first
        )
        return hits[:size]

    async def error_ratios(
        self, services: Sequence[str], since: datetime, until: datetime
    ) -> dict[str, tuple[float, float]]:
        return {}

    async def top_services(self, template_id: str, since: datetime | None, until: datetime) -> list[str]:
        return sorted({e["service"] for e in self.docs if e.get("template_id") == template_id})

    async def top_template(self, service: str, since: datetime, until: datetime) -> str | None:
        return next((e["template_id"] for e in self.docs if e["service"] == service), None)


class FakeRepo:
    """Dict-backed log-analyses with OpenSearch's create/if_seq_no semantics."""

    def __init__(self) -> None:
        self.docs: dict[str, tuple[Doc, int]] = {}
        self.seq = 0
        self.state: dict[str, Any] = {}

    async def get(self, analysis_id: str) -> StoredAnalysis | None:
        found = self.docs.get(analysis_id)
        return StoredAnalysis(json.loads(json.dumps(found[0])), found[1], 1) if found else None

    async def create(self, analysis_id: str, doc: Doc) -> bool:
        if analysis_id in self.docs:
            return False
        self.seq += 1
        self.docs[analysis_id] = (doc, self.seq)
        return True

    async def replace(self, analysis_id: str, doc: Doc, seq_no: int, primary_term: int) -> bool:
        if analysis_id not in self.docs or self.docs[analysis_id][1] != seq_no:
            return False
        self.seq += 1
        self.docs[analysis_id] = (doc, self.seq)
        return True

    async def search(
        self, service: str | None, since: datetime | None, status: str | None, limit: int
    ) -> list[Doc]:
        docs = [d for d, _ in self.docs.values() if status is None or d["status"] == status]
        return sorted(docs, key=lambda d: d["updated_at"], reverse=True)[:limit]

    async def pending_notifications(
        self, kinds: Sequence[str], created_since: datetime, limit: int
    ) -> list[str]:
        return [i for i, (d, _) in self.docs.items() if d["kind"] in kinds and not d.get("notified_at")][
            :limit
        ]

    async def save_state(self, name: str, state: dict[str, Any]) -> None:
        self.state[name] = state


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make(events: FakeEvents, repo: FakeRepo, clock: Clock, **kw: Any) -> AnalysisService:
    return AnalysisService(events, repo, clock=clock, config=AnalysisConfig(ttl_s=3600), **kw)


def npe_world(n: int = 5) -> FakeEvents:
    docs = [npe_event(i, NOW - timedelta(minutes=10 - i)) for i in range(n)]
    pairs = [
        PairStat(
            "order",
            "npe",
            "1.4.3",
            "green",
            n,
            NOW - timedelta(minutes=10),
            NOW - timedelta(minutes=6),
            "ERROR",
            "Request processing failed: NullPointerException",
        )
    ]
    return FakeEvents(docs, pairs)


TARGET = Target("new_template", "order", "npe", NOW - timedelta(hours=1), NOW)


async def test_a_repeat_maps_to_the_existing_analysis_and_updates_its_counts() -> None:
    events, repo, clock = npe_world(), FakeRepo(), Clock(NOW)
    service = make(events, repo, clock)
    first, created = await service.ensure(TARGET, NOW)
    assert created and first.reuse.seen == 5 and first.reuse.first_in == "green v1.4.3"
    events.docs.append(npe_event(99, NOW + timedelta(seconds=30)))
    clock.now = NOW + timedelta(minutes=1)
    again, created = await service.ensure(Target("spike", "order", "npe", None, clock.now), clock.now)
    assert not created and again.id == first.id and again.kind == "new_template"
    assert again.reuse.seen == 6 and again.what.last_seen == "2026-11-25T14:00:30.000Z"
    assert len(repo.docs) == 1


async def test_a_new_version_is_a_new_analysis() -> None:
    events, repo = npe_world(), FakeRepo()
    service = make(events, repo, Clock(NOW))
    first, _ = await service.ensure(TARGET, NOW)
    events.docs.append(npe_event(50, NOW - timedelta(seconds=5), version="1.4.4"))
    second, created = await service.ensure(TARGET, NOW)
    assert created and second.id != first.id and second.where.versions == ["1.4.3", "1.4.4"]


async def test_a_resolved_analysis_reopens_when_its_fingerprint_comes_back() -> None:
    events, repo, clock = npe_world(), FakeRepo(), Clock(NOW)
    service = make(events, repo, clock)
    analysis, _ = await service.ensure(TARGET, NOW)
    clock.now = NOW + timedelta(minutes=2)
    resolved = await service.patch(analysis.id, PatchAnalysis(status="resolved", note="fixed by rollback"))
    assert resolved.status == "resolved" and resolved.notes[-1].text == "fixed by rollback"
    # Nothing new since the resolution: stays resolved.
    still, _ = await service.ensure(TARGET, clock.now)
    assert still.status == "resolved"
    events.docs.append(npe_event(77, NOW + timedelta(minutes=3)))
    clock.now = NOW + timedelta(minutes=4)
    back, created = await service.ensure(Target("new_template", "order", "npe", None, clock.now), clock.now)
    assert not created and back.id == analysis.id and back.status == "open"
    assert back.notes[-1].text.startswith("reopened: seen again at 2026-11-25T14:03:00")


async def test_after_the_ttl_it_is_re_analysed_keeping_status_and_notes() -> None:
    events, repo, clock = npe_world(), FakeRepo(), Clock(NOW)
    service = make(events, repo, clock)
    analysis, _ = await service.ensure(TARGET, NOW)
    await service.patch(analysis.id, PatchAnalysis(status="acknowledged", note="looking"))
    clock.now = NOW + timedelta(hours=2)
    events.docs.append(npe_event(88, clock.now - timedelta(minutes=1)))
    redone, created = await service.ensure(Target("spike", "order", "npe", None, clock.now), clock.now)
    stored = await repo.get(analysis.id)
    assert stored is not None and stored.doc["analysed_at"] == "2026-11-25T16:00:00.000Z"
    assert not created and redone.status == "acknowledged" and redone.notes[0].text == "looking"
    assert redone.kind == "new_template" and redone.created_at == analysis.created_at


async def test_two_processes_never_duplicate_an_analysis() -> None:
    events, repo = npe_world(), FakeRepo()
    blue, green = make(events, repo, Clock(NOW)), make(events, repo, Clock(NOW))
    results = await asyncio.gather(blue.ensure(TARGET, NOW), green.ensure(TARGET, NOW))
    assert sorted(created for _, created in results) == [False, True]
    assert len(repo.docs) == 1


async def test_detection_cycle_creates_once_then_reuses_and_records_its_state() -> None:
    events, repo = npe_world(), FakeRepo()
    service = make(events, repo, Clock(NOW))
    first = await service.run_cycle(NOW)
    second = await service.run_cycle(NOW + timedelta(seconds=10))
    assert (first.detections, first.created) == (1, 1)
    assert (second.created, second.reused) == (0, 1)
    assert repo.state["analysis-worker"]["detections"] == 1


class Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []
    fail_first = 0

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if Hook.fail_first > 0:
            Hook.fail_first -= 1
            self.send_response(503)
        else:
            Hook.received.append(body)
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def hook_url() -> Iterator[str]:
    Hook.received, Hook.fail_first = [], 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


async def test_webhook_is_sent_once_for_a_new_analysis_across_processes_and_cycles(hook_url: str) -> None:
    Hook.fail_first = 1  # the first attempt fails: retried with backoff
    events, repo = npe_world(), FakeRepo()
    async with httpx.AsyncClient() as client:
        hook = HttpWebhook(hook_url, client, backoff_initial_s=0.01, backoff_max_s=0.02)
        blue, green = (
            make(events, repo, Clock(NOW), webhook=hook),
            make(events, repo, Clock(NOW), webhook=hook),
        )
        await asyncio.gather(blue.run_cycle(NOW), green.run_cycle(NOW))
        await asyncio.gather(blue.run_cycle(NOW), green.run_cycle(NOW), blue.notify_pending(NOW))
    assert len(Hook.received) == 1
    message = Hook.received[0]
    assert message["text"].startswith("LogLens: New NullPointerException in order")
    assert message["blocks"][0]["type"] == "section"
    ((doc, _),) = repo.docs.values()
    assert doc["notified_at"] == "2026-11-25T14:00:00.000Z"


async def test_a_failed_webhook_is_released_and_retried_by_a_later_cycle(hook_url: str) -> None:
    Hook.fail_first = 4  # 2 attempts right after creation + 2 by the same cycle's pending pass
    events, repo = npe_world(), FakeRepo()
    async with httpx.AsyncClient() as client:
        hook = HttpWebhook(hook_url, client, attempts=2, backoff_initial_s=0.01, backoff_max_s=0.02)
        service = make(events, repo, Clock(NOW), webhook=hook)
        await service.run_cycle(NOW)
        assert Hook.received == [] and not next(iter(repo.docs.values()))[0]["notified_at"]
        await service.run_cycle(NOW + timedelta(seconds=10))
    assert len(Hook.received) == 1


class FakeAnswerer:
    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.evidence_answer = ""

    @property
    def model(self) -> str:
        return "fake-model"

    async def answer(
        self, question: str, scope: str, evidence: Sequence[EvidenceItem], evidence_answer: str
    ) -> LLMAnswer:
        self.evidence_answer = evidence_answer
        if self.fail:
            raise LLMUnavailable("timeout")
        return LLMAnswer(
            f"order 1.4.3 throws an NPE [{evidence[0].id}]", [evidence[0].id], [], "fake-model", 10, 5, False
        )


async def test_narrative_comes_from_the_llm_and_its_failure_is_no_error() -> None:
    good = FakeAnswerer(fail=False)
    analysis, _ = await make(npe_world(), FakeRepo(), Clock(NOW), answerer=good).ensure(TARGET, NOW)
    assert (
        analysis.narrative == "order 1.4.3 throws an NPE [t-0-4]" and analysis.narrative_model == "fake-model"
    )
    assert "Suspected origin #1: order" in good.evidence_answer
    broken = FakeAnswerer(fail=True)
    analysis, _ = await make(npe_world(), FakeRepo(), Clock(NOW), answerer=broken).ensure(TARGET, NOW)
    assert analysis.narrative is None and analysis.suspected_origin and analysis.next_steps


async def test_on_demand_targets_and_not_found() -> None:
    events, repo = npe_world(), FakeRepo()
    service = make(events, repo, Clock(NOW))
    by_trace, created = await service.create(CreateAnalysis(trace_id="trace3"))
    assert created and by_trace.kind == "on_demand" and by_trace.what.template_id == "npe"
    by_template, created = await service.create(CreateAnalysis(template_id="npe", since="2h"))
    assert not created and by_template.id == by_trace.id
    by_service, created = await service.create(CreateAnalysis(service="order", since="1h"))
    assert not created and by_service.id == by_trace.id
    with pytest.raises(AnalysisNotFound, match="no events with trace id nope"):
        await service.create(CreateAnalysis(trace_id="nope"))
    with pytest.raises(AnalysisNotFound, match="no analysis with id x"):
        await service.get("x")


async def test_related_events_start_before_the_evidence_and_stop_at_the_window_end() -> None:
    """A callee fails 30 s before the caller logs (a pool timeout): it is in the timeline and
    ranks first; an event of the same trace after the window's end is not seen."""
    events, repo = npe_world(3), FakeRepo()
    first = npe_event(0, NOW - timedelta(minutes=10))
    events.docs.append(
        {
            "id": "callee-early",
            "@timestamp": (NOW - timedelta(minutes=10, seconds=30)).isoformat().replace("+00:00", "Z"),
            "service": "pricing",
            "level": "ERROR",
            "message": "Coupon lookup failed",
            "trace_id": first["trace_id"],
            "exception": {"class": "java.sql.SQLException", "causes": [{"class": "java.sql.SQLException"}]},
        }
    )
    events.docs.append(
        {
            "id": "after-window",
            "@timestamp": (NOW + timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
            "service": "gateway",
            "level": "ERROR",
            "message": "late",
            "trace_id": first["trace_id"],
        }
    )
    analysis, _ = await make(events, repo, Clock(NOW)).ensure(TARGET, NOW)
    ids = [e.id for e in analysis.related.timeline]
    assert "callee-early" in ids and "after-window" not in ids
    assert analysis.where.services == ["order", "pricing"]
