"""Feature-hashing embedder: deterministic, model-free, microseconds per text.

Each text is lower-cased and split into word tokens; every unigram and every bigram of
adjacent tokens is hashed with BLAKE2b (stable across processes and machines, unlike
Python's salted ``hash``) into one of ``dim`` buckets with a +1/-1 sign taken from another
bit of the same digest, and the bucket counts are L2-normalized. Texts sharing words get
a positive cosine; it knows nothing about synonyms ("DB" vs "database"). Used by unit
tests and as a fast fallback (``LOGLENS_EMBEDDER=hash``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from functools import lru_cache
from itertools import pairwise
from typing import Final

import numpy as np

from loglens.embedding.base import Vectors, empty_vectors, l2_normalize

_TOKEN: Final = re.compile(r"[^\W_]+")
# A text without any token still gets a unit vector (OpenSearch cosinesimil rejects zero vectors).
_EMPTY_FEATURE: Final = "\x00empty"


@lru_cache(maxsize=1 << 16)
def _feature_hash(feature: str) -> int:
    """Stable 64-bit hash of a feature string (cached: log vocabularies are small)."""
    return int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "little")


def features(text: str) -> list[str]:
    """Unigrams and ``"a b"`` bigrams of the lower-cased word tokens of ``text``."""
    tokens = _TOKEN.findall(text.lower())
    if not tokens:
        return [_EMPTY_FEATURE]
    return tokens + [f"{a} {b}" for a, b in pairwise(tokens)]


class HashingEmbedder:
    """Signed feature hashing of word unigrams + bigrams into ``dim`` buckets, unit-norm rows."""

    name: str = "hashing"

    def __init__(self, dim: int = 384) -> None:
        if dim < 2:
            raise ValueError(f"dim must be >= 2, got {dim}")
        self.dim: int = dim

    def __repr__(self) -> str:
        return f"HashingEmbedder(dim={self.dim})"

    def embed(self, texts: Sequence[str]) -> Vectors:
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not a single str")
        if len(texts) == 0:
            return empty_vectors(self.dim)
        rows: list[int] = []
        cols: list[int] = []
        signs: list[float] = []
        for i, text in enumerate(texts):
            for feature in features(text):
                h = _feature_hash(feature)
                rows.append(i)
                cols.append(h % self.dim)
                signs.append(1.0 if (h >> 63) & 1 else -1.0)
        out = np.zeros((len(texts), self.dim), dtype=np.float64)
        np.add.at(out, (np.asarray(rows), np.asarray(cols)), np.asarray(signs))
        # Signed features can cancel out exactly (astronomically rare); never return a zero row.
        for row in np.flatnonzero(~out.any(axis=1)):
            out[row, _feature_hash(_EMPTY_FEATURE) % self.dim] = 1.0
        return l2_normalize(out)
