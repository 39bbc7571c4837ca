"""Mode-aware search over a collection: dense, bm25, or hybrid (RRF), then rerank and MMR.

    result = search(collection, "how do I resume an ingest?", RetrievalSettings(mode="hybrid"))
    result.hits            # best first; Hit.scores has "dense", "bm25", "rrf", "rerank"
    result.context_found   # False: the answer layer should follow result.policy

Filters go into both retrievers' own searches (never applied after truncation). The
"no good context" check compares one score of the best hit with a threshold: the fused RRF
score only says how much the retrievers agree, not how relevant a chunk is, so by default
(``auto``) it uses the reranker's score when one ran, else the dense cosine similarity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ragline.retrieval.embedders.base import embed_queries
from ragline.retrieval.fusion import fuse_ids, query_weights, rrf_max, with_documents
from ragline.retrieval.mmr import mmr_select
from ragline.retrieval.rerank import CrossEncoderReranker, Reranker
from ragline.retrieval.settings import NoContextPolicy, RetrievalSettings, SearchMode
from ragline.retrieval.types import Filter, Hit

if TYPE_CHECKING:
    from ragline.retrieval.collection import Collection

BM25_WEIGHT_BY_EMBEDDER = {"minilm": 0.5, "use-m3": 2.0, "e5-small": 0.5}
"""Default BM25 weight in RRF per dense embedder, tuned on the tune half of the eval sets
(bench/retrieval_quality.py --grid): MiniLM and e5 are stronger than BM25 (and BM25 finds
little for a question in another language), USE-m3 is weaker than jieba BM25 on Chinese."""

DOCUMENT_WEIGHTS_BY_EMBEDDER = {"e5-small": (0.75, 1.5)}
"""Default (document BM25, document opening) weights per dense embedder, tuned on the tune
half of the five eval sets (bench/retrieval_quality.py --grid); not measured for the other
embedders, which keep document-level evidence off."""
NO_DOCUMENT_EVIDENCE_LANGUAGES = ("zh",)
"""Collection languages where document-level evidence is off by default: on Chinese
collections it raised nDCG@10 but brought the gold answer into the prompt's sources less
often (tune half 33 → 31 of 39), and the 1.5B model answered 5 fewer of 32 report questions
right (docs/benchmarks.md, "Answer quality")."""

NO_CONTEXT_BY_EMBEDDER = {"minilm": 0.3, "use-m3": 0.25, "e5-small": 0.83}
"""Default threshold on the best dense cosine per embedder, measured (docs/retrieval-quality.md,
bench/embed_no_context.py) on in-domain eval queries vs off-topic questions; e5's cosines
crowd into 0.75-0.95, so its threshold is high."""
DEFAULT_NO_CONTEXT = 0.3


@dataclass(frozen=True)
class SearchResult:
    """Hits plus the verdict of the "no good context" check for the answer layer."""

    query: str
    hits: tuple[Hit, ...]
    mode: SearchMode
    context_found: bool
    best_score: float | None
    score_name: str
    threshold: float
    policy: NoContextPolicy
    reranked: bool = False
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "mode": self.mode,
            "context_found": self.context_found,
            "best_score": self.best_score,
            "score_name": self.score_name,
            "threshold": self.threshold,
            "policy": self.policy,
            "reranked": self.reranked,
            "hits": [h.to_dict() for h in self.hits],
        }


# -- the retrievers -----------------------------------------------------------------------
def dense_hits(collection: Collection, query: str, k: int, where: Filter | None) -> list[Hit]:
    hits = collection.search(query, k=k, where=where)
    return [replace(h, scores={**h.scores, "dense": h.score}) for h in hits]


def bm25_hits(collection: Collection, query: str, k: int, where: Filter | None) -> list[Hit]:
    return collection.keyword.search(query, k, where)


def search(
    collection: Collection,
    query: str,
    options: RetrievalSettings | None = None,
    where: Filter | None = None,
    reranker: Reranker | None = None,
) -> SearchResult:
    """Run one query through the configured retrievers, fusion, reranker and MMR.
    ``options`` default to the collection's ``retrieval`` settings; ``where`` filters
    inside both retrievers."""
    return search_many(collection, [query], options, where, reranker)[0]


def search_many(
    collection: Collection,
    queries: Sequence[str],
    options: RetrievalSettings | None = None,
    where: Filter | None = None,
    reranker: Reranker | None = None,
) -> list[SearchResult]:
    """:func:`search` for several queries with the same options: what a server does with
    concurrent requests. The retrievers rank chunk ids only (the dense side for all the
    queries in one embedding batch and one store call); text and metadata are read once,
    for the chunks that survive fusion and the cut to ``k`` (or the reranker's / MMR's
    candidates), in one store read for the whole batch."""
    opts = options or collection.settings.retrieval
    if reranker is None and opts.reranker_model is not None:
        reranker = reranker_for(opts)
    if opts.no_context_threshold is None:
        threshold = NO_CONTEXT_BY_EMBEDDER.get(collection.info.embedder, DEFAULT_NO_CONTEXT)
        opts = opts.model_copy(update={"no_context_threshold": threshold})
    rankings = _rank(collection, queries, opts, where)
    head = opts.k
    if reranker is not None:
        head = max(opts.k, opts.rerank_candidates)
    elif opts.mmr:
        head = max(4 * opts.k, 20)
    heads = [ranked[:head] for ranked in rankings]
    chunks = {c.id: c for c in collection.store.get(list({i for h in heads for i, _, _ in h}))}
    results = []
    for query, ranked in zip(queries, heads, strict=True):
        hits = [
            Hit(cid, chunk.doc_id, chunk.text, score, chunk.metadata, scores)
            for cid, score, scores in ranked
            if (chunk := chunks.get(cid)) is not None  # gone since: a concurrent delete
        ]
        if reranker is not None and hits:
            hits = reranker.rerank(query, hits)
        if opts.mmr and len(hits) > opts.k:
            hits = diversify(collection, hits, opts.k, opts.mmr_lambda)
        top = tuple(hits[: opts.k])
        found, best, name = assess(top, opts, reranked=reranker is not None)
        results.append(
            SearchResult(
                query=query,
                hits=top,
                mode=opts.mode,
                context_found=found,
                best_score=best,
                score_name=name,
                threshold=opts.no_context_threshold or 0.0,
                policy=opts.no_context_policy,
                reranked=reranker is not None,
                options={**opts.model_dump(mode="json"), "where": _plain(where)},
            )
        )
    return results


Ranking = list[tuple[str, float, dict[str, float]]]
"""(chunk id, score, per-retriever scores), best first."""


def _plain(where: Filter | None) -> list[Any]:
    return where.to_dict() if where else []


def _rank(
    collection: Collection,
    queries: Sequence[str],
    opts: RetrievalSettings,
    where: Filter | None,
) -> list[Ranking]:
    pool = max(opts.k, opts.candidates)
    dense: list[list[tuple[str, float]]] = [[] for _ in queries]
    if opts.mode != "bm25" and queries:
        vectors = embed_queries(collection.embedder, queries)
        dense = collection.store.search_ids(vectors, pool, where)
    if opts.mode == "dense":
        return [[(i, s, {"dense": s}) for i, s in row] for row in dense]
    keyword = [collection.keyword.search_ids(q, pool, where) for q in queries]
    if opts.mode == "bm25":
        return [[(i, s, {"bm25": s}) for i, s in row] for row in keyword]
    bm25_weight = opts.bm25_weight
    if bm25_weight is None:
        bm25_weight = BM25_WEIGHT_BY_EMBEDDER.get(collection.info.embedder, 1.0)
    documents = document_weights(opts, collection.info.embedder, collection.info.language)
    ranked = []
    for q, d, b in zip(queries, dense, keyword, strict=True):
        weights = query_weights(q, opts.dense_weight, bm25_weight, opts.bm25_cue_boost)
        fused = fuse_ids({"dense": d, "bm25": b}, weights, opts.rrf_k)
        if documents:
            index = collection.keyword
            places = index.places([i for i, _, _ in fused])
            whole = index.search_documents(q, pool) if "document_bm25" in documents else []
            fused = add_document_evidence(fused, d, whole, places, documents, opts.rrf_k, weights)
        ranked.append(fused)
    return ranked


def document_weights(
    opts: RetrievalSettings, embedder: str, language: str = "en"
) -> dict[str, float]:
    """The document-level rankings hybrid search adds to a collection of ``embedder`` in
    ``language``, by weight (none when both are 0); the settings override the defaults."""
    bm25, opening = DOCUMENT_WEIGHTS_BY_EMBEDDER.get(embedder, (0.0, 0.0))
    if language in NO_DOCUMENT_EVIDENCE_LANGUAGES:
        bm25, opening = 0.0, 0.0
    if opts.document_bm25_weight is not None:
        bm25 = opts.document_bm25_weight
    if opts.document_opening_weight is not None:
        opening = opts.document_opening_weight
    return {name: w for name, w in (("document_bm25", bm25), ("opening", opening)) if w > 0}


def add_document_evidence(
    fused: Ranking,
    dense: Sequence[tuple[str, float]],
    documents: Sequence[tuple[str, float]],
    places: Mapping[str, tuple[str, int]],
    weights: Mapping[str, float],
    rrf_k: int,
    chunk_weights: Mapping[str, float],
) -> Ranking:
    """Document-level evidence (:func:`ragline.retrieval.fusion.with_documents`) for one
    query's fused chunk ranking: ``documents``, BM25 over whole documents, and the documents
    whose opening (first chunk) the ``dense`` search found, in its order; ``places`` maps
    chunk ids to (document id, position), ``weights`` come from :func:`document_weights`."""
    rankings: dict[str, list[str]] = {}
    if "document_bm25" in weights:
        rankings["document_bm25"] = [d for d, _ in documents]
    if "opening" in weights:
        rankings["opening"] = [places[i][0] for i, _ in dense if places.get(i, ("", 1))[1] == 0]
    return with_documents(
        fused,
        {i: doc for i, (doc, _) in places.items()},
        rankings,
        weights,
        rrf_k,
        rrf_max(["dense", "bm25"], chunk_weights, rrf_k),
    )


_RERANKERS: dict[str, Reranker] = {}


def reranker_for(settings: RetrievalSettings) -> Reranker | None:
    """The configured reranker (loaded once per process and model path), or None."""
    if settings.reranker_model is None:
        return None
    key = str(settings.reranker_model)
    if key not in _RERANKERS:
        _RERANKERS[key] = CrossEncoderReranker(settings.reranker_model)
    return _RERANKERS[key]


# -- no good context ----------------------------------------------------------------------
def assess(
    hits: Sequence[Hit], options: RetrievalSettings, reranked: bool = False
) -> tuple[bool, float | None, str]:
    """(context found?, the best score compared, which score it was)."""
    name = options.no_context_score
    if name == "auto":
        if reranked:
            name = "rerank"
        elif any("dense" in h.scores for h in hits):
            name = "dense"
        else:
            name = "fused"
    values = [h.score if name == "fused" else h.scores.get(name) for h in hits]
    present = [v for v in values if v is not None]
    if not present:
        return False, None, name
    best = max(present)
    threshold = options.no_context_threshold
    return best >= (DEFAULT_NO_CONTEXT if threshold is None else threshold), best, name


# -- diversity ----------------------------------------------------------------------------
def diversify(collection: Collection, ranked: Sequence[Hit], k: int, lambda_: float) -> list[Hit]:
    """MMR over ``ranked`` with the collection's embeddings (cached ones when available)."""
    vectors = chunk_vectors(collection, [h.text for h in ranked])
    relevance = [float(len(ranked) - i) for i in range(len(ranked))]  # the rank order
    return [ranked[i] for i in mmr_select(relevance, vectors, k, lambda_)]


def chunk_vectors(collection: Collection, texts: Sequence[str]) -> np.ndarray:
    from ragline.retrieval.embedders.cache import CachedEmbedder, EmbeddingCache

    settings = collection.settings
    cache = None
    if settings.embedding.cache:
        settings.cache_dir.mkdir(parents=True, exist_ok=True)
        cache = EmbeddingCache(settings.cache_dir / "embeddings.sqlite")
    try:
        return CachedEmbedder(collection.embedder, cache).embed_documents(list(texts))
    finally:
        if cache is not None:
            cache.close()
