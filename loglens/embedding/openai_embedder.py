"""Embedder adapter for OpenAI ``text-embedding-3-large`` or any OpenAI-compatible endpoint.

Retries (tenacity, exponential backoff with jitter) only what may pass: rate limits, timeouts,
connection errors and 5xx. Anything else — a bad key, an unknown model, a response that is not
what the API promises — fails at once with a clear message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import openai
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from loglens.embedding.base import (
    EmbedderSettings,
    EmbedderUnavailableError,
    Vectors,
    empty_vectors,
    l2_normalize,
)
from loglens.errors import DependencyUnavailable

_RETRIABLE = (
    openai.RateLimitError,
    openai.APITimeoutError,
    openai.APIConnectionError,
    openai.InternalServerError,
)


def _retriable(exc: BaseException) -> bool:
    # A body that is not the promised JSON is treated like a 5xx: a proxy or server glitch.
    return isinstance(exc, (*_RETRIABLE, openai.APIResponseValidationError, ValueError)) and not isinstance(
        exc, EmbedderUnavailableError
    )


class OpenAIEmbedder:
    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None,
        model: str = "text-embedding-3-large",
        dim: int = 1024,
        batch_size: int = 64,
        timeout_s: float = 20.0,
        attempts: int = 5,
        max_wait_s: float = 8.0,
    ) -> None:
        if not api_key and not base_url:
            raise EmbedderUnavailableError(
                "LOGLENS_EMBEDDER=openai needs LOGLENS_OPENAI_API_KEY (OpenAI) or LOGLENS_OPENAI_BASE_URL "
                "(an OpenAI-compatible server such as vLLM or Ollama)"
            )
        # The SDK's own retries are off: ours are visible, bounded and counted.
        self._client = openai.OpenAI(
            api_key=api_key or "not-needed", base_url=base_url, timeout=timeout_s, max_retries=0
        )
        self.name = model
        self.dim = dim
        self.batch_size = batch_size
        self.attempts = attempts
        self.max_wait_s = max_wait_s
        self.retries = 0

    @classmethod
    def from_settings(cls, settings: EmbedderSettings) -> OpenAIEmbedder:
        return cls(
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            model=settings.openai_embedding_model,
            dim=settings.openai_embedding_dim,
            batch_size=settings.embed_batch_size,
        )

    def _call(self, batch: list[str]) -> list[list[float]]:
        response: Any = self._client.embeddings.create(model=self.name, input=batch, dimensions=self.dim)
        data = sorted(response.data, key=lambda d: d.index)
        if len(data) != len(batch) or any(len(d.embedding) != self.dim for d in data):
            raise EmbedderUnavailableError(
                f"embedding endpoint returned {len(data)} vectors for {len(batch)} texts "
                f"(or not {self.dim}-d); check LOGLENS_OPENAI_EMBEDDING_DIM and the model"
            )
        return [list(d.embedding) for d in data]

    def _on_retry(self, _: Any) -> None:
        self.retries += 1

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return empty_vectors(self.dim)
        rows: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            retrying = Retrying(
                retry=retry_if_exception(_retriable),
                stop=stop_after_attempt(self.attempts),
                wait=wait_exponential_jitter(multiplier=0.2, max=self.max_wait_s),
                before_sleep=self._on_retry,
                reraise=False,
            )
            try:
                rows.extend(retrying(self._call, batch))
            except RetryError as exc:
                cause = exc.last_attempt.exception()
                raise DependencyUnavailable(
                    "embeddings", f"embedding endpoint failed {self.attempts} times: {cause}"
                ) from cause
            except openai.APIStatusError as exc:
                raise EmbedderUnavailableError(f"embedding endpoint rejected the request: {exc}") from exc
        return l2_normalize(np.asarray(rows, dtype=np.float32))
