"""Text cleaning applied to every element a loader returns, before chunking.

Invisible characters are removed: they carry no meaning for search or answers, and they are
how text is smuggled past a reader (zero-width characters spelling hidden messages, Unicode
"tag" characters holding an invisible copy of an instruction, bidi overrides that make a line
display differently from what it says). Removed are every *format* character (Unicode category
Cf: zero-width space, non-joiner and joiner, word joiner, byte-order mark, soft hyphen, the
bidi embeddings, overrides, isolates and marks, the tag characters U+E0000–U+E007F, invisible
math operators, interlinear annotation marks) and the variation selectors (U+FE00–U+FE0F and
U+E0100–U+E01EF), which can also encode arbitrary bytes. Joiners only shape emoji and some
scripts' ligatures, so removing them changes how text would be drawn, not what it says.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata

from ragline.ingest.elements import Element


@functools.cache
def invisible_pattern() -> re.Pattern[str]:
    """One character class of every code point removed (built once per process)."""
    ranges: list[tuple[int, int]] = []
    start = previous = -2
    for code in range(sys.maxunicode + 1):
        if unicodedata.category(chr(code)) == "Cf" or _is_variation_selector(code):
            if code != previous + 1:
                if start >= 0:
                    ranges.append((start, previous))
                start = code
            previous = code
    ranges.append((start, previous))
    body = "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
        for a, b in ranges
    )
    return re.compile(f"[{body}]+")


def _is_variation_selector(code: int) -> bool:
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF


# Tesseract's Chinese and Japanese models put a space between characters; CJK text has none.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f"
_SPACE_IN_CJK = re.compile(f"(?<=[{_CJK}])[ \\t]+(?=[{_CJK}])")


def strip_invisible(text: str) -> str:
    """``text`` without format characters and variation selectors."""
    return invisible_pattern().sub("", text)


def join_cjk(text: str) -> str:
    """Remove the spaces OCR puts between CJK characters (``新 鲜 甘 草`` → ``新鲜甘草``)."""
    return _SPACE_IN_CJK.sub("", text)


def clean_element(element: Element) -> Element:
    """The element with invisible characters removed from its text and heading path."""
    text = strip_invisible(element.text)
    heading = tuple(strip_invisible(title) for title in element.heading)
    if text == element.text and heading == element.heading:
        return element
    return Element(text, element.type, element.page, heading, element.ocr)
