"""An LRU cache in front of any embedder, keyed by the normalized text.

Logs repeat: the same template with the same exception embeds to the same vector,
so most events of a busy service cost no model call at all. The cache also keeps each
vector in the two forms the consumer needs per event — a rounded Python list for the
document and its JSON text for the bulk body — so a repeated text costs one dict lookup,
not a 384-float conversion and encoding per event.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from loglens import jsonfast
from loglens.embedding.base import Embedder

# Five decimals keep cosine scores exact to ~1e-5 and make the bulk body 2.3x smaller
# (a float32 printed in full takes ~20 characters).
VECTOR_DECIMALS = 5


@dataclass(frozen=True, slots=True)
class EncodedVector:
    """One embedding as stored: float32 row, rounded list (shared, never mutate) and its JSON."""

    array: NDArray[np.float32]
    values: list[float]
    json: str


def encode_vector(row: NDArray[np.float32]) -> EncodedVector:
    values: list[float] = np.round(row.astype(np.float64), VECTOR_DECIMALS).tolist()
    return EncodedVector(row, values, json.dumps(values, separators=(",", ":")))


def dumps_with_vector(doc: dict[str, Any], vector_json: str | None, key: str = "vector") -> str:
    """Compact JSON of ``doc``, its vector spliced in from ``vector_json`` when given (no re-encoding)."""
    if vector_json is None or key not in doc:
        return jsonfast.dumps(doc)
    rest = jsonfast.dumps({k: v for k, v in doc.items() if k != key})
    return f"{rest[:-1]}{',' if len(rest) > 2 else ''}{json.dumps(key)}:{vector_json}}}"


def encode_vectors(embedder: Embedder, texts: Sequence[str]) -> list[EncodedVector]:
    """Vectors of ``texts`` in stored form; cached per text when the embedder is a CachedEmbedder."""
    if isinstance(embedder, CachedEmbedder):
        return embedder.embed_encoded(texts)
    return [encode_vector(row) for row in embedder.embed(texts)]


class CachedEmbedder:
    def __init__(self, inner: Embedder, max_entries: int = 100_000) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.max_entries = max_entries
        self._cache: OrderedDict[str, EncodedVector] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.model_calls = 0

    def __len__(self) -> int:
        return len(self._cache)

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, entry in enumerate(self.embed_encoded(texts)):
            out[i] = entry.array
        return out

    def embed_encoded(self, texts: Sequence[str]) -> list[EncodedVector]:
        """Like :meth:`embed`, in stored form; one model call for all the texts not cached yet."""
        out: list[EncodedVector | None] = [None] * len(texts)
        missing: dict[str, list[int]] = {}
        cache = self._cache
        with self._lock:
            for i, text in enumerate(texts):
                entry = cache.get(text)
                if entry is not None:
                    cache.move_to_end(text)
                    out[i] = entry
                else:
                    missing.setdefault(text, []).append(i)
            missed = sum(len(v) for v in missing.values())
            self.hits += len(texts) - missed
            self.misses += missed
        if missing:
            unique = list(missing)
            fresh = [encode_vector(row) for row in self.inner.embed(unique)]
            with self._lock:
                self.model_calls += 1
                for text, entry in zip(unique, fresh, strict=True):
                    for i in missing[text]:
                        out[i] = entry
                    cache[text] = entry
                while len(cache) > self.max_entries:
                    cache.popitem(last=False)
        done = [entry for entry in out if entry is not None]
        assert len(done) == len(texts)
        return done

    @property
    def hit_ratio(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0
