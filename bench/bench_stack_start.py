"""Stack start-up seconds: cold (artifacts cached, data wiped) and warm (data kept), plus reuse.

Stops and restarts the local stack, so run it when nothing else needs Kafka/OpenSearch:

    python -m bench.bench_stack_start [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.record import machine, record_section, today
from loglens.config import get_settings
from loglens.stack import manager


def timed_up() -> float:
    start = time.perf_counter()
    manager.up(get_settings(), progress=False)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--note", default="", help="a sentence on the conditions, added to the record")
    args = parser.parse_args()
    settings = get_settings()
    manager.up(settings, progress=False)  # make sure artifacts are cached first
    cold, warm, reuse = [], [], []
    for _ in range(args.rounds):
        manager.down(settings, wipe=True)
        cold.append(timed_up())
        manager.down(settings, wipe=False)
        warm.append(timed_up())
        reuse.append(timed_up())
    row = (statistics.median(cold), statistics.median(warm), statistics.median(reuse))
    print(f"cold {row[0]:.1f}s  warm {row[1]:.1f}s  reuse {row[2]:.2f}s  (median of {args.rounds})")
    record_section(
        "stack-start",
        f"""## Stack start-up (issue 3)

`python -m bench.bench_stack_start --rounds {args.rounds}` — {today()}, {machine()}.
Kafka {settings.kafka_version} (KRaft) + OpenSearch {settings.opensearch_version} with k-NN, artifacts
already in the cache; `up` returns when Kafka accepted a produce/consume and OpenSearch is green/yellow
and the index templates are installed. Median of {args.rounds} rounds. {args.note}

| case | seconds |
|---|---:|
| cold: data wiped, artifacts cached | {row[0]:.1f} |
| warm: data kept | {row[1]:.1f} |
| reuse: both already running | {row[2]:.2f} |
""",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
