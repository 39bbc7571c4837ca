"""Loading BEIR (graded qrels, splits, TREC lines) and QA-format datasets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragline.eval.datasets import CorpusDoc, file_stem, load_dataset, materialise, write_beir
from ragline.retrieval.errors import UsageError


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def jsonl(rows: list[dict[str, object]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


@pytest.fixture
def beir(tmp_path: Path) -> Path:
    root = tmp_path / "set"
    write(
        root / "corpus.jsonl",
        jsonl(
            [
                {"_id": "d1", "title": "One", "text": "first"},
                {"_id": 2, "text": "second, no title"},
                {"_id": "d3", "title": "Three", "text": "third"},
            ]
        ),
    )
    write(
        root / "queries.jsonl",
        jsonl(
            [
                {"_id": "q1", "text": "graded"},
                {"_id": "q2", "text": "only non-relevant judgments"},
                {"_id": "q3", "text": "relevant doc missing from corpus"},
                {"_id": "q4", "text": "not judged at all"},
            ]
        ),
    )
    write(
        root / "qrels" / "test.tsv",
        "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\t2\t1\nq1\td3\t0\nq2\td1\t0\nq3\tgone\t1\n",
    )
    return root


def test_beir_with_graded_judgments(beir: Path) -> None:
    ds = load_dataset(beir)
    assert ds.format == "beir" and ds.split == "test" and ds.name == "set"
    assert set(ds.corpus) == {"d1", "2", "d3"}
    assert ds.corpus["2"] == CorpusDoc("2", "", "second, no title")
    assert ds.qrels["q1"] == {"d1": 2, "2": 1, "d3": 0}
    # q2 has no relevant document: not scored; q4 is not judged; q3's document is missing
    assert list(ds.queries) == ["q1", "q3"]
    info = ds.describe()
    assert info["graded"] is True and info["queries"] == 2
    assert info["skipped"] == {"queries_without_relevant": 1, "relevant_ids_not_in_corpus": 1}


def test_dataset_hash_follows_the_content(beir: Path) -> None:
    first = load_dataset(beir).hash
    assert load_dataset(beir).hash == first
    with (beir / "qrels" / "test.tsv").open("a") as fh:
        fh.write("q2\td3\t1\n")
    assert load_dataset(beir).hash != first


def test_split_choice_and_trec_lines(beir: Path) -> None:
    (beir / "qrels" / "test.tsv").rename(beir / "qrels" / "dev.tsv")
    assert load_dataset(beir).split == "dev"  # the only split there is
    write(beir / "qrels" / "train.tsv", "q1 0 d3 1\nq1 0 d1 0\n")  # TREC layout, no header
    with pytest.raises(UsageError, match="splits: dev, train"):
        load_dataset(beir)
    train = load_dataset(beir, split="train")
    assert train.qrels == {"q1": {"d3": 1, "d1": 0}}


def test_malformed_input_is_a_one_line_usage_error(tmp_path: Path, beir: Path) -> None:
    with pytest.raises(UsageError, match="not a directory"):
        load_dataset(tmp_path / "nope")
    write(beir / "qrels" / "test.tsv", "q1\td1\tmany\nq1\td1\tlots\n")
    with pytest.raises(UsageError, match="line 2"):
        load_dataset(beir)
    write(beir / "corpus.jsonl", '{"_id": "d1", "text": "ok"}\n{broken\n')
    with pytest.raises(UsageError, match=r"corpus\.jsonl line 2: invalid JSON"):
        load_dataset(beir)


def test_qa_format(tmp_path: Path) -> None:
    root = tmp_path / "qa"
    write(root / "corpus.jsonl", jsonl([{"_id": "a", "text": "x"}, {"_id": "b", "text": "y"}]))
    write(
        root / "qa.jsonl",
        jsonl(
            [
                {"id": "1", "question": "Q1?", "answers": ["x", "ex"], "sources": ["a"]},
                {"id": "2", "question": "Q2?", "answer": "y", "sources": {"b": 2, "a": 1}},
                {"id": "3", "question": "Not in the corpus?", "answers": [], "sources": []},
                {"id": "4", "question": "Q4?", "sources": ["a"], "answerable": False},
            ]
        ),
    )
    ds = load_dataset(root)
    assert ds.format == "qa"
    assert ds.queries == {"1": "Q1?", "2": "Q2?"}
    assert ds.qrels == {"1": {"a": 1}, "2": {"b": 2, "a": 1}}
    assert ds.answers["1"] == ("x", "ex") and ds.answers["2"] == ("y",)
    assert ds.unanswerable == {"3": "Not in the corpus?", "4": "Q4?"}
    write(root / "qa.jsonl", jsonl([{"id": "1", "question": ""}]))
    with pytest.raises(UsageError, match="non-empty 'id' and 'question'"):
        load_dataset(root)


def test_materialise_and_write_round_trip(tmp_path: Path) -> None:
    corpus = {
        "ok-1": CorpusDoc("ok-1", "Title", "Body"),
        "a/b c": CorpusDoc("a/b c", "", "unsafe id"),
    }
    stems = materialise(corpus, tmp_path / "files")
    assert stems["ok-1"] == "ok-1" and stems[file_stem("a/b c")] == "a/b c"
    assert (tmp_path / "files" / "ok-1.txt").read_text() == "Title\n\nBody\n"
    assert file_stem("a/b c").startswith("h-")
    write_beir(tmp_path / "out", corpus, {"q": "?"}, {"q": {"a/b c": 3}}, {"q": {"answer": "x"}})
    ds = load_dataset(tmp_path / "out")
    assert ds.corpus == corpus and ds.qrels == {"q": {"a/b c": 3}}
    line = (tmp_path / "out" / "queries.jsonl").read_text()
    assert json.loads(line)["metadata"] == {"answer": "x"}
