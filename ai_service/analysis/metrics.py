"""Every Prometheus metric of the analyses domain (labels are low-cardinality: kinds and outcomes)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

ANALYSES = Counter("loglens_analyses_total", "New root-cause analyses created", ["kind"])
REUSED = Counter(
    "loglens_analyses_reused_total", "Repeats mapped to an existing analysis instead of a new one", ["kind"]
)
REOPENED = Counter("loglens_analyses_reopened_total", "Resolved analyses reopened by new events")
DETECTIONS = Counter("loglens_analysis_detections_total", "Detector hits per cycle", ["kind"])
CYCLES = Counter("loglens_analysis_cycles_total", "Detection cycles by outcome", ["outcome"])
CYCLE_SECONDS = Histogram(
    "loglens_analysis_cycle_seconds",
    "Duration of one detection cycle",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
WEBHOOK = Counter("loglens_analysis_webhook_total", "Webhook notifications by outcome", ["outcome"])
NARRATIVES = Counter("loglens_analysis_narratives_total", "LLM narratives by outcome", ["outcome"])
