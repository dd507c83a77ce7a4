"""LogQA: Recall@1/5/10 and MRR of the evidence line for BM25, k-NN and hybrid; answer contains-rate.

    python -m bench.bench_logqa [--split val|train|both]

Indexes HDFS, OpenSSH and Spark through the real pipeline first (once). Needs the stack.
``both`` evaluates train and val separately and reports each and their union.
Writes the `logqa` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bench.logqa import KS, MODES, SYSTEMS, Scores, SystemResult, ensure_indexed, evaluate, load_qa
from bench.record import machine, record_section, today
from loglens.config import get_settings
from loglens.embedding import build_embedder
from loglens.opensearch_client import async_client


async def run(split: str) -> dict[str, list[SystemResult]]:
    """Results per split (``train``, ``val``; for ``both`` also ``all``, their union)."""
    settings = get_settings()
    embedder = build_embedder(settings)
    client = async_client(settings)
    splits = ["train", "val"] if split == "both" else [split]
    out: dict[str, list[SystemResult]] = {s: [] for s in splits}
    try:
        # All systems first: BM25's term statistics span the index, so a system evaluated before
        # the next is indexed would score differently than on a later run.
        for system in SYSTEMS:
            await ensure_indexed(settings, system, Path("/tmp/loglens-logqa"))
        for system in SYSTEMS:
            for s in splits:
                out[s].append(await evaluate(client, embedder, system, load_qa(system, s)))
    finally:
        await client.close()
    if split == "both":
        out["all"] = [merged(a, b) for a, b in zip(out["train"], out["val"], strict=True)]
    return out


def _sum(a: Scores, b: Scores) -> Scores:
    return Scores(a.n + b.n, {k: a.hits_at[k] + b.hits_at[k] for k in KS}, a.rr_sum + b.rr_sum)


def merged(a: SystemResult, b: SystemResult) -> SystemResult:
    return SystemResult(
        a.system,
        a.questions + b.questions,
        {m: _sum(a.scores[m], b.scores[m]) for m in MODES},
        a.answer_contains + b.answer_contains,
        {m: _sum(a.equivalent[m], b.equivalent[m]) for m in MODES},
        a.ambiguous + b.ambiguous,
        a.bm25_missed_unambiguous + b.bm25_missed_unambiguous,
    )


def _cells(s: Scores) -> str:
    return " | ".join(f"{s.recall(k):.3f}" for k in KS) + f" | {s.mrr:.3f}"


def detail_table(results: list[SystemResult]) -> str:
    head = (
        "| system | questions | mode | exact R@1 | exact R@5 | exact R@10 | exact MRR "
        "| equiv. R@1 | equiv. R@5 | equiv. R@10 | equiv. MRR |\n"
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    rows = [
        f"| {r.system} | {r.questions} | {mode} | {_cells(r.scores[mode])} | {_cells(r.equivalent[mode])} |"
        for r in results
        for mode in MODES
    ]
    return head + "\n" + "\n".join(rows)


def goal_table(by_split: dict[str, list[SystemResult]]) -> str:
    head = (
        "| system | split | questions | naming no single line | BM25 misses among the others "
        "| exact: BM25 R@5 | hybrid R@5 | hybrid − BM25 "
        "| equiv.: BM25 R@5 | hybrid R@5 | hybrid − BM25 | largest possible (1 − BM25) "
        "| evidence answer contains the gold answer |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    rows = []
    for system in SYSTEMS:
        for split, results in by_split.items():
            r = next(x for x in results if x.system == system)
            bx, hx = r.scores["bm25"].recall(5), r.scores["hybrid"].recall(5)
            be, he = r.equivalent["bm25"].recall(5), r.equivalent["hybrid"].recall(5)
            rows.append(
                f"| {system} | {split} | {r.questions} | {r.ambiguous} | {r.bm25_missed_unambiguous} "
                f"| {bx:.3f} | {hx:.3f} | {(hx - bx) * 100:+.1f} "
                f"| {be:.3f} | {he:.3f} | {(he - be) * 100:+.1f} | {(1 - be) * 100:+.1f} "
                f"| {r.answer_contains / r.questions:.3f} |"
            )
    return head + "\n" + "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split", choices=["train", "val", "both"], default="both")
    args = parser.parse_args()
    by_split = asyncio.run(run(args.split))
    overall = by_split.get("all") or by_split[args.split]
    detail, goal = detail_table(overall), goal_table(by_split)
    print(detail + "\n\n" + goal)
    record_section(
        "logqa",
        f"""## LogQA retrieval and answers (issue 5)

`python -m bench.bench_logqa --split {args.split}` — {today()}, {machine()}.
Each system's 2,000 lines indexed through Kafka → consumer → OpenSearch (service `logqa-<system>`);
questions from the LogQA {args.split} split(s) (Spark has no val split upstream: its last 15% of
train is used as val). Hybrid = what `/ask` cites (`ai_service.chat.service.retrieve`): templates
ranked by BM25 score / top BM25 score + the template catalog's k-NN similarity (min-max scaled),
each cited by its best BM25 line (else by its line that best matches the question's words),
plus up to two more of its lines when the question names something in their variable parts; a
line already cited (same text or Kafka record) is not cited again. BM25 and k-NN are the two raw
queries, line by line. The index is built on a fresh stack by the consumer of the day: BM25
also searches the mined `template`, so a change to mining moves these figures a little (±1
point seen between builds). "Contains" = the deterministic
evidence answer's text contains the gold answer string (its window ends at a fixed time, not
now, so that the clock in the answer never matches a gold number).

Two ways to count the evidence, applied alike to every mode:
- **exact** = an event whose message is the question's `RawLog` (the only count before);
- **equivalent** = that, or a line of the same LogPAI template (the dataset's own `EventId` and
  `EventTemplate`, not LogLens's miner) whose variable values hold the question's words wherever
  the `RawLog`'s do. Many questions name no instance: "What is the blockMap updated to?" is
  answered by any of the ~300 `addStoredBlock` lines and the annotators picked one; counting only
  that one rewards listing many lines of one template, which `/ask` deliberately does not do (one
  citation per template). A question that names an instance still needs it in the same place:
  for "What stage was task 5.0 in?" a `task 5.0 in stage 28.0` line counts, `task 15.0 in stage
  5.0` does not.

Before this change (reciprocal rank fusion of BM25 rank and catalog rank; more lines of a
template cited on any BM25 tie; a k-NN event line, arbitrary among its template's, cited for a
template BM25 missed), measured the same way on the same index, all questions, hybrid: exact
R@1 HDFS 0.791, OpenSSH 0.577, Spark 0.782 (BM25: 0.895 / 0.577 / 0.811); exact MRR 0.825 /
0.671 / 0.827; exact R@5 0.913 / 0.815 / 0.929; equivalent R@5 0.983 / 0.915 / 1.000; contains
0.913 / 0.854 / 0.861. The goal "hybrid R@5 ≥ BM25 R@5 + 5 points on each system" is
met on OpenSSH only, and cannot be met on HDFS and Spark by any ranking: there BM25's top 5
already holds every gold line that its question tells apart (column "BM25 misses among the
others" = 0), so all its misses are questions naming no single line. Counted exactly, a system
finds the annotators' pick among equivalent lines only by chance (BM25, listing five lines of
one template, is lucky more often than one citation per template); counted as equivalent, the
gap is capped by BM25's own recall (column "largest possible").

All questions of the split(s):

{detail}

Per split:

{goal}
""",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
