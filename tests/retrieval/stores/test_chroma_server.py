"""ChromaStore in server mode against a real ``chroma run`` process: the store contract, the
naming that keeps collections apart, the markers that stop a collection from silently
looking empty, and a server that goes away and comes back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ragline.retrieval.errors import BackendUnavailable, CollectionMismatch
from ragline.retrieval.stores import chroma_server
from ragline.retrieval.stores.chroma import ChromaStore
from tests.deploy.services import ChromaServer
from tests.retrieval.stores.contract import (
    DIM,
    StoreFactory,
    VectorStoreContract,
    make_chunks,
    unit_vectors,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chroma(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    server = ChromaServer(tmp_path_factory.mktemp("chroma") / "db")
    server.start()
    yield server
    server.stop()


def name() -> str:
    return chroma_server.server_name("docs", uuid.uuid4().hex)


def open_server_store(chroma: ChromaServer, path: Path, server_name: str) -> ChromaStore:
    return ChromaStore(path, DIM, chroma_url=chroma.url, server_name=server_name)


class TestChromaServer(VectorStoreContract):
    score_atol = 1e-3

    @pytest.fixture
    def store_factory(self, tmp_path: Path, chroma: ChromaServer) -> Iterator[StoreFactory]:
        opened: list[ChromaStore] = []
        server_name = name()  # one per test: tests never see each other's vectors

        def open_() -> ChromaStore:
            store = open_server_store(chroma, tmp_path / "store", server_name)
            opened.append(store)
            return store

        yield open_
        for store in opened:
            store.close()


def test_vectors_live_on_the_server_not_in_the_data_dir(
    tmp_path: Path, chroma: ChromaServer
) -> None:
    rng = np.random.default_rng(1)
    server_name = name()
    with open_server_store(chroma, tmp_path / "store", server_name) as store:
        store.upsert(make_chunks(5), unit_vectors(rng, 5))
        assert store._col._embedding_function is None  # Chroma never embeds
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == ["server.json"]
    assert chroma_server.read_marker(tmp_path / "store") == server_name
    client = chroma_server.connect(chroma.url, 5.0)
    try:
        assert client.get_collection(server_name).count() == 5
    finally:
        client.close()


def test_two_collections_of_one_name_never_share_vectors(
    tmp_path: Path, chroma: ChromaServer
) -> None:
    """Two data dirs (or a collection deleted and made again) with a collection "docs":
    different uids, different Chroma collections."""
    rng = np.random.default_rng(2)
    a, b = name(), name()
    assert a != b and a.startswith("ragline-docs-")
    with (
        open_server_store(chroma, tmp_path / "a", a) as first,
        open_server_store(chroma, tmp_path / "b", b) as second,
    ):
        first.upsert(make_chunks(7), unit_vectors(rng, 7))
        second.upsert(make_chunks(3, start=100), unit_vectors(rng, 3))
        assert (first.count(), second.count()) == (7, 3)


def test_a_collection_is_never_opened_in_the_other_mode(
    tmp_path: Path, chroma: ChromaServer
) -> None:
    rng = np.random.default_rng(3)
    with ChromaStore(tmp_path / "embedded", DIM) as embedded:
        embedded.upsert(make_chunks(2), unit_vectors(rng, 2))
    with pytest.raises(CollectionMismatch, match="embedded store"):
        open_server_store(chroma, tmp_path / "embedded", name())
    open_server_store(chroma, tmp_path / "remote", name()).close()
    with pytest.raises(CollectionMismatch, match=r"set store\.chroma_url"):
        ChromaStore(tmp_path / "remote", DIM)


def test_a_server_that_lost_the_collection_is_named_not_taken_for_empty(
    tmp_path: Path, chroma: ChromaServer
) -> None:
    rng = np.random.default_rng(4)
    server_name = name()
    with open_server_store(chroma, tmp_path / "store", server_name) as store:
        store.upsert(make_chunks(4), unit_vectors(rng, 4))
    client = chroma_server.connect(chroma.url, 5.0)
    client.delete_collection(server_name)
    client.close()
    with pytest.raises(CollectionMismatch, match="has no collection"):
        open_server_store(chroma, tmp_path / "store", server_name)


def test_drop_deletes_the_server_side_collection(tmp_path: Path, chroma: ChromaServer) -> None:
    server_name = name()
    open_server_store(chroma, tmp_path / "store", server_name).close()
    assert chroma_server.drop(tmp_path / "store", chroma.url, 5.0) is True
    assert chroma_server.drop(tmp_path / "store", chroma.url, 5.0) is False  # run again
    client = chroma_server.connect(chroma.url, 5.0)
    try:
        assert server_name not in [c.name for c in client.list_collections()]
    finally:
        client.close()


def test_a_server_that_goes_away_fails_clearly_and_comes_back(
    tmp_path: Path, chroma: ChromaServer
) -> None:
    rng = np.random.default_rng(5)
    chunks = make_chunks(20)
    vectors = unit_vectors(rng, 20)
    with open_server_store(chroma, tmp_path / "store", name()) as store:
        store.upsert(chunks, vectors)
        chroma.kill()
        try:
            for read in (lambda: store.count(), lambda: store.search(vectors[:1], 3)):
                with pytest.raises(BackendUnavailable, match="does not answer"):
                    read()
            with pytest.raises(BackendUnavailable, match="does not answer"):
                store.upsert(chunks[:1], vectors[:1])
            with pytest.raises(BackendUnavailable, match="does not answer"):
                open_server_store(chroma, tmp_path / "another", name())  # opening one, too
            assert chroma_server.heartbeat(chroma.url, 0.5) is not None
        finally:
            chroma.start()
        assert store.count() == 20, "nothing stored was lost, and the same store works again"
        assert store.search(vectors[3:4], 1)[0][0].chunk_id == chunks[3].id
