"""Bulk indexing into OpenSearch, with each failed item classified as retriable or not."""

from __future__ import annotations

import asyncio
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


def split_even(actions: Sequence[IndexAction], parts: int) -> list[Sequence[IndexAction]]:
    """Contiguous slices of near-equal size, at most ``parts`` of them, none empty."""
    parts = max(1, min(parts, len(actions)))
    size, extra = divmod(len(actions), parts)
    out: list[Sequence[IndexAction]] = []
    start = 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        out.append(actions[start:end])
        start = end
    return out


class OpenSearchSink:
    """Writes with the async client; transport errors propagate for the caller's retry loop.

    A batch goes out as ``concurrency`` bulk requests at once: OpenSearch runs one bulk request
    per shard on one write thread, and building the HNSW graph is most of that work, so a single
    request in flight leaves the other core idle (see `knn-cost` in docs/benchmarks.md). The
    caller commits only after every part succeeded; a part that failed in transport fails the
    whole write (after the other parts finished), and the retry rewrites the same ids.
    """

    def __init__(self, client: Any, refresh: bool = False, concurrency: int = 1) -> None:
        self.client = client
        self.refresh = refresh
        self.concurrency = concurrency

    async def write(self, actions: Sequence[IndexAction]) -> list[ItemFailure]:
        if not actions:
            return []
        parts = split_even(actions, self.concurrency)
        results = await asyncio.gather(*(self._write_part(part) for part in parts), return_exceptions=True)
        failures: list[ItemFailure] = []
        for result in results:
            if isinstance(result, BaseException):
                raise result
            failures.extend(result)
        return failures

    async def _write_part(self, actions: Sequence[IndexAction]) -> list[ItemFailure]:
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
