"""Guess a collection's language from its text, to pick the embedder that serves it."""

from __future__ import annotations

from collections.abc import Iterator

from ragline.ingest.elements import Element
from ragline.ingest.parsing import Parsed
from ragline.retrieval.keyword.tokenize import is_latin


def is_cjk(char: str) -> bool:
    code = ord(char)
    return (
        0x4E00 <= code <= 0x9FFF  # CJK unified ideographs
        or 0x3400 <= code <= 0x4DBF  # extension A
        or 0x3040 <= code <= 0x30FF  # hiragana, katakana
        or 0xAC00 <= code <= 0xD7AF  # hangul syllables
        or 0xF900 <= code <= 0xFAFF  # compatibility ideographs
        or 0x20000 <= code <= 0x2FA1F  # extensions B and later
    )


def detect_language(text: str, sample: int = 20000) -> str:
    """'zh' (any CJK-script text), 'en' (Latin letters), or 'multi' (other scripts).

    Counts letters only: a CJK document full of ASCII commands is still CJK when a fifth
    of its letters are CJK characters (each stands for a word, not a letter).
    """
    cjk = latin = other = 0
    for char in text[:sample]:
        if is_cjk(char):
            cjk += 1
        elif char.isalpha():
            if is_latin(char):
                latin += 1
            else:
                other += 1
    letters = cjk + latin + other
    if letters == 0:
        return "en"
    if cjk / letters >= 0.2:
        return "zh"
    if other / letters >= 0.2:
        return "multi"
    return "en"


# A new collection's language is judged on a sample of its first documents.
LANGUAGE_SAMPLE_DOCS = 16
LANGUAGE_SAMPLE_CHARS = 100_000


def sample_is_enough(sample: list[Parsed]) -> bool:
    parsed = [p for p in sample if p.error is None]
    return len(parsed) >= LANGUAGE_SAMPLE_DOCS or (
        sum(len(e.text) for p in parsed for e in _elements(p)) >= LANGUAGE_SAMPLE_CHARS
    )


def language_sample(sample: list[Parsed]) -> str:
    """Text of the sampled documents, in path order, each given an equal share."""
    parsed = sorted((p for p in sample if p.error is None), key=lambda p: str(p.path))
    share = LANGUAGE_SAMPLE_CHARS // max(1, len(parsed))
    return "\n".join("\n".join(e.text for e in _elements(p))[:share] for p in parsed)


def _elements(parsed: Parsed) -> Iterator[Element]:
    """A file's elements and those of the members it holds."""
    yield from parsed.elements
    for member in parsed.members:
        yield from member.elements
