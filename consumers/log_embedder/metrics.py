"""Every Prometheus metric of the log_embedder consumer (labels stay low-cardinality)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CONSUMED = Counter("loglens_consumer_consumed_total", "Records read from Kafka")
INDEXED = Counter("loglens_consumer_indexed_total", "Events indexed into OpenSearch")
DLQ = Counter("loglens_consumer_dlq_total", "Records sent to the dead-letter topic", ["stage", "reason"])
MERGED = Counter("loglens_consumer_merged_total", "Records of stack-trace lines joined onto an earlier event")
FLAGGED = Counter("loglens_consumer_flagged_total", "Events indexed with a flag (defaults applied)", ["flag"])
BATCH_SECONDS = Histogram(
    "loglens_consumer_batch_seconds",
    "Wall time of one batch from fetch to commit",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
EMBED_CACHE_HITS = Counter("loglens_consumer_embed_cache_hits_total", "Embedding cache hits")
EMBED_CACHE_MISSES = Counter("loglens_consumer_embed_cache_misses_total", "Embedding cache misses")
EMBED_CALLS = Counter("loglens_consumer_embed_calls_total", "Calls into the embedding model")
BULK_RETRIES = Counter("loglens_consumer_bulk_retries_total", "Bulk requests or items retried", ["cause"])
OPENSEARCH_UP = Gauge("loglens_consumer_opensearch_up", "1 when the last bulk reached OpenSearch")
LAG = Gauge("loglens_consumer_lag", "Records behind the end of the partition", ["partition"])
TEMPLATES_UPDATED = Counter("loglens_consumer_template_updates_total", "Template catalog documents updated")
CATALOG_ERRORS = Counter("loglens_consumer_catalog_errors_total", "Template catalog updates that failed")
REDACTIONS = Counter("loglens_consumer_redactions_total", "Secrets redacted before indexing", ["rule"])
EVENTS_BY_LEVEL = Counter("loglens_consumer_events_total", "Events indexed, by log level", ["level"])
TEMPLATES_TOTAL = Gauge("loglens_consumer_templates", "Templates the miner knows (clusters)")
