"""Every Prometheus metric of the AI service."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter("loglens_api_requests_total", "HTTP requests", ["route", "status"])
LATENCY = Histogram(
    "loglens_api_request_seconds",
    "HTTP request latency",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ASK_RESULTS = Counter("loglens_ask_total", "Answers given by /ask", ["model", "outcome"])
DEPENDENCY_ERRORS = Counter("loglens_api_dependency_errors_total", "Dependency failures", ["dependency"])
