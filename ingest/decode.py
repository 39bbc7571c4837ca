"""Turn the bytes of a text file into str: detect the encoding, never guess blindly.

Order: a byte-order mark (UTF-8, UTF-16, UTF-32), then strict UTF-8 (allowing a handful of
broken bytes in otherwise clean UTF-8), then charset-normalizer restricted to the legacy
encodings ragline expects (Chinese, Japanese and Western European). Anything that still does
not read as text is refused as binary content.
"""

from __future__ import annotations

import codecs
import re

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
    """A cheap test for text formats parsed by someone else (e-mail, RTF): NUL bytes without
    a UTF-16/32 byte-order mark, or many ASCII control bytes."""
    if any(sample.startswith(bom) for bom, _ in _BOMS):
        return False
    if b"\x00" in sample:
        return True
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
        # NUL bytes are binary, or UTF-16/32 without a BOM, which we do not guess at.
        raise LoaderError(BINARY)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    almost = _almost_utf8(data)
    if almost is not None:
        return almost
    return _detect_legacy(data)


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
