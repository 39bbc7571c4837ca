"""Retrieval metrics: pure functions of one ranking and one query's judgments.

Definitions follow trec_eval (and are tested against it, through pytrec_eval, on random runs):

- ``ndcg@k``: DCG = Σ_{i≤k} gain(d_i) / log2(i + 1) with gain = the grade (linear, graded
  judgments count fully), divided by the DCG of the ideal ordering of all judged documents;
  trec_eval's ``ndcg_cut_k``.
- ``recall@k``: relevant documents in the top k / all relevant documents (``recall_k``).
- ``precision@k``: relevant documents in the top k / k (``P_k``; a short ranking is not
  forgiven).
- ``mrr@k``: 1 / rank of the first relevant document within the top k, else 0
  (``recip_rank`` of the ranking cut at k).
- ``map@k``: Σ over relevant documents at ranks i ≤ k of precision@i, divided by the number of
  relevant documents (``map_cut_k``).
- ``hit_rate@k``: 1 when any relevant document is in the top k, else 0 (``success_k``).

"Relevant" means grade > 0. Rankings are document ids, best first; a repeated id counts once
(at its first rank).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ragline.retrieval.errors import UsageError

Judgments = Mapping[str, int]
MetricFn = Callable[[Sequence[str], Judgments, int], float]


def _top(ranking: Sequence[str], k: int) -> list[str]:
    seen: dict[str, None] = {}
    for doc in ranking:
        if len(seen) >= k:
            break
        seen.setdefault(doc, None)
    return list(seen)


def _relevant(judgments: Judgments) -> set[str]:
    return {d for d, g in judgments.items() if g > 0}


def dcg(gains: Sequence[float]) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg(ranking: Sequence[str], judgments: Judgments, k: int) -> float:
    ideal = dcg(sorted((g for g in judgments.values() if g > 0), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return dcg([max(judgments.get(d, 0), 0) for d in _top(ranking, k)]) / ideal


def recall(ranking: Sequence[str], judgments: Judgments, k: int) -> float:
    relevant = _relevant(judgments)
    if not relevant:
        return 0.0
    return len(relevant.intersection(_top(ranking, k))) / len(relevant)


def precision(ranking: Sequence[str], judgments: Judgments, k: int) -> float:
    relevant = _relevant(judgments)
    return sum(1 for d in _top(ranking, k) if d in relevant) / k


def mrr(ranking: Sequence[str], judgments: Judgments, k: int) -> float:
    relevant = _relevant(judgments)
    for rank, doc in enumerate(_top(ranking, k), 1):
        if doc in relevant:
            return 1.0 / rank
    return 0.0


def average_precision(ranking: Sequence[str], judgments: Judgments, k: int) -> float:
    relevant = _relevant(judgments)
    if not relevant:
        return 0.0
    found = 0
    total = 0.0
    for rank, doc in enumerate(_top(ranking, k), 1):
        if doc in relevant:
            found += 1
            total += found / rank
    return total / len(relevant)


def hit_rate(ranking: Sequence[str], judgments: Judgments, k: int) -> float:
    relevant = _relevant(judgments)
    return 1.0 if any(d in relevant for d in _top(ranking, k)) else 0.0


METRICS: dict[str, MetricFn] = {
    "ndcg": ndcg,
    "recall": recall,
    "precision": precision,
    "mrr": mrr,
    "map": average_precision,
    "hit_rate": hit_rate,
}
ALIASES = {"p": "precision", "r": "recall", "hit": "hit_rate", "success": "hit_rate", "ap": "map"}
DEFAULT_METRICS = ("ndcg@10", "recall@10", "precision@10", "mrr@10", "map@10", "hit_rate@10")
_NAME = re.compile(r"^\s*([a-z_]+)\s*@\s*(\d+)\s*$")


@dataclass(frozen=True)
class Metric:
    kind: str
    k: int

    @property
    def name(self) -> str:
        return f"{self.kind}@{self.k}"

    def __call__(self, ranking: Sequence[str], judgments: Judgments) -> float:
        return METRICS[self.kind](ranking, judgments, self.k)


def parse_metric(text: str) -> Metric:
    """``"nDCG@10"`` → Metric("ndcg", 10); aliases: p, r, hit, success, ap."""
    match = _NAME.match(text.lower())
    kind = ALIASES.get(match.group(1), match.group(1)) if match else ""
    if match is None or kind not in METRICS or int(match.group(2)) < 1:
        names = ", ".join(f"{m}@k" for m in METRICS)
        raise UsageError(f"unknown metric {text!r}; use one of {names} (k ≥ 1)")
    return Metric(kind, int(match.group(2)))


def evaluate(
    run: Mapping[str, Sequence[str]], qrels: Mapping[str, Judgments], metrics: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Per-query values: metric name → {query id → value}, for every query in ``qrels``
    (a query missing from ``run`` scores as an empty ranking)."""
    parsed = [parse_metric(m) for m in metrics]
    return {
        m.name: {qid: m(run.get(qid, ()), judged) for qid, judged in qrels.items()} for m in parsed
    }


def mean(values: Mapping[str, float] | Sequence[float]) -> float:
    items = list(values.values()) if isinstance(values, Mapping) else list(values)
    return sum(items) / len(items) if items else 0.0


def recall_curve(
    run: Mapping[str, Sequence[str]], qrels: Mapping[str, Judgments], ks: Sequence[int]
) -> dict[int, float]:
    """Mean recall@k for each k (the recall@k curve of a report)."""
    return {k: mean([recall(run.get(q, ()), j, k) for q, j in qrels.items()]) for k in ks}
