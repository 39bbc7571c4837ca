"""The collection pool: one open collection per name, caught up with other writers, and a
collection deleted and created anew under the same name is opened afresh."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from ragline.retrieval import embedders
from ragline.retrieval.collection import Collection, delete_collection
from ragline.retrieval.pool import CollectionPool
from ragline.settings import Settings
from tests.retrieval.fakes import BagOfWordsEmbedder, make_collection


@pytest.fixture(autouse=True)
def bag_of_words(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedders, "load_embedder", lambda *_a, **_k: BagOfWordsEmbedder())


def created(settings: Settings, uid: str) -> Collection:
    """A collection on disk (collection.json written, as ingestion creates one)."""
    collection = make_collection(settings, "kb")
    collection.info = replace(collection.info, uid=uid)
    (collection.path / "collection.json").write_text(json.dumps(collection.info.to_dict()))
    return collection


def test_one_open_collection_per_name(settings: Settings) -> None:
    created(settings, "first").close()
    pool = CollectionPool(settings)
    assert pool.get("kb") is pool.get("kb")
    pool.close()


def test_a_collection_recreated_under_the_same_name_is_a_new_one(settings: Settings) -> None:
    created(settings, "first").close()
    pool = CollectionPool(settings)
    old = pool.get("kb")
    assert old.info.uid == "first"
    delete_collection("kb", settings)
    created(settings, "second").close()
    new = pool.get("kb")
    assert new is not old and new.info.uid == "second"
    pool.close()
