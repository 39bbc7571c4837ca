"""Reciprocal rank fusion (Cormack et al., 2009) with per-retriever weights.

``rrf(d) = sum over retrievers r that ranked d of  w_r / (k + rank_r(d))``, ranks from 1.
The fused ``Hit.score`` is that sum divided by its largest possible value
(``sum_r w_r / (k + 1)``: first in every ranking), so it lies in [0, 1] whatever the
weights and ``k`` are; 1.0 means every retriever put the chunk first. ``Hit.scores`` keeps
each retriever's own score and the raw sum under ``"rrf"``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace

from ragline.retrieval.types import Hit


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


def fuse_ids(
    rankings: Mapping[str, Sequence[tuple[str, float]]],
    weights: Mapping[str, float],
    k: int = 60,
) -> list[tuple[str, float, dict[str, float]]]:
    """Fuse per-retriever rankings of (id, score) into (id, fused score, scores), best first.

    The scores keep each retriever's own score and the raw sum under ``"rrf"``. Ties break
    by the best single rank, then by id, so the order is deterministic.
    """
    raw = rrf_scores(
        {name: [i for i, _ in ranked] for name, ranked in rankings.items()}, weights, k
    )
    top = rrf_max(list(rankings), weights, k) or 1.0
    best_rank: dict[str, int] = {}
    scores: dict[str, dict[str, float]] = {}
    for name, ranked in rankings.items():
        for rank, (item, score) in enumerate(ranked, 1):
            best_rank[item] = min(best_rank.get(item, rank), rank)
            scores.setdefault(item, {}).setdefault(name, score)
    order = sorted(raw, key=lambda i: (-raw[i], best_rank[i], i))
    return [(i, raw[i] / top, {**scores[i], "rrf": raw[i]}) for i in order]


def with_documents(
    fused: Sequence[tuple[str, float, dict[str, float]]],
    document_of: Mapping[str, str],
    rankings: Mapping[str, Sequence[str]],
    weights: Mapping[str, float],
    k: int,
    chunk_top: float,
) -> list[tuple[str, float, dict[str, float]]]:
    """Document-level evidence added to a fused chunk ranking: each chunk gains
    ``w_r / (k + rank_r(its document))`` for every document ranking r that holds its
    document, and the list is sorted again (ties keep the chunk order).

    ``fused`` is :func:`fuse_ids`' output (raw sums under ``"rrf"``), ``chunk_top`` its
    normaliser (:func:`rrf_max` of the chunk retrievers); the new scores are divided by
    ``chunk_top`` plus the document rankings' own maximum, so they stay in [0, 1]. Chunks
    whose document is unknown gain nothing; documents outside ``fused`` are not added.
    """
    bonus = rrf_scores(rankings, weights, k)
    top = (chunk_top + rrf_max(list(rankings), weights, k)) or 1.0
    scored = []
    for order, (item, _score, scores) in enumerate(fused):
        extra = bonus.get(document_of.get(item, ""), 0.0)
        raw = scores["rrf"] + extra
        scored.append((-raw, order, item, {**scores, "rrf": raw, "document": extra}))
    scored.sort(key=lambda row: (row[0], row[1]))
    return [(item, -neg / top, scores) for neg, _, item, scores in scored]


def fuse(
    results: Mapping[str, Sequence[Hit]], weights: Mapping[str, float], k: int = 60
) -> list[Hit]:
    """:func:`fuse_ids` over hit lists: the fused hits, best first."""
    merged: dict[str, Hit] = {}
    rankings: dict[str, list[tuple[str, float]]] = {}
    for name, hits in results.items():
        rankings[name] = [(h.chunk_id, h.scores.get(name, h.score)) for h in hits]
        for hit in hits:
            merged.setdefault(hit.chunk_id, hit)
    return [
        replace(merged[i], score=score, scores=scores)
        for i, score, scores in fuse_ids(rankings, weights, k)
    ]


# -- query-dependent weights ----------------------------------------------------------------
# Exact strings a dense model blurs and keyword search matches exactly: quoted text, code
# identifiers (snake_case, CamelCase, dotted.names, calls()), command-line flags, paths and
# file names, ALL_CAPS names.
_QUOTED = re.compile(r"\"[^\"]{2,}\"|'[^'\s][^']*[^'\s]'|`[^`]+`|“[^”]+”|「[^」]+」")
_IDENTIFIER = re.compile(
    r"""(?x)
    (?<![\w.])--?[A-Za-z][\w-]*            # --flag, -x
    | \b\w+\(\)                             # call()
    | \b[A-Za-z_]\w*_\w+\b                  # snake_case
    | \b[a-z]+[A-Z]\w*\b                    # camelCase
    | \b[A-Z][a-z0-9]+[A-Z]\w*\b            # CamelCase
    | \b\w+(?:\.\w+)+\b                     # dotted.name, file.ext, 3.11
    | (?:~|\.{1,2})?/[\w.-]+(?:/[\w.-]*)*   # /etc/apt, ~/.ssh
    | \b[A-Z]{2,}(?:_[A-Z0-9]+)+\b          # ALL_CAPS_NAME
    """
)


def lexical_cues(query: str) -> int:
    """How many exact-match cues (quoted strings, identifiers, flags, paths) ``query`` has."""
    quoted = _QUOTED.findall(query)
    rest = _QUOTED.sub(" ", query)
    return len(quoted) + len(_IDENTIFIER.findall(rest))


def query_weights(
    query: str, dense_weight: float, bm25_weight: float, boost: float
) -> dict[str, float]:
    """Fusion weights for one query: the BM25 weight times ``1 + boost`` when the query
    carries exact-match cues (see :func:`lexical_cues`), else as configured."""
    factor = 1.0 + boost if boost and lexical_cues(query) else 1.0
    return {"dense": dense_weight, "bm25": bm25_weight * factor}
