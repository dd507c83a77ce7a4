"""QA cache: serve a previous answer to a paraphrased question with the same resolved scope."""

from __future__ import annotations

from ai_service.cache.qa_cache import (
    DEFAULT_THRESHOLD,
    DEFAULT_TTL_S,
    CacheEntry,
    CacheLookup,
    InMemoryQACacheStore,
    Neighbour,
    OpenSearchQACacheStore,
    QACache,
    QACacheStore,
)
from ai_service.cache.scope import Scope, detect_negation, scope_key

__all__ = [
    "DEFAULT_THRESHOLD",
    "DEFAULT_TTL_S",
    "CacheEntry",
    "CacheLookup",
    "InMemoryQACacheStore",
    "Neighbour",
    "OpenSearchQACacheStore",
    "QACache",
    "QACacheStore",
    "Scope",
    "detect_negation",
    "scope_key",
]
