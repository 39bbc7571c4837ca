"""The output guard: a model's answer that is empty, only citation markers, a copy of a
few-shot example or a copy of the prompt is never returned as is.

Small local models fail in a few recognisable ways: they emit "[1] [2]", repeat an example
they were shown, or echo the instructions. :func:`problem` names the failure;
:func:`extractive_answer` builds the replacement (the sentences of the sources that share
the most words with the question, quoted, with their citations); :class:`StreamGuard` holds
a streamed answer back until it can no longer turn out to be one of these, so a stream never
shows them either.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from ragline.answer.citations import MARKER, without_echo
from ragline.retrieval.prompting.focus import sentences, terms
from ragline.retrieval.prompting.packing import PackedSource

Problem = Literal["empty", "citations_only", "example_copy", "prompt_copy"]

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_WORD = re.compile(r"[\w.\-/]+|" + _CJK.pattern)
COPY_WORDS = 6
"""A run of this many words shared with an example or the instructions counts as a copy."""
COPY_CJK_CHARS = 10
"""The same for CJK text, in characters."""
HOLD_WORDS = 8
"""StreamGuard: at most this many words are held back before the first delta is released."""
RELEASE_WORDS = 2
"""StreamGuard: text is released early once it has this many words and is not the start of an
example or of the instructions (so it cannot be turning into a copy of one)."""


def words(text: str) -> list[str]:
    """Lower-cased words and single CJK characters, citation markers dropped."""
    plain = unicodedata.normalize("NFKC", MARKER.sub(" ", text)).casefold()
    return _WORD.findall(plain)


def _grams(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def copies(text: str, references: Iterable[str]) -> bool:
    """Whether ``text`` repeats a run of :data:`COPY_WORDS` words (CJK: characters) of any
    reference, or is (most of) one reference."""
    mine = words(text)
    if not mine:
        return False
    cjk = sum(1 for w in mine if _CJK.fullmatch(w)) > len(mine) / 2
    n = COPY_CJK_CHARS if cjk else COPY_WORDS
    grams = _grams(mine, n)
    for reference in references:
        theirs = words(reference)
        if not theirs:
            continue
        if len(mine) < n and " ".join(mine) == " ".join(theirs):
            return True
        if grams & _grams(theirs, n):
            return True
    return False


def problem(
    text: str,
    *,
    examples: Sequence[str] = (),
    instructions: Sequence[str] = (),
    nonce: str = "",
) -> Problem | None:
    """What is wrong with a model's answer, or None. ``examples``: the few-shot example
    texts it was shown; ``instructions``: the prompt's own text besides the sources;
    ``nonce``: the sources' fence nonce (an echoed "[7d80]" is no answer either)."""
    if not text.strip():
        return "empty"
    if not any(ch.isalnum() for ch in MARKER.sub(" ", without_echo(text, nonce, " "))):
        return "citations_only" if MARKER.search(text) else "empty"
    if examples and copies(text, examples):
        return "example_copy"
    if instructions and copies(text, instructions):
        return "prompt_copy"
    return None


_NOT_FOUND = re.compile(
    r"\b(?:(?:do|does|did)(?:n[’']t| not)|cannot|can[’']t|could not|couldn[’']t|unable to)\s+"
    r"(?:\w+\s+){0,2}(?:contain|mention|say|provide|include|answer|find|specify|describe|cover)"
    r"|\bnot (?:found|mentioned|provided|specified|covered|available) in\b"
    r"|\bno (?:information|mention|answer)\b"
    r"|(?:没有|未|并未|并没有)(?:找到|提到|提及|提供|涉及|相关|包含|说明)|不包含|无法(?:回答|找到)",
    re.IGNORECASE,
)
NOT_FOUND_MAX_WORDS = 30
"""A "not found" reply is short: a longer answer that says so in passing still answers."""


def says_not_found(text: str) -> bool:
    """Whether the answer, as a whole, says the documents do not answer the question."""
    return len(words(text)) <= NOT_FOUND_MAX_WORDS and _NOT_FOUND.search(text) is not None


RANK_DECAY = 0.1
"""Each step down the source ranking weighs a sentence's shared words 10% less (tuned on the
tune half of the gold sets: docs/benchmarks.md, "Answer quality")."""


@dataclass(frozen=True)
class Extract:
    text: str
    """The quoted sentences with their citation markers, e.g. '"…" [1]'."""
    sources: tuple[int, ...]
    """The numbers of the quoted sources, in order."""


def _scored(
    question: str, sources: Sequence[PackedSource]
) -> list[tuple[float, int, int, str, int]]:
    """Every sentence of the sources as (-weighted shared words, rank, position, sentence,
    source number): sorted, the best comes first."""
    wanted = terms(question)
    scored: list[tuple[float, int, int, str, int]] = []
    for rank, source in enumerate(sources):
        weight = max(0.0, 1.0 - RANK_DECAY * rank)
        unique = dict.fromkeys(s for s in sentences(source.text) if any(ch.isalnum() for ch in s))
        for position, sentence in enumerate(unique):
            shared = len(terms(sentence) & wanted) * weight
            scored.append((-shared, rank, position, sentence, source.number))
    return sorted(scored)


def support(question: str, sources: Sequence[PackedSource]) -> tuple[int, int]:
    """(the most content words one source shares with the question, the question's content
    words): whether any source speaks of what the question asks about."""
    wanted = terms(question)
    best = max((len(terms(source.text) & wanted) for source in sources), default=0)
    return best, len(wanted)


def extractive_answer(
    question: str,
    sources: Sequence[PackedSource],
    language: str = "en",
    max_chars: int = 400,
    count: int = 2,
) -> Extract | None:
    """The ``count`` sentences of the sources that share the most content words with the
    question (a lower-ranked source's weigh less: :data:`RANK_DECAY`), in source and document
    order, up to ``max_chars``, quoted, each source's with its citation; None without text."""
    scored = _scored(question, sources)
    if not scored:
        return None
    chosen = sorted(scored[:count], key=lambda c: (c[1], c[2]))
    while len(chosen) > 1 and sum(len(c[3]) + 1 for c in chosen) > max_chars:
        chosen.pop()
    quotes: dict[int, list[str]] = {}
    for *_, sentence, number in chosen:
        quotes.setdefault(number, []).append(sentence)
    left, right, gap = ("「", "」", "") if language == "zh" else ("“", "” ", " ")
    parts = []
    for number, picked in quotes.items():
        quote = " ".join(picked)
        if len(quote) > max_chars:
            quote = quote[: max_chars - 1].rstrip() + "…"
        parts.append(f"{left}{quote}{right}[{number}]")
    return Extract(gap.join(parts), tuple(quotes))


class StreamGuard:
    """Holds a streamed answer back until :data:`HOLD_WORDS` words are in (or it ends),
    then releases it if :func:`problem` finds nothing wrong, and passes the rest through.
    ``feed`` returns the text to emit now; ``blocked`` says the held text was refused (the
    caller then sends the extractive answer instead)."""

    def __init__(
        self, examples: Sequence[str] = (), instructions: Sequence[str] = (), nonce: str = ""
    ) -> None:
        self.examples = examples
        self.instructions = instructions
        self.nonce = nonce
        # where a copy could begin: every line and sentence of the examples and instructions
        self._starts = [
            words(s) for text in (*examples, *instructions) for s in sentences(text) if s.strip()
        ]
        self.held: list[str] = []
        self.released = False
        self.blocked: Problem | None = None

    def feed(self, piece: str) -> str:
        if self.released:
            return piece
        if self.blocked is not None:
            return ""
        self.held.append(piece)
        text = "".join(self.held)
        if len(words(text)) >= HOLD_WORDS:
            return self._decide(text)
        settled = words(text[: max(text.rfind(" "), 0)])  # the last word may be unfinished
        if len(settled) >= RELEASE_WORDS and not any(
            start[: len(settled)] == settled for start in self._starts
        ):
            return self._decide(text)
        return ""

    def finish(self) -> str:
        """At the end of the stream: whatever is still held, if it may be shown."""
        if self.released or self.blocked is not None:
            return ""
        return self._decide("".join(self.held))

    def _decide(self, text: str) -> str:
        self.blocked = problem(
            text, examples=self.examples, instructions=self.instructions, nonce=self.nonce
        )
        if self.blocked is not None:
            return ""
        self.released = True
        return text
