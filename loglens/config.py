"""One settings object for every LogLens process, read from environment variables.

Every field maps to an env var ``LOGLENS_<FIELD>`` (upper case); the README's
configuration table lists them all. Read it once per entry point with
:func:`get_settings` and pass it down; nothing reads the environment elsewhere.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "loglens"


def _default_state_dir() -> Path:
    return Path.home() / ".local" / "share" / "loglens"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOGLENS_", extra="ignore")

    # --- local stack -------------------------------------------------------
    cache_dir: Path = Field(
        default_factory=_default_cache_dir,
        description="Downloaded server artifacts (Kafka jars, OpenSearch zips); outside the repo.",
    )
    state_dir: Path = Field(
        default_factory=_default_state_dir,
        description="Data, logs and pid files of the local stack and of processes started by `loglens up`.",
    )
    kafka_version: str = Field("3.9.1", description="Apache Kafka broker version fetched with Maven.")
    opensearch_version: str = Field("2.19.1", description="OpenSearch + k-NN plugin version.")
    opensearch_heap: str = Field("1g", description="OpenSearch JVM heap (-Xms/-Xmx).")
    kafka_heap: str = Field("512m", description="Kafka broker JVM heap.")
    stack_timeout_s: float = Field(180.0, description="Seconds to wait for each server to be ready.")

    # --- Kafka -------------------------------------------------------------
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers.")
    topic: str = Field("app-logs", description="Topic the Spring apps log to.")
    dlq_topic: str = Field("app-logs.dlq", description="Dead-letter topic for poison records.")
    topic_partitions: int = Field(6, description="Partitions of the app-logs topic when created.")
    consumer_group: str = Field("loglens-embedder", description="Consumer group of log_embedder.")

    # --- OpenSearch --------------------------------------------------------
    opensearch_url: str = Field("http://127.0.0.1:9200", description="OpenSearch base URL.")
    opensearch_user: str | None = Field(None, description="OpenSearch basic-auth user (production).")
    opensearch_password: str | None = Field(None, description="OpenSearch basic-auth password.")
    opensearch_timeout_s: float = Field(30.0, description="Per-request OpenSearch timeout.")
    opensearch_ca_certs: Path | None = Field(
        None, description="CA bundle that signed OpenSearch's TLS certificate (private CA in compose)."
    )
    index_shards: int = Field(1, description="Primary shards of LogLens indices.")
    index_replicas: int = Field(0, description="Replicas of LogLens indices (0 on a single node).")

    # --- embeddings --------------------------------------------------------
    embedder: Literal["minilm", "hash", "openai"] = Field(
        "minilm",
        description="minilm = local all-MiniLM-L6-v2 (384-d, numpy); hash = feature hashing "
        "(tests only); openai = OpenAI-compatible embeddings endpoint.",
    )
    embed_batch_size: int = Field(64, description="Texts per embedding call.")
    openai_api_key: str | None = Field(None, description="Key for OpenAI or a compatible endpoint.")
    openai_base_url: str | None = Field(None, description="OpenAI-compatible base URL (vLLM, Ollama...).")
    openai_embedding_model: str = Field("text-embedding-3-large", description="Embedding model name.")
    openai_embedding_dim: int = Field(1024, description="Embedding dimensions asked of the endpoint.")

    # --- LLM answers (off unless a key or an OpenAI-compatible base URL is set) ---
    llm_enabled: bool = Field(True, description="Off switch for LLM answers even when a key is set.")
    llm_model: str = Field("gpt-4o-mini", description="Chat model for answers and analysis narratives.")
    llm_base_url: str | None = Field(
        None, description="OpenAI-compatible chat endpoint (vLLM, Ollama); enables the LLM without a key."
    )
    llm_timeout_s: float = Field(20.0, description="Timeout of one LLM call.")
    llm_attempts: int = Field(3, description="LLM attempts (retries on 429/5xx/timeouts/bad output).")
    llm_deadline_s: float = Field(45.0, description="Overall time budget of one answer across retries.")
    llm_max_prompt_tokens: int = Field(3000, description="Prompt token budget (evidence is cut to fit).")
    llm_max_completion_tokens: int = Field(500, description="Longest answer, in tokens.")
    llm_temperature: float = Field(0.0, description="Sampling temperature of answers.")

    # --- on-call analyses (issue 6) ---
    analysis_worker_enabled: bool = Field(
        True, description="Run the detection loop in this AI service process."
    )
    analysis_interval_s: float = Field(10.0, description="Seconds between detection cycles.")
    analysis_ttl_s: float = Field(3600.0, description="Re-analyse a repeating fingerprint after this long.")
    analysis_lookback_s: float = Field(86400.0, description="History a template counts as new against.")
    analysis_max_per_cycle: int = Field(20, description="Analyses built at most per detection cycle.")
    analysis_webhook_url: str | None = Field(None, description="Slack-compatible webhook for new analyses.")
    analysis_webhook_timeout_s: float = Field(5.0, description="Timeout of one webhook POST.")
    analysis_narrative_enabled: bool = Field(True, description="Write an LLM narrative when an LLM is set.")

    # --- consumer ----------------------------------------------------------
    consumer_batch_max: int = Field(1000, description="Max records per consumer batch.")
    consumer_batch_timeout_ms: int = Field(500, description="Max wait to fill a batch.")
    consumer_bulk_concurrency: int = Field(
        2,
        ge=1,
        le=16,
        description="Bulk requests a batch is split into, sent at once (one per OpenSearch write thread).",
    )
    consumer_metrics_port: int = Field(9108, description="Port of the consumer's /metrics (0 = off).")
    consumer_metrics_host: str = Field(
        "127.0.0.1", description="Bind address of the consumer's /metrics (0.0.0.0 in containers)."
    )
    raw_max_bytes: int = Field(8192, description="Size cap of the `raw` field stored per event.")
    record_max_bytes: int = Field(
        1_048_576, description="Records larger than this go to the dead-letter topic (reason too_large)."
    )

    # --- redaction (before anything is embedded, stored or sent to a model) ---
    redaction_rules: str = Field(
        "aws_key,bearer,jwt,secret_kv,email,card,generic_api_key",
        description="Redaction rules, comma-separated (or `default`, `all`, `none`); docs/redaction.md.",
    )
    redact_ips: bool = Field(False, description="Also redact IPv4/IPv6 addresses (the `ip` rule).")
    redaction_replacement: str = Field(
        "[REDACTED:{rule}]", description="Replacement token; {rule} = rule name."
    )

    # --- AI service --------------------------------------------------------
    api_host: str = Field("127.0.0.1", description="Bind address of the AI service.")
    api_port: int = Field(8000, description="Port of the AI service (blue 8000, green 8001).")
    slot: str = Field("blue", description="Blue/green slot this process serves.")
    build: str = Field("dev", description="Build id stamped on /version and logs.")
    ask_default_k: int = Field(10, description="Citations returned by /ask.")
    qa_cache_enabled: bool = Field(True, description="Serve repeated questions from the two-gate QA cache.")
    qa_cache_threshold: float = Field(
        0.84, description="Cosine similarity a cached question needs (calibrated, docs/qa-cache.md)."
    )
    qa_cache_ttl_s: float = Field(600.0, description="Seconds a cached answer lives at most.")
    api_keys: str | None = Field(
        None,
        description="Comma-separated API keys accepted in `X-API-Key` on /ask and /analyses (unset = open).",
    )
    api_keys_file: Path | None = Field(None, description="File with one API key per line (a mounted secret).")
    rate_limit_per_min: int = Field(
        60, description="Requests per minute per API key (or client IP), 0 = off."
    )
    rate_limit_burst: int = Field(20, description="Requests allowed at once above the steady rate.")
    max_body_bytes: int = Field(16_384, description="Largest accepted request body; larger gets 413.")
    cors_origins: str = Field(
        "", description="Comma-separated origins allowed by CORS (empty = same origin only)."
    )
    forwarded_allow_ips: str = Field(
        "127.0.0.1", description="Proxies (nginx) whose X-Forwarded-For is trusted for the client address."
    )
    metrics_port: int = Field(
        0,
        description="Serve /metrics on this separate (internal) port instead of the API port; 0 = API port.",
    )
    log_level: str = Field("INFO", description="Log level of LogLens processes.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
