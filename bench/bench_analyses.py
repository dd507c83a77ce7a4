"""Fault-scenario suite of the analysis engine: origin accuracy, detection delay, false analyses, reuse.

Needs the stack (`loglens stack up`). Cases: tests/evals/fault_scenarios.yaml; how a case is
produced, indexed and detected (simulated detection clock): bench/analyses_eval.py.

    python -m bench.bench_analyses [--case NAME ...] [--no-repeat] [--quiet-minutes 30] [--no-record]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

from bench.analyses_eval import (
    HISTORY_RATE,
    Case,
    CaseResult,
    Indexer,
    false_alarms,
    load_cases,
    load_history,
    run_case,
    timeline_end,
)
from bench.record import machine, percentile, record_section, today
from loglens.config import get_settings
from loglens.indices import install_index_templates_async
from loglens.opensearch_client import async_client


def _yes(flag: bool | None) -> str:
    return "–" if flag is None else ("yes" if flag else "**no**")


def case_row(r: CaseResult) -> str:
    c = r.case
    got = ", ".join(r.origins[:3]) or "–"
    delay = f"{r.delay_s:.0f}" if r.delay_s is not None else "not detected"
    first = f"{r.first_delay_s:.0f}" if r.first_delay_s is not None else "–"
    kind = r.analysis.kind if r.analysis else "–"
    return (
        f"| {c.name} | {'+'.join(c.scenarios)} | {c.seed} | {c.rate:g} | {c.fault_rate if c.fault_rate is not None else 'own'} "
        f"| {c.expected_origin} | {got} | {_yes(r.top1 if r.analysis else False)} | {_yes(r.top3 if r.analysis else False)} "
        f"| {kind} | {first} | {delay} | {len(r.raised)} ({r.raised_top1:.0%}) | {_yes(r.reused)} |"
    )


HEADER = (
    "| case | scenario(s) | seed | bg ev/s | fault ep/s | expected origin | ranked (top 3) | top-1 | top-3 "
    "| kind | first analysis s | expected template s | analyses raised (top-1 ok) | repeat reused |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def summary(results: list[CaseResult], quiet: tuple[list[Any], int, int] | None) -> dict[str, Any]:
    n = len(results)
    delays = [r.delay_s for r in results if r.delay_s is not None]
    firsts = [r.first_delay_s for r in results if r.first_delay_s is not None]
    repeats = [r.reused for r in results if r.reused is not None]
    cycle_s = [s for r in results for s in r.cycle_seconds]
    return {
        "cases": n,
        "detected": sum(1 for r in results if r.analysis is not None),
        "top1": sum(1 for r in results if r.analysis and r.top1) / n if n else 0.0,
        "top3": sum(1 for r in results if r.analysis and r.top3) / n if n else 0.0,
        "raised_top1": statistics.fmean([r.raised_top1 for r in results if r.raised]) if results else 0.0,
        "delay_p50": percentile(delays, 50),
        "delay_p95": percentile(delays, 95),
        "delay_max": max(delays) if delays else float("nan"),
        "first_p50": percentile(firsts, 50),
        "first_p95": percentile(firsts, 95),
        "first_max": max(firsts) if firsts else float("nan"),
        "reuse": sum(repeats) / len(repeats) if repeats else float("nan"),
        "repeats": len(repeats),
        "false": len(quiet[0]) if quiet else None,
        "false_titles": [a.title for a in quiet[0]] if quiet else [],
        "quiet_events": quiet[1] if quiet else 0,
        "quiet_cycles": quiet[2] if quiet else 0,
        "cycle_p50": percentile(cycle_s, 50),
        "cycle_p95": percentile(cycle_s, 95),
    }


def render(results: list[CaseResult], s: dict[str, Any], args: argparse.Namespace, wall_s: float) -> str:
    false_line = (
        f"{s['false']} over {args.quiet_minutes} min of fault-free traffic ({s['quiet_events']:,} events, "
        f"{s['quiet_cycles']} cycles)"
        if s["false"] is not None
        else "not measured"
    )
    lines = [
        "## Analyses: fault-scenario suite",
        "",
        f"`python -m bench.bench_analyses` — {today()}, {machine()}. Suite: "
        f"`tests/evals/fault_scenarios.yaml` ({s['cases']} cases), method: `bench/analyses_eval.py`.",
        "",
        f"Each case: 90 min of shared fault-free history ({HISTORY_RATE:g} ev/s), then the case's own topic "
        "with 20 min of background at its rate and the fault from its offset; produced to Kafka and indexed "
        "by the consumer's pipeline in-process (shared template miner, hashing embedder) into the real "
        "OpenSearch; the real `AnalysisService` scoped to the case's topics runs `run_cycle(now)` every "
        "10 s of simulated time (the worker's interval) from the first fault event. **Delay = simulated "
        "time of the first cycle after which the analysis of the expected template is readable from the "
        "store − timestamp of the first fault event** (cycles start at a seed-drawn phase in the 10 s).",
        "",
        "| figure | value | goal |",
        "|---|---|---|",
        f"| origin top-1 (analysis of the expected template) | {s['top1']:.0%} ({round(s['top1'] * s['cases'])}/{s['cases']}) | ≥ 90% |",
        f"| origin top-3 | {s['top3']:.0%} | 100% |",
        f"| top-1 over every analysis a case raised (mean per case) | {s['raised_top1']:.0%} | – |",
        f"| detected (expected template analysed) | {s['detected']}/{s['cases']} | all |",
        f"| delay to the first analysis of the fault, p50 / p95 / max | {s['first_p50']:.0f} s / {s['first_p95']:.0f} s / {s['first_max']:.0f} s | p95 < 30 s |",
        f"| delay to the analysis of the expected template, p50 / p95 / max | {s['delay_p50']:.0f} s / {s['delay_p95']:.0f} s / {s['delay_max']:.0f} s | p95 < 30 s |",
        f"| false analyses | {false_line} | 0 |",
        f"| reuse on the repeated fault | {s['reuse']:.0%} ({s['repeats']} repeats) | 100% |",
        f"| one detection cycle (wall, p50 / p95) | {s['cycle_p50'] * 1000:.0f} ms / {s['cycle_p95'] * 1000:.0f} ms | – |",
        f"| whole run (wall) | {wall_s:.0f} s | – |",
        "",
        HEADER,
        *[case_row(r) for r in results],
    ]
    if s["false_titles"]:
        lines += ["", "False analyses: " + "; ".join(s["false_titles"][:10])]
    notes = [f"{r.case.name}: {r.repeat_note}" for r in results if r.repeat_note and r.reused is False]
    if notes:
        lines += ["", "Repeat phase misses: " + "; ".join(notes)]
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> int:
    settings = get_settings()
    client = async_client(settings)
    cases: list[Case] = load_cases()
    if args.case:
        cases = [c for c in cases if c.name in set(args.case)]
        if not cases:
            raise SystemExit(f"no such case(s): {args.case}")
    started = time.monotonic()
    indexer = Indexer(settings, client)
    end = timeline_end()
    results: list[CaseResult] = []
    quiet = None
    try:
        await install_index_templates_async(client, settings)
        history, n_hist = await load_history(indexer, end)
        print(f"history: {n_hist:,} events in {time.monotonic() - started:.0f} s; E = {end.isoformat()}")
        for case in cases:
            t0 = time.monotonic()
            r = await run_case(case, indexer, client, settings, history, end, repeat=not args.no_repeat)
            results.append(r)
            print(f"{case_row(r)}  [{r.events:,} events, {r.cycles} cycles, {time.monotonic() - t0:.0f} s]")
        if args.quiet_minutes > 0:
            quiet = await false_alarms(
                indexer, client, settings, history, end, 9001, 2.5, span_s=args.quiet_minutes * 60
            )
            print(
                f"fault-free: {len(quiet[0])} analyses over {quiet[2]} cycles: {[a.title for a in quiet[0]]}"
            )
    finally:
        await indexer.cleanup(delete_events=not args.keep)
        await client.close()
    s = summary(results, quiet)
    md = render(results, s, args, time.monotonic() - started)
    print()
    print(md)
    if not args.no_record and not args.case:
        record_section("analyses", md)
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--case", action="append", help="run only this case (repeatable; not recorded)")
    p.add_argument("--no-repeat", action="store_true", help="skip the repeated-fault (reuse) phase")
    p.add_argument("--quiet-minutes", type=float, default=30.0, help="fault-free span (0 = skip)")
    p.add_argument("--keep", action="store_true", help="keep the indexed events (default: deleted)")
    p.add_argument("--no-record", action="store_true", help="do not write docs/benchmarks.md")
    return asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
