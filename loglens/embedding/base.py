"""The embedder port: what the consumer and the AI service need from any sentence embedder.

An embedder turns a batch of texts into one L2-normalized ``float32`` row per text, so the
dot product of two rows is their cosine similarity (what OpenSearch k-NN ``cosinesimil``
and the RAG ranking use). Implementations are synchronous and CPU- or network-bound;
async callers run ``embed`` in a thread pool, so implementations must be safe to call
from several threads at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from loglens.errors import ConfigError

Vectors = npt.NDArray[np.float32]
"""A ``(n_texts, dim)`` float32 array with L2-normalized rows."""


@runtime_checkable
class Embedder(Protocol):
    """A sentence embedder (port). Adapters: MiniLM (local numpy), hashing, OpenAI."""

    name: str
    """Model name stored next to each vector, so vectors of different models are never mixed."""
    dim: int
    """Length of every vector returned by :meth:`embed`."""

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts`` into a ``(len(texts), dim)`` float32 array with unit-norm rows.

        Order is preserved; an empty sequence gives an array of shape ``(0, dim)``.
        Thread-safe: may be called concurrently from a thread pool.
        """
        ...


class EmbedderSettings(Protocol):
    """The settings :func:`loglens.embedding.build_embedder` reads (``loglens.config.Settings`` fits).

    Kept as a read-only protocol so the embedding package does not import the settings
    module (and tests can pass a ``SimpleNamespace``).
    """

    @property
    def embedder(self) -> str: ...
    @property
    def embed_batch_size(self) -> int: ...
    @property
    def openai_api_key(self) -> str | None: ...
    @property
    def openai_base_url(self) -> str | None: ...
    @property
    def openai_embedding_model(self) -> str: ...
    @property
    def openai_embedding_dim(self) -> int: ...


class EmbedderUnavailableError(ConfigError):
    """The configured embedder cannot be built here (model files or adapter missing)."""


def l2_normalize(vectors: npt.ArrayLike, eps: float = 1e-12) -> Vectors:
    """Return float32 rows scaled to unit L2 norm (rows of norm < ``eps`` are divided by ``eps``).

    Same convention as ``torch.nn.functional.normalize`` used by sentence-transformers.
    """
    v = np.asarray(vectors, dtype=np.float32)
    norms: Vectors = np.linalg.norm(v, axis=1, keepdims=True)
    np.maximum(norms, np.float32(eps), out=norms)
    return (v / norms).astype(np.float32, copy=False)


def empty_vectors(dim: int) -> Vectors:
    """The ``(0, dim)`` result for an empty input."""
    return np.zeros((0, dim), dtype=np.float32)
