"""An LRU cache in front of any embedder, keyed by the normalized text.

Logs repeat: the same template with the same exception embeds to the same vector,
so most events of a busy service cost no model call at all.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from loglens.embedding.base import Embedder


class CachedEmbedder:
    def __init__(self, inner: Embedder, max_entries: int = 100_000) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.max_entries = max_entries
        self._cache: OrderedDict[str, NDArray[np.float32]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.model_calls = 0

    def __len__(self) -> int:
        return len(self._cache)

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._lock:
            for i, text in enumerate(texts):
                vec = self._cache.get(text)
                if vec is not None:
                    self._cache.move_to_end(text)
                    out[i] = vec
                    self.hits += 1
                else:
                    missing.setdefault(text, []).append(i)
                    self.misses += 1
        if missing:
            unique = list(missing)
            vectors = self.inner.embed(unique)
            with self._lock:
                self.model_calls += 1
                for text, vec in zip(unique, vectors, strict=True):
                    for i in missing[text]:
                        out[i] = vec
                    self._cache[text] = vec
                while len(self._cache) > self.max_entries:
                    self._cache.popitem(last=False)
        return out

    @property
    def hit_ratio(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0
