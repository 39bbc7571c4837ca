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

import re

from ragline.ingest.elements import Element

# Every format character (Unicode 14, Python 3.11's tables) and the variation selectors, as
# code point ranges; tests/ingest/test_clean.py checks them against unicodedata.
INVISIBLE_RANGES: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD), (0x0600, 0x0605), (0x061C, 0x061C), (0x06DD, 0x06DD), (0x070F, 0x070F),
    (0x0890, 0x0891), (0x08E2, 0x08E2), (0x180E, 0x180E), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x2064), (0x2066, 0x206F), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x13438), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F), (0xE0100, 0xE01EF),
)  # fmt: skip
_INVISIBLE = re.compile(
    "[" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in INVISIBLE_RANGES) + "]+"
)
# Characters of scripts written without spaces between words (Chinese, Japanese kana, full-width
# forms and CJK punctuation; not Hangul: Korean separates words). Tesseract's Chinese and
# Japanese models put a space between them; Markdown soft wraps between them join with none.
CJK_CHARS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f"
_SPACE_IN_CJK = re.compile(f"(?<=[{CJK_CHARS}])[ \\t]+(?=[{CJK_CHARS}])")


def strip_invisible(text: str) -> str:
    """``text`` without format characters and variation selectors."""
    return _INVISIBLE.sub("", text)


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
