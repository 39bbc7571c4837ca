"""Baselines every report carries, measured in the same run as ragline's configurations.

- **BM25 alone** and **dense alone**: ragline's own retrievers, one at a time, on the primary
  configuration's index (so they differ from it only in the mode).
- **The LangChain recipe** users copy: ``RecursiveCharacterTextSplitter(1000, 200)`` + the same
  embedding model + ``FAISS.from_documents``; MiniLM through ``HuggingFaceEmbeddings`` on the
  same local model files, the multilingual USE model through ragline's LangChain
  ``Embeddings`` adapter. Its index is saved under ``<data_dir>/eval/langchain/<key>`` and
  reused by later runs on the same dataset.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ragline.answer.settings import AnswerConfig
from ragline.eval.config import RunConfig
from ragline.eval.datasets import Dataset
from ragline.eval.index import Log, dir_size, eval_root, peak_rss_mb

CHUNK_CHARS = 1000
OVERLAP_CHARS = 200
FORMAT = 1


def baseline_configs(
    primary: RunConfig, existing: Sequence[Mapping[str, Any]] = ()
) -> list[RunConfig]:
    """BM25 alone and dense alone on the primary's index (skipped when already evaluated)."""
    out = []
    for mode in ("bm25", "dense"):
        config = primary.with_(name=f"{mode} alone", mode=mode, role="baseline")
        if config.params() not in existing:
            out.append(config)
    return out


def langchain_embeddings(embedder: str) -> Any:
    from ragline.retrieval.embedders.offline import force_offline

    force_offline()
    if embedder == "minilm":
        from langchain_huggingface import HuggingFaceEmbeddings

        from ragline.retrieval.embedders.sentence import minilm_path

        return HuggingFaceEmbeddings(model_name=str(minilm_path()))
    from ragline.retrieval.langchain_adapters import RaglineEmbeddings

    return RaglineEmbeddings(model=embedder)


def langchain_retriever(
    dataset: Dataset, embedder: str, settings: AnswerConfig, depth: int, log: Log | None = None
) -> tuple[Any, dict[str, Any]]:
    """(retriever, {"params": …, "index": build info}) for the LangChain recipe."""
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    spec = {"format": FORMAT, "dataset": dataset.hash, "embedder": embedder}
    spec |= {"chunk_chars": CHUNK_CHARS, "overlap_chars": OVERLAP_CHARS}
    key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()
    folder = eval_root(settings) / "langchain" / key[:16]
    marker = folder / "build.json"
    embeddings = langchain_embeddings(embedder)
    if marker.is_file() and (folder / "index.faiss").is_file():
        build = {**json.loads(marker.read_text()), "cached": True}
        store = FAISS.load_local(str(folder), embeddings, allow_dangerous_deserialization=True)
    else:
        (log or (lambda _m: None))(f"building the LangChain FAISS index ({embedder})")
        started = time.perf_counter()
        docs = [
            Document(page_content=f"{d.title}\n\n{d.text}\n", metadata={"id": d.id})
            for d in dataset.corpus.values()
        ]
        splitter = RecursiveCharacterTextSplitter(
            chunk_size=CHUNK_CHARS, chunk_overlap=OVERLAP_CHARS
        )
        chunks = splitter.split_documents(docs)
        store = FAISS.from_documents(chunks, embeddings)
        seconds = round(time.perf_counter() - started, 3)
        store.save_local(str(folder))
        build = {"seconds": seconds, "chunks": len(chunks), "cached": False}
        marker.write_text(json.dumps({k: v for k, v in build.items() if k != "cached"}))
    info = {
        "name": f"langchain-{key[:12]}",
        "key": key,
        "path": str(folder),
        "seconds": build["seconds"],
        "cached": build["cached"],
        "size_bytes": dir_size(folder),
        "chunks": build["chunks"],
        "documents": len(dataset.corpus),
        "files_failed": 0,
        "embedder": embedder,
        "peak_rss_mb": peak_rss_mb(),
    }
    params = {
        "mode": "langchain",
        "splitter": f"RecursiveCharacterTextSplitter({CHUNK_CHARS}, {OVERLAP_CHARS})",
        "embeddings": type(embeddings).__name__,
        "embedder": embedder,
        "store": "langchain_community FAISS",
        "k": depth,
    }

    def retrieve(query: str) -> list[tuple[str, float]]:
        out: dict[str, float] = {}
        for doc, distance in store.similarity_search_with_score(query, k=depth):
            # unit vectors: squared L2 distance d = 2 − 2·cos, so cos = 1 − d / 2
            out.setdefault(str(doc.metadata["id"]), round(1.0 - float(distance) / 2, 6))
        return list(out.items())

    return retrieve, {"params": params, "index": info}
