"""Archives: members as documents of their own, the zip-bomb guards, and the pipeline's
bookkeeping (an unchanged archive is skipped, a changed one replaces exactly its members)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ragline.ingest.loaders.containers import CONTAINER_SUFFIXES, container_of
from ragline.ingest.loaders.formats import FORMATS
from ragline.ingest.pipeline import Ingestor
from ragline.retrieval.collection import Collection
from ragline.retrieval.errors import LoaderError
from ragline.settings import Settings
from tests.ingest import make_more_files as mm
from tests.ingest.loading import load


def test_container_suffixes_match_the_format_table() -> None:
    assert set(CONTAINER_SUFFIXES) == {s for s, f in FORMATS.items() if f.unpack is not None}


def test_container_of() -> None:
    assert container_of("/d/a.zip!/x/y.txt") == "/d/a.zip"
    assert container_of("/d/a.ZIP!/in.tar.gz!/y.txt") == "/d/a.ZIP"
    assert container_of("/d/mail.eml!/report.pdf") == "/d/mail.eml"
    assert container_of("/d/wow!/notes.txt") is None and container_of("/d/a.txt") is None


@pytest.mark.usefixtures("unstructured_ready")
@pytest.mark.parametrize("name", ["zip", "tar_gz"])
def test_members_are_documents_and_hidden_ones_are_skipped(
    more: dict[str, Path], name: str
) -> None:
    loaded = load(more[name])
    assert loaded.elements == ()
    members = {m.name: m for m in loaded.members}
    expected = {"docs/alpha.txt", "docs/beta.md", "notes.html"}
    if name == "zip":
        expected |= {"inner.zip", "inner.zip!/deep.txt"}
        assert members["inner.zip!/deep.txt"].elements[0].text.startswith("Dormice sleep")
        assert members["inner.zip"].error is None and members["inner.zip"].elements == ()
    assert set(members) == expected
    assert members["docs/beta.md"].elements[-1].text == "Beavers build dams across slow rivers."
    assert members["notes.html"].mime_type == "text/html"
    assert all(len(m.content_hash) == 64 for m in members.values())


def test_a_failing_member_fails_alone(more: dict[str, Path]) -> None:
    members = {m.name: m for m in load(more["tgz_bad_member"]).members}
    assert members["empty.txt"].error == "empty file"
    assert members["ok.txt"].error is None


def test_an_encrypted_member_is_refused_unread(more: dict[str, Path]) -> None:
    members = {m.name: m for m in load(more["zip_encrypted_member"]).members}
    assert members["locked.txt"].error == "password-protected document"
    assert members["open.txt"].elements[0].text == "Open text."


BOMBS = [
    ("zip_bomb", {}, r"archive inflates to 60\.0 MB, \d+ times its packed size \(a likely zip bomb\)"),
    ("tar_bomb", {}, r"archive inflates to more than \d+\.\d MB, \d+ times its packed size .*"),
    ("zip_bomb", {"max_unzipped_mb": 50}, r"archive inflates to 60\.0 MB, over the 50 MB limit"),
    ("tar_bomb", {"max_unzipped_mb": 50}, r"archive inflates to more than 50 MB \(with what it nests\)"),
    ("zip_many", {"archive_max_members": 20}, r"archive holds more than 20 files \(with what it nests\)"),
    ("zip_empty", {}, r"empty archive \(no files in it\)"),
    ("tar_corrupt", {}, r"corrupt \.tar\.gz file: .+"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "overrides", "reason"), BOMBS)
def test_archive_guards(
    more: dict[str, Path], name: str, overrides: dict[str, object], reason: str
) -> None:
    with pytest.raises(LoaderError) as caught:
        load(more[name], **overrides)
    assert re.fullmatch(reason, str(caught.value)), str(caught.value)


def test_nesting_depth(more: dict[str, Path]) -> None:
    members = {m.name: m for m in load(more["zip_deep"]).members}
    deepest = "level1.zip!/level2.zip!/level3.zip"
    assert members[deepest].error is None
    assert members[f"{deepest}!/level4.txt"].error == "nested more than 3 containers deep"
    shallow = {m.name: m for m in load(more["zip_deep"], archive_max_depth=1).members}
    assert shallow["level1.zip!/level2.zip"].error == "nested more than 1 containers deep"


# --- through the pipeline -----------------------------------------------------------------------


def run(settings: Settings, docs: Path) -> dict[str, object]:
    ingestor = Ingestor(settings, "arch", embedder="minilm", store="faiss", workers=1)
    return ingestor.run([docs]).to_dict()


def sources(settings: Settings) -> dict[str, tuple[str, ...]]:
    with Collection.open("arch", settings) as coll:
        return {r.source: r.chunk_ids for r in coll.catalog.documents() if r.state == "done"}


@pytest.mark.slow
def test_unchanged_archive_is_skipped_changed_one_replaces_its_members(
    settings: Settings, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "plain.txt").write_text("Penguins swim in the cold Antarctic ocean.")
    bundle = docs / "bundle.zip"
    members = {
        "keep.txt": b"Kestrels hover above motorway verges.",
        "change.txt": b"Cranes dance in the spring.",
        "drop.txt": b"Dodos lived on Mauritius.",
    }
    bundle.write_bytes(mm.zip_bytes(members))
    first = run(settings, docs)
    assert first["files_ok"] == 5 and not first["files_failed"]  # 3 members, zip, plain
    before = sources(settings)
    assert f"{bundle}!/keep.txt" in before and before[str(bundle)] == ()

    again = run(settings, docs)
    assert again["files_ok"] == 0 and again["chunks_embedded"] == 0
    assert again["files_skipped"] == 2 and again["index_version"] == first["index_version"]

    members.pop("drop.txt")
    members["change.txt"] = b"Cranes dance in the spring and fly south in autumn."
    members["new.txt"] = b"Newts return to the same pond."
    bundle.write_bytes(mm.zip_bytes(members))
    changed = run(settings, docs)
    after = sources(settings)
    assert changed["files_ok"] == 3  # change.txt, new.txt, the zip itself
    assert changed["files_skipped"] == 2  # plain.txt, and keep.txt inside the zip
    assert changed["documents_removed"] == 1
    assert f"{bundle}!/drop.txt" not in after and f"{bundle}!/new.txt" in after
    assert after[f"{bundle}!/keep.txt"] == before[f"{bundle}!/keep.txt"]
    assert after[str(docs / "plain.txt")] == before[str(docs / "plain.txt")]
    assert set(after[f"{bundle}!/change.txt"]).isdisjoint(before[f"{bundle}!/change.txt"])
    with Collection.open("arch", settings) as coll:
        ids = {i for r in coll.catalog.documents() for i in r.chunk_ids}
        assert coll.store.count() == len(ids) and coll.keyword.ids() == ids
        hit = coll.keyword.search("newts pond", 1)[0]
        assert hit.metadata["source"] == f"{bundle}!/new.txt"
        assert hit.metadata["file_name"] == "new.txt" and hit.metadata["file_type"] == "txt"


@pytest.mark.slow
def test_lasting_failures_are_not_parsed_again(settings: Settings, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ok.txt").write_text("Quokkas smile for photographs.")
    (docs / "empty.txt").write_bytes(b"")
    (docs / "box.zip").write_bytes(mm.zip_bytes({"a.txt": b"Axolotls regrow limbs.", "b.txt": b""}))
    first = run(settings, docs)
    failed = {f["path"]: f["error"] for f in first["files_failed"]}  # type: ignore[union-attr]
    assert failed == {
        str(docs / "empty.txt"): "empty file",
        f"{docs / 'box.zip'}!/b.txt": "empty file",
    }
    second = run(settings, docs)
    assert {f["path"]: f["error"] for f in second["files_failed"]} == failed  # type: ignore[union-attr]
    assert second["files_ok"] == 0 and second["index_version"] == first["index_version"]
    with Collection.open("arch", settings) as coll:
        record = next(r for r in coll.catalog.documents() if r.source.endswith("empty.txt"))
        updated = coll.catalog.db.execute(
            "SELECT updated FROM documents WHERE doc_id=?", (record.doc_id,)
        ).fetchone()[0]
    third = run(settings, docs)
    with Collection.open("arch", settings) as coll:
        again = coll.catalog.db.execute(
            "SELECT updated FROM documents WHERE doc_id=?", (record.doc_id,)
        ).fetchone()[0]
    assert again == updated, "an unchanged, lastingly failed file is not parsed or marked again"
    assert len(third["files_failed"]) == 2  # type: ignore[arg-type]
    (docs / "empty.txt").write_text("Now it has words about wombats.")
    assert run(settings, docs)["files_ok"] == 1
