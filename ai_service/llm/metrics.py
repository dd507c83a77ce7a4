"""Prometheus metrics of the LLM answerer (registered once, on import)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

TOKENS = Counter("loglens_llm_tokens", "Tokens used by LLM calls, as reported by the endpoint", ["kind"])
CALLS = Counter(
    "loglens_llm_calls",
    "LLM call attempts by outcome (ok, rate_limited, server_error, timeout, connection_error, "
    "bad_output, rejected, error)",
    ["outcome"],
)
CALL_SECONDS = Histogram(
    "loglens_llm_call_seconds",
    "Latency of one LLM call attempt",
    buckets=(0.25, 0.5, 1, 2, 4, 8, 15, 30, 60),
)
DROPPED_CITATIONS = Counter(
    "loglens_llm_dropped_citations", "Citations of unknown evidence ids removed from LLM answers"
)


def record_tokens(prompt: int, completion: int) -> None:
    if prompt:
        TOKENS.labels(kind="prompt").inc(prompt)
    if completion:
        TOKENS.labels(kind="completion").inc(completion)
