"""Bulk indexing into OpenSearch, with each failed item classified as retriable or not."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from consumers.log_embedder.pipeline import IndexAction
from loglens import jsonfast
from loglens.embedding.cache import dumps_with_vector

# Statuses where the same request may succeed later (overload, shard not ready, node restarting).
RETRIABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(slots=True)
class ItemFailure:
    action: IndexAction
    status: int
    error: str
    retriable: bool


class EventSink(Protocol):
    async def write(self, actions: Sequence[IndexAction]) -> list[ItemFailure]:
        """Index the actions; raise on transport failure, return per-item failures."""
        ...

    async def write_catalog(self, body: str) -> list[str]:
        """Apply template-catalog updates (bulk NDJSON); return per-item error texts."""
        ...


def bulk_body(actions: Sequence[IndexAction]) -> str:
    lines: list[str] = []
    for action in actions:
        lines.append(jsonfast.dumps({"index": {"_index": action.index, "_id": action.doc_id}}))
        # The vector's JSON was made once per distinct text: spliced in, not re-encoded per event.
        lines.append(dumps_with_vector(action.doc, action.vector_json))
    return "\n".join(lines) + "\n"


def classify_bulk_response(actions: Sequence[IndexAction], response: dict[str, Any]) -> list[ItemFailure]:
    failures: list[ItemFailure] = []
    if not response.get("errors"):
        return failures
    for action, item in zip(actions, response.get("items", []), strict=False):
        result = item.get("index") or item.get("create") or {}
        status = int(result.get("status", 0))
        if 200 <= status < 300:
            continue
        error = result.get("error", {})
        text = json.dumps(error)[:1000] if isinstance(error, dict) else str(error)[:1000]
        failures.append(ItemFailure(action, status, text, status in RETRIABLE_STATUSES))
    return failures


class OpenSearchSink:
    """Writes with the async client; transport errors propagate for the caller's retry loop."""

    def __init__(self, client: Any, refresh: bool = False) -> None:
        self.client = client
        self.refresh = refresh

    async def write(self, actions: Sequence[IndexAction]) -> list[ItemFailure]:
        if not actions:
            return []
        response = await self.client.bulk(body=bulk_body(actions), refresh=self.refresh)
        return classify_bulk_response(actions, response)

    async def write_catalog(self, body: str) -> list[str]:
        """Apply template-catalog updates; returns the error texts of items that failed."""
        response = await self.client.bulk(body=body)
        if not response.get("errors"):
            return []
        errors = []
        for item in response.get("items", []):
            result = item.get("update", {})
            if not 200 <= int(result.get("status", 0)) < 300:
                errors.append(json.dumps(result.get("error", {}))[:500])
        return errors
