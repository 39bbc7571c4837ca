"""Embedder precision choice and batched query embedding, with the real bundled models."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ragline.retrieval.embedders import sentence
from ragline.retrieval.embedders.base import embed_queries, recompute_non_finite
from ragline.retrieval.embedders.cache import RecentQueries
from ragline.retrieval.embedders.sentence import (
    MINILM_ID,
    SentenceTransformerEmbedder,
    auto_precision,
    cpu_has_native_bf16,
    minilm_path,
)
from ragline.retrieval.embedders.use import UseEmbedder
from ragline.retrieval.errors import RaglineError

FLAGS = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f {extra}\nbogomips\t: 4800\n"
TEXTS = [
    "Enable a unit with systemctl enable NAME so it starts at boot.",
    "APT installs packages from the Debian archive.",
    "Keys for OpenSSH live in ~/.ssh and authorized_keys.",
    "Git tracks versions of files; commit often and push to a remote.",
]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [("avx512_bf16", True), ("amx_bf16 amx_tile", True), ("avx512_vnni", False)],
)
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path: Path, extra: str, expected: bool) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(FLAGS.format(extra=extra))
    assert cpu_has_native_bf16(cpuinfo) is expected
    assert cpu_has_native_bf16(tmp_path / "missing") is False


def test_auto_precision(monkeypatch: pytest.MonkeyPatch) -> None:
    assert auto_precision("cuda:0") == "fp16"
    monkeypatch.setattr(sentence, "cpu_has_native_bf16", lambda: False)
    assert auto_precision("cpu") == "fp32"
    monkeypatch.setattr(sentence, "cpu_has_native_bf16", lambda: True)
    assert auto_precision("cpu") == "bf16"


@pytest.mark.skipif(not cpu_has_native_bf16(), reason="this CPU has no native bf16")
def test_bf16_vectors_rank_like_fp32() -> None:
    fp32 = SentenceTransformerEmbedder(minilm_path(), MINILM_ID, device="cpu", precision="fp32")
    bf16 = SentenceTransformerEmbedder(minilm_path(), MINILM_ID, device="cpu", precision="bf16")
    a, b = fp32.embed_documents(TEXTS), bf16.embed_documents(TEXTS)
    assert b.dtype == np.float32 and np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    assert float((a * b).sum(axis=1).min()) > 0.99
    query = "how do I start a service when the machine boots?"
    order = [np.argsort(-(m @ e.embed_query(query))).tolist() for m, e in ((a, fp32), (b, bf16))]
    assert order[0] == order[1] and order[0][0] == 0


class NaNForSecondText:
    """A reduced-precision model that, like bf16 kernels on some CPUs, gives NaN for a row."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def encode(self, texts: list[str], **kwargs: Any) -> np.ndarray:
        vecs = np.array(self.model.encode(texts, **kwargs), dtype=np.float32)
        if TEXTS[1] in texts:
            vecs[texts.index(TEXTS[1]), 3] = np.nan
        return vecs


def test_rows_a_reduced_precision_model_leaves_nan_are_computed_again_in_fp32() -> None:
    fp32 = SentenceTransformerEmbedder(minilm_path(), MINILM_ID, device="cpu", precision="fp32")
    flaky = SentenceTransformerEmbedder(minilm_path(), MINILM_ID, device="cpu", precision="bf16")
    flaky.model = NaNForSecondText(fp32.model)
    expected = fp32.embed_documents(TEXTS)
    got = flaky.embed_documents(TEXTS)
    assert np.isfinite(got).all()
    assert float((got * expected).sum(axis=1).min()) > 0.9999
    assert "fp32_model" in vars(flaky), "the fp32 model was loaded to recompute the row"


def test_a_row_still_nan_in_fp32_is_an_error_naming_the_text() -> None:
    vectors = np.ones((3, 2), dtype=np.float32)
    vectors[1, 0] = np.inf
    calls: list[list[str]] = []

    def again(texts: list[str]) -> np.ndarray:
        return np.full((len(texts), 2), np.nan)

    def fp32(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        return np.array([[0.0, 1.0]])

    with pytest.raises(RaglineError, match="'b' in fp32 too"):
        recompute_non_finite(vectors, ["a", "b", "c"], again)
    fine = recompute_non_finite(vectors, ["a", "b", "c"], fp32)
    assert calls == [["b"]] and fine[1].tolist() == [0, 1] and np.isinf(vectors[1, 0])
    assert recompute_non_finite(fine, ["a", "b", "c"], again) is fine


@pytest.mark.parametrize("name", ["minilm", "use-m3"])
def test_a_batch_of_queries_embeds_like_one_at_a_time(name: str) -> None:
    embedder = (
        SentenceTransformerEmbedder(minilm_path(), MINILM_ID, device="cpu", precision="fp32")
        if name == "minilm"
        else UseEmbedder(threads=1)
    )
    batch = embed_queries(embedder, TEXTS)
    single = np.stack([embedder.embed_query(t) for t in TEXTS])
    assert batch.shape == (len(TEXTS), embedder.dim)
    assert float((batch * single).sum(axis=1).min()) > 0.9999
    assert embed_queries(embedder, []).shape == (0, embedder.dim)


class Counting:
    model_id, dim = "counting", 3

    def __init__(self) -> None:
        self.queries: list[str] = []

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return np.ones((len(texts), 3), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        self.queries.append(text)
        return np.array([len(text), 1.0, 0.0], dtype=np.float32)


def test_recent_queries_embed_a_question_once_and_forget_old_ones() -> None:
    inner = Counting()
    recent = RecentQueries(inner, size=2)
    first = recent.embed_query("a")
    assert np.array_equal(recent.embed_queries(["a", "bb", "a"])[2], first)
    recent.embed_query("bb")
    assert inner.queries == ["a", "bb"]
    recent.embed_query("ccc")  # "a" is now the oldest of three: dropped
    recent.embed_query("a")
    assert inner.queries == ["a", "bb", "ccc", "a"]
    first[0] = 5.0  # callers get copies: changing one does not change what is remembered
    assert recent.embed_query("a")[0] == 1.0
    assert recent.embed_documents(["x"]).shape == (1, 3) and recent.model_id == "counting"


def test_a_server_gets_use_on_one_thread_per_call() -> None:
    from ragline.retrieval import embedders

    served = embedders.load_embedder("use-m3", serving=True)
    assert isinstance(served, UseEmbedder) and served.threads == 1
    assert isinstance(embedders.load_embedder("use-m3"), UseEmbedder)
