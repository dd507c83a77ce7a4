"""``loglens demo-traffic`` and ``loglens replay`` (also ``python -m loglens.demo.cli ...``).

``add_subparsers(subparsers)`` registers both commands on the ``loglens`` CLI; each sets
``func`` to a ``(args) -> int`` returning the exit code: 0 done (Ctrl-C on an open-ended
run counts as done, after flushing), 1 records failed, 2 Kafka unreachable or bad usage,
130 interrupted twice.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from loglens.demo.generator import DEFAULT_RATE, TrafficGenerator
from loglens.demo.producer import ProduceError, produce_events, replay_file, write_ndjson
from loglens.demo.scenarios import SCENARIOS
from loglens.errors import ConfigError, DependencyUnavailable

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

T = TypeVar("T")


def _err(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _kafka_defaults(args: argparse.Namespace) -> tuple[str, str]:
    from loglens.config import get_settings

    settings = get_settings()
    return args.bootstrap or settings.kafka_bootstrap, args.topic or settings.topic


def _parse_start(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    ts = datetime.fromisoformat(text)
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def _run_until_signal(make: Callable[[asyncio.Event], Awaitable[T]]) -> T:
    """Run ``make(stop)``; the first SIGINT/SIGTERM sets ``stop`` (graceful: flush and return),
    a second one cancels the task (raises CancelledError)."""

    async def runner() -> T:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        task = asyncio.current_task()
        installed: list[signal.Signals] = []

        def on_signal() -> None:
            if stop.is_set():
                if task is not None:
                    task.cancel()
            else:
                print("\nstopping (flushing to Kafka); press Ctrl-C again to abort", file=sys.stderr)
                stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, on_signal)
                installed.append(sig)
        try:
            return await make(stop)
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    return asyncio.run(runner())


def _print_scenarios() -> None:
    width = max(len(n) for n in SCENARIOS)
    for name, sc in SCENARIOS.items():
        affected = ", ".join(sc.affected_services)
        print(f"{name:<{width}}  origin={sc.origin_service:<12} affected={affected}")
        print(f"{'':<{width}}  {sc.description}")
        print(f"{'':<{width}}  expected template: {sc.expected_template}")


def _bounded(gen: TrafficGenerator, count: int | None, duration: float | None) -> Iterator[dict[str, Any]]:
    if count is not None:
        yield from gen.events(count)
        return
    while True:
        event = gen.next_event()
        if duration is not None and gen.elapsed_s > duration:
            return
        yield event


async def _live(
    gen: TrafficGenerator, events: Iterator[dict[str, Any]], stop: asyncio.Event
) -> AsyncIterator[dict[str, Any]]:
    """Release each event when the wall clock reaches its simulated time, so the stream runs at
    the simulated rate (normal traffic plus any fault) and ``@timestamp`` stays close to now."""
    t0 = time.monotonic()
    for event in events:
        while True:
            delay = t0 + gen.elapsed_s - time.monotonic()
            if delay <= 0.001 or stop.is_set():
                break
            await asyncio.sleep(min(delay, 0.25))
        if stop.is_set():
            return
        yield event


def cmd_demo_traffic(args: argparse.Namespace) -> int:
    if args.list_scenarios:
        _print_scenarios()
        return EXIT_OK
    if args.rate <= 0:
        _err("--rate must be > 0 (use --fast to send without pacing)")
        return EXIT_USAGE
    if args.count is not None and args.count < 0:
        _err("--count must be >= 0")
        return EXIT_USAGE
    if args.out and args.count is None and args.duration is None:
        _err("--out needs --count or --duration (a file cannot grow forever)")
        return EXIT_USAGE
    try:
        start = _parse_start(args.start)
    except ValueError:
        _err(f"--start {args.start!r} is not an ISO-8601 timestamp")
        return EXIT_USAGE
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    gen = TrafficGenerator(
        seed=seed,
        start=start,
        env=args.env,
        scenarios=args.scenario or [],
        rate=args.rate,
        scenario_offset_s=args.scenario_offset,
        scenario_rate=args.scenario_rate,
        startup=args.startup,
    )
    scen = ",".join(args.scenario or []) or "none"
    events = _bounded(gen, args.count, args.duration)
    if args.out:
        t0 = time.monotonic()
        n = write_ndjson(args.out, events)
        if args.out != "-":
            print(
                f"wrote {n} events ({gen.elapsed_s:.0f} s of traffic, seed={seed}, scenarios={scen}) to "
                f"{args.out} in {time.monotonic() - t0:.1f} s",
                file=sys.stderr,
            )
        return EXIT_OK

    bootstrap, topic = _kafka_defaults(args)
    paced = " (unpaced)" if args.fast else ""
    print(
        f"demo traffic → {topic} at {bootstrap}: {args.rate:g} events/s{paced}, "
        f"seed={seed}, scenarios={scen}; Ctrl-C to stop",
        file=sys.stderr,
    )
    t0 = time.monotonic()
    try:
        acked = _run_until_signal(
            lambda stop: produce_events(
                events if args.fast else _live(gen, events, stop),
                bootstrap,
                topic,
                None,
                not args.no_progress,
                total=args.count,
                stop=stop,
            )
        )
    except (DependencyUnavailable, ConfigError) as exc:
        _err(exc.message)
        return EXIT_USAGE
    except ProduceError as exc:
        _err(f"{exc.message} ({exc.acked} acknowledged before)")
        return EXIT_FAILED
    except (asyncio.CancelledError, KeyboardInterrupt):
        _err("aborted before all records were acknowledged")
        return EXIT_INTERRUPTED
    elapsed = time.monotonic() - t0
    print(
        f"produced {acked} events to {topic} in {elapsed:.1f} s ({acked / max(elapsed, 1e-9):.0f} events/s)",
        file=sys.stderr,
    )
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        _err(f"no such file: {path}")
        return EXIT_USAGE
    if args.rate is not None and args.rate <= 0:
        _err("--rate must be > 0 (omit it to replay as fast as possible)")
        return EXIT_USAGE
    bootstrap, topic = _kafka_defaults(args)
    t0 = time.monotonic()
    try:
        acked = _run_until_signal(
            lambda stop: replay_file(path, bootstrap, topic, args.rate, not args.no_progress, stop=stop)
        )
    except (DependencyUnavailable, ConfigError) as exc:
        _err(exc.message)
        return EXIT_USAGE
    except ProduceError as exc:
        _err(f"{exc.message} ({exc.acked} acknowledged before)")
        return EXIT_FAILED
    except (asyncio.CancelledError, KeyboardInterrupt):
        _err("aborted before all records were acknowledged")
        return EXIT_INTERRUPTED
    elapsed = time.monotonic() - t0
    print(
        f"replayed {acked} records from {path} to {topic} in {elapsed:.1f} s "
        f"({acked / max(elapsed, 1e-9):.0f} records/s)",
        file=sys.stderr,
    )
    return EXIT_OK


def _kafka_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--bootstrap", help="Kafka bootstrap servers (default: LOGLENS_KAFKA_BOOTSTRAP, 127.0.0.1:9092)"
    )
    p.add_argument("--topic", help="topic (default: LOGLENS_TOPIC, app-logs)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def add_subparsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``demo-traffic`` and ``replay`` on an argparse sub-command set."""
    p = subparsers.add_parser(
        "demo-traffic",
        help="generate realistic Spring Boot logs (optionally with a fault) into Kafka or a file",
        description="Simulated traffic of a Spring Boot shop (gateway → order → inventory/payment → "
        "notification) as logstash-logback-encoder JSON, keyed by service. Runs until Ctrl-C unless "
        "--count or --duration is given.",
    )
    p.add_argument("--rate", type=float, default=DEFAULT_RATE, help="events per second (default %(default)s)")
    bound = p.add_mutually_exclusive_group()
    bound.add_argument("--count", type=int, help="stop after N events")
    bound.add_argument("--duration", type=float, help="stop after S seconds of (simulated) traffic")
    p.add_argument("--seed", type=int, help="random seed (default: random, printed)")
    p.add_argument(
        "--scenario",
        action="append",
        choices=sorted(SCENARIOS),
        metavar="NAME",
        help="inject a fault scenario (repeatable); see --list-scenarios",
    )
    p.add_argument("--scenario-offset", type=float, help="seconds of traffic before the fault starts")
    p.add_argument("--scenario-rate", type=float, help="fault episodes per second")
    p.add_argument("--list-scenarios", action="store_true", help="list the fault scenarios and exit")
    p.add_argument("--start", help="timestamp of the first event, ISO-8601 (default: now)")
    p.add_argument("--env", default="dev", help="env field of the events (default %(default)s)")
    p.add_argument("--startup", action="store_true", help="begin with every pod's Spring Boot start-up logs")
    p.add_argument(
        "--fast",
        action="store_true",
        help="send as fast as Kafka accepts (timestamps still advance at --rate)",
    )
    p.add_argument("--out", metavar="FILE", help="write NDJSON to FILE ('-' = stdout) instead of Kafka")
    _kafka_args(p)
    p.set_defaults(func=cmd_demo_traffic)

    p = subparsers.add_parser(
        "replay",
        help="send an NDJSON file to Kafka, one record per line",
        description="Each non-empty line becomes one record, bytes unchanged; the key is the line's "
        "'service' when it is JSON. Lines that are not JSON are sent as they are (the consumer "
        "dead-letters them).",
    )
    p.add_argument("file", help="NDJSON file")
    p.add_argument("--rate", type=float, help="records per second (default: as fast as possible)")
    _kafka_args(p)
    p.set_defaults(func=cmd_replay)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m loglens.demo.cli")
    add_subparsers(parser.add_subparsers(dest="command", required=True))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


if __name__ == "__main__":
    raise SystemExit(main())
