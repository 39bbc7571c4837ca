"""`ragline eval synth` with the recording fake LLM over an in-memory collection."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from ragline.eval.datasets import load_dataset
from ragline.eval.synth import malformed, parse_question, stitch, synthesize, write_synth
from ragline.llm import GenerationParams
from ragline.llm.fake import FakeLLM
from ragline.retrieval.catalog import CommitInfo
from ragline.retrieval.collection import Collection
from ragline.retrieval.types import Chunk, Message
from ragline.settings import Settings
from tests.retrieval.fakes import add, chunk, make_collection

PASSAGES = {
    "redis": ("Redis persists data with RDB snapshots or an append-only file.", "How does Redis persist data?"),
    "redis2": ("The append-only file logs every write so Redis can replay it.", "How does Redis persist data?"),
    "redis3": ("Snapshots are written by a forked child process.", "How does Redis persist its data?"),
    "systemd": ("systemctl enable NAME starts a service at boot.", "How do I start a service at boot?"),
    "bread": ("A sourdough starter is flour and water fermented by wild yeast.", "What is the capital of France?"),
    "coffee": ("Espresso uses about nine bars of pressure.", "According to the passage, what pressure is used?"),
    "short": ("hi", "Hi?"),
}  # fmt: skip


def reply(messages: Sequence[Message], _params: GenerationParams) -> str:
    prompt = messages[-1].content
    if prompt.startswith("Passage:"):  # the check: does the passage answer the question?
        return "no" if "France" in prompt else "Yes."
    for text, question in PASSAGES.values():
        if text in prompt:
            return f"Question: {question}\nAnswer: from the passage"
    raise AssertionError("unexpected prompt")


@pytest.fixture
def collection(settings: Settings) -> Collection:
    coll = make_collection(settings, "synth")
    chunks = [chunk(doc, text) for doc, (text, _q) in PASSAGES.items()]
    add(coll, chunks)
    coll.catalog.begin_writes([(c.doc_id, f"/docs/{c.doc_id}.txt", [c.id]) for c in chunks])
    coll.catalog.commit_writes(
        [CommitInfo(c.doc_id, f"/docs/{c.doc_id}.txt", "h", (c.id,), "text/plain", 1, 0.0) for c in chunks]
    )  # fmt: skip
    return coll


def test_filters_unanswered_malformed_and_near_duplicate_questions(
    collection: Collection, tmp_path: Path
) -> None:
    llm = FakeLLM(default=reply)
    result = synthesize(collection, llm, n=10, min_chars=10, dedupe_threshold=0.9)
    counts = result.counts
    assert counts == {
        "tried": 6,
        "short_chunk": 1,
        "malformed": 1,
        "unanswered": 1,
        "duplicate": 2,  # the same question twice, and a paraphrase (cosine ≥ 0.9)
        "kept": 2,
    }
    questions = {q.question: q.doc_id for q in result.questions}
    assert questions["How do I start a service at boot?"] == "systemd"
    assert next(d for q, d in questions.items() if "Redis" in q).startswith("redis")
    # every kept question was checked against its own chunk
    checks = [c for c in llm.calls if c.messages[-1].content.startswith("Passage:")]
    assert len(checks) == 5 and all(c.params.max_new_tokens == 4 for c in checks)

    out = write_synth(result, tmp_path / "synth")
    ds = load_dataset(out)
    assert len(ds.corpus) == len(PASSAGES) and len(ds.queries) == 2
    for qid, text in ds.queries.items():
        assert ds.qrels[qid] == {questions[text]: 1}
    info = json.loads((out / "synth.json").read_text())
    assert info["counts"]["kept"] == 2 and info["settings"]["model_id"] == "fake"
    meta = [json.loads(line)["metadata"] for line in (out / "queries.jsonl").open()]
    assert all(m["answer"] == "from the passage" and m["chunk_id"] for m in meta)


def test_stops_at_n_and_is_reproducible(collection: Collection) -> None:
    first = synthesize(collection, FakeLLM(default=reply), n=1, min_chars=10, seed=3)
    again = synthesize(collection, FakeLLM(default=reply), n=1, min_chars=10, seed=3)
    assert len(first.questions) == 1 and first.questions == again.questions


def test_parse_and_reject_questions() -> None:
    assert parse_question("Question: What is RDB?\nAnswer: snapshots") == (
        "What is RDB?",
        "snapshots",
    )
    assert parse_question("**Question:** 如何启用服务？\n答案：systemctl enable") == (
        "如何启用服务？",
        "systemctl enable",
    )
    assert parse_question("  What is AOF?  \n") == ("What is AOF?", "")
    assert malformed("") and malformed("x" * 400) and malformed("What does this text say?")
    assert not malformed("How does Redis persist data?")


def test_documents_are_stitched_from_overlapping_chunks() -> None:
    text = "alpha beta gamma delta epsilon"
    a = Chunk.create("d", text[0:16], 0, {"start": 0, "end": 16})  # "alpha beta gamma"
    b = Chunk.create("d", text[11:30], 1, {"start": 11, "end": 30})  # overlaps "gamma"
    assert stitch([a, b]) == text
    plain = [Chunk.create("d", "one", 0, {}), Chunk.create("d", "two", 1, {})]
    assert stitch(plain) == "one\n\ntwo"


def test_synth_command_with_the_fake_backend(
    collection: Collection, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from ragline.cli import app
    from tests.retrieval.fakes import BagOfWordsEmbedder

    (collection.path / "collection.json").write_text(json.dumps(collection.info.to_dict()))
    collection.close()
    monkeypatch.setattr(Collection, "embedder", property(lambda self: BagOfWordsEmbedder()))
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("RAGLINE_LLM__BACKEND", "fake")
    out = tmp_path / "out"
    args = ["eval", "synth", "-c", "synth", "--n", "3", "--out", str(out), "--min-chars", "10"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    # the fake backend's stock reply is never confirmed by the check: nothing is kept
    assert "0 questions written" in result.stdout and "6 not answered" in result.stdout
    assert json.loads((out / "synth.json").read_text())["counts"]["unanswered"] == 6
