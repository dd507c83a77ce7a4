"""Template-mining benchmark: grouping accuracy (GA) and speed of our miner vs. the drain3 package.

Runs on the 16 Loghub 2k samples twice: against the original labels (``loghub/``) and against the
corrected labels (``loghub-2.0/``). Input to both miners is the ``Content`` column, as in the standard
LogPAI benchmark. GA is the standard LogPAI definition: a line is correctly grouped iff the set of lines
in its predicted cluster equals the set of lines that share its gold ``EventId``.

No services needed. Run from the repo root::

    python -m bench.bench_templates            # prints tables, writes the `templates` section
    python -m bench.bench_templates --no-write # prints only

The dataset root is ``/work/shared/datasets`` (next to the repo) unless ``LOGLENS_DATASETS`` is set.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

from loglens.mining import MinerConfig, TemplateMiner

SYSTEMS = [
    "HDFS",
    "Hadoop",
    "Spark",
    "Zookeeper",
    "BGL",
    "HPC",
    "Thunderbird",
    "Windows",
    "Linux",
    "Android",
    "HealthApp",
    "Apache",
    "Proxifier",
    "OpenSSH",
    "OpenStack",
    "Mac",
]
COMMAND = "python -m bench.bench_templates"


def datasets_root() -> Path:
    env = os.environ.get("LOGLENS_DATASETS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@dataclass(frozen=True)
class Sample:
    system: str
    contents: list[str]
    labels: list[str]

    @property
    def n_templates(self) -> int:
        return len(set(self.labels))


def load_sample(system: str, corrected: bool = False, root: Path | None = None) -> Sample:
    """The 2k sample of one system: the Content column and the gold EventId per line (by LineId order)."""
    base = root or datasets_root()
    if corrected:
        path = base / "loghub-2.0" / system / f"{system}_2k.log_structured_corrected.csv"
    else:
        path = base / "loghub" / system / f"{system}_2k.log_structured.csv"
    rows: list[tuple[int, str, str]] = []
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            rows.append((int(row["LineId"]), row["Content"], row["EventId"]))
    rows.sort(key=lambda r: r[0])
    return Sample(system, [r[1] for r in rows], [r[2] for r in rows])


def grouping_accuracy(gold: Sequence[Hashable], predicted: Sequence[Hashable]) -> float:
    """LogPAI GA: fraction of lines whose predicted cluster is exactly their gold group."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted differ in length")
    if not gold:
        return 1.0
    gold_groups: dict[Hashable, set[int]] = defaultdict(set)
    pred_groups: dict[Hashable, set[int]] = defaultdict(set)
    for i, (g, p) in enumerate(zip(gold, predicted, strict=True)):
        gold_groups[g].add(i)
        pred_groups[p].add(i)
    correct = 0
    for members in pred_groups.values():
        first = next(iter(members))
        if gold_groups[gold[first]] == members:
            correct += len(members)
    return correct / len(gold)


# ----------------------------------------------------------------------------------------- miners


def run_ours(contents: Sequence[str], config: MinerConfig | None = None) -> tuple[list[int], int]:
    """Stream the lines through a fresh miner; a line's cluster is the (merged) cluster it ended in."""
    miner = TemplateMiner(config)
    ids = [miner.add(line).cluster_id for line in contents]
    final = [miner.resolve(cid) for cid in ids]
    return final, len(miner.clusters())


_DRAIN3_MASKING = [
    # drain3's example masking (numbers, IPs, hex and ids) from its README / examples/drain3.ini.
    (r"((?<=[^A-Za-z0-9])|^)(([0-9a-f]{2,}:){3,}([0-9a-f]{2,}))((?=[^A-Za-z0-9])|$)", "ID"),
    (r"((?<=[^A-Za-z0-9])|^)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})((?=[^A-Za-z0-9])|$)", "IP"),
    (r"((?<=[^A-Za-z0-9])|^)([0-9a-f]{6,} ?){3,}((?=[^A-Za-z0-9])|$)", "SEQ"),
    (r"((?<=[^A-Za-z0-9])|^)([0-9A-F]{4} ?){4,}((?=[^A-Za-z0-9])|$)", "SEQ"),
    (r"((?<=[^A-Za-z0-9])|^)(0x[a-f0-9A-F]+)((?=[^A-Za-z0-9])|$)", "HEX"),
    (r"((?<=[^A-Za-z0-9])|^)([\-\+]?\d+)((?=[^A-Za-z0-9])|$)", "NUM"),
]


def run_drain3(contents: Sequence[str]) -> tuple[list[int], int]:
    """drain3 0.9.11 with default settings plus number/IP/hex masking."""
    import logging

    from drain3 import TemplateMiner as Drain3Miner
    from drain3.masking import MaskingInstruction
    from drain3.template_miner_config import TemplateMinerConfig

    logging.getLogger("drain3").setLevel(logging.WARNING)
    cfg = TemplateMinerConfig()
    cfg.masking_instructions = [MaskingInstruction(p, m) for p, m in _DRAIN3_MASKING]
    cfg.profiling_enabled = False
    miner = Drain3Miner(config=cfg)
    ids = [miner.add_log_message(line)["cluster_id"] for line in contents]
    return ids, len(miner.drain.clusters)


# ------------------------------------------------------------------------------------------ bench


@dataclass
class Row:
    system: str
    lines: int
    gold: int
    ours: float
    drain3: float
    ours_templates: int
    drain3_templates: int


def _timed(
    fn: Callable[[Sequence[str]], tuple[list[int], int]], lines: Sequence[str]
) -> tuple[list[int], int, float]:
    t0 = time.perf_counter()
    ids, n = fn(lines)
    return ids, n, time.perf_counter() - t0


def evaluate(corrected: bool, systems: Sequence[str] = SYSTEMS) -> tuple[list[Row], float, float, int]:
    rows: list[Row] = []
    t_ours = t_d3 = 0.0
    total = 0
    for system in systems:
        sample = load_sample(system, corrected)
        ours, n_ours, dt_o = _timed(run_ours, sample.contents)
        d3, n_d3, dt_d = _timed(run_drain3, sample.contents)
        t_ours += dt_o
        t_d3 += dt_d
        total += len(sample.contents)
        rows.append(
            Row(
                system,
                len(sample.contents),
                sample.n_templates,
                grouping_accuracy(sample.labels, ours),
                grouping_accuracy(sample.labels, d3),
                n_ours,
                n_d3,
            )
        )
    return rows, t_ours, t_d3, total


def table(rows: Sequence[Row]) -> str:
    out = [
        "| system | lines | gold templates | ours GA | drain3 GA | diff | our templates | drain3 templates |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r.system} | {r.lines} | {r.gold} | {r.ours:.3f} | {r.drain3:.3f} | {r.ours - r.drain3:+.3f} "
            f"| {r.ours_templates} | {r.drain3_templates} |"
        )
    mo = sum(r.ours for r in rows) / len(rows)
    md = sum(r.drain3 for r in rows) / len(rows)
    out.append(f"| **mean** | | | **{mo:.3f}** | **{md:.3f}** | {mo - md:+.3f} | | |")
    return "\n".join(out)


def speed(repeats: int = 3) -> tuple[float, float, int]:
    """Lines/s over all 16 samples (32,000 lines), fresh miner per system, best of `repeats`."""
    samples = [load_sample(s).contents for s in SYSTEMS]
    total = sum(len(s) for s in samples)
    best_o = best_d = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for lines in samples:
            run_ours(lines)
        best_o = min(best_o, time.perf_counter() - t0)
        t0 = time.perf_counter()
        for lines in samples:
            run_drain3(lines)
        best_d = min(best_d, time.perf_counter() - t0)
    return total / best_o, total / best_d, total


def main(argv: Sequence[str] | None = None) -> int:
    from bench.record import machine, record_section, today

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--no-write", action="store_true", help="print only; do not touch docs/benchmarks.md")
    ap.add_argument("--systems", nargs="*", default=SYSTEMS)
    ap.add_argument("--legacy-only", action="store_true")
    args = ap.parse_args(argv)

    sections: list[str] = []
    means: dict[str, tuple[float, float]] = {}
    label_sets = [("loghub (original labels)", False)]
    if not args.legacy_only:
        label_sets.append(("loghub-2.0 (corrected labels)", True))
    for title, corrected in label_sets:
        rows, _, _, _ = evaluate(corrected, args.systems)
        t = table(rows)
        print(f"\n## {title}\n\n{t}")
        sections.append(f"### {title}\n\n{t}")
        means[title] = (
            sum(r.ours for r in rows) / len(rows),
            sum(r.drain3 for r in rows) / len(rows),
        )
        short = [r.system for r in rows if r.ours < r.drain3 - 0.02]
        print(f"\nsystems more than 2 points below drain3: {', '.join(short) or 'none'}")
    sp_o, sp_d, total = speed()
    speed_md = (
        f"Mining speed over all 16 samples ({total:,} lines, fresh miner per system, best of 3, "
        f"one core): ours **{sp_o:,.0f} lines/s**, drain3 **{sp_d:,.0f} lines/s** "
        f"(ratio ours/drain3 = **{sp_o / sp_d:.2f}**)."
    )
    print("\n" + speed_md)
    if args.no_write or args.systems != SYSTEMS or args.legacy_only:
        return 0
    cfg = MinerConfig()
    md = "\n".join(
        [
            "## Template mining: grouping accuracy and speed",
            "",
            f"Machine: {machine()}. Date: {today()}. Command: `{COMMAND}` (from the repo root).",
            "",
            "Input is the `Content` column of the 16 Loghub 2k samples; GA is the LogPAI grouping accuracy. "
            "Ours: `loglens.mining.TemplateMiner` with the single default `MinerConfig` "
            f"(sim_threshold={cfg.sim_threshold}, depth={cfg.depth}) for every system, one online pass; "
            "a line counts in the cluster it ended in after online merges. "
            "drain3: 0.9.11, default settings (sim_th 0.4, depth 4) plus number/IP/hex masking.",
            "",
            *[s + "\n" for s in sections],
            speed_md,
        ]
    )
    record_section("templates", md)
    print("\nwrote section `templates` of docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
