"""A deterministic generator of Spring Boot (logstash-logback-encoder) log events.

It plays the episode specifications of :mod:`loglens.demo.scenarios` on a simulated
clock: episodes (requests, scheduled jobs, pod start-ups ...) arrive as a Poisson
process sized so that the whole stream averages ``rate`` events per simulated second;
each episode's steps are scheduled at their own offsets (a 30 s connection-pool
timeout really logs 30 s later) and all pending events are emitted in timestamp order,
so concurrent requests interleave as they do in a real shop.

Every event is the JSON object (as a dict) that ``net.logstash.logback.encoder.LogstashEncoder``
writes for a Spring Boot 3 service with Micrometer Tracing's MDC and a few custom
fields::

    {"@timestamp": "2026-11-20T09:00:01.234Z", "@version": "1", "message": "...",
     "logger_name": "com.acme.order.web.OrderController", "thread_name": "http-nio-8080-exec-7",
     "level": "INFO", "level_value": 20000, "stack_trace": "...",           # errors only
     "traceId": "<32 hex>", "spanId": "<16 hex>",                           # MDC, when traced
     "service": "order", "env": "dev", "version": "1.4.2", "slot": "blue",
     "host": "order-7f9c6d8b5-x2k9p", "tags": ["audit"]}                     # tags sometimes

The same ``seed`` (and ``start``, ``rate``, scenarios ...) always yields the same stream.
"""

from __future__ import annotations

import heapq
import itertools
import random
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from loglens.demo.scenarios import (
    DEFAULT_SERVICES,
    HTTP,
    KAFKA_CONSUMER,
    KAFKA_PRODUCER,
    MAIN,
    NORMAL_EPISODES,
    REACTOR,
    SCHEDULING,
    SERVICES,
    TASK,
    UNTRACED_THREADS,
    EpisodeSpec,
    Scenario,
    Stack,
    Step,
    get_scenario,
    startup_steps,
)

Event = dict[str, Any]

LEVEL_VALUES: dict[str, int] = {"TRACE": 5000, "DEBUG": 10000, "INFO": 20000, "WARN": 30000, "ERROR": 40000}
DEFAULT_START = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)
DEFAULT_RATE = 50.0
# Like logstash's ShortenedThrowableConverter(maxDepthPerThrowable=30): keeps one event well under 8 KiB.
DEFAULT_MAX_STACK_DEPTH = 30

_K8S_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_STATIC_THREADS = {
    MAIN: "main",
    SCHEDULING: "scheduling-1",
    KAFKA_PRODUCER: "kafka-producer-network-thread | producer-1",
    KAFKA_CONSUMER: "org.springframework.kafka.KafkaListenerEndpointContainer#0-0-C-1",
    "hikari": "HikariPool-1 housekeeper",
}


def _iso(ts: datetime) -> str:
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Params(dict[str, str]):
    """An episode's parameters, drawn lazily the first time a template asks for one.

    Context keys (``now_iso``, ``elapsed_ms``, ``version`` ...) are set by the engine
    before each step is rendered; everything else comes from :data:`PARAM_FACTORIES`
    and stays fixed for the whole episode, so ``{order_no}`` is the same order in
    every service that logs about it.
    """

    def __init__(self, rng: random.Random) -> None:
        super().__init__()
        self.rng = rng
        self.now = DEFAULT_START

    def __missing__(self, key: str) -> str:
        factory = PARAM_FACTORIES.get(key)
        if factory is None:
            raise KeyError(f"no parameter factory for {{{key}}}")
        value = factory(self.rng, self)
        self[key] = value
        return value


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _int(lo: int, hi: int) -> Callable[[random.Random, Params], str]:
    return lambda rng, _p: str(rng.randint(lo, hi))


def _pick(*values: str) -> Callable[[random.Random, Params], str]:
    return lambda rng, _p: rng.choice(values)


def _kafka_node(rng: random.Random, _p: Params) -> str:
    node = rng.randint(1, 3)
    return f"node {node} (kafka-{node - 1}.kafka-headless/10.0.0.{4 + node}:9092)"


def _jwt_exp(rng: random.Random, p: Params) -> str:
    exp = p.now - timedelta(milliseconds=int(p["jwt_skew_ms"]))
    return exp.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _idle(rng: random.Random, p: Params) -> str:
    return str(10 - int(p["active"]))


def _settled(rng: random.Random, p: Params) -> str:
    return str(rng.randint(0, int(p["pending"])))


def _still_pending(rng: random.Random, p: Params) -> str:
    return str(int(p["pending"]) - int(p["settled"]))


def _proc_s(rng: random.Random, p: Params) -> str:
    return f"{float(p['startup_s']) + rng.uniform(0.4, 0.9):.3f}"


PARAM_FACTORIES: dict[str, Callable[[random.Random, Params], str]] = {
    "customer": _int(1000, 99999),
    "order_no": lambda rng, _p: f"ORD-{rng.randint(10_000_000, 99_999_999)}",
    "sku": lambda rng, _p: f"SKU-{rng.randint(10000, 99999)}",
    "qty": _int(1, 4),
    "big_qty": _int(5, 12),
    "low": _int(0, 4),
    "stock": _int(5, 900),
    "amount": lambda rng, _p: f"{rng.randint(5, 899)}.{rng.randint(0, 99):02d}",
    "idem_key": lambda rng, _p: _uuid(rng),
    "payment_id": lambda rng, _p: _uuid(rng),
    "refund_id": lambda rng, _p: _uuid(rng),
    "psp_ref": lambda rng, _p: f"PSP{rng.randint(10**11, 10**12 - 1)}",
    "psp_ms": _int(80, 900),
    "email_ms": _int(40, 400),
    "partition": _int(0, 5),
    "offset": _int(10_000, 2_000_000),
    "client_ip": lambda rng, _p: f"10.{rng.randint(0, 3)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
    "page": _int(0, 5),
    "found": _int(0, 40),
    "bad_qty": _pick("0", "-1"),
    "decline": _pick("insufficient_funds (code 51)", "expired_card (code 54)", "do_not_honor (code 05)"),
    "jwt_skew_ms": _int(1_000, 3_600_000),
    "jwt_exp": _jwt_exp,
    "stock_item_id": _int(1, 50_000),
    "active": _int(0, 4),
    "idle": _idle,
    "pending": _int(0, 25),
    "settled": _settled,
    "still_pending": _still_pending,
    "batch": _int(1, 25),
    "job_ms": _int(15, 2500),
    "sku_count": _int(1200, 1500),
    "changed": _int(0, 60),
    "slow_ms": _int(2500, 9000),
    "hikari_ms": _int(30000, 30012),
    "waiting": _int(3, 40),
    "conn_hash": lambda rng, _p: f"{rng.getrandbits(32):x}",
    "task_n": _int(1, 8),
    "housekeeper_delta": lambda rng, _p: f"{rng.randint(1, 3)}m{rng.randint(0, 59)}s{rng.randint(0, 999)}ms",
    "kafka_node": _kafka_node,
    "req_id": lambda rng, _p: f"{rng.getrandbits(32):08x}-{rng.randint(1, 9999)}",
    "repo_ms": _int(40, 250),
    "repo_n": _int(2, 6),
    "init_ms": _int(900, 2600),
    "startup_s": lambda rng, _p: f"{rng.uniform(5.5, 14.0):.3f}",
    "proc_s": _proc_s,
}


@dataclass
class _Source:
    """A Poisson stream of episodes drawn from weighted specs."""

    specs: tuple[EpisodeSpec, ...]
    cum_weights: list[float]
    rate: float  # episodes per simulated second
    next_t: float
    end_t: float
    scenario: Scenario | None = None


def _mean_events(spec: EpisodeSpec, services: frozenset[str]) -> float:
    return sum(step.p for step in spec.steps if step.service in services)


def _pod_names(seed: int, service: str, version: str, slot: str, count: int) -> tuple[str, ...]:
    rng = random.Random(f"pods/{seed}/{service}/{version}/{slot}")
    rs = "".join(rng.choice(_K8S_ALPHABET) for _ in range(rng.choice((9, 10))))
    return tuple(
        f"{service}-{rs}-{''.join(rng.choice(_K8S_ALPHABET) for _ in range(5))}" for _ in range(count)
    )


def _common_suffix(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    n = 0
    while n < len(a) - 1 and n < len(b) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


def _stack_body(frames: tuple[str, ...], common: int, max_depth: int | None) -> str:
    own = frames[: len(frames) - common]
    lines = []
    shown = own if max_depth is None else own[:max_depth]
    for frame in shown:
        lines.append(f"\n\tat {frame}")
    hidden = len(own) - len(shown)
    if hidden and common:
        lines.append(f"\n\t... {hidden + common} frames truncated (including {common} common frames)")
    elif hidden:
        lines.append(f"\n\t... {hidden} frames truncated")
    elif common:
        lines.append(f"\n\t... {common} common frames omitted")
    return "".join(lines)


class TrafficGenerator:
    """Simulated traffic of the acme shop (gateway → order → inventory/payment → notification).

    ``rate`` is the average number of normal events per simulated second; fault
    scenarios add their episodes on top from ``scenario_offset_s`` (default: each
    scenario's own ``start_offset_s``) at ``scenario_rate`` episodes per simulated second
    (default: the scenario's ``rate_per_s``) for ``scenario_duration_s`` (default: forever).
    ``startup=True`` makes every pod log its Spring Boot start-up first.
    """

    def __init__(
        self,
        seed: int = 0,
        start: datetime | None = None,
        services: Sequence[str] = DEFAULT_SERVICES,
        env: str = "dev",
        version: str = "1.4.2",
        slot: str = "blue",
        scenarios: Sequence[str | Scenario] = (),
        *,
        rate: float = DEFAULT_RATE,
        scenario_offset_s: float | None = None,
        scenario_rate: float | None = None,
        scenario_duration_s: float | None = None,
        pods_per_service: int = 2,
        startup: bool = False,
        max_stack_depth: int | None = DEFAULT_MAX_STACK_DEPTH,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0 events per simulated second")
        if not services:
            raise ValueError("services must name at least one service")
        unknown = [s for s in services if s not in SERVICES]
        if unknown:
            raise ValueError(f"unknown service(s) {unknown}; known: {', '.join(SERVICES)}")
        self.seed = seed
        start = start or DEFAULT_START
        self.start = start if start.tzinfo is not None else start.replace(tzinfo=UTC)
        self.services = frozenset(services)
        self.env = env
        self.version = version
        self.slot = slot
        self.rate = rate
        self.max_stack_depth = max_stack_depth
        self.scenarios: list[Scenario] = [get_scenario(s) if isinstance(s, str) else s for s in scenarios]
        self._pods_per_service = pods_per_service
        self._rng = random.Random(seed)
        self._heap: list[tuple[float, int, Event]] = []
        self._seq = itertools.count()
        self._last_t = 0.0
        self._emitted = 0
        self._stack_cache: dict[int, tuple[Stack, list[tuple[str, str]]]] = {}
        self._pods: dict[tuple[str, str, str], tuple[str, ...]] = {}
        self._routes: dict[str, str] = {}

        specs = tuple(s for s in NORMAL_EPISODES if _mean_events(s, self.services) > 0)
        weights = [s.weight for s in specs]
        mean = sum(w * _mean_events(s, self.services) for s, w in zip(specs, weights, strict=True)) / sum(
            weights
        )
        self.mean_events_per_episode = mean
        normal = _Source(specs, list(itertools.accumulate(weights)), rate / mean, 0.0, float("inf"))
        normal.next_t = self._rng.expovariate(normal.rate)
        self._sources: list[_Source] = [normal]

        if startup:
            for service in sorted(self.services):
                for host in self._hosts(service, version, slot):
                    self._spawn(
                        EpisodeSpec(f"startup-{service}", startup_steps(service)),
                        self._rng.uniform(0.0, 1.5),
                        None,
                        host,
                    )

        for sc in self.scenarios:
            offset = sc.start_offset_s if scenario_offset_s is None else scenario_offset_s
            sc_rate = sc.rate_per_s if scenario_rate is None else scenario_rate
            end = float("inf") if scenario_duration_s is None else offset + scenario_duration_s
            for spec in sc.onset:
                self._spawn(spec, offset, sc)
            specs_sc = tuple(s for s in sc.episodes if _mean_events(s, self.services) > 0)
            if sc_rate > 0 and specs_sc:
                src = _Source(
                    specs_sc,
                    list(itertools.accumulate(s.weight for s in specs_sc)),
                    sc_rate,
                    offset + self._rng.expovariate(sc_rate),
                    end,
                    sc,
                )
                self._sources.append(src)

    # ------------------------------------------------------------------ public API

    def next_event(self) -> Event:
        """The next event in timestamp order."""
        while True:
            src = min(self._sources, key=lambda s: s.next_t)
            if self._heap and self._heap[0][0] <= src.next_t:
                t, _, event = heapq.heappop(self._heap)
                self._last_t = t
                self._emitted += 1
                return event
            spec = self._rng.choices(src.specs, cum_weights=src.cum_weights)[0]
            self._spawn(spec, src.next_t, src.scenario)
            src.next_t += self._rng.expovariate(src.rate)
            if src.next_t > src.end_t:
                src.next_t = float("inf")

    def inject(self, spec: EpisodeSpec, at_s: float | None = None, scenario: Scenario | None = None) -> None:
        """Schedule one episode at ``at_s`` simulated seconds (default: the last emitted event's time);
        ``scenario`` makes its origin service log from the scenario's deployment (version/slot)."""
        self._spawn(spec, self._last_t if at_s is None else at_s, scenario)

    def events(self, n: int | None = None) -> Iterator[Event]:
        """``n`` events (forever when ``None``)."""
        counter = itertools.count() if n is None else range(n)
        for _ in counter:
            yield self.next_event()

    def __iter__(self) -> Iterator[Event]:
        return self.events()

    @property
    def elapsed_s(self) -> float:
        """Simulated seconds from ``start`` to the last emitted event."""
        return self._last_t

    @property
    def emitted(self) -> int:
        return self._emitted

    # ------------------------------------------------------------------ engine

    def _hosts(self, service: str, version: str, slot: str) -> tuple[str, ...]:
        key = (service, version, slot)
        hosts = self._pods.get(key)
        if hosts is None:
            count = self._pods_per_service if (version, slot) == (self.version, self.slot) else 1
            hosts = _pod_names(self.seed, service, version, slot, count)
            self._pods[key] = hosts
        return hosts

    def _route(self, spec: EpisodeSpec) -> str:
        route = self._routes.get(spec.name)
        if route is None:
            first = next((s.service for s in spec.steps if s.service != "gateway"), "order")
            route = self._routes[spec.name] = f"{first}-service"
        return route

    def _thread(self, kind: str, service: str, cache: dict[tuple[str, str], str]) -> str:
        name = _STATIC_THREADS.get(kind)
        if name is not None:
            return name
        key = (kind, service)
        name = cache.get(key)
        if name is None:
            rng = self._rng
            if kind == HTTP:
                name = f"http-nio-8080-exec-{rng.randint(1, 24)}"
            elif kind == REACTOR:
                name = f"reactor-http-epoll-{rng.randint(1, 4)}"
            elif kind == TASK:
                name = f"task-{rng.randint(1, 8)}"
            else:
                name = kind
            cache[key] = name
        return name

    def _render_stack(self, stack: Stack, params: Params) -> str:
        cached = self._stack_cache.get(id(stack))
        if cached is None:
            parts: list[tuple[str, str]] = []
            enclosing: tuple[str, ...] = ()
            for i, exc in enumerate(stack):
                common = _common_suffix(exc.frames, enclosing) if i else 0
                parts.append((exc.header, _stack_body(exc.frames, common, self.max_stack_depth)))
                enclosing = exc.frames
            cached = (stack, parts)
            self._stack_cache[id(stack)] = cached
        out = []
        for i, (header, body) in enumerate(cached[1]):
            text = header.format_map(params) if "{" in header else header
            out.append(("\nCaused by: " if i else "") + text + body)
        return "".join(out)

    def _spawn(
        self, spec: EpisodeSpec, t0: float, scenario: Scenario | None, host: str | None = None
    ) -> None:
        rng = self._rng
        params = Params(rng)
        params["env"] = self.env
        params["route"] = self._route(spec)
        trace_id = f"{rng.getrandbits(128):032x}"
        spans: dict[str, str] = {}
        hosts: dict[str, tuple[str, str, str]] = {}
        threads: dict[tuple[str, str], str] = {}
        first_t: dict[str, float] = {}
        t = t0
        for step in spec.steps:
            if step.service not in self.services:
                continue
            if step.p < 1.0 and rng.random() >= step.p:
                continue
            delay = step.delay
            if isinstance(delay, str):
                t += int(params[delay]) / 1000.0
            else:
                t += rng.randint(delay[0], delay[1]) / 1000.0
            heapq.heappush(
                self._heap,
                (
                    t,
                    next(self._seq),
                    self._event(
                        step, t, t0, params, trace_id, spans, hosts, threads, first_t, scenario, host
                    ),
                ),
            )

    def _event(
        self,
        step: Step,
        t: float,
        t0: float,
        params: Params,
        trace_id: str,
        spans: dict[str, str],
        hosts: dict[str, tuple[str, str, str]],
        threads: dict[tuple[str, str], str],
        first_t: dict[str, float],
        scenario: Scenario | None,
        forced_host: str | None,
    ) -> Event:
        rng = self._rng
        service = step.service
        where = hosts.get(service)
        if where is None:
            version, slot = self.version, self.slot
            if scenario is not None and service == scenario.origin_service:
                version = scenario.origin_version or version
                slot = scenario.origin_slot or slot
            host = forced_host or rng.choice(self._hosts(service, version, slot))
            where = hosts[service] = (version, slot, host)
        version, slot, host = where
        first = first_t.setdefault(service, t)
        now = self.start + timedelta(seconds=t)
        params.now = now
        ts = _iso(now)
        params["now_iso"] = ts
        params["elapsed_ms"] = str(int((t - t0) * 1000))
        params["span_ms"] = str(int((t - first) * 1000))
        params["version"] = version
        params["app_class"] = SERVICES[service].app_class
        message = step.message.format_map(params) if "{" in step.message else step.message
        level = step.level
        event: Event = {
            "@timestamp": ts,
            "@version": "1",
            "message": message,
            "logger_name": step.logger,
            "thread_name": self._thread(step.thread, service, threads),
            "level": level,
            "level_value": LEVEL_VALUES[level],
        }
        if step.stack:
            event["stack_trace"] = self._render_stack(step.stack, params)
        if step.thread not in UNTRACED_THREADS:
            span = spans.get(service)
            if span is None:
                span = spans[service] = f"{rng.getrandbits(64):016x}"
            event["traceId"] = trace_id
            event["spanId"] = span
        event["service"] = service
        event["env"] = self.env
        event["version"] = version
        event["slot"] = slot
        event["host"] = host
        if step.tags:
            event["tags"] = list(step.tags)
        return event
