"""The fault-scenario suite (tests/evals/fault_scenarios.yaml) run against the real analysis engine.

Shared by ``bench/bench_analyses.py`` (the whole suite, figures into docs/benchmarks.md) and
``tests/integration/test_fault_suite.py`` (a few cases with floors).

How one run works (everything on one simulated timeline ending ``E`` = a few minutes before now):

* **history** — one topic of fault-free shop traffic over ``[E - 110 min, E - 20 min]``: the
  baseline every case shares (the spike / error-ratio baselines and "seen before" need one).
* **case** — its own fresh topic: background traffic of the case's seed and rate over
  ``[E - 20 min, E]`` with the fault(s) from ``fault_offset_s``; then a quiet gap and the
  **same fault again** (another seed) over ``[E, E + repeat_s]`` for the reuse figure.
* events are produced to Kafka and indexed by the consumer's own code in-process
  (:class:`consumers.log_embedder.consumer.LogEmbedder`: parse → redact → template miner →
  embed → bulk into the real OpenSearch → transactional commit). One template miner is shared
  by all topics, as one consumer group's miner is in production; the embedder is the hashing
  one (vectors play no part in detection and MiniLM would only burn the CPU).
* detection: the real :class:`AnalysisService` over the real OpenSearch, scoped to
  ``kafka.topic in (history, case)``, writing to an analyses index of its own; ``run_cycle(now)``
  is called at simulated times every ``interval_s`` (the worker's 10 s) from the first fault
  event on. **Detection delay** = (simulated time of the first cycle after which the analysis
  is readable from the store) − (timestamp of the first fault event). Every query a cycle makes
  is bounded by ``now``, so a cycle sees exactly what it would have seen live.
* the case's analysis = the one about the expected template (matched on its evidence); its
  ``suspected_origin`` is scored top-1 / top-3 against the expected origin service.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from opensearchpy._async.helpers.actions import async_bulk, async_scan

from ai_service.analysis.schemas import Analysis
from ai_service.analysis.service import AnalysisConfig, AnalysisService, from_doc
from ai_service.analysis.store import OpenSearchAnalysisRepo, OpenSearchEventQueries
from consumers.log_embedder.consumer import LogEmbedder
from consumers.log_embedder.sink import OpenSearchSink
from loglens.config import Settings
from loglens.demo.generator import TrafficGenerator
from loglens.demo.producer import encode_event
from loglens.demo.scenarios import NORMAL_EPISODES, Scenario, get_scenario, template_regex
from loglens.embedding import build_embedder
from loglens.embedding.cache import CachedEmbedder
from loglens.events import parse_timestamp
from loglens.indices import EVENTS_ALIAS, index_templates
from loglens.mining import TemplateMiner

SUITE = Path(__file__).resolve().parents[1] / "tests" / "evals" / "fault_scenarios.yaml"
HISTORY_S = 90 * 60  # fault-free history before the case windows
WINDOW_S = 20 * 60  # each case's own window (background + fault), ending at E
REPEAT_S = 10 * 60  # the repeat phase after E
HISTORY_SEED = 7
HISTORY_RATE = 2.5
BASE_VERSION, BASE_SLOT = "1.4.2", "blue"
Event = dict[str, Any]


@dataclass(frozen=True)
class Case:
    name: str
    scenarios: tuple[str, ...]
    seed: int
    rate: float  # background events per simulated second
    fault_offset_s: float  # from the start of the case window
    fault_rate: float | None  # fault episodes per simulated second (None: the scenario's own)
    expected_origin: str
    expected_template: str  # regex searched in the message of the analysis' evidence
    version: str | None = None  # the faulty deploy (origin service's version/slot), if any
    slot: str | None = None
    repeat_offset_s: float = 180.0  # the fault comes back this long after E
    note: str = ""

    def scenario_objects(self) -> list[Scenario]:
        out = []
        for name in self.scenarios:
            sc = get_scenario(name)
            if self.version or self.slot:
                sc = replace(sc, origin_version=self.version or sc.origin_version, origin_slot=self.slot)
            out.append(sc)
        return out


def load_cases(path: Path = SUITE) -> list[Case]:
    data = yaml.safe_load(path.read_text())
    defaults = data.get("defaults") or {}
    cases = []
    for raw in data["cases"]:
        item = {**defaults, **raw}
        scen = item.pop("scenarios", None) or [item.pop("scenario")]
        item.pop("scenario", None)
        cases.append(Case(scenarios=tuple(scen), **item))
    names = [c.name for c in cases]
    if len(set(names)) != len(names):
        raise ValueError("case names must be unique")
    return cases


# ---------------------------------------------------------------------------- traffic


def generate(
    seed: int,
    start: datetime,
    end: datetime,
    rate: float,
    scenarios: Sequence[Scenario] = (),
    offset_s: float | None = None,
    fault_rate: float | None = None,
) -> list[Event]:
    gen = TrafficGenerator(
        seed=seed,
        start=start,
        version=BASE_VERSION,
        slot=BASE_SLOT,
        scenarios=list(scenarios),
        rate=rate,
        scenario_offset_s=offset_s,
        scenario_rate=fault_rate,
    )
    out = []
    for event in gen:
        if parse_timestamp(event["@timestamp"]) > end:
            break
        out.append(event)
    return out


def _fault_only_symptoms(scenarios: Sequence[Scenario]) -> list[tuple[str, str, re.Pattern[str]]]:
    """The scenarios' WARN/ERROR lines that normal traffic never logs (a gateway 500 is both)."""
    normal = {(st.service, st.level, st.message) for spec in NORMAL_EPISODES for st in spec.steps}
    out: list[tuple[str, str, re.Pattern[str]]] = []
    for sc in scenarios:
        for spec in (*sc.onset, *sc.episodes):
            for st in spec.steps:
                if st.level in ("WARN", "ERROR") and (st.service, st.level, st.message) not in normal:
                    out.append((st.service, st.level, template_regex(st.message)))
    return out


def first_fault_time(
    events: Sequence[Event], scenarios: Sequence[Scenario], after: datetime
) -> datetime | None:
    """Timestamp of the first WARN/ERROR line only the fault logs, at or after ``after`` (its onset)."""
    symptoms = _fault_only_symptoms(scenarios)
    for ev in events:
        ts = parse_timestamp(ev["@timestamp"])
        if ts < after:
            continue
        for service, level, rx in symptoms:
            if ev["service"] == service and ev["level"] == level and rx.search(ev["message"]):
                return ts
    return None


class Indexer:
    """Kafka → the consumer's pipeline in-process → OpenSearch, one shared template miner."""

    def __init__(self, settings: Settings, client: Any) -> None:
        self.settings = settings.model_copy(update={"embedder": "hash", "qa_cache_enabled": False})
        self.client = client
        self.embedder = CachedEmbedder(build_embedder(self.settings))
        self.miner = TemplateMiner()
        self.topics: list[str] = []

    async def create_topic(self, prefix: str) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])
        finally:
            await admin.close()
        self.topics.append(name)
        return name

    async def produce(self, topic: str, events: Sequence[Event]) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap, acks="all", linger_ms=20)
        await producer.start()
        try:
            for ev in events:
                key, value = encode_event(ev)
                await producer.send(topic, value, key=key)
            await producer.flush()
        finally:
            await producer.stop()

    async def index(self, topic: str, expected: int, timeout: float = 300.0) -> None:
        settings = self.settings.model_copy(update={"topic": topic, "consumer_group": f"g-{topic}"})
        worker = LogEmbedder(settings, self.embedder, OpenSearchSink(self.client), miner=self.miner)
        await worker.start()
        task = asyncio.create_task(worker.run())
        deadline = time.monotonic() + timeout
        try:
            while worker.indexed + worker.dead_lettered + worker.merged < expected:
                if task.done() or time.monotonic() > deadline:
                    raise RuntimeError(f"indexed {worker.indexed} of {expected} events of {topic}")
                await asyncio.sleep(0.2)
        finally:
            worker.request_stop()
            await task
            await worker.stop()
        await self.client.indices.refresh(index=EVENTS_ALIAS)

    async def load(self, prefix: str, events: Sequence[Event]) -> str:
        topic = await self.create_topic(prefix)
        await self.produce(topic, events)
        await self.index(topic, len(events))
        return topic

    async def cleanup(self, delete_events: bool = True) -> None:
        """Delete this run's events (by id: the cluster has no delete-by-query) and topics."""
        if delete_events and self.topics:
            query = {"query": {"terms": {"kafka.topic": self.topics}}, "_source": False}
            actions = [
                {"_op_type": "delete", "_index": hit["_index"], "_id": hit["_id"]}
                async for hit in async_scan(self.client, query=query, index=EVENTS_ALIAS, size=2000)
            ]
            if actions:
                await async_bulk(self.client, actions, chunk_size=2000, raise_on_error=False)
            await self.client.indices.refresh(index=EVENTS_ALIAS)
        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap)
        await admin.start()
        try:
            await admin.delete_topics(self.topics)
        except Exception:  # best effort
            pass
        finally:
            await admin.close()


# ---------------------------------------------------------------------------- detection


@dataclass
class CaseResult:
    case: Case
    events: int = 0
    first_fault: datetime | None = None
    detected_at: datetime | None = None  # simulated time of the cycle that made it readable
    first_raised_at: datetime | None = None  # the cycle after which the case had any analysis
    analysis: Analysis | None = None
    raised: list[Analysis] = field(default_factory=list)  # every analysis of the case's phase 1
    cycles: int = 0
    cycle_seconds: list[float] = field(default_factory=list)
    reused: bool | None = None  # repeat phase: mapped to the same analysis, no duplicate
    repeat_note: str = ""

    @property
    def delay_s(self) -> float | None:
        if self.detected_at is None or self.first_fault is None:
            return None
        return (self.detected_at - self.first_fault).total_seconds()

    @property
    def first_delay_s(self) -> float | None:
        """Delay to the first analysis of any template the fault produced (what pages first)."""
        if self.first_raised_at is None or self.first_fault is None:
            return None
        return (self.first_raised_at - self.first_fault).total_seconds()

    @property
    def origins(self) -> list[str]:
        return [o.service for o in self.analysis.suspected_origin] if self.analysis else []

    @property
    def top1(self) -> bool:
        return bool(self.origins) and self.origins[0] == self.case.expected_origin

    @property
    def top3(self) -> bool:
        return self.case.expected_origin in self.origins[:3]

    @property
    def raised_top1(self) -> float:
        """Share of all analyses raised for the case whose top origin is the expected one."""
        if not self.raised:
            return 0.0
        good = sum(
            1
            for a in self.raised
            if a.suspected_origin and a.suspected_origin[0].service == self.case.expected_origin
        )
        return good / len(self.raised)


async def new_analyses_index(client: Any, settings: Settings) -> str:
    index = f"log-analyses-eval-{uuid.uuid4().hex[:8]}"
    template = index_templates(settings)["loglens-log-analyses"]["template"]
    await client.indices.create(
        index=index, body={"settings": template["settings"], "mappings": template["mappings"]}
    )
    return index


def scoped_service(client: Any, topics: Sequence[str], index: str) -> AnalysisService:
    return AnalysisService(
        OpenSearchEventQueries(client, scope=[{"terms": {"kafka.topic": list(topics)}}]),
        OpenSearchAnalysisRepo(client, index=index, state_index=index + "-state"),
        config=AnalysisConfig(),
    )


async def all_analyses(service: AnalysisService) -> list[Analysis]:
    return [from_doc(d) for d in await service.repo.search(None, None, None, 200)]


async def evidence_messages(client: Any, analyses: Sequence[Analysis]) -> dict[str, str]:
    """analysis id → message of its newest evidence event."""
    ids = {a.evidence[0]: a.id for a in analyses if a.evidence}
    if not ids:
        return {}
    resp = await client.search(
        index=EVENTS_ALIAS,
        body={"size": len(ids), "query": {"ids": {"values": list(ids)}}, "_source": ["message"]},
    )
    return {ids[h["_id"]]: str(h["_source"].get("message", "")) for h in resp["hits"]["hits"]}


async def matching(client: Any, analyses: Sequence[Analysis], pattern: str) -> list[Analysis]:
    rx = re.compile(pattern)
    messages = await evidence_messages(client, analyses)
    return [a for a in analyses if rx.search(messages.get(a.id, "")) or rx.search(a.what.template or "")]


async def run_cycles(
    service: AnalysisService,
    client: Any,
    start: datetime,
    end: datetime,
    interval_s: float,
    pattern: str,
    result: CaseResult,
) -> list[Analysis]:
    """Cycles at start + k·interval until an analysis of the expected template is readable."""
    t = start
    while t <= end:
        t0 = time.perf_counter()
        await service.run_cycle(now=t)
        result.cycle_seconds.append(time.perf_counter() - t0)
        result.cycles += 1
        current = await all_analyses(service)
        if current and result.first_raised_at is None:
            result.first_raised_at = t
        found = await matching(client, current, pattern)
        if found:
            result.detected_at = t
            return found
        t += timedelta(seconds=interval_s)
    return []


async def run_case(
    case: Case,
    indexer: Indexer,
    client: Any,
    settings: Settings,
    history_topic: str,
    end: datetime,
    interval_s: float = 10.0,
    repeat: bool = True,
) -> CaseResult:
    scenarios = case.scenario_objects()
    start = end - timedelta(seconds=WINDOW_S)
    events = generate(case.seed, start, end, case.rate, scenarios, case.fault_offset_s, case.fault_rate)
    result = CaseResult(case)
    result.first_fault = first_fault_time(events, scenarios, start + timedelta(seconds=case.fault_offset_s))
    repeat_events: list[Event] = []
    if repeat:
        repeat_events = generate(
            case.seed + 1_000_003,
            end,
            end + timedelta(seconds=REPEAT_S),
            case.rate,
            scenarios,
            case.repeat_offset_s,
            case.fault_rate,
        )
    result.events = len(events) + len(repeat_events)
    topic = await indexer.load(f"eval-{case.name}", [*events, *repeat_events])
    index = await new_analyses_index(client, settings)
    service = scoped_service(client, [history_topic, topic], index)
    try:
        if result.first_fault is None:
            return result
        # The worker runs at its own phase: start the cycles at a phase drawn from the seed.
        phase = timedelta(seconds=case.seed % int(interval_s))
        found = await run_cycles(
            service, client, result.first_fault + phase, end, interval_s, case.expected_template, result
        )
        result.raised = await all_analyses(service)
        if found:
            result.analysis = min(found, key=lambda a: a.created_at)
        if repeat and result.analysis is not None:
            await repeat_phase(case, service, client, result, repeat_events, scenarios, end, interval_s)
    finally:
        await client.indices.delete(index=f"{index}*", params={"ignore_unavailable": "true"})
    return result


async def repeat_phase(
    case: Case,
    service: AnalysisService,
    client: Any,
    result: CaseResult,
    events: Sequence[Event],
    scenarios: Sequence[Scenario],
    end: datetime,
    interval_s: float,
) -> None:
    """The fault comes back after a quiet gap: the detector must map it to the analysis it has."""
    assert result.analysis is not None
    again = first_fault_time(events, scenarios, end + timedelta(seconds=case.repeat_offset_s))
    if again is None:
        result.repeat_note = "no repeat events"
        return
    original = result.analysis
    t = again
    stop = end + timedelta(seconds=REPEAT_S)
    while t <= stop:
        await service.run_cycle(now=t)
        current = await matching(client, await all_analyses(service), case.expected_template)
        dup = [a for a in current if a.id != original.id]
        same = next((a for a in current if a.id == original.id), None)
        if dup:
            result.reused = False
            result.repeat_note = f"new analysis {dup[0].id} ({dup[0].kind})"
            return
        if same is not None and same.what.last_seen and parse_timestamp(same.what.last_seen) >= again:
            result.reused = True
            result.repeat_note = f"reused after {(t - again).total_seconds():.0f} s (seen {same.reuse.seen})"
            return
        t += timedelta(seconds=interval_s)
    result.reused = False
    result.repeat_note = "repeat never detected"


async def load_history(indexer: Indexer, end: datetime) -> tuple[str, int]:
    h_end = end - timedelta(seconds=WINDOW_S)
    events = generate(HISTORY_SEED, h_end - timedelta(seconds=HISTORY_S), h_end, HISTORY_RATE)
    return await indexer.load("eval-history", events), len(events)


async def false_alarms(
    indexer: Indexer,
    client: Any,
    settings: Settings,
    history_topic: str,
    end: datetime,
    seed: int,
    rate: float,
    span_s: float = 30 * 60,
    interval_s: float = 10.0,
) -> tuple[list[Analysis], int, int]:
    """Fault-free traffic over ``span_s`` after the history; every analysis raised is a false one."""
    start = end - timedelta(seconds=WINDOW_S)
    events = generate(seed, start, start + timedelta(seconds=span_s), rate)
    topic = await indexer.load("eval-quiet", events)
    index = await new_analyses_index(client, settings)
    service = scoped_service(client, [history_topic, topic], index)
    cycles = 0
    try:
        t = start + timedelta(seconds=interval_s)
        while t <= start + timedelta(seconds=span_s):
            await service.run_cycle(now=t)
            cycles += 1
            t += timedelta(seconds=interval_s)
        return await all_analyses(service), len(events), cycles
    finally:
        await client.indices.delete(index=f"{index}*", params={"ignore_unavailable": "true"})


def timeline_end(now: datetime | None = None) -> datetime:
    """E: the end of the case windows, so that the repeat phase ends about now."""
    now = now or datetime.now(UTC)
    return (now - timedelta(seconds=REPEAT_S + 60)).replace(second=0, microsecond=0)
