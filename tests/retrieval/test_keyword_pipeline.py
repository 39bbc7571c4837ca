"""The ingestion pipeline keeps the keyword index in step with the vector store."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.ingest.pipeline import Ingestor
from ragline.retrieval.collection import Collection
from ragline.retrieval.retrievers import search
from ragline.retrieval.settings import RetrievalSettings
from ragline.settings import Settings


def run(settings: Settings, docs: Path, prune: bool = False) -> None:
    Ingestor(settings, "kw", embedder="minilm", store="faiss", workers=1).run([docs], prune=prune)


def check_in_step(settings: Settings) -> set[str]:
    with Collection.open("kw", settings) as coll:
        ids = {i for r in coll.catalog.documents() for i in r.chunk_ids}
        assert coll.keyword.ids() == ids
        assert coll.store.count() == len(ids)
        assert coll.keyword.config.language == coll.info.language == "en"
        return ids


@pytest.mark.slow
def test_add_change_and_prune_move_the_keyword_index(settings: Settings, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Zebras graze on the savanna grasslands of Africa.\n")
    (docs / "b.txt").write_text("Penguins swim in the cold Antarctic ocean.\n")
    run(settings, docs)
    first = check_in_step(settings)
    (docs / "a.txt").write_text("Okapis hide in the rainforest of the Congo.\n")
    run(settings, docs)
    second = check_in_step(settings)
    assert first != second
    with Collection.open("kw", settings) as coll:
        assert search(coll, "zebras savanna", RetrievalSettings(mode="bm25")).hits == ()
        hits = search(coll, "okapi rainforest", RetrievalSettings(mode="bm25")).hits
        assert [h.metadata["file_name"] for h in hits] == ["a.txt"]
    (docs / "b.txt").unlink()
    run(settings, docs, prune=True)
    assert len(check_in_step(settings)) == 1


@pytest.mark.slow
def test_a_spanish_phrase_in_a_mixed_docx_is_found_by_bm25(
    settings: Settings, tmp_path: Path
) -> None:
    import docx

    english = "All human beings are born free and equal in dignity and rights. " * 4
    spanish = (
        "Todos los seres humanos nacen libres e iguales en dignidad y derechos y, dotados como "
        "están de razón y conciencia, deben comportarse fraternalmente los unos con los otros."
    )
    docs = tmp_path / "docs"
    docs.mkdir()
    document = docx.Document()
    for paragraph in (english, english, spanish, english):
        document.add_paragraph(paragraph)
    document.save(str(docs / "declaration.docx"))
    for i in range(6):
        (docs / f"en-{i}.txt").write_text(f"{english}\n\nCopy {i} is in English only.\n")
    run(settings, docs)
    with Collection.open("kw", settings) as coll:
        hits = search(coll, "nacen libres e iguales", RetrievalSettings(mode="bm25", k=5)).hits
        assert hits and hits[0].metadata["file_name"] == "declaration.docx"
        assert coll.keyword.config.multilingual
