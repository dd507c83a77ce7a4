"""Sentence embedders behind one port (:class:`Embedder`), picked by ``LOGLENS_EMBEDDER``.

* ``minilm`` -> :class:`MiniLMEmbedder`: all-MiniLM-L6-v2, 384-d, run locally on numpy.
* ``hash``   -> :class:`HashingEmbedder`: feature hashing, no model (tests, fallback).
* ``openai`` -> ``loglens.embedding.openai_embedder.OpenAIEmbedder`` (OpenAI-compatible API).

``embed()`` is synchronous; async code calls it via ``asyncio.to_thread`` / an executor.
"""

from __future__ import annotations

from loglens.embedding.base import (
    Embedder,
    EmbedderSettings,
    EmbedderUnavailableError,
    Vectors,
    l2_normalize,
)
from loglens.embedding.hashing import HashingEmbedder
from loglens.embedding.minilm import MiniLMEmbedder, ModelFilesMissingError, locate_model_dir

__all__ = [
    "Embedder",
    "EmbedderSettings",
    "EmbedderUnavailableError",
    "HashingEmbedder",
    "MiniLMEmbedder",
    "ModelFilesMissingError",
    "OpenAIAdapterMissingError",
    "Vectors",
    "build_embedder",
    "l2_normalize",
    "locate_model_dir",
]


class OpenAIAdapterMissingError(EmbedderUnavailableError, NotImplementedError):
    """``LOGLENS_EMBEDDER=openai`` but the adapter (or the ``openai`` SDK) cannot be imported."""


def build_embedder(settings: EmbedderSettings) -> Embedder:
    """The embedder selected by ``settings.embedder`` (loads the MiniLM weights if chosen).

    The OpenAI adapter is imported only when chosen, so the ``openai`` SDK is never loaded
    by processes that embed locally.
    """
    kind = settings.embedder
    if kind == "minilm":
        return MiniLMEmbedder(batch_size=settings.embed_batch_size)
    if kind == "hash":
        return HashingEmbedder()
    if kind == "openai":
        try:
            from loglens.embedding.openai_embedder import OpenAIEmbedder
        except ModuleNotFoundError as exc:
            if exc.name not in {"loglens.embedding.openai_embedder", "openai"}:
                raise
            raise OpenAIAdapterMissingError(
                "LOGLENS_EMBEDDER=openai: the OpenAI adapter lives in "
                "loglens.embedding.openai_embedder (class OpenAIEmbedder) and cannot be imported "
                f"here ({exc}). Install the `openai` package or use LOGLENS_EMBEDDER=minilm or hash."
            ) from exc
        embedder: Embedder = OpenAIEmbedder.from_settings(settings)
        return embedder
    raise EmbedderUnavailableError(f"unknown embedder {kind!r}; expected one of: minilm, hash, openai")
