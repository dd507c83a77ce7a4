"""Detection rules as pure functions over plain data (the worker feeds them from aggregations).

Three rules, each documented with its thresholds in ``docs/analyses.md``:

* **new template** — a WARN/ERROR template that was never seen in the lookback, or that is
  back only since a deploy / blue-green switch: it shows up in a (version, slot) pair that
  went live after the template's previous appearance in any other pair.
* **spike** — a template's count over the last ``recent_buckets`` minutes against the
  median/MAD of the same-width sliding windows before it, with a minimum count.
* **error ratio** — a service's errors/total over the recent minutes against the median/MAD
  of its own sliding windows before.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

ALERT_LEVELS = frozenset({"WARN", "ERROR", "FATAL"})
ERROR_LEVELS = frozenset({"ERROR", "FATAL"})
MAD_TO_SIGMA = 1.4826  # MAD x this estimates the standard deviation of normal data


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Every knob of the detectors, with the defaults documented in docs/analyses.md."""

    new_min_count: int = 2  # a new WARN template must occur this often in the active window
    # A never-seen ERROR/FATAL template pages on its first occurrence: an error nobody has seen
    # before is worth a look by itself, and waiting for a second one doubled the detection delay
    # of low-rate faults. WARN stays at two so one-off warnings do not page.
    new_error_min_count: int = 1
    recent_buckets: int = 5  # width (1-minute buckets) of the window compared with the baseline
    spike_min_count: int = 10  # events in the recent window before a spike can page
    spike_min_factor: float = 3.0  # recent >= factor x baseline median
    spike_min_z: float = 5.0  # robust z-score: (recent - median) / (1.4826 x MAD), scale floored
    ratio_min_errors: int = 10  # errors in the recent window
    ratio_min_total: int = 20  # events in the recent window
    ratio_min_delta: float = 0.05  # absolute jump of errors/total over the baseline median
    ratio_min_factor: float = 2.0  # ratio >= factor x baseline median
    ratio_min_z: float = 4.0
    ratio_mad_floor: float = 0.01
    min_baseline_windows: int = 3  # fewer sliding windows before the recent one = no baseline yet


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True, slots=True)
class PairStat:
    """One template of one service in one (version, slot) over the lookback."""

    service: str
    template_id: str
    version: str | None
    slot: str | None
    count: int
    first_seen: datetime
    last_seen: datetime
    level: str = "ERROR"
    template: str | None = None


@dataclass(frozen=True, slots=True)
class Deployment:
    """A (version, slot) pair of a service, with when it first logged (= went live)."""

    service: str
    version: str | None
    slot: str | None
    first_seen: datetime
    last_seen: datetime
    count: int = 0


@dataclass(frozen=True, slots=True)
class Series:
    """Per-minute counts of one template of one service, oldest bucket first."""

    service: str
    template_id: str
    counts: Sequence[int]
    level: str = "ERROR"
    template: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceSeries:
    """Per-minute errors and totals of one service, oldest bucket first."""

    service: str
    errors: Sequence[int]
    totals: Sequence[int]


@dataclass(frozen=True, slots=True)
class Detection:
    kind: str  # new_template | spike | error_ratio
    service: str
    template_id: str | None
    reason: str
    score: float
    count: int
    template: str | None = None
    level: str | None = None
    details: dict[str, float] = field(default_factory=dict)


def deployment_label(version: str | None, slot: str | None) -> str:
    """``green v1.4.3`` / ``v1.4.3`` / ``green`` / ``unknown version``."""
    parts = [p for p in (slot, f"v{version}" if version else None) if p]
    return " ".join(parts) or "unknown version"


def _iso(ts: datetime) -> str:
    return ts.isoformat(timespec="seconds").replace("+00:00", "Z")


def novelty_reason(
    pairs: Sequence[PairStat], deployments: Sequence[Deployment], since: datetime
) -> str | None:
    """Why one template of one service counts as new since ``since``, or None.

    ``pairs``: the template's stats per (version, slot) over the lookback; ``deployments``: the
    service's (version, slot) pairs. New = never seen before ``since`` in the lookback, or it
    appears (at/after ``since``) in a pair that went live after the template's last appearance
    in every other pair — a deploy or blue/green switch brought it (back).
    """
    if not pairs:
        return None
    if min(p.first_seen for p in pairs) >= since:
        return "never seen before"
    live_at = {(d.version, d.slot): d.first_seen for d in deployments}
    if len(live_at) < 2:  # one deployment only: nothing was deployed within the data
        return None
    current = [p for p in pairs if p.last_seen >= since]
    if not current:
        return None
    newest = max(current, key=lambda p: live_at.get((p.version, p.slot), p.first_seen))
    went_live = live_at.get((newest.version, newest.slot), newest.first_seen)
    others = [p.last_seen for p in pairs if (p.version, p.slot) != (newest.version, newest.slot)]
    previous = max(others) if others else None
    if previous is None and went_live < since:
        # Logged only by one deployment that was already live before ``since`` (and seen before
        # ``since``): no deploy within the window brought it. Without this, deploying green made
        # every template that only blue had logged "not seen since deploy of blue".
        return None
    if previous is not None and previous >= went_live:
        return None  # still logged by the older deployment after the new one went live
    if newest.first_seen < went_live:
        return None
    label = deployment_label(newest.version, newest.slot)
    tail = f"last seen {_iso(previous)}" if previous else f"only in {label}"
    return f"not seen since deploy of {label} at {_iso(went_live)} ({tail})"


def detect_new_templates(
    pairs: Iterable[PairStat],
    deployments: Iterable[Deployment],
    since: datetime,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> list[Detection]:
    """WARN/ERROR templates that are new since ``since`` (see :func:`novelty_reason`)."""
    by_template: dict[tuple[str, str], list[PairStat]] = defaultdict(list)
    for pair in pairs:
        by_template[(pair.service, pair.template_id)].append(pair)
    by_service: dict[str, list[Deployment]] = defaultdict(list)
    for dep in deployments:
        by_service[dep.service].append(dep)
    found: list[Detection] = []
    for (service, template_id), stats in by_template.items():
        alerting = [p for p in stats if p.level in ALERT_LEVELS]
        if not alerting:
            continue
        recent = sum(p.count for p in alerting if p.last_seen >= since)
        severe = any(p.level in ("ERROR", "FATAL") for p in alerting)
        if recent < (thresholds.new_error_min_count if severe else thresholds.new_min_count):
            continue
        reason = novelty_reason(stats, by_service.get(service, []), since)
        if reason is None:
            continue
        top = max(alerting, key=lambda p: p.count)
        found.append(
            Detection(
                "new_template",
                service,
                template_id,
                reason,
                score=float(recent),
                count=recent,
                template=top.template,
                level=top.level,
            )
        )
    return sorted(found, key=lambda d: -d.score)


def sliding_sums(values: Sequence[float], width: int) -> list[float]:
    if width <= 0 or len(values) < width:
        return []
    total = float(sum(values[:width]))
    out = [total]
    for i in range(width, len(values)):
        total += values[i] - values[i - width]
        out.append(total)
    return out


def median_mad(values: Sequence[float]) -> tuple[float, float]:
    if not values:
        return 0.0, 0.0
    med = statistics.median(values)
    return med, statistics.median(abs(v - med) for v in values)


def detect_spikes(series: Iterable[Series], thresholds: Thresholds = DEFAULT_THRESHOLDS) -> list[Detection]:
    """Templates whose recent count jumps far above their own sliding-window baseline."""
    width = thresholds.recent_buckets
    found: list[Detection] = []
    for s in series:
        if s.level not in ALERT_LEVELS or len(s.counts) < width * 2:
            continue
        recent = float(sum(s.counts[-width:]))
        if recent < thresholds.spike_min_count:
            continue
        baseline = sliding_sums(s.counts[:-width], width)
        med, mad = median_mad(baseline)
        # Poisson-ish floor: a steady series has MAD ~ sqrt(median); never divide by ~0.
        scale = max(MAD_TO_SIGMA * mad, math.sqrt(med), 1.0)
        z = (recent - med) / scale
        if recent < thresholds.spike_min_factor * max(med, 1.0) or z < thresholds.spike_min_z:
            continue
        found.append(
            Detection(
                "spike",
                s.service,
                s.template_id,
                f"{int(recent)} in the last {width} min vs a median of {med:g} per {width} min "
                f"(robust z {z:.1f})",
                score=z,
                count=int(recent),
                template=s.template,
                level=s.level,
                details={"recent": recent, "median": med, "mad": mad, "z": z},
            )
        )
    return sorted(found, key=lambda d: -d.score)


def detect_error_ratio(
    services: Iterable[ServiceSeries], thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> list[Detection]:
    """Services whose errors/total over the recent minutes jumps above their own baseline."""
    width = thresholds.recent_buckets
    found: list[Detection] = []
    for s in services:
        n = min(len(s.errors), len(s.totals))
        errors, totals = list(s.errors[:n]), list(s.totals[:n])
        recent_errors, recent_total = sum(errors[-width:]), sum(totals[-width:])
        if recent_errors < thresholds.ratio_min_errors or recent_total < thresholds.ratio_min_total:
            continue
        ratio = recent_errors / recent_total
        err_w = sliding_sums(errors[:-width], width)
        tot_w = sliding_sums(totals[:-width], width)
        ratios = [e / t for e, t in zip(err_w, tot_w, strict=True) if t > 0]
        if len(ratios) < thresholds.min_baseline_windows:
            continue
        med, mad = median_mad(ratios)
        z = (ratio - med) / max(MAD_TO_SIGMA * mad, thresholds.ratio_mad_floor)
        if (
            ratio - med < thresholds.ratio_min_delta
            or ratio < thresholds.ratio_min_factor * med
            or z < thresholds.ratio_min_z
        ):
            continue
        found.append(
            Detection(
                "error_ratio",
                s.service,
                None,
                f"error ratio {ratio:.1%} in the last {width} min vs a baseline median of {med:.1%} "
                f"(robust z {z:.1f})",
                score=z,
                count=recent_errors,
                details={"ratio": ratio, "median": med, "mad": mad, "z": z},
            )
        )
    return sorted(found, key=lambda d: -d.score)


def top_error_template(series: Iterable[Series], service: str, width: int) -> Series | None:
    """The service's most frequent ERROR template over the last ``width`` buckets."""
    best: tuple[int, Series] | None = None
    for s in series:
        if s.service != service or s.level not in ERROR_LEVELS:
            continue
        recent = sum(s.counts[-width:])
        if recent and (best is None or recent > best[0]):
            best = (recent, s)
    return best[1] if best else None


KIND_PRIORITY = {"new_template": 0, "spike": 1, "error_ratio": 2}


def merge_detections(detections: Iterable[Detection], limit: int) -> list[Detection]:
    """One detection per (service, template), the most telling kind first, at most ``limit``."""
    ordered = sorted(detections, key=lambda d: (KIND_PRIORITY.get(d.kind, 9), -d.score))
    seen: set[tuple[str, str | None]] = set()
    out: list[Detection] = []
    for det in ordered:
        key = (det.service, det.template_id)
        if key in seen:
            continue
        seen.add(key)
        out.append(det)
        if len(out) >= limit:
            break
    return out
