"""The LangChain adapters against the langchain-tests standard suites (langchain-tests 1.1.9).

Every standard test runs; none is skipped. Suites:
- VectorStoreIntegrationTests: RaglineVectorStore over FAISS, over Chroma (slow), and over a
  ragline Collection (writes move its keyword index too);
- EmbeddingsUnitTests / EmbeddingsIntegrationTests: RaglineEmbeddings over a test embedder,
  and over the real MiniLM (slow);
- RetrieversIntegrationTests: RaglineRetriever over a collection, hybrid mode.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.vectorstores import VectorStore as LCVectorStore
from langchain_tests.integration_tests import (
    EmbeddingsIntegrationTests,
    RetrieversIntegrationTests,
    VectorStoreIntegrationTests,
)
from langchain_tests.unit_tests import EmbeddingsUnitTests

from ragline.retrieval.langchain_adapters import (
    RaglineEmbeddings,
    RaglineRetriever,
    RaglineVectorStore,
)
from ragline.retrieval.stores import open_store
from ragline.settings import Settings
from tests.retrieval.fakes import BagOfWordsEmbedder, add, chunk, make_collection


class StoreSuite(VectorStoreIntegrationTests):
    """The standard suite over one of our stores, named by ``backend``."""

    backend = ""

    @pytest.fixture
    def vectorstore(self, tmp_path: Path) -> Iterator[LCVectorStore]:
        store = open_store(self.backend, tmp_path / self.backend, 6)
        try:
            yield RaglineVectorStore(store, self.get_embeddings())
        finally:
            store.close()


class TestFaissVectorStore(StoreSuite):
    backend = "faiss"


@pytest.mark.slow
class TestChromaVectorStore(StoreSuite):
    backend = "chroma"


class TestCollectionVectorStore(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self, tmp_path: Path) -> Iterator[LCVectorStore]:
        embeddings = self.get_embeddings()
        dim = len(embeddings.embed_query("size"))
        collection = make_collection(Settings(data_dir=tmp_path / "data"), dim=dim)
        try:
            yield RaglineVectorStore(collection.store, embeddings, collection)
            assert collection.keyword.count() == collection.store.count()
        finally:
            collection.close()


class TestEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[RaglineEmbeddings]:
        return RaglineEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"embedder": BagOfWordsEmbedder()}


class TestEmbeddingsIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[RaglineEmbeddings]:
        return RaglineEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"embedder": BagOfWordsEmbedder()}


@pytest.mark.slow
class TestMiniLMEmbeddingsIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[RaglineEmbeddings]:
        return RaglineEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": "minilm"}


def _collection() -> Any:
    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="ragline-lc-")))
    collection = make_collection(settings)
    add(
        collection,
        [chunk(f"d{i}", f"Python packaging note {i}: pip installs packages") for i in range(5)],
    )
    return collection


class TestRetriever(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[RaglineRetriever]:
        return RaglineRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"collection": _collection(), "mode": "hybrid"}

    @property
    def retriever_query_example(self) -> str:
        return "how does pip install packages?"


# -- beyond the standard suites ---------------------------------------------------------
def test_retriever_modes_filters_and_scores(settings: Settings) -> None:
    collection = make_collection(settings)
    add(
        collection,
        [
            chunk("a", "apt installs packages", tenant="x"),
            chunk("b", "pip installs packages", tenant="y"),
        ],
    )
    retriever = RaglineRetriever(collection=collection, k=2, mode="bm25", filter={"tenant": "y"})
    docs = retriever.invoke("installs packages")
    assert [d.metadata["doc_id"] for d in docs] == ["b"]
    assert set(docs[0].metadata["scores"]) == {"bm25"} and docs[0].id
    dense = retriever.invoke("installs packages", mode="dense", filter=None)
    assert len(dense) == 2 and "dense" in dense[0].metadata["scores"]


def test_vector_store_filters_mmr_and_scores(tmp_path: Path) -> None:
    embeddings = RaglineEmbeddings(BagOfWordsEmbedder())
    store = RaglineVectorStore.from_texts(
        ["apt installs packages", "apt installs packages fast", "pip keeps a cache"],
        embeddings,
        [{"tool": "apt"}, {"tool": "apt"}, {"tool": "pip"}],
        path=tmp_path / "lc",
    )
    assert [d.metadata for d in store.similarity_search("cache", k=3, filter={"tool": "pip"})] == [
        {"tool": "pip"}
    ]
    scored = store.similarity_search_with_relevance_scores("apt installs packages", k=1)
    assert scored[0][0].page_content == "apt installs packages" and scored[0][1] == pytest.approx(
        1.0
    )
    diverse = store.max_marginal_relevance_search(
        "apt installs packages", k=2, fetch_k=3, lambda_mult=0.1
    )
    assert [d.metadata["tool"] for d in diverse] == ["apt", "pip"]
    assert store.get_by_ids(["missing"]) == []
    assert isinstance(store.similarity_search("apt")[0], Document)
