"""The incremental pipeline end to end, with the real loaders, embedder and stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.ingest.pipeline import Ingestor
from ragline.retrieval.collection import Collection, delete_collection
from ragline.settings import Settings
from tests.ingest.corpus import write_corpus


def ingest(settings: Settings, paths: list[Path], name: str = "docs", **kw: object) -> dict:
    prune = bool(kw.pop("prune", False))
    ingestor = Ingestor(settings, name, embedder="minilm", workers=1, **kw)  # type: ignore[arg-type]
    return ingestor.run(paths, prune=prune).to_dict()


def stored_ids(settings: Settings, name: str = "docs") -> set[str]:
    with Collection.open(name, settings) as coll:
        ids = {i for r in coll.catalog.documents() for i in r.chunk_ids}
        assert coll.store.count() == len(ids), "store and catalog disagree"
        assert len(coll.store.get(sorted(ids))) == len(ids)
        return ids


@pytest.mark.parametrize("store", ["chroma", "faiss"])
def test_first_ingest_then_unchanged_tree_does_no_work(
    settings: Settings, tmp_path: Path, store: str
) -> None:
    docs = tmp_path / "docs"
    paths = write_corpus(docs)
    first = ingest(settings, [docs], store=store)
    assert first["files_ok"] == len(paths) and not first["files_failed"]
    assert first["chunks_added"] > 0 and first["index_version"] == 1
    ids = stored_ids(settings)
    assert len(ids) == first["chunks_added"]

    again = ingest(settings, [docs], store=store)
    assert again["files_skipped"] == len(paths)
    assert again["files_ok"] == 0 and again["chunks_embedded"] == 0
    assert again["index_version"] == 1
    assert stored_ids(settings) == ids

    with Collection.open("docs", settings) as coll:
        hits = coll.search("how do I enable a service at boot", k=3)
    assert "systemd" in hits[0].source


def test_a_changed_file_replaces_exactly_its_chunks(settings: Settings, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    write_corpus(docs)
    ingest(settings, [docs])
    before = stored_ids(settings)
    target = docs / "redis-0.md"
    with Collection.open("docs", settings) as coll:
        doc = next(r for r in coll.catalog.documents() if r.source == str(target))
        old_ids = set(doc.chunk_ids)
    target.write_text("# redis guide\n\nRedis 8 adds vector sets. Use VADD to insert.\n")

    report = ingest(settings, [docs])
    assert report["files_ok"] == 1 and report["files_skipped"] == len(list(docs.iterdir())) - 1
    assert report["index_version"] == 2
    after = stored_ids(settings)
    assert after & old_ids == set()
    assert before - old_ids <= after, "other documents' chunks must not change"
    assert report["chunks_removed"] == len(old_ids)
    with Collection.open("docs", settings) as coll:
        assert "VADD" in coll.search("insert into a vector set", k=1)[0].text


def test_prune_removes_documents_whose_files_are_gone(settings: Settings, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    write_corpus(docs)
    ingest(settings, [docs])
    (docs / "git-0.md").unlink()
    kept = ingest(settings, [docs])
    assert kept["documents_removed"] == 0, "without --prune nothing is removed"
    pruned = ingest(settings, [docs], prune=True)
    assert pruned["documents_removed"] == 1 and pruned["chunks_removed"] > 0
    with Collection.open("docs", settings) as coll:
        assert all("git-0" not in r.source for r in coll.catalog.documents())
        assert all("git-0" not in h.source for h in coll.search("commit and push", k=10))
    stored_ids(settings)


def test_reingest_after_delete_reuses_the_embedding_cache(
    settings: Settings, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    write_corpus(docs)
    first = ingest(settings, [docs])
    delete_collection("docs", settings)
    second = ingest(settings, [docs])
    assert second["chunks_added"] == first["chunks_added"]
    assert second["chunks_embedded"] == 0
    assert second["embedding_cache_hits"] == first["chunks_added"]


def test_bad_files_fail_alone_and_lose_nothing(settings: Settings, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    write_corpus(docs)
    ingest(settings, [docs])
    before = stored_ids(settings)
    (docs / "empty.txt").write_bytes(b"")
    (docs / "junk.txt").write_bytes(bytes(range(256)) * 40)
    (docs / "image.xyz").write_bytes(b"\x89PNG....")
    (docs / "apt-0.md").write_bytes(b"\x00\x01\x02" * 100)  # a good file turned to junk

    report = ingest(settings, [docs])
    failed = {Path(f["path"]).name: f["error"] for f in report["files_failed"]}
    assert set(failed) == {"empty.txt", "junk.txt", "image.xyz", "apt-0.md"}
    assert all(msg and "\n" not in msg for msg in failed.values())
    assert stored_ids(settings) == before, "a failed re-ingest keeps the stored chunks"


def test_chinese_collection_gets_the_multilingual_embedder(
    settings: Settings, tmp_path: Path
) -> None:
    zh = tmp_path / "zh"
    zh.mkdir()
    (zh / "a.txt").write_text("软件包由 APT 管理。用 apt install 安装软件包。", encoding="utf-8")
    (zh / "b.txt").write_text(
        "系统服务由 systemd 启动。用 systemctl enable 启用服务。", encoding="utf-8"
    )
    report = Ingestor(settings, "zh", workers=1).run([zh]).to_dict()
    assert report["files_ok"] == 2
    with Collection.open("zh", settings) as coll:
        assert coll.info.embedder == "e5-small" and coll.info.language == "zh"
        assert "b.txt" in coll.search("怎么启用服务", k=1)[0].source


@pytest.mark.parametrize("workers", [1, 2])
def test_language_is_judged_on_the_documents_not_the_first_one_parsed(
    settings: Settings, tmp_path: Path, workers: int
) -> None:
    # "debian-zh.txt" takes the fast plain-text path and can finish parsing before the
    # English markdown files that sort ahead of it; the collection is English all the same
    docs = tmp_path / "docs"
    write_corpus(docs)
    report = Ingestor(settings, "mixed", workers=workers).run([docs]).to_dict()
    assert report["files_ok"] == 7
    with Collection.open("mixed", settings) as coll:
        assert coll.info.language == "en" and coll.info.embedder == "e5-small"
