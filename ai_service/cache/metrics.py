"""Prometheus metrics of the QA cache (registered in the default registry on import)."""

from __future__ import annotations

from prometheus_client import Counter

HITS = Counter("loglens_qa_cache_hits_total", "QA cache lookups served from the cache (both gates passed)")
MISSES = Counter("loglens_qa_cache_misses_total", "QA cache lookups not served from the cache")
GATE2_REJECTIONS = Counter(
    "loglens_qa_cache_gate2_rejections_total",
    "Misses where the nearest cached question overall was above the similarity threshold "
    "but had a different resolved scope (gate 2 refused it)",
)
MINIMAL_PAIR_REJECTIONS = Counter(
    "loglens_qa_cache_minimal_pair_rejections_total",
    "In-scope neighbours above the threshold refused because the two questions are a minimal pair "
    "(one content word substituted, or two exchanged)",
)
INVALIDATIONS = Counter(
    "loglens_qa_cache_invalidations_total",
    "Cache entries removed before use: reason=events (new events in their scope) or ttl (expired)",
    ["reason"],
)
ERRORS = Counter(
    "loglens_qa_cache_errors_total",
    "QA cache store failures (lookup/store fail open: treated as a miss / not stored)",
    ["op"],
)
