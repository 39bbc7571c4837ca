"""The persistent keyword index: incremental writes, persistence, filters inside the search."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from ragline.retrieval.keyword import KeywordConfig, KeywordIndex, backfill, open_collection_index
from ragline.retrieval.settings import RetrievalSettings
from ragline.retrieval.types import Filter
from ragline.settings import Settings
from tests.retrieval.fakes import MemoryStore, add, chunk, ids, make_collection

DOCS = [
    chunk("a", "Python is an interpreted programming language.", tenant="x"),
    chunk("b", "Debian installs packages with apt.", tenant="y"),
    chunk("c", "如何在Debian中配置shell提示符", tenant="x", page=3),
]


def test_search_ranks_by_bm25_and_returns_hits(tmp_path: Path) -> None:
    index = KeywordIndex(tmp_path / "kw")
    index.upsert(DOCS)
    hits = index.search("debian packages", 5)
    assert [h.doc_id for h in hits] == ["b", "c"]
    assert hits[0].scores == {"bm25": hits[0].score} and hits[0].score > hits[1].score > 0
    assert hits[1].metadata["page"] == 3
    assert index.search("配置提示符", 5)[0].doc_id == "c"
    assert index.search("nothing matches zebra", 5) == []
    assert index.search("", 5) == []


def test_upsert_is_idempotent_and_delete_ignores_missing(tmp_path: Path) -> None:
    index = KeywordIndex(tmp_path / "kw")
    index.upsert(DOCS)
    index.upsert(DOCS)
    assert index.count() == 3
    assert index.delete([DOCS[1].id, "missing"]) == 1
    assert index.delete(["missing"]) == 0
    assert [h.doc_id for h in index.search("debian", 5)] == ["c"]


def test_every_change_bumps_the_generation_and_searches_see_it(tmp_path: Path) -> None:
    index = KeywordIndex(tmp_path / "kw")
    assert index.generation == 0 and index.search("python", 3) == []
    index.upsert(DOCS[:1])
    first = index.generation
    assert [h.doc_id for h in index.search("python", 3)] == ["a"]
    index.upsert(DOCS[1:])
    assert index.generation > first
    assert [h.doc_id for h in index.search("apt", 3)] == ["b"]


def test_matrix_is_persisted_and_reused_not_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = KeywordIndex(tmp_path / "kw")
    index.upsert(DOCS)
    expected = [(h.chunk_id, h.score) for h in index.search("debian", 5)]
    index.close()
    saved = sorted(p.name for p in (tmp_path / "kw").glob("matrix-*"))
    assert saved == [f"matrix-{1}"]

    builds: list[int] = []
    original = KeywordIndex._build

    def counting(self: KeywordIndex, generation: int) -> Any:
        builds.append(generation)
        return original(self, generation)

    monkeypatch.setattr(KeywordIndex, "_build", counting)
    reopened = KeywordIndex(tmp_path / "kw")
    assert [(h.chunk_id, h.score) for h in reopened.search("debian", 5)] == expected
    reopened.search("python", 5)
    assert builds == []  # loaded from disk, once; no rebuild per query


def test_filter_is_applied_before_the_top_k_cut(tmp_path: Path) -> None:
    index = KeywordIndex(tmp_path / "kw")
    noise = [chunk(f"n{i}", "apt apt apt apt install", i, tenant="other") for i in range(20)]
    wanted = [chunk("w1", "apt once", tenant="acme"), chunk("w2", "apt here too", tenant="acme")]
    index.upsert([*noise, *wanted])
    hits = index.search("apt", 2, Filter.where(tenant="acme"))
    assert sorted(h.doc_id for h in hits) == ["w1", "w2"]
    assert index.search("apt", 2)[0].metadata["tenant"] == "other"


def test_config_is_stored_with_the_index(tmp_path: Path) -> None:
    KeywordIndex(tmp_path / "kw", KeywordConfig(language="zh", cjk="bigram")).close()
    reopened = KeywordIndex(tmp_path / "kw", KeywordConfig(language="en"))
    assert reopened.config.language == "zh" and reopened.config.cjk == "bigram"


def test_get_returns_chunks_in_order(tmp_path: Path) -> None:
    index = KeywordIndex(tmp_path / "kw")
    index.upsert(DOCS)
    got = index.get([DOCS[2].id, "missing", DOCS[0].id])
    assert [c.id for c in got] == [DOCS[2].id, DOCS[0].id]
    assert got[0].text == DOCS[2].text and got[0].metadata == DOCS[2].metadata


def test_collection_moves_keyword_index_with_the_store(settings: Settings) -> None:
    coll = make_collection(settings)
    add(coll, DOCS)
    assert coll.keyword.count() == coll.store.count() == 3
    coll.delete([DOCS[0].id])
    assert coll.keyword.count() == coll.store.count() == 2
    coll.close()
    again = make_collection(settings)
    assert again.keyword.count() == 2
    assert again.keyword.config.language == "en"


def test_older_collection_without_keyword_index_is_backfilled(settings: Settings) -> None:
    coll = make_collection(settings, "old")
    store = coll.store
    vectors = coll.embedder.embed_documents([c.text for c in DOCS])
    store.upsert(DOCS, vectors)  # as an older ragline did: vectors only
    coll.catalog.begin_writes([("a", "/docs/a.txt", [c.id for c in DOCS])])
    from ragline.retrieval.catalog import CommitInfo

    coll.catalog.commit_writes(
        [CommitInfo("a", "/docs/a.txt", "h", tuple(c.id for c in DOCS), "text/plain", 1, 0.0)]
    )
    assert not (coll.path / "keyword").exists()
    assert coll.keyword.count() == 3 and coll.keyword.complete
    assert ids(coll.keyword.search("apt", 3)) == [DOCS[1].id]


def test_backfill_is_resumable(tmp_path: Path, settings: Settings) -> None:
    store = MemoryStore()
    store.upsert(DOCS, make_collection(settings).embedder.embed_documents([c.text for c in DOCS]))
    coll = make_collection(settings, "resume")
    coll.catalog.begin_writes([("a", "/a", [c.id for c in DOCS])])
    index = KeywordIndex(tmp_path / "kw")
    index.upsert(DOCS[:1])  # a back-fill that was interrupted
    assert backfill(index, coll.catalog, store) == 2
    assert index.count() == 3 and index.complete
    again = open_collection_index(
        tmp_path / "kw", "en", RetrievalSettings(), coll.catalog, lambda: store
    )
    assert again.count() == 3


def test_a_spanish_phrase_in_a_mixed_collection_is_found(tmp_path: Path) -> None:
    english = "All human beings are born free and equal in dignity and rights. " * 3
    spanish = (
        "Todos los seres humanos nacen libres e iguales en dignidad y derechos y, dotados como "
        "están de razón y conciencia, deben comportarse fraternalmente los unos con los otros."
    )
    index = KeywordIndex(tmp_path / "kw", KeywordConfig())
    index.upsert(
        [
            chunk("en", english),
            chunk("mixed", f"{english}\n\n{spanish}"),
            chunk("es", spanish),
            chunk(
                "other", "Dignity and rights matter in law. Derechos humanos in English: rights."
            ),
        ]
    )
    hits = index.search("deben comportarse fraternalmente los unos con los otros", 5)
    assert [h.doc_id for h in hits][:2] in (["es", "mixed"], ["mixed", "es"])
    assert index.search("seres humanos", 5)[0].doc_id in ("es", "mixed")
    assert index.search("born free", 5)[0].doc_id in ("en", "mixed")


def test_chunks_without_keywords_give_no_model_and_no_error(tmp_path: Path) -> None:
    """A collection whose every chunk is stop words and punctuation has nothing to match:
    searching it returns nothing (it used to raise inside bm25s, a 500 in the server)."""
    index = KeywordIndex(tmp_path / "kw")
    index.upsert([chunk("d", "!!! ??? the of and a")])
    assert index.count() == 1
    assert index.search("anything at all", 5) == []
    index.close()


def test_documents_are_scored_as_wholes_and_chunks_know_their_place(tmp_path: Path) -> None:
    index = KeywordIndex(tmp_path / "kw")
    index.upsert(
        [
            chunk("guide", "Install the package with apt.", 0),
            chunk("guide", "Then enable the service with systemctl.", 1),
            chunk("notes", "Install the service unit.", 0),
        ]
    )
    # No single chunk of "guide" holds all three words; the whole document does.
    assert [d for d, _ in index.search_documents("apt systemctl service", 5)] == [
        "guide",
        "notes",
    ]
    assert index.search_documents("zebra", 5) == [] and index.search_documents("apt", 0) == []
    second = chunk("guide", "Then enable the service with systemctl.", 1)
    assert index.places([second.id, "missing"]) == {second.id: ("guide", 1)}


def test_a_saved_matrix_without_the_document_matrix_is_rebuilt(tmp_path: Path) -> None:
    index = KeywordIndex(tmp_path / "kw")
    index.upsert(DOCS)
    index.search("debian", 5)
    index.close()
    for folder in (tmp_path / "kw").glob("matrix-*"):  # as an older ragline saved it
        shutil.rmtree(folder / "documents")
    reopened = KeywordIndex(tmp_path / "kw")
    assert [d for d, _ in reopened.search_documents("debian packages", 5)] == ["b", "c"]
    saved = list((tmp_path / "kw").glob("matrix-*/documents"))
    assert len(saved) == 1, "the rebuilt matrix replaces the old one on disk"
