"""Turns evidence (plain dicts and dataclasses) into an :class:`Analysis` — no I/O here.

What/where come from an aggregation over the target template; related events are the ones
sharing trace ids with the evidence, across services; the suspected origin is a ranked list of
services with the reasons that put them there; next steps are rules over what was found.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ai_service.analysis.detection import ALERT_LEVELS, Deployment, deployment_label
from ai_service.analysis.schemas import (
    Analysis,
    Cause,
    Related,
    Reuse,
    SuspectedOrigin,
    TimelineEntry,
    What,
    Where,
    Window,
)
from ai_service.llm.port import EvidenceItem
from loglens.events import is_framework_frame

TIMELINE_LIMIT = 60
EVIDENCE_LIMIT = 10
MAX_NEXT_STEPS = 5

# Exceptions that only carry a remote service's failure back to the caller.
_PROPAGATION = (
    "HttpServerErrorException",
    "HttpClientErrorException",
    "HttpStatusCodeException",
    "WebClientResponseException",
    "FeignException",
    "CallNotPermittedException",
    "UnknownHttpStatusCodeException",
    "ResponseStatusException",
)
_CALLEE_URL = re.compile(r"https?://([a-z][a-z0-9-]*)[:/]", re.IGNORECASE)
_UPSTREAM = re.compile(r"\bupstream ([a-z][a-z0-9-]*?)(?:-service)?\b responded", re.IGNORECASE)


def iso(ts: datetime | None) -> str | None:
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z") if ts else None


def fingerprint(
    service: str,
    template_id: str | None,
    exception_class: str | None,
    top_frame: str | None,
    version: str | None,
) -> str:
    """Stable id of "this failure in this build": repeats map to the same analysis."""
    h = hashlib.blake2b(digest_size=10)
    for part in (service, template_id, exception_class, top_frame, version):
        h.update((part or "").encode("utf-8", "replace"))
        h.update(b"\x00")
    return h.hexdigest()


@dataclass(slots=True)
class TemplateSummary:
    """Aggregated facts of one template of one service over the analysis window."""

    service: str
    template_id: str | None
    template: str | None
    level: str | None
    count: int
    first_seen: datetime | None
    last_seen: datetime | None
    hosts: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    slots: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    by_pair: dict[tuple[str | None, str | None], int] = field(default_factory=dict)


@dataclass(slots=True)
class Evidence:
    """Everything the builder needs; the service gathers it through the store."""

    kind: str
    summary: TemplateSummary
    window_since: datetime | None
    window_until: datetime
    events: list[dict[str, Any]]  # evidence events ({"id", **source}), newest first
    related: list[dict[str, Any]] = field(default_factory=list)  # events sharing their trace ids
    deployments: list[Deployment] = field(default_factory=list)  # the service's (version, slot) pairs
    error_ratios: dict[str, tuple[float, float]] = field(default_factory=dict)  # svc -> (recent, before)
    reason: str | None = None  # why the detector picked it


def _short(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _simple(cls: str | None) -> str | None:
    return cls.rsplit(".", 1)[-1] if cls else None


def primary_event(events: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The evidence event the fingerprint is taken from: the newest one with an exception, else newest."""
    for ev in events:
        if (ev.get("exception") or {}).get("class"):
            return ev
    return events[0] if events else None


def fingerprint_of(service: str, template_id: str | None, events: Sequence[Mapping[str, Any]]) -> str:
    ev = primary_event(events) or {}
    exc = ev.get("exception") or {}
    return fingerprint(service, template_id, exc.get("class"), exc.get("top_app_frame"), ev.get("version"))


def timeline(events: Iterable[Mapping[str, Any]], limit: int = TIMELINE_LIMIT) -> list[TimelineEntry]:
    """Events ordered by time (ties by id), de-duplicated, at most ``limit``."""
    seen: set[str] = set()
    ordered = sorted(events, key=lambda e: (str(e.get("@timestamp") or ""), str(e.get("id"))))
    out: list[TimelineEntry] = []
    for ev in ordered:
        ev_id = str(ev.get("id"))
        if ev_id in seen:
            continue
        seen.add(ev_id)
        out.append(
            TimelineEntry.model_validate(
                {
                    "id": ev_id,
                    "@timestamp": ev.get("@timestamp"),
                    "service": ev.get("service"),
                    "level": ev.get("level"),
                    "message": _short(str(ev.get("message", "")), 300),
                }
            )
        )
        if len(out) >= limit:
            break
    return out


def _exception_events(service: str, evidence: Evidence) -> list[Mapping[str, Any]]:
    pool: list[Mapping[str, Any]] = [*evidence.events, *evidence.related]
    own = [e for e in pool if e.get("service") == service and (e.get("exception") or {}).get("class")]
    return own or [e for e in pool if (e.get("exception") or {}).get("class")]


def cause_chain(service: str, evidence: Evidence) -> tuple[list[Cause], list[str]]:
    """The ``Caused by:`` chain and top application frames of the most telling exception."""
    candidates = _exception_events(service, evidence)
    if not candidates:
        return [], []
    # Prefer an exception whose chain is longest: it tells the most about the cause.
    ev = max(candidates, key=lambda e: len((e.get("exception") or {}).get("causes") or []))
    exc = ev.get("exception") or {}
    causes = [
        Cause.model_validate({"class": c.get("class", ""), "message": _short(str(c.get("message", "")), 300)})
        for c in exc.get("causes") or [{"class": exc.get("class"), "message": exc.get("message", "")}]
        if c.get("class")
    ]
    frames = [str(f) for f in exc.get("frames") or []]
    app = [f for f in frames if not is_framework_frame(f)]
    top = app[:5] or frames[:5]
    if exc.get("top_app_frame") and not any(str(exc["top_app_frame"]) in f for f in top):
        top.insert(0, str(exc["top_app_frame"]))
    return causes, top


def _root_class(ev: Mapping[str, Any]) -> str | None:
    exc = ev.get("exception") or {}
    causes = exc.get("causes") or []
    if causes:
        return str(causes[-1].get("class") or "") or None
    return str(exc.get("class") or "") or None


_UNREACHABLE = re.compile(r"ConnectException|NoRouteToHostException|UnknownHostException")
_URL_HOST = re.compile(r"https?://([a-z0-9][a-z0-9.-]*)", re.IGNORECASE)


def _is_propagated(ev: Mapping[str, Any], services: Iterable[str] = ()) -> bool:
    """The exception only carries a failure back from one of *our* services (an HTTP error of a
    callee). An HTTP error from a host that is none of the services seen in the evidence (an
    external PSP, a SaaS API) is where the failure enters the system: the deepest cause here."""
    exc = ev.get("exception") or {}
    causes = exc.get("causes") or []
    classes = [str(c.get("class", "")) for c in causes] or [str(exc.get("class", ""))]
    if not any(any(p in cls for p in _PROPAGATION) for cls in classes):
        return False
    known = {s.lower() for s in services}
    if not known:
        return True
    text = " ".join(str(c.get("message", "")) for c in causes) or str(exc.get("message", ""))
    hosts = {h.lower().split(".", 1)[0] for h in _URL_HOST.findall(f"{ev.get('message', '')} {text}")}
    hosts = {h.removesuffix("-service") for h in hosts}
    return not hosts or bool(hosts & known)


def _callees(ev: Mapping[str, Any]) -> set[str]:
    exc = ev.get("exception") or {}
    causes = " ".join(str(c.get("message", "")) for c in exc.get("causes") or [])
    text = f"{ev.get('message', '')} {causes}"
    names = {m.lower() for m in _CALLEE_URL.findall(text)} | {m.lower() for m in _UPSTREAM.findall(text)}
    return {n for n in names if n and n != ev.get("service")}


def _other_pair(evidence: Evidence, current: tuple[str | None, str | None]) -> Deployment | None:
    others = [d for d in evidence.deployments if (d.version, d.slot) != current]
    return max(others, key=lambda d: d.last_seen) if others else None


def only_in_new_deployment(evidence: Evidence) -> tuple[Deployment, Deployment] | None:
    """(new, old): the template occurs only in the service's newest deployment while another runs."""
    pairs = [p for p, n in evidence.summary.by_pair.items() if n > 0]
    if len(pairs) != 1 or len(evidence.deployments) < 2:
        return None
    newest = max(evidence.deployments, key=lambda d: d.first_seen)
    if (newest.version, newest.slot) != pairs[0]:
        return None
    old = _other_pair(evidence, pairs[0])
    return (newest, old) if old else None


# Origin ranking weights. Each signal is evidence about *where the failure starts*, weighted by
# how directly it shows causality (documented in docs/analyses.md):
#   causal order in the shared traces (who failed first)            3 x share of traces
#   the deepest cause is thrown there (not a callee's error carried) 2
#   the template occurs only in the service's newest deployment      2
#   callers name it as the callee that failed                        1
#   the biggest error-ratio jump among the services involved         0.5
#   it logs the template under analysis                              0.5
# The last two are symptoms rather than causes: a caller logs the alerting template and sees
# its error ratio jump *because* a callee fails, so together (1) they stay below one causal
# signal (2-3) and can only decide between otherwise equal candidates.
W_FIRST_IN_TRACE = 3.0
W_DEEPEST_CAUSE = 2.0
W_ONLY_NEW_DEPLOYMENT = 2.0
W_NAMED_BY_CALLERS = 1.0
W_RATIO_JUMP = 0.5
W_ANALYSED = 0.5
RATIO_JUMP_MIN = 0.05


def _first_alert(events: Iterable[Mapping[str, Any]]) -> Mapping[str, Any]:
    return min(events, key=lambda e: (str(e.get("@timestamp") or ""), str(e.get("id"))))


def shared_traces(evidence: Evidence) -> dict[str, list[Mapping[str, Any]]]:
    """trace id → its WARN/ERROR events, for the traces whose events were fetched.

    Only traces present in ``related`` count: an evidence event whose trace was not looked up
    (beyond ``max_traces``) would otherwise look like a trace where the analysed service failed
    first, whatever its callees logged before it."""
    pool = {str(e.get("id")): e for e in [*evidence.related, *evidence.events]}
    fetched = {str(e["trace_id"]) for e in evidence.related if e.get("trace_id")}
    by_trace: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for ev in pool.values():
        trace = ev.get("trace_id")
        if trace and str(trace) in fetched and ev.get("level") in ALERT_LEVELS and ev.get("service"):
            by_trace[str(trace)].append(ev)
    return by_trace


def rank_origins(evidence: Evidence) -> list[SuspectedOrigin]:
    """Services ranked by how strongly the evidence points at them, each with its reasons."""
    primary = evidence.summary.service
    pool = {str(e.get("id")): e for e in [*evidence.related, *evidence.events]}
    alerts = [e for e in pool.values() if e.get("level") in ALERT_LEVELS and e.get("service")]
    score: dict[str, float] = defaultdict(float)
    reasons: dict[str, list[str]] = defaultdict(list)
    first_error: dict[str, str] = {}
    templates: dict[str, Counter[str]] = defaultdict(Counter)
    for ev in sorted(alerts, key=lambda e: str(e.get("@timestamp") or "")):
        svc = str(ev["service"])
        first_error.setdefault(svc, str(ev.get("@timestamp") or ""))
        if ev.get("template_id"):
            templates[svc][str(ev["template_id"])] += 1
    score[primary] += W_ANALYSED
    reasons[primary].append("logs the template under analysis")

    # 1. Causal order: the earliest WARN/ERROR of each shared (fetched) trace. When that first
    #    error is a failure calling a callee that logged nothing at all in the trace, the request
    #    never got into the callee (refused, unreachable, crashed): the trace points at the callee.
    by_trace = shared_traces(evidence)
    if by_trace:
        present: dict[str, set[str]] = defaultdict(set)
        for ev in evidence.related:
            if ev.get("trace_id") and ev.get("service"):
                present[str(ev["trace_id"])].add(str(ev["service"]))
        firsts: Counter[str] = Counter()
        unreached: Counter[str] = Counter()
        for trace, evs in by_trace.items():
            first = _first_alert(evs)
            silent = sorted(_callees(first) - present[trace])
            if len(silent) == 1:
                unreached[silent[0]] += 1
            else:
                firsts[str(first["service"])] += 1
        for svc, n in firsts.items():
            score[svc] += W_FIRST_IN_TRACE * n / len(by_trace)
            reasons[svc].append(f"first to log an error in {n} of {len(by_trace)} shared traces")
        for svc, n in unreached.items():
            score[svc] += W_FIRST_IN_TRACE * n / len(by_trace)
            reasons[svc].append(
                f"never reached in {n} of {len(by_trace)} shared traces: the first error is a call to {svc}"
            )

    # 2. Deepest cause: an exception thrown there, not a remote failure carried back.
    roots: dict[str, str] = {}
    services = {str(e["service"]) for e in alerts} | {c for e in alerts for c in _callees(e)}
    for ev in sorted(alerts, key=lambda e: str(e.get("@timestamp") or "")):
        root = _root_class(ev)
        if root and not _is_propagated(ev, services):
            callees = sorted(_callees(ev))
            # A refused / unreachable connection is the callee's failure, not the caller's.
            where = callees[0] if _UNREACHABLE.search(root) and len(callees) == 1 else str(ev["service"])
            roots.setdefault(where, root)
    for svc, root in roots.items():
        score[svc] += W_DEEPEST_CAUSE
        if _UNREACHABLE.search(root) and not any(e.get("service") == svc for e in alerts):
            reasons[svc].append(f"deepest cause {_simple(root)}: callers cannot reach {svc}")
        else:
            reasons[svc].append(f"deepest cause {_simple(root)} is thrown in {svc}")

    # 3. Only in the new deployment.
    only_new = only_in_new_deployment(evidence)
    if only_new is not None:
        new, old = only_new
        score[primary] += W_ONLY_NEW_DEPLOYMENT
        reasons[primary].append(
            f"only in {deployment_label(new.version, new.slot)}; "
            f"{deployment_label(old.version, old.slot)} does not log it"
        )

    # 4. Callers naming it: "I/O error on POST http://payment:8080/...", "Upstream order-service ...".
    called_by: dict[str, set[str]] = defaultdict(set)
    for ev in alerts:
        for callee in _callees(ev):
            called_by[callee].add(str(ev["service"]))
    for callee, callers in called_by.items():
        score[callee] += W_NAMED_BY_CALLERS
        reasons[callee].append(f"{', '.join(sorted(callers))} report failures calling {callee}")

    # 5. Highest error-ratio jump (a symptom: weighs little).
    jumps = {s: r[0] - r[1] for s, r in evidence.error_ratios.items() if r[0] - r[1] > RATIO_JUMP_MIN}
    if jumps:
        svc = max(jumps, key=lambda s: jumps[s])
        recent, before = evidence.error_ratios[svc]
        score[svc] += W_RATIO_JUMP
        reasons[svc].append(f"highest error ratio jump: {before:.1%} → {recent:.1%}")

    order = sorted(score, key=lambda s: (-round(score[s], 6), first_error.get(s, "~"), s))
    out: list[SuspectedOrigin] = []
    for rank, svc in enumerate(order, start=1):
        if svc == primary and evidence.summary.template_id:
            template_id: str | None = evidence.summary.template_id
        else:
            template_id = templates[svc].most_common(1)[0][0] if templates[svc] else None
        out.append(SuspectedOrigin(service=svc, template_id=template_id, rank=rank, reasons=reasons[svc]))
    return out


def involved_services(evidence: Evidence) -> list[str]:
    """``where.services``: the analysed service, then the services that logged a WARN/ERROR in
    its shared traces (earliest first). Services that merely log the same template text
    elsewhere, unrelated to these requests, are not part of this analysis."""
    primary = evidence.summary.service
    firsts: dict[str, str] = {}
    for evs in shared_traces(evidence).values():
        for ev in evs:
            svc, stamp = str(ev["service"]), str(ev.get("@timestamp") or "")
            if svc not in firsts or stamp < firsts[svc]:
                firsts[svc] = stamp
    firsts.pop(primary, None)
    return [primary, *sorted(firsts, key=lambda s: (firsts[s], s))]


def _texts_of(service: str, evidence: Evidence) -> str:
    parts: list[str] = [evidence.summary.template or ""] if evidence.summary.service == service else []
    for ev in [*evidence.events, *evidence.related]:
        if ev.get("service") != service or ev.get("level") not in ALERT_LEVELS:
            continue
        parts.append(str(ev.get("message", "")))
        exc = ev.get("exception") or {}
        for c in exc.get("causes") or []:
            parts.append(f"{c.get('class', '')}: {c.get('message', '')}")
    return "\n".join(parts)


def next_steps(evidence: Evidence, origins: Sequence[SuspectedOrigin], causes: Sequence[Cause]) -> list[str]:
    """Things a person can do now, most specific first."""
    steps: list[str] = []
    top = origins[0].service if origins else evidence.summary.service
    primary = evidence.summary.service
    exc_name = _simple(causes[0].class_) if causes else None
    only_new = only_in_new_deployment(evidence)
    if only_new is not None:
        new, old = only_new
        steps.append(
            f"roll back {primary} to {deployment_label(old.version, old.slot)}: the "
            f"{exc_name or 'error'} appears only in {deployment_label(new.version, new.slot)}"
        )
    for svc in dict.fromkeys([top, primary]):
        text = _texts_of(svc, evidence)
        low = text.lower()
        if "hikari" in low or "sqltransientconnection" in low or "cannotcreatetransaction" in low:
            steps.append(
                f"check HikariCP pool size / DB connections in {svc}: requests wait for a free "
                "connection (look for leaked connections and long transactions)"
            )
        if "read timed out" in low or "sockettimeout" in low or "callnotpermitted" in low:
            callees = sorted({m.lower() for m in _CALLEE_URL.findall(text)} - {svc})
            for callee in callees[:2]:
                steps.append(f"inspect {callee} latency: {svc} calls to {callee} time out")
            if not callees:
                steps.append(f"inspect the latency of what {svc} calls: its requests time out")
        if "broker may not be available" in low or "org.apache.kafka" in low:
            steps.append(f"check {svc}'s connection to the Kafka brokers (bootstrap servers, network)")
        if "nullpointerexception" in low:
            frame = next((f for f in cause_chain(svc, evidence)[1]), None)
            steps.append(f"fix the null handling in {svc}" + (f" at {frame}" if frame else ""))
        if "failed to bind properties" in low:
            steps.append(f"fix {svc}'s configuration properties (see the binding error) and restart it")
        if "slow query" in low:
            steps.append(f"check the query plan and row locks of {svc}'s slow query")
    traces = sorted({str(e["trace_id"]) for e in evidence.events if e.get("trace_id")})
    if traces:
        steps.append(f"follow one failing request across services: GET /traces/{traces[0]}")
    if evidence.summary.first_seen:
        steps.append(
            f"look at what changed in {top} around {iso(evidence.summary.first_seen)} "
            "(deploys, config, traffic)"
        )
    return list(dict.fromkeys(steps))[:MAX_NEXT_STEPS]


_TITLE = {
    "new_template": "New {what} in {svc}",
    "spike": "Spike of {what} in {svc}",
    "error_ratio": "Error ratio up in {svc}: {what}",
    "on_demand": "{what} in {svc}",
}


def title_for(kind: str, summary: TemplateSummary, causes: Sequence[Cause]) -> str:
    what = _simple(causes[0].class_) if causes else None
    label = f"{what}: " if what else f"{summary.level or 'event'}: "
    text = _TITLE.get(kind, _TITLE["on_demand"]).format(what=label.rstrip(": "), svc=summary.service)
    return _short(f"{text} — {summary.template or ''}".rstrip(" —"), 160)


def build_analysis(
    evidence: Evidence, analysis_id: str, now: datetime, *, created_at: str | None = None
) -> Analysis:
    s = evidence.summary
    causes, frames = cause_chain(s.service, evidence)
    origins = rank_origins(evidence)
    span_min = None
    if s.first_seen and s.last_seen:
        span_min = max((s.last_seen - s.first_seen).total_seconds() / 60.0, 1.0)
    rate = round(s.count / span_min, 2) if span_min else float(s.count)
    trace_ids = list(dict.fromkeys(str(e["trace_id"]) for e in evidence.events if e.get("trace_id")))
    first_pair = None
    if s.by_pair:
        known = {(d.version, d.slot): d for d in evidence.deployments}
        present = [p for p, n in s.by_pair.items() if n > 0]
        first_pair = min(present, key=lambda p: known[p].first_seen if p in known else now, default=None)
    stamp = iso(now) or ""
    return Analysis(
        id=analysis_id,
        fingerprint=analysis_id,
        kind=evidence.kind,
        status="open",
        created_at=created_at or stamp,
        updated_at=stamp,
        title=title_for(evidence.kind, s, causes),
        what=What(
            template_id=s.template_id,
            template=s.template,
            level=s.level,
            count=s.count,
            rate_per_min=rate,
            first_seen=iso(s.first_seen),
            last_seen=iso(s.last_seen),
            window=Window(since=iso(evidence.window_since), until=iso(evidence.window_until)),
        ),
        where=Where(services=involved_services(evidence), hosts=s.hosts, versions=s.versions, slots=s.slots),
        evidence=[str(e["id"]) for e in evidence.events[:EVIDENCE_LIMIT]],
        related=Related(
            trace_ids=trace_ids,
            timeline=timeline([*evidence.related, *evidence.events]),
            causes=causes,
            top_frames=frames,
        ),
        suspected_origin=origins,
        next_steps=next_steps(evidence, origins, causes),
        reuse=Reuse(
            seen=s.count,
            since=iso(s.first_seen),
            first_in=deployment_label(*first_pair) if first_pair else None,
        ),
    )


def render_text(analysis: Analysis) -> str:
    """The structured analysis as plain text: the evidence answer an LLM narrative starts from."""
    w = analysis.what
    lines = [
        analysis.title,
        f"{w.count} events ({w.rate_per_min}/min) of [{w.level}] {w.template!r}, first {w.first_seen}, "
        f"last {w.last_seen}, in {', '.join(analysis.where.services)} "
        f"(versions {', '.join(analysis.where.versions) or '?'}, "
        f"slots {', '.join(analysis.where.slots) or '?'})",
    ]
    if analysis.related.causes:
        lines.append(
            "Exception chain: "
            + " <- caused by ".join(f"{c.class_}: {c.message}" for c in analysis.related.causes)
        )
    if analysis.related.top_frames:
        lines.append("Top frames: " + "; ".join(analysis.related.top_frames[:3]))
    for origin in analysis.suspected_origin[:3]:
        lines.append(f"Suspected origin #{origin.rank}: {origin.service} — {'; '.join(origin.reasons)}")
    lines.extend(f"Next step: {s}" for s in analysis.next_steps)
    return "\n".join(lines)


def evidence_items(events: Iterable[Mapping[str, Any]], limit: int = 12) -> list[EvidenceItem]:
    """What the LLM sees: the evidence and timeline events, each with its exception chain."""
    items: list[EvidenceItem] = []
    seen: set[str] = set()
    for ev in events:
        ev_id = str(ev.get("id"))
        if ev_id in seen:
            continue
        seen.add(ev_id)
        parts = [str(ev.get("message", ""))[:500]]
        exc = ev.get("exception") or {}
        if exc.get("class"):
            chain = " <- caused by ".join(
                f"{c.get('class')}: {c.get('message', '')}" for c in exc.get("causes") or []
            )
            parts.append(f"exception: {chain or exc.get('class')}")
        items.append(
            EvidenceItem(
                id=ev_id,
                timestamp=str(ev.get("@timestamp") or ""),
                service=str(ev.get("service") or ""),
                level=str(ev.get("level") or ""),
                text="\n".join(parts),
            )
        )
        if len(items) >= limit:
            break
    return items
