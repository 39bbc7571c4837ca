"""Run every query of a dataset through retrievers and score them.

A retriever is anything callable as ``retriever(query) -> [(doc_id, score), …]``, best first
(see :class:`Retriever`); ragline's own modes, the baselines and test doubles all are.
``run_eval`` builds (or reuses) the indexes the configurations need, runs each one, and
returns their results; ``ragline.eval.report`` turns those into a report.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

from ragline.answer.settings import AnswerConfig
from ragline.eval import metrics as m
from ragline.eval.config import RunConfig
from ragline.eval.datasets import Dataset, corpus_id, file_stem
from ragline.eval.index import BuiltIndex, Log, ensure_index, index_key, open_index, peak_rss_mb
from ragline.retrieval.types import Hit

Ranked = list[tuple[str, float]]
CURVE_KS = (1, 2, 3, 5, 10, 20, 50, 100)
KEEP_TOP = 10  # documents kept per query in the report (drill-down)


class Retriever(Protocol):
    def __call__(self, query: str) -> Ranked: ...


@dataclass(frozen=True)
class ConfigResult:
    name: str
    role: str
    params: dict[str, Any]
    per_query: dict[str, dict[str, float]]
    """metric → {query id → value}"""
    recall_curve: dict[int, float]
    latencies: tuple[float, ...]
    """Seconds per query, in query order."""
    runs: dict[str, Ranked]
    """The top documents per query, with scores."""
    first_relevant: dict[str, int | None]
    """Rank of the first relevant document within the retrieved depth (None: not found)."""
    index: dict[str, Any] = field(default_factory=dict)
    peak_rss_mb: float = 0.0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["recall_curve"] = {str(k): v for k, v in self.recall_curve.items()}
        data["latencies"] = list(self.latencies)
        data["runs"] = {q: [[d, s] for d, s in r] for q, r in self.runs.items()}
        return data


def evaluate_retriever(
    name: str,
    retriever: Retriever,
    dataset: Dataset,
    metric_names: Sequence[str],
    *,
    role: str = "config",
    params: Mapping[str, Any] | None = None,
    depth: int = 100,
) -> ConfigResult:
    """Time and score ``retriever`` on every scored query of ``dataset``."""
    queries = dataset.queries
    if queries:
        retriever(next(iter(queries.values())))  # warm-up: lazy model loads are not latency
    started = time.perf_counter()
    ranked: dict[str, Ranked] = {}
    latencies: list[float] = []
    for qid, text in queries.items():
        t0 = time.perf_counter()
        ranked[qid] = retriever(text)
        latencies.append(time.perf_counter() - t0)
    seconds = time.perf_counter() - started
    run = {q: [d for d, _ in r] for q, r in ranked.items()}
    qrels = {q: dataset.qrels[q] for q in queries}
    return ConfigResult(
        name=name,
        role=role,
        params=dict(params or {}),
        per_query=m.evaluate(run, qrels, metric_names),
        recall_curve=m.recall_curve(run, qrels, [k for k in CURVE_KS if k <= depth]),
        latencies=tuple(latencies),
        runs={q: r[:KEEP_TOP] for q, r in ranked.items()},
        first_relevant={q: _first_relevant(run[q], qrels[q]) for q in queries},
        peak_rss_mb=peak_rss_mb(),
        seconds=round(seconds, 3),
    )


def _first_relevant(ranking: Sequence[str], judged: Mapping[str, int]) -> int | None:
    for rank, doc in enumerate(ranking, 1):
        if judged.get(doc, 0) > 0:
            return rank
    return None


# -- ragline's retrievers over an eval collection ---------------------------------------------
def doc_ranking(hits: Sequence[Hit], stems: Mapping[str, str]) -> Ranked:
    """Documents in the order of their best chunk, with that chunk's score."""
    out: dict[str, float] = {}
    for hit in hits:
        name = str(hit.metadata.get("file_name") or hit.source)
        out.setdefault(corpus_id(name, stems), float(hit.score))
    return list(out.items())


def ragline_retriever(collection: Any, config: RunConfig, stems: Mapping[str, str]) -> Retriever:
    from ragline.retrieval.filters import parse_filters
    from ragline.retrieval.retrievers import reranker_for, search

    where = parse_filters(config.filters) or None
    options = config.retrieval.model_copy(update={"k": config.k})
    reranker = reranker_for(options)

    def retrieve(query: str) -> Ranked:
        return doc_ranking(search(collection, query, options, where, reranker).hits, stems)

    return retrieve


def effective_params(config: RunConfig, collection: Any) -> dict[str, Any]:
    """The configuration's parameters, with the defaults the retrieval layer filled in."""
    from ragline.retrieval.retrievers import BM25_WEIGHT_BY_EMBEDDER

    params = config.params()
    params["embedder"] = collection.info.embedder
    if config.retrieval.bm25_weight is None and config.retrieval.mode == "hybrid":
        params["bm25_weight"] = BM25_WEIGHT_BY_EMBEDDER.get(collection.info.embedder, 1.0)
        params["bm25_weight_from"] = "embedder default"
    return params


@dataclass(frozen=True)
class EvalRun:
    """Everything one ``ragline eval run`` measured, before it becomes a report."""

    dataset: Dataset
    configs: tuple[RunConfig, ...]
    results: tuple[ConfigResult, ...]
    metrics: tuple[str, ...]
    seconds: float


def run_eval(
    dataset: Dataset,
    configs: Sequence[RunConfig],
    settings: AnswerConfig,
    metric_names: Sequence[str] = m.DEFAULT_METRICS,
    *,
    baselines: bool = True,
    log: Log | None = None,
) -> EvalRun:
    """Evaluate every configuration (the first is the primary one) and, unless turned off, the
    baselines: BM25 alone, dense alone (on the primary's index) and the LangChain recipe."""
    from ragline.eval.baselines import baseline_configs, langchain_retriever

    say = log or (lambda _msg: None)
    started = time.perf_counter()
    stems = {file_stem(d): d for d in dataset.corpus}
    todo = list(configs)
    if baselines:
        todo += baseline_configs(configs[0], [c.params() for c in configs])
    results: dict[str, ConfigResult] = {}
    built: dict[str, BuiltIndex] = {}
    by_key: dict[str, BuiltIndex] = {}
    owner: dict[str, str] = {}  # index name → the first configuration that uses it
    for config in todo:
        key = index_key(dataset, config, settings)
        if key not in by_key:
            by_key[key] = ensure_index(dataset, config, settings, say)
            owner[by_key[key].name] = config.name
        built[config.name] = by_key[key]
    for name in dict.fromkeys(b.name for b in built.values()):  # one open per index
        group = [c for c in todo if built[c.name].name == name]
        with open_index(built[group[0].name], group[0], settings) as collection:
            for config in group:
                say(f"running {len(dataset.queries)} queries: {config.name}")
                result = evaluate_retriever(
                    config.name,
                    ragline_retriever(collection, config, stems),
                    dataset,
                    metric_names,
                    role=config.role,
                    params=effective_params(config, collection),
                    depth=config.k,
                )
                index = built[config.name].to_dict()
                if owner[name] != config.name:
                    index["shared_with"] = owner[name]
                results[config.name] = replace(result, index=index)
    ordered = [results[c.name] for c in todo]
    if baselines:
        primary = built[configs[0].name]
        say("running the LangChain recipe baseline")
        retriever, info = langchain_retriever(
            dataset, primary.embedder, settings, configs[0].k, say
        )
        result = evaluate_retriever(
            "LangChain recipe",
            retriever,
            dataset,
            metric_names,
            role="baseline",
            params=info["params"],
            depth=configs[0].k,
        )
        ordered.append(replace(result, index=info["index"]))
    return EvalRun(
        dataset=dataset,
        configs=tuple(todo),
        results=tuple(ordered),
        metrics=tuple(metric_names),
        seconds=round(time.perf_counter() - started, 3),
    )
