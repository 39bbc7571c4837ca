"""Test data for the store suites: unit vectors, chunks, a brute-force reference ranking,
and the filters every backend must apply inside its search."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest

from ragline.retrieval.stores.base import VectorStore
from ragline.retrieval.types import Chunk, Condition, Filter, Hit, MetaValue

DIM = 16
StoreFactory = Callable[[], VectorStore]


def unit_vectors(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    x = rng.normal(size=(n, dim)).astype(np.float32)
    return np.asarray(x / np.linalg.norm(x, axis=1, keepdims=True), dtype=np.float32)


def make_chunks(n: int, start: int = 0, doc: str = "doc") -> list[Chunk]:
    """Chunks with metadata of every kind filters use: str, int, float, bool."""
    chunks = []
    for i in range(start, start + n):
        meta: dict[str, MetaValue] = {
            "source": f"docs/{'guide' if i % 3 == 0 else 'api'}/page{i}.md",
            "group": f"g{i % 5}",
            "rank": i,
            "weight": round(i * 0.5, 1),
            "flag": i % 2 == 0,
        }
        chunks.append(Chunk.create(f"{doc}{i % 7}", f"chunk text number {i}", i, meta))
    return chunks


def reference(
    vectors: np.ndarray,
    chunks: Sequence[Chunk],
    queries: np.ndarray,
    k: int,
    where: Filter | None = None,
) -> list[list[tuple[str, float]]]:
    """Brute-force top-k (chunk id, cosine) per query, the filter applied first."""
    allowed = np.array([where.matches(c.metadata) if where else True for c in chunks])
    scores = queries @ vectors.T
    out = []
    for row in scores:
        order = [int(i) for i in np.argsort(-row, kind="stable") if allowed[i]][:k]
        out.append([(chunks[i].id, float(row[i])) for i in order])
    return out


def assert_ranking(
    hits: list[Hit], expected: list[tuple[str, float]], atol: float = 1e-4, tie: float = 1e-5
) -> None:
    """Same ids in the same order as the reference (ranks within ``tie`` may swap)."""
    assert len(hits) == len(expected), ([h.chunk_id for h in hits], expected)
    ref_scores = [s for _, s in expected]
    for rank, (hit, (cid, score)) in enumerate(zip(hits, expected, strict=True)):
        assert hit.score == pytest.approx(score, abs=atol), (rank, hit.score, score)
        if hit.chunk_id != cid:
            near = [abs(s - score) <= tie + atol for s in ref_scores]
            assert any(near), (rank, hit.chunk_id, cid)
    # Ties aside, the sets agree.
    boundary = ref_scores[-1] if ref_scores else 0.0
    firm = {c for c, s in expected if s > boundary + tie + atol}
    assert firm <= {h.chunk_id for h in hits}


def recall(hits: list[list[Hit]], expected: list[list[tuple[str, float]]]) -> float:
    found = sum(
        len({h.chunk_id for h in row} & {c for c, _ in ref})
        for row, ref in zip(hits, expected, strict=True)
    )
    total = sum(len(ref) for ref in expected)
    return found / total if total else 1.0


FILTERS = {
    "eq-str": Filter.where(group="g2"),
    "eq-int": Filter((Condition("rank", "eq", 7),)),
    "eq-bool": Filter((Condition("flag", "eq", True),)),
    "in": Filter((Condition("group", "in", ("g1", "g3")),)),
    "in-mixed-types": Filter((Condition("rank", "in", (3, 4, "x")),)),
    "gte": Filter((Condition("rank", "gte", 30),)),
    "lte-float": Filter((Condition("weight", "lte", 4.5),)),
    "prefix": Filter((Condition("source", "prefix", "docs/guide/"),)),
    "gte+lte": Filter((Condition("rank", "gte", 10), Condition("rank", "lte", 20))),
    "prefix+eq+gte": Filter(
        (
            Condition("source", "prefix", "docs/api/"),
            Condition("flag", "eq", False),
            Condition("rank", "gte", 12),
        )
    ),
    "missing-field": Filter.where(nope="x"),
    "gte-string": Filter((Condition("group", "gte", "g1"),)),
    "empty-in": Filter((Condition("group", "in", ()),)),
}
