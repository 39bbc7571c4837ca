"""Maximal marginal relevance (Carbonell & Goldstein, 1998): relevant *and* diverse hits.

Each step picks the candidate maximising
``lambda * relevance - (1 - lambda) * max cosine to the already picked``.
Relevance is the candidates' ranking score rescaled to [0, 1], so MMR keeps whatever order
fusion or reranking produced and only trades it against redundancy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def mmr_select(
    relevance: Sequence[float], vectors: np.ndarray, k: int, lambda_: float = 0.7
) -> list[int]:
    """Indices of ``k`` candidates in pick order. ``vectors`` rows are L2-normalised."""
    n = len(relevance)
    if n == 0 or k <= 0:
        return []
    rel = np.asarray(relevance, dtype=np.float64)
    span = float(rel.max() - rel.min())
    rel = (rel - rel.min()) / span if span > 0 else np.ones(n)
    vecs = np.asarray(vectors, dtype=np.float64)
    sims = vecs @ vecs.T
    picked: list[int] = []
    redundancy = np.full(n, -np.inf)
    available = np.ones(n, dtype=bool)
    for _ in range(min(k, n)):
        penalty = np.where(np.isfinite(redundancy), redundancy, 0.0)
        gain = lambda_ * rel - (1.0 - lambda_) * penalty
        gain[~available] = -np.inf
        best = int(np.argmax(gain))  # first maximum: ties go to the better-ranked candidate
        picked.append(best)
        available[best] = False
        redundancy = np.maximum(redundancy, sims[best])
    return picked
