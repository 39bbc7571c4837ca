"""Sources a small model can use: the sentences around what matched, not whole chunks.

A 200-token chunk holds the answer in a sentence or two; the rest costs prompt time (the
first token waits for all of it) and distracts a 0.5B model. :func:`focus` keeps the
sentences of a source most related to the question, the lines that follow the best of them,
and a short opening line (a title or an FAQ question), within a token budget, in document
order, with "…" where text was left out. How related a sentence is: its meaning's closeness
to the question's by the collection's embedder (:func:`by_meaning`; the prompt builder uses
it for the best-ranked source, ``prompts.focus_by_meaning``), or the content words it shares
with the question (:func:`shared_words`). On the tune half of the gold sets the gold answer
stayed in the prompt's sources for 97 of 109 questions with the best source by meaning, 96
with all, 91 with none, the sources as long (docs/benchmarks.md, "Answer quality").
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Sequence

import numpy as np

from ragline.retrieval.embedders.base import Embedder

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+")
_WORD = re.compile(r"[a-z0-9_]+(?:[.\-/][a-z0-9_]+)*")
# A sentence ends after . ! ? (+ closing quotes/brackets) before white space and a capital,
# digit, quote or code (so not inside "e.g. fine"), after CJK full
# stops, or at a line break (lists, headings and code lines stay whole lines).
_SPLIT = re.compile(r"(?<=[.!?])['\")\]]*\s+(?=[A-Z0-9`'\"(\[\u4e00-\u9fff])|(?<=[。！？；])|\n+")
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "by",
        "from",
        "at",
        "as",
        "is",
        "are",
        "be",
        "been",
        "was",
        "were",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "how",
        "do",
        "does",
        "did",
        "can",
        "could",
        "should",
        "would",
        "will",
        "i",
        "me",
        "my",
        "we",
        "you",
        "your",
        "what",
        "which",
        "why",
        "when",
        "where",
        "who",
        "there",
        "their",
        "not",
        "no",
        "yes",
        "if",
        "then",
        "than",
        "so",
        "such",
        "use",
        "using",
        "used",
        "get",
        "make",
    ]
)
GAP = " … "
OPENING_TOKENS = 24
"""An opening line this short (a title, an FAQ's question) is kept when it fits."""
FOLLOWING = 2
"""Sentences after the best-matching one that are kept first: the answer often follows the
line that names the question (a description, then its command). Tune half of the gold sets,
3 sources of 120 tokens: gold answer in the prompt's sources on debian-reference-en 69% → 78%,
python-faq 85% → 85%, debian-reference-zh 87% → 85% (docs/benchmarks.md, "Answer quality")."""

Count = Callable[[str], int]
Relevance = Callable[[str, Sequence[str]], Sequence[float]]
"""How related each of some sentences is to a question (higher: more)."""


@functools.cache
def _stemmer() -> Callable[[str], str]:
    import Stemmer

    stem: Callable[[str], str] = Stemmer.Stemmer("english").stemWord
    return stem


def terms(text: str) -> set[str]:
    """Content words (lower case, stemmed, no stop words) and CJK character bigrams."""
    lowered = unicodedata.normalize("NFKC", text).casefold()
    stem = _stemmer()
    found = {stem(w) for w in _WORD.findall(lowered) if w not in _STOP and len(w) > 1}
    for run in _CJK.findall(lowered):
        found.update(run[i : i + 2] for i in range(max(1, len(run) - 1)))
    return found


def sentences(text: str) -> list[str]:
    return [part for part, _ in _pieces(text)]


def _pieces(text: str) -> list[tuple[str, bool]]:
    """The sentences of ``text``, each with whether a line break came before it."""
    pieces: list[tuple[str, bool]] = []
    position, broken = 0, False
    for match in [*_SPLIT.finditer(text), None]:
        end = match.start() if match else len(text)
        part = text[position:end].strip()
        if part:
            pieces.append((part, broken))
            broken = False
        if match:
            broken = broken or "\n" in match.group()
            position = match.end()
    return pieces


def shared_words(question: str, parts: Sequence[str]) -> list[float]:
    """The number of content words each sentence shares with the question."""
    wanted = terms(question)
    return [float(len(terms(p) & wanted)) for p in parts]


def by_meaning(embedder: Embedder) -> Relevance:
    """Each sentence's cosine similarity, as a passage, to the question, as a query (one
    batch of sentences per source; the question's vector is reused)."""

    @functools.lru_cache(maxsize=64)
    def asked(question: str) -> np.ndarray:
        return embedder.embed_query(question)

    def relevance(question: str, parts: Sequence[str]) -> list[float]:
        vectors = embedder.embed_documents(list(parts))
        return [float(v) for v in vectors @ asked(question)]

    return relevance


def focus(
    text: str,
    question: str,
    max_tokens: int,
    count: Count,
    relevance: Relevance = shared_words,
) -> str:
    """The sentences of ``text`` most related to ``question``, within ``max_tokens``."""
    if count(text) <= max_tokens:
        return text
    pieces = _pieces(text)
    parts = [part for part, _ in pieces]
    if len(parts) <= 1:
        return _cut(text, max_tokens, count)
    scores = list(relevance(question, parts))
    best = max(range(len(parts)), key=lambda i: (scores[i], -i))
    chosen = {best}
    used = count(parts[best])
    if used > max_tokens:
        return _cut(parts[best], max_tokens, count)
    # then the lines right after the best one (a command, a value or a code line that
    # answers the line naming the question), then the others, most related first (ties:
    # nearest first), while they fit
    order = sorted(
        (i for i in range(len(parts)) if i != best),
        key=lambda i: (not 0 < i - best <= FOLLOWING, -scores[i], abs(i - best), i),
    )
    if best != 0 and count(parts[0]) <= OPENING_TOKENS:
        order.remove(0)
        order.insert(0, 0)  # a short opening line says what the text is about
    for i in order:
        cost = count(parts[i]) + 1
        if used + cost > max_tokens:
            continue
        chosen.add(i)
        used += cost
    out: list[tuple[str, bool]] = []
    for i in sorted(chosen):
        if out and i - 1 not in chosen:
            out.append((GAP.strip(), False))
        out.append(pieces[i])
    return _join(out)


def _join(parts: list[tuple[str, bool]]) -> str:
    """Sentences back into text: a line break where the source had one (list items and
    code lines stay on their own lines), otherwise a space, or nothing between CJK text."""
    text = ""
    for part, on_new_line in parts:
        if not text:
            text = part
        elif on_new_line:
            text += "\n" + part
        elif _CJK.match(part) or _CJK.search(text[-1:]):
            text += part
        else:
            text += " " + part
    return text


def _cut(text: str, max_tokens: int, count: Count) -> str:
    """The longest word-boundary prefix within ``max_tokens`` (for one overlong sentence)."""
    words = text.split(" ")
    lo, hi = 1, len(words)
    best = words[0][: max(1, max_tokens)]
    while lo <= hi:
        mid = (lo + hi) // 2
        candidate = " ".join(words[:mid]) + "…"
        if count(candidate) <= max_tokens:
            best, lo = candidate, mid + 1
        else:
            hi = mid - 1
    return best
