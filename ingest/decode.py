"""Turn the bytes of a text file into str: detect the encoding, never guess blindly.

Order: a byte-order mark (UTF-8, UTF-16, UTF-32), then UTF-16/32 without a byte-order mark
(told by where the NUL bytes sit, then by charset-normalizer), then strict UTF-8 (allowing a
handful of broken bytes in otherwise clean UTF-8), then charset-normalizer restricted to the
legacy encodings ragline expects (Chinese, Japanese and Western European). Anything that still
does not read as text is refused as binary content.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

from ragline.retrieval.errors import LoaderError

BINARY = "binary content, not text"

# Longest BOMs first: the UTF-32 LE BOM starts with the UTF-16 LE one.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Legacy encodings charset-normalizer may choose among (its spelling of the names).
LEGACY_ENCODINGS = ("gb18030", "gbk", "big5", "shift_jis", "cp1252", "latin_1")

# Control characters (Unicode category Cc) other than tab, newlines, form feed and escape:
# beyond this share of the text they mean binary.
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f-\x9f]")
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_MAX_CONTROL_SHARE = 0.05
# UTF-16/32 without a byte-order mark: how much is sniffed, and how many of the high (or low)
# bytes of mostly-Latin UTF-16 must be NUL to call it that.
_WIDE_SAMPLE = 64 * 1024
_WIDE_NUL_SHARE = 0.3
# charset-normalizer's names for the wide encodings, and Python's.
_WIDE_ENCODINGS = {
    "utf_16_le": "utf-16-le",
    "utf_16_be": "utf-16-be",
    "utf_32_le": "utf-32-le",
    "utf_32_be": "utf-32-be",
}
# In "almost UTF-8", each replaced byte must be outweighed by this many good non-ASCII chars.
_UTF8_GOOD_PER_BAD = 20


def decode_text(data: bytes) -> str:
    """Decode ``data`` to str with newlines normalised to ``\\n``.

    Raises LoaderError("binary content, not text") for data that is not text in a
    supported encoding.
    """
    text = _decode(data)
    if _control_share(text) > _MAX_CONTROL_SHARE:
        raise LoaderError(BINARY)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def looks_binary(sample: bytes) -> bool:
    """A cheap test for text formats parsed by someone else (e-mail, RTF): NUL bytes outside
    UTF-16/32 (with or without a byte-order mark), or many ASCII control bytes."""
    if any(sample.startswith(bom) for bom, _ in _BOMS):
        return False
    if b"\x00" in sample:
        return wide_encoding(sample) is None
    controls = len(_CONTROL_BYTES.findall(sample))
    return controls > _MAX_CONTROL_SHARE * len(sample)


def _decode(data: bytes) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding)
            except UnicodeDecodeError:
                raise LoaderError(BINARY) from None
    if b"\x00" in data:
        # NUL bytes are binary, or UTF-16/32 without a byte-order mark.
        wide = wide_encoding(data)
        if wide is None:
            raise LoaderError(BINARY)
        return data.decode(wide)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    almost = _almost_utf8(data)
    if almost is not None:
        return almost
    return _detect_legacy(data)


def wide_encoding(data: bytes) -> str | None:
    """``utf-16-le``/``-be`` or ``utf-32-le``/``-be`` when ``data`` (without a byte-order mark)
    is text in that encoding, else None.

    Text in these encodings has NUL bytes in fixed positions: mostly-Latin UTF-16-LE has a NUL
    after every ASCII character, UTF-32 three in every four bytes. When the pattern is unclear
    (CJK text has few NULs), charset-normalizer decides among the four. Either way the result
    must decode strictly and read as text (few control characters).
    """
    sample = data[: _WIDE_SAMPLE - _WIDE_SAMPLE % 4]
    for encoding in _wide_candidates(sample):
        width = 4 if "32" in encoding else 2
        usable = sample[: len(sample) - len(sample) % width]
        try:
            text = usable.decode(encoding)
        except UnicodeDecodeError:
            continue
        if text and _control_share(text) <= _MAX_CONTROL_SHARE and _printable(text):
            try:
                data[: len(data) - len(data) % width].decode(encoding)
            except UnicodeDecodeError:
                continue
            return encoding
    return None


def _wide_candidates(sample: bytes) -> list[str]:
    """Encodings to try, most likely first, from the position of NUL bytes in ``sample``."""
    if len(sample) < 2:
        return []
    nul = [0, 0, 0, 0]
    for offset in range(4):
        nul[offset] = sample[offset::4].count(0)
    quads = max(1, len(sample) // 4)
    candidates = []
    if nul[1] >= 0.9 * quads and nul[2] >= 0.9 * quads and nul[3] >= 0.9 * quads:
        candidates.append("utf-32-le")
    if nul[0] >= 0.9 * quads and nul[1] >= 0.9 * quads and nul[2] >= 0.9 * quads:
        candidates.append("utf-32-be")
    even, odd = nul[0] + nul[2], nul[1] + nul[3]
    pairs = max(1, len(sample) // 2)
    if odd >= _WIDE_NUL_SHARE * pairs and odd > 2 * even:
        candidates.append("utf-16-le")
    if even >= _WIDE_NUL_SHARE * pairs and even > 2 * odd:
        candidates.append("utf-16-be")
    if not candidates:
        from charset_normalizer import from_bytes

        best = from_bytes(sample, cp_isolation=list(_WIDE_ENCODINGS)).best()
        if best is not None and best.encoding in _WIDE_ENCODINGS:
            candidates.append(_WIDE_ENCODINGS[best.encoding])
    return candidates


def _printable(text: str) -> bool:
    """Mostly letters, digits, punctuation and spaces (not a random run of code points)."""
    good = sum(1 for c in text if c.isprintable() or c in "\n\r\t\f")
    unassigned = sum(1 for c in text if unicodedata.category(c) in ("Cn", "Co", "Cs"))
    return good >= 0.95 * len(text) and unassigned <= 0.01 * len(text)


def _almost_utf8(data: bytes) -> str | None:
    """UTF-8 with a few broken bytes (a bad copy, a truncated tail), replaced by U+FFFD."""
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = len(text) - len(text.encode("ascii", errors="ignore")) - bad
    return text if good >= _UTF8_GOOD_PER_BAD * bad else None


def _detect_legacy(data: bytes) -> str:
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=list(LEGACY_ENCODINGS)).best()
    if best is None:
        raise LoaderError(BINARY)
    return str(best)


def _control_share(text: str) -> float:
    if not text:
        return 0.0
    return len(_CONTROLS.findall(text)) / len(text)
