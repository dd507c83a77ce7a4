"""log_embedder: app-logs → parse → template → embed → OpenSearch log-events (DLQ for poison records)."""
