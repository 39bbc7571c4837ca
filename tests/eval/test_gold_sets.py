"""Gold-answer question sets: well-formed, and every gold answer is written from its source.

Checked sets:

- ``bench/data/qa/<name>/`` for the three BEIR corpora in ``../shared/eval-data`` (python-faq,
  debian-reference-en, debian-reference-zh). ``corpus.jsonl`` there is a relative symlink to the
  shared corpus; these tests skip when it does not resolve (no ``../shared/eval-data``).
- ``tests/data/gold/``: the small committed corpus (``docs/*.md``) of the real-model gate,
  always present.

The gold-match rule (kept identical to the library's answer scorer): an answer is correct when,
after :func:`normalise` (NFKC, casefold, straight/curly quotes and backticks removed, whitespace
collapsed), it contains any accepted string (normalised the same way), or when ``pattern`` (a
Python regex, case-insensitive ``re.search``) matches the normalised answer. The tests apply the
same rule to the *source documents*: every accepted string occurs in (or the pattern matches) the
normalised title + text of at least one of the question's sources, so the gold is taken from the
documents' own text.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ragline.eval import answer_metrics
from ragline.eval.answer_metrics import gold_normalise

ROOT = Path(__file__).resolve().parents[2]
QA_DIR = ROOT / "bench" / "data" / "qa"
GOLD_DIR = ROOT / "tests" / "data" / "gold"
BENCH_SETS = ("python-faq", "debian-reference-en", "debian-reference-zh")
MIN_ANSWERABLE, MIN_UNANSWERABLE = 60, 15
GOLD_MIN_PER_LANGUAGE, GOLD_UNANSWERABLE_PER_LANGUAGE = 8, 2

_QUOTES = str.maketrans("", "", "'\"\u2018\u2019\u201c\u201d`")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def normalise(text: str) -> str:
    """The library's gold normalisation (the answer scorer's own)."""
    return gold_normalise(text)


def gold_match(answer: str, accepted: Sequence[str], pattern: str | None = None) -> bool:
    """The library's gold-match rule, as the answer metrics apply it."""
    return bool(answer_metrics.gold_match(answer, accepted, pattern))


@dataclass(frozen=True)
class Item:
    id: str
    question: str
    answers: tuple[str, ...]
    pattern: str | None
    sources: tuple[str, ...]
    answerable: bool
    line: int


def load_items(path: Path) -> list[Item]:
    """Parse ``qa.jsonl`` strictly: one JSON object per non-empty line, typed fields."""
    items: list[Item] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        raw: Any = json.loads(line)
        assert isinstance(raw, dict), f"{path.name}:{n}: not a JSON object"
        answers: Any = raw.get("answers", [])
        sources: Any = raw.get("sources", [])
        pattern: Any = raw.get("pattern")
        assert isinstance(raw.get("id"), str) and raw["id"], f"{path.name}:{n}: id"
        assert isinstance(raw.get("question"), str) and raw["question"].strip(), f"line {n}"
        assert isinstance(answers, list) and all(isinstance(a, str) for a in answers), n
        assert isinstance(sources, list) and all(isinstance(s, str) for s in sources), n
        assert pattern is None or isinstance(pattern, str), f"{path.name}:{n}: pattern"
        assert isinstance(raw.get("answerable"), bool), f"{path.name}:{n}: answerable"
        items.append(
            Item(
                id=raw["id"],
                question=raw["question"],
                answers=tuple(answers),
                pattern=pattern or None,
                sources=tuple(sources),
                answerable=raw["answerable"],
                line=n,
            )
        )
    return items


@functools.cache
def bench_corpus(name: str) -> Mapping[str, str]:
    """Corpus id -> normalised title + text, read through the set's corpus symlink."""
    docs: dict[str, str] = {}
    with (QA_DIR / name / "corpus.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                doc: Any = json.loads(line)
                docs[str(doc["_id"])] = normalise(f"{doc.get('title') or ''}\n{doc['text']}")
    return docs


@functools.cache
def gold_corpus() -> Mapping[str, str]:
    """File name -> normalised text of ``tests/data/gold/docs``."""
    files = sorted((GOLD_DIR / "docs").iterdir())
    return {p.name: normalise(p.read_text(encoding="utf-8")) for p in files if p.is_file()}


def is_chinese(text: str) -> bool:
    return _CJK.search(text) is not None


def check_items(items: Sequence[Item], corpus: Mapping[str, str]) -> list[str]:
    """Everything the two kinds of set share; returns the problems found."""
    problems: list[str] = []
    ids = [i.id for i in items]
    problems += [f"duplicate id {d}" for d in sorted({d for d in ids if ids.count(d) > 1})]
    for item in items:
        where = f"{item.id} (line {item.line})"
        words = len(item.question) if is_chinese(item.question) else len(item.question.split())
        if words > (40 if is_chinese(item.question) else 20):
            problems.append(f"{where}: question too long")
        if not item.answerable:
            if item.sources or item.answers or item.pattern:
                problems.append(f"{where}: unanswerable but has sources/answers/pattern")
            question = normalise(item.question)
            problems += [
                f"{where}: question found verbatim in {doc}"
                for doc, text in corpus.items()
                if question in text
            ]
            continue
        if not item.sources:
            problems.append(f"{where}: answerable without sources")
        if not any(a.strip() for a in item.answers) and not item.pattern:
            problems.append(f"{where}: no accepted string and no pattern")
        missing = [s for s in item.sources if s not in corpus]
        problems += [f"{where}: source {s} not in the corpus" for s in missing]
        texts = [corpus[s] for s in item.sources if s in corpus]
        if not texts:
            continue
        matches_pattern = False
        if item.pattern:
            try:
                compiled = re.compile(item.pattern, re.IGNORECASE)
            except re.error as exc:
                problems.append(f"{where}: pattern does not compile ({exc})")
            else:
                matches_pattern = any(compiled.search(t) for t in texts)
                if not matches_pattern:
                    problems.append(f"{where}: pattern matches none of its sources")
        for answer in item.answers:
            if not answer.strip():
                problems.append(f"{where}: empty accepted string")
            elif not matches_pattern and not any(normalise(answer) in t for t in texts):
                problems.append(f"{where}: {answer!r} not in its sources")
    return problems


# -- the gold-match rule ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("answer", "accepted", "pattern", "expected"),
    [
        ("Use `shutil.copyfile(src, dst)`.", ["shutil.copyfile"], None, True),
        ("USE  SHUTIL.COPYFILE", ["shutil.copyfile"], None, True),
        ("Use ‘filemode=”w”’ in basicConfig", ["filemode='w'"], None, True),
        ("Ｕｓｅ　ｐｄｂ", ["pdb"], None, True),
        ("It is not in the documents.", ["shutil.copyfile"], None, False),
        ("apt-get dist-upgrade", [], r"apt(-get)? (full|dist)-upgrade", True),
        ("使用 apt purge foo 命令", ["purge"], None, True),
        ("anything", [""], None, False),
    ],
)
def test_gold_match_rule(
    answer: str, accepted: list[str], pattern: str | None, expected: bool
) -> None:
    assert gold_match(answer, accepted, pattern) is expected


# -- bench/data/qa/<name> ----------------------------------------------------------------------
def _bench(name: str) -> tuple[list[Item], Mapping[str, str]]:
    link = QA_DIR / name / "corpus.jsonl"
    if not link.is_file():
        pytest.skip(f"{link} does not resolve (no ../shared/eval-data/{name})")
    return load_items(QA_DIR / name / "qa.jsonl"), bench_corpus(name)


@pytest.mark.evaldata
@pytest.mark.parametrize("name", BENCH_SETS)
def test_bench_set_layout(name: str) -> None:
    folder = QA_DIR / name
    link = folder / "corpus.jsonl"
    assert (folder / "qa.jsonl").is_file() and (folder / "README.md").is_file()
    assert link.is_symlink(), "corpus.jsonl must be a symlink to the shared corpus"
    target = link.readlink()
    assert not target.is_absolute() and target.as_posix().endswith(f"eval-data/{name}/corpus.jsonl")


@pytest.mark.evaldata
@pytest.mark.parametrize("name", BENCH_SETS)
def test_bench_set_counts(name: str) -> None:
    items, _ = _bench(name)
    answerable = [i for i in items if i.answerable]
    assert len(answerable) >= MIN_ANSWERABLE
    assert len(items) - len(answerable) >= MIN_UNANSWERABLE


@pytest.mark.evaldata
@pytest.mark.parametrize("name", BENCH_SETS)
def test_bench_gold_is_in_the_sources(name: str) -> None:
    items, corpus = _bench(name)
    assert check_items(items, corpus) == []


@pytest.mark.evaldata
@pytest.mark.parametrize("name", BENCH_SETS)
def test_bench_questions_are_in_the_set_language(name: str) -> None:
    items, _ = _bench(name)
    chinese = [i.id for i in items if is_chinese(i.question)]
    if name.endswith("-zh"):
        assert len(chinese) == len(items)
    else:
        assert chinese == []


@pytest.mark.evaldata
@pytest.mark.parametrize("name", BENCH_SETS)
def test_bench_sources_spread_over_the_corpus(name: str) -> None:
    """Answerable questions cite many different documents, not the first few only."""
    items, corpus = _bench(name)
    order = {doc: n for n, doc in enumerate(corpus)}
    cited = {s for i in items if i.answerable for s in i.sources}
    assert len(cited) >= MIN_ANSWERABLE * 3 // 4
    positions = sorted(order[s] for s in cited)
    assert positions[len(positions) // 2] > len(order) // 10


# -- tests/data/gold ---------------------------------------------------------------------------
def test_gold_docs() -> None:
    docs = sorted((GOLD_DIR / "docs").iterdir())
    assert 6 <= len(docs) <= 10
    assert sum(p.stat().st_size for p in docs) < 20_000
    texts = {p.name: p.read_text(encoding="utf-8") for p in docs}
    for name, text in texts.items():
        assert name.endswith((".md", ".txt")), name
        assert 300 <= len(text) <= 1500, (name, len(text))
        first = text.splitlines()[0]
        assert "adapted from" in first or "改编自" in first, name
        assert any(line.startswith("# ") for line in text.splitlines()), name
    assert sum(not is_chinese(t) for t in texts.values()) >= 3
    assert sum(is_chinese(t) for t in texts.values()) >= 3


def test_gold_qa() -> None:
    items = load_items(GOLD_DIR / "qa.jsonl")
    assert check_items(items, gold_corpus()) == []
    for language in (True, False):
        same = [i for i in items if is_chinese(i.question) is language]
        assert sum(i.answerable for i in same) >= GOLD_MIN_PER_LANGUAGE
        assert sum(not i.answerable for i in same) >= GOLD_UNANSWERABLE_PER_LANGUAGE
    for item in items:
        if item.answerable:
            doc = gold_corpus()[item.sources[0]]
            assert is_chinese(doc) is is_chinese(item.question), item.id
    assert (GOLD_DIR / "README.md").is_file()
