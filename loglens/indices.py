"""Index names and index templates: the single place the OpenSearch contract lives.

The stack installs these at ``loglens stack up``; the consumer and the AI service
install them again at start-up (PUT is idempotent), so a fresh cluster always has them.
The vector dimension follows the configured embedder.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from loglens.config import Settings

EVENTS_ALIAS = "log-events"
EVENTS_INDEX_PREFIX = "log-events-"
TEMPLATES_INDEX = "log-templates"
QA_CACHE_INDEX = "qa-cache"
ANALYSES_INDEX = "log-analyses"
STATE_INDEX = "loglens-state"  # internal: persisted consumer state (template miner snapshot)
LOGSTASH_INDEX_PATTERN = "logs-*"
LOGSTASH_INDEX_PREFIX = "logs-"

EMBEDDER_DIMS = {"minilm": 384, "hash": 384}


def embedder_dim(settings: Settings) -> int:
    if settings.embedder == "openai":
        return settings.openai_embedding_dim
    return EMBEDDER_DIMS[settings.embedder]


def events_index_for(ts: datetime) -> str:
    """Daily index name ``log-events-YYYY.MM.DD`` (UTC)."""
    return _events_index_for_day(ts.year, ts.month, ts.day)


@functools.lru_cache(maxsize=256)  # called per event; only a few days are ever live
def _events_index_for_day(year: int, month: int, day: int) -> str:
    return f"{EVENTS_INDEX_PREFIX}{year:04d}.{month:02d}.{day:02d}"


def _vector_field(dim: int) -> dict[str, Any]:
    # Lucene engine: the k-NN plugin zip from Maven ships no native faiss/nmslib libraries.
    return {
        "type": "knn_vector",
        "dimension": dim,
        "method": {
            "name": "hnsw",
            "engine": "lucene",
            "space_type": "cosinesimil",
            "parameters": {"m": 16, "ef_construction": 128},
        },
    }


_KW = {"type": "keyword"}
_KW_IGNORE_LONG = {"type": "keyword", "ignore_above": 1024}


def _event_properties() -> dict[str, Any]:
    """Fields shared by the consumer's events and Logstash's raw ``logs-*`` documents."""
    return {
        "@timestamp": {"type": "date"},
        "service": _KW,
        "env": _KW,
        "version": _KW,
        "slot": _KW,
        "host": _KW,
        "level": _KW,
        "logger": _KW,
        "thread": _KW,
        "message": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 512}}},
        "trace_id": _KW,
        "span_id": _KW,
        "tags": _KW,
        "stack_trace": {"type": "text"},
        "exception": {
            "properties": {
                "class": _KW,
                "message": {"type": "text"},
                "frames": _KW_IGNORE_LONG,
                "top_app_frame": _KW,
                "causes": {"properties": {"class": _KW, "message": {"type": "text"}}},
            }
        },
        "kafka": {"properties": {"topic": _KW, "partition": {"type": "integer"}, "offset": {"type": "long"}}},
    }


def index_templates(settings: Settings) -> dict[str, dict[str, Any]]:
    """Name → composable index template body."""
    dim = embedder_dim(settings)
    base_settings = {
        "number_of_shards": settings.index_shards,
        "number_of_replicas": settings.index_replicas,
        "refresh_interval": "1s",
    }
    knn_settings = {**base_settings, "knn": True}
    meta = {"embedder": settings.embedder, "dim": dim}
    events_props = {
        **_event_properties(),
        "template_id": _KW,
        "template": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 512}}},
        "params": _KW_IGNORE_LONG,
        "flags": _KW,
        "source_format": _KW,
        "raw": {"type": "text", "index": False},
        "vector": _vector_field(dim),
    }
    return {
        "loglens-log-events": {
            "index_patterns": [f"{EVENTS_INDEX_PREFIX}*"],
            "priority": 200,
            "template": {
                "settings": {"index": knn_settings},
                "aliases": {EVENTS_ALIAS: {}},
                "mappings": {"dynamic": False, "_meta": meta, "properties": events_props},
            },
        },
        "loglens-log-templates": {
            "index_patterns": [TEMPLATES_INDEX],
            "priority": 200,
            "template": {
                "settings": {"index": knn_settings},
                "mappings": {
                    "dynamic": False,
                    "_meta": meta,
                    "properties": {
                        "template_id": _KW,
                        "template": {"type": "text"},
                        "exception_class": _KW,
                        "top_app_frame": _KW,
                        "first_seen": {"type": "date"},
                        "last_seen": {"type": "date"},
                        "count": {"type": "long"},
                        "services": _KW,
                        "levels": _KW,
                        "example_ids": _KW,
                        "versions": _KW,
                        "slots": _KW,
                        "offsets": {"type": "object", "enabled": False},
                        "vector": _vector_field(dim),
                    },
                },
            },
        },
        "loglens-qa-cache": {
            "index_patterns": [QA_CACHE_INDEX],
            "priority": 200,
            "template": {
                "settings": {"index": knn_settings},
                "mappings": {
                    "dynamic": False,
                    "_meta": meta,
                    "properties": {
                        "question": {"type": "text"},
                        "scope_key": _KW,
                        "scope": {"type": "object", "enabled": False},
                        "response": {"type": "object", "enabled": False},
                        "created_at": {"type": "date"},
                        "expires_at": {"type": "date"},
                        "services": _KW,
                        "vector": _vector_field(dim),
                    },
                },
            },
        },
        "loglens-log-analyses": {
            "index_patterns": [ANALYSES_INDEX],
            "priority": 200,
            "template": {
                "settings": {"index": base_settings},
                "mappings": {
                    "dynamic": False,
                    "properties": {
                        "fingerprint": _KW,
                        "status": _KW,
                        "service": _KW,
                        "services": _KW,
                        "template_id": _KW,
                        "template": {"type": "text"},
                        "level": _KW,
                        "version": _KW,
                        "slot": _KW,
                        "created_at": {"type": "date"},
                        "updated_at": {"type": "date"},
                        "first_seen": {"type": "date"},
                        "last_seen": {"type": "date"},
                        "count": {"type": "long"},
                        "kind": _KW,
                        "title": {"type": "text"},
                        "primary_service": _KW,
                        "analysed_at": {"type": "date"},
                        "resolved_at": {"type": "date"},
                        "notified_at": {"type": "date"},
                        "body": {"type": "object", "enabled": False},
                    },
                },
            },
        },
        "loglens-state": {
            "index_patterns": [STATE_INDEX],
            "priority": 200,
            "template": {
                "settings": {"index": base_settings},
                "mappings": {
                    "dynamic": False,
                    "properties": {"kind": _KW, "state": {"type": "text", "index": False}},
                },
            },
        },
        # Logstash writes the raw events here; same field names as log-events, no vector.
        "loglens-logs": {
            "index_patterns": [LOGSTASH_INDEX_PATTERN],
            "priority": 100,
            "template": {
                "settings": {"index": base_settings},
                "mappings": {"dynamic": True, "properties": _event_properties()},
            },
        },
    }


def _fixed_index_properties(settings: Settings, index: str) -> dict[str, Any]:
    for body in index_templates(settings).values():
        if body["index_patterns"] == [index]:
            return {"properties": body["template"]["mappings"]["properties"]}
    raise KeyError(index)


def install_index_templates_sync(settings: Settings) -> list[str]:
    """PUT every index template (idempotent) and create the fixed-name indices. Returns template names."""
    from loglens.opensearch_client import sync_client  # adapter import kept out of module load

    client = sync_client(settings)
    try:
        for name, body in index_templates(settings).items():
            client.indices.put_index_template(name=name, body=body)
        for index in (TEMPLATES_INDEX, QA_CACHE_INDEX, ANALYSES_INDEX, STATE_INDEX):
            if not client.indices.exists(index=index):
                client.indices.create(index=index)
            else:  # new fields added to a template reach the existing index too
                client.indices.put_mapping(index=index, body=_fixed_index_properties(settings, index))
        return list(index_templates(settings))
    finally:
        client.close()


async def install_index_templates_async(client: Any, settings: Settings) -> None:
    """Async twin used by the services' start-up (client: ``AsyncOpenSearch``)."""
    for name, body in index_templates(settings).items():
        await client.indices.put_index_template(name=name, body=body)
    for index in (TEMPLATES_INDEX, QA_CACHE_INDEX, ANALYSES_INDEX, STATE_INDEX):
        if not await client.indices.exists(index=index):
            try:
                await client.indices.create(index=index)
            except Exception as exc:  # another process created it between exists and create
                if "resource_already_exists" not in str(exc):
                    raise
        else:
            await client.indices.put_mapping(index=index, body=_fixed_index_properties(settings, index))
