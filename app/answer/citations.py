"""Citation checking: numbers that point nowhere are removed, unsupported sentences flagged,
and (``attribute=True``) sentences the model left uncited get the source that supports them,
and a cited sentence whose own words are in another source, not the one it cites, is
re-pointed there.

A sentence is supported when enough of its content words (CJK: character bigrams) occur in
the sources it cites, or, failing that, when its embedding is close to theirs. Small models
often answer correctly from a source without writing its number; attribution adds the
number of the source holding most of the sentence's content words (at least
``min_overlap`` of them), the same test a cited sentence must pass, and reports which
numbers it added (``Checked.attributed``). A sentence's own words are those the question
does not already give ("… wrap the headers with extern "C" [1]" asked "What must I wrap
around the Python headers …": *extern*); when fewer than ``min_overlap`` of them are in the
cited sources and at least that share is in another source, the citation moves to the
source holding most of them (``Checked.repointed``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ragline.answer.types import Citation
from ragline.retrieval.embedders.e5 import E5_ID
from ragline.retrieval.embedders.sentence import MINILM_ID
from ragline.retrieval.prompting.focus import terms
from ragline.retrieval.prompting.packing import PackedSource
from ragline.retrieval.types import Hit

MARKER = re.compile(r"[\[【]\s*(\d+(?:\s*[,，、]\s*\d+)*)\s*[\]】]")
# Small models sometimes echo the fence tags that wrap sources, or the fence's bare nonce in
# brackets ("[2e52]"): they are never answer text (:func:`without_echo`).
FENCE_ECHO = re.compile(r"[\[<]/?source-[0-9a-f]{4,}[^\]>\n]*[\]>]")


def without_echo(text: str, nonce: str = "", repl: str = "") -> str:
    """``text`` with echoed fence tags, and the prompt's bare ``nonce`` in brackets, replaced
    by ``repl`` (other bracketed words, "[cafe]", are left alone)."""
    text = FENCE_ECHO.sub(repl, text)
    return text.replace(f"[{nonce}]", repl) if nonce else text


# A space left before punctuation (often by a removed marker: "text [9] ." → "text .") goes.
# CJK punctuation never starts a token, so the space before it always goes; ASCII punctuation
# only when it ends the word (whitespace, end of text, or a closing bracket or quote follows),
# so ".venv", ".bashrc" or ",foo" keep the space before them.
_SPACE_BEFORE_PUNCT = re.compile(r"[ \t]+([。，]|[.,;:]+(?=[\s)\]}\"'”’»」』】）]|$))")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|(?<=[。！？；])|\n+")


SUPPORT_SIMILARITY = {E5_ID: 0.88, MINILM_ID: 0.6}
"""Least cosine between a cited sentence and its sources (passage vectors) for the sentence
to count as supported when too few of its words are in them, per embedder of the
collection. e5-small puts unrelated texts close: a right answer's sentence and a source of
another question scored 0.81 (median) to 0.89 (most), so at MiniLM's 0.6 every sentence
passed; at 0.88 none on the tune half of the gold answers (docs/benchmarks.md, "Answer
quality")."""
DEFAULT_SUPPORT_SIMILARITY = 0.6


def support_similarity(model_id: str) -> float:
    """:data:`SUPPORT_SIMILARITY` for the embedder ``model_id`` (else the default)."""
    return SUPPORT_SIMILARITY.get(model_id, DEFAULT_SUPPORT_SIMILARITY)


@dataclass(frozen=True)
class Checked:
    text: str
    citations: list[Citation]
    removed: list[int]
    unsupported: list[str]
    attributed: list[int] = field(default_factory=list)
    """Source numbers ragline added to sentences the model left uncited."""
    repointed: list[int] = field(default_factory=list)
    """Source numbers ragline put in place of the model's (see :func:`_repoint`)."""


def check_citations(
    text: str,
    sources: Sequence[PackedSource],
    hits: Mapping[str, Hit],
    embed: Callable[[list[str]], np.ndarray] | None = None,
    min_overlap: float = 0.5,
    min_similarity: float = DEFAULT_SUPPORT_SIMILARITY,
    attribute: bool = False,
    question: str = "",
    nonce: str = "",
) -> Checked:
    by_number = {s.number: s for s in sources}
    removed: list[int] = []
    attributed: list[int] = []
    repointed: list[int] = []

    def keep_valid(match: re.Match[str]) -> str:
        numbers = _numbers_in(match)
        valid = [n for n in numbers if n in by_number]
        removed.extend(n for n in numbers if n not in by_number)
        return "[" + ", ".join(map(str, valid)) + "]" if valid else ""

    clean = MARKER.sub(keep_valid, without_echo(text, nonce))
    clean = _SPACE_BEFORE_PUNCT.sub(r"\1", clean).strip()
    if attribute and sources:
        held = _Held.of(sources)
        clean, attributed = _attribute(clean, held, min_overlap, question)
        clean, repointed = _repoint(clean, held, min_overlap, question)
    cited_numbers: list[int] = []
    unsupported: list[str] = []
    for sentence in (s.strip() for s in _SENTENCE.split(clean)):
        numbers = _marker_numbers(sentence)
        if not numbers:
            continue
        cited_numbers.extend(n for n in numbers if n not in cited_numbers)
        claim = MARKER.sub("", sentence)
        evidence = " ".join(by_number[n].text for n in numbers)
        if not _supported(claim, evidence, embed, min_overlap, min_similarity):
            unsupported.append(sentence)
    citations = [_citation(by_number[n], hits) for n in sorted(cited_numbers)]
    return Checked(clean, citations, sorted(set(removed)), unsupported, attributed, repointed)


def _numbers_in(marker: re.Match[str]) -> list[int]:
    """The source numbers one citation marker gives ("[1, 2]" → [1, 2])."""
    return [int(n) for n in re.split(r"\s*[,，、]\s*", marker.group(1))]


def _marker_numbers(text: str) -> list[int]:
    """The source numbers of every citation marker in ``text``, in order."""
    return [n for m in MARKER.finditer(text) for n in _numbers_in(m)]


_END = re.compile(r"([.!?。！？；:：]*)\s*$")


def _each_sentence(
    text: str, change: Callable[[str], tuple[str, int | None]]
) -> tuple[str, list[int]]:
    """``text`` with every sentence outside code blocks passed through ``change`` (which
    returns the new sentence and the source number it put in, or None), and those numbers."""
    out: list[str] = []
    numbers: list[int] = []
    for i, segment in enumerate(_CODE_BLOCK.split(text)):
        if i % 2:  # a fenced code block
            out.append(segment)
            continue
        for piece in _SPLIT.split(segment):
            new, number = change(piece)
            out.append(new)
            if number is not None:
                numbers.append(number)
    return "".join(out), sorted(set(numbers))


@dataclass(frozen=True)
class _Held:
    """What each source holds, computed once per answer: its content words and its
    casefolded text, by source number in rank order."""

    terms: list[tuple[int, set[str]]]
    texts: list[tuple[int, str]]

    @classmethod
    def of(cls, sources: Sequence[PackedSource]) -> _Held:
        return cls(
            [(s.number, terms(s.text)) for s in sources],
            [(s.number, s.text.casefold()) for s in sources],
        )


def _attribute(text: str, held: _Held, min_overlap: float, question: str) -> tuple[str, list[int]]:
    """Each sentence without a marker gets the number of the source that supports it
    (:func:`_supporting`), else of the source holding its code-like terms
    (:func:`_holding`). Code blocks are left as they are."""
    source_terms, source_texts = held.terms, held.texts

    def attribute(piece: str) -> tuple[str, int | None]:
        claim = terms(piece)
        if not piece.strip() or MARKER.search(piece) or not claim:
            return piece, None
        best = _supporting(claim, source_terms, min_overlap)
        if best is None:
            best = _holding(_code_terms(piece, question), source_texts)
        if best is None:
            return piece, None
        body = _END.sub("", piece)
        return f"{body} [{best}]{piece[len(body) :]}", best

    return _each_sentence(text, attribute)


def _repoint(text: str, held: _Held, min_overlap: float, question: str) -> tuple[str, list[int]]:
    """A cited sentence whose own words (its content words the question does not give) are
    under ``min_overlap`` in the sources it cites, and at least that share in another
    source, cites the source holding most of them instead (ties to the better-ranked).

    A cited source that holds a code-like name the sentence gives (:func:`_code_terms`)
    keeps the citation whatever the words: Chinese sentences share generic character pairs
    ("你可以通过", "以便重启后恢复") with many sources.

    Measured offline on the gold sets' tune half (docs/benchmarks.md, "Answer quality"): the
    1.5B model cited a neighbouring source for answers it had read from another one
    (`PyObject_CallMethod()` cited to the descriptor guide, the Extending FAQ entry holding it
    one source away)."""
    asked = terms(question)
    source_terms = held.terms
    holds, texts = dict(held.terms), dict(held.texts)

    def repoint(piece: str) -> tuple[str, int | None]:
        numbers = [n for n in _marker_numbers(piece) if n in holds]
        own = terms(MARKER.sub("", piece)) - asked
        if not numbers or not own:
            return piece, None
        names = [t.casefold() for t in _code_terms(piece, question)]
        if any(name in texts[n] for name in names for n in numbers):
            return piece, None  # a cited source gives the name the sentence gives
        cited = set().union(*(holds[n] for n in numbers))
        if len(own & cited) / len(own) >= min_overlap:
            return piece, None
        best = _supporting(own, source_terms, min_overlap)
        if best is None or best in numbers:
            return piece, None
        first = iter([f"[{best}]"])
        moved = MARKER.sub(lambda _m: next(first, ""), piece)
        return _SPACE_BEFORE_PUNCT.sub(r"\1", moved), best

    return _each_sentence(text, repoint)


def _supporting(
    claim: set[str], source_terms: Sequence[tuple[int, set[str]]], min_overlap: float
) -> int | None:
    """The number of the source holding most of ``claim`` (at least ``min_overlap`` of it;
    ties to the better-ranked); for a one-term claim (a bare path or command, say), the
    best-ranked source that holds it. (Only the one holder was cited before 2026-12-04: on
    the gold sets' tune half the best-ranked holder was a relevant document for 3 of the 4
    one-term answers left uncited that way; docs/benchmarks.md, "Answer quality".)"""
    if len(claim) == 1:
        holders = [n for n, have in source_terms if claim <= have]
        return min(holders) if holders else None
    best, share = max(
        ((n, len(claim & have) / len(claim)) for n, have in source_terms),
        key=lambda pair: (pair[1], -pair[0]),
    )
    return best if share >= min_overlap else None


_CODE_TERM = re.compile(
    r"`([^`\n]{3,})`|\"([^\"\n]{3,40})\"|“([^”\n]{3,40})”"
    r"|((?:[\w~-]+)?(?:[./_:][\w~-]+)+(?:\(\d\))?|\w[\w-]*\(\d\))"
)
"""A name a source can be checked for verbatim: text in backticks or quotes ("dialout"), a
path, file, module, dotted, underscored or numeric name (``/etc/fstab``, ``os.remove``,
``255.0.0.0``, ``GRUB_CMDLINE_LINUX_DEFAULT``), or a manual page (``gpm(8)``)."""


_ABBREVIATION = re.compile(r"(?i)^(?:e\.g|i\.e|etc|vs|cf)\.?$")


def _code_terms(sentence: str, question: str) -> list[str]:
    """The sentence's code-like terms (:data:`_CODE_TERM`) that the question does not
    already contain (the question's own names support nothing)."""
    asked = question.casefold()
    found = [next(g for g in m.groups() if g).strip() for m in _CODE_TERM.finditer(sentence)]
    return [
        t for t in found if len(t) >= 3 and t.casefold() not in asked and not _ABBREVIATION.match(t)
    ]


def _holding(names: Sequence[str], source_texts: Sequence[tuple[int, str]]) -> int | None:
    """The number of the source holding most of ``names`` verbatim (``source_texts``
    casefolded; ties to the better-ranked), or None when no source holds any. A sentence
    whose words are not the source's ("The .deb files are kept in …") is still supported by
    the one name it gives (``/var/cache/apt/archives``) when that name is in a source."""
    wanted = [n.casefold() for n in names]
    best, held = max(
        ((n, sum(w in text for w in wanted)) for n, text in source_texts),
        key=lambda pair: (pair[1], -pair[0]),
        default=(None, 0),
    )
    return best if held else None


_CODE_BLOCK = re.compile(r"(```.*?(?:```|$))", re.DOTALL)
_SPLIT = re.compile(r"((?<=[.!?])\s+|(?<=[。！？；])|\n+)")
"""Sentence boundaries, kept (captured) so the text is rebuilt exactly."""


def _supported(
    claim: str,
    evidence: str,
    embed: Callable[[list[str]], np.ndarray] | None,
    min_overlap: float,
    min_similarity: float,
) -> bool:
    claim_terms = terms(claim)
    if not claim_terms:
        return True
    overlap = len(claim_terms & terms(evidence)) / len(claim_terms)
    if overlap >= min_overlap:
        return True
    if embed is None:
        return False
    vectors = embed([claim, evidence])
    return float(np.dot(vectors[0], vectors[1])) >= min_similarity


def source_entry(source: PackedSource) -> dict[str, Any]:
    """A source as an answer lists it (cited or not): number, document, file, page, text."""
    return {
        "number": source.number,
        "doc_id": source.doc_id,
        "source": source.source,
        "file_name": Path(source.source).name,
        "page": source.page,
        "snippet": source.text,
    }


def _citation(source: PackedSource, hits: Mapping[str, Hit]) -> Citation:
    metas = [hits[c].metadata for c in source.chunk_ids if c in hits]
    starts = [int(m["start"]) for m in metas if "start" in m]
    ends = [int(m["end"]) for m in metas if "end" in m]
    return Citation(
        number=source.number,
        chunk_ids=source.chunk_ids,
        doc_id=source.doc_id,
        source=source.source,
        file_name=Path(source.source).name,
        page=source.page,
        start=min(starts) if starts else None,
        end=max(ends) if ends else None,
        snippet=source.text,
    )
