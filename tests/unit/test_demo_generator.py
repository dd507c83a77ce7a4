"""The demo traffic generator, its scenarios and the producer helpers (no services needed)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from loglens.demo.cli import main as demo_main
from loglens.demo.generator import LEVEL_VALUES, TrafficGenerator
from loglens.demo.producer import (
    TokenBucket,
    count_lines,
    encode_event,
    iter_file_records,
    produce_events,
    record_from_line,
    write_ndjson,
)
from loglens.demo.scenarios import SCENARIOS, Scenario, all_episode_specs
from loglens.errors import DependencyUnavailable

pytestmark = pytest.mark.unit

Event = dict[str, Any]

REQUIRED = {
    "@timestamp",
    "@version",
    "message",
    "logger_name",
    "thread_name",
    "level",
    "level_value",
    "service",
    "env",
    "version",
    "slot",
    "host",
}
OPTIONAL = {"stack_trace", "traceId", "spanId", "tags"}
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$")
THREAD = re.compile(
    r"^(http-nio-8080-exec-\d+|reactor-http-epoll-\d+|main|scheduling-1|task-\d+|HikariPool-1 housekeeper"
    r"|kafka-producer-network-thread \| producer-1|org\.springframework\.kafka\.KafkaListenerEndpointContainer#0-0-C-1)$"
)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX = re.compile(r"\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{6,}\b")
_NUM = re.compile(r"\d+")


def template_of(message: str) -> str:
    return _NUM.sub("<n>", _HEX.sub("<hex>", _UUID.sub("<uuid>", message)))


def ts(event: Event) -> datetime:
    return datetime.fromisoformat(event["@timestamp"].replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def normal() -> list[Event]:
    return list(TrafficGenerator(seed=0).events(5000))


_SCENARIO_EVENTS: dict[str, list[Event]] = {}


def scenario_events(name: str) -> list[Event]:
    if name not in _SCENARIO_EVENTS:
        _SCENARIO_EVENTS[name] = list(TrafficGenerator(seed=11, scenarios=[name]).events(6000))
    return _SCENARIO_EVENTS[name]


# ---------------------------------------------------------------------------- determinism


def test_same_seed_same_stream() -> None:
    a = list(TrafficGenerator(seed=42).events(1500))
    b = list(TrafficGenerator(seed=42).events(1500))
    assert a == b
    c = list(TrafficGenerator(seed=43).events(1500))
    assert a != c


def test_same_seed_same_stream_with_scenarios() -> None:
    start = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    a = list(
        TrafficGenerator(seed=7, start=start, scenarios=["db-pool-exhaustion", "slow-query"]).events(3000)
    )
    b = list(
        TrafficGenerator(seed=7, start=start, scenarios=["db-pool-exhaustion", "slow-query"]).events(3000)
    )
    assert a == b
    assert a[0]["@timestamp"].startswith("2026-01-02T03:04:")


# ---------------------------------------------------------------------------- shapes


def test_logstash_fields(normal: list[Event]) -> None:
    for e in normal:
        keys = set(e)
        assert REQUIRED <= keys, e
        assert keys <= REQUIRED | OPTIONAL, keys - REQUIRED - OPTIONAL
        assert e["@version"] == "1"
        assert e["level"] in ("DEBUG", "INFO", "WARN", "ERROR")
        assert e["level_value"] == LEVEL_VALUES[e["level"]]
        assert TS.match(e["@timestamp"]), e["@timestamp"]
        assert isinstance(e["message"], str) and e["message"]
        assert THREAD.match(e["thread_name"]), e["thread_name"]
        assert e["host"].startswith(e["service"] + "-")
        assert e["env"] == "dev" and e["version"] == "1.4.2" and e["slot"] == "blue"
        if "traceId" in e:
            assert re.fullmatch(r"[0-9a-f]{32}", e["traceId"])
            assert re.fullmatch(r"[0-9a-f]{16}", e["spanId"])
        else:
            assert "spanId" not in e
        if "tags" in e:
            assert isinstance(e["tags"], list) and all(isinstance(t, str) for t in e["tags"])
        if "stack_trace" in e:
            assert e["level"] in ("WARN", "ERROR")
    # logger names look like Java loggers of the shop and of the frameworks it uses
    loggers = {e["logger_name"] for e in normal}
    assert "com.acme.order.web.OrderController" in loggers
    assert "org.hibernate.SQL" in loggers
    assert any(lg.startswith("com.zaxxer.hikari") for lg in loggers)
    assert {e["service"] for e in normal} == {"gateway", "order", "payment", "inventory", "notification"}
    assert any("tags" in e for e in normal)
    assert any("traceId" not in e for e in normal)  # housekeeper / network threads carry no MDC


def test_timestamps_ordered_and_rate(normal: list[Event]) -> None:
    times = [ts(e) for e in normal]
    assert times == sorted(times)
    assert times[0] >= datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    span = (times[-1] - times[0]).total_seconds()
    assert 5000 / span == pytest.approx(50, rel=0.2)  # default rate: 50 events per simulated second
    fast = list(TrafficGenerator(seed=0, rate=500).events(5000))
    span_fast = (ts(fast[-1]) - ts(fast[0])).total_seconds()
    assert 5000 / span_fast == pytest.approx(500, rel=0.2)


def test_offset_timestamp_kept() -> None:
    events = list(TrafficGenerator(seed=1, start=datetime(2026, 6, 1, 12, 0, tzinfo=UTC)).events(10))
    assert all(e["@timestamp"].endswith("Z") for e in events)
    cet = datetime(2026, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    events = list(TrafficGenerator(seed=1, start=cet).events(10))
    assert all(e["@timestamp"].endswith("+02:00") for e in events)


def test_events_fit_the_consumer_size_cap() -> None:
    gen = TrafficGenerator(seed=3, scenarios=list(SCENARIOS), scenario_offset_s=0)
    for e in gen.events(6000):
        assert len(json.dumps(e, ensure_ascii=False).encode()) < 8192


def test_every_spec_renders() -> None:
    gen = TrafficGenerator(seed=5, rate=1)
    specs = all_episode_specs()
    for i, spec in enumerate(specs):
        gen.inject(spec, at_s=0.001 * i)
    seen = {e["message"] for e in gen.events(3000)}
    assert seen and not any("{" in m and re.search(r"\{[a-z_]+\}", m) for m in seen)


# ---------------------------------------------------------------------------- traces


def test_trace_shared_across_services_span_per_hop(normal: list[Event]) -> None:
    by_trace: dict[str, list[Event]] = defaultdict(list)
    for e in normal:
        if "traceId" in e:
            by_trace[e["traceId"]].append(e)
    multi = [evs for evs in by_trace.values() if len({e["service"] for e in evs}) >= 2]
    assert len(multi) > 100
    full = [
        evs for evs in multi if {e["service"] for e in evs} >= {"gateway", "order", "inventory", "payment"}
    ]
    assert full, "no request went gateway → order → inventory + payment"
    assert any("notification" in {e["service"] for e in evs} for evs in full)
    for evs in multi:
        span_of: dict[str, str] = {}
        for e in evs:
            assert span_of.setdefault(e["service"], e["spanId"]) == e["spanId"]  # one span per hop
        assert len(set(span_of.values())) == len(span_of)  # hops differ
    # a request logs its hops in causal order: the gateway access line comes after order's first line
    for evs in full[:50]:
        first_order = min(ts(e) for e in evs if e["service"] == "order")
        access = [ts(e) for e in evs if e["logger_name"].endswith("AccessLogFilter")]
        assert access and access[0] >= first_order


# ---------------------------------------------------------------------------- stack traces


def test_stack_traces_look_like_java(normal: list[Event]) -> None:
    traces = [e["stack_trace"] for e in normal if "stack_trace" in e]
    assert len(traces) > 20
    caused = [t for t in traces if "\nCaused by: " in t]
    assert caused
    for t in traces:
        lines = t.split("\n")
        assert re.match(r"^[a-z][\w.]*\.[A-Z][\w$]*(: |$)", lines[0]), lines[0]
    t = caused[0]
    assert "\n\tat " in t
    assert re.search(r"\n\t\.\.\. \d+ (common frames omitted|frames truncated)", t)
    frames = [ln for t in traces for ln in t.split("\n") if ln.startswith("\tat ")]
    assert any(f.startswith("\tat org.springframework.") for f in frames)
    assert any(f.startswith("\tat org.apache.catalina.") for f in frames)
    assert any(f.startswith("\tat java.base/jdk.internal.") for f in frames)
    assert any(f.startswith("\tat com.acme.") for f in frames)
    assert all(
        re.match(r"^\tat [\w$./<>]+\((?:[\w$]+\.java:\d+|Native Method|Unknown Source|<generated>)\)$", f)
        for f in frames
    )


def test_caused_by_chain_omits_common_frames() -> None:
    gen = TrafficGenerator(seed=2, scenarios=["db-pool-exhaustion"], scenario_offset_s=0, scenario_rate=5)
    st = next(
        e["stack_trace"]
        for e in gen.events(3000)
        if "CannotCreateTransactionException" in e.get("stack_trace", "")
    )
    assert st.startswith("org.springframework.transaction.CannotCreateTransactionException: ")
    assert st.count("\nCaused by: ") == 2
    assert (
        "\nCaused by: java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available"
        in st
    )
    assert len(re.findall(r"\n\t\.\.\. \d+ common frames omitted", st)) == 2
    assert "\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:" in st


# ---------------------------------------------------------------------------- mix and templates


def test_level_mix(normal: list[Event]) -> None:
    counts = Counter(e["level"] for e in normal)
    share = {k: v / len(normal) for k, v in counts.items()}
    assert 0.80 <= share["INFO"] <= 0.90
    assert 0.05 <= share["WARN"] <= 0.11
    assert 0.02 <= share["ERROR"] <= 0.06
    assert 0.015 <= share["DEBUG"] <= 0.05


def test_template_count_and_repetition(normal: list[Event]) -> None:
    templates = Counter(template_of(e["message"]) for e in normal)
    assert 60 <= len(templates) <= 130
    top10 = sum(n for _, n in templates.most_common(10))
    assert top10 / len(normal) > 0.4  # a few statements dominate, as in real services
    # and the variable parts really vary
    msgs = [e["message"] for e in normal if e["message"].startswith("Received POST /api/orders for customer")]
    assert len(msgs) > 100 and len(set(msgs)) > 0.8 * len(msgs)


# ---------------------------------------------------------------------------- scenarios


def _symptom_events(sc: Scenario, events: list[Event]) -> list[Event]:
    symptoms = sc.symptoms()
    return [
        e
        for e in events
        if e["level"] in ("WARN", "ERROR")
        and any(
            e["service"] == svc and e["level"] == lvl and rx.search(e["message"]) for svc, lvl, rx in symptoms
        )
    ]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_injects_origin_template_and_propagates(name: str) -> None:
    sc = SCENARIOS[name]
    events = scenario_events(name)
    start = ts(events[0]) - timedelta(seconds=1)
    origin = [e for e in events if sc.matches(e["message"]) and e["logger_name"] == sc.origin_logger]
    assert origin, f"{name}: origin template never logged"
    assert {e["service"] for e in origin} == {sc.origin_service}
    assert all(ts(e) >= start + timedelta(seconds=sc.start_offset_s) for e in origin)

    symptoms = _symptom_events(sc, events)
    for service in sc.affected_services:
        assert any(e["service"] == service for e in symptoms), f"{name}: no WARN/ERROR in {service}"

    by_trace: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        if "traceId" in e:
            by_trace[e["traceId"]].append(e)
    symptom_traces = {e["traceId"] for e in symptoms if "traceId" in e}
    assert symptom_traces
    if len(sc.affected_services) >= 2:
        spread = [
            t
            for t in symptom_traces
            if len({e["service"] for e in symptoms if e.get("traceId") == t} & set(sc.affected_services)) >= 2
        ]
        assert spread, f"{name}: errors never share a traceId across affected services"
    else:  # the fault reaches the service through Kafka headers: same trace as the producing request
        assert any(len({e["service"] for e in by_trace[t]}) >= 2 for t in symptom_traces)
    traced_origin = [e for e in origin if "traceId" in e]
    if traced_origin and len(sc.affected_services) >= 2:
        others = set(sc.affected_services) - {sc.origin_service}
        assert any(
            any(s["service"] in others and s["level"] in ("WARN", "ERROR") for s in by_trace[e["traceId"]])
            for e in traced_origin
        ), f"{name}: callers never log errors for the origin's traces"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_origin_template_absent_without_scenario(name: str, normal: list[Event]) -> None:
    sc = SCENARIOS[name]
    assert not [e for e in normal if sc.matches(e["message"]) and e["logger_name"] == sc.origin_logger]


def test_npe_only_in_green_new_version(normal: list[Event]) -> None:
    events = scenario_events("npe-after-deploy")
    npe = [e for e in events if "NullPointerException" in e["message"] + e.get("stack_trace", "")]
    assert len(npe) > 10
    assert all((e["service"], e["version"], e["slot"]) == ("order", "1.4.3", "green") for e in npe)
    assert all(e["host"] != h for e in npe for h in {x["host"] for x in normal if x["service"] == "order"})
    npe_traces = {e["traceId"] for e in npe}
    gateway = [e for e in events if e.get("traceId") in npe_traces and e["service"] == "gateway"]
    assert gateway and all(e["slot"] == "blue" for e in gateway)
    after = ts(npe[0])
    blue_order = [e for e in events if e["service"] == "order" and e["slot"] == "blue" and ts(e) > after]
    assert blue_order and not any("NullPointerException" in e.get("stack_trace", "") for e in blue_order)
    assert any("Starting OrderServiceApplication v1.4.3" in e["message"] for e in events)
    assert not any("NullPointerException" in e.get("stack_trace", "") for e in normal)


def test_bad_config_startup_failure() -> None:
    events = scenario_events("bad-config")
    failures = [e for e in events if "APPLICATION FAILED TO START" in e["message"]]
    assert failures and all(e["service"] == "payment" and e["thread_name"] == "main" for e in failures)
    assert all("traceId" not in e for e in failures)
    assert "Failed to bind properties under 'payment.gateway.timeout'" in failures[0]["message"]
    refused = [e for e in events if "Connection refused" in e.get("stack_trace", "")]
    assert refused and {e["service"] for e in refused} == {"order"}


def test_scenario_offset_rate_and_duration() -> None:
    gen = TrafficGenerator(
        seed=4, scenarios=["slow-query"], scenario_offset_s=60, scenario_rate=2.0, scenario_duration_s=30
    )
    events = list(gen.events(8000))
    sc = SCENARIOS["slow-query"]
    hits = [ts(e) for e in events if sc.matches(e["message"])]
    start = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert hits
    assert min(hits) >= start + timedelta(seconds=60)
    assert max(hits) <= start + timedelta(seconds=60 + 30 + 10)  # + the slow query's own duration
    assert 30 <= len(hits) <= 100  # ~2/s for 30 s


def test_unknown_scenario_and_service() -> None:
    with pytest.raises(KeyError, match="unknown scenario"):
        TrafficGenerator(scenarios=["nope"])
    with pytest.raises(ValueError, match="unknown service"):
        TrafficGenerator(services=["billing"])


def test_services_subset() -> None:
    events = list(TrafficGenerator(seed=1, services=["gateway", "order"]).events(1000))
    assert {e["service"] for e in events} == {"gateway", "order"}


# ---------------------------------------------------------------------------- producer helpers and CLI


def test_encode_event_and_ndjson_roundtrip(tmp_path: Path) -> None:
    events = list(TrafficGenerator(seed=9).events(200))
    key, value = encode_event(events[0])
    assert key == events[0]["service"].encode()
    assert b"\n" not in value and b", " not in value[:40]
    assert json.loads(value) == events[0]
    path = tmp_path / "events.ndjson"
    assert write_ndjson(path, events) == 200
    with path.open("a", encoding="utf-8") as fh:
        fh.write("\nnot json at all\n")
    assert count_lines(path) == 201
    records = list(iter_file_records(path))
    assert len(records) == 201
    assert records[-1] == (None, b"not json at all")
    assert records[0] == (events[0]["service"].encode(), path.read_bytes().split(b"\n")[0])
    assert record_from_line(b'{"service": 5}') == (None, b'{"service": 5}')
    assert record_from_line(b"\xff\xfe") == (None, b"\xff\xfe")


async def test_token_bucket_paces() -> None:
    bucket = TokenBucket(200.0, burst=1.0)
    t0 = time.monotonic()
    for _ in range(21):
        assert await bucket.take()
    assert time.monotonic() - t0 >= 0.09
    stop = asyncio.Event()
    stop.set()
    slow = TokenBucket(0.5, burst=1.0)
    assert await slow.take(stop)  # the first token is there
    assert not await slow.take(stop)  # then it gives up instead of waiting 2 s


async def test_produce_to_unreachable_kafka_fails_fast() -> None:
    t0 = time.monotonic()
    with pytest.raises(DependencyUnavailable, match=r"cannot reach Kafka at 127\.0\.0\.1:1 — start it with"):
        await produce_events(iter([{"service": "x", "message": "m"}]), "127.0.0.1:1", "app-logs", None, False)
    assert time.monotonic() - t0 < 10


def test_cli_writes_ndjson(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo.ndjson"
    rc = demo_main(
        [
            "demo-traffic",
            "--count",
            "300",
            "--seed",
            "1",
            "--start",
            "2026-11-20T09:00:00Z",
            "--scenario",
            "npe-after-deploy",
            "--scenario-offset",
            "0",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 300
    assert json.loads(lines[0])["@timestamp"].startswith("2026-11-20T09:00:0")
    expected = list(
        TrafficGenerator(
            seed=1,
            start=datetime(2026, 11, 20, 9, tzinfo=UTC),
            scenarios=["npe-after-deploy"],
            scenario_offset_s=0,
        ).events(300)
    )
    assert [json.loads(x) for x in lines] == expected
    assert demo_main(["demo-traffic", "--list-scenarios"]) == 0
    assert "db-pool-exhaustion" in capsys.readouterr().out
    assert demo_main(["demo-traffic", "--out", str(out)]) == 2  # unbounded file


def test_cli_kafka_unreachable_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    rc = demo_main(["demo-traffic", "--count", "5", "--bootstrap", "127.0.0.1:1", "--no-progress"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "error: cannot reach Kafka at 127.0.0.1:1 — start it with `loglens stack up`" in err
    assert "Traceback" not in err


def test_cli_replay_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert demo_main(["replay", str(tmp_path / "missing.ndjson")]) == 2
    assert "no such file" in capsys.readouterr().err
