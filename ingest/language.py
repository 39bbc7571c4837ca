"""Guess a collection's language from its text, to pick the embedder that serves it."""

from __future__ import annotations

import unicodedata


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
            if char.isascii() or unicodedata.name(char, "").startswith("LATIN"):
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
