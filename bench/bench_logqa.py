"""LogQA: Recall@1/5/10 and MRR of the evidence line for BM25, k-NN and hybrid; answer contains-rate.

    python -m bench.bench_logqa [--split val|train|both]

Indexes HDFS, OpenSSH and Spark through the real pipeline first (once). Needs the stack.
Writes the `logqa` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bench.logqa import KS, MODES, SYSTEMS, SystemResult, ensure_indexed, evaluate, load_qa
from bench.record import machine, record_section, today
from loglens.config import get_settings
from loglens.embedding import build_embedder
from loglens.opensearch_client import async_client


async def run(split: str) -> list[SystemResult]:
    settings = get_settings()
    embedder = build_embedder(settings)
    client = async_client(settings)
    results = []
    try:
        for system in SYSTEMS:
            await ensure_indexed(settings, system, Path("/tmp/loglens-logqa"))
            qa = (
                load_qa(system, "train") + load_qa(system, "val")
                if split == "both"
                else load_qa(system, split)
            )
            results.append(await evaluate(client, embedder, system, qa))
    finally:
        await client.close()
    return results


def table(results: list[SystemResult]) -> str:
    head = "| system | questions | mode | R@1 | R@5 | R@10 | MRR |\n|---|---:|---|---:|---:|---:|---:|"
    rows = []
    for r in results:
        for mode in MODES:
            s = r.scores[mode]
            rows.append(
                f"| {r.system} | {r.questions} | {mode} | "
                + " | ".join(f"{s.recall(k):.3f}" for k in KS)
                + f" | {s.mrr:.3f} |"
            )
    gains = [
        f"| {r.system} | {r.scores['bm25'].recall(5):.3f} | {r.scores['hybrid'].recall(5):.3f} | "
        f"{(r.scores['hybrid'].recall(5) - r.scores['bm25'].recall(5)) * 100:+.1f} | "
        f"{r.answer_contains / r.questions:.3f} |"
        for r in results
    ]
    return (
        head
        + "\n"
        + "\n".join(rows)
        + "\n\n| system | BM25 R@5 | hybrid R@5 | hybrid − BM25 (points, goal ≥ +5) | evidence answer contains the gold answer |"
        + "\n|---|---:|---:|---:|---:|\n"
        + "\n".join(gains)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split", choices=["train", "val", "both"], default="both")
    args = parser.parse_args()
    results = asyncio.run(run(args.split))
    text = table(results)
    print(text)
    record_section(
        "logqa",
        f"""## LogQA retrieval and answers (issue 5)

`python -m bench.bench_logqa --split {args.split}` — {today()}, {machine()}.
Each system's 2,000 lines indexed through Kafka → consumer → OpenSearch (service `logqa-<system>`);
questions from the LogQA {args.split} split(s) (Spark has no val split upstream: its last 15% of
train is used as val). Evidence = an event whose message is the question's `RawLog`. Hybrid =
reciprocal rank fusion of BM25 and k-NN, then one citation per template (what `/ask` cites).
"Contains" = the deterministic evidence answer's text contains the gold answer string.

{text}
""",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
