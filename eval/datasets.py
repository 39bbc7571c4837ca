"""Labelled datasets: BEIR directories and ragline's own QA format, loaded into one value.

BEIR (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``; graded relevance)::

    corpus.jsonl    {"_id": "d1", "title": "…", "text": "…"}
    queries.jsonl   {"_id": "q1", "text": "…"}
    qrels/test.tsv  query-id <TAB> corpus-id <TAB> score      (header line optional;
                    TREC "qid 0 docid score" lines are accepted too)

QA (``corpus.jsonl`` as above plus ``qa.jsonl``)::

    {"id": "q1", "question": "…", "answers": ["…"], "sources": ["d1"], "answerable": true}

``sources`` may also map document ids to grades (``{"d1": 2, "d7": 1}``); ``answer`` (one
string) is accepted for ``answers``; ``answerable`` defaults to "has sources". Unanswerable
questions are kept for answer-level metrics ("not found" rate) but have no qrels.

Only queries with at least one relevant (grade > 0) document are scored for retrieval.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ragline.retrieval.errors import UsageError

Qrels = Mapping[str, Mapping[str, int]]
"""query id → {document id → grade}; grade > 0 is relevant."""

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,150}$")


@dataclass(frozen=True)
class CorpusDoc:
    id: str
    title: str
    text: str


@dataclass(frozen=True)
class Dataset:
    name: str
    path: Path
    format: Literal["beir", "qa"]
    split: str
    hash: str
    """SHA-256 of the files that were read (names and bytes)."""
    corpus: Mapping[str, CorpusDoc]
    queries: Mapping[str, str]
    """Scored queries (id → text): those with a relevant document."""
    qrels: Qrels
    answers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    patterns: Mapping[str, str] = field(default_factory=dict)
    """QA: a regex a correct answer matches, where the set gives one (id → pattern)."""
    unanswerable: Mapping[str, str] = field(default_factory=dict)
    """QA questions that have no answer in the corpus (id → text)."""
    skipped: Mapping[str, int] = field(default_factory=dict)
    """Counts of what was left out: queries without judgments, judged ids missing, …"""

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "format": self.format,
            "split": self.split,
            "hash": self.hash,
            "documents": len(self.corpus),
            "queries": len(self.queries),
            "judgments": sum(len(v) for v in self.qrels.values()),
            "graded": any(g > 1 for v in self.qrels.values() for g in v.values()),
            "unanswerable": len(self.unanswerable),
            "skipped": dict(self.skipped),
        }


# -- loading ---------------------------------------------------------------------------------
def load_dataset(path: Path, split: str = "test") -> Dataset:
    """Load a BEIR or QA directory (QA when ``qa.jsonl`` is present)."""
    path = Path(path)
    if not path.is_dir():
        raise UsageError(f"dataset {str(path)!r} is not a directory")
    if not (path / "corpus.jsonl").is_file():
        raise UsageError(f"dataset {str(path)!r} has no corpus.jsonl")
    if (path / "qa.jsonl").is_file():
        return load_qa(path)
    return load_beir(path, split)


def load_beir(path: Path, split: str = "test") -> Dataset:
    qrels_file = _qrels_file(path, split)
    files = [path / "corpus.jsonl", path / "queries.jsonl", qrels_file]
    if not files[1].is_file():
        raise UsageError(f"dataset {str(path)!r} has neither queries.jsonl nor qa.jsonl")
    corpus = load_corpus(path / "corpus.jsonl")
    texts = {str(q["_id"]): str(q.get("text", "")) for q in _jsonl(files[1])}
    judged = read_qrels(qrels_file)
    qrels = {q: d for q, d in judged.items() if any(g > 0 for g in d.values())}
    missing = [q for q in qrels if q not in texts]
    queries = {q: texts[q] for q in qrels if q in texts}
    qrels = {q: qrels[q] for q in queries}
    skipped = {
        "queries_without_relevant": len(judged) - len(qrels) - len(missing),
        "judged_queries_missing_text": len(missing),
        "relevant_ids_not_in_corpus": _missing_docs(qrels, corpus),
    }
    return Dataset(
        name=path.resolve().name,
        path=path,
        format="beir",
        split=qrels_file.stem,
        hash=hash_files(files),
        corpus=corpus,
        queries=queries,
        qrels=qrels,
        skipped={k: v for k, v in skipped.items() if v},
    )


def load_qa(path: Path) -> Dataset:
    files = [path / "corpus.jsonl", path / "qa.jsonl"]
    corpus = load_corpus(files[0])
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    answers: dict[str, tuple[str, ...]] = {}
    patterns: dict[str, str] = {}
    unanswerable: dict[str, str] = {}
    for n, item in enumerate(_jsonl(files[1]), 1):
        qid = str(item.get("id", item.get("_id", "")))
        question = item.get("question")
        if not qid or not isinstance(question, str) or not question.strip():
            raise UsageError(f"{files[1]} line {n}: needs a non-empty 'id' and 'question'")
        if qid in answers or qid in unanswerable:
            raise UsageError(f"{files[1]} line {n}: duplicate id {qid!r}")
        raw = item.get("answers", item.get("answer", []))
        answers[qid] = (raw,) if isinstance(raw, str) else tuple(str(a) for a in raw)
        pattern = item.get("pattern")
        if pattern:
            try:
                re.compile(str(pattern))
            except re.error as exc:
                raise UsageError(f"{files[1]} line {n}: bad pattern: {exc}") from None
            patterns[qid] = str(pattern)
        grades = _sources(item.get("sources", []), files[1], n)
        answerable = bool(item.get("answerable", any(g > 0 for g in grades.values())))
        if not answerable:
            unanswerable[qid] = question
        elif any(g > 0 for g in grades.values()):
            queries[qid] = question
            qrels[qid] = grades
    return Dataset(
        name=path.resolve().name,
        path=path,
        format="qa",
        split="qa",
        hash=hash_files(files),
        corpus=corpus,
        queries=queries,
        qrels=qrels,
        answers=answers,
        patterns=patterns,
        unanswerable=unanswerable,
        skipped={
            k: v
            for k, v in {"relevant_ids_not_in_corpus": _missing_docs(qrels, corpus)}.items()
            if v
        },
    )


def load_corpus(path: Path) -> dict[str, CorpusDoc]:
    corpus: dict[str, CorpusDoc] = {}
    for n, doc in enumerate(_jsonl(path), 1):
        if "_id" not in doc or "text" not in doc:
            raise UsageError(f"{path} line {n}: a document needs '_id' and 'text'")
        did = str(doc["_id"])
        corpus[did] = CorpusDoc(did, str(doc.get("title") or ""), str(doc["text"]))
    if not corpus:
        raise UsageError(f"{path} holds no documents")
    return corpus


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """query → {doc → grade} from a BEIR (tab, 3 columns) or TREC (4 columns) qrels file."""
    qrels: dict[str, dict[str, int]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split("\t") if "\t" in line else line.split()
        if not line.strip():
            continue
        if len(parts) == 4:
            parts = [parts[0], parts[2], parts[3]]
        if len(parts) != 3:
            raise UsageError(f"{path} line {n}: expected query-id, corpus-id, score")
        try:
            grade = int(float(parts[2]))
        except ValueError:
            if n == 1:
                continue  # the header line
            raise UsageError(f"{path} line {n}: score {parts[2]!r} is not a number") from None
        qrels.setdefault(parts[0].strip(), {})[parts[1].strip()] = grade
    return qrels


def _qrels_file(path: Path, split: str) -> Path:
    folder = path / "qrels"
    wanted = folder / f"{split}.tsv"
    if wanted.is_file():
        return wanted
    found = sorted(folder.glob("*.tsv")) if folder.is_dir() else []
    if len(found) == 1:
        return found[0]
    if not found:
        raise UsageError(f"dataset {str(path)!r} has no qrels/*.tsv")
    names = ", ".join(p.stem for p in found)
    raise UsageError(f"dataset {str(path)!r} has no qrels/{split}.tsv; splits: {names}")


def _sources(raw: Any, path: Path, line: int) -> dict[str, int]:
    if isinstance(raw, str):
        return {raw: 1}
    if isinstance(raw, list):
        return {str(d): 1 for d in raw}
    if isinstance(raw, dict):
        return {str(d): int(g) for d, g in raw.items()}
    raise UsageError(f"{path} line {line}: 'sources' must be a list of ids or an id → grade map")


def _missing_docs(qrels: Qrels, corpus: Mapping[str, CorpusDoc]) -> int:
    return len({d for v in qrels.values() for d, g in v.items() if g > 0 and d not in corpus})


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UsageError(f"{path} line {n}: invalid JSON ({exc.msg})") from None
            if not isinstance(value, dict):
                raise UsageError(f"{path} line {n}: expected a JSON object")
            yield value


def hash_files(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() + b"\0")
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        h.update(b"\0")
    return h.hexdigest()


# -- corpus as files (what the ingestion pipeline reads) --------------------------------------
def file_stem(doc_id: str) -> str:
    """The file name (without ``.txt``) a corpus document is written to."""
    if _SAFE_ID.match(doc_id):
        return doc_id
    return "h-" + hashlib.sha1(doc_id.encode()).hexdigest()


def corpus_id(file_name: str, stems: Mapping[str, str]) -> str:
    """The corpus document id behind a file of the materialised corpus (path or name)."""
    stem = Path(file_name).name.removesuffix(".txt")
    return stems.get(stem, stem)


def materialise(corpus: Mapping[str, CorpusDoc], out: Path) -> dict[str, str]:
    """Write each document as ``<stem>.txt`` (title, blank line, text), skipping files that
    already hold the same text; returns stem → document id (hits map back through it)."""
    out.mkdir(parents=True, exist_ok=True)
    stems: dict[str, str] = {}
    for doc in corpus.values():
        stem = file_stem(doc.id)
        stems[stem] = doc.id
        target = out / f"{stem}.txt"
        text = f"{doc.title}\n\n{doc.text}\n"
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
    return stems


# -- writing (synthetic sets, fixtures) ------------------------------------------------------
def write_beir(
    out: Path,
    corpus: Mapping[str, CorpusDoc],
    queries: Mapping[str, str],
    qrels: Qrels,
    query_meta: Mapping[str, Mapping[str, Any]] | None = None,
    split: str = "test",
) -> None:
    """Write a BEIR directory (``query_meta`` goes into each query's ``metadata``)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "qrels").mkdir(exist_ok=True)
    with (out / "corpus.jsonl").open("w", encoding="utf-8") as fh:
        for doc in corpus.values():
            row = {"_id": doc.id, "title": doc.title, "text": doc.text}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    with (out / "queries.jsonl").open("w", encoding="utf-8") as fh:
        for qid, text in queries.items():
            q: dict[str, Any] = {"_id": qid, "text": text}
            if query_meta and qid in query_meta:
                q["metadata"] = dict(query_meta[qid])
            fh.write(json.dumps(q, ensure_ascii=False) + "\n")
    with (out / "qrels" / f"{split}.tsv").open("w", encoding="utf-8") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        for qid, docs in qrels.items():
            for did, grade in docs.items():
                fh.write(f"{qid}\t{did}\t{grade}\n")
