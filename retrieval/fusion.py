"""Reciprocal rank fusion (Cormack et al., 2009) with per-retriever weights.

``rrf(d) = sum over retrievers r that ranked d of  w_r / (k + rank_r(d))``, ranks from 1.
The fused ``Hit.score`` is that sum divided by its largest possible value
(``sum_r w_r / (k + 1)``: first in every ranking), so it lies in [0, 1] whatever the
weights and ``k`` are; 1.0 means every retriever put the chunk first. ``Hit.scores`` keeps
each retriever's own score and the raw sum under ``"rrf"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from retrieval.types import Hit


def rrf_scores(
    rankings: Mapping[str, Sequence[str]], weights: Mapping[str, float], k: int = 60
) -> dict[str, float]:
    """Raw fused score of every id in any ranking (ids in rank order, best first)."""
    fused: dict[str, float] = {}
    for name, ids in rankings.items():
        weight = weights.get(name, 1.0)
        for rank, item in enumerate(ids, 1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return fused


def rrf_max(names: Sequence[str], weights: Mapping[str, float], k: int = 60) -> float:
    """The fused score of an id ranked first by every retriever in ``names``."""
    return sum(weights.get(name, 1.0) for name in names) / (k + 1)


def fuse(
    results: Mapping[str, Sequence[Hit]], weights: Mapping[str, float], k: int = 60
) -> list[Hit]:
    """Fuse per-retriever hit lists into one list, best first.

    Ties break by the best single rank, then by chunk id, so the order is deterministic.
    """
    rankings = {name: [h.chunk_id for h in hits] for name, hits in results.items()}
    raw = rrf_scores(rankings, weights, k)
    top = rrf_max(list(results), weights, k) or 1.0
    best_rank: dict[str, int] = {}
    merged: dict[str, Hit] = {}
    scores: dict[str, dict[str, float]] = {}
    for name, hits in results.items():
        for rank, hit in enumerate(hits, 1):
            best_rank[hit.chunk_id] = min(best_rank.get(hit.chunk_id, rank), rank)
            merged.setdefault(hit.chunk_id, hit)
            scores.setdefault(hit.chunk_id, {})[name] = hit.scores.get(name, hit.score)
    order = sorted(raw, key=lambda i: (-raw[i], best_rank[i], i))
    return [
        replace(merged[i], score=raw[i] / top, scores={**scores[i], "rrf": raw[i]}) for i in order
    ]
