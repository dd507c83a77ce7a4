"""Detection rules on plain data: new / new since deploy / spike / error ratio, and the negatives."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from ai_service.analysis.detection import (
    Deployment,
    Detection,
    PairStat,
    Series,
    ServiceSeries,
    detect_error_ratio,
    detect_new_templates,
    detect_spikes,
    median_mad,
    merge_detections,
    novelty_reason,
    sliding_sums,
)

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
SINCE = NOW - timedelta(minutes=15)


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def pair(
    tid: str, version: str, slot: str, first: float, last: float, count: int = 5, level: str = "ERROR"
) -> PairStat:
    return PairStat("order", tid, version, slot, count, ago(first), ago(last), level, f"template {tid}")


BLUE = Deployment("order", "1.4.2", "blue", ago(600), ago(0), 1000)
GREEN = Deployment("order", "1.4.3", "green", ago(10), ago(0), 100)


def test_a_template_never_seen_before_is_new() -> None:
    found = detect_new_templates([pair("npe", "1.4.3", "green", 8, 1)], [BLUE, GREEN], SINCE)
    assert [(d.kind, d.template_id, d.reason) for d in found] == [
        ("new_template", "npe", "never seen before")
    ]


def test_a_template_back_only_since_the_deploy_is_new_since_deploy() -> None:
    stats = [pair("old", "1.4.1", "green", 300, 200), pair("old", "1.4.3", "green", 9, 1)]
    deps = [Deployment("order", "1.4.1", "green", ago(500), ago(200)), BLUE, GREEN]
    (found,) = detect_new_templates(stats, deps, SINCE)
    assert found.reason.startswith("not seen since deploy of green v1.4.3 at 2026-11-25T13:50:00Z")
    assert "last seen 2026-11-25T10:40:00Z" in found.reason


def test_a_template_the_old_slot_still_logs_is_not_new() -> None:
    stats = [pair("steady", "1.4.2", "blue", 500, 0), pair("steady", "1.4.3", "green", 9, 0)]
    assert detect_new_templates(stats, [BLUE, GREEN], SINCE) == []


def test_info_templates_and_single_warnings_do_not_count() -> None:
    stats = [
        pair("info", "1.4.3", "green", 8, 1, level="INFO"),
        pair("once", "1.4.3", "green", 3, 3, count=1, level="WARN"),
    ]
    assert detect_new_templates(stats, [BLUE, GREEN], SINCE) == []


def test_a_new_error_pages_on_its_first_occurrence() -> None:
    found = detect_new_templates([pair("boom", "1.4.3", "green", 3, 3, count=1)], [BLUE, GREEN], SINCE)
    assert [d.template_id for d in found] == ["boom"]


def test_without_a_deploy_an_old_template_is_not_new() -> None:
    assert novelty_reason([pair("x", "1.4.2", "blue", 300, 1)], [BLUE], SINCE) is None


def poisson_like(mean: float, n: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [max(0, round(rng.gauss(mean, mean**0.5))) for _ in range(n)]


def test_a_rate_spike_against_its_own_baseline_is_found() -> None:
    counts = [*poisson_like(2, 55, 1), 30, 35, 40, 38, 33]
    (found,) = detect_spikes([Series("payment", "hikari", counts)])
    assert found.kind == "spike" and found.count == 176
    assert found.details["z"] >= 5 and "median" in found.reason


def test_steady_traffic_is_no_spike() -> None:
    assert detect_spikes([Series("payment", "steady", poisson_like(20, 60, s)) for s in range(20)]) == []


def test_rare_noise_does_not_page_even_when_relatively_large() -> None:
    counts = [0] * 55 + [2, 1, 3, 0, 2]  # from nothing to 8: a big z, but under the minimum count
    assert detect_spikes([Series("payment", "rare", counts)]) == []


def test_mad_floor_keeps_a_flat_series_from_paging_on_a_small_bump() -> None:
    counts = [10] * 55 + [12, 12, 12, 12, 12]  # MAD is 0; 60 vs 50 is not a spike
    assert detect_spikes([Series("payment", "flat", counts)]) == []


def test_an_error_ratio_jump_is_found_and_steady_ratios_are_not() -> None:
    totals = [100] * 60
    jumping = ServiceSeries("order", [2] * 55 + [30] * 5, totals)
    steady = ServiceSeries("inventory", poisson_like(3, 60, 7), totals)
    (found,) = detect_error_ratio([jumping, steady])
    assert found.service == "order" and found.details["ratio"] == 0.3
    assert "30.0%" in found.reason and "2.0%" in found.reason


def test_error_ratio_needs_enough_errors_and_a_baseline() -> None:
    few = ServiceSeries("order", [0] * 55 + [1, 2, 1, 2, 1], [10] * 60)  # 7 errors: under the minimum
    young = ServiceSeries("new", [0] * 2 + [20] * 5, [50] * 7)  # 2 buckets of history only
    assert detect_error_ratio([few, young]) == []


def test_sliding_sums_and_median_mad() -> None:
    assert sliding_sums([1, 2, 3, 4], 2) == [3, 5, 7]
    assert median_mad([1, 2, 3, 4, 100]) == (3, 1)


def test_merge_keeps_the_most_telling_kind_per_template_and_bounds_the_work() -> None:
    dets = [
        Detection("spike", "order", "npe", "", 9.0, 50),
        Detection("new_template", "order", "npe", "", 3.0, 50),
        Detection("error_ratio", "payment", "pool", "", 5.0, 20),
    ]
    merged = merge_detections(dets, limit=5)
    assert [(d.kind, d.template_id) for d in merged] == [("new_template", "npe"), ("error_ratio", "pool")]
    assert len(merge_detections(dets, limit=1)) == 1


def test_a_deploy_does_not_make_the_old_slots_own_templates_new() -> None:
    """Green goes live; a WARN that only blue has logged all along is not "new since deploy"."""
    from ai_service.analysis.detection import Deployment, PairStat, novelty_reason

    t0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    since = t0 + timedelta(hours=1, minutes=45)
    deps = [
        Deployment("order", "1.4.2", "blue", t0, t0 + timedelta(hours=2)),
        Deployment("order", "1.4.3", "green", t0 + timedelta(hours=1, minutes=50), t0 + timedelta(hours=2)),
    ]
    blue_only = [
        PairStat(
            "order", "w", "1.4.2", "blue", 30, t0 + timedelta(minutes=5), t0 + timedelta(hours=2), "WARN"
        )
    ]
    assert novelty_reason(blue_only, deps, since) is None
    back_with_green = [
        PairStat("order", "n", "1.4.2", "blue", 4, t0, t0 + timedelta(minutes=30)),
        PairStat("order", "n", "1.4.3", "green", 9, since + timedelta(minutes=6), t0 + timedelta(hours=2)),
    ]
    assert str(novelty_reason(back_with_green, deps, since)).startswith(
        "not seen since deploy of green v1.4.3"
    )
