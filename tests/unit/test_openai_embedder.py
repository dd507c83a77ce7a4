"""The OpenAI embedding adapter against a local fake OpenAI-compatible server."""

from collections.abc import Iterator

import numpy as np
import pytest

from loglens.embedding.base import EmbedderUnavailableError
from loglens.embedding.openai_embedder import OpenAIEmbedder
from loglens.errors import DependencyUnavailable
from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture()
def embedder(fake: FakeOpenAI) -> OpenAIEmbedder:
    fake.reset()
    return OpenAIEmbedder(
        api_key="sk-test",
        base_url=fake.base_url,
        dim=256,
        batch_size=3,
        timeout_s=1.0,
        attempts=4,
        max_wait_s=0.05,
    )


def test_embeds_in_batches_with_requested_dimensions(fake: FakeOpenAI, embedder: OpenAIEmbedder) -> None:
    vectors = embedder.embed([f"log line {i}" for i in range(7)])
    assert vectors.shape == (7, 256) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    bodies = [r["body"] for r in fake.state.requests]
    assert [len(b["input"]) for b in bodies] == [3, 3, 1]
    assert all(b["dimensions"] == 256 and b["model"] == "text-embedding-3-large" for b in bodies)
    assert fake.state.requests[0]["headers"]["authorization"] == "Bearer sk-test"
    again = embedder.embed(["log line 0"])
    assert np.allclose(again[0], vectors[0])


@pytest.mark.parametrize("failure", ["429", "500", "malformed", "slow"])
def test_transient_failures_are_retried(fake: FakeOpenAI, embedder: OpenAIEmbedder, failure: str) -> None:
    fake.script(failure, failure, slow_seconds=2.0)
    vectors = embedder.embed(["a", "b"])
    assert vectors.shape == (2, 256)
    assert embedder.retries == 2
    assert len(fake.state.requests) == 3


def test_gives_up_with_dependency_unavailable(fake: FakeOpenAI, embedder: OpenAIEmbedder) -> None:
    fake.script("500", "500", "500", "500", "500")
    with pytest.raises(DependencyUnavailable) as err:
        embedder.embed(["a"])
    assert "failed 4 times" in str(err.value)


def test_empty_input_makes_no_call(fake: FakeOpenAI, embedder: OpenAIEmbedder) -> None:
    assert embedder.embed([]).shape == (0, 256)
    assert fake.state.requests == []


def test_needs_a_key_or_base_url() -> None:
    with pytest.raises(EmbedderUnavailableError) as err:
        OpenAIEmbedder(api_key=None, base_url=None)
    assert "LOGLENS_OPENAI_API_KEY" in str(err.value)
