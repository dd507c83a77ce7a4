"""Calibrate the QA cache's gate-1 cosine threshold on the labelled pair set.

    python -m bench.bench_qa_cache            # measure, print, update docs/benchmarks.md
    python -m bench.bench_qa_cache --no-write # measure and print only

Input: ``tests/evals/qa_cache_pairs.yaml`` (question pairs with explicit resolved scopes,
label ``same`` = must be served from cache, ``different`` = must not). Each pair's two
questions are embedded with the real all-MiniLM-L6-v2 (:class:`MiniLMEmbedder`); for every
threshold from 0.70 to 0.98:

* hit rate       = fraction of ``same`` pairs served from the cache,
* wrong-hit rate = fraction of ``different`` pairs served from the cache,

with gate 1 only (cosine >= threshold), with gates 1 and 2 (and the scope keys equal, as
:class:`ai_service.cache.QACache` computes them, i.e. including negation detection), and
with everything ``QACache`` checks (also the minimal-pair guard, gate 1b).
Pairs are split 50/50 by a stable hash of their id into a calibration and a held-out half;
the threshold is picked on the calibration half (the lowest one whose wrong-hit rate with
every check of ``QACache`` is <= the target, 1 %), and reported on the held-out half. Finally the real
``QACache`` with the in-memory store replays every pair at the chosen threshold and must
agree with the computed decisions. Needs no services, only the model files.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from ai_service.cache import InMemoryQACacheStore, QACache, Scope, scope_key  # noqa: E402
from ai_service.cache.qa_cache import minimal_pair  # noqa: E402
from bench.record import machine, record_section, today  # noqa: E402

SECTION_KEY = "qa-cache"
PAIRS_PATH = ROOT / "tests" / "evals" / "qa_cache_pairs.yaml"
THRESHOLDS = [round(0.70 + 0.01 * i, 2) for i in range(29)]  # 0.70 .. 0.98
TARGET_WRONG_HIT = 0.01

_SPAN = {"m": 60, "h": 3600, "d": 86400, "w": 604800}


# ------------------------------------------------------------------ the labelled set
@dataclass(frozen=True, slots=True)
class Question:
    text: str
    scope: Scope
    asked_at: datetime


@dataclass(frozen=True, slots=True)
class Pair:
    id: str
    label: str  # "same" | "different"
    diff: str  # "" for same pairs
    a: Question
    b: Question
    fresh: bool = False  # written after gate 1b was designed: its own split, never calibrates

    @property
    def same(self) -> bool:
        return self.label == "same"

    @property
    def split(self) -> str:
        """``calibration`` or ``held-out`` (stable 50/50 split by the pair id), or ``fresh``."""
        if self.fresh:
            return "fresh"
        digest = hashlib.sha256(self.id.encode()).digest()
        return "calibration" if digest[0] % 2 == 0 else "held-out"


def _span(text: str) -> timedelta:
    return timedelta(seconds=int(text[:-1]) * _SPAN[text[-1]])


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def resolve_window(spec: Any, at: datetime) -> tuple[datetime | None, datetime]:
    """A YAML window spec resolved at ``at`` into (since, until), as the extractor would."""
    if isinstance(spec, dict):
        return _dt(str(spec["since"])), _dt(str(spec["until"]))
    text = str(spec)
    if text == "all":
        return None, at
    midnight = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if text == "today":
        return midnight, at
    if text == "yesterday":
        return midnight - timedelta(days=1), midnight
    return at - _span(text), at


def build_scope(fields: dict[str, Any], at: datetime) -> Scope:
    since, until = resolve_window(fields["window"], at)
    return Scope(
        services=tuple(fields.get("services") or ()),
        levels=tuple(fields.get("levels") or ()),
        exceptions=tuple(fields.get("exceptions") or ()),
        trace_ids=tuple(fields.get("trace_ids") or ()),
        window_since=since,
        window_until=until,
        conversation_id=fields.get("conversation"),
        negated=bool(fields.get("negated", False)),
        k=fields.get("k"),
    )


def load_pairs(path: Path = PAIRS_PATH) -> list[Pair]:
    data = yaml.safe_load(path.read_text())
    ref = _dt(str(data["ref_time"]))
    defaults = dict(data.get("defaults") or {})
    pairs: list[Pair] = []
    for raw in data["pairs"]:
        fields_a = {**defaults, **raw["scope"]}
        fields_b = {**fields_a, **(raw.get("scope_b") or {})}
        at_b = ref + _span(str(raw.get("b_at", "0m")))
        pairs.append(
            Pair(
                id=str(raw["id"]),
                label=str(raw["label"]),
                diff=str(raw.get("diff", "")),
                a=Question(str(raw["a"]), build_scope(fields_a, ref), ref),
                b=Question(str(raw["b"]), build_scope(fields_b, at_b), at_b),
                fresh=raw.get("set") == "fresh",
            )
        )
    return pairs


# ------------------------------------------------------------------ measurement
@dataclass(frozen=True, slots=True)
class Scored:
    pair: Pair
    similarity: float
    keys_equal: bool  # as QACache computes them (negation detection on)
    keys_equal_explicit: bool  # the YAML scopes only
    minimal: str | None  # minimal-pair guard verdict (gate 1b)

    def served(self, threshold: float, mode: str) -> bool:
        """mode: g1 = cosine only; g12 = cosine + scope key; all = + minimal-pair guard (QACache)."""
        if self.similarity < threshold:
            return False
        if mode == "g1":
            return True
        if mode == "g12":
            return self.keys_equal
        return self.keys_equal and self.minimal is None


def score_pairs(pairs: list[Pair], embedder: Any, cache: QACache) -> list[Scored]:
    texts = [p.a.text for p in pairs] + [p.b.text for p in pairs]
    vectors = embedder.embed(texts)
    n = len(pairs)
    out = []
    for i, p in enumerate(pairs):
        sim = float(np.dot(vectors[i], vectors[n + i]))
        out.append(
            Scored(
                pair=p,
                similarity=sim,
                keys_equal=cache.key_for(p.a.text, p.a.scope) == cache.key_for(p.b.text, p.b.scope),
                keys_equal_explicit=scope_key(p.a.scope) == scope_key(p.b.scope),
                minimal=minimal_pair(p.b.text, p.a.text),
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Rates:
    threshold: float
    n_same: int
    n_diff: int
    hit: dict[str, float]  # mode -> fraction of same pairs served
    wrong: dict[str, float]  # mode -> fraction of different pairs served
    wrong_count: dict[str, int]


MODES = ("g1", "g12", "all")


def rates(scored: list[Scored], threshold: float) -> Rates:
    same = [s for s in scored if s.pair.same]
    diff = [s for s in scored if not s.pair.same]

    def count(rows: list[Scored], mode: str) -> int:
        return sum(1 for s in rows if s.served(threshold, mode))

    return Rates(
        threshold,
        len(same),
        len(diff),
        {m: count(same, m) / len(same) if same else float("nan") for m in MODES},
        {m: count(diff, m) / len(diff) if diff else float("nan") for m in MODES},
        {m: count(diff, m) for m in MODES},
    )


def choose_threshold(calibration: list[Scored], target: float = TARGET_WRONG_HIT) -> float:
    """The lowest threshold whose both-gates wrong-hit rate on the calibration half is <= target."""
    for t in THRESHOLDS:
        if rates(calibration, t).wrong["all"] <= target:
            return t
    return THRESHOLDS[-1]


async def replay(scored: list[Scored], threshold: float, embedder: Any) -> list[bool]:
    """Every pair through the real QACache (fresh in-memory store per pair): served from cache?"""
    served: list[bool] = []
    for s in scored:
        p = s.pair
        cache = QACache(InMemoryQACacheStore(), threshold=threshold, model=embedder.name)
        va, vb = embedder.embed([p.a.text, p.b.text])
        await cache.store(p.a.text, va.tolist(), p.a.scope, {"answer": p.a.text}, p.a.asked_at)
        result = await cache.lookup(p.b.text, vb.tolist(), p.b.scope, p.b.asked_at)
        served.append(result.hit)
    return served


# ------------------------------------------------------------------ report
def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def table(cal: list[Scored], held: list[Scored], fresh: list[Scored], chosen: float, every: int = 1) -> str:
    lines = [
        "| threshold | cal g1 hit / wrong | cal g1+g2 hit / wrong | cal all gates hit / wrong "
        "| held-out all gates hit / wrong | held-out g1+g2 wrong | held-out g1 wrong "
        "| fresh all gates hit / wrong |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for i, t in enumerate(THRESHOLDS):
        if i % every and t != chosen:
            continue
        c, h, f = rates(cal, t), rates(held, t), rates(fresh, t)
        mark = " **←**" if t == chosen else ""
        lines.append(
            f"| {t:.2f}{mark} | {_pct(c.hit['g1'])} / {_pct(c.wrong['g1'])} "
            f"| {_pct(c.hit['g12'])} / {_pct(c.wrong['g12'])} | {_pct(c.hit['all'])} / {_pct(c.wrong['all'])} "
            f"| {_pct(h.hit['all'])} / {_pct(h.wrong['all'])} | {_pct(h.wrong['g12'])} | {_pct(h.wrong['g1'])} "
            f"| {_pct(f.hit['all'])} / {_pct(f.wrong['all'])} |"
        )
    return "\n".join(lines)


def breakdown(scored: list[Scored], t: float) -> str:
    """Per kind of difference: how many different pairs pass gate 1, and gate 1 + gate 2."""
    rows = [
        "| difference | pairs | pass gate 1 | pass gates 1+2 | pass all (served) |",
        "|---|---:|---:|---:|---:|",
    ]
    kinds = Counter(s.pair.diff for s in scored if not s.pair.same)
    for kind, n in sorted(kinds.items(), key=lambda kv: -kv[1]):
        group = [s for s in scored if s.pair.diff == kind]
        g1, g12, full = (sum(1 for s in group if s.served(t, m)) for m in MODES)
        rows.append(f"| {kind} | {n} | {g1} | {g12} | {full} |")
    return "\n".join(rows)


def render(scored: list[Scored], chosen: float, info: dict[str, Any]) -> str:
    cal = [s for s in scored if s.pair.split == "calibration"]
    held = [s for s in scored if s.pair.split == "held-out"]
    fresh = [s for s in scored if s.pair.split == "fresh"]
    c, h, f, a = rates(cal, chosen), rates(held, chosen), rates(fresh, chosen), rates(scored, chosen)
    same = [s for s in scored if s.pair.same]
    sims_same = np.array([s.similarity for s in same])
    sims_diff_scope_equal = np.array(
        [s.similarity for s in scored if not s.pair.same and s.pair.diff == "meaning"]
    )
    det_misses = sum(1 for s in same if s.keys_equal_explicit and not s.keys_equal)
    wrong = [s for s in scored if not s.pair.same and s.served(chosen, "all")]
    guard_caught = sum(1 for s in scored if not s.pair.same and s.served(chosen, "g12") and s.minimal)
    guard_cost = sum(1 for s in same if s.served(chosen, "g12") and s.minimal)
    missed_hi = sorted((s for s in same if s.similarity < chosen), key=lambda s: s.similarity, reverse=True)[
        :5
    ]
    parts = [
        "## QA cache: gate-1 threshold calibration (all-MiniLM-L6-v2)",
        "",
        f"Machine: {machine()}. Date: {today()}. Command: `python -m bench.bench_qa_cache` (from the repo root).",
        "",
        f"Set: `tests/evals/qa_cache_pairs.yaml`, {len(scored)} labelled question pairs "
        f"({len(same)} `same`, {len(scored) - len(same)} `different`: "
        + ", ".join(
            f"{k} {v}" for k, v in Counter(s.pair.diff for s in scored if not s.pair.same).most_common()
        )
        + "). Split 50/50 by a stable hash of the pair id: "
        f"calibration {len(cal)} pairs ({c.n_same} same / {c.n_diff} different), "
        f"held-out {len(held)} pairs ({h.n_same} / {h.n_diff}); plus {len(fresh)} `fresh` pairs "
        f"({f.n_same} / {f.n_diff}) written after the minimal-pair guard was designed on the others "
        "(the guard was designed looking at calibration and held-out pairs alike, so `fresh` is the "
        "unbiased figure for it). "
        "Hit rate = `same` pairs served from the cache; wrong-hit rate = `different` pairs served. "
        "g1 = gate 1 only (cosine ≥ threshold); g1+g2 = and equal scope keys "
        "(as `QACache` computes them, negation detection included); all gates = and not a "
        "minimal pair (gate 1b), i.e. exactly what `QACache` serves.",
        "",
        f"**Chosen threshold: {chosen:.2f}** (lowest with calibration wrong-hit (all gates) ≤ "
        f"{_pct(TARGET_WRONG_HIT)}). Held-out: hit rate **{_pct(h.hit['all'])}**, wrong-hit rate "
        f"**{_pct(h.wrong['all'])}** ({h.wrong_count['all']}/{h.n_diff}); without the minimal-pair "
        f"guard {_pct(h.wrong['g12'])}, gate 1 alone {_pct(h.wrong['g1'])}. Fresh: hit "
        f"**{_pct(f.hit['all'])}**, wrong-hit **{_pct(f.wrong['all'])}** ({f.wrong_count['all']}/{f.n_diff}). "
        f"All {len(scored)} pairs: "
        f"hit {_pct(a.hit['all'])}, wrong-hit {_pct(a.wrong['all'])} ({a.wrong_count['all']}/{a.n_diff}). "
        f"At {chosen:.2f} the minimal-pair guard refuses {guard_caught} `different` pairs that passed "
        f"gates 1+2 and costs {guard_cost} `same` pairs. For comparison, GPTCache's own benchmark "
        "reports 5.6–9.2 % wrong hits.",
        "",
        table(cal, held, fresh, chosen, every=2),
        "",
        f"Different pairs by kind, all {len(scored)} pairs, at {chosen:.2f}:",
        "",
        breakdown(scored, chosen),
        "",
        f"Cosine of `same` pairs: median {np.median(sims_same):.3f}, p10 {np.percentile(sims_same, 10):.3f}, "
        f"min {sims_same.min():.3f}; of same-scope `different` (meaning) pairs: median "
        f"{np.median(sims_diff_scope_equal):.3f}, p90 {np.percentile(sims_diff_scope_equal, 90):.3f}, "
        f"max {sims_diff_scope_equal.max():.3f}. Negation detection turned {det_misses} `same` pairs "
        'into misses (a question with "can\'t"/"never" paraphrased without one).',
        "",
        "Wrong hits at the chosen threshold (all pairs): "
        + (
            "; ".join(
                f"{s.pair.id} ({s.similarity:.3f}) “{s.pair.a.text}” / “{s.pair.b.text}”" for s in wrong
            )
            if wrong
            else "none"
        )
        + ".",
        "",
        "Closest `same` pairs below the threshold: "
        + "; ".join(
            f"{s.pair.id} ({s.similarity:.3f}) “{s.pair.a.text}” / “{s.pair.b.text}”" for s in missed_hi
        )
        + ".",
        "",
        f"Replay through `QACache` + in-memory store at {chosen:.2f}: {info['replay']}. "
        f"Embedding the {2 * len(scored)} questions took {info['embed_s']:.2f} s.",
    ]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    ap.add_argument("--pairs", type=Path, default=PAIRS_PATH)
    args = ap.parse_args(argv)

    from loglens.embedding import MiniLMEmbedder

    embedder = MiniLMEmbedder()
    pairs = load_pairs(args.pairs)
    key_cache = QACache(InMemoryQACacheStore(), model=embedder.name)
    t0 = time.perf_counter()
    scored = score_pairs(pairs, embedder, key_cache)
    embed_s = time.perf_counter() - t0
    cal = [s for s in scored if s.pair.split == "calibration"]
    held = [s for s in scored if s.pair.split == "held-out"]
    chosen = choose_threshold(cal)

    served = asyncio.run(replay(scored, chosen, embedder))
    expected = [s.served(chosen, "all") for s in scored]
    disagree = [s.pair.id for s, got, exp in zip(scored, served, expected, strict=True) if got != exp]
    replay_note = (
        f"agrees on all {len(scored)} pairs"
        if not disagree
        else f"DISAGREES on {len(disagree)} pairs ({', '.join(disagree[:10])})"
    )
    fresh = [s for s in scored if s.pair.split == "fresh"]
    print(table(cal, held, fresh, chosen))
    print()
    md = render(scored, chosen, {"replay": replay_note, "embed_s": embed_s})
    print(md)
    if not args.no_write:
        record_section(SECTION_KEY, md)
        print(f"\nwrote section {SECTION_KEY!r} to docs/benchmarks.md")
    return 1 if disagree else 0


if __name__ == "__main__":
    raise SystemExit(main())
