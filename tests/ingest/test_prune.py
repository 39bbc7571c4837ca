"""`ragline ingest --prune` is safe: only under the walked roots, never on an empty root or a
mass removal without --force, and never for a file that merely cannot be checked."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from ragline.ingest.pipeline import Ingestor
from ragline.ingest.prune import plan_prune
from ragline.retrieval.catalog import DocumentRecord
from ragline.retrieval.collection import Collection
from ragline.retrieval.errors import IngestError
from ragline.settings import Settings


def record(source: str) -> DocumentRecord:
    return DocumentRecord(source, source, "h", "done", ("c",), (), None, "text/plain", 1, 0.0)


def test_only_documents_under_the_walked_roots_are_pruned(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    kept = a / "kept.txt"
    kept.write_text("x")
    records = [record(str(a / "gone.txt")), record(str(b / "gone.txt")), record(str(kept))]
    records.append(record(f"{a / 'gone.zip'}!/member.txt"))
    records += [record(str(tmp_path / f"other-{i}.txt")) for i in range(4)]
    plan = plan_prune(records, [a], [kept], max_share=0.5)
    assert set(plan.doc_ids) == {str(a / "gone.txt"), f"{a / 'gone.zip'}!/member.txt"}


def test_an_empty_root_is_refused_unless_forced(tmp_path: Path) -> None:
    share = tmp_path / "share"
    share.mkdir()  # a mount point with nothing mounted
    records = [record(str(share / "report.txt"))] + [record(f"/elsewhere/{i}") for i in range(9)]
    with pytest.raises(IngestError, match=r"^refusing to prune: .*share holds no files"):
        plan_prune(records, [share], [], max_share=1.0)
    assert plan_prune(records, [share], [], max_share=1.0, force=True).doc_ids == (
        str(share / "report.txt"),
    )


def test_a_large_share_is_refused_unless_forced(tmp_path: Path) -> None:
    (tmp_path / "left.txt").write_text("x")
    records = [record(str(tmp_path / f"{i}.txt")) for i in range(3)]
    records.append(record(str(tmp_path / "left.txt")))
    with pytest.raises(IngestError, match=r"3 of 4 documents \(75%\) would be removed"):
        plan_prune(records, [tmp_path], [tmp_path / "left.txt"], max_share=0.5)
    assert len(plan_prune(records, [tmp_path], [tmp_path / "left.txt"], max_share=0.8).doc_ids) == 3


def test_a_file_that_cannot_be_checked_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "here.txt").write_text("x")
    records = [record(str(tmp_path / "denied.txt")), record(str(tmp_path / "gone.txt"))]
    records.append(record(str(tmp_path / "here.txt")))
    real_stat = os.stat

    def stat(path: str, *args: object, **kwargs: object) -> os.stat_result:
        if str(path).endswith("denied.txt"):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "stat", stat)
    plan = plan_prune(records, [tmp_path], [tmp_path / "here.txt"], max_share=1.0)
    assert plan.doc_ids == (str(tmp_path / "gone.txt"),) and plan.kept_unreadable == 1


def ingest(settings: Settings, paths: list[Path], **kw: bool) -> dict[str, object]:
    ingestor = Ingestor(settings, "p", embedder="minilm", store="faiss", workers=1)
    return ingestor.run(paths, **kw).to_dict()


@pytest.mark.slow
def test_a_refused_prune_changes_nothing(settings: Settings, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("a", "b", "c"):
        (docs / f"{name}.txt").write_text(f"Document {name} talks about topic {name}.")
    ingest(settings, [docs])
    for name in ("a", "b"):
        (docs / f"{name}.txt").unlink()
    (docs / "d.txt").write_text("A new document about dolphins.")
    with pytest.raises(IngestError, match="refusing to prune: 2 of 3 documents"):
        ingest(settings, [docs], prune=True)
    with Collection.open("p", settings) as coll:
        assert len(list(coll.catalog.documents())) == 3, "nothing ingested, nothing removed"
    forced = ingest(settings, [docs], prune=True, force=True)
    assert forced["documents_removed"] == 2 and forced["files_ok"] == 1
