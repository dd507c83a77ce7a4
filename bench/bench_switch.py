"""Blue/green switches under load: requests, failures, latency overall and during the switches.

Needs the stack (`loglens stack up`) and nginx (Debian package). Starts a private nginx (TLS, high
ports, own prefix) and AI service slots through scripts/switch.sh exactly like
tests/e2e/test_blue_green.py, runs the bounded HTTPS load of tests/e2e/loadgen.py (GET /version,
POST /ask, streamed /ask read to `done`), takes a steady-state baseline, then switches N times and
rolls back once while the load runs.

    python -m bench.bench_switch [--switches 4] [--concurrency 6] [--baseline 10]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.record import machine, percentile, record_section, today
from loglens.config import get_settings
from loglens.stack import manager
from tests.e2e.bluegreen import BlueGreen, nginx_binary
from tests.e2e.loadgen import LoadGenerator, Result


def ms(values: list[float], p: float) -> str:
    return f"{percentile(values, p) * 1000:.0f}" if values else "-"


def row(label: str, results: list[Result]) -> str:
    lat = [r.latency for r in results]
    failed = sum(1 for r in results if not r.ok)
    return f"| {label} | {len(results)} | {failed} | {ms(lat, 50)} | {ms(lat, 99)} | {ms(lat, 100)} |"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--switches", type=int, default=4, help="switches to new builds (then one rollback)")
    ap.add_argument("--concurrency", type=int, default=6)
    ap.add_argument("--baseline", type=float, default=10.0, help="seconds of load before the first switch")
    ap.add_argument("--no-record", action="store_true", help="print only, do not write docs/benchmarks.md")
    args = ap.parse_args()

    nginx = nginx_binary()
    if nginx is None:
        print("nginx is not installed (apt-get install -y nginx)", file=sys.stderr)
        return 1
    settings = get_settings()
    manager.up(settings, progress=False)
    with tempfile.TemporaryDirectory(prefix="bench-switch-") as tmp:
        bg = BlueGreen.create(Path(tmp), settings, nginx)
        try:
            first = bg.switch("bench-0")
            if first.returncode != 0:
                print(first.stderr, file=sys.stderr)
                return 1
            load = LoadGenerator(bg.https, concurrency=args.concurrency, max_seconds=600).start()
            time.sleep(args.baseline)
            durations: list[float] = []
            steps = [f"bench-{i}" for i in range(1, args.switches + 1)] + ["rollback"]
            try:
                for step in steps:
                    t0 = time.monotonic()
                    proc: subprocess.CompletedProcess[str] = bg.switch(step)
                    t1 = time.monotonic()
                    load.mark(t0, t1)
                    durations.append(t1 - t0)
                    if proc.returncode != 0:
                        print(proc.stderr, file=sys.stderr)
                        return 1
                    v = bg.version()
                    print(f"{step:>10}: {t1 - t0:5.1f} s -> {v['slot']} {v['build']}")
                    time.sleep(1.0)
            finally:
                summary = load.stop()
        finally:
            bg.close()

    during = summary.during_windows()
    during_ids = {id(r) for r in during}
    steady = [r for r in summary.results if id(r) not in during_ids]
    wall = max(r.end for r in summary.results) - min(r.start for r in summary.results)
    print(summary.describe())
    header = "| requests | n | failed | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|"
    lines = [header, row("all", summary.results), row("during a switch", during), row("steady state", steady)]
    for kind in summary.by_kind():
        lines.append(row(f"{kind}, during a switch", [r for r in during if r.kind == kind]))
        lines.append(row(f"{kind}, steady state", [r for r in steady if r.kind == kind]))
    table = "\n".join(lines)
    print(table)
    md = f"""## Blue/green switch under load ({today()})

{machine()}. `python -m bench.bench_switch --switches {args.switches} --concurrency {args.concurrency}`:
a private nginx (TLS 1.3, HTTP/1.1 keep-alive clients) in front of two AI service processes started by
`scripts/switch.sh`; {args.concurrency} clients loop over `GET /version`, `POST /ask` and streamed
`POST /ask` (read to `event: done`), no retries but the one below, for {wall:.0f} s: {args.baseline:.0f} s baseline,
then {args.switches} switches and one rollback (each {min(durations):.1f}–{max(durations):.1f} s,
mean {sum(durations) / len(durations):.1f} s: start + readiness + smoke + reload + confirm + drain + stop).

**{summary.total} requests, {len(summary.failures)} failed, {len(summary.truncated)} truncated streams**
({len(summary.stale_retries)} sent on a keep-alive connection an old nginx worker closed at reload and
resent once, as browsers do — see docs/deploy.md).

{table}

"During a switch" = requests overlapping a running `switch.sh`. The latency rise comes from the new
slot's start-up (model load, index checks) and the smoke test competing for the same 2 cores as the
live slot, not from the reload itself; on the production host the slots are separate containers
with their own CPU limits.
"""
    if not args.no_record:
        record_section("switch", md)
        print("recorded in docs/benchmarks.md (section switch)")
    return 0 if not summary.failures else 1


if __name__ == "__main__":
    raise SystemExit(main())
