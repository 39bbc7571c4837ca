"""Evaluation indexes: a dataset's corpus ingested with the real pipeline, built once.

Everything lives under ``settings.data_dir / "eval"``:

- ``corpora/<dataset hash>/<doc>.txt``: the corpus written out, one file per document;
- ``collections/<dataset>-<key>/``: a normal ragline collection, where ``key`` hashes the
  dataset hash and every ingestion setting (embedder, chunking, store, BM25 options);
- ``builds/<dataset>-<key>.json``: written when a build finished (its time and counts), so
  a rerun with the same key reuses the collection without touching the corpus again;
- ``cache/embeddings.sqlite``: the embedding cache every eval collection shares.
"""

from __future__ import annotations

import hashlib
import json
import re
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ragline.answer.settings import AnswerConfig
from ragline.eval.config import RunConfig
from ragline.eval.datasets import Dataset, materialise

FORMAT = 2  # bump when the way eval indexes are built changes
Log = Callable[[str], None]


@dataclass(frozen=True)
class BuiltIndex:
    name: str
    key: str
    path: str
    seconds: float
    """Build time (of the run that built it, when reused)."""
    cached: bool
    size_bytes: int
    chunks: int
    documents: int
    files_failed: int
    embedder: str
    peak_rss_mb: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def eval_root(settings: AnswerConfig) -> Path:
    return settings.data_dir / "eval"


def eval_settings(settings: AnswerConfig, config: RunConfig) -> AnswerConfig:
    """The settings an eval collection is built and searched with."""
    return settings.model_copy(
        update={
            "data_dir": eval_root(settings),
            "chunking": config.chunking,
            "store": settings.store.model_copy(update={"backend": config.store}),
        }
    )


def index_key(dataset: Dataset, config: RunConfig, settings: AnswerConfig) -> str:
    r = settings.retrieval
    spec = {
        "format": FORMAT,
        "dataset": dataset.hash,
        **config.index_params(),
        "faiss_index": settings.store.faiss_index,
        "precision": [settings.embedding.device, settings.embedding.precision],
        "bm25": [r.bm25_k1, r.bm25_b, r.bm25_stemmer, r.bm25_stopwords, r.bm25_cjk],
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def slug(name: str) -> str:
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._")
    return (text or "dataset")[:40]


def corpus_dir(dataset: Dataset, settings: AnswerConfig) -> tuple[Path, dict[str, str]]:
    """The corpus as text files (written once per dataset hash) and stem → document id."""
    out = eval_root(settings) / "corpora" / dataset.hash[:16]
    return out, materialise(dataset.corpus, out)


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def ensure_index(
    dataset: Dataset, config: RunConfig, settings: AnswerConfig, log: Log | None = None
) -> BuiltIndex:
    """Build the collection for ``config``'s index settings, or reuse the one built before."""
    from ragline.ingest.pipeline import Ingestor
    from ragline.retrieval.collection import Collection

    say = log or (lambda _msg: None)
    key = index_key(dataset, config, settings)
    name = f"{slug(dataset.name)}-{key[:12]}"
    local = eval_settings(settings, config)
    marker = eval_root(settings) / "builds" / f"{name}.json"
    if marker.is_file() and Collection.exists(name, local):
        built = json.loads(marker.read_text())
        if built.get("key") == key:
            path = local.collections_dir / name
            return BuiltIndex(**{**built["index"], "cached": True, "size_bytes": dir_size(path)})
    corpus, _stems = corpus_dir(dataset, settings)
    say(f"building index {name} ({len(dataset.corpus)} documents, {config.embedder} embedder)")
    started = time.perf_counter()
    report = Ingestor(local, name, embedder=config.embedder, store=config.store).run([corpus])
    seconds = round(time.perf_counter() - started, 3)
    with Collection.open(name, local) as coll:
        stats = coll.stats()
        embedder = coll.info.embedder
    path = local.collections_dir / name
    built_index = BuiltIndex(
        name=name,
        key=key,
        path=str(path),
        seconds=seconds,
        cached=False,
        size_bytes=dir_size(path),
        chunks=int(stats["chunks"]),
        documents=int(stats["documents"]),
        files_failed=len(report.files_failed),
        embedder=embedder,
        peak_rss_mb=peak_rss_mb(),
    )
    marker.parent.mkdir(parents=True, exist_ok=True)
    tmp = marker.with_suffix(".tmp")
    payload = {"key": key, "dataset": dataset.hash, "config": config.index_params()}
    tmp.write_text(json.dumps({**payload, "index": built_index.to_dict()}, indent=2))
    tmp.replace(marker)
    return built_index


def open_index(built: BuiltIndex, config: RunConfig, settings: AnswerConfig) -> Any:
    """The built collection, opened for searching (a ``ragline.retrieval.collection.Collection``)."""
    from ragline.retrieval.collection import Collection

    return Collection.open(built.name, eval_settings(settings, config))
